# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot layout: every file name, URL path and log format a machine's boot goes through, written once.

The Kea renderer (boot files, script URLs), the PXE renderer and its templates (paths, the entry script's
chain), the asset sync (what it owns and may prune), the observers (which request is which step) and the
roles (through the netboot.fleet.boot_layout lookup: the nginx log format, the boot loaders) all read it here.

  TFTP root   <loader>                            undionly.kpxe (BIOS), snponly.efi (UEFI), pxelinux.0, ...
              pxelinux.cfg/01-<mac-with-dashes>   BIOS machines (firmware bios)
              grub/grub.cfg-01-<mac-with-dashes>  UEFI machines that PXE-boot (firmware uefi)
  HTTP root   ipxe/boot.ipxe                      entry script, chains to ipxe/${net0/mac}.ipxe
              ipxe/<mac>.ipxe                     the machine's own script (MAC in lower-case colon form)
              installer/<name>/<file>             answer files (preseed.cfg, ks.cfg, user-data + meta-data, install.conf)
              callback/<name>/<token>/<phase>     install-done (installed) and first-boot (booted) callbacks:
                                                  nothing is stored there, the access log is the record
"""

from __future__ import annotations

import re

TFTP = "tftp"
HTTP = "http"

# Boot loaders from Debian's ipxe and pxelinux packages, at the top of the TFTP root (and HTTP root for UEFI HTTP).
BOOT_FILE_BIOS = "undionly.kpxe"
BOOT_FILE_UEFI = "snponly.efi"
HTTP_BOOT_FILE = "snponly.efi"
LOADER_FILES = ("undionly.kpxe", "snponly.efi", "ipxe.efi", "pxelinux.0", "lpxelinux.0", "grubx64.efi")

SCRIPT_DIR = "ipxe"
ENTRY_SCRIPT = SCRIPT_DIR + "/boot.ipxe"
ANSWER_DIR = "installer"
PXELINUX_DIR = "pxelinux.cfg"
GRUB_DIR = "grub"
# installer -> ((file name under installer/<name>/, template), ...). The first is the answer
# file a profile's own `template` replaces.
INSTALLER_FILES = {
    "preseed": (("preseed.cfg", "preseed.cfg"),),
    "kickstart": (("ks.cfg", "kickstart.cfg"),),
    "autoinstall": (("user-data", "autoinstall-user-data"), ("meta-data", "autoinstall-meta-data")),
    "minimal": (("install.conf", "minimal.conf"),),
}
# The minimal installer (lab/minimal_installer.py) writes this image (gzip), served beside its kernel, to the disk.
MINIMAL_IMAGE = "disk.img.gz"
CALLBACK_DIR = "callback"
CALLBACK_PHASES = ("installed", "booted")

# What the asset sync may prune: (root, directory, file-name pattern or None for everything).
# pxelinux.cfg/ and grub/ also hold the operator's own files (default, grub.cfg): only ours go.
OWNED = (
    (TFTP, PXELINUX_DIR, re.compile(r"^01-")),
    (TFTP, GRUB_DIR, re.compile(r"^grub\.cfg-01-")),
    (HTTP, SCRIPT_DIR, None),
    (HTTP, ANSWER_DIR, None),
)

# The pxe_server role's nginx access-log format: millisecond times first, read back by bringup.events.
# c=OK when nginx sent the whole answer, c= when the client went away first (an incomplete fetch).
NGINX_LOG_FORMAT = '$msec $remote_addr "$request" $status $body_bytes_sent "$http_user_agent" c=$request_completion'


def script_path(mac: str) -> str:
    """The machine's own iPXE script, the form iPXE's ${net0/mac} expands to."""
    return "%s/%s.ipxe" % (SCRIPT_DIR, mac.lower())


def mac_dashes(mac: str) -> str:
    """52:54:00:ab:00:01 -> 52-54-00-ab-00-01, as pxelinux and GRUB look for a MAC's config."""
    return mac.lower().replace(":", "-")


def pxelinux_config_path(mac: str) -> str:
    return "%s/01-%s" % (PXELINUX_DIR, mac_dashes(mac))


def grub_config_path(mac: str) -> str:
    return "%s/grub.cfg-01-%s" % (GRUB_DIR, mac_dashes(mac))


def answer_dir(name: str) -> str:
    return "%s/%s" % (ANSWER_DIR, name)


def callback_base(name: str, token: str) -> str:
    """callback/<name>/<token>: the installer appends /installed, the installed system /booted."""
    return "%s/%s/%s" % (CALLBACK_DIR, name, token)


# Which request is which boot step (bringup.events): paths as the HTTP log has them, without the leading slash.
SCRIPT_PATH_RE = re.compile(r"(?:^|/)%s/([0-9a-f]{2}(?::[0-9a-f]{2}){5})\.ipxe$" % re.escape(SCRIPT_DIR))
ENTRY_PATH_RE = re.compile(r"(?:^|/)%s$" % re.escape(ENTRY_SCRIPT))
ANSWER_PATH_RE = re.compile(r"(?:^|/)%s/([^/]+)/[^/]+$" % re.escape(ANSWER_DIR))
CALLBACK_PATH_RE = re.compile(r"(?:^|/)%s/([^/]+)/([^/]*)/(%s)$" % (re.escape(CALLBACK_DIR), "|".join(CALLBACK_PHASES)))
