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
import json
import os
import re
from urllib.parse import urlsplit

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback
from ansible_collections.netboot.fleet.plugins.module_utils.problems import ProblemsError
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import escape, layout, patterns
from ansible_collections.netboot.fleet.plugins.module_utils.pxe.layout import HTTP, INSTALLER_FILES, TFTP

try:
    import jinja2
    import jinja2.sandbox
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
    "minimal.conf",            # installer/<name>/install.conf
)
DEFAULT_TEMPLATE_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "templates", "pxe"))

_GRUB_SAFE_RE = re.compile(r"^[A-Za-z0-9_.,:/=@+%-]*$")
# An OpenSSH public key line: type, base64 blob, optional plain comment. Nothing a shell, YAML or kickstart
# line would read as syntax: the answer-file templates write keys inside double quotes.
SSH_KEY_RE = re.compile(r"^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
                        r" [A-Za-z0-9+/]+={0,3}( [A-Za-z0-9@._+:-]{1,100})?\Z")
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


def _guard(check, value, where):
    """check(value) (pxe/escape.py), its UnsafeValue as a PxeError naming where."""
    try:
        check(value)
    except escape.UnsafeValue as exc:
        raise PxeError(["%s.%s" % (where, exc)]) from None


_JSON_ENCODE = json.JSONEncoder(sort_keys=True).encode  # one encoder: json.dumps(**kwargs) builds one per call


def _tojson(value, indent=None):
    return _JSON_ENCODE(value) if indent is None else json.dumps(value, indent=indent, sort_keys=True)


class Templates:
    """Every template compiled once. render() is the per-machine hot path."""

    def __init__(self, texts: dict, profile_texts: dict | None = None):
        if not HAS_JINJA2:  # pragma: no cover
            raise ImportError("netboot.fleet PXE rendering needs the Python library Jinja2 (python3-jinja2)")
        # The sandbox: templates can come with the SoT (a profile's template), and they render on the nodes as root.
        self.env = jinja2.sandbox.ImmutableSandboxedEnvironment(
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
            trim_blocks=True, lstrip_blocks=True, autoescape=False)
        # The output is config (YAML, kickstart), not HTML: plain JSON, without Jinja's HTML
        # escaping and Markup wrapping, which made tojson cost more than the rest of a template.
        self.env.filters["tojson"] = _tojson
        problems = ["template %s is missing" % name for name in TEMPLATE_NAMES if name not in texts]
        unknown = sorted(set(texts) - set(TEMPLATE_NAMES))
        if unknown:
            problems.append("unknown template(s) %s (known: %s)" % (", ".join(unknown), ", ".join(TEMPLATE_NAMES)))
        self.compiled = {}
        self.patterns = patterns.GroupPatterns()
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
            self.patterns.add(key, self.env.parse(text), text)
        if problems:
            raise PxeError(problems)
        self.digest = digest.hexdigest()
        # Contexts are passed as-is (shared=True, no per-render dict merge): add the globals once.
        self.globals = dict(self.env.globals)

    def shape(self, context) -> tuple:
        return self.patterns.shape(context)

    def render(self, key: str, context: dict, group=None, shape=None) -> bytes:
        """key's output for context. group: a hashable naming the context's group, i.e. equal for contexts
        whose names other than patterns.MACHINE_NAMES are equal: then the fast path (patterns.py) renders it
        when it can. shape: self.shape(context), when the caller renders several templates for one context.
        Without a group, or when the fast path cannot, Jinja renders it: the reference."""
        template = self.compiled[key]
        if group is not None:
            try:
                text = self.patterns.render(key, template, context, group, shape)
                if text is not None:
                    return text.encode("utf-8")
            except KeyError:  # an undefined name: Jinja says which, in its words
                pass
        try:
            return "".join(template.root_render_func(template.new_context(context, shared=True))).encode("utf-8")
        except jinja2.TemplateError as exc:
            raise PxeError(["template %s for %s: %s" % (key, context.get("name", "boot.ipxe"), exc)]) from None


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


def grub_args(args: str) -> str:
    """Kernel arguments for a GRUB `linux` line: ';' and quotes are GRUB syntax, so quote."""
    if _GRUB_SAFE_LINE_RE.match(args):  # nothing to quote: one match instead of one per argument
        return " ".join(args.split())
    return " ".join(arg if _GRUB_SAFE_RE.match(arg) else "'%s'" % arg.replace("'", "'\\''") for arg in args.split())


