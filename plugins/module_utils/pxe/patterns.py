# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fast path of the PXE renderer: a template rendered by Jinja once per group of machines, then filled per machine.

A template that uses machine names (MACHINE_NAMES) only as plain {{ name }} and in {% if %} tests (every shipped
one) gives, for all machines of a group (same profile, network and service URL) whose tested names have the same
truth (the shape), the same text but for those names. Jinja renders it once per group and shape with a sentinel
for each machine name; each machine then costs one join (Pattern.fill). Any other template is rendered by Jinja
per machine, the reference (render.Templates.render). tests/unit/pxe/test_fast_render.py compares the two.
"""

from __future__ import annotations

import itertools
import operator
import re

try:
    import jinja2
    HAS_JINJA2 = True
except ImportError:  # pragma: no cover - reported by render.Templates
    HAS_JINJA2 = False


class GroupPatterns:
    """Which templates a group pattern can render, and their patterns per group and shape."""

    def __init__(self):
        self.tests = {}     # key -> the machine names it tests in {% if %}, for templates a group pattern can render
        self._flat = {}     # key -> every name of a template made of text and {{ name }} only: one pattern for all
        self._patterns = {}  # (key, group, shape) -> Pattern, or None: render with Jinja
        self._groups_marked = {}  # group -> whether a value of its context holds SENTINEL_MARK
        self.tested = ()

    def add(self, key, tree, text):
        """Analyse a parsed template: it is group-rendered when it uses machine names only as allowed."""
        tests = machine_tests(tree)
        if tests is not None and SENTINEL_MARK not in text:
            self.tests[key] = tests
            names = plain_names(tree)
            if names is not None:
                self._flat[key] = names
        self.tested = tuple(sorted(set().union(*self.tests.values())))

    def shape(self, context) -> tuple:
        """What fixes the branches the templates take for a machine: the truth of each machine name they test."""
        return tuple(True if context[name] else repr(context[name]) for name in self.tested)

    def render(self, key, template, context, group, shape):
        """key's output for context as text, or None: render it with Jinja. A KeyError means an undefined name."""
        tests = self.tests.get(key)
        if tests is None:
            return None
        if shape is None:
            shape = self.shape(context)
        flat = self._flat.get(key)
        pattern_key = (key, group if flat is None else None, shape)
        pattern = self._patterns.get(pattern_key, False)
        if pattern is False:
            pattern = self._patterns[pattern_key] = self._group_pattern(template, context, group, tests, flat)
        return None if pattern is None else pattern.fill(context)

    def _group_pattern(self, template, context, group, tests, flat):
        """The Pattern rendering template for every machine of context's group and shape, or None.

        Jinja renders the template once, with each machine name replaced by a sentinel (a name tested
        falsy keeps its value: the shape fixes it); the sentinels in the output become its slots.
        Exact because the template uses machine names only as {{ name }} and in tests (machine_tests).
        A flat template gets every name it uses replaced, so its pattern serves every group.
        """
        slots = flat or MACHINE_NAMES
        if flat is None:
            if group not in self._groups_marked:
                self._groups_marked[group] = any(holds_sentinel_mark(value) for name, value in context.items()
                                                 if name not in MACHINE_NAME_SET)
            if self._groups_marked[group]:
                return None
        values = dict(context)
        for index, name in enumerate(slots):
            if name in tests and not context[name]:
                continue
            values[name] = sentinel(index)
        try:
            text = "".join(template.root_render_func(template.new_context(values, shared=True)))
        except jinja2.TemplateError:
            return None  # rendered per machine, which raises with Jinja's message
        return Pattern.of(text, slots)


class Pattern:
    """A template's output for one group and shape: literal texts with a context value between each two.

    fill() is one join (str.format_map would parse the whole text again for every machine)."""
    __slots__ = ("literals", "values", "size")

    @classmethod
    def of(cls, text, slots):
        """The pattern of a text rendered with sentinel(index) for each value slots[index]."""
        parts = SENTINEL_RE.split(text)
        return cls(parts[0::2], [slots[int(index)] for index in parts[1::2]])

    def __init__(self, literals, names):
        self.literals = tuple(literals)
        self.size = 2 * len(names) + 1
        self.values = operator.itemgetter(*names) if names else None
        if len(names) == 1:  # itemgetter of one name returns the value, not a 1-tuple
            self.values = lambda context, name=names[0]: (context[name],)

    def fill(self, context) -> str:
        if self.values is None:
            return self.literals[0]
        pieces = [None] * self.size
        pieces[0::2] = self.literals
        pieces[1::2] = self.values(context)
        try:
            return "".join(pieces)
        except TypeError:  # a value that is not a string (None, a dict): as {{ value }} renders it
            pieces[1::2] = map(str, pieces[1::2])
            return "".join(pieces)


