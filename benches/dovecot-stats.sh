#!/usr/bin/env bash
# One scrape of dovecot-exporter against a real Dovecot whose stats hold >= 10,000
# sub-metrics, timed side by side in the same run with a fetch of Dovecot's own /metrics
# for the same metrics. The sub-metrics come from one IMAP session sending N (default
# 10,000) NOOPs with distinct tags to a `group_by = cmd_tag` metric. Each side is fetched
# ROUNDS (default 20) times with curl; the report is the median and the worst time, and
# the body sizes. Needs root (Dovecot runs as its own users); installs nothing but builds
# the release binary. Usage: benches/dovecot-stats.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
ROUNDS=${ROUNDS:-20}
cargo build --release --bin dovecot-exporter >/dev/null 2>&1 || cargo build --release --bin dovecot-exporter
BIN=${CARGO_TARGET_DIR:-target}/release/dovecot-exporter
DIR=$(mktemp -d /tmp/dovecot-bench.XXXXXX)
chmod 755 "$DIR"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$DIR/run/master.pid" ] && kill "$(cat "$DIR/run/master.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$DIR"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
IMAP=$(freeport); READER=$(freeport); HTTP=$(freeport); WEB=$(freeport)
mkdir -p "$DIR/run" "$DIR/state" "$DIR/mail" && chmod 1777 "$DIR/mail"
printf 'bench@test.local:{PLAIN}bench-pw::::::\n' >"$DIR/users"
cat >"$DIR/dovecot.conf" <<CONF
instance_name = bench-$$
base_dir = $DIR/run
state_dir = $DIR/state
log_path = $DIR/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = $DIR/users
}
userdb {
  driver = passwd-file
  args = $DIR/users
  default_fields = uid=mail gid=mail home=$DIR/mail/%u
}
service imap-login {
  inet_listener imap {
    port = $IMAP
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  inet_listener stats-reader {
    address = 127.0.0.1
    port = $READER
  }
  inet_listener http {
    address = 127.0.0.1
    port = $HTTP
  }
}
metric imap_command {
  filter = event=imap_command_finished
  group_by = cmd_tag tagged_reply_state
}
metric imap_command_latency {
  filter = event=imap_command_finished
  group_by = duration:exponential:1:7:10
}
CONF
dovecot -c "$DIR/dovecot.conf"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$HTTP/metrics" && break; sleep 0.1; done
python3 - "$IMAP" "$N" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rwb")
f.readline(); f.write(b"a LOGIN bench@test.local bench-pw\r\n"); f.flush(); f.readline()
# Pipelined in chunks: Dovecot answers each NOOP; read the replies as they come.
chunk = 500
for start in range(0, n, chunk):
    for i in range(start, min(n, start + chunk)):
        f.write(b"t%d NOOP\r\n" % i)
    f.flush()
    for i in range(start, min(n, start + chunk)):
        while not f.readline().startswith(b"t%d " % i):
            pass
f.write(b"z LOGOUT\r\n"); f.flush(); f.read()
PY
"$BIN" --web.listen-address="127.0.0.1:$WEB" --dovecot.stats-reader.address="127.0.0.1:$READER" \
  --dovecot.config="$DIR/dovecot.conf" --no-collector.sessions --no-collector.log 2>"$DIR/exporter.log" &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$WEB/-/healthy" && break; sleep 0.1; done
rows=$(curl -s "http://127.0.0.1:$WEB/metrics" | awk '$1=="dovecot_stats_rows" {print $2}')
echo "sub-metrics in the dump: $rows (NOOP tags: $N)"
time_it() { # time_it URL ACCEPT: ROUNDS fetches; prints median and max in ms, and bytes
  local url=$1 accept=$2 t=()
  for _ in $(seq "$ROUNDS"); do
    t+=("$(curl -s -o "$DIR/body" -H "Accept: $accept" -w '%{time_total}' "$url")")
  done
  printf '%s\n' "${t[@]}" | sort -n | awk -v b="$(wc -c <"$DIR/body")" \
    '{a[NR]=$1} END {printf "median %.1f ms, max %.1f ms, %d bytes\n", a[int((NR+1)/2)]*1000, a[NR]*1000, b}'
}
echo "dovecot-exporter /metrics (stats-reader dump, parse, labels, encode): $(time_it "http://127.0.0.1:$WEB/metrics" 'application/openmetrics-text;version=1.0.0')"
echo "Dovecot native /metrics (same metrics):                              $(time_it "http://127.0.0.1:$HTTP/metrics" '*/*')"
