#!/usr/bin/env bash
# The repository explains itself: no file may send the reader to material outside it (the
# lab notes and reference folder the project was first written beside), and no source file
# may grow past the size at which it stops being one domain piece.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "self-contained: not a git checkout, skipped"
  exit 0
fi

fail=0
# git grep sees exactly the files a fresh clone has (untracked build output excluded).
if hits=$(git grep -nE 'LAB\.md|/work/shared|\.\./shared/' -- ':!scripts/tests/self-contained.sh'); then
  printf 'references to material outside the repository:\n%s\n' "$hits" >&2
  fail=1
fi

MAX_LINES=800
while IFS= read -r f; do
  [ -f "$f" ] || continue  # deleted in the work tree, not yet committed
  n=$(wc -l <"$f")
  if [ "$n" -gt "$MAX_LINES" ]; then
    printf '%s has %s lines (more than %s): split it along the domain\n' "$f" "$n" "$MAX_LINES" >&2
    fail=1
  fi
done < <(git ls-files '*.rs')

if [ "$fail" -eq 0 ]; then
  echo "self-contained: no outside references, no Rust file over $MAX_LINES lines"
fi
exit "$fail"
