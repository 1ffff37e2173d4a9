#!/usr/bin/env bash
# The demo stack on 127.0.0.1: a Postfix instance with mail flowing (delivered to an
# smtp-sink, bounced by a rejecting smtp-sink, deferred on a closed relayhost, rejected at
# RCPT, delivered over LMTP to Dovecot), postfix-exporter reading its queue (showq over TCP)
# and log, a Dovecot (IMAP, POP3, LMTP, the recommended metrics) with IMAP/POP3/LMTP clients
# logging in and failing, dovecot-exporter reading its stats-reader over TCP, anvil, service
# status, process titles and log, a ProFTPd with ftplib clients uploading, downloading and
# failing to log in, proftpd-exporter reading its logs and scoreboard, mailprobe-exporter
# probing SMTP, IMAP, POP3, FTP and HTTP of those daemons (driven by vmagent the blackbox
# way) and running a delivery route Postfix -> LMTP -> IMAP, VictoriaMetrics,
# vmagent scraping the exporters, and vmalert with alerts/*.yml. Runs until Ctrl-C, or for
# DEMO_DURATION seconds; stops everything it started by PID. State lives in .demo/.
#
# usage: scripts/demo.sh [--check [SECONDS]]
#   --check  run for SECONDS (default 60, or DEMO_DURATION) of traffic, then verify that data of
#            every exporter reached VictoriaMetrics and vmalert evaluates every rule; exit 0 when
#            it did, 1 otherwise (what the tests run). Either way everything is stopped after.
#
# Environment: DEMO_DURATION (seconds; default: until Ctrl-C), DEMO_PROFILE (release|debug,
# default release), DEMO_EXPORTER_BIN (run this exporter binary instead of building one),
# DEMO_TRAFFIC_INTERVAL (seconds between rounds of mail, default 2), DEMO_RULES (the rule
# files vmalert loads, default alerts/*.yml),
# EXPORTER_EXTRA_ARGS (appended to the exporter's flags), and the ports below.
set -euo pipefail

CHECK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --check)
      CHECK=1
      if [[ "${2:-}" =~ ^[0-9]+$ ]]; then DEMO_DURATION="$2"; shift; fi
      shift
      ;;
    -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$CHECK" ]; then DEMO_DURATION="${DEMO_DURATION:-60}"; fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/postfix-instance.sh
source "$ROOT/scripts/lib/postfix-instance.sh"

EXPORTER_PORT="${EXPORTER_PORT:-9154}"
DOVECOT_EXPORTER_PORT="${DOVECOT_EXPORTER_PORT:-9166}"
IMAP_PORT="${IMAP_PORT:-10143}"
POP3_PORT="${POP3_PORT:-10110}"
LMTP_PORT="${LMTP_PORT:-10024}"
STATS_PORT="${STATS_PORT:-9901}"
PROFTPD_EXPORTER_PORT="${PROFTPD_EXPORTER_PORT:-9162}"
MAILPROBE_PORT="${MAILPROBE_PORT:-9126}"
FTP_PORT="${FTP_PORT:-2121}"
FTP_PASSIVE_LOW="${FTP_PASSIVE_LOW:-30000}"
VM_PORT="${VM_PORT:-8428}"
VMAGENT_PORT="${VMAGENT_PORT:-8429}"
VMALERT_PORT="${VMALERT_PORT:-8880}"
ALERTSINK_PORT="${ALERTSINK_PORT:-9093}"
SMTP_PORT="${SMTP_PORT:-2525}"
SHOWQ_PORT="${SHOWQ_PORT:-10025}"
POSTSCREEN_PORT="${POSTSCREEN_PORT:-2528}"
KUBE_METRICS_PORT="${KUBE_METRICS_PORT:-9899}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
SINK_PORT="${SINK_PORT:-2526}"
BOUNCE_PORT="${BOUNCE_PORT:-2527}"
DEMO_PROFILE="${DEMO_PROFILE:-release}"
DEMO_TRAFFIC_INTERVAL="${DEMO_TRAFFIC_INTERVAL:-2}"

DEMO="$ROOT/.demo"
PF="$DEMO/postfix"
DC="$DEMO/dovecot"
FT="$DEMO/proftpd"
LOGS="$DEMO/logs"
MAILLOG="$PF/maillog"

log() { printf '[demo] %s\n' "$*" >&2; }
# listening PORT: something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# step MESSAGE: a numbered start-up step; the total is the number of step lines in this file.
STEP=0
STEPS=$(grep -c '^ *step "' "${BASH_SOURCE[0]}")
step() {
  STEP=$((STEP + 1))
  printf '[demo] (%d/%d) %s\n' "$STEP" "$STEPS" "$*" >&2
}

