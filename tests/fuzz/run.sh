#!/usr/bin/env bash
# make fuzz: builds the targets of tests/fuzz with cargo-fuzz (libFuzzer) and runs each for
# FUZZ_SECONDS (default 60), starting from its committed corpus. Prints the executions per
# target and fails on a crash, a timeout, or fewer than FUZZ_MIN_RUNS (default 100000)
# executions. A crash's reproducer is written to tests/fuzz/regressions/<target>/, where
# `cargo test --test fuzz` replays it until it is fixed; what the fuzzer adds to the corpus stays
# in target/fuzz/corpus/<target>/.
#
# Stable Rust only: `-s none` leaves out AddressSanitizer, the one thing cargo-fuzz needs a
# nightly compiler for (-Zsanitizer). Coverage (-Cpasses=sancov-module) is stable, and safe
# Rust needs no sanitizer to turn memory errors into crashes; panics, overflows (-a: debug
# assertions) and timeouts are what these targets can find.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-60}
min_runs=${FUZZ_MIN_RUNS:-100000}
cargo_fuzz_version=0.13.2
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
tools=$target_dir/tools
work=$target_dir/fuzz
say() { printf 'fuzz: %s\n' "$*"; }

# A project-local cargo-fuzz, at a fixed version.
if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
    say "installing cargo-fuzz $cargo_fuzz_version into $tools"
    cargo install --locked --quiet --root "$tools" cargo-fuzz --version "$cargo_fuzz_version"
fi
export PATH=$tools/bin:$PATH
command -v node >/dev/null || { say "error: join_link needs node (make deps)"; exit 1; }

fuzz=(--fuzz-dir tests/fuzz --target-dir "$work" -s none -O -a)
mapfile -t targets < <(cargo fuzz list --fuzz-dir tests/fuzz)
say "building ${#targets[@]} targets"
cargo fuzz build "${fuzz[@]}"

mkdir -p "$work/logs"
declare -A runs status
failed=0
for t in "${targets[@]}"; do
    mkdir -p "$work/corpus/$t" "tests/fuzz/regressions/$t"
    log=$work/logs/$t.log
    say "$t: ${seconds} s"
    rc=0
    cargo fuzz run "${fuzz[@]}" "$t" "$work/corpus/$t" "tests/fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$PWD/tests/fuzz/regressions/$t/" >"$log" 2>&1 || rc=$?
    runs[$t]=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    runs[$t]=${runs[$t]:-0}
    if ((rc != 0)); then
        status[$t]="CRASH (exit $rc)"
        failed=1
        say "$t failed; the end of $log:"
        tail -n 30 "$log" | sed 's/^/    /'
    elif ((runs[$t] < min_runs)); then
        status[$t]="below $min_runs"
        failed=1
    else
        status[$t]=ok
    fi
done

printf '\n%-16s %12s %10s  %s\n' target executions 'per s' result
for t in "${targets[@]}"; do
    printf '%-16s %12s %10s  %s\n' "$t" "${runs[$t]}" "$((runs[$t] / seconds))" "${status[$t]}"
done
printf '(%s s per target; logs in %s/logs)\n' "$seconds" "$work"
if ((failed)); then
    say "failed: a crash's input is in tests/fuzz/regressions/<target>/; reproduce with"
    say "  cargo fuzz run ${fuzz[*]} <target> tests/fuzz/regressions/<target>/<file>"
    exit 1
fi
