# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic, incremental sync of rendered files into served directory trees.

Input: named roots ({"tftp": "/srv/tftp", "http": "/srv/http"}), units (see
pxe.Unit: key, fingerprint, render() -> {(root, relative path): bytes}) and the
directories the sync owns. Guarantees:

- every write is a temp file in the same directory, then rename(): a TFTP or
  HTTP client sees the old file or the new one, never half of one. An owned
  directory that does not exist yet (first run) is built under a hidden name
  and published whole with one rename;
- a file whose content is unchanged is not rewritten (its mtime stays);
- files in owned directories that no unit produces are pruned, nothing else;
- nothing outside the owned directories is ever written or removed, whatever
  a relative path says (no '..', no absolute paths, no symlinked directories).

A manifest (state_file) remembers a digest of the inputs, each unit's
fingerprint and its files' size and mtime. Same inputs and intact files: the
units are not even built (one stat per file). Other inputs: only units whose
fingerprint changed are rendered, and a file is written only if its bytes
differ. The manifest is a cache, never the truth: a missing, stale or foreign
manifest only makes the run slower (every unit is rendered and compared).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat

from ansible_collections.netboot.fleet.plugins.module_utils.gc_pause import cyclic_gc_paused

MANIFEST_FORMAT = 2
TEMP_MARK = ".nbf-tmp"
STAGE_MARK = ".nbf-stage"
_TEMP_RE = re.compile(r"^\..*\.nbf-tmp$")
# At least two components, none empty, '.' or '..', no NUL or backslash, not absolute.
_PLAIN_PATH_RE = re.compile(r"^(?!\.\.?(?:/|$))[^/\0\\]+(?:/(?!\.\.?(?:/|$))[^/\0\\]+)+$")


class SyncError(Exception):
    pass


class SyncResult:
    """What a run did (or would do in check mode). Names are "<root>:<path>", sorted, capped."""

    def __init__(self, limit):
        self.limit = limit
        self.names = {"added": [], "changed": [], "removed": []}
        self.counts = {"added": 0, "changed": 0, "removed": 0, "unchanged": 0}
        self.units = 0
        self.units_rendered = 0

    def record(self, kind, root, path):
        self.counts[kind] += 1
        self.names[kind].append("%s:%s" % (root, path))

    @property
    def changed(self) -> bool:
        return bool(self.counts["added"] or self.counts["changed"] or self.counts["removed"])

    def summary(self) -> dict:
        files = {}
        for kind, names in self.names.items():
            names.sort()
            files[kind] = names[:self.limit]
        return {"counts": dict(self.counts, units=self.units, rendered_units=self.units_rendered), "files": files,
                "truncated": any(len(names) > self.limit for names in self.names.values())}

    def diff(self) -> dict:
        """Ansible's before/after diff, as a readable list of file names (capped)."""
        lines = []
        for kind, sign in (("removed", "-"), ("changed", "~"), ("added", "+")):
            names = sorted(self.names[kind])
            lines.extend("%s %s" % (sign, name) for name in names[:self.limit])
            if len(names) > self.limit:
                lines.append("%s ... and %d more %s" % (sign, len(names) - self.limit, kind))
        counts = "added %(added)d, changed %(changed)d, removed %(removed)d, unchanged %(unchanged)d" % self.counts
        return {"before_header": "PXE assets", "after_header": "PXE assets (%s)" % counts,
                "before": "", "after": "\n".join(lines) + ("\n" if lines else "")}


