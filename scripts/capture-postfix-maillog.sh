#!/usr/bin/env bash
# Runs a throwaway Postfix 3.7 instance on loopback, sends a known mix of mail through
# it and saves the real `maillog_file` output plus the counts this script sent:
#
#   exporters/postfix/tests/fixtures/maillog/postfix-3.7.log
#   exporters/postfix/tests/fixtures/maillog/postfix-3.7.expected.json
#
# Needs root, postfix, swaks (+ libnet-ssleay-perl for --tls), openssl, python3 (see
# docs/development.md).
# Everything listens on 127.0.0.1 only; every process started here is stopped by PID.
# Usage: scripts/capture-postfix-maillog.sh [OUT_DIR]   (PORT_BASE=20025 KEEP=1 to keep the temp dir)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/exporters/postfix/tests/fixtures/maillog}
P=${PORT_BASE:-20025}
SMTPD=$P SUB=$((P + 1)) PSCREEN=$((P + 2)) SINK=$((P + 3)) BSINK=$((P + 4)) CLOSED=$((P + 5))

BASE=$(mktemp -d /tmp/pfcap.XXXXXX)
chmod 755 "$BASE"
CONF=$BASE/etc
LOG=$BASE/maillog.log
mkdir -p "$CONF" "$BASE/spool" "$BASE/data" "$BASE/mail"
chown postfix "$BASE/data"
chmod 1777 "$BASE/mail"
PIDS=()

cleanup() {
    set +e
    postsuper -c "$CONF" -d ALL >/dev/null 2>&1
    postfix -c "$CONF" stop >/dev/null 2>&1
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    sleep 1
    if [ -f "$BASE/spool/pid/master.pid" ]; then
        kill "$(tr -d ' ' <"$BASE/spool/pid/master.pid")" 2>/dev/null
    fi
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $BASE"; else rm -rf "$BASE"; fi
}
trap cleanup EXIT

