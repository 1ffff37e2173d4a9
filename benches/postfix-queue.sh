#!/usr/bin/env bash
# Deep-queue benchmark of the Postfix queue collector.
#
#   benches/postfix-queue.sh [N]        # N deferred messages, default 100000 (try 2000 first)
#
# Builds a throwaway loopback-only Postfix instance under a temp dir (its own config, queue
# and data dirs; smtpd on a free 127.0.0.1 port; relayhost on a closed port and
# `defer_transports = smtp`, long backoff: every message lands in `deferred` and stays there),
# fills it with smtp-source (4 recipient domains, 40/30/20/10 %, so the qshape matrix has
# several rows), then measures side by side in one run, warm cache:
#   - RUNS interleaved rounds, each: one postfix-exporter start = one full collection (showq
#     walk + queue gauges + histograms + qshape matrix; postfix_queue_collection_duration_seconds,
#     start-to-/-/ready wall time, VmHWM), one start with the spool source kept running for
#     WARM more walks (the first walk reads every file, the later ones are incremental: their
#     postfix_queue_collection_duration_seconds, files read and reused, VmHWM after them),
#     then one raw showq read (the floor: the showq
#     daemon's own work), `postqueue -j`, `qshape deferred` and a scrape of kumina's
#     prometheus-postfix-exporter (it walks showq on every scrape). The targets are checked
#     on these rounds (median of per-round ratios), so machine noise hits all tools alike;
#   - hyperfine blocks: a scrape of the running exporter (serves its snapshot), the same peers,
#     and `postfix-exporter print --format showq` of the captured bytes (parse alone);
#   - /usr/bin/time -v peak RSS of qshape, postqueue -j and the parse alone; VmHWM of kumina.
# With COLD=1 it adds one cold-cache round (sync; echo 3 > /proc/sys/vm/drop_caches before
# each tool; this slows everything else on the machine for a moment).
#
# Environment: RUNS (interleaved rounds, 5), WARM (warm spool walks per round, 4), HF_RUNS
# (hyperfine runs, 5), RSS_RUNS (3),
# COLD (0), EXPORTER (a prebuilt postfix-exporter binary: no cargo build), OUT (a directory
# that keeps the raw results: hyperfine JSON, metrics, TSV).
# Needs root (apt, postfix, drop_caches). Only 127.0.0.1 is used. Everything it starts is
# stopped by PID and the temp dir (~4 KB per message) is removed on exit, whatever happens.
# Every wait has a deadline, so the script always ends by itself.
set -euo pipefail

