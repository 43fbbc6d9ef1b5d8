# -*- coding: utf-8 -*-
"""The asset sync: atomic writes, no rewrite of unchanged files, pruning only what it owns."""

import dataclasses
import os

import pytest

from pxe_testlib import render_tree
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import sync as asset_sync
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import layout
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe


def snapshot(roots):
    """{path below the roots: (mtime_ns, inode, content)} of every file."""
    files = {}
    for name, root in roots.items():
        for current, _dirs, names in os.walk(root):
            for file_name in names:
                path = os.path.join(current, file_name)
                info = os.lstat(path)
                with open(path, "rb") as handle:
                    files["%s:%s" % (name, os.path.relpath(path, root))] = (info.st_mtime_ns, info.st_ino, handle.read())
    return files


def run(source, roots, state_file, **options):
    renderer = render_tree(source, **{k: options.pop(k) for k in ("http_url", "loaders") if k in options})
    return asset_sync.sync(roots, layout.OWNED, renderer.units(), state_file=state_file, **options), renderer


def remove_machine(sot_dir, name):
    path = sot_dir / "machines.yml"
    blocks = path.read_text().split("\n  - name: ")
    path.write_text("\n  - name: ".join(block for block in blocks if not block.startswith(name + "\n")))


def test_first_run_writes_the_rendered_tree(sot_copy, roots, tmp_path):
    result, renderer = run(sot_copy, roots, str(tmp_path / "state.json"))
    tree = renderer.render_all()
    assert result.changed and result.counts["added"] == len(tree) and result.counts["removed"] == 0
    on_disk = snapshot(roots)
    assert {key: value[2] for key, value in on_disk.items()} == \
        {"%s:%s" % key: data for key, data in tree.items()}
    mode = os.stat(os.path.join(roots["http"], "ipxe", "boot.ipxe")).st_mode & 0o777
    assert mode == 0o644
    assert not any(asset_sync.TEMP_MARK in key for key in on_disk)


def test_second_run_changes_nothing_and_touches_no_file(sot_copy, roots, tmp_path):
    state = str(tmp_path / "state.json")
    run(sot_copy, roots, state)
    before, state_mtime = snapshot(roots), os.stat(state).st_mtime_ns
    result, _renderer = run(sot_copy, roots, state)
    assert not result.changed
    assert result.counts == {"added": 0, "changed": 0, "removed": 0, "unchanged": len(before)}
    assert result.units_rendered == 0       # the manifest proved every unit unchanged
    assert snapshot(roots) == before        # same mtimes, same inodes, same bytes
    assert os.stat(state).st_mtime_ns == state_mtime


def test_without_a_manifest_unchanged_files_are_compared_not_rewritten(sot_copy, roots, tmp_path):
    run(sot_copy, roots, str(tmp_path / "state.json"))
    before = snapshot(roots)
    result, _renderer = run(sot_copy, roots, None)
    assert not result.changed and result.units_rendered == 6
    assert snapshot(roots) == before


