# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PXE/iPXE boot assets rendered from the source of truth.

Pure: a validated Sot and template texts in, {(root, relative path): bytes} out,
deterministic. Each Jinja2 template is compiled once; every machine gets one
flat context dict built in Python (no Jinja over hostvars, no per-machine
compile), which is what makes 100,000 machines a matter of seconds. A template
that uses machine names only as {{ name }} and in {% if %} tests (all shipped
ones) is rendered by Jinja once per group of machines sharing profile, network
and service URL, and per machine by filling in a _Pattern (Templates._group_pattern).

The file names and URL paths are the boot layout of pxe/layout.py; a profile's kernel and initrd are
relative to the HTTP root unless URLs.

Templates ship in plugins/templates/pxe/<name>.j2 (TEMPLATE_NAMES); a user
directory can replace any of them, and a profile's `template` replaces the
answer-file template of that profile (for autoinstall: user-data).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import os
import re
from urllib.parse import urlsplit

from ansible_collections.netboot.fleet.plugins.module_utils.problems import ProblemsError
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import layout
from ansible_collections.netboot.fleet.plugins.module_utils.pxe.layout import HTTP, INSTALLER_FILES, TFTP

try:
    import jinja2
    HAS_JINJA2 = True
except ImportError:  # pragma: no cover - reported by the module with an install hint
    HAS_JINJA2 = False

try:
    from netaddr import IPNetwork
    HAS_NETADDR = True
except ImportError:  # pragma: no cover
    HAS_NETADDR = False

LOADERS = ("grub", "pxelinux")

# Template name -> what it renders. The file is <name>.j2.
TEMPLATE_NAMES = (
    "boot.ipxe",               # ipxe/boot.ipxe, once
    "machine.ipxe",            # ipxe/<mac>.ipxe
    "grub.cfg",                # grub/grub.cfg-01-<mac-dashes>
    "pxelinux.cfg",            # pxelinux.cfg/01-<mac-dashes>
    "preseed.cfg",             # installer/<name>/preseed.cfg
    "kickstart.cfg",           # installer/<name>/ks.cfg
    "autoinstall-user-data",   # installer/<name>/user-data
    "autoinstall-meta-data",   # installer/<name>/meta-data
)
DEFAULT_TEMPLATE_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "templates", "pxe"))

# Defence in depth: the SoT loader validated these already; file names are built only from them.
_MAC_RE = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")  # fullmatch: no trailing newline either
_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")
_GRUB_SAFE_RE = re.compile(r"^[A-Za-z0-9_.,:/=@+%-]*$")
_GRUB_SAFE_LINE_RE = re.compile(r"^[A-Za-z0-9_.,:/=@+% -]*$")


class PxeError(ProblemsError):
    """Rendering cannot start. .problems lists every problem found, each naming record and field."""

    HEADER = "%d problem(s) with the PXE assets:"


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------

def read_templates(override_dir=None, default_dir=DEFAULT_TEMPLATE_DIR) -> dict:
    """{name: text} of every template: the shipped ones, replaced by <override_dir>/<name>.j2."""
    problems = []
    if override_dir is not None and not os.path.isdir(override_dir):
        raise PxeError(["template directory %s does not exist" % override_dir])
    texts = {}
    for name in TEMPLATE_NAMES:
        path = os.path.join(default_dir, name + ".j2")
        if override_dir is not None and os.path.isfile(os.path.join(override_dir, name + ".j2")):
            path = os.path.join(override_dir, name + ".j2")
        try:
            with open(path, encoding="utf-8") as handle:
                texts[name] = handle.read()
        except OSError as exc:
            problems.append("template %s: %s cannot be read: %s" % (name, path, exc.strerror))
    if problems:
        raise PxeError(problems)
    return texts


def read_profile_templates(fleet) -> dict:
    """{profile name: text} for profiles with their own answer-file template.

    A relative path is relative to the SoT file that defines the profile, so a SoT
    directory can carry its templates. A missing file fails here, before anything is written.
    """
    texts, problems = {}, []
    for profile in fleet.profiles:
        if not profile.template:
            continue
        path = profile.template
        if not os.path.isabs(path):
            path = os.path.join(os.path.dirname(profile.source), path)
        try:
            with open(path, encoding="utf-8") as handle:
                texts[profile.name] = handle.read()
        except OSError as exc:
            problems.append("%s: profiles.%s.template: %s cannot be read: %s"
                            % (profile.source, profile.name, path, exc.strerror))
    if problems:
        raise PxeError(problems)
    return texts


