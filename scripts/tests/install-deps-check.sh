#!/usr/bin/env bash
# Regression test for the package check of scripts/install-deps.sh (deb_installed in
# scripts/lib/packages.sh). The check used to be `dpkg -s P | grep -q ...`, which under
# `set -o pipefail` calls an installed package missing whenever dpkg is still writing when
# grep has found its line (dpkg gets SIGPIPE). That is random, so the check is asked many
# times in a row, under the same `set -euo pipefail` as install-deps.sh:
#   - coreutils (always installed on Debian) must be reported installed;
#   - no-such-package-xyz must be reported missing;
#   - each package of the project's list (DEPS_APT_PACKAGES) must get the answer that
#     `dpkg -s` written to a file says (no pipe there, so no race). These are the packages
#     with long `dpkg -s` entries (prometheus, victoria-metrics) that showed the bug; once
#     install-deps.sh has run they are installed, which is where scripts/test.sh runs this.
# Exits non-zero on any wrong answer.
#
# Environment: ITERATIONS (default 50); PACKAGES_LIB (default scripts/lib/packages.sh): the
# file to source, so another implementation of deb_installed can be tried against the test.
# Needs dpkg; no root, no network, changes nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LIB="${PACKAGES_LIB:-$ROOT/scripts/lib/packages.sh}"
ITERATIONS="${ITERATIONS:-50}"
# shellcheck source=scripts/lib/packages.sh
source "$LIB"

log() { printf '[install-deps-check] %s\n' "$*" >&2; }

command -v dpkg-query >/dev/null 2>&1 || { log "dpkg-query not found: not a Debian system"; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The expected answer for each package, from dpkg -s into a file (then grep reads the file).
names=()
expected=()
biggest=0
add() { # add PACKAGE yes|no|auto
  local p="$1" want="$2" size
  if [ "$want" = auto ]; then
    want=no
    if dpkg -s "$p" >"$tmp/status" 2>/dev/null && grep -qE '^Status: (install|hold) ok installed' "$tmp/status"; then
      want=yes
    fi
  fi
  if [ "$want" = yes ] && dpkg -s "$p" >"$tmp/status" 2>/dev/null; then
    size="$(wc -c <"$tmp/status")"
    [ "$size" -gt "$biggest" ] && biggest="$size"
  fi
  names+=("$p")
  expected+=("$want")
}
add coreutils yes
add no-such-package-xyz no
for p in "${DEPS_APT_PACKAGES[@]}"; do add "$p" auto; done

wrong=()
for i in "${!names[@]}"; do wrong[i]=0; done
bad_rounds=0
for ((n = 1; n <= ITERATIONS; n++)); do
  bad=0
  for i in "${!names[@]}"; do
    if deb_installed "${names[$i]}"; then got=yes; else got=no; fi
    if [ "$got" != "${expected[$i]}" ]; then wrong[i]=$((wrong[i] + 1)); bad=1; fi
  done
  bad_rounds=$((bad_rounds + bad))
done

total=0
for i in "${!names[@]}"; do
  state=installed
  [ "${expected[$i]}" = yes ] || state=missing
  printf '  %-22s %-9s wrong %2d/%d\n' "${names[$i]}" "$state" "${wrong[$i]}" "$ITERATIONS"
  total=$((total + wrong[i]))
done
log "checked ${#names[@]} packages $ITERATIONS times with $LIB (largest installed dpkg -s entry: $biggest bytes)"
if [ "$biggest" -le 4096 ]; then
  # Short entries fit in one write, so the old pipeline rarely failed on them.
  log "note: no installed package here has a dpkg -s entry above 4 KiB; run scripts/install-deps.sh first for a test that can catch the pipeline bug"
fi
log "rounds with a wrong answer: $bad_rounds/$ITERATIONS (a round asks about every package once)"
if [ "$total" -gt 0 ]; then
  log "FAIL: $total wrong answers"
  exit 1
fi
log "ok: every answer right"
