# praxiskiosk — the two commands a fresh Debian 12 machine needs: `make demo` and `make test`.
# Both install the Debian packages they need first (as root, or with sudo).

SHELL := /bin/bash
# rustup installs cargo into ~/.cargo/bin, which a non-login shell (CI, sudo) may not have on PATH.
export PATH := $(HOME)/.cargo/bin:$(PATH)

# How long `make fuzz` runs each target, in seconds.
FUZZ_SECONDS ?= 60
export FUZZ_SECONDS

# How long the demo call runs, in seconds.
DEMO_SECONDS ?= 20
export DEMO_SECONDS

.DEFAULT_GOAL := help
# deps must finish before anything compiles against GStreamer, also under `make -j`.
.NOTPARALLEL:
.PHONY: help deps build web test demo bench soak field fuzz clean

help:
	@echo "praxiskiosk — targets:"
	@echo "  make deps    install missing Debian packages (GStreamer, Mosquitto, jq); checks for Rust"
	@echo "  make build   build kioskd and kioskctl (target/debug/)"
	@echo "  make web     build the doctor's page (web/doctor/vendor/) and the browser tests' driver"
	@echo "  make test    deps, web, then cargo fmt --check, clippy -D warnings, the page's unit tests,"
	@echo "               cargo test (end to end with Mosquitto, kioskd and Chromium), the systemd"
	@echo "               unit (systemd-analyze) and the Yocto layer (oelint-adv, kas schema; bitbake -p"
	@echo "               and -g when PRAXISKIOSK_YOCTO_LAYERS names the upstream layers: yocto/README.md)"
	@echo "  make demo    deps, build, then a whole consultation on this machine"
	@echo "               (DEMO_SECONDS=$(DEMO_SECONDS); a window when DISPLAY or WAYLAND_DISPLAY is set;"
	@echo "               DOCTOR=browser: the doctor is the web page in Chromium, not kioskctl)"
	@echo "  make bench   benchmarks (UI rendering, idle CPU, the screen's composition, a call beside"
	@echo "               Chromium, latency and lip sync, sealing, the room's echo), tables and target/bench/*.json"
	@echo "  make soak    kioskd's memory and file descriptors over SOAK_CALLS=100 calls of 10 s"
	@echo "  make field   calls across a network of namespaces (NAT routers, coturn, TLS broker):"
	@echo "               connect times, outages, loss, a narrow link; a table and target/field/*.json"
	@echo "  make fuzz    cargo-fuzz (libFuzzer, stable Rust) on each of tests/fuzz's 7 targets for"
	@echo "               FUZZ_SECONDS=$(FUZZ_SECONDS) s: the MQTT parser, signalling, the flow, bundle import,"
	@echo "               Argon2 PHC, join links (against the page's parser), topics; a table of"
	@echo "               executions, fails on a crash or under 100,000 executions per target"
	@echo "               (make test replays the fuzz corpus and the crash reproducers in cargo test)"
	@echo "  make clean   remove target/"

deps:
	.ci/install-deps

build:
	cargo build --locked --bins

# Exact versions from the package-lock.json files; npm reaches the registry only when
# node_modules is missing.
web: deps
	web/doctor/build.sh
	@[[ -d tests/browser/node_modules/playwright-core ]] || (cd tests/browser && npm ci --no-audit --no-fund)

test: deps web
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
	cd web/doctor && node --test test/
	cargo test --locked -- --skip room::
	# The room's echo canceller is measured alone: with other calls beside it on this 2-core
	# machine it cancels far less (see the README).
	cargo test --locked --test e2e -- room:: --test-threads 1
	tests/systemd/check.sh
	tests/yocto/check.sh

DOCTOR ?= kioskctl
export DOCTOR
demo: deps build web
	config/demo/run-demo.sh

# The call bench runs Chromium with the doctor's page, so the page must be built.
bench: deps web
	cargo bench --locked --bench render --bench idle --bench screen --bench call --bench seal

# A kiosk runs for months: memory and file descriptors over SOAK_CALLS calls (100), in
# target/bench/call.json and a table.
soak: deps
	cargo bench --locked --bench call -- soak

# The field scenarios are part of `make test` too; this runs only them and prints what they measured.
field: deps
	tests/field/run

# libFuzzer is C++, built by the libfuzzer-sys crate; cargo-fuzz goes to target/tools.
fuzz: deps
	.ci/install-deps g++
	tests/fuzz/run.sh

clean:
	cargo clean
