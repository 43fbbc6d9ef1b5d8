#!/usr/bin/env bash
# Execution environment (execution-environment.yml, ansible-builder 3), offline:
#   scripts/ee.sh create   stage the collection tarballs in build/ee/collections, `ansible-builder create`
#                          (build context in build/ee/context)
#   scripts/ee.sh build    create, then the Debian 12 base image (debootstrap, no registry), the EE image
#                          and `ansible-runner` with that image on the embedded SoT (bringup.yml --tags validate)
# Both images are cached: the base by its recipe (rootfs tarball under $NBF_WORK/cache), the EE by a key
# of its build context (the collections by their MANIFEST.json, which lists every file's checksum).
# Podman uses the project's storage (tests/images/podman-env.sh); the images have names of their own.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
mode=${1:-build}
NBF_IMAGE=localhost/netboot-fleet-ee-base:latest
# shellcheck source=tests/images/podman-env.sh
. tests/images/podman-env.sh
EE_IMAGE=localhost/netboot-fleet-ee:latest
STAGE=$REPO/build/ee
DEV_PYTHON=${DEV_PYTHON:-$REPO/.venv/bin/python}

# 1. The tarballs: netboot.fleet built from this checkout; the collections it depends on are the released
#    copies the pinned `ansible` package bundles (installed form = an extracted release tarball, with its
#    MANIFEST.json and FILES.json), packed again because Galaxy is not reachable here.
rm -rf "$STAGE/collections" && mkdir -p "$STAGE/collections"
ansible-galaxy collection build --force --output-path "$STAGE/collections" . >/dev/null
mv "$STAGE"/collections/netboot-fleet-*.tar.gz "$STAGE/collections/netboot-fleet.tar.gz"
"$DEV_PYTHON" - "$STAGE/collections" containers.podman community.postgresql <<'PY'
import hashlib, importlib, io, json, os, sys, tarfile
# A Galaxy artifact again: MANIFEST.json and FILES.json at the top. The `ansible` package leaves some
# released files out (tests/): FILES.json keeps the entries that are there, each checked against its
# released checksum, and MANIFEST.json gets FILES.json's new checksum.
def sha256(path):
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()
for name in sys.argv[2:]:
    root = list(importlib.import_module("ansible_collections." + name).__path__)[0]
    with open(os.path.join(root, "FILES.json")) as stream:
        files = json.load(stream)
    kept = []
    for entry in files["files"]:
        path = os.path.join(root, entry["name"])
        if entry["ftype"] == "dir" and os.path.isdir(path) or entry["name"] == ".":
            kept.append(entry)
        elif entry["ftype"] == "file" and os.path.isfile(path):
            assert sha256(path) == entry["chksum_sha256"], path
            kept.append(entry)
    files_json = json.dumps(dict(files, files=kept), indent=4).encode()
    with open(os.path.join(root, "MANIFEST.json")) as stream:
        manifest = json.load(stream)
    manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_json).hexdigest()
    with tarfile.open(os.path.join(sys.argv[1], name.replace(".", "-") + ".tar.gz"), "w:gz") as archive:
        for member, data in (("MANIFEST.json", json.dumps(manifest, indent=4).encode()), ("FILES.json", files_json)):
            info = tarfile.TarInfo(member)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
        for entry in kept:
            if entry["name"] != ".":
                archive.add(os.path.join(root, entry["name"]), arcname=entry["name"], recursive=False)
PY

rm -rf "$STAGE/context"
ansible-builder create -f execution-environment.yml -c "$STAGE/context" >/dev/null
echo "ee: build context in $STAGE/context ($(find "$STAGE/context" -type f | wc -l) files)"
[ "$mode" = create ] && exit 0
[ "$mode" = build ] || { echo "usage: $0 create|build" >&2; exit 2; }

# 2. The base image: Debian 12 minbase with Python, pip and venv (ansible-builder's requirements), ssh.
started=$SECONDS
RECIPE=1
SUITE=bookworm
BASE_PACKAGES=ca-certificates,openssh-client,python3,python3-pip,python3-venv
base_key=$(printf '%s\n%s\n%s\n' "$RECIPE" "$SUITE" "$BASE_PACKAGES" | sha256sum | cut -c1-16)
label() { podman image inspect --format "{{index .Labels \"$2\"}}" "$1" 2>/dev/null || true; }
mkdir -p "$NBF_WORK/cache"
exec 9>"$NBF_WORK/ee-build.lock"
flock 9
if [ "$(label "$NBF_IMAGE" netboot-fleet.key)" != "$base_key" ]; then
  tarball=$NBF_WORK/cache/ee-base-$SUITE-$base_key.tar.zst
  if [ ! -s "$tarball" ]; then
    rootfs=$NBF_WORK/ee-rootfs-$base_key
    mirror=${NBF_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)}
    mirror=${mirror:-$(awk '$1 == "deb" && $3 == "'$SUITE'" {print $2; exit}' /etc/apt/sources.list)}
    echo "ee: debootstrap $SUITE from $mirror"
    rm -rf "$rootfs"
    mkdir -p "$NBF_WORK/cache/debs" "$STAGE"
    # One stage: these packages start no daemon (no policy-rc.d needed), and the mounts are undone below.
    debootstrap --variant=minbase --cache-dir="$NBF_WORK/cache/debs" --include="$BASE_PACKAGES" \
      "$SUITE" "$rootfs" "$mirror" >"$STAGE/debootstrap.log" 2>&1 || { tail -20 "$STAGE/debootstrap.log"; exit 1; }
    for mnt in $(findmnt -rn -o TARGET | grep -F "$rootfs/" | sort -r); do umount -l "$mnt"; done
    chroot "$rootfs" apt-get clean
    : >"$rootfs/etc/machine-id"
    tar -C "$rootfs" --numeric-owner -c . | zstd -q -T0 -o "$tarball.tmp"
    mv -f "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  zstd -dc "$tarball" | podman import --change "LABEL netboot-fleet.key=$base_key" - "$NBF_IMAGE" >/dev/null 2>&1
  echo "ee: base image $NBF_IMAGE (key $base_key) in $((SECONDS - started)) s"
