#!/usr/bin/env bash
# Checks the Yocto side (yocto/); no network but PyPI once (and Debian's packages for check 5).
#   1. oelint-adv --release wrynose over every .bb/.bbappend/.inc/.conf of meta-praxiskiosk
#   2. the kas files against kas's own JSON schema, each alone and merged with its includes
#   3. the crates include in sync with Cargo.lock (yocto/scripts/crates-inc.py --check)
#   4. the kioskd recipe's LIC_FILES_CHKSUM against Cargo.toml
#   5. bitbake -p and -g for both machines (yocto/scripts/parse-check.sh), only where the upstream
#      layers are checked out: PRAXISKIOSK_YOCTO_LAYERS names their directory. Without it the
#      check says it skipped (CI and a fresh machine have no layers); with it, missing Debian
#      packages and the en_US.UTF-8 locale are installed first, as root or with sudo.
# One line per check; exits non-zero if any failed. The tools live in a venv under
# target/yocto-venv, made (pip, pinned versions) only when missing or when the pins change.
set -uo pipefail

# Check 5's layers may be named relative to where we were called from.
if [[ -n ${PRAXISKIOSK_YOCTO_LAYERS:-} && -d $PRAXISKIOSK_YOCTO_LAYERS ]]; then
    PRAXISKIOSK_YOCTO_LAYERS=$(cd "$PRAXISKIOSK_YOCTO_LAYERS" && pwd)
fi
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
layer=yocto/meta-praxiskiosk
venv=$root/target/yocto-venv
requirements="oelint-adv==9.11.2 kas==5.5 jsonschema==4.26.0"

say() { printf 'yocto-check: %s\n' "$*"; }
failed=0
result() { # name, exit status
    if [[ $2 == 0 ]]; then say "ok    $1"; else say "FAIL  $1"; failed=1; fi
}

# --- the tools
if [[ ! -x $venv/bin/python || "$(cat "$venv/requirements" 2>/dev/null)" != "$requirements" ]]; then
    say "installing $requirements into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || { say "FAIL  python3 -m venv (Debian: apt-get install python3-venv)"; exit 1; }
    # shellcheck disable=SC2086 # one word per requirement
    "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements ||
        { say "FAIL  pip install"; rm -rf "$venv"; exit 1; }
    echo "$requirements" >"$venv/requirements"
fi
py=$venv/bin/python

# --- 1. oelint-adv
# --extra-layer: oelint's own variable lists for the layers we build on (meta-rauc's RAUC_*,
#   meta-oe, meta-multimedia, meta-poky); meta-raspberrypi has none, so its variables and ours
#   are listed in oelint-constants.json (--constantmods, the documented way to extend them).
# Suppressed, each for a reason:
#   oelint.vars.homepageping: fetches HOMEPAGE over the network; the answer says nothing about
#     the recipe, and the check must not depend on the network.
#   oelint.vars.inconspaces, for the kioskd recipe only: its crates include is generated in
#     exactly the layout of oe-core's `bitbake -c update_crates` (SRC_URI += " \), which check 3
#     compares byte for byte; the rule stays on for everything else.
# Warnings are printed; errors fail the check (oelint-adv exits non-zero on any finding, so the
# verdict is taken from the printed severities).
oelint=(
    "$venv/bin/oelint-adv" --release wrynose --quiet --hide info --relpaths
    --extra-layer rauc openembedded-layer multimedia-layer yocto
    --constantmods "+$root/tests/yocto/oelint-constants.json"
    --suppress oelint.vars.homepageping
)
mapfile -t files < <(find "$layer" -type f \( -name '*.bb' -o -name '*.bbappend' -o -name '*.conf' -o -name '*.inc' \) \
    ! -path '*/recipes-praxiskiosk/kioskd/*' | sort)
# oelint-adv exits 0 without findings and 1 with any; anything else means it did not run.
findings=$(
    cd "$layer" || exit 2
    "${oelint[@]}" "${files[@]#"$layer"/}" 2>&1
    first=$?
    "${oelint[@]}" --suppress oelint.vars.inconspaces \
        recipes-praxiskiosk/kioskd/kioskd_0.1.0.bb recipes-praxiskiosk/kioskd/kioskd-crates.inc 2>&1
    second=$?
    exit $((first > second ? first : second))
)
ran=$?
[[ -n $findings ]] && printf '%s\n' "$findings" | sed 's/^/    /'
errors=$(grep -c ':error:' <<<"$findings")
warnings=$(grep -c ':warning:' <<<"$findings")
result "oelint-adv --release wrynose: $((${#files[@]} + 2)) files, $errors errors, $warnings warnings" \
    "$((ran > 1 || errors > 0))"

