#!/usr/bin/env bash
# Screenshots of the dashboards' console pages with their graphs drawn from the demo's own
# traffic: the README's pictures (docs/screenshots/*.png) and the end-to-end test's evidence.
#
#   scripts/screenshots.sh [--out DIR] [--wait SECONDS] [--range SECONDS] [--running]
#
# Without --running it starts the demo (scripts/demo.sh), lets it run --wait seconds (default
# 600) so the graphs have something to show, shoots every page of dashboards/consoles/ with a
# graph range of --range seconds (default: the wait) ending now, and stops the demo. With
# --running it only shoots, the demo already running on its ports (PROMETHEUS_PORT, default
# 9090). Writes DIR/<dashboard>.png and DIR/report.json (what each panel drew; see
# scripts/lib/shoot.py). DIR defaults to docs/screenshots. Needs Debian's chromium
# (scripts/install-deps.sh installs it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/docs/screenshots"
WAIT=600
RANGE=""
RUNNING=""
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"

while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --wait) WAIT="$2"; shift 2 ;;
    --range) RANGE="$2"; shift 2 ;;
    --running) RUNNING=1; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "screenshots.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
RANGE="${RANGE:-$WAIT}"
log() { printf '[screenshots] %s\n' "$*" >&2; }

pages=()
for f in "$ROOT"/dashboards/consoles/*.html; do
  name="$(basename "$f" .html)"
  [ "$name" = index ] && continue
  pages+=("$name=http://127.0.0.1:$PROMETHEUS_PORT/consoles/$name.html")
done

demo_pid=""
stop_demo() {
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    log "stopping the demo"
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
}
trap stop_demo EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$RUNNING" ]; then
  # Not in .demo/: the demo empties that as it starts.
  demo_log="$(mktemp "${TMPDIR:-/tmp}/screenshots-demo.XXXXXX.log")"
  log "starting the demo (its output: $demo_log)"
  DEMO_DURATION=$((WAIT + 600)) bash "$ROOT/scripts/demo.sh" >"$demo_log" 2>&1 &
  demo_pid=$!
  # The first run builds the exporters and installs packages: minutes, not seconds.
  for _ in $(seq 1800); do
    grep -q 'Stop with Ctrl-C' "$demo_log" 2>/dev/null && break
    kill -0 "$demo_pid" 2>/dev/null || { tail -n 30 "$demo_log" >&2; exit 1; }
    sleep 1
  done
  grep -q 'Stop with Ctrl-C' "$demo_log" || { log "the demo did not start"; exit 1; }
  log "the demo is up; letting its traffic run ${WAIT}s"
  sleep "$WAIT"
fi

command -v chromium >/dev/null || { log "chromium is missing: run scripts/install-deps.sh"; exit 1; }
mkdir -p "$OUT"
python3 "$ROOT/scripts/lib/shoot.py" --out "$OUT" --range "$RANGE" "${pages[@]}"
log "wrote ${#pages[@]} pages to $OUT"