else
  echo "ee: base image $NBF_IMAGE is up to date (key $base_key)"
fi

# 3. The EE image, keyed by its build context (each collection tarball by its MANIFEST.json) and base.
started=$SECONDS
ee_key=$(
  cd "$STAGE/context"
  echo "$base_key"
  find . -type f ! -name '*.tar.gz' | sort | xargs sha256sum
  "$DEV_PYTHON" - _build/collections/*.tar.gz <<'PY'
import sys, tarfile
for path in sys.argv[1:]:
    with tarfile.open(path) as archive:
        (member,) = [m for m in archive.getmembers() if m.name.lstrip("./") == "MANIFEST.json"]
        print(path, archive.extractfile(member).read().decode())
PY
)
ee_key=$(printf '%s' "$ee_key" | sha256sum | cut -c1-16)
if [ "$(label "$EE_IMAGE" netboot-fleet.ee-key)" != "$ee_key" ]; then
  # pip in the build reaches PyPI the way this host does: with the host's trust store (mounted for the
  # build's RUN steps only, so a TLS proxy the host trusts works; nothing of it stays in the image).
  ca_mount="--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro"
  ansible-builder build -f execution-environment.yml -c "$STAGE/context" -t "$EE_IMAGE" --container-runtime podman \
    --extra-build-cli-args "--network host --label netboot-fleet.ee-key=$ee_key $ca_mount" -v 1 >"$STAGE/build.log" 2>&1 ||
    { tail -40 "$STAGE/build.log"; exit 1; }
  podman image prune -f >/dev/null
  echo "ee: built $EE_IMAGE (key $ee_key) in $((SECONDS - started)) s; $(podman image inspect --format '{{.Size}}' "$EE_IMAGE") bytes"
else
  echo "ee: $EE_IMAGE is up to date (key $ee_key)"
fi
flock -u 9

# 4. ansible-runner with the image: bringup.yml --tags validate on the embedded SoT.
started=$SECONDS
pdd=$(mktemp -d "$NBF_WORK/ee-runner.XXXXXX")
trap 'rm -rf "$pdd"' EXIT
mkdir -p "$pdd/project" "$pdd/env" "$pdd/artifacts"
cp -r inventory "$pdd/inventory"
printf -- '---\n- name: The bring-up playbook of the installed collection\n  ansible.builtin.import_playbook: netboot.fleet.bringup\n' \
  >"$pdd/project/validate.yml"
# The image's own collections only: the checkout's ansible.cfg and collections are not mounted.
printf -- '---\nANSIBLE_INVENTORY_ENABLED: netboot.fleet.sot,host_list,yaml\nANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED: "true"\nANSIBLE_INVENTORY_IGNORE_REGEX: ^sot$\nANSIBLE_NOCOLOR: "1"\n' \
  >"$pdd/env/envvars"
# Podman runs as root here: the artifact directories ansible-runner makes (root, 0700) are readable in
# the container only by its root user, hence --user=root (AWX/AAP and ansible-navigator run the image
# rootless, where the user mapping gives the image's user 1000 access).
ansible-runner run "$pdd" -p validate.yml --cmdline "--tags validate -e bringup_report_dir=/runner/artifacts/reports" \
  --process-isolation --process-isolation-executable podman --container-image "$EE_IMAGE" \
  --container-option=--network=host --container-option=--pull=never --container-option=--user=root >"$pdd/stdout.txt" 2>&1 ||
  { cat "$pdd/stdout.txt"; exit 1; }
grep -q "4 machines, DHCP nodes dhcp-a1, dhcp-a2" "$pdd/stdout.txt" || { cat "$pdd/stdout.txt"; exit 1; }
grep -q "failed=0" "$pdd/stdout.txt" || { cat "$pdd/stdout.txt"; exit 1; }
# A plain run is quiet: no warning of any kind (e.g. cryptography's DSA deprecation).
if grep -i "warning" "$pdd/stdout.txt"; then exit 1; fi
collections=$(podman run --rm --network host "$EE_IMAGE" ansible-galaxy collection list 2>/dev/null |
  awk '$1 ~ /^(netboot|containers|community)\./ {printf "%s%s %s", sep, $1, $2; sep=", "}')
echo "ee: ansible-runner in $EE_IMAGE: bringup.yml --tags validate passed in $((SECONDS - started)) s ($collections)"