# dovecot-exporter's flags, in one place.
dovecot_exporter_args() {
  printf '%s\n' \
    "--web.listen-address=127.0.0.1:$DOVECOT_EXPORTER_PORT" \
    "--dovecot.stats-reader.address=127.0.0.1:$STATS_PORT" \
    "--dovecot.config=$DC/dovecot.conf" \
    "--dovecot.anvil.address=$DC/run/anvil" \
    "--collector.log.source=$DC/dovecot.log" \
    "--collector.service" \
    "--collector.service.command=doveadm -c $DC/dovecot.conf service status" \
    "--collector.proctitle" \
    "--dovecot.instance-name=demo" \
    "--process.watch=dovecot-master=pidfile:$DC/run/master.pid" \
    "--log.level=info"
}

# The exporter's flags, in one place.
exporter_args() {
  printf '%s\n' \
    "--web.listen-address=127.0.0.1:$EXPORTER_PORT" \
    "--postfix.showq_network=tcp" \
    "--postfix.showq_address=127.0.0.1:$SHOWQ_PORT" \
    "--collector.queue.interval=5s" \
    "--postfix.logfile_path=$MAILLOG" \
    "--process.watch=postfix-master=^master$" \
    "--process.watch=postfix-qmgr=^qmgr$" \
    "--log.level=info"
  if [ -n "${EXPORTER_EXTRA_ARGS:-}" ]; then
    # shellcheck disable=SC2086
    printf '%s\n' $EXPORTER_EXTRA_ARGS
  fi
}

./scripts/install-deps.sh

if [ -f "$DEMO/demo.pid" ] && kill -0 "$(cat "$DEMO/demo.pid")" 2>/dev/null; then
  log "a demo is already running (pid $(cat "$DEMO/demo.pid")); stop it first"
  exit 1
fi
PORT_VARS=(EXPORTER_PORT DOVECOT_EXPORTER_PORT IMAP_PORT POP3_PORT LMTP_PORT STATS_PORT PROFTPD_EXPORTER_PORT
  MAILPROBE_PORT FTP_PORT VM_PORT VMAGENT_PORT VMALERT_PORT ALERTSINK_PORT SMTP_PORT SHOWQ_PORT POSTSCREEN_PORT
  KUBE_METRICS_PORT PROMETHEUS_PORT SINK_PORT BOUNCE_PORT)
for p in "${PORT_VARS[@]}"; do
  if listening "${!p}"; then
    log "port ${!p} is in use; choose another with $p=..."
    exit 1
  fi
done

if [ -n "${DEMO_EXPORTER_BIN:-}" ]; then
  BIN="$DEMO_EXPORTER_BIN"
else
  log "building the exporters ($DEMO_PROFILE)"
  if [ "$DEMO_PROFILE" = release ]; then
    cargo build --release --bins
  else
    cargo build --bins
  fi
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$DEMO_PROFILE/postfix-exporter"
fi
DOVECOT_BIN="${DEMO_DOVECOT_EXPORTER_BIN:-$(dirname "$BIN")/dovecot-exporter}"
PROFTPD_BIN="${DEMO_PROFTPD_EXPORTER_BIN:-$(dirname "$BIN")/proftpd-exporter}"
MAILPROBE_BIN="${DEMO_MAILPROBE_EXPORTER_BIN:-$(dirname "$BIN")/mailprobe-exporter}"

rm -rf "$DEMO"
mkdir -p "$DEMO" "$LOGS"
echo $$ >"$DEMO/demo.pid"

PIDS=()
NAMES=()
POSTFIX_STARTED=""
cleanup() {
  # A second Ctrl-C (or the TERM of a caller that gave up waiting) must not cut the
  # stopping short: that is how a Postfix master outlived its demo.
  trap - EXIT
  trap '' INT TERM
  log "stopping"
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[$i]}" 2>/dev/null || true
  done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    local n
    for n in $(seq 1 50); do
      kill -0 "${PIDS[$i]}" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "${PIDS[$i]}" 2>/dev/null; then
      log "killing ${NAMES[$i]} (pid ${PIDS[$i]})"
      kill -KILL "${PIDS[$i]}" 2>/dev/null || true
    fi
  done
  if [ -n "$POSTFIX_STARTED" ]; then postfix_instance_stop "$PF"; fi
  rm -f "$DEMO/demo.pid"
  local p left=()
  for p in "${PORT_VARS[@]}"; do
    if listening "${!p}"; then left+=("${!p}"); fi
  done
  if [ "${#left[@]}" -gt 0 ]; then
    log "still listening after the stop: 127.0.0.1 ports ${left[*]}"
    exit 1
  fi
  log "stopped, nothing left listening; logs are in $LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CMD...: runs CMD in the background with its output in .demo/logs/NAME.log.