def test_removed_machine_is_pruned_and_nothing_else(sot_copy, roots, tmp_path):
    state = str(tmp_path / "state.json")
    run(sot_copy, roots, state)
    # The operator's own files in the shared directories, and files outside the owned ones.
    for name, path in (("tftp", "pxelinux.cfg/default"), ("tftp", "grub/grub.cfg"), ("tftp", "undionly.kpxe"),
                       ("http", "debian12/linux")):
        target = os.path.join(roots[name], path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as handle:
            handle.write("operator's\n")
    before = snapshot(roots)
    remove_machine(sot_copy, "img-server1")
    result, _renderer = run(sot_copy, roots, state)
    gone = ["http:installer/img-server1/preseed.cfg", "http:ipxe/52:54:00:12:00:01.ipxe",
            "tftp:pxelinux.cfg/01-52-54-00-12-00-01"]
    assert result.changed and result.summary()["files"] == {"added": [], "changed": [], "removed": gone}
    after = snapshot(roots)
    assert sorted(set(before) - set(after)) == gone
    assert all(after[key] == before[key] for key in after)
    assert not os.path.exists(os.path.join(roots["http"], "installer", "img-server1"))


def test_changed_machine_rewrites_only_its_files(sot_copy, roots, tmp_path):
    state = str(tmp_path / "state.json")
    run(sot_copy, roots, state)
    before = snapshot(roots)
    machines = sot_copy / "machines.yml"
    machines.write_text(machines.read_text().replace("ipv4: 198.51.100.12\n", "ipv4: 198.51.100.22\n"))
    result, _renderer = run(sot_copy, roots, state)
    assert result.units_rendered == 1
    # Its iPXE script does not mention its address: unchanged, not rewritten.
    assert result.summary()["files"]["changed"] == ["http:installer/web1/user-data"]
    after = snapshot(roots)
    assert [key for key in after if after[key] != before[key]] == ["http:installer/web1/user-data"]


def test_check_mode_reports_and_writes_nothing(sot_copy, roots, tmp_path):
    state = tmp_path / "state.json"
    result, renderer = run(sot_copy, roots, str(state), check_mode=True)
    assert result.changed and result.counts["added"] == len(renderer.render_all())
    assert snapshot(roots) == {} and not state.exists()
    run(sot_copy, roots, str(state))
    before = snapshot(roots)
    remove_machine(sot_copy, "web1")
    result, _renderer = run(sot_copy, roots, str(state), check_mode=True)
    assert result.counts["removed"] == 3 and snapshot(roots) == before


def test_diff_summary_is_capped(sot_copy, roots, tmp_path):
    result, _renderer = run(sot_copy, roots, None, limit=2)
    summary = result.summary()
    assert summary["truncated"] and len(summary["files"]["added"]) == 2
    diff = result.diff()
    assert "+ ... and 14 more added" in diff["after"] and "added 16, changed 0" in diff["after_header"]


def test_edited_or_deleted_file_is_restored(sot_copy, roots, tmp_path):
    state = str(tmp_path / "state.json")
    run(sot_copy, roots, state)
    script = os.path.join(roots["http"], "ipxe", "52:54:00:12:00:02.ipxe")
    with open(script, "a") as handle:
        handle.write("shell\n")
    os.unlink(os.path.join(roots["tftp"], "pxelinux.cfg", "01-52-54-00-12-00-01"))
    result, _renderer = run(sot_copy, roots, state)
    assert result.summary()["files"]["changed"] == ["http:ipxe/52:54:00:12:00:02.ipxe"]
    assert result.summary()["files"]["added"] == ["tftp:pxelinux.cfg/01-52-54-00-12-00-01"]
    assert not open(script).read().endswith("shell\n")


def test_leftover_temp_files_and_strays_are_pruned(sot_copy, roots, tmp_path):
    run(sot_copy, roots, None)
    for path in ("ipxe/.52:54:00:12:00:01.ipxe.nbf-tmp", "ipxe/aa:bb:cc:dd:ee:ff.ipxe", "installer/gone/ks.cfg"):
        target = os.path.join(roots["http"], path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "w").close()
    result, _renderer = run(sot_copy, roots, None)
    assert result.summary()["files"]["removed"] == [
        "http:installer/gone/ks.cfg", "http:ipxe/.52:54:00:12:00:01.ipxe.nbf-tmp", "http:ipxe/aa:bb:cc:dd:ee:ff.ipxe"]


class FakeUnit(pxe.Unit):
    def __init__(self, key, files):
        super().__init__(key, "fp", lambda: files)


@pytest.mark.parametrize("root, path", [
    ("http", "../../etc/passwd"), ("http", "ipxe/../../x"), ("http", "/etc/passwd"), ("http", "ipxe"),
    ("http", "kernels/x"), ("tftp", "ipxe/x.ipxe"), ("other", "ipxe/x"), ("http", "ipxe//x"),
])
def test_paths_outside_owned_directories_are_refused(roots, root, path):
    with pytest.raises(asset_sync.SyncError, match="refusing to write"):
        asset_sync.sync(roots, layout.OWNED, [FakeUnit("m", {(root, path): b"x"})])
    assert snapshot(roots) == {}


def test_symlinked_directory_is_refused(roots, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), os.path.join(roots["http"], "installer"))
    with pytest.raises(asset_sync.SyncError, match="not a directory"):
        asset_sync.sync(roots, layout.OWNED, [FakeUnit("m", {("http", "installer/m/ks.cfg"): b"x"})])
    assert list(outside.iterdir()) == []


