# shellcheck shell=bash
# A throw-away Postfix instance in a directory of its own, on loopback ports: the shell twin
# of tests/src/postfix.rs (docs/development.md explains both). Source this file, then:
#   postfix_instance_create DIR SMTP_PORT [SHOWQ_PORT] [TRANSPORT_LINES]
#   postfix_instance_start DIR      # waits for the master's "daemon started" in DIR/maillog
#   postfix_instance_stop DIR       # postfix stop, then SIGKILL of the master by pid file
# Needs root. Mail for other domains defers on the closed relayhost [127.0.0.1]:1.

postfix_instance_create() {
  local dir="$1" smtp_port="$2" showq_port="${3:-}" transports="${4:-}"
  local cfg="$dir/etc"
  mkdir -p "$cfg" "$dir/spool" "$dir/data" "$dir/mail"
  chmod 0755 "$dir"
  chown postfix:postfix "$dir/data"
  chmod 1777 "$dir/mail"
  cp /usr/share/postfix/main.cf.dist "$cfg/main.cf"
  cp /usr/share/postfix/master.cf.dist "$cfg/master.cf"
  echo "postmaster root" >"$cfg/aliases"  # texthash: "key value"
  local extra=()
  if [ -n "$transports" ]; then
    printf '%s\n' "$transports" >"$cfg/transport"
    extra+=("transport_maps = texthash:$cfg/transport")
  fi
  # main.cf.dist leaves several parameters empty, which postfix refuses.
  postconf -c "$cfg" -e \
    "config_directory = $cfg" "queue_directory = $dir/spool" "data_directory = $dir/data" \
    "mail_owner = postfix" "setgid_group = postdrop" \
    "sendmail_path = /usr/sbin/sendmail" "newaliases_path = /usr/bin/newaliases" \
    "mailq_path = /usr/bin/mailq" "html_directory = no" "readme_directory = no" \
    "manpage_directory = /usr/share/man" "sample_directory = /usr/share/doc/postfix/examples" \
    "maillog_file = $dir/maillog" "maillog_file_prefixes = /var, /dev/stdout, $dir" \
    "myhostname = mx.test.local" "mydomain = test.local" 'myorigin = $myhostname' \
    'mydestination = $myhostname, localhost' "inet_interfaces = loopback-only" \
    "inet_protocols = ipv4" "mynetworks = 127.0.0.0/8" "relayhost = [127.0.0.1]:1" \
    "smtpd_authorized_xclient_hosts = 127.0.0.1" \
    "alias_maps = texthash:$cfg/aliases" "alias_database =" \
    "mail_spool_directory = $dir/mail" "biff = no" "${extra[@]}"
  postconf -c "$cfg" -F '*/*/chroot = n'
  postconf -c "$cfg" -M# smtp/inet
  postconf -c "$cfg" -Me "127.0.0.1:$smtp_port/inet = 127.0.0.1:$smtp_port inet n - n - - smtpd"
  if [ -n "$showq_port" ]; then
    postconf -c "$cfg" -Me "127.0.0.1:$showq_port/inet = 127.0.0.1:$showq_port inet n - n - - showq"
  fi
}

postfix_instance_start() {
  local dir="$1" out
  # postfix explains a failed start only to a terminal.
  if ! out="$(script -qec "postfix -c $dir/etc start" /dev/null </dev/null 2>&1)"; then
    echo "postfix start failed: $out" >&2
    tail -n 20 "$dir/maillog" >&2 2>/dev/null || true
    return 1
  fi
  for _ in $(seq 1 200); do
    if grep -q 'daemon started' "$dir/maillog" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "postfix in $dir did not log 'daemon started'" >&2
  return 1
}

postfix_instance_stop() {
  local dir="$1" pid=""
  [ -f "$dir/spool/pid/master.pid" ] && pid="$(tr -d ' \n' <"$dir/spool/pid/master.pid")"
  postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
  if [ -n "$pid" ]; then
    for _ in $(seq 1 100); do
      [ -d "/proc/$pid" ] || return 0
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}