start() {
  local name="$1"; shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  PIDS+=("$!")
  NAMES+=("$name")
}

# wait_http NAME URL: waits up to 30 s for a 200.
wait_http() {
  local name="$1" url="$2" i
  for i in $(seq 1 300); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "$name did not answer $url; its log:"
  tail -n 20 "$LOGS/$name.log" >&2 || true
  exit 1
}

step "starting smtp-sinks and Postfix"
start smtp-sink /usr/sbin/smtp-sink -u postfix "127.0.0.1:$SINK_PORT" 100
start smtp-sink-reject /usr/sbin/smtp-sink -u postfix -f rcpt "127.0.0.1:$BOUNCE_PORT" 100
postfix_instance_create "$PF" "$SMTP_PORT" "$SHOWQ_PORT" \
  "$(printf 'sink.test smtp:[127.0.0.1]:%s\nbounce.test smtp:[127.0.0.1]:%s\nmbox.test lmtp:inet:127.0.0.1:%s' "$SINK_PORT" "$BOUNCE_PORT" "$LMTP_PORT")"
# STARTTLS with a throw-away certificate (probed with insecure_skip_verify), and postscreen
# on a port of its own in front of smtpd, with its greeting test enforced and loopback not
# exempt, so the demo shows TLS and postscreen figures.
mkdir -p "$PF/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj "/CN=mx.test.local" \
  -keyout "$PF/tls/key.pem" -out "$PF/tls/cert.pem" >/dev/null 2>&1
chown -R postfix:postfix "$PF/tls"
postconf -c "$PF/etc" -e "smtpd_tls_cert_file = $PF/tls/cert.pem" \
  "smtpd_tls_key_file = $PF/tls/key.pem" "smtpd_tls_security_level = may" "smtpd_tls_loglevel = 1" \
  "postscreen_access_list =" "postscreen_greet_action = enforce" "postscreen_greet_wait = 2s" \
  "postscreen_dnsbl_sites ="
postconf -c "$PF/etc" -Me "127.0.0.1:$POSTSCREEN_PORT/inet = 127.0.0.1:$POSTSCREEN_PORT inet n - n - 1 postscreen"
postconf -c "$PF/etc" -Me "smtpd/pass = smtpd pass - - n - - smtpd"
POSTFIX_STARTED=1
postfix_instance_start "$PF"

step "starting postfix-exporter"
mapfile -t EXPORTER_ARGS < <(exporter_args)
log "postfix-exporter ${EXPORTER_ARGS[*]}"
start postfix-exporter "$BIN" "${EXPORTER_ARGS[@]}"
wait_http postfix-exporter "http://127.0.0.1:$EXPORTER_PORT/-/healthy"

step "starting Dovecot (IMAP $IMAP_PORT, POP3 $POP3_PORT, LMTP $LMTP_PORT, stats-reader $STATS_PORT)"
mkdir -p "$DC/run" "$DC/state" "$DC/mail"
chmod 1777 "$DC/mail"
# The users the traffic logs in as; carol has a 1 kB quota, dave may not log in.
cat >"$DC/users" <<USERS
alice@mbox.test:{PLAIN}alice-pw::::::
bob@mbox.test:{PLAIN}bob-pw::::::
carol@mbox.test:{PLAIN}carol-pw::::::userdb_quota_rule=*:storage=1k
dave@mbox.test:{PLAIN}dave-pw::::::nologin
USERS
cat >"$DC/dovecot.conf" <<CONF
instance_name = demo
base_dir = $DC/run
state_dir = $DC/state
log_path = $DC/dovecot.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
verbose_proctitle = yes
mail_location = maildir:~/Maildir
first_valid_uid = 1
mail_plugins = \$mail_plugins quota
plugin {
  quota = maildir:User quota
}
passdb {
  driver = passwd-file
  args = $DC/users
}
userdb {
  driver = passwd-file
  args = $DC/users
  default_fields = uid=mail gid=mail home=$DC/mail/%u
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    port = $LMTP_PORT
  }
}
service stats {
  inet_listener stats-reader {
    address = 127.0.0.1
    port = $STATS_PORT
  }
}
!include $ROOT/exporters/dovecot/conf/metrics.conf
CONF
start dovecot dovecot -F -c "$DC/dovecot.conf"
for _ in $(seq 1 100); do
  if listening "$STATS_PORT"; then break; fi
  sleep 0.1