def test_parallel_workers_write_the_same_tree(roots, tmp_path):
    units = [FakeUnit("m%04d" % index, {("http", "installer/m%04d/ks.cfg" % index): b"%d\n" % index,
                                        ("http", "ipxe/m%04d.ipxe" % index): b"#!ipxe\n"})
             for index in range(2500)]
    result = asset_sync.sync(roots, layout.OWNED, units, workers=2)
    assert result.counts["added"] == 5000
    with open(os.path.join(roots["http"], "installer", "m2042", "ks.cfg"), "rb") as handle:
        assert handle.read() == b"2042\n"


def test_same_inputs_skip_building_units_but_still_check_the_files(sot_copy, roots, tmp_path):
    state = str(tmp_path / "state.json")
    first, renderer = run(sot_copy, roots, state, inputs="digest-1")
    before = snapshot(roots)
    built = []

    def units():
        built.append(True)
        return renderer.units()
    result = asset_sync.sync(roots, layout.OWNED, units, state_file=state, inputs="digest-1")
    assert not result.changed and not built and snapshot(roots) == before
    assert result.counts["unchanged"] == first.counts["added"] and result.units == 6
    # A stray file is pruned even on the fast path; a deleted one makes the run build the units.
    stray = os.path.join(roots["http"], "ipxe", "aa:bb:cc:dd:ee:ff.ipxe")
    open(stray, "w").close()
    result = asset_sync.sync(roots, layout.OWNED, units, state_file=state, inputs="digest-1")
    assert result.summary()["files"]["removed"] == ["http:ipxe/aa:bb:cc:dd:ee:ff.ipxe"] and not built
    os.unlink(os.path.join(roots["http"], "installer", "web1", "meta-data"))
    result = asset_sync.sync(roots, layout.OWNED, units, state_file=state, inputs="digest-1")
    assert built and result.summary()["files"]["added"] == ["http:installer/web1/meta-data"]
    # Other inputs: the units are built and compared (nothing to write here).
    built.clear()
    result = asset_sync.sync(roots, layout.OWNED, units, state_file=state, inputs="digest-2")
    assert built and not result.changed


def test_first_run_publishes_each_new_directory_whole(sot_copy, roots, tmp_path, monkeypatch):
    # A run that fails half-way leaves nothing half-built in a served directory...
    renderer = render_tree(sot_copy)
    units = renderer.units()

    def fail_to_render():
        raise RuntimeError("render failed")

    broken = pxe.Unit("zz", "fp", fail_to_render)
    with pytest.raises(RuntimeError):
        asset_sync.sync(roots, layout.OWNED, units + [broken], state_file=str(tmp_path / "state.json"))
    assert sorted(os.listdir(roots["http"])) == [".installer.nbf-stage", ".ipxe.nbf-stage"]
    # ...and the next run cleans the staging copies up and publishes the directories.
    result = asset_sync.sync(roots, layout.OWNED, units, state_file=str(tmp_path / "state.json"))
    assert result.counts["added"] == 16
    assert sorted(os.listdir(roots["http"])) == ["installer", "ipxe"]
    assert sorted(os.listdir(roots["tftp"])) == ["grub", "pxelinux.cfg"]


