#!/usr/bin/env bash
# 200 concurrent SMTP probes against a real Postfix on loopback, through mailprobe-exporter
# and, in the same rounds, through Debian's prometheus-blackbox-exporter with a tcp module
# scripted to the same dialogue (banner, EHLO, QUIT). Each round fires BURST (default 200)
# probes at once at each exporter in turn, ROUNDS (default 10) times; every probe must answer
# probe_success 1. Reported per exporter: CPU per probe (utime + stime of the process from
# /proc/PID/stat, which keeps the time of threads that have exited), the wall time of a
# burst, and peak RSS (VmHWM). Then LEAK_PROBES (default 10,000) more probes through
# mailprobe-exporter, CONCURRENCY (default 50) at a time, with its open descriptors and RSS
# before and after: a leak shows as a count that grows with the probes.
# Needs root (Postfix); builds the release binary. Usage: benches/probe-smtp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BURST=${BURST:-200}
ROUNDS=${ROUNDS:-10}
LEAK_PROBES=${LEAK_PROBES:-10000}
CONCURRENCY=${CONCURRENCY:-50}
BLACKBOX=$(command -v prometheus-blackbox-exporter || true)
[ -n "$BLACKBOX" ] || { echo "prometheus-blackbox-exporter is missing; run scripts/install-deps.sh" >&2; exit 1; }
cargo build --release --bin mailprobe-exporter >/dev/null 2>&1 || cargo build --release --bin mailprobe-exporter
BIN=${CARGO_TARGET_DIR:-target}/release/mailprobe-exporter
# shellcheck source=scripts/lib/postfix-instance.sh
source "$ROOT/scripts/lib/postfix-instance.sh"

DIR=$(mktemp -d /tmp/probe-bench.XXXXXX)
chmod 755 "$DIR"  # Postfix's own users walk into it
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  postfix_instance_stop "$DIR/postfix" || true
  rm -rf "$DIR"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SMTP=$(freeport); OURS=$(freeport); BB=$(freeport)

# Enough smtpd processes for a whole burst: with Postfix's default of 100, half of a burst
# would wait in the listen queue and the bench would time Postfix's process limit.
postfix_instance_create "$DIR/postfix" "$SMTP"
postconf -c "$DIR/postfix/etc" -e "default_process_limit = $((BURST + 50))"
postfix_instance_start "$DIR/postfix"

cat >"$DIR/mailprobe.yml" <<YML
modules:
  smtp_banner:
    prober: smtp
    timeout: 20s
    smtp: { tls: none, ehlo: bench.test.local }
YML
cat >"$DIR/blackbox.yml" <<YML
modules:
  smtp_banner:
    prober: tcp
    timeout: 20s
    tcp:
      query_response:
        - expect: "^220 "
        - send: "EHLO bench.test.local"
        - expect: "^250 "
        - send: "QUIT"
        - expect: "^221 "
YML
"$BIN" --config.file="$DIR/mailprobe.yml" --web.listen-address="127.0.0.1:$OURS" \
  --log.level=warn 2>"$DIR/mailprobe.log" &
pids+=($!); OURS_PID=$!
"$BLACKBOX" --config.file="$DIR/blackbox.yml" --web.listen-address="127.0.0.1:$BB" \
  --log.level=warn 2>"$DIR/blackbox.log" &
pids+=($!); BB_PID=$!
for port in "$OURS" "$BB"; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done
done

