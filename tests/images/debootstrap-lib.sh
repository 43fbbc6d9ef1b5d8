# shellcheck shell=bash
# Source this: the helpers both image builds (build.sh, netbox/build.sh) share.

# debian_mirror SUITE: the Debian mirror this host already uses, the first apt source serving SUITE main.
debian_mirror() {
  python3 - "$1" <<'PY'
import glob, re, sys
suite = sys.argv[1]
def entries():
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", open(path).read()):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            if "deb" in fields.get("Types", "").split() and fields.get("Enabled", "yes") != "no":
                for uri in fields.get("URIs", "").split():
                    yield uri, fields.get("Suites", "").split(), fields.get("Components", "").split()
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        for line in open(path):
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 4 and words[0] == "deb":
                yield words[1], [words[2]], words[3:]
for uri, suites, components in entries():
    if suite in suites and "main" in components:
        print(uri)
        break
else:
    sys.exit(f"no apt source serves '{suite} main'; set NBF_DEBIAN_MIRROR")
PY
}

# unmount_under DIR: every mount below DIR.
unmount_under() {
  local mnt
  # Deepest first; debootstrap's second stage mounts /proc and /sys inside the rootfs.
  for mnt in $(findmnt -rn -o TARGET | grep -F "$1/" | sort -r); do
    umount -l "$mnt"
  done
}

# pack_rootfs ROOTFS TARBALL: the rootfs as a zstd tarball (written atomically), then the rootfs removed.
pack_rootfs() {
  mkdir -p "$(dirname "$2")"
  tar -C "$1" --numeric-owner -c . | zstd -q -T0 -o "$2.tmp"
  mv -f "$2.tmp" "$2"
  rm -rf "$1"
}

# import_rootfs TARBALL IMAGE KEY CMD: the tarball imported as IMAGE, labelled with its cache KEY.
import_rootfs() {
  echo "importing $1 as $2"
  zstd -dc "$1" | podman import --change "CMD $4" --change "LABEL netboot-fleet.key=$3" - "$2" >/dev/null
  # The previous import under this tag, if any, is left untagged: drop it unless a container uses it.
  podman image prune -f >/dev/null
  echo "image $2 imported (key $3), $SECONDS s in all"
}
