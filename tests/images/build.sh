#!/usr/bin/env bash
# Build and import the systemd base image that Molecule scenarios run in:
#   tests/images/build.sh            -> localhost/netboot-fleet-debian12:latest      (packages.txt)
#   tests/images/build.sh db         -> localhost/netboot-fleet-debian12-db:latest   (packages-db.txt: PostgreSQL,
#                                       the shared database's hosts of the lab's database mode and Molecule)
# No container registry is reachable here, so the image is a debootstrap of Debian 12 (minbase)
# from the host's own Debian mirror, with every package of packages.txt baked in (containers in
# a scenario's network namespace have no route to any mirror). The rootfs tarball is cached under
# $NBF_WORK/cache keyed by the package list; a second call only checks the image label (seconds).
# Run as root. Env: NBF_WORK (default /var/tmp/netboot-fleet), NBF_IMAGE, NBF_DEBIAN_MIRROR.
set -euo pipefail
VARIANT=${1:-node}
case $VARIANT in
  node) ;;
  db) NBF_IMAGE=${NBF_DB_IMAGE:-localhost/netboot-fleet-debian12-db:latest} ;;
  *) echo "usage: $0 [node|db]" >&2; exit 2 ;;
esac
# shellcheck source=tests/images/podman-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/podman-env.sh"
# shellcheck source=tests/images/debootstrap-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/debootstrap-lib.sh"

# Bump when the recipe below changes in a way that changes the rootfs.
RECIPE=1
SUITE=bookworm
PACKAGES_FILE=$NBF_REPO/tests/images/packages.txt
[ "$VARIANT" = db ] && PACKAGES_FILE=$NBF_REPO/tests/images/packages-db.txt
# Units the packages enable by default: the image boots with none of them running, so a role
# under test has to enable and start them itself, and nothing binds ports nobody asked for.
DISABLED_UNITS=(kea-dhcp4-server kea-dhcp6-server kea-ctrl-agent bird nginx tftpd-hpa postgresql)

packages=$(grep -v -e '^\s*#' -e '^\s*$' "$PACKAGES_FILE" | sort -u | paste -sd, -)
key=$(printf '%s\n%s\n%s\n' "$RECIPE" "$SUITE" "$packages" | sha256sum | cut -c1-16)
tarball=$NBF_WORK/cache/$SUITE-minbase-$key.tar.zst

image_key() { podman image inspect --format '{{index .Labels "netboot-fleet.key"}}' "$NBF_IMAGE" 2>/dev/null || true; }
if [ "$(image_key)" = "$key" ]; then
  echo "image $NBF_IMAGE is up to date (key $key)"
  exit 0
fi

build_rootfs() {
  local mirror rootfs=$NBF_WORK/rootfs-$key
  mirror=${NBF_DEBIAN_MIRROR:-$(debian_mirror "$SUITE")}
  echo "debootstrap $SUITE from $mirror into $rootfs"
  # shellcheck disable=SC2064 # expand now: the trap must clean this rootfs even if $rootfs changes
  trap "unmount_under '$rootfs'" EXIT
  unmount_under "$rootfs"
  rm -rf "$rootfs"
  mkdir -p "$NBF_WORK/cache/debs"
  # Two stages so that policy-rc.d is in place before any maintainer script runs: the chroot
  # shares the host's network, and a daemon started there would bind the host's ports.
  debootstrap --foreign --variant=minbase --cache-dir="$NBF_WORK/cache/debs" \
    --include="$packages" "$SUITE" "$rootfs" "$mirror"
  printf '#!/bin/sh\n# image build: start no daemon\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  chroot "$rootfs" /debootstrap/debootstrap --second-stage
  unmount_under "$rootfs"

  local unit
  for unit in "${DISABLED_UNITS[@]}"; do
    if [ -e "$rootfs/lib/systemd/system/$unit.service" ]; then
      chroot "$rootfs" systemctl disable --quiet "$unit.service"
    fi
  done
  chroot "$rootfs" apt-get clean
  rm -f "$rootfs/usr/sbin/policy-rc.d"
  # Empty machine-id: systemd makes a fresh one per container.
  : >"$rootfs/etc/machine-id"
  rm -f "$rootfs/var/lib/dbus/machine-id"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  mkdir -p "$rootfs/var/lib/apt/lists/partial"
  # The lists are empty; an mtime of "now" would make apt's cache_valid_time skip the update
  # that a role with network access needs before installing anything new.
  touch -d 2000-01-01 "$rootfs/var/lib/apt/lists"

  pack_rootfs "$rootfs" "$tarball"
  trap - EXIT
}

# One build at a time: scenarios of several developers may start together on a cold machine.
mkdir -p "$NBF_WORK"
exec 9>"$NBF_WORK/image-build.lock"
flock 9
if [ "$(image_key)" = "$key" ]; then
  echo "image $NBF_IMAGE is up to date (key $key)"
  exit 0
fi
if [ ! -s "$tarball" ]; then
  build_rootfs
  echo "rootfs built and cached in $SECONDS s: $tarball"
fi
import_rootfs "$tarball" "$NBF_IMAGE" "$key" '["/sbin/init"]'