_JSON_ENCODE = json.JSONEncoder(sort_keys=True).encode  # one encoder: json.dumps(**kwargs) builds one per call


def _tojson(value, indent=None):
    return _JSON_ENCODE(value) if indent is None else json.dumps(value, indent=indent, sort_keys=True)


class Templates:
    """Every template compiled once. render() is the per-machine hot path."""

    def __init__(self, texts: dict, profile_texts: dict | None = None):
        if not HAS_JINJA2:  # pragma: no cover
            raise ImportError("netboot.fleet PXE rendering needs the Python library Jinja2 (python3-jinja2)")
        self.env = jinja2.Environment(
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
            trim_blocks=True, lstrip_blocks=True, autoescape=False)
        # The output is config (YAML, kickstart), not HTML: plain JSON, without Jinja's HTML
        # escaping and Markup wrapping, which made tojson 10x the cost of the rest of a template.
        self.env.filters["tojson"] = _tojson
        problems = ["template %s is missing" % name for name in TEMPLATE_NAMES if name not in texts]
        unknown = sorted(set(texts) - set(TEMPLATE_NAMES))
        if unknown:
            problems.append("unknown template(s) %s (known: %s)" % (", ".join(unknown), ", ".join(TEMPLATE_NAMES)))
        self.compiled = {}
        self.tests = {}     # key -> the machine names it tests in {% if %}, for templates a group pattern can render
        self._flat = {}     # key -> every name of a template made of text and {{ name }} only: one pattern for all
        self._patterns = {}  # (key, group, shape) -> _Pattern, or None: render with Jinja
        self._groups_marked = {}  # group -> whether a value of its context holds _SENTINEL_MARK
        sources = [(name, "template " + name, text) for name, text in sorted(texts.items()) if name in TEMPLATE_NAMES]
        sources += [("profile:" + name, "profiles.%s.template" % name, text)
                    for name, text in sorted((profile_texts or {}).items())]
        digest = hashlib.sha256()
        for key, label, text in sources:
            digest.update(("%s\0%s\0" % (key, text)).encode("utf-8"))
            try:
                self.compiled[key] = self.env.from_string(text)
            except jinja2.TemplateSyntaxError as exc:
                problems.append("%s: line %s: %s" % (label, exc.lineno, exc.message))
                continue
            tree = self.env.parse(text)
            tests = _machine_tests(tree)
            if tests is not None and _SENTINEL_MARK not in text:
                self.tests[key] = tests
                names = _plain_names(tree)
                if names is not None:
                    self._flat[key] = names
        if problems:
            raise PxeError(problems)
        self.tested = tuple(sorted(set().union(*self.tests.values())))
        self.digest = digest.hexdigest()
        # Contexts are passed as-is (shared=True, no per-render dict merge): add the globals once.
        self.globals = dict(self.env.globals)

    def shape(self, context) -> tuple:
        """What fixes the branches the templates take for a machine: the truth of each machine name they test."""
        return tuple(True if context[name] else repr(context[name]) for name in self.tested)

    def render(self, key: str, context: dict, group=None, shape=None) -> bytes:
        """key's output for context. group: a hashable naming the context's group, i.e. equal for contexts
        whose names other than MACHINE_NAMES are equal: then the template is rendered by Jinja once per group
        and shape, and per machine by filling in a _Pattern (see _machine_tests). shape: self.shape(context),
        when the caller renders several templates for one context."""
        tests = self.tests.get(key) if group is not None else None
        if tests is not None:
            try:
                if shape is None:
                    shape = self.shape(context)
                flat = self._flat.get(key)
                pattern_key = (key, group if flat is None else None, shape)
                pattern = self._patterns.get(pattern_key, False)
                if pattern is False:
                    pattern = self._patterns[pattern_key] = self._group_pattern(key, context, group, tests, flat)
                if pattern is not None:
                    return pattern.fill(context).encode("utf-8")
            except KeyError:  # an undefined name: Jinja says which, in its words
                pass
        template = self.compiled[key]
        try:
            return "".join(template.root_render_func(template.new_context(context, shared=True))).encode("utf-8")
        except jinja2.TemplateError as exc:
            raise PxeError(["template %s for %s: %s" % (key, context.get("name", "boot.ipxe"), exc)]) from None

    def _group_pattern(self, key, context, group, tests, flat):
        """The _Pattern rendering key for every machine of context's group and shape, or None.

        Jinja renders the template once, with each machine name replaced by a sentinel (a name tested
        falsy keeps its value: the shape fixes it); the sentinels in the output become its slots.
        Exact because the template uses machine names only as {{ name }} and in tests (_machine_tests).
        A flat template gets every name it uses replaced, so its pattern serves every group.
        """
        slots = flat or MACHINE_NAMES
        if flat is None:
            if group not in self._groups_marked:
                self._groups_marked[group] = any(_holds_sentinel_mark(value) for name, value in context.items()
                                                 if name not in _MACHINE_NAME_SET)
            if self._groups_marked[group]:
                return None
        values = dict(context)
        for index, name in enumerate(slots):
            if name in tests and not context[name]:
                continue
            values[name] = _sentinel(index)
        template = self.compiled[key]
        try:
            text = "".join(template.root_render_func(template.new_context(values, shared=True)))
        except jinja2.TemplateError:
            return None  # rendered per machine, which raises with Jinja's message
        return _Pattern.of(text, slots)


