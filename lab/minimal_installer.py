"""The lab's minimal installer: Debian's installer kernel, a busybox initramfs, and the disk image it writes.

    python3 lab/minimal_installer.py [--dest DIR]     # prints the JSON of the built files (cached)

Files (in <NBF_WORK>/minimal-installer/<digest of the inputs>/, built once):
  linux      the kernel of debian-installer-12-netboot-amd64 (the same the debian12 profile boots)
  initrd.gz  busybox-static + lab/minimal_installer/init + the virtio/e1000 modules of that kernel (from the
             matching linux-image package, `apt-get download`: the installer's initrd carries no disk driver)
             + dhcpcd (dhcpcd-base, `apt-get download`) for DHCPv6, which busybox-static lacks
  disk.img.gz  what the installer writes to the machine's disk: an MBR (syslinux) and one FAT partition with
             syslinux (BIOS) and a standalone GRUB as EFI/BOOT/BOOTX64.EFI (UEFI), both booting the same
             kernel and initrd in system mode, which calls back "booted" with the identity the installer
             left after the MBR.
The profile `minimal` of the lab's SoT points at them (served by the nodes: pxe_server_installer_files).
"""

import argparse
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "minimal_installer")
STATE_ROOT = os.environ.get("NBF_WORK", "/var/tmp/netboot-fleet")
DI_DIR = "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64"
DI_KERNEL = os.path.join(DI_DIR, "linux")
DI_INITRD = os.path.join(DI_DIR, "initrd.gz")
BUSYBOX = "/bin/busybox"
SYSLINUX_MBR = "/usr/lib/syslinux/mbr/mbr.bin"
MODULES = ("kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_ring.ko",
           "kernel/drivers/virtio/virtio_pci_modern_dev.ko", "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
           "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/block/virtio_blk.ko", "kernel/net/core/failover.ko",
           "kernel/drivers/net/net_failover.ko", "kernel/drivers/net/virtio_net.ko",
           "kernel/drivers/net/ethernet/intel/e1000/e1000.ko")
PARTITION_MIB = 24
SYSLINUX_CFG = """DEFAULT system
PROMPT 0
TIMEOUT 0
LABEL system
    KERNEL /nbf/linux
    INITRD /nbf/initrd.gz
    APPEND console=ttyS0 nbf.mode=system
"""
GRUB_CFG = """set timeout=0
search --no-floppy --set=root --file /nbf/linux
linux /nbf/linux console=ttyS0 nbf.mode=system
initrd /nbf/initrd.gz
boot
"""
TOOLS = {"mkfs.vfat": "dosfstools", "mcopy": "mtools", "syslinux": "syslinux",
         "grub-mkstandalone": "grub-common", "dpkg-deb": "dpkg", "apt-get": "apt"}


class BuildError(Exception):
    pass


