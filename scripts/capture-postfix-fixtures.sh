#!/usr/bin/env bash
# Captures real Postfix queue listings (raw showq bytes over the unix socket and over TCP,
# `postqueue -j`, `mailq`, several `qshape` shapes) from a throwaway loopback-only Postfix
# instance into exporters/postfix/tests/fixtures/postfix-<major.minor>/.
#
# Needs root and the Debian `postfix` package (see docs/development.md). Nothing listens
# outside 127.0.0.1; the instance uses its own config, queue and data directories under a
# temp dir and is stopped by PID at the end, whatever happens.
#
# Layout written (each directory has `now.txt`: the epoch second of the capture, the TZ and
# the Postfix version, so age-dependent tests are reproducible):
#   short-ids/  showq-unix.bin showq-tcp.bin postqueue-j.jsonl mailq.txt qshape-*.txt
#   long-ids/   same listings after `enable_long_queue_ids = yes` and new mail
#   empty/      showq-unix.bin mailq.txt postqueue-j.jsonl of an empty queue
#   down/       mailq.txt (stdout+stderr) with the mail system stopped
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(postconf -d -h mail_version)
OUT=${OUT:-$ROOT/exporters/postfix/tests/fixtures/postfix-${VERSION%.*}}
# mailq prints local time without a zone: pin it so the fixtures say what they mean.
export TZ=UTC

BASE=$(mktemp -d /tmp/pfcap.XXXXXX)
chmod 755 "$BASE"
CONF=$BASE/conf QUEUE=$BASE/queue DATA=$BASE/data LOG=$BASE/log
mkdir -p "$CONF" "$QUEUE" "$DATA" "$LOG"
chown postfix "$DATA"
TARPIT_PID=""

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

master_pid() { cat "$QUEUE/pid/master.pid" 2>/dev/null | tr -d ' ' || true; }
STARTED_PIDS=""

cleanup() {
    set +e
    local pid
    pid=$(master_pid)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        postfix -c "$CONF" stop >/dev/null 2>&1
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill "$pid"
    fi
    # A master whose pid file is gone (or an earlier instance after a restart).
    for pid in $STARTED_PIDS; do kill -0 "$pid" 2>/dev/null && kill "$pid"; done
    [ -n "$TARPIT_PID" ] && kill "$TARPIT_PID" 2>/dev/null
    rm -rf "$BASE"
}
trap cleanup EXIT
trap 'echo "capture-postfix-fixtures: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

SMTPD_PORT=$(free_port)
SHOWQ_PORT=$(free_port)
TARPIT_PORT=$(free_port)

# A listener that never answers: smtp(8) waits for the greeting (smtp_helo_timeout), so mail
# for slow.example stays in the active queue for the whole capture.
python3 - "$TARPIT_PORT" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
EOF
TARPIT_PID=$!

cp /usr/share/postfix/main.cf.dist "$CONF/main.cf"
cp /usr/share/postfix/master.cf.dist "$CONF/master.cf"
postconf -c "$CONF" -e \
    "config_directory = $CONF" "queue_directory = $QUEUE" "data_directory = $DATA" \
    "mailq_path = /usr/bin/mailq" "newaliases_path = /usr/bin/newaliases" \
    "sendmail_path = /usr/sbin/sendmail" "manpage_directory = /usr/share/man" \
    "sample_directory = /usr/share/doc/postfix/examples" "readme_directory = no" \
    "html_directory = no" "command_directory = /usr/sbin" \
    "daemon_directory = /usr/lib/postfix/sbin" "meta_directory = /etc/postfix" \
    "shlib_directory = /usr/lib/postfix" "mail_owner = postfix" "setgid_group = postdrop" \
    "myhostname = mx.test.local" "mydomain = test.local" "myorigin = mx.test.local" \
    "inet_interfaces = loopback-only" "inet_protocols = ipv4" "mydestination =" \
    "mynetworks = 127.0.0.0/8" "relayhost = [127.0.0.1]:1" "alias_maps =" "alias_database =" \
    "compatibility_level = 3.6" "smtputf8_enable = no" "biff = no" \
    "maillog_file = $LOG/postfix.log" "maillog_file_prefixes = /var, /dev/stdout, $LOG" \
    "queue_run_delay = 4000s" "minimal_backoff_time = 4000s" "maximal_backoff_time = 4000s" \
    "smtp_helo_timeout = 3600s" "smtp_connect_timeout = 5s" \
    "transport_maps = inline:{slow.example=smtp:[127.0.0.1]:$TARPIT_PORT}"
