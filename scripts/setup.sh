#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for netboot.fleet: Debian packages and a pinned virtualenv.
# Idempotent and quick on the second run: each step is skipped while its inputs are unchanged.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
STATE=${NETBOOT_FLEET_STATE:-/var/tmp/netboot-fleet}
VENV=${NETBOOT_FLEET_VENV:-$REPO/.venv}
mkdir -p "$STATE/stamps"
export DEBIAN_FRONTEND=noninteractive

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

packages=$(grep -v '^#' "$REPO/scripts/apt-packages.txt" | grep -v '^$' | sort)
apt_stamp="$STATE/stamps/apt-$(stamp "$REPO/scripts/apt-packages.txt")"
if [ ! -e "$apt_stamp" ]; then
  echo "setup: installing Debian packages"
  # Package installs must not start daemons on the host: tests start their own, in namespaces.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
  fi
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $packages >/dev/null
  touch "$apt_stamp"
fi

# cloud-init's cloud-config schema for the autoinstall checker of the tests (tests/checkers.py), taken
# from Debian's package without installing it: an installed cloud-init would run on the host's next boot.
schema="$STATE/cloud-init-schema/schema-cloud-config-v1.json"
if [ ! -e "$schema" ]; then
  echo "setup: extracting cloud-init's cloud-config schema"
  scratch=$(mktemp -d)
  (cd "$scratch" && { apt-get download -qq cloud-init 2>/dev/null \
                       || { apt-get update -qq && apt-get download -qq cloud-init 2>/dev/null; }; })
  dpkg-deb --fsys-tarfile "$scratch"/cloud-init_*.deb \
    | tar -x -C "$scratch" --wildcards '*/cloudinit/config/schemas/schema-cloud-config-v1.json'
  mkdir -p "$(dirname "$schema")"
  install -m 0644 "$scratch"/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json "$schema"
  rm -rf "$scratch"
fi

venv_stamp="$VENV/.netboot-fleet-$(stamp "$REPO/requirements.txt")"
if [ ! -e "$venv_stamp" ]; then
  echo "setup: building the virtualenv $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/requirements.txt"
  touch "$venv_stamp"
fi
echo "setup: ready ($VENV)"