done

step "starting dovecot-exporter"
mapfile -t DOVECOT_EXPORTER_ARGS < <(dovecot_exporter_args)
log "dovecot-exporter ${DOVECOT_EXPORTER_ARGS[*]}"
start dovecot-exporter "$DOVECOT_BIN" "${DOVECOT_EXPORTER_ARGS[@]}"
wait_http dovecot-exporter "http://127.0.0.1:$DOVECOT_EXPORTER_PORT/-/healthy"

step "starting ProFTPd (FTP $FTP_PORT, passive $FTP_PASSIVE_LOW+)"
mkdir -p "$FT/home/alice" "$FT/home/bob"
# ProFTPd reads the config and the homes as the session user and refuses world-writable
# log directories.
chmod 755 "$DEMO" "$FT"
chown 65534:65534 "$FT/home/alice" "$FT/home/bob"
{
  for u in alice bob; do
    printf '%s:%s:65534:65534::%s:/bin/false\n' "$u" "$(openssl passwd -6 "$u-ftp")" "$FT/home/$u"
  done
} >"$FT/ftpd.passwd"
chmod 600 "$FT/ftpd.passwd"
cat >"$FT/proftpd.conf" <<CONF
ServerName            "demo"
ServerType            standalone
DefaultServer         on
Port                  $FTP_PORT
DefaultAddress        127.0.0.1
SocketBindTight       on
UseIPv6               off
UseReverseDNS         off
User                  nobody
Group                 nogroup
PidFile               $FT/proftpd.pid
ScoreboardFile        $FT/proftpd.scoreboard
WtmpLog               off
RequireValidShell     off
AuthOrder             mod_auth_file.c
AuthUserFile          $FT/ftpd.passwd
DefaultRoot           ~
PassivePorts          $FTP_PASSIVE_LOW $((FTP_PASSIVE_LOW + 19))
AllowOverwrite        on
DelayEngine           off
SyslogLevel           info
SystemLog             $FT/proftpd.log
TransferLog           $FT/xferlog
LogFormat metrics "%{epoch} %{protocol} %m %s %{transfer-status} %b %{transfer-millisecs} %R %a %u %E"
ExtendedLog $FT/metrics.log ALL,EXIT metrics
CONF
start proftpd proftpd -n -q -c "$FT/proftpd.conf"
for _ in $(seq 1 100); do
  if listening "$FTP_PORT"; then break; fi
  sleep 0.1
done

step "starting proftpd-exporter"
start proftpd-exporter "$PROFTPD_BIN" "--web.listen-address=127.0.0.1:$PROFTPD_EXPORTER_PORT" \
  "--proftpd.transferlog=$FT/xferlog" "--proftpd.systemlog=$FT/proftpd.log" \
  "--proftpd.config=$FT/proftpd.conf" "--proftpd.scoreboard=$FT/proftpd.scoreboard" \
  "--log.level=info"
wait_http proftpd-exporter "http://127.0.0.1:$PROFTPD_EXPORTER_PORT/-/healthy"

step "starting mailprobe-exporter"
# Transaction probes of the demo's own daemons, and a delivery route through Postfix and
# LMTP into alice's mailbox, found by IMAP. Passwords come from files, as in a pod.
mkdir -p "$DEMO/secrets"
printf 'alice-pw\n' >"$DEMO/secrets/alice"
printf 'bob-pw\n' >"$DEMO/secrets/bob"
printf 'alice-ftp\n' >"$DEMO/secrets/alice-ftp"
printf 'wrong-pw\n' >"$DEMO/secrets/wrong"
cat >"$DEMO/mailprobe.yml" <<YAML
modules:
  smtp_banner:
    prober: smtp
    smtp: { ehlo: probe.mx.test.local }
  smtp_starttls:
    prober: smtp
    smtp: { tls: starttls, ehlo: probe.mx.test.local, tls_config: { insecure_skip_verify: true } }
  smtp_unknown_user_rejected:
    prober: smtp
    smtp: { mail_from: probe@mx.test.local, rcpt_to: [nosuchuser@mx.test.local], expect_rcpt_code: 550 }
  imap_login:
    prober: imap
    imap: { auth: { username: alice@mbox.test, password_file: secrets/alice }, mailbox: INBOX }
  imap_wrong_password:
    prober: imap
    imap: { auth: { username: alice@mbox.test, password_file: secrets/wrong } }
  pop3_login:
    prober: pop3
    pop3: { auth: { username: bob@mbox.test, password_file: secrets/bob } }
  ftp_pasv:
    prober: ftp
    ftp: { auth: { username: alice, password_file: secrets/alice-ftp }, data: pasv, list: "/" }
  http_exporter:
    prober: http
    http: { path: /-/healthy, fail_if_body_not_matches_regexp: ["Healthy"] }
  to_alice:
    prober: smtp
    smtp: { mail_from: probe@mx.test.local, rcpt_to: [alice@mbox.test] }
  e2e_alice:
    prober: delivery
    timeout: 20s
    delivery: { send: to_alice, receive: { imap: { module: imap_login, target: "127.0.0.1:$IMAP_PORT" } }, poll_interval: 1s }
