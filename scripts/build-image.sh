#!/usr/bin/env bash
# Builds the container images, one per exporter, FROM scratch and offline: a static binary
# built here (cargo --profile container, glibc linked statically), the system's CA bundle,
# and k8s/image/Containerfile. Prints each image's name and size.
#
# usage: scripts/build-image.sh [--prefix NAME] [--version TAG] [--no-build] [EXPORTER...]
#   EXPORTER    postfix-exporter dovecot-exporter proftpd-exporter mailprobe-exporter (default: all)
#   --prefix    image name prefix (default localhost/mail-exporters); the image is PREFIX/EXPORTER
#   --version   image tag and OCI version label (default: the workspace version)
#   --no-build  use the static binaries already built (fails when one is missing)
# Environment: CARGO_TARGET_DIR as for cargo (the static build goes to its x86_64-unknown-linux-gnu/
# subdirectory, apart from the normal builds); PODMAN (default podman).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PREFIX=localhost/mail-exporters
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
PODMAN=${PODMAN:-podman}
TARGET=x86_64-unknown-linux-gnu
EXPORTERS=()
NO_BUILD=""

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --version) VERSION="$2"; shift 2 ;;
    --no-build) NO_BUILD=1; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-image: unknown option $1" >&2; exit 2 ;;
    *) EXPORTERS+=("$1"); shift ;;
  esac
done
[ "${#EXPORTERS[@]}" -gt 0 ] || EXPORTERS=(postfix-exporter dovecot-exporter proftpd-exporter mailprobe-exporter)

port_of() {
  case "$1" in
    postfix-exporter) echo 9154 ;;
    dovecot-exporter) echo 9166 ;;
    proftpd-exporter) echo 9162 ;;
    mailprobe-exporter) echo 9126 ;;
    *) echo "build-image: unknown exporter $1" >&2; return 1 ;;
  esac
}

CA=/etc/ssl/certs/ca-certificates.crt
[ -s "$CA" ] || { echo "build-image: $CA is missing (apt-get install ca-certificates)" >&2; exit 1; }
command -v "$PODMAN" >/dev/null || { echo "build-image: $PODMAN not found (apt-get install podman)" >&2; exit 1; }

bins=()
for e in "${EXPORTERS[@]}"; do port_of "$e" >/dev/null; bins+=(--bin "$e"); done

# crt-static needs an explicit --target, or the flag would also reach build scripts and proc
# macros (which cannot be static).
if [ -z "$NO_BUILD" ]; then
  echo "build-image: cargo build --profile container --target $TARGET ${bins[*]}" >&2
  RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --locked --profile container --target "$TARGET" "${bins[@]}"
fi

out="${CARGO_TARGET_DIR:-$ROOT/target}"
REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
for e in "${EXPORTERS[@]}"; do
  bin="$out/$TARGET/container/$e"
  [ -x "$bin" ] || { echo "build-image: $bin is missing (run without --no-build)" >&2; exit 1; }
  # A dynamically linked binary would start nowhere in a scratch image: refuse it here.
  if readelf -l "$bin" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    echo "build-image: $bin is not static" >&2
    exit 1
  fi
  ctx="$out/image-context/$e"
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp "$bin" "$ctx/exporter"
  cp "$CA" "$ctx/ca-certificates.crt"
  image="$PREFIX/$e:$VERSION"
  # --no-cache: buildah reuses a LABEL layer whose build arguments changed.
  "$PODMAN" build --quiet --no-cache -f k8s/image/Containerfile \
    --build-arg EXPORTER="$e" --build-arg PORT="$(port_of "$e")" \
    --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
    -t "$image" "$ctx" >/dev/null
  size=$("$PODMAN" image inspect --format '{{.Size}}' "$image")
  printf '%s %s bytes (%s MB)\n' "$image" "$size" "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')"
done
