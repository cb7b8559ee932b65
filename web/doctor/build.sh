#!/bin/sh
# Builds the doctor's page into vendor/ (build output, not in git):
#   vendor/mqtt.js    the pinned MQTT client's browser ES module (package-lock.json), which app.js
#                     imports by relative path;
#   vendor/doctor.js  app.js and its imports bundled into one classic script, which index.html loads.
# Why a bundle: Mosquitto's http_dir (2.0, libwebsockets) serves files without a Content-Type,
# and browsers refuse ES modules without a JavaScript MIME type, while classic scripts load. So
# the page loads the bundle from every server; the modules stay the source (and what node --test reads).
set -eu
cd "$(dirname "$0")"
if [ ! -f node_modules/mqtt/dist/mqtt.esm.js ] || [ ! -x node_modules/.bin/esbuild ]; then
    npm ci --no-audit --no-fund
fi
mkdir -p vendor
cp node_modules/mqtt/dist/mqtt.esm.js vendor/mqtt.js
cp node_modules/mqtt/LICENSE.md vendor/mqtt.LICENSE.md
node_modules/.bin/esbuild app.js --bundle --format=iife --target=es2020 --charset=utf8 \
    --legal-comments=eof --log-level=warning --outfile=vendor/doctor.js
echo "web/doctor: vendor/doctor.js built with mqtt $(node -p 'require("./node_modules/mqtt/package.json").version')"
