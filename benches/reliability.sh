#!/usr/bin/env bash
# Reliability figures of postfix-exporter (recorded in docs/reliability.md), on loopback only:
#
#   load       100 concurrent scrapers (wrk) for DURATION seconds while the mail log grows by
#              RATE lines a second; requests, errors, latency percentiles
#   idle       half-sent connections held open, and whether a real scrape still works
#   rotations  ROTATIONS rename rotations and ROTATIONS copytruncate rotations of LINES lines
#              each, written at about 3,400 lines a second; lines read versus written
#
# Usage: benches/reliability.sh [load|idle|rotations|all]   (default all)
# Environment: DURATION (60), RATE (20000), ROTATIONS (100), LINES (2000), PORT (19154),
# EXPORTER (the release binary, built when missing). Needs wrk and python3 (Debian packages).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION=${DURATION:-60}
RATE=${RATE:-20000}
ROTATIONS=${ROTATIONS:-100}
LINES=${LINES:-2000}
PORT=${PORT:-19154}
EXPORTER=${EXPORTER:-$ROOT/target/release/postfix-exporter}
WORK=$(mktemp -d /tmp/reliability-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
if [ ! -x "$EXPORTER" ]; then
  (cd "$ROOT" && cargo build --release --bin postfix-exporter)
fi

SHOWQ="$ROOT/exporters/postfix/tests/fixtures/postfix-3.7/short-ids/showq-unix.bin"
LINE='Nov 23 15:04:52 mx postfix/smtpd[1234]: connect from unknown[192.0.2.1]'

start_exporter() {
  "$EXPORTER" --web.listen-address="127.0.0.1:$PORT" "$@" >"$WORK/exporter.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$PORT/-/healthy" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "exporter did not start" >&2; cat "$WORK/exporter.log" >&2; exit 1
}

stop_exporter() {
  kill "${PIDS[-1]}" 2>/dev/null || true
  wait "${PIDS[-1]}" 2>/dev/null || true
  unset 'PIDS[-1]'
}

metric() { # metric NAME: the sum of a metric's samples
  curl -fsS "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n || index($1, n"{") == 1 { s += $2 } END { printf "%d\n", s }'
}

# Appends lines to FILE at RATE a second for SECONDS (python keeps the pace exact enough).
writer() { # writer FILE RATE SECONDS
  python3 - "$1" "$2" "$3" "$LINE" <<'EOF'
import sys, time
path, rate, secs, line = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
batch = max(1, rate // 100)
chunk = (line + "\n") * batch
end = time.time() + secs
t = time.time()
with open(path, "a", buffering=1 << 20) as f:
    while time.time() < end:
        f.write(chunk); f.flush()
        t += batch / rate
        d = t - time.time()
        if d > 0: time.sleep(d)
EOF
}

load() {
  echo "== load: 100 scrapers for ${DURATION}s, mail log at ${RATE} lines/s"
  : >"$WORK/mail.log"
  start_exporter --collector.queue.source=file --collector.queue.file="$SHOWQ" \
    --collector.queue.interval=5s --collector.log.source="file:$WORK/mail.log"
  writer "$WORK/mail.log" "$RATE" "$((DURATION + 2))" &
  PIDS+=($!)
  sleep 1
  wrk -t2 -c100 -d"${DURATION}s" --latency --timeout 10s \
    -H 'Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1' "http://127.0.0.1:$PORT/metrics" | tee "$WORK/wrk.txt"
  sleep 2
  echo "lines read: $(metric postfix_log_lines_total) of $(wc -l <"$WORK/mail.log") written"
  echo "exporter RSS: $(awk '/VmRSS/ {print $2, $3}' "/proc/${PIDS[-2]}/status" 2>/dev/null || echo '?')"
  kill "${PIDS[-1]}" 2>/dev/null || true
  unset 'PIDS[-1]'
  stop_exporter
}

idle() {
  echo "== idle: half-sent connections versus a real scrape (defaults: cap 512, header timeout 10s)"
  start_exporter --no-collector.queue --no-collector.log
  python3 - "$PORT" <<'EOF'
import socket, sys, time, urllib.request
port = int(sys.argv[1])
def scrape():
    t = time.time()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=15).read()
        return f"ok in {1000 * (time.time() - t):.0f} ms"
    except Exception as e:
        return f"failed after {time.time() - t:.1f} s ({e.__class__.__name__})"
held = []
for n in (100, 500, 511, 600, 1100, 2000):
    while len(held) < n:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        held.append(s)
    print(f"{n:5d} half-sent connections held: real scrape {scrape()}")
t = time.time()
while True:
    r = scrape()
    if r.startswith("ok"):
        print(f"after the header timeout: real scrape {r}, {time.time() - t:.1f} s after the last attempt")
        break
    time.sleep(0.5)
EOF
  echo "connections refused at the cap: $(metric postfix_http_connections_rejected_total)"
  stop_exporter
}

rotate_run() { # rotate_run rename|copytruncate
  local kind=$1 log="$WORK/rot-$1.log"
  : >"$log"
  start_exporter --no-collector.queue --collector.log.source="file:$log"
  python3 - "$log" "$kind" "$ROTATIONS" "$LINES" "$LINE" <<'EOF'
import os, shutil, sys, time
path, kind, rotations, lines, line = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rate = 3400.0
batch = 20
t = time.time()
for r in range(rotations):
    with open(path, "a") as f:
        for i in range(0, lines, batch):
            f.write((line + "\n") * batch); f.flush()
            t += batch / rate
            d = t - time.time()
            if d > 0: time.sleep(d)
    # No line between the copy (or rename) and the new file: logrotate is that fast.
    if kind == "rename":
        os.rename(path, path + ".1")
        open(path, "w").close()
    else:
        shutil.copyfile(path, path + ".1")
        with open(path, "r+") as f: f.truncate(0)
EOF
  sleep 2
  local read written=$((ROTATIONS * LINES))
  read=$(metric postfix_log_lines_total)
  echo "$kind: $ROTATIONS rotations, lines read $read of $written written, lost $((written - read)); unrecovered truncations: $(metric postfix_log_truncations_unrecovered_total)"
  stop_exporter
}

rotations() {
  echo "== rotations: $ROTATIONS x $LINES lines at ~3,400 lines/s, default poll interval (250 ms)"
  rotate_run rename
  rotate_run copytruncate
}

case "${1:-all}" in
  load) load ;;
  idle) idle ;;
  rotations) rotations ;;
  all) load; idle; rotations ;;
  *) echo "usage: $0 [load|idle|rotations|all]" >&2; exit 2 ;;
esac
