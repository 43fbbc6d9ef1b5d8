# -*- coding: utf-8 -*-
"""The SoT archive the action plugin ships and the module unpacks."""

import io
import os
import tarfile

import pytest

from pxe_testlib import ALL_KINDS_SOT
from ansible_collections.netboot.fleet.plugins.module_utils.pxe.sot_archive import pack, unpack
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot


def test_directory_roundtrip_keeps_templates_and_skips_hidden(sot_copy, tmp_path):
    (sot_copy / "site").mkdir()
    (sot_copy / "site" / "ks.j2").write_text("# {{ name }}\n")
    (sot_copy / ".git").mkdir()
    (sot_copy / ".git" / "config").write_text("x")
    archive = str(tmp_path / "sot.tar")
    pack(str(sot_copy), archive)
    root = unpack(archive, str(tmp_path / "work"))
    assert sorted(os.listdir(root)) == ["fabric.yml", "machines.yml", "networks.yml", "site"]
    assert [m.as_dict() for m in sot.load(root).machines] == [m.as_dict() for m in sot.load(ALL_KINDS_SOT).machines]


def test_single_file_roundtrip(tmp_path):
    archive = str(tmp_path / "sot.tar")
    pack(os.path.join(ALL_KINDS_SOT, "machines.yml"), archive)
    assert os.listdir(unpack(archive, str(tmp_path / "work"))) == ["machines.yml"]


@pytest.mark.parametrize("name, kind", [
    ("sot/../../evil", tarfile.REGTYPE), ("/etc/evil", tarfile.REGTYPE), ("other/x.yml", tarfile.REGTYPE),
    ("sot/link", tarfile.SYMTYPE), ("sot", tarfile.REGTYPE),
])
def test_unpack_refuses_anything_but_plain_files_under_sot(tmp_path, name, kind):
    archive = str(tmp_path / "evil.tar")
    with tarfile.open(archive, "w") as bundle:
        member = tarfile.TarInfo(name)
        member.type = kind
        member.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
        bundle.addfile(member, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    with pytest.raises(ValueError, match="unexpected member"):
        unpack(archive, str(tmp_path / "work"))
    assert not os.path.exists(str(tmp_path / "evil"))
