#!/usr/bin/env bash
# Build the kit's Python base image from Debian packages, with no image registry.
#
#   scripts/build-base-image.sh [IMAGE]      # default labkit-base:trixie (wrapped by `labkit image base`)
#
# Why: the kit's Dockerfiles start `FROM ${BASE_IMAGE}` with a public default (python:3.12-slim). A classroom
# that is offline, air-gapped, or behind a TLS-inspecting proxy cannot pull it. This script makes an equivalent
# base out of Debian packages only (debootstrap, Debian 13 "trixie", python3 + venv + pip) and `docker import`s
# it; then `labkit image build --base labkit-base:trixie` builds the kit's images on top of it.
#
# The host's CA bundle is added to the image's trust store, so pip inside a build trusts the same proxy the
# host trusts. That is the only non-standard step, and it lives here, not in the Dockerfiles.
#
# Needs: root, debootstrap, a Docker engine. Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian),
# HOST_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt; set it empty to skip).
set -euo pipefail

IMAGE="${1:-labkit-base:trixie}"
SUITE=trixie
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HOST_CA_BUNDLE="${HOST_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}"
PACKAGES=python3,python3-venv,python3-pip,ca-certificates

fail() { echo "build-base-image: $1" >&2; echo "  fix: $2" >&2; exit 1; }

[[ $EUID -eq 0 ]] || fail "debootstrap needs root" "run it as root (sudo $0)"
command -v debootstrap >/dev/null || fail "debootstrap is not installed" "apt-get install -y debootstrap"
command -v docker >/dev/null || fail "no docker CLI" "apt-get install -y docker.io"
docker info >/dev/null 2>&1 || fail "no Docker engine answers" "start Docker (or scripts/ci-dockerd.sh start)"

ROOTFS="$(mktemp -d /tmp/labkit-base.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT

started=$SECONDS
echo "==> debootstrap $SUITE ($PACKAGES) from $MIRROR"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
  | grep --line-buffered -E '^I: (Retrieving Release|Validating Packages|Resolving|Found|Installing|Base system)' \
  || true
[[ -x "$ROOTFS/usr/bin/python3" ]] || fail "debootstrap did not produce a python3" "see the messages above"

if [[ -n "$HOST_CA_BUNDLE" && -f "$HOST_CA_BUNDLE" ]]; then
  echo "==> trusting the host's CA bundle ($HOST_CA_BUNDLE)"
  install -D -m 0644 "$HOST_CA_BUNDLE" "$ROOTFS/usr/local/share/ca-certificates/labkit-host-bundle.crt"
  chroot "$ROOTFS" update-ca-certificates 2>&1 | grep -v "^rehash: warning" || true
fi

echo "==> slimming (apt lists, caches, docs, man pages)"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/var/log/*.log
# Same shape as the official python images, so the Dockerfiles need no branch for this base.
echo "==> docker import -> $IMAGE"
tar --numeric-owner -C "$ROOTFS" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "labkit base: Debian $SUITE minbase + python3 (scripts/build-base-image.sh)" \
  - "$IMAGE" >/dev/null
echo "==> built $IMAGE in $((SECONDS - started))s: $(docker run --rm --network none "$IMAGE" python3 --version)," \
  "$(docker image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
