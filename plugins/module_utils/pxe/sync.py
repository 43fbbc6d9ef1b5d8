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

A manifest (state_file, see Manifest) remembers a digest of the inputs, each
unit's fingerprint and its files' size, mtime and inode. Every run checks every
recorded file with one stat (a file edited, replaced or deleted behind the
sync's back is repaired). Same inputs and intact files: the units are not even
built. Other inputs: only units whose fingerprint changed or whose files are
not intact are rendered, and a file is written only if its bytes differ. The
manifest is a cache, never the truth: a missing, stale or foreign manifest only
makes the run slower (every unit is rendered and compared).

Two syncs of one tree at once (the slices of a sliced bring-up switching their
installed machines to the local disk on one node) take turns: a real run holds
an exclusive lock on <state_file>.lock while it reads, writes and saves.
"""

from __future__ import annotations

import array
import bisect
import collections
import fcntl
import heapq
import itertools
import json
import operator
import os
import re
import shutil
import stat
import sys

from ansible_collections.netboot.fleet.plugins.module_utils.gc_pause import cyclic_gc_paused

MANIFEST_FORMAT = 3
TEMP_MARK = ".nbf-tmp"
STAGE_MARK = ".nbf-stage"
# Below this many recorded files one process checks them (forking costs more than it saves).
PARALLEL_CHECK_FILES = 50000
_TEMP_RE = re.compile(r"^\..*\.nbf-tmp$")
# At least two components, none empty, '.' or '..', no NUL or backslash, not absolute.
_PLAIN_PATH_RE = re.compile(r"^(?!\.\.?(?:/|$))[^/\0\\]+(?:/(?!\.\.?(?:/|$))[^/\0\\]+)+$")
# One component of such a path (fullmatch).
_PLAIN_NAME_RE = re.compile(r"(?!\.\.?$)[^/\0\\]+")
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_KEY_OF = operator.attrgetter("key")


class SyncError(Exception):
    pass


def _name_order(item):
    root, path = item
    return root + ":", path  # the order of "root:path" (root names have no ":")


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
        self.names[kind].append((root, path))

    def _first(self, kind, count):
        """The first count names of a kind, sorted as "root:path" strings (without formatting them all)."""
        return ["%s:%s" % item for item in heapq.nsmallest(count, self.names[kind], key=_name_order)]

    @property
    def changed(self) -> bool:
        return bool(self.counts["added"] or self.counts["changed"] or self.counts["removed"])

    def summary(self) -> dict:
        return {"counts": dict(self.counts, units=self.units, rendered_units=self.units_rendered),
                "files": {kind: self._first(kind, self.limit) for kind in self.names},
                "truncated": any(len(names) > self.limit for names in self.names.values())}

    def diff(self) -> dict:
        """Ansible's before/after diff, as a readable list of file names (capped)."""
        lines = []
        for kind, sign in (("removed", "-"), ("changed", "~"), ("added", "+")):
            names = self._first(kind, self.limit)
            lines.extend("%s %s" % (sign, name) for name in names)
            if len(self.names[kind]) > self.limit:
                lines.append("%s ... and %d more %s" % (sign, len(self.names[kind]) - self.limit, kind))
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
        self.staged_tops = {}      # (root, owned directory) missing at the start -> where it is built
        for root, directory, _pattern in self.owned:
            if root not in self.roots:
                raise SyncError("owned directory %s/ is in an unknown root %r" % (directory, root))

    def check_path(self, root, path):
        """The absolute path to write (root, path) at, or SyncError when path could leave its owned
        directory. (Below a staged directory, StagedWriter writes into the staging copy.)"""
        prefix = self.prefixes.get(root)
        if (prefix is None or not _PLAIN_PATH_RE.match(path)
                or (root, path.partition("/")[0]) not in self.owned_dirs):
            raise SyncError("refusing to write %s:%r: not a plain relative path inside a directory this sync owns"
                            % (root, path))
        return prefix + path

    def stage_missing(self):
        """Build each owned directory that does not exist yet (first run) under a hidden name and
        publish it whole with one rename (publish()): its files are written by StagedWriter."""
        for root, directory, _pattern in self.owned:
            top = self.prefixes[root] + directory
            staged = "%s.%s%s" % (self.prefixes[root], directory, STAGE_MARK)
            if os.path.lexists(staged):  # left over by an interrupted run
                shutil.rmtree(staged)
            if not os.path.lexists(top):
                os.mkdir(staged, self.dir_mode)
                self.staged_tops[(root, directory)] = staged

    def publish(self):
        """Rename the staged directories into place; return the owned directories published."""
        published = set()
        for (root, directory), staged in sorted(self.staged_tops.items()):
            top = self.prefixes[root] + directory
            os.rename(staged, top)
            published.add(top)
        self.staged_tops.clear()
        return published

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
        self._checked_dirs.add(directory)

    def is_fresh(self, directory):
        return directory in self._fresh_dirs

    def write(self, target, data):
        """Atomically replace target with data; return its os.stat (mode exact: umask is 0 in sync())."""
        directory, name = os.path.split(target)
        temp = os.path.join(directory, "." + name + TEMP_MARK)
        try:
            info = self._write_file(temp, data)
        except FileExistsError:  # left over by an interrupted run
            os.unlink(temp)
            info = self._write_file(temp, data)
        os.rename(temp, target)  # rename keeps size and mtime: what the manifest records
        return info

    def _write_file(self, path, data):
        return _write_and_close(os.open(path, _CREATE_FLAGS, self.mode), data)


def _write_and_close(handle, data):
    """Write data to a new file's descriptor, close it; its os.stat_result."""
    try:
        written = os.write(handle, data)
        if written < len(data):  # a short write (signal, full disk): go on with the rest
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(handle, view):]
        return os.fstat(handle)
    finally:
        os.close(handle)


