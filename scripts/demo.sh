#!/usr/bin/env bash
# The demo stack on 127.0.0.1: a Postfix instance with mail flowing (delivered to an
# smtp-sink, bounced by a rejecting smtp-sink, deferred on a closed relayhost, rejected at
# RCPT), postfix-exporter reading its queue (showq over TCP) and log, VictoriaMetrics, vmagent
# scraping the exporter, and vmalert with alerts/*.yml. Runs until Ctrl-C, or for
# DEMO_DURATION seconds; stops everything it started by PID. State lives in .demo/.
#
# Environment: DEMO_DURATION (seconds; default: until Ctrl-C), DEMO_PROFILE (release|debug,
# default release), DEMO_EXPORTER_BIN (run this exporter binary instead of building one),
# DEMO_TRAFFIC_INTERVAL (seconds between rounds of mail, default 2),
# EXPORTER_EXTRA_ARGS (appended to the exporter's flags), and the ports below.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/postfix-instance.sh
source "$ROOT/scripts/lib/postfix-instance.sh"

EXPORTER_PORT="${EXPORTER_PORT:-9154}"
VM_PORT="${VM_PORT:-8428}"
VMAGENT_PORT="${VMAGENT_PORT:-8429}"
VMALERT_PORT="${VMALERT_PORT:-8880}"
ALERTSINK_PORT="${ALERTSINK_PORT:-9093}"
SMTP_PORT="${SMTP_PORT:-2525}"
SHOWQ_PORT="${SHOWQ_PORT:-10025}"
SINK_PORT="${SINK_PORT:-2526}"
BOUNCE_PORT="${BOUNCE_PORT:-2527}"
DEMO_PROFILE="${DEMO_PROFILE:-release}"
DEMO_TRAFFIC_INTERVAL="${DEMO_TRAFFIC_INTERVAL:-2}"

DEMO="$ROOT/.demo"
PF="$DEMO/postfix"
LOGS="$DEMO/logs"
MAILLOG="$PF/maillog"

log() { printf '[demo] %s\n' "$*" >&2; }

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
for p in EXPORTER_PORT VM_PORT VMAGENT_PORT VMALERT_PORT ALERTSINK_PORT SMTP_PORT SHOWQ_PORT SINK_PORT BOUNCE_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/${!p}") 2>/dev/null; then
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

rm -rf "$DEMO"
mkdir -p "$DEMO" "$LOGS"
echo $$ >"$DEMO/demo.pid"

PIDS=()
NAMES=()
POSTFIX_STARTED=""
cleanup() {
  trap - EXIT INT TERM
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
  log "stopped; logs are in $LOGS"
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

log "starting smtp-sinks and Postfix"
start smtp-sink /usr/sbin/smtp-sink -u postfix "127.0.0.1:$SINK_PORT" 100
start smtp-sink-reject /usr/sbin/smtp-sink -u postfix -f rcpt "127.0.0.1:$BOUNCE_PORT" 100
postfix_instance_create "$PF" "$SMTP_PORT" "$SHOWQ_PORT" \
  "$(printf 'sink.test smtp:[127.0.0.1]:%s\nbounce.test smtp:[127.0.0.1]:%s' "$SINK_PORT" "$BOUNCE_PORT")"
POSTFIX_STARTED=1
postfix_instance_start "$PF"

log "starting postfix-exporter"
mapfile -t EXPORTER_ARGS < <(exporter_args)
log "postfix-exporter ${EXPORTER_ARGS[*]}"
start postfix-exporter "$BIN" "${EXPORTER_ARGS[@]}"
wait_http postfix-exporter "http://127.0.0.1:$EXPORTER_PORT/-/healthy"

log "starting VictoriaMetrics, vmagent"
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
YAML
start vmagent vmagent -promscrape.config="$DEMO/scrape.yml" \
  -remoteWrite.url="http://127.0.0.1:$VM_PORT/api/v1/write" \
  -remoteWrite.tmpDataPath="$DEMO/vmagent" -httpListenAddr="127.0.0.1:$VMAGENT_PORT"
wait_http vmagent "http://127.0.0.1:$VMAGENT_PORT/health"

VMALERT_URL=""
if compgen -G "$ROOT/alerts/*.yml" >/dev/null; then
  log "starting vmalert with alerts/*.yml"
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
  start vmalert vmalert -rule="$ROOT/alerts/*.yml" \
    -datasource.url="http://127.0.0.1:$VM_PORT" -remoteWrite.url="http://127.0.0.1:$VM_PORT" \
    -remoteRead.url="http://127.0.0.1:$VM_PORT" -notifier.url="http://127.0.0.1:$ALERTSINK_PORT" \
    -httpListenAddr="127.0.0.1:$VMALERT_PORT" -evaluationInterval=5s \
    -external.url="http://127.0.0.1:$VMALERT_PORT"
  wait_http vmalert "http://127.0.0.1:$VMALERT_PORT/health"
  VMALERT_URL="http://127.0.0.1:$VMALERT_PORT/api/v1/alerts"
else
  log "no alerts/*.yml yet: vmalert not started"
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
    if [ $((n % 3)) -eq 0 ]; then
      sendmail -C "$PF/etc" -f "alice@mx.test.local" "dave$n@example.com" <<<"$body" || true
      swaks --silent 2 --server "127.0.0.1:$SMTP_PORT" --from "frank@sink.test" \
        --to "root@mx.test.local" --body "round $n" >/dev/null 2>&1 || true
    fi
    sleep "$DEMO_TRAFFIC_INTERVAL"
  done
}
start traffic traffic

cat <<MSG

Demo running (state and logs in .demo/):
  exporter metrics   http://127.0.0.1:$EXPORTER_PORT/metrics
  exporter landing   http://127.0.0.1:$EXPORTER_PORT/
  VictoriaMetrics    http://127.0.0.1:$VM_PORT/api/v1/query?query=postfix_exporter_build_info  (Debian's package has no vmui)
  vmagent targets    http://127.0.0.1:$VMAGENT_PORT/targets
  vmalert alerts     ${VMALERT_URL:-(not started)}
  Postfix            smtpd 127.0.0.1:$SMTP_PORT, showq 127.0.0.1:$SHOWQ_PORT, config $PF/etc,
                     log $MAILLOG  (try: postqueue -c $PF/etc -p)
Stop with Ctrl-C${DEMO_DURATION:+ (or wait ${DEMO_DURATION}s)}.

MSG

deadline=""
if [ -n "${DEMO_DURATION:-}" ]; then deadline=$((SECONDS + DEMO_DURATION)); fi
while true; do
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      log "${NAMES[$i]} exited; its log:"
      tail -n 20 "$LOGS/${NAMES[$i]}.log" >&2 || true
      exit 1
    fi
  done
  if [ -n "$deadline" ] && [ "$SECONDS" -ge "$deadline" ]; then
    log "DEMO_DURATION reached"
    for q in 'up{job="postfix"}' 'postfix_queue_messages{queue="deferred"}'; do
      log "VictoriaMetrics: $q = $(curl -fsS "http://127.0.0.1:$VM_PORT/api/v1/query" \
        --data-urlencode "query=$q" | sed -n 's/.*"value":\[[^,]*,"\([^"]*\)".*/\1/p')"
    done
    exit 0
  fi
  sleep 1
done