def run(argv, **kwargs):
    result = subprocess.run(argv, check=False, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise BuildError("%s failed (rc=%d): %s" % (" ".join(argv), result.returncode, result.stderr.strip()[-1500:]))
    return result.stdout


def kernel_release(path):
    with open(path, "rb") as kernel:
        match = re.search(rb"(\d+\.\d+\.\d+-\d+-amd64) \(", kernel.read())
    if not match:
        raise BuildError("%s: no kernel release found in it" % path)
    return match.group(1).decode()


def missing():
    absent = ["%s (%s)" % (tool, package) for tool, package in sorted(TOOLS.items()) if not shutil.which(tool)]
    absent += [path for path in (DI_KERNEL, BUSYBOX, SYSLINUX_MBR, "/usr/lib/grub/x86_64-efi/linux.mod") if not os.path.exists(path)]
    return absent


def digest():
    hasher = hashlib.sha256()
    for path in [os.path.abspath(__file__)] + sorted(glob.glob(os.path.join(SOURCE, "*"))) + [DI_KERNEL, BUSYBOX]:
        with open(path, "rb") as source:
            hasher.update(path.encode() + b"\0" + source.read())
    return hasher.hexdigest()[:16]


def package_tree(package, work):
    """The files of Debian package `package` (downloaded once into the cache), unpacked in work/<package>."""
    cache = os.path.join(STATE_ROOT, "cache", "debs")
    os.makedirs(cache, exist_ok=True)
    debs = glob.glob(os.path.join(cache, "%s_*.deb" % package))
    if not debs:
        run(["apt-get", "download", package], cwd=cache)
        debs = glob.glob(os.path.join(cache, "%s_*.deb" % package))
    if not debs:
        raise BuildError("apt-get download %s gave no package" % package)
    root = os.path.join(work, package)
    run(["dpkg-deb", "-x", sorted(debs)[-1], root])
    return root


def modules(release, work):
    """The listed modules of the kernel's own linux-image package."""
    root = package_tree("linux-image-%s" % release, work)
    return [os.path.join(root, "lib", "modules", release, module) for module in MODULES]


def add_dhcpv6_client(tree, work):
    """Debian's dhcpcd as /sbin/dhcpcd (busybox has no DHCPv6 client), with the C library it links."""
    binary = os.path.join(package_tree("dhcpcd-base", work), "usr", "sbin", "dhcpcd")
    shutil.copy(binary, os.path.join(tree, "sbin", "dhcpcd"))
    for library in re.findall(r"(/\S+) \(0x", run(["ldd", binary])):
        target = os.path.join(tree, library.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(library, target)


def build_initrd(release, work, dest):
    tree = os.path.join(work, "initrd")
    for directory in ("bin", "sbin", "etc", "lib/modules", "dev"):
        os.makedirs(os.path.join(tree, directory), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(tree, "bin", "busybox"))
    os.symlink("busybox", os.path.join(tree, "bin", "sh"))  # /init's interpreter, before busybox --install
    shutil.copy(os.path.join(SOURCE, "init"), os.path.join(tree, "init"))
    shutil.copy(os.path.join(SOURCE, "udhcpc.script"), os.path.join(tree, "etc", "udhcpc.script"))
    for path in (os.path.join(tree, "init"), os.path.join(tree, "etc", "udhcpc.script")):
        os.chmod(path, 0o755)
    for module in modules(release, work):
        shutil.copy(module, os.path.join(tree, "lib", "modules", os.path.basename(module)))
    add_dhcpv6_client(tree, work)
    names = run(["find", "."], cwd=tree)
    archive = subprocess.run([BUSYBOX, "cpio", "-o", "-H", "newc"], input=names.encode(), cwd=tree,
                             capture_output=True, check=True).stdout
    with gzip.open(dest, "wb", compresslevel=9) as out:
        out.write(archive)


def build_disk(kernel, initrd, work, dest):
    part = os.path.join(work, "part.img")
    with open(part, "wb") as out:
        out.truncate(PARTITION_MIB << 20)
    run(["mkfs.vfat", "-F", "16", "-n", "NBFSYSTEM", part])
    with open(os.path.join(work, "syslinux.cfg"), "w") as out:
        out.write(SYSLINUX_CFG)
    with open(os.path.join(work, "grub.cfg"), "w") as out:
        out.write(GRUB_CFG)
    grub = os.path.join(work, "BOOTX64.EFI")
    run(["grub-mkstandalone", "-O", "x86_64-efi", "-o", grub, "--locales=", "--themes=", "--fonts=",
         "--install-modules=linux normal search search_fs_file part_msdos fat boot echo configfile",
         "--modules=part_msdos fat", "boot/grub/grub.cfg=" + os.path.join(work, "grub.cfg")])
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    run(["mmd", "-i", part, "::/nbf", "::/EFI", "::/EFI/BOOT"], env=env)
    for source, target in ((kernel, "::/nbf/linux"), (initrd, "::/nbf/initrd.gz"),
                           (os.path.join(work, "syslinux.cfg"), "::/syslinux.cfg"), (grub, "::/EFI/BOOT/BOOTX64.EFI")):
        run(["mcopy", "-i", part, source, target], env=env)
    run(["syslinux", "--install", part])
    with open(dest, "wb") as out:
        out.truncate((1 + PARTITION_MIB) << 20)
    # One active partition at 1 MiB, type EF (EFI system): SeaBIOS runs the MBR, OVMF finds BOOTX64.EFI.
    # CHS fields say "use the LBA ones" (FE FF FF), as every current partitioner writes them.
    entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0xEF, b"\xfe\xff\xff", 2048, (PARTITION_MIB << 20) // 512)
    with open(SYSLINUX_MBR, "rb") as mbr, open(dest, "r+b") as out:
        out.write(mbr.read()[:440])
        out.seek(446)
        out.write(entry + bytes(48) + b"\x55\xaa")
        out.seek(1 << 20)
        with open(part, "rb") as source:
            shutil.copyfileobj(source, out)


def build(dest_root=None):
    """{"linux", "initrd", "image"}: paths of the built files, built once per input digest."""
    absent = missing()
    if absent:
        raise BuildError("missing on this host: %s (apt-get install debian-installer-12-netboot-amd64 "
                         "busybox-static syslinux syslinux-common mtools dosfstools grub-efi-amd64-bin)" % ", ".join(absent))
    dest = os.path.join(dest_root or os.path.join(STATE_ROOT, "minimal-installer"), digest())
    files = {"linux": os.path.join(dest, "linux"), "initrd": os.path.join(dest, "initrd.gz"),
             "image": os.path.join(dest, "disk.img.gz"), "debian_initrd": DI_INITRD}
    if all(os.path.exists(path) for path in files.values()):
        return files
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    work = tempfile.mkdtemp(prefix=".build-", dir=os.path.dirname(dest))
    try:
        staged = os.path.join(work, "out")
        os.makedirs(staged)
        shutil.copy(DI_KERNEL, os.path.join(staged, "linux"))
        build_initrd(kernel_release(DI_KERNEL), work, os.path.join(staged, "initrd.gz"))
        raw = os.path.join(work, "disk.img")
        build_disk(os.path.join(staged, "linux"), os.path.join(staged, "initrd.gz"), work, raw)
        with open(raw, "rb") as source, gzip.open(os.path.join(staged, "disk.img.gz"), "wb", compresslevel=6) as out:
            shutil.copyfileobj(source, out)
        for name in os.listdir(staged):
            os.chmod(os.path.join(staged, name), 0o644)
        if not os.path.exists(dest):  # another build may have won: its files are the same
            os.rename(staged, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--dest", help="root of the cache (default <NBF_WORK>/minimal-installer)")
    args = parser.parse_args(argv)
    try:
        print(json.dumps(build(args.dest), indent=1))
    except (BuildError, subprocess.CalledProcessError, OSError) as error:
        print("minimal installer: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