def test_file_replaced_with_same_size_and_mtime_is_restored(sot_copy, roots, tmp_path):
    # Size and mtime alone would miss this (an rsync -t or cp -p of an edited copy): the inode differs.
    state = str(tmp_path / "state.json")
    _first, renderer = run(sot_copy, roots, state, inputs="digest-1")
    script = os.path.join(roots["http"], "ipxe", "52:54:00:12:00:03.ipxe")
    info = os.stat(script)
    with open(script, "rb") as handle:
        original = handle.read()
    forged = script + ".forged"
    with open(forged, "wb") as handle:
        handle.write(original.replace(b"boot", b"exit"))
    os.utime(forged, ns=(info.st_atime_ns, info.st_mtime_ns))
    os.rename(forged, script)
    assert os.stat(script).st_size == info.st_size and os.stat(script).st_mtime_ns == info.st_mtime_ns
    result = asset_sync.sync(roots, layout.OWNED, renderer.units, state_file=state, inputs="digest-1")
    assert result.summary()["files"]["changed"] == ["http:ipxe/52:54:00:12:00:03.ipxe"]
    assert result.units_rendered == 1
    with open(script, "rb") as handle:
        assert handle.read() == original


def test_fast_path_prunes_strays_by_pattern_and_keeps_operator_files(sot_copy, roots, tmp_path):
    state = str(tmp_path / "state.json")
    _first, renderer = run(sot_copy, roots, state, inputs="digest-1")
    built = []

    def units():
        built.append(True)
        return renderer.units()
    for path in ("pxelinux.cfg/default", "grub/grub.cfg"):  # the operator's: not ours, never pruned
        with open(os.path.join(roots["tftp"], path), "w") as handle:
            handle.write("operator's\n")
    result = asset_sync.sync(roots, layout.OWNED, units, state_file=state, inputs="digest-1")
    assert not result.changed and not built
    stray = os.path.join(roots["tftp"], "pxelinux.cfg", "01-aa-bb-cc-dd-ee-ff")
    open(stray, "w").close()
    os.mkdir(os.path.join(roots["http"], "installer", "gone"))
    result = asset_sync.sync(roots, layout.OWNED, units, state_file=state, inputs="digest-1")
    assert result.summary()["files"]["removed"] == ["tftp:pxelinux.cfg/01-aa-bb-cc-dd-ee-ff"] and not built
    assert not os.path.exists(stray) and not os.path.exists(os.path.join(roots["http"], "installer", "gone"))
    assert os.path.exists(os.path.join(roots["tftp"], "pxelinux.cfg", "default"))


def test_parallel_check_finds_every_stale_file(sot_copy, roots, tmp_path, monkeypatch):
    monkeypatch.setattr(asset_sync, "PARALLEL_CHECK_FILES", 1)
    state = str(tmp_path / "state.json")
    _first, renderer = run(sot_copy, roots, state, inputs="digest-1")
    before = snapshot(roots)
    result = asset_sync.sync(roots, layout.OWNED, renderer.units, state_file=state, inputs="digest-1", workers=2)
    assert not result.changed and result.units_rendered == 0 and snapshot(roots) == before
    # One file in each worker's half (the manifest is in unit order: boot.ipxe first, web1 last).
    os.unlink(os.path.join(roots["http"], "ipxe", "boot.ipxe"))
    with open(os.path.join(roots["http"], "installer", "web1", "user-data"), "a") as handle:
        handle.write("# edited\n")
    result = asset_sync.sync(roots, layout.OWNED, renderer.units, state_file=state, inputs="digest-1", workers=2)
    assert result.summary()["files"] == {"added": ["http:ipxe/boot.ipxe"], "changed": ["http:installer/web1/user-data"],
                                         "removed": []}
    assert result.units_rendered == 2


@pytest.mark.parametrize("damage", [b"", b"{not json\n", b"truncated"])
def test_damaged_manifest_only_makes_the_run_slower(sot_copy, roots, tmp_path, damage):
    state = tmp_path / "state.json"
    _first, renderer = run(sot_copy, roots, str(state), inputs="digest-1")
    before = snapshot(roots)
    state.write_bytes(state.read_bytes()[:-7] if damage == b"truncated" else damage)
    result = asset_sync.sync(roots, layout.OWNED, renderer.units, state_file=str(state), inputs="digest-1")
    assert not result.changed and result.units_rendered == 6 and snapshot(roots) == before
    result = asset_sync.sync(roots, layout.OWNED, renderer.units, state_file=str(state), inputs="digest-1")
    assert not result.changed and result.units_rendered == 0   # the manifest was written again


