#!/usr/bin/env bash
# A short fuzzing pass over every target of the cargo-fuzz crate in fuzz/, seeded with the
# real captured fixtures. Exits non-zero on the first crash (panic, assertion, OOM, timeout);
# the crashing input is left in fuzz/artifacts/<target>/.
#
# The toolchain is stable: cargo-fuzz needs nightly flags (-Zsanitizer, -Cpasses=sancov),
# which RUSTC_BOOTSTRAP=1 unlocks. The sanitizer is `none`: the parsers forbid unsafe code,
# so ASan would find nothing that a panic does not already show, and it triples build time.
#
# Built with the dev profile: a smoke run needs a quick build more than fast executions.
# FUZZ_SECONDS (default 10) is the time per target; FUZZ_TARGETS overrides the target list.
#
# When cargo-fuzz is not on PATH it is installed first with `cargo install cargo-fuzz --locked`
# (built from source from crates.io into ~/.cargo/bin), and says so. The instrumented build
# goes to fuzz/target. scripts/test.sh skips this whole run with SKIP_FUZZ=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${FUZZ_SECONDS:-10}
FIX=$ROOT/exporters/postfix/tests/fixtures
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "[fuzz-smoke] cargo-fuzz is not installed: running 'cargo install cargo-fuzz --locked' now." >&2
    echo "[fuzz-smoke]   why: it builds and runs the libFuzzer targets in fuzz/ (this smoke run)." >&2
    echo "[fuzz-smoke]   cost: a source build from crates.io into ~/.cargo/bin, a few minutes on 2 cores and a" >&2
    echo "[fuzz-smoke]   few hundred MB of temporary build space; the fuzz build afterwards fills fuzz/target" >&2
    echo "[fuzz-smoke]   (about 1-2 GB). To skip the fuzz run in scripts/test.sh: SKIP_FUZZ=1 ./scripts/test.sh" >&2
    cargo install cargo-fuzz --locked
fi

cd "$ROOT/fuzz"
TARGETS=${FUZZ_TARGETS:-$(cargo fuzz list)}
# One build for all targets (cargo fuzz build takes at most one target name).
if [ -n "${FUZZ_TARGETS:-}" ]; then
    for t in $TARGETS; do cargo fuzz build --dev --sanitizer none "$t"; done
else
    cargo fuzz build --dev --sanitizer none
fi

CORPUS=$(mktemp -d /tmp/fuzz-corpus.XXXXXX)
trap 'rm -rf "$CORPUS"' EXIT

seed() { # seed TARGET FIND-ARGS...: copy matching fixtures into the target's corpus
    local t=$1; shift
    mkdir -p "$CORPUS/$t"
    # Named by content hash: fixtures of different versions share file names.
    find "$FIX" -type f \( "$@" \) -size -1024k -print0 2>/dev/null |
        while IFS= read -r -d '' f; do cp "$f" "$CORPUS/$t/$(sha1sum "$f" | cut -c1-16)"; done
}

status=0
for t in $TARGETS; do
    case $t in
    showq) seed "$t" -name '*.bin' ;;
    postqueue_json) seed "$t" -name '*.jsonl' ;;
    mailq) seed "$t" -name 'mailq*.txt' ;;
    qshape) seed "$t" -name 'qshape*.txt' ;;
    postfix_log) seed "$t" -name '*.log' ;;
    # A metric config, a NUL, then a DUMP reply in the stats-reader's shape (our own).
    dovecot_stats) mkdir -p "$CORPUS/$t" && cp "$ROOT"/exporters/dovecot/tests/fixtures/*.seed "$CORPUS/$t/" ;;
    # The selector byte, then a captured Dovecot log (selector 8: the log counters).
    dovecot_text) mkdir -p "$CORPUS/$t" && { printf '\x08'; cat "$ROOT"/exporters/dovecot/tests/fixtures/dovecot-2.3.19-traffic.log; } >"$CORPUS/$t/log" ;;
    # Our own TransferLog and SystemLog lines in ProFTPd 1.3.8's shapes.
    proftpd_logs) mkdir -p "$CORPUS/$t" && cp "$ROOT"/exporters/proftpd/tests/fixtures/*.seed "$CORPUS/$t/" ;;
    *) mkdir -p "$CORPUS/$t" ;;
    esac
    echo "== fuzz $t for ${SECS}s ($(ls "$CORPUS/$t" | wc -l) seeds)"
    if ! cargo fuzz run --dev --sanitizer none "$t" "$CORPUS/$t" -- \
        -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 2>"$CORPUS/$t.log"; then
        tail -40 "$CORPUS/$t.log" >&2
        echo "FAIL: fuzz target $t crashed (input in fuzz/artifacts/$t/)" >&2
        status=1
        break
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$CORPUS/$t.log" || true
done
exit $status