class StagedWriter:
    """The first-run path: files below the staging copy of an owned directory (Tree.stage_missing).

    Nobody serves a staging copy before publish(), and nothing but this run writes into it, so a
    file there needs no lookup, no compare, no temp file and rename: it is created in place
    (O_CREAT|O_EXCL: a name produced twice fails), relative to an open descriptor of its staging
    copy (no path walk from / per file), and its manifest record comes from one fstat. The path is
    checked as everywhere (check_path) for the first file of each directory; the others only need
    their last component checked. One per worker span: close() releases the descriptors.
    """

    def __init__(self, tree):
        self.tree = tree
        self.mode = tree.mode
        self.top_fds = {}      # (root, owned directory) -> descriptor of its staging copy
        # (root, directory) -> (descriptor of its staging top, its path below that + "/"), made or found,
        # or None: not below a staging copy. Every directory in it is on a checked path.
        self.places = {}
        self.entries = collections.Counter()  # "root:owned directory" -> files and directories made right in it

    def write(self, root, path, data):
        """(size, mtime_ns, inode) of the file written, or None when path is not below a staging copy."""
        directory, _slash, name = path.rpartition("/")
        place = self.places.get((root, directory), False)
        if place is False:
            parent, _slash, last = directory.rpartition("/")
            # A new subdirectory (installer/<name>/ of each machine) of a checked directory is on a plain
            # path when its last component and the file's name are plain: no check of the whole path.
            if not ((root, parent) in self.places and _PLAIN_NAME_RE.fullmatch(last)
                    and _PLAIN_NAME_RE.fullmatch(name)):
                self.tree.check_path(root, path)  # raises, naming the path
            place = self._place(root, directory)
        elif not _PLAIN_NAME_RE.fullmatch(name):
            self.tree.check_path(root, path)  # raises, naming the path
        if place is None:
            return None
        top_fd, prefix = place
        try:
            handle = os.open(prefix + name, _CREATE_FLAGS, self.mode, dir_fd=top_fd)
        except FileExistsError:
            raise SyncError("%s:%s is produced by two units" % (root, path)) from None
        if not prefix:
            self.entries["%s:%s" % (root, directory)] += 1
        info = _write_and_close(handle, data)
        return info.st_size, info.st_mtime_ns, info.st_ino

    def _place(self, root, directory):
        """The place of directory (on a checked path), made in its staging copy with its parents if needed."""
        place = self.places.get((root, directory), False)
        if place is not False:
            return place
        parent, _slash, last = directory.rpartition("/")
        if not parent:  # an owned directory
            staged = self.tree.staged_tops.get((root, directory))
            place = None
            if staged is not None:
                top_fd = self.top_fds[(root, directory)] = os.open(staged, _DIR_FLAGS)
                place = (top_fd, "")
        else:
            place = self._place(root, parent)
            if place is not None:
                top_fd, prefix = place
                relative = prefix + last
                try:
                    os.mkdir(relative, self.tree.dir_mode, dir_fd=top_fd)
                except FileExistsError:  # another worker made it first
                    if not stat.S_ISDIR(os.stat(relative, dir_fd=top_fd, follow_symlinks=False).st_mode):
                        raise SyncError("%s:%s is not a directory" % (root, directory)) from None
                else:
                    if not prefix:
                        self.entries["%s:%s" % (root, parent)] += 1
                place = (top_fd, relative + "/")
        self.places[(root, directory)] = place
        return place

    def close(self):
        for handle in self.top_fds.values():
            os.close(handle)
        self.top_fds.clear()