class _Pattern:
    """A template's output for one group and shape: literal texts with a context value between each two.

    fill() is one join (str.format_map would parse the whole text again for every machine: 5-11 us
    against about 1 us for a shipped template)."""
    __slots__ = ("literals", "values", "size")

    @classmethod
    def of(cls, text, slots):
        """The pattern of a text rendered with _sentinel(index) for each value slots[index]."""
        parts = _SENTINEL_RE.split(text)
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
MACHINE_NAMES = ("answer_url", "domain", "firmware", "fqdn", "hostname", "ipv4", "ipv6", "kernel_args",
                 "kernel_args_grub", "labels", "mac", "mac_dashes", "name", "rack")
_MACHINE_NAME_SET = frozenset(MACHINE_NAMES)
_SENTINEL_MARK = "\0"
_SENTINEL_RE = re.compile("\0([0-9]+)\0")
# Nodes that pull in other templates, whose use of machine names this module cannot see.
_OPAQUE_NODES = (jinja2.nodes.Extends, jinja2.nodes.Include, jinja2.nodes.Import, jinja2.nodes.FromImport) \
    if HAS_JINJA2 else ()
# What an {% if %} test may be made of when it involves a machine name: its truth is then the shape's.
_TRUTH_NODES = (jinja2.nodes.Name, jinja2.nodes.Not, jinja2.nodes.And, jinja2.nodes.Or, jinja2.nodes.Const) \
    if HAS_JINJA2 else ()


def _sentinel(index):
    return "%s%d%s" % (_SENTINEL_MARK, index, _SENTINEL_MARK)


def _holds_sentinel_mark(value):
    if isinstance(value, str):
        return _SENTINEL_MARK in value
    if isinstance(value, dict):
        return any(_holds_sentinel_mark(item) for item in itertools.chain(value, value.values()))
    if isinstance(value, (list, tuple)):
        return any(_holds_sentinel_mark(item) for item in value)
    return False


def _plain_names(tree):
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


def _machine_tests(tree):
    """The machine names (MACHINE_NAMES) the parsed template tests in {% if %}/{% elif %}, sorted, or None when it
    uses one otherwise than as a plain {{ name }} or in such a test (or includes other templates).

    Then the output for a machine is the output for its group with each {{ name }} replaced by str() of the
    machine's value, once the truth of each tested name is fixed: a filter, an expression, a loop or an
    assignment over a machine name would need the value itself, and Jinja renders those per machine."""
    tested = set()
    machine_names = _MACHINE_NAME_SET

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


# --------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------

def http_base(address: str, port: int) -> str:
    """http://<address>[:port], IPv6 literals in brackets, port only when not 80 (as in kea.http_url)."""
    host = "[%s]" % address if ":" in address else address
    return "http://%s%s" % (host, "" if port == 80 else ":%d" % port)


def asset_url(base: str, path: str) -> str:
    """A profile's kernel/initrd: an absolute URL as is, else relative to the HTTP root."""
    return path if "://" in path else "%s/%s" % (base, path.lstrip("/"))