routes:
  - { name: postfix_lmtp_imap, module: e2e_alice, target: "127.0.0.1:$SMTP_PORT", interval: 30s, lost_after: 2m }
YAML
start mailprobe-exporter "$MAILPROBE_BIN" "--web.listen-address=127.0.0.1:$MAILPROBE_PORT" \
  "--config.file=$DEMO/mailprobe.yml" "--log.level=info"
wait_http mailprobe-exporter "http://127.0.0.1:$MAILPROBE_PORT/-/healthy"

# probe_job NAME MODULE TARGET...: a vmagent job driving /probe the blackbox way.
probe_job() {
  local name=$1 module=$2; shift 2
  local targets
  targets=$(printf '"%s",' "$@")
  cat <<JOB
  - job_name: $name
    metrics_path: /probe
    params: { module: [$module] }
    static_configs: [{ targets: [${targets%,}] }]
    relabel_configs:
      - { source_labels: [__address__], target_label: __param_target }
      - { source_labels: [__param_target], target_label: instance }
      - { source_labels: [__param_module], target_label: module }
      - { target_label: __address__, replacement: "127.0.0.1:$MAILPROBE_PORT" }
JOB
}

# There is no Kubernetes here: a stand-in serves the kube-state-metrics and cAdvisor series
# of the pods the exporters' targets are labelled with, so the pod-health panels and alerts
# have their inputs (docs/development.md).
start kube-metrics "$ROOT/.venv/bin/python" "$ROOT/scripts/lib/kube-metrics.py" "$KUBE_METRICS_PORT"
wait_http kube-metrics "http://127.0.0.1:$KUBE_METRICS_PORT/metrics"

step "starting VictoriaMetrics, vmagent"
start victoria-metrics victoria-metrics -storageDataPath="$DEMO/vmdata" \
  -httpListenAddr="127.0.0.1:$VM_PORT" -retentionPeriod=1d -search.latencyOffset=0s
wait_http victoria-metrics "http://127.0.0.1:$VM_PORT/health"
cat >"$DEMO/scrape.yml" <<YAML
global:
  scrape_interval: 5s
  scrape_timeout: 5s
scrape_configs:
  - job_name: postfix
    static_configs:
      - targets: ["127.0.0.1:$EXPORTER_PORT"]
        labels: { namespace: mail, pod: postfix-0, container: postfix-exporter }
  - job_name: dovecot
    static_configs:
      - targets: ["127.0.0.1:$DOVECOT_EXPORTER_PORT"]
        labels: { namespace: mail, pod: dovecot-0, container: dovecot-exporter }
  - job_name: proftpd
    static_configs:
      - targets: ["127.0.0.1:$PROFTPD_EXPORTER_PORT"]
        labels: { namespace: mail, pod: proftpd-0, container: proftpd-exporter }
  - job_name: mailprobe
    static_configs:
      - targets: ["127.0.0.1:$MAILPROBE_PORT"]
        labels: { namespace: mail, pod: mailprobe-6f7c9d8b7-x2kqp, container: mailprobe-exporter }
  - job_name: kube-state-metrics-and-cadvisor
    static_configs:
      - targets: ["127.0.0.1:$KUBE_METRICS_PORT"]
