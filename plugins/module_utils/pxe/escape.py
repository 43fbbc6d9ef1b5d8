# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the boot files can hold: the renderer's own guard, whatever the loader let through.

Every value a template gets goes into iPXE and pxelinux scripts, GRUB configurations, preseed and kickstart
files and autoinstall YAML, each with a syntax of its own: a line break adds a line (a `shell` in iPXE, a
`late_command` in preseed, a `%post` in kickstart), a space adds a kickstart option, a quote or backslash ends a
YAML string the templates quote by hand, `&&`/`||` chain iPXE commands and `${...}` expands iPXE settings.
No escaping is common to all of them, so values are refused, not escaped (GRUB's kernel arguments, which may
hold spaces and quotes, are quoted by render.grub_args):

- words (names, addresses, MACs, URLs, paths, the disk, package names): WORD_RE, not starting with '%' or '-';
- kernel arguments (a profile's cmdline): one line (BOOT_ARGS_UNSAFE_RE);
- anything else a template may read (labels): one line.

The loader refuses the same values first (sot/checks.py imports these patterns); this module is the defence
that holds when a renderer is called with values that did not come through it.
"""

from __future__ import annotations

import re

# Letters, digits and the punctuation of URLs, GRUB paths ("(http,host)/path") and IPv6 literals in brackets.
WORD_CHARS = r"A-Za-z0-9._:/@+%=,~?\[\]()-"
WORD_RE = re.compile(r"(?![%%-])[%s]+\Z" % WORD_CHARS)
# Line breaks of any syntax (C0 controls, DEL, and the NEL and Unicode separators YAML breaks lines at).
LINE_BREAK_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
# Kernel arguments: one line, and not iPXE's command chaining or settings expansion.
BOOT_ARGS_UNSAFE_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]|&&|\\|\\||\\$\\{")

# Template values by kind. The other names a template gets are the renderer's own (layout, numbers, None).
WORDS = ("name", "hostname", "domain", "fqdn", "mac", "mac_dashes", "ipv4", "ipv6", "ipv4_gateway", "ipv4_netmask",
         "ipv6_gateway", "network", "profile", "installer", "firmware", "rack", "disk", "http_url", "kernel_url",
         "initrd_url", "kernel_grub", "initrd_grub", "answer_url", "http_url_ipv4", "http_url_ipv6", "script_dir")
WORD_LISTS = ("packages", "dns_servers")
BOOT_ARGS = ("cmdline", "kernel_args")


class UnsafeValue(ValueError):
    """A value its boot file syntax cannot hold: .field names it."""

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message))
        self.field = field


def shown(value) -> str:
    """value as written in a report: ASCII, bounded."""
    text = value if type(value) is str and WORD_RE.match(value) and len(value) <= 80 else ascii(value)
    return text if len(text) <= 80 else "%s... (%d characters)" % (text[:60], len(value))


def check_word(field, value):
    """A word, or nothing (None, or "" where the renderer gives an unset value as empty text)."""
    if value is not None and (type(value) is not str or value and not WORD_RE.match(value)):
        refuse_word(field, value)


def refuse_word(field, value):
    raise UnsafeValue(field, "%s cannot be written into a boot file (letters, digits and %s only; not starting "
                             "with '%%' or '-')" % (shown(value), "._:/@+%=,~?[]()-"))


def check_values(values: dict):
    """Raise UnsafeValue for the first value of a template context (or part of one) its boot files cannot hold."""
    for field in WORDS:
        if field in values:
            check_word(field, values[field])
    for field in WORD_LISTS:
        for index, value in enumerate(values.get(field) or ()):
            check_word("%s[%d]" % (field, index), value)
    for field in BOOT_ARGS:
        value = values.get(field)
        if value is not None and (type(value) is not str or BOOT_ARGS_UNSAFE_RE.search(value)):
            raise UnsafeValue(field, "%s cannot be written into a boot script (a line break or control character, "
                                     "'&&', '||' or '${')" % shown(value))
    for key, value in (values.get("labels") or {}).items():
        if type(key) is not str or not WORD_RE.match(key):
            raise UnsafeValue("labels", "label name %s cannot be written into a boot file" % shown(key))
        if type(value) is str and LINE_BREAK_RE.search(value):
            raise UnsafeValue("labels." + key, "%s holds a line break or control character" % shown(value))


# A machine's six words (name, MAC, firmware, IPv4, IPv6, rack; "_" for none) in one line: one match per machine.
# A value holding a space or any other character of no word makes the line fail to match.
_MACHINE_WORDS_RE = re.compile(" ".join([r"(?![%%-])[%s]+" % WORD_CHARS] * 6) + r"\Z")


def check_machine(machine):
    """check_values for what a machine adds to its group's values. The hot path: one match per machine, the
    field named only when it fails."""
    if not _MACHINE_WORDS_RE.match("%s %s %s %s %s %s" % (
            machine.name, machine.mac, machine.firmware, machine.ipv4 or "_", machine.ipv6 or "_", machine.rack or "_")):
        for field in ("name", "mac", "firmware", "ipv4", "ipv6", "rack"):
            value = getattr(machine, field)
            if value is not None and (type(value) is not str or not WORD_RE.match(value)):
                refuse_word(field, value)
    if machine.labels:
        check_values({"labels": machine.labels})