postconf -c "$CONF" -M# smtp/inet
postconf -c "$CONF" -Me "127.0.0.1:$SMTPD_PORT/inet = 127.0.0.1:$SMTPD_PORT inet n - n - - smtpd"
postconf -c "$CONF" -Me "127.0.0.1:$SHOWQ_PORT/inet = 127.0.0.1:$SHOWQ_PORT inet n - n - - showq"
postconf -c "$CONF" -Me "postlog/unix-dgram = postlog unix-dgram n - n - 1 postlogd"

if ! postfix -c "$CONF" start >/dev/null 2>&1; then
    # postfix prints its reasons only to a terminal.
    script -qc "postfix -c $CONF start" /dev/null || true
    echo "postfix did not start" >&2
    exit 1
fi
for _ in $(seq 100); do [ -S "$QUEUE/public/showq" ] && [ -n "$(master_pid)" ] && break; sleep 0.1; done
STARTED_PIDS="$STARTED_PIDS $(master_pid)"

send() { # send FROM RCPT...
    local from=$1; shift
    printf 'Subject: fixture\n\nbody\n' | sendmail -C "$CONF" -f "$from" "$@"
}

count_files() { (find "$QUEUE/$1" -type f 2>/dev/null || true) | wc -l; }

# Waits until maildrop is empty and exactly $1 files are active and $2 incoming.
settle() {
    local want_active=$1 want_incoming=$2
    for _ in $(seq 300); do
        local pending active incoming
        pending=$(count_files maildrop)
        active=$(count_files active)
        incoming=$(count_files incoming)
        if [ "$pending" -eq 0 ] && [ "$active" -eq "$want_active" ] &&
            [ "$incoming" -eq "$want_incoming" ]; then
            sleep 1
            return 0
        fi
        sleep 0.2
    done
    echo "queue did not settle" >&2
    postqueue -c "$CONF" -p >&2 || true
    exit 1
}

queue_id_of() { # queue_id_of RCPT: ID of the (single) message to that recipient
    # python reads all of stdin before it stops at the first match: postqueue must not be
    # cut off (SIGPIPE under pipefail).
    postqueue -c "$CONF" -j | python3 -c '
import json, sys
want = sys.argv[1]
for line in sys.stdin.read().splitlines():
    m = json.loads(line)
    if any(r["address"] == want for r in m["recipients"]):
        print(m["queue_id"]); break' "$1"
}

read_showq_unix() {
    python3 - "$QUEUE/public/showq" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
with open(sys.argv[2], "wb") as out:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out.write(b)
EOF
}

read_showq_tcp() {
    python3 - "$SHOWQ_PORT" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "wb") as out:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out.write(b)
EOF
}

stamp() { # stamp DIR
    printf 'captured_at=%s\ntz=%s\nmail_version=%s\n' "$(date +%s)" "$TZ" "$VERSION" >"$1/now.txt"
}

listings() { # listings DIR: the queue listings that must agree with each other
    local dir=$1
    mkdir -p "$dir"
    stamp "$dir"
    read_showq_unix "$dir/showq-unix.bin"
    read_showq_tcp "$dir/showq-tcp.bin"
    postqueue -c "$CONF" -j >"$dir/postqueue-j.jsonl"
    sendmail -C "$CONF" -bp >"$dir/mailq.txt"
}

rm -rf "$OUT"
mkdir -p "$OUT"

# ---- short queue IDs ------------------------------------------------------------------
# First batch, then a pause so qshape's minute buckets have more than one populated column.
send alice@mx.test.local dave1@example.com erin1@example.org
for i in 2 3 4; do
    send alice@mx.test.local "bob$i@example.com" "carol$i@example.com" "frank$i@example.org"
done
for i in 1 2 3 4 5; do
    send "news@list$i.example.org" "user$i@sub$i.example.net"