cp /usr/share/postfix/main.cf.dist "$CONF/main.cf"
cp /usr/share/postfix/master.cf.dist "$CONF/master.cf"
pc() { postconf -c "$CONF" "$@"; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.test.local \
    -keyout "$CONF/key.pem" -out "$CONF/cert.pem" 2>/dev/null

printf 'sink.test     smtp:[127.0.0.1]:%s\nbounce.test   smtp:[127.0.0.1]:%s\nout.test      sinkout:[127.0.0.1]:%s\ntlsrelay.test smtp:[127.0.0.1]:%s\n' \
    "$SINK" "$BSINK" "$SINK" "$SUB" >"$CONF/transport"
printf 'hold.test     HOLD\ndiscard.test  DISCARD\nrejectme.test REJECT 5.7.1 policy says no\n' >"$CONF/access"
printf 'tlsrelay.test REDIRECT bob@sink.test\n' >"$CONF/redirect"
printf '/^Subject: REJECTME/ REJECT spam subject\n' >"$CONF/header_checks"
printf '127.0.0.1/32 permit\n127.0.0.3/32 reject\n' >"$CONF/psacl.cidr"

pc -e "queue_directory = $BASE/spool" "data_directory = $BASE/data" "config_directory = $CONF" \
    'mailq_path = /usr/bin/mailq' 'newaliases_path = /usr/bin/newaliases' 'sendmail_path = /usr/sbin/sendmail' \
    'setgid_group = postdrop' 'manpage_directory = /usr/share/man' 'sample_directory = /usr/share/doc/postfix' \
    'readme_directory = no' 'html_directory = no' 'compatibility_level = 3.6' \
    "maillog_file = $LOG" "maillog_file_prefixes = /var, /dev/stdout, $BASE" \
    'myhostname = mx.test.local' 'mydomain = test.local' 'mydestination = mx.test.local' \
    'inet_interfaces = loopback-only' 'inet_protocols = ipv4' 'mynetworks = 127.0.0.1/32' \
    'alias_maps =' 'alias_database =' "mail_spool_directory = $BASE/mail" \
    "relayhost = [127.0.0.1]:$CLOSED" "transport_maps = hash:$CONF/transport" \
    'smtpd_authorized_xclient_hosts = 127.0.0.1' \
    "smtpd_recipient_restrictions = check_recipient_access hash:$CONF/access, warn_if_reject, check_sender_access inline:{warn.test=REJECT}, permit" \
    'smtpd_helo_restrictions = reject_invalid_helo_hostname' \
    "header_checks = regexp:$CONF/header_checks" \
    "smtpd_tls_cert_file = $CONF/cert.pem" "smtpd_tls_key_file = $CONF/key.pem" \
    'smtpd_tls_security_level = may' 'smtpd_tls_loglevel = 1' \
    'smtp_tls_security_level = may' 'smtp_tls_loglevel = 1' \
    'smtpd_timeout = 3s' 'smtpd_hard_error_limit = 3' 'smtpd_soft_error_limit = 2' 'smtpd_error_sleep_time = 0' \
    'queue_run_delay = 3600s' 'minimal_backoff_time = 3600s' 'maximal_backoff_time = 3600s' \
    "postscreen_access_list = cidr:$CONF/psacl.cidr" 'postscreen_denylist_action = enforce' \
    'postscreen_greet_wait = 2s' 'postscreen_greet_action = enforce' \
    'postscreen_bare_newline_enable = yes' 'postscreen_bare_newline_action = enforce' \
    'postscreen_non_smtp_command_enable = yes' 'postscreen_pipelining_enable = yes' \
    'postscreen_cache_map = btree:$data_directory/postscreen_cache'
postmap -c "$CONF" "$CONF/transport" "$CONF/access" "$CONF/redirect"

pc -F '*/*/chroot = n'
pc -M# smtp/inet
pc -Me "127.0.0.1:$SMTPD/inet = 127.0.0.1:$SMTPD inet n - n - - smtpd"
pc -Me "127.0.0.1:$SUB/inet = 127.0.0.1:$SUB inet n - n - - smtpd -o syslog_name=postfix/submission -o myhostname=sub.test.local -o smtpd_recipient_restrictions=check_recipient_access,hash:$CONF/redirect,permit_mynetworks,reject"
pc -Me "127.0.0.1:$PSCREEN/inet = 127.0.0.1:$PSCREEN inet n - n - 1 postscreen"
pc -Me 'smtpd/pass = smtpd pass - - n - - smtpd'
pc -Me 'dnsblog/unix = dnsblog unix - - n - 0 dnsblog'
pc -Me 'tlsproxy/unix = tlsproxy unix - - n - 0 tlsproxy'
pc -Me 'sinkout/unix = sinkout unix - - n - - smtp -o syslog_name=postfix-out/sinkout'

/usr/sbin/smtp-sink -u postfix "127.0.0.1:$SINK" 100 &
PIDS+=($!)
/usr/sbin/smtp-sink -u postfix -f rcpt "127.0.0.1:$BSINK" 100 &
PIDS+=($!)

script -qc "postfix -c $CONF start" /dev/null
sleep 2

# Waits until nothing is in maildrop/incoming/active twice in a row.
# The listing is read whole before it is matched: `postqueue -j | grep -q` under pipefail
# fails when grep quits at its first match while postqueue still writes (SIGPIPE), which
# made a busy queue look quiet.
settle() {
    local quiet=0 listing busy='"queue_name": "(maildrop|incoming|active)"'
    for _ in $(seq 1 60); do
        listing="$(postqueue -c "$CONF" -j)" || listing=""
        if [[ $listing =~ $busy ]]; then
            quiet=0
        else
            quiet=$((quiet + 1))
            [ "$quiet" -ge 2 ] && return 0
        fi
        sleep 1
    done
    echo "queue did not settle" >&2
}
qid_of() { # first queue id in QUEUE whose recipient matches $2
    # python reads all of stdin before it stops at the first match: postqueue must not be
    # cut off (SIGPIPE under pipefail).
    postqueue -c "$CONF" -j | python3 -c '
import json, sys
for line in sys.stdin.read().splitlines():
    m = json.loads(line)
    if m["queue_name"] == sys.argv[1] and any(sys.argv[2] in r["address"] for r in m["recipients"]):
        print(m["queue_id"]); break' "$1" "$2"
}
send() { printf 'Subject: %s\n\nbody\n' "${3:-test}" | sendmail -C "$CONF" -f "$1" "$2"; }
sw() { swaks --server "127.0.0.1:$SMTPD" --silent 2 --helo client.test "$@" >/dev/null 2>&1 || true; }

# 1. sendmail: 3 sent to the sink, 1 more through the postfix-out/sinkout transport,
#    2 bounced by the rejecting sink, 1 local to root, 1 local unknown user (bounced),
#    2 deferred (closed relayhost). Sender alice@sink.test: each bounce notification is sent to the sink.
for i in 1 2 3; do send alice@sink.test "bob$i@sink.test"; done
send alice@sink.test carol@out.test
for i in 1 2; do send alice@sink.test "carol$i@bounce.test"; done
send alice@sink.test root@mx.test.local
send alice@sink.test nosuchuser@mx.test.local
for i in 1 2; do send alice@sink.test "dave$i@example.com"; done
settle

# 2. smtpd: a clean session, TLS, a header_checks reject, rejects by restriction (xclient for remote clients)
sw --from alice@sink.test --to bob4@sink.test
sw --tls --from alice@sink.test --to bob5@sink.test
sw --from alice@sink.test --to root@mx.test.local --header 'Subject: REJECTME now'
sw --xclient 'ADDR=192.0.2.10 NAME=client.example.net' --from spammer@example.net --to victim@example.org
sw --from alice@sink.test --to nosuchuser@mx.test.local
sw --from alice@sink.test --to x@rejectme.test
sw --from a@warn.test --to bob6@sink.test
sw --helo 'bad_helo!' --from alice@sink.test --to bob7@sink.test
sw --from alice@sink.test --to h@hold.test
sw --from alice@sink.test --to d@discard.test
# through the smtp client with TLS to the submission smtpd, which REDIRECTs to bob@sink.test
send alice@sink.test carl@tlsrelay.test
settle

# 3. smtpd abnormal session ends: lost connection, timeout, too many errors
python3 - "$SMTPD" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def session(cmds, wait=0.0):
    s = socket.create_connection(("127.0.0.1", port)); s.recv(512)
    for c in cmds:
        s.sendall(c); time.sleep(0.2); s.recv(4096)
    time.sleep(wait); s.close()
session([b"EHLO lost.test\r\n"])                       # lost connection after EHLO
session([b"EHLO slow.test\r\n"], wait=4.5)             # timeout after EHLO (smtpd_timeout=3s)
session([b"FOO\r\n", b"BAR\r\n", b"BAZ\r\n"], wait=0.5) # too many errors (hard limit 3)
EOF
sleep 1

# 4. postscreen: allowlisted, denylisted (enforce: NOQUEUE reject), pregreet, hangup, pass new/old
python3 - "$PSCREEN" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def conn(src):
    s = socket.socket(); s.bind((src, 0)); s.connect(("127.0.0.1", port)); return s
def recv(s, t=8.0):
    s.settimeout(t)
    try: return s.recv(4096)
    except Exception: return b""
def greeting(s):
    # postscreen sends "220-" first and the final "220 " after postscreen_greet_wait
    buf = b""
    while not (buf.startswith(b"220 ") or b"\n220 " in buf):
        chunk = recv(s)
        if not chunk: break
        buf += chunk
def smtp(s, lines):
    for l in lines:
        s.sendall(l); recv(s, 3)
# ALLOWLISTED (127.0.0.1 in the access list): handed to smtpd
s = conn("127.0.0.1"); greeting(s); smtp(s, [b"EHLO a.test\r\n", b"QUIT\r\n"]); s.close()
# DENYLISTED + enforce: dummy SMTP server rejects RCPT
s = conn("127.0.0.3"); greeting(s); smtp(s, [b"EHLO d.test\r\n", b"MAIL FROM:<x@d.test>\r\n", b"RCPT TO:<y@sink.test>\r\n", b"QUIT\r\n"]); s.close()
# PREGREET: talk before the greeting
s = conn("127.0.0.4"); s.sendall(b"EHLO early.test\r\n"); recv(s); s.close()
# HANGUP: leave during the greet wait
s = conn("127.0.0.5"); time.sleep(0.5); s.close()
time.sleep(0.5)
# clean client: passes the greet test, then deep protocol tests (NEW), reconnect -> PASS OLD
for _ in range(2):
    s = conn("127.0.0.2"); greeting(s); smtp(s, [b"EHLO good.test\r\n", b"MAIL FROM:<a@sink.test>\r\n", b"RCPT TO:<bob8@sink.test>\r\n", b"QUIT\r\n"]); s.close()
    time.sleep(0.5)
# COMMAND PIPELINING
s = conn("127.0.0.6"); greeting(s); s.sendall(b"EHLO pipe.test\r\nMAIL FROM:<a@sink.test>\r\n"); recv(s, 3); s.close()
# BARE NEWLINE
s = conn("127.0.0.7"); greeting(s); s.sendall(b"EHLO bare.test\n"); recv(s, 3); s.close()
# NON-SMTP COMMAND
s = conn("127.0.0.8"); greeting(s); s.sendall(b"GET / HTTP/1.0\r\n"); recv(s, 3); s.close()
EOF
settle

# 5. postsuper: hold, release, requeue, delete, force-expire; then a natural expiry
d1=$(qid_of deferred dave1@example.com)
d2=$(qid_of deferred dave2@example.com)
h1=$(qid_of hold h@hold.test)
postsuper -c "$CONF" -h "$d1" 2>/dev/null
postsuper -c "$CONF" -H "$d1" 2>/dev/null
postsuper -c "$CONF" -r "$d1" 2>/dev/null
settle
postsuper -c "$CONF" -d "$h1" 2>/dev/null
postsuper -c "$CONF" -e "$d2" 2>/dev/null
postqueue -c "$CONF" -i "$d2"
settle
pc -e 'maximal_queue_lifetime = 1s' 'bounce_queue_lifetime = 1s'
postfix -c "$CONF" reload 2>/dev/null
sleep 2
postqueue -c "$CONF" -f
settle
sleep 1

mkdir -p "$OUT"
cp "$LOG" "$OUT/postfix-3.7.log"
cat >"$OUT/postfix-3.7.expected.json" <<EOF
{
  "_comment": "What scripts/capture-postfix-maillog.sh sent; tests/log_golden.rs explains each metric from these.",
  "sendmail_to_sink": 3,
  "sendmail_to_sinkout_transport": 1,
  "sendmail_to_rejecting_sink": 2,
  "sendmail_local_root": 1,
  "sendmail_local_unknown_user": 1,
  "sendmail_to_closed_relayhost": 2,
  "sendmail_via_tls_to_submission_redirected": 1,
  "swaks_sessions": 10,
  "swaks_accepted_to_sink": 3,
  "swaks_tls_sessions": 1,
  "swaks_header_checks_rejects": 1,
  "swaks_rcpt_rejects": {"relay_denied_454": 1, "unknown_user_550": 1, "access_reject_554": 1, "helo_501": 1},
  "swaks_reject_warning": 1,
  "swaks_hold": 1,
  "swaks_discard": 1,
  "smtpd_lost_connection_after_ehlo": 1,
  "smtpd_timeout_after_ehlo": 1,
  "smtpd_too_many_errors": 1,
  "postscreen_connections": 9,
  "postscreen_pass_old_handed_to_smtpd_relay_denied_454": 1,
  "postsuper": {"hold": 1, "release": 1, "requeue": 1, "delete": 1, "force_expire": 1},
  "natural_expiry_of_deferred": 1
}
EOF
echo "saved $OUT/postfix-3.7.log ($(wc -l <"$OUT/postfix-3.7.log") lines)"
