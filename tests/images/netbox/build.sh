#!/usr/bin/env bash
# Build and import the NetBox image the NetBox tests run (tests/netbox.py starts it):
#   tests/images/netbox/build.sh     -> localhost/nbx-netbox-debian13:<NetBox version>
# NetBox 4.7 needs Python >= 3.12, which Debian 12 lacks: the image is a debootstrap of Debian 13
# (Python 3.13, PostgreSQL 17, Redis) from the host's own Debian mirror with NetBox from PyPI in a
# venv. No NetBox configuration, database or secret is baked in: start.sh makes them per container.
# The rootfs tarball is cached under $NBF_WORK/cache keyed by the recipe; a second call only
# checks the image label (seconds). Run as root. Env: NBF_WORK, NBF_DEBIAN_MIRROR.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=tests/images/podman-env.sh
. "$here/../podman-env.sh"
# shellcheck source=tests/images/debootstrap-lib.sh
. "$here/../debootstrap-lib.sh"

# Bump when the recipe below changes in a way that changes the rootfs.
RECIPE=1
SUITE=trixie
NETBOX_VERSION=$(cat "$here/VERSION")
IMAGE=localhost/nbx-netbox-debian13:$NETBOX_VERSION
# gcc, libpq-dev, python3-dev: NetBox pins psycopg[c], which pip compiles against libpq.
PACKAGES=ca-certificates,python3,python3-venv,python3-dev,gcc,libc6-dev,libpq-dev,postgresql,redis-server
DISABLED_UNITS=(postgresql redis-server)

key=$(printf '%s\n%s\n%s\n%s\n' "$RECIPE" "$SUITE" "$PACKAGES" "$NETBOX_VERSION" | sha256sum | cut -c1-16)
tarball=$NBF_WORK/cache/nbx-netbox-$SUITE-$key.tar.zst

image_key() { podman image inspect --format '{{index .Labels "netboot-fleet.key"}}' "$IMAGE" 2>/dev/null || true; }

build_rootfs() {
  local mirror rootfs=$NBF_WORK/nbx-netbox-rootfs-$key
  mirror=${NBF_DEBIAN_MIRROR:-$(debian_mirror "$(. /etc/os-release && echo "$VERSION_CODENAME")")}
  echo "debootstrap $SUITE from $mirror into $rootfs"
  # shellcheck disable=SC2064 # expand now: the trap must clean this rootfs even if $rootfs changes
  trap "unmount_under '$rootfs'" EXIT
  unmount_under "$rootfs"
  rm -rf "$rootfs"
  mkdir -p "$NBF_WORK/cache/debs-$SUITE"
  # Two stages so that policy-rc.d is in place before any maintainer script runs: the chroot
  # shares the host's network, and PostgreSQL or Redis started there would bind the host's ports.
  debootstrap --foreign --variant=minbase --cache-dir="$NBF_WORK/cache/debs-$SUITE" \
    --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror"
  printf '#!/bin/sh\n# image build: start no daemon\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  chroot "$rootfs" /debootstrap/debootstrap --second-stage
  unmount_under "$rootfs"
  local unit
  for unit in "${DISABLED_UNITS[@]}"; do
    chroot "$rootfs" systemctl disable --quiet "$unit.service" 2>/dev/null || true
  done
  # The cluster Debian's postinst made is not used: start.sh makes its own per container.
  rm -rf "$rootfs"/var/lib/postgresql/*/main "$rootfs"/etc/postgresql/*/main

  # pip inside the chroot reaches PyPI the way the host does: its resolver and its CA bundle (pip
  # checks against the system store, which may need the host's own CAs), both put back afterwards.
  local bundle=$rootfs/etc/ssl/certs/ca-certificates.crt
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  mv "$bundle" "$bundle.image"
  cp /etc/ssl/certs/ca-certificates.crt "$bundle"
  chroot "$rootfs" python3 -m venv /opt/netbox/venv
  chroot "$rootfs" env -u PIP_FIND_LINKS PIP_DISABLE_PIP_VERSION_CHECK=1 \
    /opt/netbox/venv/bin/pip install --no-cache-dir -q "netbox==$NETBOX_VERSION"
  mv -f "$bundle.image" "$bundle"
  rm -f "$rootfs/etc/resolv.conf"
  chroot "$rootfs" apt-get clean
  rm -f "$rootfs/usr/sbin/policy-rc.d"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin

  pack_rootfs "$rootfs" "$tarball"
  trap - EXIT
}

mkdir -p "$NBF_WORK"
exec 9>"$NBF_WORK/nbx-netbox-build.lock"
flock 9
if [ "$(image_key)" = "$key" ]; then
  echo "image $IMAGE is up to date (key $key)"
  exit 0
fi
if [ ! -s "$tarball" ]; then
  build_rootfs
  echo "rootfs built and cached in $SECONDS s: $tarball"
fi
import_rootfs "$tarball" "$IMAGE" "$key" '["/bin/bash", "/nbx/start.sh"]'