done
send bounce-test@mx.test.local 'rcpt@a-very-long-subdomain-name-for-qshape-truncation.example.com'
smtp-source -m 3 -r 3 -f loadgen@mx.test.local -t rcpt@bulk.example.com "127.0.0.1:$SMTPD_PORT"
settle 0 0
sleep 65
send '<>' postmaster@example.net
send alice@mx.test.local held1@example.com held2@example.org
send alice@mx.test.local expired@example.com
send alice@mx.test.local expired2@example.org
# Active for the whole capture: one recipient waits on the tarpit, the other defers at once,
# which makes mailq print "(reason unavailable)".
send carol@mx.test.local dave9@example.com slow1@slow.example
send carol@mx.test.local slow2@slow.example
settle 2 0
HELD=$(queue_id_of held1@example.com)
EXPIRED=$(queue_id_of expired@example.com)
EXPIRED2=$(queue_id_of expired2@example.org)
postsuper -c "$CONF" -h "$HELD" 2>/dev/null
postsuper -c "$CONF" -h "$EXPIRED" 2>/dev/null
# Force-expired while on hold: qmgr does not see it, so it stays listed as `!#`.
postsuper -c "$CONF" -e "$EXPIRED" 2>/dev/null
# Force-expired in deferred: returned only at the next retry, after queue_run_delay (4000 s).
postsuper -c "$CONF" -e "$EXPIRED2" 2>/dev/null
sleep 1

listings "$OUT/short-ids"
d=$OUT/short-ids
qshape -c "$CONF" deferred >"$d/qshape-deferred.txt"
qshape -c "$CONF" -s deferred >"$d/qshape-s-deferred.txt"
qshape -c "$CONF" hold >"$d/qshape-hold.txt"
qshape -c "$CONF" -t 1 -b 6 deferred hold >"$d/qshape-t1-b6-deferred-hold.txt"
qshape -c "$CONF" -l -t 2 -b 5 deferred >"$d/qshape-l-t2-b5-deferred.txt"
qshape -c "$CONF" -p deferred >"$d/qshape-p-deferred.txt"
printf 'captured_after=%s\n' "$(date +%s)" >>"$d/now.txt"

# ---- long queue IDs (new messages only; the old ones keep their short names) ----------
postconf -c "$CONF" -e "enable_long_queue_ids = yes"
postfix -c "$CONF" reload >/dev/null 2>&1
sleep 2
send alice@mx.test.local long1@example.com long2@example.org
send alice@mx.test.local longheld@example.com
send carol@mx.test.local slow3@slow.example
# At start-up the new qmgr moves the old active mail back to incoming, where it stays: qmgr
# had already pushed its mtime minimal_backoff_time into the future. So two messages sit in
# incoming (no marker in mailq) and only the new tarpit message is active.
settle 1 2
postsuper -c "$CONF" -h "$(queue_id_of longheld@example.com)" 2>/dev/null
sleep 1
listings "$OUT/long-ids"

# ---- mail system down: postqueue falls back to reading the queue itself ----------------
pid=$(master_pid)
postfix -c "$CONF" stop >/dev/null 2>&1
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
mkdir -p "$OUT/down"
stamp "$OUT/down"
sendmail -C "$CONF" -bp >"$OUT/down/mailq.txt" 2>&1 || true

# ---- empty queue -----------------------------------------------------------------------
postfix -c "$CONF" start >/dev/null 2>&1
for _ in $(seq 100); do [ -S "$QUEUE/public/showq" ] && [ -n "$(master_pid)" ] && break; sleep 0.1; done
STARTED_PIDS="$STARTED_PIDS $(master_pid)"
postsuper -c "$CONF" -d ALL
settle 0 0
mkdir -p "$OUT/empty"
stamp "$OUT/empty"
read_showq_unix "$OUT/empty/showq-unix.bin"
postqueue -c "$CONF" -j >"$OUT/empty/postqueue-j.jsonl"
sendmail -C "$CONF" -bp >"$OUT/empty/mailq.txt"
qshape -c "$CONF" deferred >"$OUT/empty/qshape-deferred.txt"

cmp "$OUT/short-ids/showq-unix.bin" "$OUT/short-ids/showq-tcp.bin"
cmp "$OUT/long-ids/showq-unix.bin" "$OUT/long-ids/showq-tcp.bin"
echo "fixtures written to $OUT"
ls -lR "$OUT"