def grub_path(url: str) -> str:
    """GRUB's spelling of an http URL: (http,host[:port])/path."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError("GRUB fetches only http:// URLs, not %r" % url)
    return "(http,%s)%s" % (parts.netloc, parts.path or "/")


def grub_args(args: str, sentinels=False) -> str:
    """Kernel arguments for a GRUB `linux` line: ';' and quotes are GRUB syntax, so quote.
    sentinels: args holds sentinels (_sentinel) standing for values of GRUB-safe characters only."""
    if _GRUB_SAFE_LINE_RE.match(args):  # nothing to quote: one match instead of one per argument
        return " ".join(args.split())
    return " ".join(arg if _GRUB_SAFE_RE.match(_SENTINEL_RE.sub("x", arg) if sentinels else arg)
                    else "'%s'" % arg.replace("'", "'\\''") for arg in args.split())


def _kernel_args(installer, answer_dir, hostname, domain, cmdline, sentinels=False):
    """A machine's kernel arguments, plain and for GRUB: its installer's, then its profile's cmdline."""
    args = _installer_args(installer, answer_dir, hostname, domain)
    args_grub = grub_args(args, sentinels)
    if cmdline:
        args += " " + cmdline
        cmdline_grub = grub_args(cmdline)
        if cmdline_grub:
            args_grub += " " + cmdline_grub
    return args, args_grub


def _kernel_args_patterns(values):
    """{has a domain: (kernel_args, kernel_args_grub) as _Patterns over name, hostname and domain} for a profile's
    values: two fills per machine instead of building and GRUB-quoting its arguments (quoting depends only on
    the profile's part when names and domains are GRUB-safe: validated names are, a network's domain is checked
    per group). None when the profile's values could be mistaken for sentinels: then each machine's are built."""
    if _holds_sentinel_mark(values["http_url"]) or _holds_sentinel_mark(values["cmdline"]):
        return None
    slots = ("name", "hostname", "domain")
    answer_dir = "%s/%s" % (values["http_url"], layout.answer_dir(_sentinel(0)))
    return {has_domain: tuple(_Pattern.of(text, slots) for text in _kernel_args(
        values["installer"], answer_dir, _sentinel(1), _sentinel(2) if has_domain else "", values["cmdline"],
        sentinels=True)) for has_domain in (False, True)}


def _installer_args(installer: str, answer_dir: str, hostname: str, domain: str) -> str:
    """The kernel arguments that point each installer at its answer file."""
    if installer == "preseed":
        args = "auto=true priority=critical url=%s/preseed.cfg hostname=%s" % (answer_dir, hostname)
        return args + (" domain=%s" % domain if domain else "")
    if installer == "kickstart":
        return "inst.ks=%s/ks.cfg" % answer_dir
    return "autoinstall ds=nocloud-net;s=%s/" % answer_dir


# --------------------------------------------------------------------------
# Renderer
# --------------------------------------------------------------------------

class Unit:
    """One set of files the sync keeps up to date: a stable key, a fingerprint (str) of every input its output
    depends on, and render() -> {(root, path): bytes}. The sync skips a unit whose fingerprint and files are
    unchanged without rendering it."""
    __slots__ = ("key", "fingerprint", "render")

    def __init__(self, key, fingerprint, render):
        self.key = key
        self.fingerprint = fingerprint
        self.render = render


class MachineUnit:
    """One machine's Unit, as one object (100,000 of them are built per run). Its fingerprint is computed on
    first use: a first run (no manifest to compare with) computes it in the sync's workers, in parallel."""
    __slots__ = ("key", "machine", "renderer", "_fingerprint")

    def __init__(self, renderer, machine):
        self.key = machine.name
        self.machine = machine
        self.renderer = renderer
        self._fingerprint = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = self.renderer.fingerprint(self.machine)
        return self._fingerprint

    def render(self) -> dict:
        return self.renderer.machine_files(self.machine)


