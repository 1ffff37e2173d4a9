#!/usr/bin/env bash
# File-to-metrics throughput and memory of proftpd-exporter's log collector, one log kind
# at a time (TransferLog, SystemLog, the metrics-format ExtendedLog), each made of the
# checked-in captures of a real ProFTPd 1.3.8 repeated to >= N lines (default 1,000,000).
# The exporter (release build) follows an empty file from EOF; half of the lines are
# appended, then the other half, then N more lines are moved into place by a rename (a log
# rotation). The time runs until proftpd_log_lines_total has every line; CPU time (utime +
# stime) gives lines per CPU-second, which a shared machine does not skew. Peak RSS (VmHWM)
# after each of the three steps shows whether memory stays flat as the log grows.
# No peer reads ProFTPd's logs (mod_prometheus runs inside the daemon), so there is no
# side-by-side run. Usage: benches/proftpd-log.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
FIX=exporters/proftpd/tests/fixtures
FORMAT='%{epoch} %{protocol} %m %s %{transfer-status} %b %{transfer-millisecs} %R %a %u %E'
cargo build --release --bin proftpd-exporter >/dev/null 2>&1 || cargo build --release --bin proftpd-exporter
DIR=$(mktemp -d /tmp/proftpd-bench.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '($1==m || index($1, m "{")==1) && !done {print $2; done=1}'; }
hwm() { awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
now() { date +%s.%N; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat"; }
wait_lines() { until [ "$(metric "$1" proftpd_log_lines_total)" = "$2" ]; do sleep 0.02; done; }

printf '| log | lines | wall s | CPU s | lines/s (wall) | lines per CPU-second | peak RSS MiB after N/2, N, 2N lines | unsupported |\n|---|---|---|---|---|---|---|---|\n'
# kind, fixture, then the exporter's flags for a log at $DIR/log.
run() {
  local kind=$1 fixture=$2; shift 2
  local per reps half
  per=$(wc -l <"$FIX/$fixture")
  reps=$(( (N + per - 1) / per ))
  half=$(( reps / 2 ))
  for _ in $(seq 1 "$half"); do cat "$FIX/$fixture"; done >"$DIR/half.log"
  for _ in $(seq 1 "$reps"); do cat "$FIX/$fixture"; done >"$DIR/full.log"
  local hl fl
  hl=$(wc -l <"$DIR/half.log"); fl=$(wc -l <"$DIR/full.log")
  : >"$DIR/log"
  local port
  port=$(freeport)
  ./target/release/proftpd-exporter --web.listen-address="127.0.0.1:$port" --no-collector.scoreboard \
    --collector.log.poll-interval=5ms "$@" >"$DIR/$kind.out" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null; do sleep 0.1; done
  sleep 0.3
  local c0 t0 h1 h2 h3
  c0=$(cpu "$pid"); t0=$(now)
  cat "$DIR/half.log" >>"$DIR/log"
  wait_lines "$port" "$hl"
  h1=$(hwm "$pid")
  cat "$DIR/half.log" >>"$DIR/log"
  wait_lines "$port" $(( 2 * hl ))
  local t1 c1
  t1=$(now); c1=$(cpu "$pid")
  h2=$(hwm "$pid")
  cp "$DIR/full.log" "$DIR/next.log"
  mv "$DIR/next.log" "$DIR/log"
  wait_lines "$port" $(( 2 * hl + fl ))
  h3=$(hwm "$pid")
  local unsup
  unsup=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^proftpd_log_lines_unsupported_total/ {s += $2} END {print s + 0}')
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  awk -v k="$kind" -v l=$(( 2 * hl )) -v a="$t0" -v b="$t1" -v ca="$c0" -v cb="$c1" \
      -v h1="$h1" -v h2="$h2" -v h3="$h3" -v u="$unsup" 'BEGIN {
    w = b - a; c = cb - ca; if (c <= 0) c = 0.01
    printf "| %s | %d | %.2f | %.2f | %.0f | %.0f | %s, %s, %s | %d |\n", k, l, w, c, l/w, l/c, h1, h2, h3, u }'
}
run TransferLog xferlog-1.3.8.log --proftpd.transferlog="$DIR/log" --proftpd.systemlog=none
run SystemLog systemlog-1.3.8.log --proftpd.transferlog=none --proftpd.systemlog="$DIR/log"
run "ExtendedLog (metrics format)" extendedlog-metrics-1.3.8.log --proftpd.transferlog=none \
  --proftpd.systemlog=none --proftpd.logformat="metrics=$FORMAT" --proftpd.extendedlog="$DIR/log:metrics"
