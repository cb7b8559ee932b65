#!/usr/bin/env bash
# Parses meta-praxiskiosk with the layers the kas files name, the way a first `kas build` starts:
# per machine of yocto/kas/ (raspberrypi4-64, raspberrypi5), in a fresh build directory,
#   1. `bitbake -p`: every recipe of every layer parses, and OE-core's sanity checks pass (some,
#      such as the one for wic/ directories, run only in a build directory that is new);
#   2. `bitbake -g <the kas files' targets>`: the task graph of the image and the bundle resolves,
#      and both are in it.
# Nothing is fetched or built: BB_NO_NETWORK = "1".
#
# Usage: yocto/scripts/parse-check.sh [LAYERS] [MACHINE ...]
#        yocto/scripts/parse-check.sh --missing-packages
#   LAYERS (or PRAXISKIOSK_YOCTO_LAYERS): a directory with one checkout per repository of
#     yocto/kas/common.yml, named as there and on its branch: bitbake (2.18), openembedded-core,
#     meta-yocto, meta-openembedded, meta-raspberrypi, meta-rauc (wrynose). This repository's
#     own layer is used as it is in the working tree.
#   MACHINE: only these machines (default: every machine file in yocto/kas/).
#   --missing-packages: prints the Debian packages this host lacks for it, one a line, and exits.
# Environment:
#   PRAXISKIOSK_YOCTO_BUILD  where the temporary build directories go (default: TMPDIR or /tmp);
#                            they are removed at the end unless PRAXISKIOSK_KEEP_BUILD=1.
#   PRAXISKIOSK_BUILD_USER   the unprivileged user bitbake runs as when this script runs as root
#                            (default praxiskiosk-build; made as a system user if missing).
#   PYTHON                   a python3 with PyYAML, to read the kas files (default python3).
#   BB_NUMBER_PARSE_THREADS  parser processes (default 2); bitbake runs under `nice -n 10`.
# Exit status: 0 all passed, 1 a check failed, 2 it could not run (usage, host, layers).
set -uo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/../.." && pwd)
kas_dir=$root/yocto/kas

say() { printf 'parse-check: %s\n' "$*"; }
cannot() { say "cannot run: $*"; exit 2; }

# --- the host: what bitbake's HOSTTOOLS and sanity checks need to get through a parse, as
# tool:Debian package. (gcc/g++ are run by the sanity checks, not only by builds.)
host_tools=(
    bzip2:bzip2 chrpath:chrpath cpio:cpio cpp:cpp diffstat:diffstat file:file g++:g++ gawk:gawk
    gcc:gcc git:git make:make openssl:openssl patch:patch perl:perl python3:python3
    rpcgen:libc-dev-bin setpriv:util-linux wget:wget xz:xz-utils zstd:zstd
)
missing_packages() {
    local entry
    for entry in "${host_tools[@]}"; do
        command -v "${entry%%:*}" >/dev/null || echo "${entry#*:}"
    done
    "${PYTHON:-python3}" -c 'import yaml' 2>/dev/null || echo python3-yaml
    has_locale || echo locales
}
# bitbake switches to en_US.UTF-8 itself and stops if the host cannot.
has_locale() { locale -a 2>/dev/null | grep -qiE '^en_US\.utf-?8$'; }

if [[ ${1:-} == --missing-packages ]]; then
    missing_packages | sort -u
    exit 0
fi