def _same_content(target, data, info):
    if info.st_size != len(data):
        return False
    with open(target, "rb") as handle:
        return handle.read() == data


def _new_batch():
    """Rendered units' results, flat and cheap to pickle from a worker: files per unit, root, path and
    (size, mtime_ns, inode) per file, indexes of the files added and changed, how many were the same,
    the directories that existed before this run and hold a rendered file (the prune lists them), and the
    entries made right in each staged owned directory (StagedWriter.entries)."""
    return {"counts": [], "fingerprints": [], "roots": [], "paths": [], "stats": array.array("q"), "added": [],
            "changed": [], "same": 0, "dirs": set(), "entries": collections.Counter()}


def _apply_unit(tree, unit, check_mode, batch, staged):
    """Render one unit, bring its files up to date and append what happened to batch."""
    roots, paths, stats = batch["roots"], batch["paths"], batch["stats"]
    files = sorted(unit.render().items())
    for (root, path), data in files:
        if staged is not None:
            record = staged.write(root, path, data)
            if record is not None:
                batch["added"].append(len(paths))
                roots.append(root)
                paths.append(path)
                stats.extend(record)
                continue
        target = tree.check_path(root, path)
        directory = target.rpartition("/")[0]
        tree.ensure_dir(directory, check_mode)
        info = None
        if not tree.is_fresh(directory):  # a directory made in this run holds only what it wrote
            batch["dirs"].add(directory)
            try:
                info = os.lstat(target)
            except FileNotFoundError:
                pass
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise SyncError("%s is not a regular file (refusing to replace a symlink or directory)" % target)
        if info is not None and _same_content(target, data, info):
            batch["same"] += 1
        else:
            batch["added" if info is None else "changed"].append(len(paths))
            if not check_mode:
                info = tree.write(target, data)
        roots.append(root)
        paths.append(path)
        if info is None:  # check mode: nothing on disk to record
            stats.extend((len(data), 0, 0))
        else:
            stats.extend((info.st_size, info.st_mtime_ns, info.st_ino))
    batch["counts"].append(len(files))
    batch["fingerprints"].append(unit.fingerprint)  # computed here, in the worker, if it was not yet


def _apply_span(tree, units, check_mode, start, end):
    batch = _new_batch()
    staged = StagedWriter(tree) if tree.staged_tops else None
    try:
        for index in range(start, end):
            _apply_unit(tree, units[index], check_mode, batch, staged)
    finally:
        if staged is not None:
            staged.close()
            batch["entries"] = staged.entries
    return batch


# Work handed to forked workers: set just before the pool forks, read by the workers.
_JOB = {}


def _worker(span):
    return _apply_span(_JOB["tree"], _JOB["units"], _JOB["check_mode"], *span)


def _apply_all(tree, units, check_mode, workers):
    """Batches (see _new_batch) covering units in order. Large runs fork workers: rendering and file
    creation are CPU-bound (a first fill at 100,000 machines is 300,000 files and 100,000 directories)."""
    if workers <= 1 or len(units) < 2000:
        return [_apply_span(tree, units, check_mode, 0, len(units))]
    import multiprocessing  # only here: small runs and platforms without fork never need it
    # Parent directories first, so that workers do not race to create them.
    for root, directory, _pattern in tree.owned:
        top = tree.prefixes[root] + directory
        if (root, directory) not in tree.staged_tops:  # a staging copy exists already
            tree.ensure_dir(top, check_mode)
    # A few large batches per worker: each batch is one pickled answer, and a busy core
    # (the machine is shared) still leaves the other worker something to take over.
    chunk = max(500, len(units) // (workers * 4) + 1)
    spans = [(start, min(start + chunk, len(units))) for start in range(0, len(units), chunk)]
    _JOB.update(tree=tree, units=units, check_mode=check_mode)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_worker, spans, chunksize=1)
    finally:
        _JOB.clear()