# The names context() sets per machine; every other name is the same for all machines of a group.
MACHINE_NAMES = ("answer_url", "boot_local", "callback_url", "domain", "firmware", "fqdn", "hostname", "ipv4", "ipv6",
                 "kernel_args", "kernel_args_grub", "labels", "mac", "mac_dashes", "name", "rack")
MACHINE_NAME_SET = frozenset(MACHINE_NAMES)
SENTINEL_MARK = "\0"
SENTINEL_RE = re.compile("\0([0-9]+)\0")
# Nodes that pull in other templates, whose use of machine names this module cannot see.
_OPAQUE_NODES = (jinja2.nodes.Extends, jinja2.nodes.Include, jinja2.nodes.Import, jinja2.nodes.FromImport) \
    if HAS_JINJA2 else ()
# What an {% if %} test may be made of when it involves a machine name: its truth is then the shape's.
_TRUTH_NODES = (jinja2.nodes.Name, jinja2.nodes.Not, jinja2.nodes.And, jinja2.nodes.Or, jinja2.nodes.Const) \
    if HAS_JINJA2 else ()


def sentinel(index):
    return "%s%d%s" % (SENTINEL_MARK, index, SENTINEL_MARK)


def holds_sentinel_mark(value):
    if isinstance(value, str):
        return SENTINEL_MARK in value
    if isinstance(value, dict):
        return any(holds_sentinel_mark(item) for item in itertools.chain(value, value.values()))
    if isinstance(value, (list, tuple)):
        return any(holds_sentinel_mark(item) for item in value)
    return False


def plain_names(tree):
    """The names a template made only of text and {{ name }} uses, sorted; None for any other template."""
    names = set()
    for node in tree.body:
        if not isinstance(node, jinja2.nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, jinja2.nodes.Name) and child.name.isidentifier():
                names.add(child.name)
            elif not isinstance(child, jinja2.nodes.TemplateData):
                return None
    return tuple(sorted(names))


class _NotGroupRenderable(Exception):
    pass


def machine_tests(tree):
    """The machine names (MACHINE_NAMES) the parsed template tests in {% if %}/{% elif %}, sorted, or None when it
    uses one otherwise than as a plain {{ name }} or in such a test (or includes other templates).

    Then the output for a machine is the output for its group with each {{ name }} replaced by str() of the
    machine's value, once the truth of each tested name is fixed: a filter, an expression, a loop or an
    assignment over a machine name would need the value itself, and Jinja renders those per machine."""
    tested = set()
    machine_names = MACHINE_NAME_SET

    def visit(node, plain_output=False):
        if isinstance(node, _OPAQUE_NODES):
            raise _NotGroupRenderable()
        if isinstance(node, jinja2.nodes.Name):
            if node.name in machine_names and not plain_output:
                raise _NotGroupRenderable()
            return
        if isinstance(node, jinja2.nodes.Output):
            for child in node.nodes:
                visit(child, plain_output=True)
            return
        if isinstance(node, jinja2.nodes.If):
            visit_test(node.test)
            for child in node.body + node.elif_ + node.else_:
                visit(child)
            return
        for child in node.iter_child_nodes():
            visit(child)

    def visit_test(test):
        nodes = [test, *test.find_all(jinja2.nodes.Node)]  # find_all: the descendants only
        names = {node.name for node in nodes if isinstance(node, jinja2.nodes.Name)} & machine_names
        if not names:
            visit(test)
            return
        if not all(isinstance(node, _TRUTH_NODES) for node in nodes):
            raise _NotGroupRenderable()
        tested.update(names)

    try:
        visit(tree)
    except _NotGroupRenderable:
        return None
    return tuple(sorted(tested))
