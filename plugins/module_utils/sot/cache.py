# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Incremental SoT loading for a job that runs again and again on the same SoT (a sync).

A cache file keeps what sot.validate() established - parsed networks, declared names, every file's
machines - and each file's size, times and inode. The next load reads again only the files whose
stamp changed. When those files changed only in their machines, only these machines are validated
again, plus the uniqueness of names, MACs, DUIDs, BMCs and addresses across the whole fleet (set
sizes, in C). Anything else - a file added or removed, a network, profile, node or fabric edited,
any problem - falls back to sot.load() of everything, which gives the complete report. So a
cached load accepts exactly what a full load accepts.

Loaded.changed names the machines added, changed or removed since the cache was saved. A sync
that saves the cache only once it has pushed its changes thus knows what it still has to push,
whoever else loaded the SoT in between.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle  # nosec B403 - only a cache file this user wrote and nobody else can write (see _read_cache)
import sys
import tempfile
from dataclasses import dataclass, field
from operator import attrgetter

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
from ansible_collections.netboot.fleet.plugins.module_utils.gc_pause import cyclic_gc_paused
from ansible_collections.netboot.fleet.plugins.module_utils.safe_dir import ensure_dir

CACHE_FORMAT = 1
# When set, every load appends a line "<pid> full|cached <files read> <path>" to this file: how the tests count
# full loads and validations, and loads served by the cache.
LOAD_LOG_ENV = "NETBOOT_FLEET_SOT_LOAD_LOG"


@dataclass
class Loaded:
    """changed: names of the machines added, changed or removed since the cache was saved, or None when
    that is unknown (no usable cache, or more than machines changed). before / after: {name: Machine} of
    the changed machines as cached / as now, for those that existed / exist. extra: what the caller saved
    with the cache ({} when changed is None). .sot builds the whole validated SoT on first use;
    machines_in() is the cheap way to the machines of a few networks."""
    changed: frozenset | None
    before: dict
    after: dict
    extra: dict
    _validated: sot.Validated  # without machines: they are in _machines
    _machines: _Columns = field(repr=False)
    _stamps: dict = field(repr=False)
    _digests: dict = field(repr=False)

    @functools.cached_property
    def sot(self) -> sot.Sot:
        return _with_machines(self._validated, self._machines.by_file()).sot()

    def network(self, name: str) -> sot.Network:
        return self._validated.networks[name].record

    def machines_in(self, networks) -> list:
        """[Machine] of the machines in these networks (names), sorted by name."""
        return sorted(self._machines.where("network", networks), key=attrgetter("name"))

    def save(self, cache_file: str, extra: dict | None = None):
        """Make this load the cache's reference point; extra (plain data) comes back as Loaded.extra."""
        if None in self._stamps.values():
            return  # a file could not be stamped: nothing trustworthy to keep
        state = {"format": CACHE_FORMAT, "code": _code_digest(), "path": self._validated.path,
                 "stamps": self._stamps, "digests": self._digests, "validated": self._validated,
                 "machines": self._machines, "extra": dict(extra or {})}
        directory = ensure_dir(os.path.dirname(os.path.abspath(cache_file)))
        handle, tmp = tempfile.mkstemp(prefix=".sot-cache.", dir=directory)  # created 0600
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(state, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, cache_file)
        except OSError:
            os.unlink(tmp)
            raise


def load(path: str, cache_file: str) -> Loaded:
    """sot.load(path), reading again only what changed since cache_file was saved (see the module doc).
    Raises sot.SotError exactly when sot.load() would."""
    with cyclic_gc_paused():
        path = os.path.abspath(path)
        cached = _read_cache(cache_file, path)
        if cached is not None:
            loaded = _incremental(path, cached)
            if loaded is not None:
                _log_load("cached", sum(stamp != cached["stamps"].get(source) for source, stamp in loaded._stamps.items()),
                          path)
                return loaded
        contents = sot.read_sources(path)
        validated = sot.validate(path, contents)
        _log_load("full", len(contents), path)
        loaded = Loaded(None, {}, {}, {}, _with_machines(validated, None), _Columns.of(validated.machines),
                        {source: _stamp(info) for source, info, _data, _problems in contents},
                        {source: _digest(data) for source, _info, data, _problems in contents})
        loaded.sot = validated.sot()  # at hand already
        return loaded