class Manifest:
    """What the last run wrote: per unit its key, fingerprint and files; per file its root, path and
    (size, mtime_ns, inode) right after the write.

    Stored compactly (a 100,000-machine fleet is 300,000 files): one JSON header line, the unit keys,
    fingerprints, roots and paths as one NUL-separated UTF-8 text, then native int64 arrays (each
    unit's end index into the files; size, mtime_ns, inode per file). Loading is one split() and two
    frombytes(), with no per-file Python object beyond the path strings. A manifest is a cache, never
    the truth: one that is missing, unreadable, of another format or for other roots is empty.
    """

    def __init__(self, inputs=None):
        self.inputs = inputs
        self.keys = []
        self.fingerprints = []
        self.ends = array.array("q")    # unit i owns files ends[i-1]:ends[i]
        self.roots = []
        self.paths = []
        self.stats = array.array("q")   # size, mtime_ns, inode of file i at 3*i
        self.children = {}              # "root:directory" of each owned directory -> entries of ours in it

    def copy_units(self, old, first, last):
        """Append the old manifest's units first..last-1 (verified intact) as they are."""
        start, end = old.span(first)[0], old.span(last - 1)[1]
        shift = len(self.paths) - start
        self.keys.extend(old.keys[first:last])
        self.fingerprints.extend(old.fingerprints[first:last])
        self.ends.extend(unit_end + shift for unit_end in old.ends[first:last])
        self.roots.extend(old.roots[start:end])
        self.paths.extend(old.paths[start:end])
        self.stats.extend(old.stats[3 * start:3 * end])

    def add_rendered(self, units, batch, first, last, file_start):
        """Append units (rendered into batch, its units first..last-1, their files from file_start on)."""
        counts = batch["counts"][first:last]
        file_end = file_start + sum(counts)
        self.keys.extend(map(_KEY_OF, units))
        self.fingerprints.extend(batch["fingerprints"][first:last])
        self.ends.extend(itertools.islice(itertools.accumulate(counts, initial=len(self.paths)), 1, None))
        self.roots.extend(batch["roots"][file_start:file_end])
        self.paths.extend(batch["paths"][file_start:file_end])
        self.stats.extend(batch["stats"][3 * file_start:3 * file_end])
        return file_end

    def span(self, index):
        return (self.ends[index - 1] if index else 0), self.ends[index]

    def unit_of_file(self, file_index):
        return bisect.bisect_right(self.ends, file_index)

    def dumps(self, roots) -> bytes:
        parts = self.keys + self.fingerprints + self.roots + self.paths
        text = "\0".join(parts).encode("utf-8")
        if text.count(b"\0") != max(len(parts) - 1, 0):
            raise SyncError("a unit key, fingerprint or path contains a NUL character")
        header = {"format": MANIFEST_FORMAT, "roots": roots, "inputs": self.inputs, "byteorder": sys.byteorder,
                  "units": len(self.keys), "files": len(self.paths), "text": len(text), "children": self.children}
        return b"".join((json.dumps(header, sort_keys=True).encode("utf-8"), b"\n", text,
                         self.ends.tobytes(), self.stats.tobytes()))

    @classmethod
    def load(cls, state_file, roots):
        manifest = cls()
        if not state_file:
            return manifest
        try:
            with open(state_file, "rb") as handle:
                data = handle.read()
            header_end = data.index(b"\n")
            header = json.loads(data[:header_end])
            if (not isinstance(header, dict) or header.get("format") != MANIFEST_FORMAT
                    or header.get("roots") != roots or header.get("byteorder") != sys.byteorder):
                return manifest
            units, files, text_end = header["units"], header["files"], header_end + 1 + header["text"]
            parts = data[header_end + 1:text_end].decode("utf-8").split("\0") if units else []
            ends, stats = array.array("q"), array.array("q")
            ends.frombytes(data[text_end:text_end + 8 * units])
            stats.frombytes(data[text_end + 8 * units:])
        except (OSError, ValueError, KeyError, TypeError):
            return manifest
        if (len(parts) != 2 * units + 2 * files or len(ends) != units or len(stats) != 3 * files
                or (units and ends[-1] != files)):
            return manifest
        manifest.inputs = header.get("inputs")
        manifest.children = header.get("children") if isinstance(header.get("children"), dict) else {}
        manifest.keys, manifest.fingerprints = parts[:units], parts[units:2 * units]
        manifest.roots, manifest.paths = parts[2 * units:2 * units + files], parts[2 * units + files:]
        manifest.ends, manifest.stats = ends, stats
        return manifest

    def save(self, state_file, roots):
        directory = os.path.dirname(os.path.abspath(state_file))
        os.makedirs(directory, mode=0o755, exist_ok=True)
        temp = state_file + TEMP_MARK
        with open(temp, "wb") as handle:
            handle.write(self.dumps(roots))
        os.rename(temp, state_file)