$(probe_job probe_smtp smtp_banner "127.0.0.1:$SMTP_PORT")
$(probe_job probe_smtp_starttls smtp_starttls "127.0.0.1:$SMTP_PORT")
$(probe_job probe_smtp_unknown_user smtp_unknown_user_rejected "127.0.0.1:$SMTP_PORT")
$(probe_job probe_imap imap_login "127.0.0.1:$IMAP_PORT")
$(probe_job probe_imap_wrong imap_wrong_password "127.0.0.1:$IMAP_PORT")
$(probe_job probe_pop3 pop3_login "127.0.0.1:$POP3_PORT")
$(probe_job probe_ftp ftp_pasv "127.0.0.1:$FTP_PORT")
$(probe_job probe_http http_exporter "127.0.0.1:$EXPORTER_PORT" "127.0.0.1:$DOVECOT_EXPORTER_PORT" "127.0.0.1:$PROFTPD_EXPORTER_PORT")
YAML
start vmagent vmagent -promscrape.config="$DEMO/scrape.yml" \
  -remoteWrite.url="http://127.0.0.1:$VM_PORT/api/v1/write" \
  -remoteWrite.tmpDataPath="$DEMO/vmagent" -httpListenAddr="127.0.0.1:$VMAGENT_PORT"
wait_http vmagent "http://127.0.0.1:$VMAGENT_PORT/health"

# Prometheus beside vmagent, scraping the same targets: its classic UI draws the dashboards'
# panels on the console pages generated into dashboards/consoles (Grafana is not packaged).
step "starting Prometheus (the graph pages)"
mkdir -p "$DEMO/prometheus"
start prometheus prometheus --config.file="$DEMO/scrape.yml" \
  --storage.tsdb.path="$DEMO/prometheus" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
  --web.console.templates="$ROOT/dashboards/consoles" \
  --web.console.libraries="$ROOT/dashboards/console_libraries"
wait_http prometheus "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"

VMALERT_URL=""
RULES="${DEMO_RULES:-$ROOT/alerts/*.yml}"
step "starting vmalert"
if compgen -G "$RULES" >/dev/null; then
  log "vmalert rules: $RULES"
  # vmalert 1.79 has no -notifier.blackhole: a tiny sink stands in for Alertmanager.
  start alert-sink "$ROOT/.venv/bin/python" -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); body = self.rfile.read(n)
        print(self.path, body.decode(errors="replace"), flush=True)
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$ALERTSINK_PORT"
  start vmalert vmalert -rule="$RULES" \
    -datasource.url="http://127.0.0.1:$VM_PORT" -remoteWrite.url="http://127.0.0.1:$VM_PORT" \
    -remoteRead.url="http://127.0.0.1:$VM_PORT" -notifier.url="http://127.0.0.1:$ALERTSINK_PORT" \
    -httpListenAddr="127.0.0.1:$VMALERT_PORT" -evaluationInterval=5s \
    -external.url="http://127.0.0.1:$VMALERT_PORT"
  wait_http vmalert "http://127.0.0.1:$VMALERT_PORT/health"
  VMALERT_URL="http://127.0.0.1:$VMALERT_PORT/api/v1/alerts"
else
  log "no rule files match $RULES: vmalert not started"
fi

# Traffic: every round one delivered, one bounced and one rejected at RCPT; every third
# round one deferred (the closed relayhost) and one local delivery over SMTP.
traffic() {
  local n=0 body
  while true; do
    n=$((n + 1))
    body="$(printf 'Subject: demo %s\n\nround %s\n' "$n" "$n")"
    sendmail -C "$PF/etc" -f "alice@mx.test.local" "bob@sink.test" <<<"$body" || true
    sendmail -C "$PF/etc" -f "alice@mx.test.local" "carol@bounce.test" <<<"$body" || true
    swaks --silent 2 --server "127.0.0.1:$SMTP_PORT" --from "eve@sink.test" \
      --to "nosuchuser@mx.test.local" --body "round $n" >/dev/null 2>&1 || true
    # Through Postfix into Dovecot over LMTP.
    sendmail -C "$PF/etc" -f "alice@mx.test.local" "bob@mbox.test" <<<"$body" || true
    if [ $((n % 3)) -eq 0 ]; then
      # Dovecot's clients: IMAP and POP3 logins that succeed and fail for each reason,
      # LMTP deliveries, an unknown recipient, a delivery over quota.
      "$ROOT/.venv/bin/python" "$ROOT/tests/python/dovecot_traffic.py" "$IMAP_PORT" "$POP3_PORT" "$LMTP_PORT" \
        '{"ok": ["alice@mbox.test", "alice-pw"], "pop": ["bob@mbox.test", "bob-pw"], "quota_user": "carol@mbox.test", "disabled": ["dave@mbox.test", "dave-pw"], "unknown": "nobody@mbox.test"}' \
        >/dev/null 2>&1 || true
      # FTP: uploads, downloads, an aborted download, a delete, failed logins.
      "$ROOT/.venv/bin/python" "$ROOT/tests/python/ftp_traffic.py" "$FTP_PORT" \
        '{"alice": "alice-ftp", "bob": "bob-ftp"}' >/dev/null 2>&1 || true
      sendmail -C "$PF/etc" -f "alice@mx.test.local" "dave$n@example.com" <<<"$body" || true
      swaks --silent 2 --server "127.0.0.1:$SMTP_PORT" --from "frank@sink.test" \
        --to "root@mx.test.local" --body "round $n" >/dev/null 2>&1 || true
      # smtpd: a client that hangs up after EHLO, one that talks TLS; postscreen: a client
      # that waits for the greeting (passes) and one that talks first (pregreet, rejected).
      "$ROOT/.venv/bin/python" - "$SMTP_PORT" "$POSTSCREEN_PORT" >/dev/null 2>&1 <<'PY' || true
import socket, sys
smtp, screen = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", smtp), timeout=10)
s.recv(512); s.sendall(b"EHLO lost.test\r\n"); s.recv(512); s.close()
s = socket.create_connection(("127.0.0.1", screen), timeout=10)
s.sendall(b"EHLO eager.test\r\n")
f = s.makefile("rb")
for cmd in [b"MAIL FROM:<x@eager.test>\r\n", b"RCPT TO:<bob@sink.test>\r\n", b"QUIT\r\n"]:
    s.sendall(cmd)
try:
    while f.readline():
        pass
except OSError:
    pass
PY
      swaks --silent 2 --tls --server "127.0.0.1:$SMTP_PORT" --from "alice@mx.test.local" \
        --to "bob@sink.test" --body "round $n over TLS" >/dev/null 2>&1 || true
      swaks --silent 2 --server "127.0.0.1:$POSTSCREEN_PORT" --quit-after EHLO >/dev/null 2>&1 || true
    fi
    sleep "$DEMO_TRAFFIC_INTERVAL"
  done
}
step "starting the traffic"
start traffic traffic