def _kernel_args(installer, answer_dir, hostname, domain, cmdline):
    """A machine's kernel arguments, plain and for GRUB: its installer's, then its profile's cmdline."""
    args = _installer_args(installer, answer_dir, hostname, domain)
    args_grub = grub_args(args)
    if cmdline:
        args += " " + cmdline
        cmdline_grub = grub_args(cmdline)
        if cmdline_grub:
            args_grub += " " + cmdline_grub
    return args, args_grub


def _installer_args(installer: str, answer_dir: str, hostname: str, domain: str) -> str:
    """The kernel arguments that point each installer at its answer file."""
    if installer == "preseed":
        args = "auto=true priority=critical url=%s/preseed.cfg hostname=%s" % (answer_dir, hostname)
        return args + (" domain=%s" % domain if domain else "")
    if installer == "kickstart":
        return "inst.ks=%s/ks.cfg" % answer_dir
    if installer == "minimal":
        return "nbf.answer=%s/install.conf" % answer_dir
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

    callback_key: the key of the machines' callback tokens (bringup/callback.py); without it answer files
    carry no callback. local_boot: names of installed machines, whose scripts boot their local disk.
    ssh_keys: OpenSSH public keys the installed machines authorize (root, or the autoinstall user).
    """

    def __init__(self, fleet, templates: Templates, http_url: str | None = None, loaders=LOADERS,
                 callback_key: str | None = None, local_boot=frozenset(), ssh_keys=()):
        if not HAS_NETADDR:  # pragma: no cover
            raise ImportError("netboot.fleet needs the Python library netaddr (python3-netaddr)")
        self.fleet = fleet
        self.templates = templates
        self.loaders = tuple(loader for loader in LOADERS if loader in loaders)
        self.callback_key = callback_key
        self.local_boot = frozenset(local_boot)
        self.ssh_keys = tuple(ssh_keys)
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
        for base in (self.base4, self.base6):
            try:
                escape.check_word("http_url", base)
            except escape.UnsafeValue as exc:
                self._problems.append(str(exc))
        self._problems.extend("ssh_authorized_keys[%d]: not an OpenSSH public key line (type, key, optional plain "
                              "comment): %.60r" % (index, key) for index, key in enumerate(self.ssh_keys)
                              if not isinstance(key, str) or not SSH_KEY_RE.match(key))
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
        if None in bases:
            self._problems.extend("%s: machine %s: has no address family the PXE service has (fabric.pxe has %s)"
                                  % (machine.source, machine.name, "IPv4 only" if self.base4 else "IPv6 only")
                                  for machine, base in zip(machines, bases) if base is None)
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
            _guard(escape.check_values, values, "%s: networks %s" % (network.source, name))
            cached = self._networks[name] = (values, _digest(network.as_dict()))
        return cached

    def _profile(self, name, base):
        """A profile's template values with service URL base, a digest of them and the name of its answer-file
        template (cached: thousands of groups share a few of these)."""
        key = (name, base)
        cached = self._profiles.get(key)
        if cached is None:
            profile = self.fleet.profile(name)
            values = dict(
                profile=profile.name, installer=profile.installer, disk=profile.disk,
                packages=list(profile.packages), cmdline=profile.cmdline, http_url=base,
                kernel_url=asset_url(base, profile.kernel), initrd_url=asset_url(base, profile.initrd))
            values["image_url"] = "%s/%s" % (values["kernel_url"].rpartition("/")[0], layout.MINIMAL_IMAGE)
            # The package mirror (None: each installer's default) and proxy of the profile; preseed wants the
            # mirror as protocol, host and directory.
            mirror = urlsplit(profile.mirror) if profile.mirror else None
            values.update(mirror=profile.mirror, proxy=profile.proxy, mirror_scheme=mirror.scheme if mirror else None,
                          mirror_host=mirror.netloc if mirror else None,
                          mirror_directory=(mirror.path or "/") if mirror else None)
            if "grub" in self.loaders:
                try:
                    values.update(kernel_grub=grub_path(values["kernel_url"]),
                                  initrd_grub=grub_path(values["initrd_url"]))
                except ValueError:  # only bios/uefi-http machines use this profile: no GRUB lines
                    values.update(kernel_grub=None, initrd_grub=None)
            _guard(escape.check_values, values, "%s: profiles.%s" % (profile.source, profile.name))
            answer = "profile:" + profile.name if profile.template else INSTALLER_FILES[profile.installer][0][1]
            # as_dict(): the records without their source path (the module unpacks the SoT to a new
            # temporary directory every run; that must not re-render every machine).
            values["ssh_authorized_keys"] = list(self.ssh_keys)
            digest = _digest((profile.as_dict(), base, self.loaders, self.templates.digest, self.ssh_keys))
            cached = self._profiles[key] = (values, digest, answer)
        return cached

    def _group(self, machine):
        """(context, fingerprint, answer-file template) shared by the machines of one (profile, network, service
        URL)."""
        base = self._base(machine)
        key = (machine.profile, machine.network, base)
        group = self._groups.get(key)
        if group is None:
            network_values, network_digest = self._network(machine.network)
            profile_values, profile_digest, answer = self._profile(machine.profile, base)
            context = dict(self.templates.globals)
            context.update(network_values)
            context.update(profile_values)
            fingerprint = hashlib.blake2b(profile_digest + network_digest, digest_size=16).digest()
            group = self._groups[key] = (context, fingerprint, answer)
        return group

    def context(self, machine) -> dict:
        """Everything a template may use for one machine: flat names, strings/lists/None."""
        return self._context(machine, self._group(machine))

    def _context(self, machine, group):
        try:
            escape.check_machine(machine)
        except escape.UnsafeValue as exc:
            raise PxeError(["%s: machines %s.%s" % (machine.source, escape.shown(machine.name), exc)]) from None
        group_context, _fingerprint, _answer = group
        context = group_context.copy()
        context["name"] = name = machine.name
        hostname, _dot, name_domain = name.partition(".")
        context["hostname"] = hostname
        context["domain"] = domain = name_domain or context["domain"]
        answer_dir = "%s/%s" % (context["http_url"], layout.answer_dir(name))
        installer = context["installer"]
        context["kernel_args"], context["kernel_args_grub"] = _kernel_args(
            installer, answer_dir, hostname, domain, context["cmdline"])
        context["fqdn"] = "%s.%s" % (hostname, domain) if domain else name
        context["mac"] = mac = machine.mac
        context["mac_dashes"] = layout.mac_dashes(mac)
        context["firmware"] = machine.firmware
        context["rack"] = machine.rack
        context["labels"] = dict(machine.labels)
        context["ipv4"] = machine.ipv4
        context["ipv6"] = machine.ipv6
        context["answer_url"] = "%s/%s" % (answer_dir, INSTALLER_FILES[installer][0][0])
        context["boot_local"] = name in self.local_boot
        context["callback_url"] = None if self.callback_key is None else "%s/%s" % (
            context["http_url"], layout.callback_base(name, callback.token(self.callback_key, name, mac)))
        return context

    # -- rendering --------------------------------------------------------

    def machine_files(self, machine) -> dict:
        group = self._group(machine)
        context = self._context(machine, group)
        # The group's fingerprint digests everything its context holds: it names the group for Templates.render.
        _context, group_name, answer_template = group
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
        token = callback.token(self.callback_key, machine.name, machine.mac) if self.callback_key else ""
        lifecycle = "\0%d\0%s" % (machine.name in self.local_boot, token)
        return hashlib.blake2b(self._group(machine)[1] + _machine_key(machine) + lifecycle.encode("utf-8"),
                               digest_size=16).hexdigest()

    def render_all(self) -> dict:
        """The whole tree {(root, path): bytes}, sorted: for golden files and small fleets."""
        files = dict(self.shared_files())
        for machine in self.fleet.machines:
            files.update(self.machine_files(machine))
        return dict(sorted(files.items()))


def _digest(record) -> bytes:
    return hashlib.blake2b(repr(record).encode("utf-8"), digest_size=16).digest()


def _machine_key(machine) -> bytes:
    """Every machine field a template can see, as bytes (much cheaper than the dataclass repr)."""
    labels = "\0".join("%s=%r" % item for item in sorted(machine.labels.items())) if machine.labels else ""
    return ("%s\0%s\0%s\0%s\0%s\0%s\0%s\0%s\0%s" % (
        machine.name, machine.mac, machine.network, machine.profile, machine.firmware,
        machine.ipv4, machine.ipv6, machine.rack, labels)).encode("utf-8")