def _stale_files(tree, manifest, workers):
    """Indexes of the manifest's files that are gone or whose (size, mtime_ns, inode) differ from the
    record: one fstatat() per file, relative to an open root (no path walk from /). A file edited in
    place changes size or mtime; one replaced (editor, rsync, our own atomic write) changes inode.
    Large manifests are checked by forked workers, a slice each."""
    count = len(manifest.paths)
    if workers <= 1 or count < PARALLEL_CHECK_FILES:
        return _stale_slice(tree.roots, manifest, 0, count)
    import multiprocessing  # only here: small runs and platforms without fork never need it
    step = count // workers + 1
    _JOB.update(roots=tree.roots, manifest=manifest)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return [index for part in pool.map(_stale_worker, [(start, min(start + step, count))
                                                               for start in range(0, count, step)])
                    for index in part]
    finally:
        _JOB.clear()


def _stale_worker(span):
    return _stale_slice(_JOB["roots"], _JOB["manifest"], *span)


def _stale_slice(roots, manifest, start, end):
    stale = []
    fds = {}
    try:
        for name, path in roots.items():
            try:
                fds[name] = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
            except OSError:  # check mode before the first run: nothing of it exists
                fds[name] = -1
        stat_at = os.stat
        stats = manifest.stats
        index = start
        for root, path in zip(manifest.roots[start:end], manifest.paths[start:end]):
            try:
                info = stat_at(path, dir_fd=fds[root], follow_symlinks=False)
            except (OSError, KeyError):
                stale.append(index)
            else:
                at = 3 * index
                if info.st_size != stats[at] or info.st_mtime_ns != stats[at + 1] or info.st_ino != stats[at + 2]:
                    stale.append(index)
            index += 1
    finally:
        for fd in fds.values():
            if fd >= 0:
                os.close(fd)
    return stale


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
    lock = None
    # The manifest and the units are a few million objects in no cycle (see cyclic_gc_paused): an
    # eighth of a no-change run at 20,000 machines.
    try:
        if state_file and not check_mode:
            os.makedirs(os.path.dirname(os.path.abspath(state_file)), mode=0o755, exist_ok=True)
            lock = os.open(state_file + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(lock, fcntl.LOCK_EX)
        with cyclic_gc_paused():
            return _sync(Tree(roots, owned, mode=mode), units, state_file, check_mode, workers, limit, inputs)
    finally:
        if lock is not None:
            os.close(lock)  # closing the descriptor releases the lock
        os.umask(umask)


def _sync(tree, units, state_file, check_mode, workers, limit, inputs):
    for name, path in sorted(tree.roots.items()):
        if not check_mode and not os.path.isdir(path):
            raise SyncError("the %s root %s does not exist (create it first)" % (name, path))
    result = SyncResult(limit)
    manifest_roots = dict(sorted(tree.roots.items()))
    old = Manifest.load(state_file, manifest_roots)
    stale = _stale_files(tree, old, workers)
    if inputs is not None and old.inputs == inputs and not stale:
        _verify_unchanged(tree, old, check_mode, result)
        return result

    if callable(units):
        units = units()  # loads and validates: may raise before anything is written
    if not check_mode:
        tree.stage_missing()
    plan, todo = _plan(units, old, stale, result)
    result.units = len(units)
    result.units_rendered = len(todo)
    batches = _apply_all(tree, todo, check_mode, workers)
    new = _assemble(Manifest(inputs), old, plan, todo, batches)
    rendered_dirs = _count(batches, result)
    children = _publish_and_prune(tree, old, new, batches, rendered_dirs, check_mode, result)
    dirty = bool(todo) or new.keys != old.keys or old.inputs != inputs or bool(stale)
    if state_file and not check_mode and (dirty or result.changed):
        # mtimes in check mode would be placeholders: the manifest is only written for real runs.
        new.children = children()
        new.save(state_file, manifest_roots)
    return result


def _verify_unchanged(tree, old, check_mode, result):
    """Inputs unchanged and every recorded file intact: count them, prune only when an owned directory holds
    a stray entry."""
    result.counts["unchanged"] = len(old.paths)
    result.units = len(old.keys)
    if not _owned_dirs_hold_only(tree, old.children):
        _prune(tree, _expected(tree, old.roots, old.paths), (), check_mode, result)


def _plan(units, old, stale, result):
    """(plan, todo): the units in order as runs - [index in the old manifest of the first, count] of old units
    intact (files and fingerprint) and consecutive there, [None, count] of units to render - and the units
    to render."""
    if len({unit.key for unit in units}) != len(units):
        raise SyncError("two units have the same key")
    old_units = {key: index for index, key in enumerate(old.keys)}
    if not old_units:  # a first run (or a lost manifest): every unit is rendered, no per-unit lookup
        return ([[None, len(units)]] if units else []), list(units)
    stale_units = {old.unit_of_file(index) for index in stale}
    plan, todo = [], []
    for unit in units:
        index = old_units.get(unit.key)
        if index is not None and old.fingerprints[index] == unit.fingerprint and index not in stale_units:
            start, end = old.span(index)
            result.counts["unchanged"] += end - start
            if plan and plan[-1][0] is not None and plan[-1][0] + plan[-1][1] == index:
                plan[-1][1] += 1
            else:
                plan.append([index, 1])
        else:
            todo.append(unit)
            if plan and plan[-1][0] is None:
                plan[-1][1] += 1
            else:
                plan.append([None, 1])
    return plan, todo


def _count(batches, result):
    """Add the workers' counts and names to result; the directories that existed and hold a rendered file."""
    rendered_dirs = set()
    for batch in batches:
        rendered_dirs |= batch["dirs"]
        result.counts["unchanged"] += batch["same"]
        for kind in ("added", "changed"):
            indexes, roots, paths = batch[kind], batch["roots"], batch["paths"]
            result.counts[kind] += len(indexes)
            if len(indexes) == len(paths):  # a first run: every file
                result.names[kind].extend(zip(roots, paths))
            else:
                result.names[kind].extend((roots[index], paths[index]) for index in indexes)
    return rendered_dirs


def _publish_and_prune(tree, old, new, batches, rendered_dirs, check_mode, result):
    """Publish the staged directories, prune what is not ours any more; a function giving the entry count of
    each owned directory for the manifest (only called when the manifest is saved)."""
    fresh_tops = tree.publish()
    if (not check_mode and old.children and new.paths == old.paths and new.roots == old.roots
            and _owned_dirs_hold_only(tree, old.children)):
        # The same files as the last run, each verified or written just now: as on the no-change path,
        # equal counts in the owned directories mean no stray (one machine changed at 100,000: no set
        # of 300,000 expected names to build).
        return lambda: old.children
    if fresh_tops and fresh_tops == {tree.prefixes[root] + directory for root, directory, _pattern in tree.owned}:
        # A first run: every owned directory was built by this run and published whole, so nothing is
        # there to prune, a name produced twice already failed (O_EXCL), and each directory holds only
        # the entries the workers made in it (no set of 300,000 expected names to build, no listing).
        entries = sum((batch["entries"] for batch in batches), collections.Counter())
        children = {"%s:%s" % (root, directory): entries["%s:%s" % (root, directory)]
                    for root, directory, _pattern in tree.owned}
        return lambda: children
    expected = _expected(tree, new.roots, new.paths)
    _prune(tree, expected, rendered_dirs, check_mode, result, skip_tops=fresh_tops)
    return lambda: _children_counts(tree, expected)


def _assemble(new, old, plan, todo, batches):
    """The new manifest in unit order (plan: see _sync): runs of intact old units copied, runs of rendered ones
    appended from the batches (one per worker span, in todo's order)."""
    rendered = 0                     # units of todo appended so far
    batch_index = unit_in_batch = file_in_batch = 0
    for first, count in plan:
        if first is not None:
            new.copy_units(old, first, first + count)
            continue
        while count:
            batch = batches[batch_index]
            if unit_in_batch == len(batch["counts"]):  # the next batch
                batch_index += 1
                unit_in_batch = file_in_batch = 0
                continue
            taken = min(count, len(batch["counts"]) - unit_in_batch)
            file_in_batch = new.add_rendered(todo[rendered:rendered + taken], batch, unit_in_batch,
                                             unit_in_batch + taken, file_in_batch)
            rendered += taken
            unit_in_batch += taken
            count -= taken
    return new


def _expected(tree, roots, paths):
    """The absolute paths of the files to keep and of every directory above them (below the roots)."""
    prefixes = tree.prefixes
    files = {prefixes[root] + path for root, path in zip(roots, paths)}
    if len(files) != len(paths):
        raise SyncError("%d file names, %d distinct: a file is produced by two units" % (len(paths), len(files)))
    expected = set(files)
    for directory in {target[:target.rindex("/")] for target in files}:
        while directory not in expected and directory not in tree.roots_set:
            expected.add(directory)
            directory = directory[:directory.rindex("/")]
    return expected


def _children_counts(tree, expected):
    """{"root:directory": how many of the expected files and directories are right in it} per owned directory."""
    parents = collections.Counter(target[:target.rindex("/")] for target in expected)
    return {"%s:%s" % (root, directory): parents.get(tree.prefixes[root] + directory, 0)
            for root, directory, _pattern in tree.owned}


def _owned_dirs_hold_only(tree, children):
    """True when each owned directory holds (of the names the sync owns there) exactly as many entries as the
    last run left in it. Called only once every recorded file was found intact: then all of those entries
    exist, and an equal count means nothing else is there - no stray to prune, without building the set
    of 300,000 expected names (a listdir per owned directory, no per-file work)."""
    for root, directory, pattern in tree.owned:
        top = tree.prefixes[root] + directory
        try:
            if not stat.S_ISDIR(os.lstat(top).st_mode):
                return False  # _prune says what is wrong
            names = os.listdir(top)
        except FileNotFoundError:
            names = []
        if pattern is not None:
            names = [name for name in names if pattern.match(name) or _TEMP_RE.match(name)]
        if len(names) != children.get("%s:%s" % (root, directory)):
            return False
    return True


def _prune(tree, expected, list_dirs, check_mode, result, skip_tops=()):
    """Remove what no unit produced from the owned directories (by pattern), recursively.

    expected: absolute paths of the files and directories to keep. The owned directories are always
    listed; below them only list_dirs (and the directories on the way): the others hold only files
    verified by their stat or written into a directory this run created. skip_tops: owned directories
    this run created whole (nothing else can be in them).
    """
    children = {}
    for directory in list_dirs:
        while directory not in tree.roots_set:
            parent = directory[:directory.rindex("/")]
            children.setdefault(parent, set()).add(directory)
            directory = parent
    for root, directory, pattern in tree.owned:
        top = tree.prefixes[root] + directory
        if top in skip_tops:
            continue
        try:
            info = os.lstat(top)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise SyncError("%s is not a directory" % top)
        _prune_dir(tree, root, top, pattern, expected, children, check_mode, result)


def _prune_dir(tree, root, directory, pattern, expected, children, check_mode, result):
    prefix = directory + "/"
    # One listdir and set lookups per directory, not one stat per expected file.
    for name in sorted(name for name in os.listdir(directory) if prefix + name not in expected):
        if not (pattern is None or pattern.match(name) or _TEMP_RE.match(name)):
            continue  # the operator's own file (pxelinux.cfg/default, grub/grub.cfg)
        target = prefix + name
        if stat.S_ISDIR(os.lstat(target).st_mode):
            _remove_tree(tree, root, target, check_mode, result)
        else:
            result.record("removed", root, target[len(tree.prefixes[root]):])
            if not check_mode:
                os.unlink(target)
    for child in sorted(children.get(directory, ())):
        if os.path.isdir(child) and not os.path.islink(child):
            _prune_dir(tree, root, child, None, expected, children, check_mode, result)


def _remove_tree(tree, root, directory, check_mode, result):
    for current, dirs, files in os.walk(directory):
        relative = current[len(tree.prefixes[root]):]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(current, d))]:
            result.record("removed", root, relative + "/" + name)
    if not check_mode:
        shutil.rmtree(directory)