# --- 2. kas files against kas's schema
"$py" - yocto/kas/*.yml <<'EOF'
"""Validates kas files against the schema kas ships (kas/schema-kas.json), each file alone and
merged with its header includes the way kas merges them (depth first, later keys win)."""
import json
import sys
from pathlib import Path

import jsonschema
import kas
import yaml

schema = json.loads((Path(kas.__file__).parent / "schema-kas.json").read_text())
root = Path.cwd()  # the repository: kas resolves includes relative to it
sys.path.insert(0, str(root / "yocto" / "scripts"))
from kasfile import load as merged  # noqa: E402


def load(path):
    return merged(path, root, check=lambda own: jsonschema.validate(own, schema))


# A file that another one includes is a fragment: valid alone, but not a whole configuration.
fragments = {
    inc
    for name in sys.argv[1:]
    for inc in (yaml.safe_load(Path(name).read_text()).get("header", {}).get("includes") or [])
    if isinstance(inc, str)
}
bad = 0
for name in sys.argv[1:]:
    try:
        config = load(Path(name))
        if name in fragments:
            print(f"    {name}: valid (included by the machine files)")
            continue
        config["header"].pop("includes", None)
        jsonschema.validate(config, schema)
        for key in ("machine", "distro", "repos"):
            if key not in config:
                raise ValueError(f"no {key!r} after merging the includes")
        print(f"    {name}: valid (machine {config['machine']}, {len(config['repos'])} repos)")
    except Exception as error:  # report every file, not only the first bad one
        print(f"    {name}: {error}")
        bad += 1
sys.exit(1 if bad else 0)
EOF
status=$?
result "kas files valid against kas $("$venv/bin/kas" --version 2>&1 | awk '{print $2}')'s schema-kas.json" $status

# --- 3. crates include
python3 yocto/scripts/crates-inc.py --check
status=$?
result "kioskd-crates.inc in sync with Cargo.lock ($(grep -c '^SRC_URI\[' $layer/recipes-praxiskiosk/kioskd/kioskd-crates.inc) crates)" $status

# --- 4. licence checksum
recipe=$layer/recipes-praxiskiosk/kioskd/kioskd_0.1.0.bb
chk=$(sed -n 's/^LIC_FILES_CHKSUM = "file:\/\/\(.*\)"/\1/p' "$recipe")
file=${chk%%;*}
begin=$(sed -n 's/.*beginline=\([0-9]*\).*/\1/p' <<<"$chk")
end=$(sed -n 's/.*endline=\([0-9]*\).*/\1/p' <<<"$chk")
want=$(sed -n 's/.*md5=\([0-9a-f]*\).*/\1/p' <<<"$chk")
have=$(sed -n "${begin},${end}p" "$file" | md5sum | cut -d' ' -f1)
[[ -n $want && $have == "$want" ]]
status=$?
result "LIC_FILES_CHKSUM matches $file lines $begin-$end ($(sed -n "${begin}p" "$file"))" $status

# --- 5. bitbake parse
parse_check=yocto/scripts/parse-check.sh
if [[ -z ${PRAXISKIOSK_YOCTO_LAYERS:-} ]]; then
    say "skip  bitbake -p/-g ($parse_check): layers not present (set PRAXISKIOSK_YOCTO_LAYERS to a directory with one checkout per repository of yocto/kas/common.yml; see yocto/README.md)"
else
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    mapfile -t packages < <(PYTHON=$py "$parse_check" --missing-packages)
    # The locale is generated below; its package comes with the others.
    if ((${#packages[@]} > 0)); then
        say "installing for the parse check: ${packages[*]}"
        .ci/install-deps "${packages[@]}" >/dev/null
    fi
    if ! locale -a 2>/dev/null | grep -qiE '^en_US\.utf-?8$'; then
        say "generating the en_US.UTF-8 locale (bitbake switches to it)"
        if grep -q '^# *en_US.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null; then
            "${sudo[@]}" sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen
        elif ! grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null; then
            echo 'en_US.UTF-8 UTF-8' | "${sudo[@]}" tee -a /etc/locale.gen >/dev/null
        fi
        "${sudo[@]}" locale-gen >/dev/null
    fi
    PYTHON=$py "$parse_check" "$PRAXISKIOSK_YOCTO_LAYERS" 2>&1 | sed 's/^/    /'
    status=${PIPESTATUS[0]}
    result "bitbake -p and -g for $(grep -l '^machine:' yocto/kas/*.yml | xargs sed -n 's/^machine: *//p' | tr '\n' ' ')($parse_check)" $status
fi

if ((failed)); then
    say "failed"
    exit 1
fi
say "all checks passed"