def _fleet_units(count):
    """count machine-like units: a file in ipxe/, one in a directory of their own below installer/, a TFTP one."""
    return [FakeUnit("m%05d" % index, {("http", "ipxe/m%05d.ipxe" % index): b"#!ipxe %d\n" % index,
                                       ("http", "installer/m%05d/ks.cfg" % index): b"ks %d\n" % index * (index % 7),
                                       ("tftp", "pxelinux.cfg/01-m%05d" % index): b"pxe %d\n" % index})
            for index in range(count)]


def _content(roots):
    return {key: value[2] for key, value in snapshot(roots).items()}


@pytest.mark.parametrize("workers", [1, 2])
def test_first_run_into_empty_roots_writes_exact_content_and_leaves_no_staging(roots, tmp_path, workers):
    units = _fleet_units(2500)  # enough for the forked workers
    state = str(tmp_path / "state.json")
    result = asset_sync.sync(roots, layout.OWNED, units, state_file=state, workers=workers)
    expected = {"%s:%s" % key: data for unit in units for key, data in unit.render().items()}
    assert result.counts["added"] == 7500 and _content(roots) == expected
    # Every owned directory published (grub/ too, though empty); no staging copy or temp file left.
    assert sorted(os.listdir(roots["http"])) == ["installer", "ipxe"]
    assert sorted(os.listdir(roots["tftp"])) == ["grub", "pxelinux.cfg"]
    assert not [name for root in roots.values() for _current, dirs, files in os.walk(root) for name in dirs + files
                if asset_sync.STAGE_MARK in name or asset_sync.TEMP_MARK in name]
    mode = os.stat(os.path.join(roots["http"], "installer", "m00042", "ks.cfg")).st_mode & 0o777
    assert mode == 0o644 and os.stat(os.path.join(roots["http"], "installer", "m00042")).st_mode & 0o777 == 0o755
    # The manifest it wrote is right: its counts of our entries per owned directory (an undercount would hide a
    # stray), and a second run renders nothing and finds nothing to do...
    manifest = asset_sync.Manifest.load(state, dict(sorted(roots.items())))
    assert manifest.children == {"http:ipxe": 2500, "http:installer": 2500, "tftp:pxelinux.cfg": 2500, "tftp:grub": 0}
    assert len(manifest.paths) == 7500 and manifest.stats[3 * 7499 + 2] == os.stat(os.path.join(
        roots["tftp"], "pxelinux.cfg", "01-m02499")).st_ino
    before = snapshot(roots)
    again = asset_sync.sync(roots, layout.OWNED, units, state_file=state, workers=workers)
    assert not again.changed and again.units_rendered == 0 and snapshot(roots) == before
    # ...and its counts of the owned directories' entries still catch a stray.
    open(os.path.join(roots["http"], "ipxe", "stray.ipxe"), "w").close()
    again = asset_sync.sync(roots, layout.OWNED, units, state_file=state, workers=workers)
    assert again.summary()["files"]["removed"] == ["http:ipxe/stray.ipxe"] and snapshot(roots) == before


def test_first_run_fingerprints_are_computed_in_the_workers_and_recorded(roots, tmp_path, fleet, templates):
    machine = fleet.machines[0]
    machines = tuple(dataclasses.replace(machine, name="m%05d" % index,
                                         mac="52:54:00:00:%02x:%02x" % divmod(index, 256))
                     for index in range(2500))
    renderer = pxe.Renderer(dataclasses.replace(fleet, machines=machines), templates)
    units = renderer.units()
    state = str(tmp_path / "state.json")
    asset_sync.sync(roots, layout.OWNED, units, state_file=state, workers=2)
    assert all(unit._fingerprint is None for unit in units[1:])  # not in this process: the workers did it
    manifest = asset_sync.Manifest.load(state, dict(sorted(roots.items())))
    assert manifest.fingerprints == [units[0].fingerprint] + [renderer.fingerprint(m) for m in machines]