cat <<MSG

Demo running (state and logs in .demo/):
  exporter metrics   http://127.0.0.1:$EXPORTER_PORT/metrics
  exporter landing   http://127.0.0.1:$EXPORTER_PORT/
  dovecot-exporter   http://127.0.0.1:$DOVECOT_EXPORTER_PORT/metrics
  proftpd-exporter   http://127.0.0.1:$PROFTPD_EXPORTER_PORT/metrics
  mailprobe-exporter http://127.0.0.1:$MAILPROBE_PORT/metrics  (delivery route), modules in $DEMO/mailprobe.yml
                     try: curl 'http://127.0.0.1:$MAILPROBE_PORT/probe?module=imap_login&target=127.0.0.1:$IMAP_PORT&debug=true'
  VictoriaMetrics    http://127.0.0.1:$VM_PORT/api/v1/query?query=postfix_exporter_build_info  (Debian's package has no vmui)
                     try: curl -s http://127.0.0.1:$VM_PORT/api/v1/query --data-urlencode 'query=sum by (queue) (postfix_queue_messages)'
                          curl -s http://127.0.0.1:$VM_PORT/api/v1/query --data-urlencode 'query=sum by (status) (rate(postfix_deliveries_total[5m]))'
                          curl -s http://127.0.0.1:$VM_PORT/api/v1/query --data-urlencode 'query=sum by (protocol) (rate(dovecot_log_logins_total[5m]))'
                          curl -s http://127.0.0.1:$VM_PORT/api/v1/query --data-urlencode 'query=probe_success == 0'
  vmagent targets    http://127.0.0.1:$VMAGENT_PORT/targets
  vmalert alerts     ${VMALERT_URL:-(not started)}
  graph pages        http://127.0.0.1:$PROMETHEUS_PORT/consoles/index.html  (the dashboards' panels, drawn by Prometheus)
  Postfix            smtpd 127.0.0.1:$SMTP_PORT, showq 127.0.0.1:$SHOWQ_PORT, config $PF/etc,
                     log $MAILLOG  (try: postqueue -c $PF/etc -p)
  Dovecot            IMAP 127.0.0.1:$IMAP_PORT, POP3 $POP3_PORT, LMTP $LMTP_PORT, config $DC/dovecot.conf,
                     log $DC/dovecot.log  (try: doveadm -c $DC/dovecot.conf stats dump)
  ProFTPd            FTP 127.0.0.1:$FTP_PORT (alice/alice-ftp), logs in $FT  (try: ftpwho -f $FT/proftpd.scoreboard)
Stop with Ctrl-C${DEMO_DURATION:+ (or wait ${DEMO_DURATION}s)}.

MSG