# fire URL N CONCURRENCY: N probes, CONCURRENCY in flight; prints "ok failed wall_s".
fire() {
  python3 - "$@" <<'PY'
import sys, time, threading, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, n, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start = threading.Barrier(min(n, conc))
def one(i):
    if i < conc:
        start.wait()  # the first CONCURRENCY probes leave together
    req = urllib.request.Request(url, headers={"X-Prometheus-Scrape-Timeout-Seconds": "20"})
    try:
        body = urllib.request.urlopen(req, timeout=30).read().decode()
    except Exception as e:
        print("probe error:", e, file=sys.stderr)
        return False
    return "\nprobe_success 1\n" in "\n" + body.replace("probe_success 1.0", "probe_success 1")
t = time.monotonic()
with ThreadPoolExecutor(max_workers=conc) as ex:
    results = list(ex.map(one, range(n)))
print(sum(results), len(results) - sum(results), "%.3f" % (time.monotonic() - t))
PY
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
TCK=$(getconf CLK_TCK)

OURS_URL="http://127.0.0.1:$OURS/probe?module=smtp_banner&target=127.0.0.1:$SMTP"
BB_URL="http://127.0.0.1:$BB/probe?module=smtp_banner&target=127.0.0.1:$SMTP"
# Warm-up: thread pools, Postfix's smtpd processes, the allocator's arenas.
fire "$OURS_URL" "$BURST" "$BURST" >/dev/null
fire "$BB_URL" "$BURST" "$BURST" >/dev/null

declare -A ok=() bad=() ticks=() walls=()
for name in ours bb; do ok[$name]=0; bad[$name]=0; ticks[$name]=0; walls[$name]=""; done
for r in $(seq "$ROUNDS"); do
  for name in ours bb; do
    if [ "$name" = ours ]; then pid=$OURS_PID url=$OURS_URL; else pid=$BB_PID url=$BB_URL; fi
    before=$(cpu_ticks "$pid")
    read -r o b w < <(fire "$url" "$BURST" "$BURST")
    after=$(cpu_ticks "$pid")
    ok[$name]=$((ok[$name] + o)); bad[$name]=$((bad[$name] + b))
    ticks[$name]=$((ticks[$name] + after - before)); walls[$name]+="$w "
  done
  echo "round $r/$ROUNDS done" >&2
done
report() { # report NAME PID LABEL
  local n=$1 probes=$((ok[$1] + bad[$1]))
  local med
  med=$(printf '%s\n' ${walls[$n]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  awk -v l="$3" -v ok="${ok[$n]}" -v bad="${bad[$n]}" -v t="${ticks[$n]}" -v tck="$TCK" \
    -v p="$probes" -v w="$med" -v h="$(hwm_kib "$2")" \
    'BEGIN {printf "%-32s %d ok, %d failed; CPU %.3f ms/probe; burst of %s: median %.3f s wall; peak RSS %.1f MiB\n", l, ok, bad, t * 1000 / tck / p, '"$BURST"', w, h / 1024}'
}
echo "== $ROUNDS rounds of $BURST concurrent SMTP probes (banner, EHLO, QUIT) against Postfix $(postconf -d -h mail_version)"
report ours "$OURS_PID" "mailprobe-exporter smtp prober:"
report bb "$BB_PID" "blackbox_exporter tcp module:"

# Descriptor leak check: settle, count, run LEAK_PROBES, settle, count again.
sleep 1
fd0=$(fds "$OURS_PID"); rss0=$(rss_kib "$OURS_PID")
read -r o b w < <(fire "$OURS_URL" "$LEAK_PROBES" "$CONCURRENCY")
sleep 2
fd1=$(fds "$OURS_PID"); rss1=$(rss_kib "$OURS_PID")
echo "== $LEAK_PROBES probes through mailprobe-exporter, $CONCURRENCY at a time: $o ok, $b failed in $w s"
echo "open descriptors: $fd0 before, $fd1 after; RSS $((rss0 / 1024)) MiB before, $((rss1 / 1024)) MiB after"
failed=$((bad[ours] + bad[bb] + b))
if [ "$failed" -ne 0 ] || [ "$fd1" -gt $((fd0 + 2)) ]; then
  echo "FAILED: $failed probes failed, descriptors $fd0 -> $fd1" >&2
  tail -n 20 "$DIR/mailprobe.log" "$DIR/blackbox.log" >&2 || true
  exit 1
fi
