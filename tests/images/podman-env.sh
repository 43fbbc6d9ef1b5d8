# shellcheck shell=bash
# Source this to point podman at the project's configuration and storage:
#   . tests/images/podman-env.sh && podman images
# Storage (images, containers) lives under $NBF_WORK/podman, never in /var/lib/containers.
NBF_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NBF_WORK=${NBF_WORK:-/var/tmp/netboot-fleet}
NBF_IMAGE=${NBF_IMAGE:-localhost/netboot-fleet-debian12:latest}
export NBF_REPO NBF_WORK NBF_IMAGE
export CONTAINERS_CONF=$NBF_REPO/.ci/podman/containers.conf
export CONTAINERS_STORAGE_CONF=$NBF_WORK/podman/storage.conf
mkdir -p "$NBF_WORK/podman"
# The paths depend on NBF_WORK, so the file is generated; replaced atomically because a podman
# reading a half-written file would silently fall back to the host's /var/lib/containers.
printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' \
  "$NBF_WORK/podman/root" "$NBF_WORK/podman/run" >"$CONTAINERS_STORAGE_CONF.$$"
if cmp -s "$CONTAINERS_STORAGE_CONF.$$" "$CONTAINERS_STORAGE_CONF"; then
  rm -f "$CONTAINERS_STORAGE_CONF.$$"
else
  mv -f "$CONTAINERS_STORAGE_CONF.$$" "$CONTAINERS_STORAGE_CONF"
fi