def test_first_run_keeps_existing_directories_and_the_operators_files(roots, tmp_path):
    # pxelinux.cfg/ exists (the operator's default and a stale file of ours), the other owned directories do not.
    existing = os.path.join(roots["tftp"], "pxelinux.cfg")
    os.mkdir(existing)
    for name, text in (("default", "operator's\n"), ("01-m00001", "stale\n"), ("01-gone", "old machine\n")):
        with open(os.path.join(existing, name), "w") as handle:
            handle.write(text)
    inode = os.stat(existing).st_ino
    units = _fleet_units(3)
    result = asset_sync.sync(roots, layout.OWNED, units, state_file=str(tmp_path / "state.json"))
    assert os.stat(existing).st_ino == inode  # updated in place, not replaced by a new directory
    with open(os.path.join(existing, "default")) as handle:
        assert handle.read() == "operator's\n"
    assert sorted(os.listdir(existing)) == ["01-m00000", "01-m00001", "01-m00002", "default"]
    with open(os.path.join(existing, "01-m00001"), "rb") as handle:
        assert handle.read() == b"pxe 1\n"
    summary = result.summary()["files"]
    assert summary["removed"] == ["tftp:pxelinux.cfg/01-gone"] and summary["changed"] == ["tftp:pxelinux.cfg/01-m00001"]
    assert len(summary["added"]) == 8  # 3 ipxe, 3 ks.cfg, 2 new pxelinux files
    assert not [name for root in roots.values() for name in os.listdir(root) if asset_sync.STAGE_MARK in name]


def test_first_run_refuses_a_name_produced_twice_and_publishes_nothing(roots, tmp_path):
    units = [FakeUnit("a", {("http", "ipxe/same.ipxe"): b"a\n"}), FakeUnit("b", {("http", "ipxe/same.ipxe"): b"b\n"})]
    with pytest.raises(asset_sync.SyncError, match="produced by two units"):
        asset_sync.sync(roots, layout.OWNED, units, state_file=str(tmp_path / "state.json"))
    assert "ipxe" not in os.listdir(roots["http"])  # the staging copy was never published


@pytest.mark.parametrize("bad", ["installer/m/..", "installer/m/b\\c"])
def test_first_run_checks_every_name_in_a_directory_already_made(roots, bad):
    # The directory is made (and its path checked) for the first file; the second file's name is checked on its own.
    units = [FakeUnit("a", {("http", "installer/m/a"): b"a\n"}), FakeUnit("b", {("http", bad): b"b\n"})]
    with pytest.raises(asset_sync.SyncError, match="refusing to write"):
        asset_sync.sync(roots, layout.OWNED, units)
    assert "installer" not in os.listdir(roots["http"])  # nothing published


def test_unchanged_and_rendered_units_interleave_across_worker_batches(roots, tmp_path):
    units = _fleet_units(3003)
    state = str(tmp_path / "state.json")
    asset_sync.sync(roots, layout.OWNED, units, state_file=state, workers=2)
    # Two units of every three change: 2,000 rendered by forked workers in several batches, runs of two
    # rendered units between single intact ones; two units gone: intact units 0 and 3 become neighbours.
    changed = [unit if index % 3 == 0 else pxe.Unit(unit.key, "fp2", lambda files={
        key: data + b"changed\n" for key, data in unit.render().items()}: files) for index, unit in enumerate(units)]
    del changed[1:3]
    result = asset_sync.sync(roots, layout.OWNED, changed, state_file=state, workers=2)
    assert result.units_rendered == 2000 and result.counts == {"added": 0, "changed": 6000, "removed": 6,
                                                               "unchanged": 3003}
    manifest = asset_sync.Manifest.load(state, dict(sorted(roots.items())))
    assert manifest.keys == [unit.key for unit in changed]
    assert manifest.fingerprints == [unit.fingerprint for unit in changed]
    assert list(zip(manifest.roots, manifest.paths)) == [key for unit in changed for key in sorted(unit.render())]
    for index, (root, path) in enumerate(zip(manifest.roots, manifest.paths)):
        info = os.stat(os.path.join(roots[root], path))
        assert tuple(manifest.stats[3 * index:3 * index + 3]) == (info.st_size, info.st_mtime_ns, info.st_ino), path
    assert _content(roots) == {"%s:%s" % key: data for unit in changed for key, data in unit.render().items()}