def _incremental(path, cached):
    """The Loaded from the cache and the files changed since, or None when a full load is needed."""
    files = sot.source_files(path) if os.path.exists(path) else []
    if files != list(cached["stamps"]):
        return None
    validated, machines = cached["validated"], cached["machines"]
    stamps = dict(cached["stamps"])
    before, after = {}, {}
    for source in files:
        info = _stat(source)
        if _stamp(info) == stamps[source]:
            continue
        source, info, data, problems = sot.read_source(source)
        if problems or info is None or not isinstance(data, dict) or set(data) - set(sot.FIELDS["top"]) \
                or _digest(data) != cached["digests"][source] or not isinstance(data.get("machines", []), list):
            return None
        if source not in machines.spans:  # a file that held no machines (fabric, networks ...)
            if data.get("machines"):
                return None  # it holds some now: they have no place among the columns yet
            stamps[source] = _stamp(info)
            continue
        try:
            new = validated.machines_of(source, data.get("machines", []))
        except sot.SotError:
            return None
        before.update((machine.name, machine) for machine in machines.of_file(source))
        machines.replace(source, new)
        after.update((machine.name, machine) for machine in new)
        stamps[source] = _stamp(info)
    if (before or after) and validated.may_clash(machines.column):
        return None
    changed = frozenset(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    return Loaded(changed, {name: before[name] for name in changed if name in before},
                  {name: after[name] for name in changed if name in after}, cached.get("extra") or {},
                  validated, machines, stamps, cached["digests"])


def _read_cache(cache_file, path):
    """The cached state for this SoT path and this code, or None. Only a file of this user that no one
    else may write is unpickled: unpickling runs code the file names."""
    try:
        # O_NOFOLLOW: the cache file itself, never what a link in its place points to.
        with os.fdopen(os.open(cache_file, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o022:
                return None
            state = pickle.load(handle)  # nosec B301 - see the docstring
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, TypeError):
        return None
    if not isinstance(state, dict) or state.get("format") != CACHE_FORMAT or state.get("code") != _code_digest() \
            or state.get("path") != path:
        return None
    return state


def _with_machines(validated, machines):
    return sot.Validated(validated.path, validated.files, validated.fabric, validated.nodes, validated.networks,
                         validated.profiles, validated.declared_networks, validated.profile_names, machines)


class _Columns:
    """Every machine as one list per field, each file a slice of them: unpickled a fifth faster than as
    dataclass objects, and the uniqueness checks take whole columns as they are."""

    FIELDS = ("name", "mac", "network", "profile", "firmware", "bmc.address", "bmc.protocol", "bmc.port", "ipv4", "ipv6",
              "duid", "rack", "labels", "source")
    _INDEX = {name: index for index, name in enumerate(FIELDS)}
    # Values many machines share, interned so that a pickle holds each once.
    _SHARED = frozenset(("network", "profile", "firmware", "bmc.protocol", "rack", "source"))

    def __init__(self, columns, spans):
        self.columns = columns  # one list per FIELDS entry
        self.spans = spans  # {file: (first index, end index)}, in file order

    @classmethod
    def of(cls, machines_by_file):
        columns, spans, start = [[] for _name in cls.FIELDS], {}, 0
        for source, machines in machines_by_file.items():
            for column, values in zip(columns, cls._values(machines)):
                column.extend(values)
            spans[source] = (start, start + len(machines))
            start += len(machines)
        return cls(columns, spans)

    @classmethod
    def _values(cls, machines):
        """One list per field of these machines."""
        values = [list(map(attrgetter(name), machines)) for name in cls.FIELDS]
        for name in cls._SHARED:
            values[cls._INDEX[name]] = [value if value is None else sys.intern(value) for value in values[cls._INDEX[name]]]
        return values

    def column(self, *names):
        """Validated.may_clash's column function."""
        if len(names) == 1:
            return self.columns[self._INDEX[names[0]]]
        return list(zip(*(self.columns[self._INDEX[name]] for name in names)))

    def of_file(self, source):
        first, end = self.spans[source]
        return self._machines(range(first, end))

    def where(self, name, values):
        """The machines whose field name has one of these values."""
        column = self.columns[self._INDEX[name]]
        return self._machines(index for index, value in enumerate(column) if value in values)

    def by_file(self):
        return {source: self.of_file(source) for source in self.spans}

    def replace(self, source, machines):
        """The machines of one file become these."""
        first, end = self.spans[source]
        for column, values in zip(self.columns, self._values(machines)):
            column[first:end] = values
        # The files after this one (spans are in file order, as the columns are laid out) move by the difference.
        shift, spans, later = len(machines) - (end - first), {}, False
        for name, (start, stop) in self.spans.items():
            if name == source:
                spans[name], later = (first, first + len(machines)), True
            else:
                spans[name] = (start + shift, stop + shift) if later else (start, stop)
        self.spans = spans

    def _machines(self, indexes):
        columns = self.columns
        return [sot.Machine(*(columns[field][index] for field in range(5)),
                            sot.Bmc(columns[5][index], columns[6][index], columns[7][index]),
                            *(columns[field][index] for field in range(8, 14)))
                for index in indexes]


def _log_load(kind, files_read, path):
    log = os.environ.get(LOAD_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write("%d %s %d %s\n" % (os.getpid(), kind, files_read, path))


def stamps(path: str) -> tuple | None:
    """What a load of the SoT at path depends on: each file's name and stamp; None when one cannot be stat'ed."""
    result = []
    for source in sot.source_files(path):
        stamp = _stamp(_stat(source))
        if stamp is None:
            return None
        result.append((source, stamp))
    return tuple(result)


def _stat(source):
    try:
        return os.stat(source)
    except OSError:
        return None


def _stamp(info):
    # ctime too: a file rewritten with its old mtime forged back still gets a new ctime.
    return None if info is None else (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def _digest(data):
    """Of everything in one file but its machines: when that is unchanged, only machines need validating."""
    rest = {key: value for key, value in data.items() if key != "machines"} if isinstance(data, dict) else data
    return hashlib.sha256(json.dumps(rest, sort_keys=True, default=repr).encode()).hexdigest()


def _code_digest():
    """A cache written by other validation code (any file of the sot package) is not used."""
    digest = hashlib.sha256()
    package = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(package)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(package, name), "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()
