"""Directories under shared places: made, checked and fixed before the controller writes into them."""

import os
import stat

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.safe_dir import UnsafeDirectory, ensure_dir

OTHER_UID = 65534  # nobody


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_made_with_its_mode(tmp_path):
    path = ensure_dir(str(tmp_path / "a" / "b"))
    assert mode_of(path) == 0o700


def test_our_world_writable_directory_is_fixed(tmp_path):
    path = tmp_path / "cache"
    path.mkdir()
    path.chmod(0o777)
    ensure_dir(str(path))
    assert mode_of(path) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_a_directory_another_user_made_is_refused(tmp_path):
    path = tmp_path / "cache"
    path.mkdir()
    os.chown(path, OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeDirectory, match="owned by uid %d" % OTHER_UID):
        ensure_dir(str(path))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a link to another user")
def test_a_link_another_user_put_in_its_place_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "cache")
    os.lchown(tmp_path / "cache", OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeDirectory, match="owned by uid %d" % OTHER_UID):
        ensure_dir(str(tmp_path / "cache"))


def test_a_parent_others_may_write_is_refused_unless_sticky(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UnsafeDirectory, match="may be written by other users"):
        ensure_dir(str(shared / "reports"))
    shared.chmod(0o1777)  # like /var/tmp
    assert ensure_dir(str(shared / "reports"), 0o755) == str(shared / "reports")
