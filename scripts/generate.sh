#!/usr/bin/env bash
# Writes the repository's generated files: alerts/*.yml from alerts/src/*.yml and
# alerts/src/thresholds.yml. The tests fail when a committed copy is out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run -q -p e2e-tests --bin mail-artifacts -- generate
