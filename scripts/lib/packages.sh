# shellcheck shell=bash
# Debian package checks, shared by scripts/install-deps.sh and its regression test
# scripts/tests/install-deps-check.sh. Source this file; it defines the package list and
# one function, and runs nothing.
#
# No pipeline into `grep -q` here, on purpose: under `set -o pipefail`,
# `dpkg -s P | grep -q ...` fails whenever grep exits at its first match while dpkg is
# still writing (dpkg dies of SIGPIPE and pipefail reports that). That made install-deps.sh
# call installed packages missing most of the time for packages with long `dpkg -s` entries
# (prometheus, victoria-metrics). dpkg-query prints the status alone, and the shell compares it.

# The Debian packages the demo and the tests need; scripts/install-deps.sh installs them.
# shellcheck disable=SC2034  # used by the scripts that source this file
DEPS_APT_PACKAGES=(postfix dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd proftpd-core
  proftpd-mod-crypto victoria-metrics prometheus prometheus-blackbox-exporter dnsmasq-base swaks python3-venv
  libnet-ssleay-perl ca-certificates openssl chromium podman runc)

# deb_installed PACKAGE: succeeds when dpkg has PACKAGE installed ("install ok installed",
# or "hold ok installed" for a held package); fails for unknown, removed or half-installed
# packages.
deb_installed() {
  local status line
  # One line per architecture of a multi-arch package; any installed one counts.
  status="$(dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null)" || return 1
  while IFS= read -r line; do
    case "$line" in
      "install ok installed" | "hold ok installed") return 0 ;;
    esac
  done <<<"$status"
  return 1
}
