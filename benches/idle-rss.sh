#!/usr/bin/env bash
# Idle resident memory of an exporter binary: start it with its default collectors (sources
# absent, so nothing to read), scrape it a few times, and report VmRSS and VmHWM.
# Usage: benches/idle-rss.sh [binary-name]   (default postfix-exporter)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-postfix-exporter}
cargo build --release --bin "$bin" >/dev/null 2>&1 || cargo build --release --bin "$bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
"./target/release/$bin" --web.listen-address="127.0.0.1:$port" \
  --postfix.showq_path="$tmp/showq" --postfix.logfile_path="$tmp/mail.log" >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/-/healthy" >/dev/null && break; sleep 0.1; done
for _ in $(seq 20); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; done
sleep 1
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
size=$(stat -c %s "./target/release/$bin")
awk -v b="$bin" -v r="$rss" -v h="$hwm" -v s="$size" 'BEGIN {
  printf "%s: idle VmRSS %.1f MiB, peak VmHWM %.1f MiB after 20 scrapes, binary %.1f MiB\n", b, r/1024, h/1024, s/1048576 }'