layers=${1:-${PRAXISKIOSK_YOCTO_LAYERS:-}}
[[ -n $layers ]] || cannot "no layers: give their directory as the first argument or in PRAXISKIOSK_YOCTO_LAYERS"
[[ -d $layers ]] || cannot "no directory $layers"
layers=$(cd "$layers" && pwd)
shift $(($# > 0 ? 1 : 0))

missing=$(missing_packages | sort -u | tr '\n' ' ')
[[ -z $missing ]] || cannot "the host lacks: ${missing% } (Debian: apt-get install ${missing% }; for the locale also en_US.UTF-8 in /etc/locale.gen, then locale-gen)"
py=${PYTHON:-python3}

# Machine files: every kas file that names a machine (common.yml is a fragment they include).
machine_files=()
for file in "$kas_dir"/*.yml; do
    grep -q '^machine:' "$file" || continue
    machine=$(sed -n 's/^machine: *//p' "$file")
    if (($# == 0)) || [[ " $* " == *" $machine "* ]]; then machine_files+=("$file"); fi
done
((${#machine_files[@]} > 0)) || cannot "no kas file in yocto/kas/ for machine(s) $*"

# --- who runs bitbake. bitbake refuses to run as root (OE-core's sanity check: a build as root
# can write anywhere on the host, and pseudo's file ownership emulation breaks). As root, we run
# it as a system user without a login that exists for nothing else; CI machines run as root.
if ((EUID == 0)); then
    user=${PRAXISKIOSK_BUILD_USER:-praxiskiosk-build}
    if ! id -u "$user" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$user" || cannot "could not create the user $user"
        say "created the system user $user to run bitbake (bitbake must not run as root)"
    fi
    as_user=(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --)
else
    user=$(id -un)
    as_user=()
fi
# Runs as the build user with only the environment bitbake needs. HOME is the build directory's
# own (its .gitconfig lets git read layer checkouts that other users own, for the build banner).
run() { # home, command...
    local home=$1
    shift
    "${as_user[@]}" env -i HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/sh \
        PATH="$layers/bitbake/bin:$layers/openembedded-core/scripts:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
        LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 "$@"
}

for repo in $("$py" - "$kas_dir/common.yml" <<'EOF'
import sys, yaml
for name, repo in yaml.safe_load(open(sys.argv[1]))["repos"].items():
    if repo and repo.get("url"):
        print(name)
EOF
); do
    [[ -d $layers/$repo ]] || cannot "no checkout $layers/$repo (yocto/kas/common.yml names it)"
    run / test -r "$layers/$repo" -a -x "$layers/$repo" ||
        cannot "$user cannot read $layers/$repo: put the layers where that user can read them"
done
run / test -r "$root/yocto/meta-praxiskiosk/conf/layer.conf" ||
    cannot "$user cannot read this repository's layer: clone it where that user can read it"

# --- a fresh build directory, and a throwaway update CA and signing certificate for the bundle
# recipe (PRAXISKIOSK_RAUC_KEYS_DIR); made here, never committed, removed with the directory.
parent=${PRAXISKIOSK_YOCTO_BUILD:-${TMPDIR:-/tmp}}
mkdir -p "$parent" || cannot "cannot create $parent"
work=$(mktemp -d "$parent/praxiskiosk-parse.XXXXXX") || cannot "cannot create a directory in $parent"
cleanup() {
    if [[ ${PRAXISKIOSK_KEEP_BUILD:-0} == 1 ]]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
chmod 0755 "$work"

keys=$work/keys
mkdir "$keys"
subject() { printf '/O=praxiskiosk parse-check (throwaway)/CN=%s' "$1"; }
if ! {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj "$(subject 'update CA')" -keyout "$keys/ca.key.pem" -out "$keys/ca.cert.pem" &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "$(subject signing)" -keyout "$keys/signing.key.pem" -out "$keys/signing.csr.pem" &&
        openssl x509 -req -in "$keys/signing.csr.pem" -CA "$keys/ca.cert.pem" -CAkey "$keys/ca.key.pem" \
            -days 1 -out "$keys/signing.cert.pem"
} >"$keys/openssl.log" 2>&1; then
    cat "$keys/openssl.log"
    cannot "openssl could not make the throwaway keys"
fi
rm -f "$keys/ca.key.pem" "$keys/signing.csr.pem" "$keys/openssl.log"

# --- conf/bblayers.conf and conf/local.conf as kas writes them from a machine's kas file (its
# includes merged, local_conf_header blocks in key order, then MACHINE and DISTRO), then the
# settings of this check. Prints the kas targets.
write_conf() { # kas file, build directory
    "$py" - "$root" "$layers" "$1" "$2" "$keys" "${BB_NUMBER_PARSE_THREADS:-2}" <<'EOF'
import sys
from pathlib import Path

root, layers, kas_file, build, keys, threads = sys.argv[1:]
root, layers, build = Path(root), Path(layers), Path(build)
sys.path.insert(0, str(root / "yocto" / "scripts"))
from kasfile import load  # noqa: E402


config = load(Path(kas_file), root)
paths = []
for name, repo in config["repos"].items():
    repo = repo or {}
    base = layers / name if repo.get("url") else root
    for layer, state in (repo.get("layers") or {"." : None}).items():
        if state in ("disabled", "excluded", "n", "no", "0", "false"):
            continue
        paths.append(str((base / layer).resolve()))

conf = build / "conf"
conf.mkdir(parents=True)

# kas 5 (libcmds.py WriteBBConfig): each header block as "# key" and its text, in key order; the
# layers sorted by path; then MACHINE, DISTRO and BBMULTICONFIG as weak defaults.
def header(name):
    return "".join(f"# {key}\n{value}\n" for key, value in sorted(config.get(name, {}).items()))


(conf / "bblayers.conf").write_text(
    header("bblayers_conf_header")
    + 'BBLAYERS ?= " \\\n    ' + " \\\n    ".join(sorted(paths)) + '"\n'
    + 'BBPATH ?= "${TOPDIR}"\nBBFILES ??= ""\n'
)
(conf / "local.conf").write_text(
    header("local_conf_header")
    + f'MACHINE ??= "{config["machine"]}"\nDISTRO ??= "{config["distro"]}"\nBBMULTICONFIG ?= ""\n'
    + "\n# parse-check.sh: parse only, nothing from the network, a throwaway update CA.\n"
    + 'BB_NO_NETWORK = "1"\n'
    + f'BB_NUMBER_PARSE_THREADS = "{threads}"\n'
    + f'PRAXISKIOSK_RAUC_KEYS_DIR = "{keys}"\n'
)
print(" ".join(config.get("target", [])))
EOF
}

failed=0
result() { # status, text
    if [[ $1 == 0 ]]; then say "ok    $2"; else say "FAIL  $2"; failed=1; fi
}
# What bitbake said that a reader must see: its warnings (they do not fail the check) and, when
# it failed, its errors with the lines that belong to them (the sanity checker's list of problems
# follows its ERROR line unmarked), or else the end of its output.
show() { # log, exit status
    grep '^WARNING:' "$1" | sed 's/^/    /' | head -n 40
    [[ $2 == 0 ]] && return
    if grep -q '^ERROR:' "$1"; then
        sed -n '/^ERROR:/,/^Summary:/{/^Summary:/d;/^$/d;p}' "$1" | sed 's/^/    /' | head -n 60
    else
        tail -n 20 "$1" | sed 's/^/    /'
    fi
}

say "layers: $layers"
for repo_dir in "$layers"/*/; do
    [[ -e $repo_dir/.git ]] || continue
    say "  $(basename "$repo_dir") $(git -C "$repo_dir" -c safe.directory='*' rev-parse --abbrev-ref HEAD 2>/dev/null) $(git -C "$repo_dir" -c safe.directory='*' rev-parse --short=12 HEAD 2>/dev/null)"
done

for kas_file in "${machine_files[@]}"; do
    machine=$(sed -n 's/^machine: *//p' "$kas_file")
    build=$work/$machine
    mkdir -p "$build/home"
    printf '[safe]\n\tdirectory = *\n' >"$build/home/.gitconfig"
    targets=$(write_conf "$kas_file" "$build") || { result 1 "$machine: writing conf/ from ${kas_file#"$root"/}"; continue; }
    chown -R "$user:" "$work" 2>/dev/null || true

    start=$SECONDS
    (cd "$build" && run "$build/home" nice -n 10 bitbake -p) >"$build/parse.log" 2>&1
    status=$?
    summary=$(grep -o 'Parsing of [0-9]* .bb files complete.*' "$build/parse.log" | tail -n 1)
    show "$build/parse.log" "$status"
    result "$status" "$machine: bitbake -p ($((SECONDS - start)) s): ${summary:-no parse summary}"
    [[ $status == 0 ]] || continue

    start=$SECONDS
    # shellcheck disable=SC2086 # one word per target
    (cd "$build" && run "$build/home" nice -n 10 bitbake -g $targets) >"$build/graph.log" 2>&1
    status=$?
    missing_targets=()
    for target in $targets; do
        grep -qx "$target" "$build/pn-buildlist" 2>/dev/null || missing_targets+=("$target")
    done
    if [[ $status == 0 && ${#missing_targets[@]} -gt 0 ]]; then status=1; fi
    show "$build/graph.log" "$status"
    recipes=$(wc -l <"$build/pn-buildlist" 2>/dev/null || echo 0)
    tasks=$(grep -c '\[label=' "$build/task-depends.dot" 2>/dev/null || echo 0)
    result "$status" "$machine: bitbake -g $targets ($((SECONDS - start)) s): $recipes recipes, $tasks tasks${missing_targets[*]:+; not in the graph: ${missing_targets[*]}}"
    # The graph is large and the build directory is not needed any more.
    rm -rf "$build/task-depends.dot" "$build/tmp" "$build/cache"
done

if ((failed)); then
    say "failed"
    exit 1
fi
say "all machines passed"