class Renderer:
    """Validates everything rendering needs up front (raises PxeError), then renders per machine.

    http_url overrides the service URL (e.g. a DNS name); by default machines with IPv4 use
    http://fabric.pxe_ipv4[:http_port], IPv6-only machines http://[fabric.pxe_ipv6][:http_port].
    """

    def __init__(self, fleet, templates: Templates, http_url: str | None = None, loaders=LOADERS):
        if not HAS_NETADDR:  # pragma: no cover
            raise ImportError("netboot.fleet needs the Python library netaddr (python3-netaddr)")
        self.fleet = fleet
        self.templates = templates
        self.loaders = tuple(loader for loader in LOADERS if loader in loaders)
        self._unknown_loaders = sorted(set(loaders) - set(LOADERS))
        fabric = fleet.fabric
        if http_url:
            self.base4 = self.base6 = http_url.rstrip("/")
        else:
            self.base4 = http_base(fabric.pxe_ipv4, fabric.http_port) if fabric.pxe_ipv4 else None
            self.base6 = http_base(fabric.pxe_ipv6, fabric.http_port) if fabric.pxe_ipv6 else None
        self._groups = {}
        self._networks = {}
        self._profiles = {}
        self._problems = []
        self._check()
        if self._problems:
            raise PxeError(self._problems)

    # -- validation -------------------------------------------------------

    def _check(self):
        if self._unknown_loaders:
            self._problems.append("unknown loader(s) %s (known: %s)"
                                  % (", ".join(self._unknown_loaders), ", ".join(LOADERS)))
        for profile in self.fleet.profiles:
            where = "%s: profiles.%s" % (profile.source, profile.name)
            if profile.installer not in INSTALLER_FILES:
                self._problems.append("%s.installer: %r is not one of %s"
                                      % (where, profile.installer, ", ".join(INSTALLER_FILES)))
            if profile.template and "profile:" + profile.name not in self.templates.compiled:
                self._problems.append("%s.template: %s was not read (see read_profile_templates)"
                                      % (where, profile.template))
        machines = self.fleet.machines
        bases = list(map(self._base, machines))
        if None in bases or not (_all_names([machine.name for machine in machines])
                                 and _all_macs([machine.mac for machine in machines])):
            for machine in machines:  # the messages, for the few that fail
                self._check_machine(machine)
        grub_profiles = set()
        if "grub" in self.loaders:
            grub_profiles = {(machine.profile, base) for machine, base in zip(machines, bases)
                             if machine.firmware == "uefi"}
        for profile_name, base in sorted(grub_profiles, key=str):
            profile = self.fleet.profile(profile_name)
            for fieldname in ("kernel", "initrd"):
                try:
                    grub_path(asset_url(base or "http://x", getattr(profile, fieldname)))
                except ValueError as exc:
                    self._problems.append("%s: profiles.%s.%s: %s (a uefi machine boots it with GRUB)"
                                          % (profile.source, profile.name, fieldname, exc))

    def _check_machine(self, machine):
        where = "%s: machine %s" % (machine.source, machine.name)
        if not _NAME_RE.fullmatch(machine.name or ""):
            self._problems.append("%s.name: %r is not safe in a file name" % (where, machine.name))
        if not _MAC_RE.fullmatch(machine.mac or ""):
            self._problems.append("%s.mac: %r is not a lower-case colon-form MAC" % (where, machine.mac))
        if self._base(machine) is None:
            self._problems.append("%s: has no address family the PXE service has (fabric.pxe has %s)"
                                  % (where, "IPv4 only" if self.base4 else "IPv6 only"))

    def _base(self, machine):
        if machine.ipv4 and self.base4:
            return self.base4
        if machine.ipv6 and self.base6:
            return self.base6
        return None

    # -- contexts ---------------------------------------------------------

    def _network(self, name):
        """A network's template values and a digest of its record (cached: groups of many profiles share it)."""
        cached = self._networks.get(name)
        if cached is None:
            network = self.fleet.network(name)
            values = {"network": name, "domain": network.domain or "", "dns_servers": list(network.dns_servers),
                      "ipv4_prefixlen": None, "ipv4_netmask": None, "ipv4_gateway": None,
                      "ipv6_prefixlen": None, "ipv6_gateway": None}
            if network.ipv4:
                prefix = IPNetwork(network.ipv4.prefix)
                values.update(ipv4_prefixlen=prefix.prefixlen, ipv4_netmask=str(prefix.netmask),
                              ipv4_gateway=network.ipv4.gateway)
            if network.ipv6:
                values.update(ipv6_prefixlen=IPNetwork(network.ipv6.prefix).prefixlen,
                              ipv6_gateway=network.ipv6.gateway)
            cached = self._networks[name] = (values, _digest(network.as_dict()))
        return cached

    def _profile(self, name, base):
        """A profile's template values with service URL base, a digest of them, the name of its answer-file
        template and its kernel arguments' patterns (cached: thousands of groups share a few of these)."""
        key = (name, base)
        cached = self._profiles.get(key)
        if cached is None:
            profile = self.fleet.profile(name)
            values = dict(
                profile=profile.name, installer=profile.installer, disk=profile.disk,
                packages=list(profile.packages), cmdline=profile.cmdline, http_url=base,
                kernel_url=asset_url(base, profile.kernel), initrd_url=asset_url(base, profile.initrd))
            if "grub" in self.loaders:
                try:
                    values.update(kernel_grub=grub_path(values["kernel_url"]),
                                  initrd_grub=grub_path(values["initrd_url"]))
                except ValueError:  # only bios/uefi-http machines use this profile: no GRUB lines
                    values.update(kernel_grub=None, initrd_grub=None)
            answer = "profile:" + profile.name if profile.template else INSTALLER_FILES[profile.installer][0][1]
            # as_dict(): the records without their source path (the module unpacks the SoT to a new
            # temporary directory every run; that must not re-render every machine).
            digest = _digest((profile.as_dict(), base, self.loaders, self.templates.digest))
            cached = self._profiles[key] = (values, digest, answer, _kernel_args_patterns(values))
        return cached

    def _group(self, machine):
        """(context, fingerprint, answer-file template, kernel arguments' patterns or None) shared by the machines
        of one (profile, network, service URL)."""
        base = self._base(machine)
        key = (machine.profile, machine.network, base)
        group = self._groups.get(key)
        if group is None:
            network_values, network_digest = self._network(machine.network)
            profile_values, profile_digest, answer, kernel_args_patterns = self._profile(machine.profile, base)
            context = dict(self.templates.globals)
            context.update(network_values)
            context.update(profile_values)
            if not _GRUB_SAFE_RE.match(context["domain"]):
                kernel_args_patterns = None  # the patterns stand for GRUB-safe domains only
            fingerprint = hashlib.blake2b(profile_digest + network_digest, digest_size=16).digest()
            group = self._groups[key] = (context, fingerprint, answer, kernel_args_patterns)
        return group

    def context(self, machine) -> dict:
        """Everything a template may use for one machine: flat names, strings/lists/None."""
        return self._context(machine, self._group(machine))

    def _context(self, machine, group):
        group_context, _fingerprint, _answer, kernel_args_patterns = group
        context = group_context.copy()
        context["name"] = name = machine.name
        hostname, _dot, name_domain = name.partition(".")
        context["hostname"] = hostname
        context["domain"] = domain = name_domain or context["domain"]
        answer_dir = "%s/%s" % (context["http_url"], layout.answer_dir(name))
        installer = context["installer"]
        if kernel_args_patterns is None:
            context["kernel_args"], context["kernel_args_grub"] = _kernel_args(
                installer, answer_dir, hostname, domain, context["cmdline"])
        else:
            kernel_args, kernel_args_grub = kernel_args_patterns[bool(domain)]
            context["kernel_args"] = kernel_args.fill(context)
            context["kernel_args_grub"] = kernel_args_grub.fill(context)
        context["fqdn"] = "%s.%s" % (hostname, domain) if domain else name
        context["mac"] = mac = machine.mac
        context["mac_dashes"] = layout.mac_dashes(mac)
        context["firmware"] = machine.firmware
        context["rack"] = machine.rack
        context["labels"] = dict(machine.labels)
        context["ipv4"] = machine.ipv4
        context["ipv6"] = machine.ipv6
        context["answer_url"] = "%s/%s" % (answer_dir, INSTALLER_FILES[installer][0][0])
        return context

    # -- rendering --------------------------------------------------------

    def machine_files(self, machine) -> dict:
        group = self._group(machine)
        context = self._context(machine, group)
        # The group's fingerprint digests everything its context holds: it names the group for Templates.render.
        _context, group_name, answer_template, _kernel_args = group
        shape = self.templates.shape(context)
        render = self.templates.render
        files = {(HTTP, layout.script_path(machine.mac)): render("machine.ipxe", context, group_name, shape)}
        if "grub" in self.loaders and machine.firmware == "uefi":
            files[(TFTP, layout.grub_config_path(machine.mac))] = render("grub.cfg", context, group_name, shape)
        if "pxelinux" in self.loaders and machine.firmware == "bios":
            files[(TFTP, layout.pxelinux_config_path(machine.mac))] = render("pxelinux.cfg", context, group_name, shape)
        answer_dir = layout.answer_dir(machine.name)
        for index, (filename, template) in enumerate(INSTALLER_FILES[context["installer"]]):
            files[(HTTP, "%s/%s" % (answer_dir, filename))] = render(
                answer_template if index == 0 else template, context, group_name, shape)
        return files

    def shared_files(self) -> dict:
        context = dict(self.templates.globals, http_url_ipv4=self.base4, http_url_ipv6=self.base6,
                       script_dir=layout.SCRIPT_DIR)
        if self.base4 == self.base6:  # one http_url for both families: no branch in the script
            context["http_url_ipv6"] = None
        return {(HTTP, layout.ENTRY_SCRIPT): self.templates.render("boot.ipxe", context)}

    def units(self) -> list:
        """Units for the sync, sorted by key: the shared entry script, then one per machine."""
        shared_fp = hashlib.blake2b(repr((self.base4, self.base6, self.templates.digest)).encode("utf-8"),
                                    digest_size=16).hexdigest()
        return [Unit("", shared_fp, self.shared_files),
                *(MachineUnit(self, machine) for machine in self.fleet.machines)]

    def fingerprint(self, machine) -> str:
        """A digest of everything machine_files(machine) depends on."""
        return hashlib.blake2b(self._group(machine)[1] + _machine_key(machine), digest_size=16).hexdigest()

    def render_all(self) -> dict:
        """The whole tree {(root, path): bytes}, sorted: for golden files and small fleets."""
        files = dict(self.shared_files())
        for machine in self.fleet.machines:
            files.update(self.machine_files(machine))
        return dict(sorted(files.items()))