class Tree:
    """The served roots, the directories the sync owns in them, and safe file operations."""

    def __init__(self, roots: dict, owned, mode=0o644, dir_mode=0o755):
        self.roots = {name: os.path.abspath(path) for name, path in roots.items()}
        self.prefixes = {name: path.rstrip("/") + "/" for name, path in self.roots.items()}
        self.roots_set = set(self.roots.values())
        self.owned = tuple(owned)
        self.owned_dirs = {(root, directory) for root, directory, _pattern in self.owned}
        self.mode = mode
        self.dir_mode = dir_mode
        self._checked_dirs = set()
        self._fresh_dirs = set()   # made in this run: their files need no lookup first
        self._staged = {}          # owned directory missing at the start -> where it is built
        self._staged_dirs = set()  # directories below a staged one: nobody serves them yet
        for root, directory, _pattern in self.owned:
            if root not in self.roots:
                raise SyncError("owned directory %s/ is in an unknown root %r" % (directory, root))

    def check_path(self, root, path):
        """The absolute path to write (root, path) at, or SyncError when path could leave its owned
        directory. Below a staged directory, that is the staging copy."""
        prefix = self.prefixes.get(root)
        top, _slash, rest = path.partition("/")
        if prefix is None or not _PLAIN_PATH_RE.match(path) or (root, top) not in self.owned_dirs:
            raise SyncError("refusing to write %s:%r: not a plain relative path inside a directory this sync owns"
                            % (root, path))
        staged = self._staged.get(prefix + top)
        return prefix + path if staged is None else staged + "/" + rest

    def stage_missing(self):
        """Build each owned directory that does not exist yet (first run) under a hidden name and
        publish it whole with one rename (publish()): its files need no temp file and rename each."""
        for root, directory, _pattern in self.owned:
            top = self.prefixes[root] + directory
            staged = "%s.%s%s" % (self.prefixes[root], directory, STAGE_MARK)
            if os.path.lexists(staged):  # left over by an interrupted run
                shutil.rmtree(staged)
            if not os.path.lexists(top):
                os.mkdir(staged, self.dir_mode)
                self._staged[top] = staged
                self._checked_dirs.add(staged)
                self._fresh_dirs.add(staged)
                self._staged_dirs.add(staged)

    def staged_path(self, directory):
        return self._staged.get(directory, directory)

    def publish(self):
        for top, staged in sorted(self._staged.items()):
            os.rename(staged, top)
        self._staged.clear()

    def ensure_dir(self, directory, check_mode):
        """Create directory (below a root) if missing; refuse symlinks on the way (they could lead out)."""
        if directory in self._checked_dirs:
            return
        parent = os.path.dirname(directory)
        if parent not in self.roots.values():
            self.ensure_dir(parent, check_mode)
        made = False
        if not check_mode:
            try:
                os.mkdir(directory, self.dir_mode)  # exact mode: sync() runs with umask 0
                made = True
            except FileExistsError:  # there already (or a parallel worker made it): check what it is
                pass
        if not made:
            try:
                info = os.lstat(directory)
            except FileNotFoundError:  # check mode
                self._fresh_dirs.add(directory)
            else:
                if not stat.S_ISDIR(info.st_mode):
                    raise SyncError("%s is not a directory (a symlink or file where an asset directory belongs)"
                                    % directory)
        else:
            self._fresh_dirs.add(directory)
            if parent in self._staged_dirs:
                self._staged_dirs.add(directory)
        self._checked_dirs.add(directory)

    def is_fresh(self, directory):
        return directory in self._fresh_dirs

    def write(self, target, data):
        """Atomically replace target with data; return its os.stat (mode exact: umask is 0 in sync())."""
        directory, name = os.path.split(target)
        if directory in self._staged_dirs:  # not served until published: write in place
            return self._write_file(target, data)
        temp = os.path.join(directory, "." + name + TEMP_MARK)
        try:
            info = self._write_file(temp, data)
        except FileExistsError:  # left over by an interrupted run
            os.unlink(temp)
            info = self._write_file(temp, data)
        os.rename(temp, target)  # rename keeps size and mtime: what the manifest records
        return info

    def _write_file(self, path, data):
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        handle = os.open(path, flags, self.mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view):]
            return os.fstat(handle)
        finally:
            os.close(handle)


def _same_content(target, data, info):
    if info.st_size != len(data):
        return False
    with open(target, "rb") as handle:
        return handle.read() == data


def _apply_unit(tree, unit, check_mode):
    """Render one unit and bring its files up to date: [(root, path, size, mtime_ns, outcome, fresh)],
    fresh when the file's directory was created in this run (nothing else can be in it)."""
    entries = []
    for (root, path), data in sorted(unit.render().items()):
        target = tree.check_path(root, path)
        directory = target.rpartition("/")[0]
        tree.ensure_dir(directory, check_mode)
        info = None
        fresh = tree.is_fresh(directory)
        if not fresh:
            try:
                info = os.lstat(target)
            except FileNotFoundError:
                pass
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise SyncError("%s is not a regular file (refusing to replace a symlink or directory)" % target)
        if info is not None and _same_content(target, data, info):
            outcome = "same"
        else:
            outcome = "added" if info is None else "changed"
            if not check_mode:
                info = tree.write(target, data)
        size, mtime = (info.st_size, info.st_mtime_ns) if info is not None else (len(data), 0)
        entries.append((root, path, size, mtime, outcome, fresh))
    return entries


# Work handed to forked workers: set just before the pool forks, read by _worker.
_JOB = {}