N=${1:-100000}
RUNS=${RUNS:-5}
WARM=${WARM:-4}
HF_RUNS=${HF_RUNS:-5}
RSS_RUNS=${RSS_RUNS:-3}
COLD=${COLD:-0}
OUT=${OUT:-}
case "$N" in '' | *[!0-9]*) echo "usage: $0 [N]  (N: number of messages)" >&2; exit 2 ;; esac
[ "$N" -ge 4 ] || { echo "N must be at least 4" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "$0 needs root (postfix instance, apt, drop_caches)" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[postfix-queue %s] %s\n' "$(date +%T)" "$*" >&2; }

# ---------------------------------------------------------------------------------------
# Dependencies.
pkgs=()
command -v postfix >/dev/null && command -v smtp-source >/dev/null && command -v qshape >/dev/null ||
    pkgs+=(postfix)
command -v prometheus-postfix-exporter >/dev/null || pkgs+=(prometheus-postfix-exporter)
command -v hyperfine >/dev/null || pkgs+=(hyperfine)
command -v curl >/dev/null || pkgs+=(curl)
command -v python3 >/dev/null || pkgs+=(python3)
[ -x /usr/bin/time ] || pkgs+=(time)
command -v script >/dev/null || pkgs+=(bsdutils)
if [ ${#pkgs[@]} -gt 0 ]; then
    log "installing ${pkgs[*]}"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
if [ -n "${EXPORTER:-}" ]; then
    EXP=$EXPORTER
else
    log "building postfix-exporter (release)"
    (cd "$ROOT" && cargo build --release -q -p postfix-exporter)
    EXP=${CARGO_TARGET_DIR:-$ROOT/target}/release/postfix-exporter
fi
[ -x "$EXP" ] || { echo "no $EXP" >&2; exit 1; }
KUMINA=$(command -v prometheus-postfix-exporter)
NOLOG=()
# The log collector may not exist yet; only switch it off when the flag is known. The help
# text is read whole first: `--help | grep -q` under pipefail fails when grep quits early.
EXP_HELP=$("$EXP" --help 2>&1 || true)
case $EXP_HELP in *--no-collector.log*) NOLOG=(--no-collector.log) ;; esac

# ---------------------------------------------------------------------------------------
# Instance and cleanup.
BASE=$(mktemp -d /tmp/pfqbench.XXXXXX)
chmod 755 "$BASE"
CONF=$BASE/conf QUEUE=$BASE/queue DATA=$BASE/data LOG=$BASE/log W=$BASE/work
mkdir -p "$CONF" "$QUEUE" "$DATA" "$LOG" "$W"
chown postfix "$DATA"
PIDS=()          # everything started in the background, stopped by PID
RES=$W/results.tsv
: >"$RES"

master_pid() { tr -d ' ' <"$QUEUE/pid/master.pid" 2>/dev/null || true; }

stop_pid() { # stop_pid PID: TERM, wait up to 5 s, then KILL
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    set +e
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    pid=$(master_pid)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        # `postsuper -d ALL` first would only spend time unlinking what rm -rf removes below.
        postfix -c "$CONF" stop >/dev/null 2>&1
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill "$pid"
    fi
    if [ -n "$OUT" ]; then mkdir -p "$OUT" && cp -r "$W"/. "$OUT"/; fi
    rm -rf "$BASE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
SMTPD_PORT=$(free_port)

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
    "defer_transports = smtp" "queue_run_delay = 4000s" \
    "minimal_backoff_time = 4000s" "maximal_backoff_time = 4000s" \
    "default_process_limit = 200"
postconf -c "$CONF" -M# smtp/inet
postconf -c "$CONF" -Me "127.0.0.1:$SMTPD_PORT/inet = 127.0.0.1:$SMTPD_PORT inet n - n - - smtpd"
postconf -c "$CONF" -Me "postlog/unix-dgram = postlog unix-dgram n - n - 1 postlogd"
if ! postfix -c "$CONF" start >/dev/null 2>&1; then
    script -qc "postfix -c $CONF start" /dev/null || true # postfix explains only to a tty
    echo "postfix did not start" >&2
    exit 1
fi
for _ in $(seq 100); do [ -S "$QUEUE/public/showq" ] && [ -n "$(master_pid)" ] && break; sleep 0.1; done
[ -S "$QUEUE/public/showq" ] || { echo "no showq socket" >&2; exit 1; }
SHOWQ=$QUEUE/public/showq
# The real interpreter without site (a pyenv shim adds ~100 ms, site ~30 ms to every start).
PY=$(python3 -c 'import sys; print(sys.executable)')

# ---------------------------------------------------------------------------------------
# Fill: 4 recipient domains, 40/30/20/10 %.
count_files() { find "$@" -type f 2>/dev/null | wc -l; }
fill_start=$(date +%s)
DOMAINS=(alpha.bulk.example beta.bulk.example gamma.bulk.example delta.bulk.example)
SHARES=(40 30 20 10)
left=$N
for i in 0 1 2 3; do
    if [ "$i" -eq 3 ]; then m=$left; else m=$((N * SHARES[i] / 100)); fi
    left=$((left - m))
    [ "$m" -gt 0 ] || continue
    log "smtp-source: $m messages to rcpt@${DOMAINS[i]}"
    timeout $((120 + m / 50)) smtp-source -s 10 -m "$m" -l 2000 -f loadgen@mx.test.local \
        -t "rcpt@${DOMAINS[i]}" "127.0.0.1:$SMTPD_PORT" ||
        log "smtp-source ended with status $? (continuing with what was queued)"
done
inject_s=$(($(date +%s) - fill_start))
# Wait until everything sits in deferred: N files, or nothing in flight and no change for 10 s.
deadline=$(($(date +%s) + 120 + N / 100))
last=-1 same_since=$(date +%s) next_note=0
while :; do
    d=$(count_files "$QUEUE/deferred")
    busy=$(count_files "$QUEUE/maildrop" "$QUEUE/incoming" "$QUEUE/active")
    now=$(date +%s)
    [ "$d" -ge "$N" ] && [ "$busy" -eq 0 ] && break
    if [ "$d" -ne "$last" ]; then last=$d same_since=$now; fi
    if [ "$busy" -eq 0 ] && [ $((now - same_since)) -ge 10 ]; then
        log "only $d of $N messages reached deferred; measuring those"
        break
    fi
    [ "$now" -ge "$deadline" ] && { echo "queue did not settle: deferred=$d in-flight=$busy" >&2; exit 1; }
    if [ "$now" -ge "$next_note" ]; then log "deferred=$d in-flight=$busy"; next_note=$((now + 15)); fi
    sleep 2
done
QN=$(count_files "$QUEUE/deferred")
fill_s=$(($(date +%s) - fill_start))
log "queue ready: $QN deferred (injected in ${inject_s}s, all deferred after ${fill_s}s); $(du -sh "$QUEUE" | cut -f1) on disk"
printf 'queue\tmessages\t%s\nqueue\tinject_s\t%s\nqueue\tfill_s\t%s\nqueue\tdisk\t%s\n' \
    "$QN" "$inject_s" "$fill_s" "$(du -sk "$QUEUE" | cut -f1)" >>"$RES"

# ---------------------------------------------------------------------------------------
# Helpers.
cat >"$W/showq_read.py" <<'EOF'
# Reads the whole showq stream (the server talks first, the client sends nothing).
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(120)
s.connect(sys.argv[1])
out = open(sys.argv[2], "wb") if len(sys.argv) > 2 else None
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    if out:
        out.write(b)
EOF
"$PY" -S -E "$W/showq_read.py" "$SHOWQ" "$W/showq.bin"
printf 'showq\tbytes\t%s\n' "$(stat -c %s "$W/showq.bin")" >>"$RES"

now_ns() { date +%s%N; }
metric() { # metric FILE NAME[{labels}]: value of the first sample with that exact name+labels
    awk -v n="$2" '$1 == n { print $2; exit }' "$1"
}
wait_http() { # wait_http URL PID TIMEOUT_S: until URL answers 2xx; fails if PID dies
    local url=$1 pid=$2 end=$(($(date +%s) + $3))
    while [ "$(date +%s)" -lt "$end" ]; do
        curl -sf -o /dev/null --max-time 60 "$url" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}
start_exporter() { # sets EXP_PID
    "$EXP" --web.listen-address="127.0.0.1:$1" --postfix.showq_path="$SHOWQ" "${NOLOG[@]}" \
        --collector.queue.interval=1h >>"$W/exporter.log" 2>&1 &
    EXP_PID=$!
    PIDS+=("$EXP_PID")
}
start_exporter_spool() { # start_exporter_spool PORT INTERVAL; sets EXP_PID: the spool source reads $QUEUE directly
    "$EXP" --web.listen-address="127.0.0.1:$1" --collector.queue.source=spool \
        --postfix.queue_directory="$QUEUE" "${NOLOG[@]}" \
        --collector.queue.interval="$2" >>"$W/exporter.log" 2>&1 &
    EXP_PID=$!
    PIDS+=("$EXP_PID")
}
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# ---------------------------------------------------------------------------------------
# kumina runs for the whole measurement; it only walks showq when scraped.
EXP_PORT=$(free_port)
KUM_PORT=$(free_port)
READY_TIMEOUT=$((60 + N / 500))
"$KUMINA" --web.listen-address="127.0.0.1:$KUM_PORT" --postfix.showq_path="$SHOWQ" \
    --postfix.logfile_path=/dev/null >"$W/kumina.log" 2>&1 &
KUM_PID=$!
PIDS+=("$KUM_PID")
wait_http "http://127.0.0.1:$KUM_PORT/metrics" "$KUM_PID" "$READY_TIMEOUT" || { tail "$W/kumina.log" >&2; echo "kumina not up" >&2; exit 1; }
kmsgs=$(curl -sf "http://127.0.0.1:$KUM_PORT/metrics" | awk '$1 == "postfix_showq_message_size_bytes_count{queue=\"deferred\"}" { print $2 }')
printf 'kumina\tmessages\t%s\n' "${kmsgs:-0}" >>"$RES"

timed() { # timed NAME CMD...: wall seconds of one run into the results, as round data
    local name=$1; shift
    local a b
    a=$(now_ns)
    "$@" >/dev/null 2>&1 || log "$name failed"
    b=$(now_ns)
    printf 'round\t%s\t%s\n' "$name" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')" >>"$RES"
}

# ---------------------------------------------------------------------------------------
# 1. Interleaved rounds: each round is one exporter start (= one full collection) followed by
# one run of each peer, so slow and fast moments of a shared machine hit all of them alike.
# These rounds are what the targets are checked against.
for r in $(seq "$RUNS"); do
    t0=$(now_ns)
    start_exporter "$EXP_PORT"
    wait_http "http://127.0.0.1:$EXP_PORT/-/ready" "$EXP_PID" "$READY_TIMEOUT" ||
        { tail -20 "$W/exporter.log" >&2; echo "exporter not ready" >&2; exit 1; }
    t1=$(now_ns)
    curl -sf -o "$W/metrics-$r.txt" "http://127.0.0.1:$EXP_PORT/metrics"
    hwm=$(hwm_kib "$EXP_PID")
    dur=$(metric "$W/metrics-$r.txt" postfix_queue_collection_duration_seconds)
    rss=$(metric "$W/metrics-$r.txt" process_resident_memory_bytes)
    msgs=$(metric "$W/metrics-$r.txt" 'postfix_queue_messages{queue="deferred"}')
    stop_pid "$EXP_PID"
    printf 'exporter\tcollection_s\t%s\nexporter\tready_s\t%s\nexporter\thwm_kib\t%s\nexporter\trss_bytes\t%s\nexporter\tmessages\t%s\n' \
        "$dur" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')" "$hwm" "$rss" "${msgs:-0}" >>"$RES"
    # The spool exporter walks every 2 s: the first walk reads every file, the next WARM
    # ones only what changed (nothing, in this frozen queue).
    start_exporter_spool "$EXP_PORT" 2s
    wait_http "http://127.0.0.1:$EXP_PORT/-/ready" "$EXP_PID" "$READY_TIMEOUT" ||
        { tail -20 "$W/exporter.log" >&2; echo "exporter (spool) not ready" >&2; exit 1; }
    curl -sf -o "$W/metrics-spool-$r.txt" "http://127.0.0.1:$EXP_PORT/metrics"
    printf 'spool\tcollection_s\t%s\nspool\thwm_kib\t%s\nspool\tmessages\t%s\nspool\tfiles_read\t%s\n' \
        "$(metric "$W/metrics-spool-$r.txt" postfix_queue_collection_duration_seconds)" "$(hwm_kib "$EXP_PID")" \
        "$(metric "$W/metrics-spool-$r.txt" 'postfix_queue_messages{queue="deferred"}')" \
        "$(metric "$W/metrics-spool-$r.txt" postfix_queue_spool_files_read)" >>"$RES"
    last_ts=$(metric "$W/metrics-spool-$r.txt" postfix_queue_last_collection_timestamp_seconds)
    warm=()
    for k in $(seq "$WARM"); do
        end=$(($(date +%s) + 60 + N / 1000))
        while :; do # until the snapshot is from a later walk
            curl -sf -o "$W/metrics-warm.txt" "http://127.0.0.1:$EXP_PORT/metrics" || true
            ts=$(metric "$W/metrics-warm.txt" postfix_queue_last_collection_timestamp_seconds)
            [ -n "$ts" ] && [ "$ts" != "$last_ts" ] && break
            [ "$(date +%s)" -lt "$end" ] || { echo "no warm spool walk $k within its deadline" >&2; exit 1; }
            sleep 0.2
        done
        last_ts=$ts
        cp "$W/metrics-warm.txt" "$W/metrics-spool-warm-$r-$k.txt"
        d=$(metric "$W/metrics-warm.txt" postfix_queue_collection_duration_seconds)
        warm+=("$d")
        printf 'spool_warm\twalk_s\t%s\nspool_warm\tfiles_read\t%s\nspool_warm\tfiles_reused\t%s\nspool_warm\tmessages\t%s\n' "$d" \
            "$(metric "$W/metrics-warm.txt" postfix_queue_spool_files_read)" \
            "$(metric "$W/metrics-warm.txt" postfix_queue_spool_files_reused)" \
            "$(metric "$W/metrics-warm.txt" 'postfix_queue_messages{queue="deferred"}')" >>"$RES"
    done
    # One value per round (the median of its warm walks), paired with the peers of the round.
    printf 'spool_warm\tcollection_s\t%s\nspool_warm\thwm_kib\t%s\n' \
        "$(printf '%s\n' "${warm[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')" \
        "$(hwm_kib "$EXP_PID")" >>"$RES"
    stop_pid "$EXP_PID"
    timed showq_raw "$PY" -S -E "$W/showq_read.py" "$SHOWQ"
    timed postqueue_j postqueue -c "$CONF" -j
    timed qshape qshape -c "$CONF" deferred
    timed kumina_scrape curl -sf -o /dev/null --max-time 120 "http://127.0.0.1:$KUM_PORT/metrics"
    log "round $r/$RUNS: exporter collection ${dur}s (VmHWM ${hwm} KiB, deferred=${msgs}); $(tail -4 "$RES" | awk '{ printf "%s %ss  ", $2, $3 }')"
done
grep -c '^postfix_qshape_recipients{' "$W/metrics-1.txt" | sed 's/^/exporter\tqshape_series\t/' >>"$RES" || true

# ---------------------------------------------------------------------------------------
# 2. hyperfine, one block per command: scrapes of both exporters, postqueue -j, qshape, raw
# showq, parse alone. The exporter serves its snapshot (interval 1h: no walk meanwhile).
start_exporter "$EXP_PORT"
wait_http "http://127.0.0.1:$EXP_PORT/-/ready" "$EXP_PID" "$READY_TIMEOUT" || { echo "exporter not ready" >&2; exit 1; }

log "hyperfine: $HF_RUNS runs each"
hyperfine -N --style basic --warmup 1 --runs "$HF_RUNS" --export-json "$W/hyperfine.json" \
    -n exporter_scrape "curl -sf -o /dev/null http://127.0.0.1:$EXP_PORT/metrics" \
    -n kumina_scrape "curl -sf -o /dev/null --max-time 120 http://127.0.0.1:$KUM_PORT/metrics" \
    -n postqueue_j "postqueue -c $CONF -j" \
    -n qshape "qshape -c $CONF deferred" \
    -n showq_raw "$PY -S -E $W/showq_read.py $SHOWQ" \
    -n exporter_parse "$EXP print --format showq $W/showq.bin" >&2
printf 'exporter\tscrape_hwm_kib\t%s\nkumina\thwm_kib\t%s\n' "$(hwm_kib "$EXP_PID")" "$(hwm_kib "$KUM_PID")" >>"$RES"
curl -sf "http://127.0.0.1:$EXP_PORT/metrics" | wc -c | sed 's/^ */exporter\tscrape_bytes\t/' >>"$RES"

# ---------------------------------------------------------------------------------------
# 3. Peak RSS of the one-shot tools.
maxrss() { # maxrss NAME CMD...: /usr/bin/time -v peak RSS in KiB
    local name=$1; shift
    /usr/bin/time -v -o "$W/time.txt" "$@" >/dev/null 2>&1 || true
    awk -v n="$name" -F': ' '/Maximum resident set size/ { printf "%s\tmaxrss_kib\t%s\n", n, $2 }' "$W/time.txt" >>"$RES"
}
for _ in $(seq "$RSS_RUNS"); do
    maxrss qshape qshape -c "$CONF" deferred
    maxrss postqueue_j postqueue -c "$CONF" -j
    maxrss exporter_parse "$EXP" print --format showq "$W/showq.bin"
done

# ---------------------------------------------------------------------------------------
# 4. Optional cold-cache round.
if [ "$COLD" = 1 ]; then
    log "cold-cache round"
    stop_pid "$EXP_PID"
    drop_caches
    t0=$(now_ns)
    start_exporter "$EXP_PORT"
    wait_http "http://127.0.0.1:$EXP_PORT/-/ready" "$EXP_PID" $((READY_TIMEOUT * 10)) || { echo "exporter not ready" >&2; exit 1; }
    t1=$(now_ns)
    curl -sf -o "$W/metrics-cold.txt" "http://127.0.0.1:$EXP_PORT/metrics"
    printf 'cold\texporter_collection_s\t%s\n' "$(metric "$W/metrics-cold.txt" postfix_queue_collection_duration_seconds)" >>"$RES"
    printf 'cold\texporter_ready_s\t%s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')" >>"$RES"
    cold_time() { # cold_time NAME CMD...
        local name=$1; shift
        drop_caches
        local a b
        a=$(now_ns)
        "$@" >/dev/null 2>&1 || true
        b=$(now_ns)
        printf 'cold\t%s_s\t%s\n' "$name" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')" >>"$RES"
    }
    cold_time qshape qshape -c "$CONF" deferred
    cold_time postqueue_j postqueue -c "$CONF" -j
    cold_time kumina_scrape curl -sf -o /dev/null --max-time 600 "http://127.0.0.1:$KUM_PORT/metrics"
fi

# ---------------------------------------------------------------------------------------
# Report.
python3 - "$RES" "$W/hyperfine.json" "$N" <<'EOF'
import json, statistics, sys
res, hf_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
vals = {}
for line in open(res):
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 3 or parts[2] == "":
        continue
    try:
        vals.setdefault((parts[0], parts[1]), []).append(float(parts[2]))
    except ValueError:
        pass
def med(k, key):
    v = vals.get((k, key))
    return statistics.median(v) if v else None
def rng(k, key):
    v = vals.get((k, key))
    return f"{min(v):.3f}–{max(v):.3f}" if v else "–"
hf = {r["command"]: r for r in json.load(open(hf_path))["results"]}
def hmed(name):
    return hf[name]["median"] if name in hf else None
def hrng(name):
    return f'{min(hf[name]["times"]):.3f}–{max(hf[name]["times"]):.3f}' if name in hf else "–"
mib = lambda kib: f"{kib / 1024:.1f}" if kib else "–"
s = lambda x: f"{x:.3f}" if x is not None else "–"
coll_runs = vals.get(("exporter", "collection_s"), [])
def paired(name, base=None):
    """Median over rounds of peer time / exporter collection time of the same round."""
    peer = vals.get(("round", name), [])
    r = [p / c for p, c in zip(peer, base or coll_runs) if c > 0]
    return statistics.median(r) if r else None
spool_runs = vals.get(("spool", "collection_s"), [])
warm_runs = vals.get(("spool_warm", "collection_s"), [])

q = int(med("queue", "messages") or 0)
print(f"\n## Postfix deep-queue benchmark: {q} deferred messages (asked for {n})")
print(f"fill: injected in {med('queue','inject_s'):.0f} s, all deferred after {med('queue','fill_s'):.0f} s; "
      f"queue on disk {med('queue','disk') / 1024:.0f} MiB; showq stream {med('showq','bytes') / 1e6:.1f} MB; "
      f"exporter counted {med('exporter','messages'):.0f} deferred, kumina {med('kumina','messages') or 0:.0f}; "
      f"qshape matrix series: {med('exporter','qshape_series') or 0:.0f}\n")
coll = med("exporter", "collection_s")
print(f"interleaved rounds ({len(coll_runs)}; each: exporter start, raw showq, postqueue -j, qshape, kumina scrape):\n")
print("| what | median s | min–max s | peak RSS MiB (median) | median of per-round ratio to the exporter |")
print("|---|---|---|---|---|")
print(f"| postfix-exporter: one full collection (metric) | {s(coll)} | {rng('exporter','collection_s')} | {mib(med('exporter','hwm_kib'))} (VmHWM after the walk) | 1 |")
if spool_runs:
    print(f"| postfix-exporter, spool source: one full collection (metric) | {s(med('spool','collection_s'))} | {rng('spool','collection_s')} | {mib(med('spool','hwm_kib'))} (VmHWM) | {statistics.median([a / b for a, b in zip(coll_runs, spool_runs) if b > 0]):.2f} (showq collection / spool collection) |")
if warm_runs:
    print(f"| postfix-exporter, spool source: second and later walks (warm, incremental; median per round) | {s(med('spool_warm','collection_s'))} | {rng('spool_warm','walk_s')} (every warm walk) | {mib(med('spool_warm','hwm_kib'))} (VmHWM after them) | {statistics.median([a / b for a, b in zip(coll_runs, warm_runs) if b > 0]):.2f} (showq collection / warm spool walk) |")
print(f"| postfix-exporter: start → /-/ready (wall) | {s(med('exporter','ready_s'))} | {rng('exporter','ready_s')} | | |")
for name, label, rss in [("showq_raw", "raw showq read (python; the floor)", None),
                         ("postqueue_j", "`postqueue -j`", "postqueue_j"),
                         ("qshape", "`qshape deferred`", "qshape"),
                         ("kumina_scrape", "kumina scrape (walks showq)", None)]:
    rss_s = mib(med(rss, "maxrss_kib")) if rss else (f"{mib(med('kumina','hwm_kib'))} (VmHWM)" if name == "kumina_scrape" else "")
    pr = paired(name)
    print(f"| {label} | {s(med('round', name))} | {rng('round', name)} | {rss_s} | {pr:.2f} |" if pr else f"| {label} | – | – | {rss_s} | – |")
print(f"\nhyperfine blocks ({hf[next(iter(hf))]['times'].__len__() if hf else 0} runs each, one command after the other):\n")
print("| what | median s | min–max s | peak RSS MiB |")
print("|---|---|---|---|")
for name, label, rss in [("exporter_scrape", "postfix-exporter scrape of /metrics (snapshot)", f"{mib(med('exporter','scrape_hwm_kib'))} (VmHWM)"),
                         ("exporter_parse", "postfix-exporter print --format showq (parse alone, file)", mib(med('exporter_parse','maxrss_kib'))),
                         ("showq_raw", "raw showq read (python)", ""),
                         ("postqueue_j", "`postqueue -j`", ""),
                         ("qshape", "`qshape deferred`", ""),
                         ("kumina_scrape", "kumina scrape", "")]:
    print(f"| {label} | {s(hmed(name))} | {hrng(name)} | {rss} |")
if any(k[0] == "cold" for k in vals):
    print("\ncold cache (one run each, drop_caches before each):")
    for key, label in [("exporter_collection_s", "exporter collection"), ("exporter_ready_s", "exporter start → ready"),
                       ("qshape_s", "qshape deferred"), ("postqueue_j_s", "postqueue -j"), ("kumina_scrape_s", "kumina scrape")]:
        print(f"- {label}: {s(med('cold', key))} s")
print("\ntargets (warm, interleaved rounds):")
def check(ok, text):
    print(f"- [{'PASS' if ok else 'MISS'}] {text}")
if coll:
    check(coll <= 1.0, f"collection <= 1 s: {coll:.3f} s")
    if paired("qshape"):
        check(paired("qshape") >= 10, f"collection >= 10x faster than qshape: {paired('qshape'):.2f}x")
    if paired("postqueue_j"):
        check(paired("postqueue_j") > 1, f"collection faster than postqueue -j: {paired('postqueue_j'):.2f}x")
    if paired("kumina_scrape"):
        print(f"- [info] kumina scrape / collection: {paired('kumina_scrape'):.2f}x")
    if paired("showq_raw"):
        print(f"- [info] raw showq read / collection: {paired('showq_raw'):.2f} (1.0 = the exporter adds nothing to showq's own time)")
    if hmed("exporter_scrape"):
        print(f"- [info] exporter scrape (serves the snapshot): {hmed('exporter_scrape') * 1000:.1f} ms")
def spool_targets(key, runs, title, what, rss_what):
    """The spool source's targets, checked on `key`'s rounds: one block per kind of walk."""
    if not runs:
        return
    c = med(key, "collection_s")
    print(title)
    check(c <= 1.0, f"{what} <= 1 s: {c:.3f} s")
    if paired("qshape", runs):
        check(paired("qshape", runs) >= 10, f"{what} >= 10x faster than qshape: {paired('qshape', runs):.2f}x")
    if paired("postqueue_j", runs):
        check(paired("postqueue_j", runs) > 1, f"{what} faster than postqueue -j: {paired('postqueue_j', runs):.2f}x")
    if med(key, "hwm_kib"):
        check(med(key, "hwm_kib") / 1024 <= 32, f"peak RSS <= 32 MiB{rss_what}: {med(key, 'hwm_kib') / 1024:.1f} MiB")
spool_targets("spool", spool_runs,
              "\ntargets for the spool source (--collector.queue.source=spool), same rounds:",
              "collection", "")
if warm_runs:
    spool_targets("spool_warm", warm_runs,
                  "\ntargets for the spool source's second and later walks (warm, incremental), same rounds "
                  f"(files read per warm walk: median {med('spool_warm','files_read') or 0:.0f}, reused {med('spool_warm','files_reused') or 0:.0f}):",
                  "warm walk", " (VmHWM after the warm walks)")
hwm = med("exporter", "hwm_kib")
if hwm:
    check(hwm / 1024 <= 32, f"peak RSS <= 32 MiB: {hwm / 1024:.1f} MiB")
EOF
