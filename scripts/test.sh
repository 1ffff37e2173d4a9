#!/usr/bin/env bash
# Runs every check of the project, as CI does: installs what is missing
# (scripts/install-deps.sh: Debian packages, which needs root or sudo, and the Python venv at
# .venv), the tests of the scripts themselves (scripts/tests/), then formatting, clippy, the
# build, the postfix-exporter container image (scripts/build-image.sh), all tests (unit,
# integration, end-to-end against real daemons, doc tests) and the fuzz smoke run
# (scripts/fuzz-smoke.sh; it installs cargo-fuzz with `cargo install` the first time).
# Prints a summary; exits non-zero if any step failed. Steps after a failed build are skipped.
#
# Environment: SKIP_FUZZ=1 skips the fuzz smoke run (no cargo-fuzz install, no fuzz build in
# fuzz/target); the summary lists it as skipped. FUZZ_SECONDS and FUZZ_TARGETS are passed on
# to scripts/fuzz-smoke.sh. README.md says what gets installed and how much disk and time a run
# takes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STEPS=()
FAILED=0
START=$SECONDS

# run_step NAME CMD...: runs CMD, records its status and duration.
run_step() {
  local name="$1"; shift
  local t0=$SECONDS rc=0
  printf '\n==> %s: %s\n' "$name" "$*"
  "$@" || rc=$?
  local took=$((SECONDS - t0))
  if [ "$rc" -eq 0 ]; then
    STEPS+=("ok    ${took}s  $name")
  else
    STEPS+=("FAIL  ${took}s  $name (exit $rc)")
    FAILED=$((FAILED + 1))
  fi
  return "$rc"
}

skip_step() { STEPS+=("skip        $1 ($2)"); }

summary() {
  printf '\n==> summary (%ss in total)\n' "$((SECONDS - START))"
  printf '    %s\n' "${STEPS[@]}"
  if [ "$FAILED" -eq 0 ]; then
    printf '==> all steps passed\n'
  else
    printf '==> %s step(s) failed\n' "$FAILED"
  fi
  # nextest's own closing line scrolls away behind the fuzz run: repeat its counts last.
  local line passed failed
  line=$(grep -E 'tests run: [0-9]+ passed' target/nextest.log 2>/dev/null | tail -n 1 || true)
  if [ -n "$line" ]; then
    passed=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")
    failed=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    printf 'tests: %s passed, %s failed\n' "$passed" "${failed:-0}"
  fi
}
trap summary EXIT
rm -f target/nextest.log

run_step "install dependencies" ./scripts/install-deps.sh || exit 1
run_step "script tests" bash -c 'bash scripts/tests/install-deps-check.sh && bash scripts/tests/self-contained.sh' || true

run_step "cargo fmt" cargo fmt --all --check || true
run_step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings || true

if run_step "cargo build" cargo build --workspace --bins; then
  # The binaries were just built: the end-to-end harness must not rebuild them.
  export E2E_NO_BUILD=1
  # The image test's static release build (minutes) before the tests, not among them.
  run_step "container image" ./scripts/build-image.sh --version test postfix-exporter || true
  if command -v cargo-nextest >/dev/null 2>&1; then
    mkdir -p target
    run_step "tests (nextest)" bash -o pipefail -c \
      'cargo nextest run --workspace --no-fail-fast 2>&1 | tee target/nextest.log' || true
    run_step "doc tests" cargo test --workspace --doc || true
  else
    run_step "tests (cargo test)" cargo test --workspace --no-fail-fast || true
  fi
else
  skip_step "tests" "the build failed"
fi

if [ -n "${SKIP_FUZZ:-}" ] && [ "${SKIP_FUZZ}" != 0 ]; then
  skip_step "fuzz smoke" "SKIP_FUZZ=$SKIP_FUZZ"
elif [ -f scripts/fuzz-smoke.sh ]; then
  run_step "fuzz smoke" bash scripts/fuzz-smoke.sh || true
else
  skip_step "fuzz smoke" "no scripts/fuzz-smoke.sh"
fi

[ "$FAILED" -eq 0 ]