# vm_value QUERY: the value of QUERY's first series in VictoriaMetrics (empty when none).
vm_value() {
  curl -fsS "http://127.0.0.1:$VM_PORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
    sed -n 's/.*"value":\[[^,]*,"\([^"]*\)".*/\1/p'
}

# check_data: every exporter's data reached VictoriaMetrics (through vmagent) and vmalert
# evaluates every rule without an error. Prints one line per check.
check_data() {
  local failed=0 line name query min v
  while IFS='|' read -r name query min; do
    [ -n "$name" ] || continue
    v=$(vm_value "$query")
    if [ -n "$v" ] && awk -v v="$v" -v m="$min" 'BEGIN { exit !(v + 0 >= m + 0) }'; then
      printf '[demo] check ok    %-18s %s = %s\n' "$name" "$query" "$v" >&2
    else
      printf '[demo] check FAIL  %-18s %s = %s (want >= %s)\n' "$name" "$query" "${v:-no data}" "$min" >&2
      failed=1
    fi
  done <<CHECKS
postfix-exporter|up{job="postfix"}|1
postfix-exporter|sum(postfix_queue_messages)|1
postfix-exporter|sum(postfix_deliveries_total)|1
postfix-exporter|sum(postfix_smtpd_connects_total)|1
dovecot-exporter|up{job="dovecot"}|1
dovecot-exporter|dovecot_up|1
dovecot-exporter|sum(dovecot_log_logins_total)|1
proftpd-exporter|up{job="proftpd"}|1
proftpd-exporter|proftpd_up|1
proftpd-exporter|sum(proftpd_transfers_total)|1
mailprobe-exporter|up{job="mailprobe"}|1
mailprobe-exporter|count(probe_success)|10
mailprobe-exporter|sum(probe_success)|8
mailprobe-exporter|max(mailprobe_delivery_success)|1
kube stand-in|count(kube_pod_container_status_ready)|1
CHECKS
  if [ -n "$VMALERT_URL" ]; then
    local rules
    rules=$(curl -fsS "http://127.0.0.1:$VMALERT_PORT/api/v1/rules" 2>/dev/null || true)
    if "$ROOT/.venv/bin/python" -c '
import json, sys
d = json.loads(sys.argv[1])
rules = [r for g in d["data"]["groups"] for r in g["rules"]]
bad = [r["name"] for r in rules if r.get("lastError")]
ok = rules and not bad
state = "ok   " if ok else "FAIL "
print(f"[demo] check {state} vmalert            {len(rules)} rules evaluated, errors: {bad or None}", file=sys.stderr)
sys.exit(0 if ok else 1)' "$rules"; then :; else failed=1; fi
  fi
  if [ "$failed" -eq 0 ]; then log "check passed"; else log "check FAILED"; fi
  return "$failed"
}

deadline=""
if [ -n "${DEMO_DURATION:-}" ]; then deadline=$((SECONDS + DEMO_DURATION)); fi
declare -A GONE=()
while true; do
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      case "${NAMES[$i]}" in
        dovecot | proftpd)
          # A mail daemon that stops (doveadm stop, a crash) is what the probes and
          # alerts are for: the demo keeps running to show them.
          if [ -z "${GONE[${NAMES[$i]}]:-}" ]; then
            GONE[${NAMES[$i]}]=1
            log "${NAMES[$i]} exited; the demo goes on without it (watch its probes and alerts)"
          fi
          ;;
        *)
          log "${NAMES[$i]} exited; its log:"
          tail -n 20 "$LOGS/${NAMES[$i]}.log" >&2 || true
          exit 1
          ;;
      esac
    fi
  done
  if [ -n "$deadline" ] && [ "$SECONDS" -ge "$deadline" ]; then
    log "DEMO_DURATION reached"
    if [ -n "$CHECK" ]; then
      if check_data; then exit 0; else exit 1; fi
    fi
    for q in 'up{job="postfix"}' 'postfix_queue_messages{queue="deferred"}' 'up{job="dovecot"}' \
      'dovecot_up' 'sum(dovecot_log_logins_total)' 'sum(dovecot_imap_command_total)' \
      'up{job="proftpd"}' 'proftpd_up' 'sum(proftpd_transfers_total)' 'sum(proftpd_commands_total)' \
      'up{job="mailprobe"}' 'sum(probe_success)' 'count(probe_success)' 'mailprobe_delivery_success' \
      'mailprobe_delivery_last_latency_seconds'; do
      log "VictoriaMetrics: $q = $(vm_value "$q")"
    done
    exit 0
  fi
  sleep 1
done
