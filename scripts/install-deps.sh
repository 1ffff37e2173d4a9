#!/usr/bin/env bash
# Installs what the demo and the tests need: Debian packages (Postfix, Dovecot's core and
# IMAP, POP3 and LMTP servers, ProFTPd, VictoriaMetrics with vmagent/vmalert, Prometheus with
# promtool, swaks) and a Python venv at .venv with the packages in
# tests/python/requirements.txt. Idempotent and quick when everything is already there.
# The Rust toolchain is expected on the machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/packages.sh
source "$ROOT/scripts/lib/packages.sh"

log() { printf '[install-deps] %s\n' "$*" >&2; }

# Debian packages (the list is in scripts/lib/packages.sh, shared with its regression test), and
# a command each one must provide (checked before touching apt).
APT_PACKAGES=("${DEPS_APT_PACKAGES[@]}")
REQUIRED_COMMANDS=(postfix postconf postqueue postsuper qshape smtp-sink sendmail dovecot proftpd ftpwho
  doveadm victoria-metrics vmagent vmalert prometheus promtool prometheus-blackbox-exporter dnsmasq swaks script
  flock openssl chromium podman runc)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=(sudo); else log "not root and no sudo: cannot install packages"; fi
fi

# Serialise concurrent runs (apt and pip do not like company).
exec 9>"${TMPDIR:-/tmp}/mail-exporters-install-deps.lock"
flock 9

missing_pkgs=()
for p in "${APT_PACKAGES[@]}"; do
  if ! deb_installed "$p"; then
    missing_pkgs+=("$p")
  fi
done
for c in "${REQUIRED_COMMANDS[@]}"; do
  if ! command -v "$c" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$c" ]; then
    log "command $c not found"
    missing_pkgs+=(postfix)  # any package; forces the install step to run and report
  fi
done

if [ "${#missing_pkgs[@]}" -gt 0 ]; then
  log "installing Debian packages: ${APT_PACKAGES[*]} (missing: ${missing_pkgs[*]})"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix must not ask questions nor set up a system instance: "No configuration" leaves
  # /etc/postfix/main.cf absent, and the tests run their own instances.
  echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
fi

# Packaged services must not run: they would hold ports and confuse the tests (Dovecot's
# system instance takes 143/993/110/995 and /run/dovecot; the test instances use their own
# temp dirs and free ports and never read /etc/dovecot). The Debian postinst starts nothing
# where policy-rc.d forbids it; elsewhere stop what it started.
if command -v service >/dev/null 2>&1 && [ ! -x /usr/sbin/policy-rc.d ]; then
  for s in postfix dovecot proftpd victoria-metrics prometheus; do
    "${SUDO[@]}" service "$s" stop >/dev/null 2>&1 || true
  done
fi
# A system instance configured by hand (main.cf present) and running is stopped too.
if [ -f /etc/postfix/main.cf ] && "${SUDO[@]}" postfix status >/dev/null 2>&1; then
  log "stopping the system Postfix instance (the tests run their own)"
  "${SUDO[@]}" postfix stop >/dev/null 2>&1 || true
fi

for c in "${REQUIRED_COMMANDS[@]}"; do
  if ! command -v "$c" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$c" ]; then
    log "ERROR: $c is still missing after the install"
    exit 1
  fi
done

# Python venv with the validators.
REQ="$ROOT/tests/python/requirements.txt"
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    # The first python3 on PATH may be a pyenv build; Debian's (python3-venv) is the fallback.
    made=""
    for py in python3 /usr/bin/python3; do
      if command -v "$py" >/dev/null 2>&1 && "$py" -m venv "$VENV" >/dev/null 2>&1 &&
         "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        made="$py"; break
      fi
      rm -rf "$VENV"
    done
    if [ -z "$made" ]; then log "ERROR: could not create a venv with python3 -m venv"; exit 1; fi
    log "venv made with $made ($("$VENV/bin/python" --version 2>&1))"
  fi
  log "installing Python packages from tests/python/requirements.txt"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$want" >"$STAMP"
fi

versions="$(dpkg-query -W -f '${Package} ${Version}, ' postfix dovecot-core victoria-metrics prometheus swaks 2>/dev/null || true)"
log "ok: ${versions}$("$VENV/bin/python" -c 'import importlib.metadata as m; print("prometheus-client", m.version("prometheus-client"))' 2>&1)"
