#!/usr/bin/env bash
# Writes the repository's generated files: the alert rules and docs/thresholds.md, the
# dashboards and their console pages, and the Kubernetes objects made from both (VMRules,
# dashboard ConfigMaps, GrafanaDashboards; docs/design.md lists them). The tests fail when a
# committed copy is out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run -q -p e2e-tests --bin mail-artifacts -- generate