# All names or MACs of a fleet are checked at once, as one text (100,000 matches of _NAME_RE and _MAC_RE from
# Python, or of one regular expression over the text, take 0.25-0.35 s before any worker can start).
_NAME_TEXT_RE = re.compile(r"[a-z0-9.\n-]*")
_MAC_TEXT_RE = re.compile(r"[0-9a-f:\n]*")


def _all_names(names) -> bool:
    """Whether every name fullmatches _NAME_RE: 1-253 of a-z, 0-9, '.', '-', not starting or ending with '.' or '-'."""
    try:
        text = "\n".join(names)
    except TypeError:  # not a string
        return False
    return (_NAME_TEXT_RE.fullmatch(text) is not None and bool(text) and text[0] not in ".-\n"
            and text[-1] not in ".-\n" and not any(edge in text for edge in ("\n\n", ".\n", "-\n", "\n.", "\n-"))
            and text.count("\n") == len(names) - 1 and max(map(len, names)) <= 253)


def _all_macs(macs) -> bool:
    """Whether every MAC fullmatches _MAC_RE: 17 characters, a colon after every two lower-case hex digits."""
    try:
        text = "\n".join(macs)
    except TypeError:  # not a string
        return False
    # Joined, every third character from the third on is ':' five times, then the newline between two MACs.
    return (bool(macs) and len(text) == 18 * len(macs) - 1 and _MAC_TEXT_RE.fullmatch(text) is not None
            and text[2::3] == (":::::\n" * len(macs))[:-1]
            and text.count(":") == 5 * len(macs) and text.count("\n") == len(macs) - 1)


def _digest(record) -> bytes:
    return hashlib.blake2b(repr(record).encode("utf-8"), digest_size=16).digest()


def _machine_key(machine) -> bytes:
    """Every machine field a template can see, as bytes (much cheaper than the dataclass repr)."""
    labels = "\0".join("%s=%r" % item for item in sorted(machine.labels.items())) if machine.labels else ""
    return ("%s\0%s\0%s\0%s\0%s\0%s\0%s\0%s\0%s" % (
        machine.name, machine.mac, machine.network, machine.profile, machine.firmware,
        machine.ipv4, machine.ipv6, machine.rack, labels)).encode("utf-8")
