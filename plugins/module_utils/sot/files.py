# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading SoT files: which files a path stands for, and each one parsed (YAML or JSON)."""

from __future__ import annotations

import importlib.util
import json
import os

try:
    import yaml
    HAS_YAML = True
except ImportError:  # reported by read_sources() with an install hint
    HAS_YAML = False

# The checks need netaddr; read_sources() reports its absence with an install hint.
HAS_NETADDR = importlib.util.find_spec("netaddr") is not None

from ansible_collections.netboot.fleet.plugins.module_utils.problems import Problem
from ansible_collections.netboot.fleet.plugins.module_utils.sot.checks import SotError, shown


SOURCE_SUFFIXES = (".yml", ".yaml", ".json")
_STR_TAG = "tag:yaml.org,2002:str"

if HAS_YAML:
    class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        """The safe loader, refusing what PyYAML lets through silently: a key written twice in one mapping
        (the last would win: a second `machines:` drops the first's machines) and keys that are not strings
        (the records have field names; an integer key cannot be sorted with them)."""

        def construct_mapping(self, node, deep=False):
            mapping = super().construct_mapping(node, deep=deep)
            # Fewer entries than written: a key repeats, or merge keys (<<) added or overrode some.
            if len(mapping) != len(node.value) or not all(map(str.__instancecheck__, mapping)):
                _check_keys(node)
            return mapping

    def _check_keys(node):
        seen = set()
        for key_node, _value in node.value:
            # Merged keys come from the anchored mapping, written elsewhere: they may be overridden here.
            if key_node.start_mark.index < node.start_mark.index:
                continue
            if key_node.tag != _STR_TAG or not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "found a key that is not a string (%s); quote it" % _shown_key(key_node),
                    key_node.start_mark)
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, "found key %s a second time in one mapping" % _shown_key(key_node), key_node.start_mark)
            seen.add(key_node.value)

    def _shown_key(key_node):
        value = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a %s" % key_node.id
        return shown(value)


def _cut(text, limit=200):
    """A parser's message, bounded: it may quote the input (a tag, a key) at any length."""
    return text if len(text) <= limit else "%s... (%d characters)" % (text[:limit], len(text))


def _json_object(pairs):
    """json.loads' object_pairs_hook: a dict, refusing a key written twice (JSON keys are always strings)."""
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        seen = set()
        for key, _value in pairs:
            if key in seen:
                raise ValueError("key %s is written twice in one object" % shown(key))
            seen.add(key)
    return mapping


def source_files(path: str) -> list:
    """The files a SoT path stands for: the file itself, or the data files below a directory (sorted)."""
    if os.path.isdir(path):
        found = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(os.path.join(root, name) for name in sorted(files)
                         if name.endswith(SOURCE_SUFFIXES) and not name.startswith("."))
        return found
    return [path]


def read_file(path: str, problems: list):
    """The parsed content of one file, or None after reporting why it cannot be used."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError as exc:
        problems.append(Problem(path, "file", "", "cannot be read: %s" % exc.strerror))
        return None
    try:
        if path.endswith(".json"):
            data = json.loads(text, object_pairs_hook=_json_object)
        else:
            data = yaml.load(text, Loader=StrictLoader)  # nosec B506 - a SafeLoader
    except RecursionError:
        problems.append(Problem(path, "file", "", "is nested too deeply to be a source of truth"))
        return None
    except ValueError as exc:
        problems.append(Problem(path, "file", "", "is not valid JSON: %s" % _cut(str(exc))))
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problems.append(Problem(path, "file", "", "is not valid YAML: line %d, column %d: %s%s" % (
            mark.line + 1, mark.column + 1, _cut(exc.problem), " (%s)" % _cut(exc.context) if exc.context else "")))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(path, "file", "", "is not valid YAML: %s" % _cut(str(exc))))
        return None
    if data is None:
        problems.append(Problem(path, "file", "", "is empty"))
        return None
    return data


def read_sources(path: str) -> list:
    """[read_source(file)] of every file the SoT at path stands for."""
    if not (HAS_NETADDR and HAS_YAML):
        raise ImportError("netboot.fleet needs the Python libraries netaddr and PyYAML (pip install netaddr pyyaml)")
    if not os.path.exists(path):
        raise SotError([Problem(path, "source", "", "does not exist")])
    files = source_files(path)
    if not files:
        raise SotError([Problem(path, "source", "", "holds no .yml, .yaml or .json file")])
    return [read_source(source) for source in files]


def read_source(source: str) -> tuple:
    """(file, os.stat_result taken before reading or None, parsed content or None, [Problem] of reading)."""
    try:
        info = os.stat(source)
    except OSError:
        info = None
    problems = []
    return source, info, read_file(source, problems), problems