def _worker(indexes):
    tree, units, check_mode = _JOB["tree"], _JOB["units"], _JOB["check_mode"]
    return [(index, _apply_unit(tree, units[index], check_mode)) for index in indexes]


def _apply_all(tree, units, check_mode, workers):
    """Yield (unit, entries). Large runs fork workers: rendering and file creation are CPU-bound."""
    if workers <= 1 or len(units) < 2000:
        for unit in units:
            yield unit, _apply_unit(tree, unit, check_mode)
        return
    import multiprocessing  # only here: small runs and platforms without fork never need it
    # Parent directories first, so that workers do not race to create them.
    for root, directory, _pattern in tree.owned:
        top = tree.prefixes[root] + directory
        tree.ensure_dir(tree.staged_path(top), check_mode)
    chunk = 500
    batches = [list(range(start, min(start + chunk, len(units)))) for start in range(0, len(units), chunk)]
    _JOB.update(tree=tree, units=units, check_mode=check_mode)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for results in pool.imap(_worker, batches):
                for index, entries in results:
                    yield units[index], entries
    finally:
        _JOB.clear()


def load_manifest(state_file, roots) -> dict:
    """The last run's manifest: {"inputs": digest or None, "units": {key: [fingerprint, [[root, path,
    size, mtime_ns], ...]]}}; empty when missing, unreadable or made for other roots."""
    empty = {"inputs": None, "units": {}}
    if not state_file:
        return empty
    try:
        with open(state_file, "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return empty
    if (not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or data.get("roots") != roots
            or not isinstance(data.get("units"), dict)):
        return empty
    return {"inputs": data.get("inputs"), "units": data["units"]}


def _save_manifest(state_file, roots, inputs, units):
    directory = os.path.dirname(os.path.abspath(state_file))
    os.makedirs(directory, mode=0o755, exist_ok=True)
    temp = state_file + TEMP_MARK
    # dumps, not dump: only the one-shot path uses the C encoder (10x faster at 100,000 units).
    text = json.dumps({"format": MANIFEST_FORMAT, "roots": roots, "inputs": inputs, "units": units},
                      separators=(",", ":"), sort_keys=True)
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.rename(temp, state_file)


def _verified(tree, files, expected, dirs):
    """True when every file of a manifest entry still has its recorded size and mtime; then its
    absolute paths go into expected and their directories into dirs. Manifest paths are only
    stat()ed and kept here, never written, so they need no further checks."""
    prefixes = tree.prefixes
    lstat = os.lstat
    paths = []
    for root, path, size, mtime in files:
        target = prefixes[root] + path
        try:
            info = lstat(target)
        except (OSError, KeyError):
            return False
        if info.st_size != size or info.st_mtime_ns != mtime:
            return False
        paths.append(target)
    for target in paths:
        expected.add(target)
        dirs.add(target[:target.rindex("/")])
    return True


def _all_verified(tree, units):
    """_verified for a whole manifest in one loop (the no-change hot path): the set of absolute
    paths, or None at the first file that is missing or differs."""
    prefixes = tree.prefixes
    lstat = os.lstat
    expected = set()
    add = expected.add
    try:
        for entry in units.values():
            for root, path, size, mtime in entry[1]:
                target = prefixes[root] + path
                info = lstat(target)
                if info.st_size != size or info.st_mtime_ns != mtime:
                    return None
                add(target)
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return expected


def sync(roots: dict, owned, units, state_file=None, check_mode=False, workers=1, limit=20,
         mode=0o644, inputs=None) -> SyncResult:
    """Bring the owned directories of roots to exactly what units render. See the module docstring.

    units: a list of units, or a callable returning one. inputs: a digest of everything the units
    depend on (the SoT bytes, templates, options). When it equals the last run's and every file
    is intact, the units are not even built (callable not called): the run is a stat per file.
    """
    # Files and directories get exactly mode/0755 (TFTP and HTTP servers read them as other users)
    # without a chmod per file: umask 0 while syncing.
    umask = os.umask(0)
    # The manifest and the units are a few million objects in no cycle (see cyclic_gc_paused): an
    # eighth of a no-change run at 20,000 machines.
    try:
        with cyclic_gc_paused():
            return _sync(Tree(roots, owned, mode=mode), units, state_file, check_mode, workers, limit, inputs)
    finally:
        os.umask(umask)


def _sync(tree, units, state_file, check_mode, workers, limit, inputs):
    for name, path in sorted(tree.roots.items()):
        if not check_mode and not os.path.isdir(path):
            raise SyncError("the %s root %s does not exist (create it first)" % (name, path))
    result = SyncResult(limit)
    manifest_roots = dict(sorted(tree.roots.items()))
    manifest = load_manifest(state_file, manifest_roots)
    old_units = manifest["units"]

    if inputs is not None and manifest["inputs"] == inputs:
        expected = _all_verified(tree, old_units)
        if expected is not None:
            result.counts["unchanged"] = len(expected)
            result.units = len(old_units)
            _prune(tree, expected, None, check_mode, result)
            return result

    if callable(units):
        units = units()  # loads and validates: may raise before anything is written
    if not check_mode:
        tree.stage_missing()
    new_units = {}
    expected = set()
    verified_dirs = set()   # directories holding files of units verified unchanged
    rendered_dirs = set()   # directories holding a file of a unit rendered in this run: list them
    fresh_dirs = set()      # directories this run created: hold only what it wrote
    todo = []
    for unit in units:
        if unit.key in new_units:
            raise SyncError("two units are named %r" % unit.key)
        old = old_units.get(unit.key)
        if old and old[0] == unit.fingerprint and _verified(tree, old[1], expected, verified_dirs):
            new_units[unit.key] = old
            result.counts["unchanged"] += len(old[1])
        else:
            new_units[unit.key] = None
            todo.append(unit)

    result.units = len(new_units)
    result.units_rendered = len(todo)
    prefixes = tree.prefixes
    for unit, entries in _apply_all(tree, todo, check_mode, workers):
        for root, path, _size, _mtime, outcome, fresh in entries:
            target = prefixes[root] + path
            if target in expected:
                raise SyncError("%s:%s is produced by two units (the second is %r)" % (root, path, unit.key))
            expected.add(target)
            (fresh_dirs if fresh else rendered_dirs).add(target.rpartition("/")[0])
            if outcome == "same":
                result.counts["unchanged"] += 1
            else:
                result.record(outcome, root, path)
        new_units[unit.key] = [unit.fingerprint, [[root, path, size, mtime]
                                                  for root, path, size, mtime, _outcome, _fresh in entries]]

    tree.publish()
    _prune(tree, expected, (verified_dirs | fresh_dirs) - rendered_dirs, check_mode, result)
    dirty = bool(todo) or set(new_units) != set(old_units) or manifest["inputs"] != inputs
    if state_file and not check_mode and (dirty or result.changed):
        # mtimes in check mode would be placeholders: the manifest is only written for real runs.
        _save_manifest(state_file, manifest_roots, inputs, new_units)
    return result


def _prune(tree, expected, skip_dirs, check_mode, result):
    """Remove what no unit produced from the owned directories (by pattern), recursively.

    expected: absolute paths of the files to keep. Directories in skip_dirs (None: all) hold only
    verified or freshly written files: not listed (a no-change run stays at one stat per file).
    """
    expected_dirs = set()
    for directory in {target[:target.rindex("/")] for target in expected}:
        while directory not in expected_dirs and directory not in tree.roots_set:
            expected_dirs.add(directory)
            directory = directory[:directory.rindex("/")]
    for root, directory, pattern in tree.owned:
        top = tree.prefixes[root] + directory
        try:
            info = os.lstat(top)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise SyncError("%s is not a directory" % top)
        _prune_dir(tree, root, top, pattern, expected, expected_dirs, skip_dirs, check_mode, result)


def _prune_dir(tree, root, directory, pattern, expected, expected_dirs, skip_dirs, check_mode, result):
    prefix = directory + "/"
    # listdir and set lookups: a 100,000-entry directory costs a few tens of milliseconds.
    unexpected = [name for name in os.listdir(directory) if prefix + name not in expected]
    for name in sorted(unexpected):
        target = prefix + name
        if target in expected_dirs:
            if skip_dirs is not None and target not in skip_dirs:
                _prune_dir(tree, root, target, None, expected, expected_dirs, skip_dirs, check_mode, result)
            continue
        if not (pattern is None or pattern.match(name) or _TEMP_RE.match(name)):
            continue  # the operator's own file (pxelinux.cfg/default, grub/grub.cfg)
        if stat.S_ISDIR(os.lstat(target).st_mode):
            _remove_tree(tree, root, target, check_mode, result)
        else:
            result.record("removed", root, target[len(tree.prefixes[root]):])
            if not check_mode:
                os.unlink(target)


def _remove_tree(tree, root, directory, check_mode, result):
    for current, dirs, files in os.walk(directory):
        relative = current[len(tree.prefixes[root]):]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(current, d))]:
            result.record("removed", root, relative + "/" + name)
    if not check_mode:
        shutil.rmtree(directory)
