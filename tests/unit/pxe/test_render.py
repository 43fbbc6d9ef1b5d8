# -*- coding: utf-8 -*-
"""Golden files of the PXE renderer: one per machine of the embedded SoT (every firmware and
installer kind) plus the entry script. A change in output shows up as a diff of golden/."""

import dataclasses
import os

import pytest

from pxe_testlib import DATA_DIR, ALL_KINDS_SOT, GOLDEN_DIR, render_tree
from golden import assert_golden
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import layout
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import sync as asset_sync
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe


def as_golden(files):
    """Files as one reviewable text: a header line per file, then its content."""
    return "".join("==> %s:%s <==\n%s" % (root, path, data.decode("utf-8")) for (root, path), data in files)


def check_golden(name, text):
    assert_golden(os.path.join(GOLDEN_DIR, name), text)


def machine_golden(renderer, golden_prefix):
    for machine in renderer.fleet.machines:
        check_golden("%s%s.txt" % (golden_prefix, machine.name), as_golden(sorted(renderer.machine_files(machine).items())))
    check_golden("%sboot.ipxe.txt" % golden_prefix, as_golden(sorted(renderer.shared_files().items())))


# The test SoT covers: bios+preseed (img-server1), uefi+kickstart (img-server2),
# uefi-http+autoinstall (web1), IPv6-only uefi+preseed (v6-worker1), bios+minimal (lab1).
def test_embedded_sot_golden(fleet, templates):
    kinds = {(m.firmware, fleet.profile(m.profile).installer) for m in fleet.machines}
    assert {firmware for firmware, _installer in kinds} == set(sot.FIRMWARES)
    assert {installer for _firmware, installer in kinds} == set(layout.INSTALLER_FILES)
    machine_golden(pxe.Renderer(fleet, templates), "")


def test_http_url_override_and_loaders_golden():
    renderer = render_tree(ALL_KINDS_SOT, http_url="http://pxe.example.net:8080/", loaders=["grub"])
    machine_golden(renderer, "override-")
    assert not any(path.startswith("pxelinux.cfg/") for _root, path in renderer.render_all())


def test_paths_follow_the_shared_conventions(fleet, templates):
    tree = pxe.Renderer(fleet, templates).render_all()
    assert sorted(tree) == [
        ("http", "installer/img-server1/preseed.cfg"),
        ("http", "installer/img-server2/ks.cfg"),
        ("http", "installer/lab1/install.conf"),
        ("http", "installer/v6-worker1/preseed.cfg"),
        ("http", "installer/web1/meta-data"),
        ("http", "installer/web1/user-data"),
        ("http", "ipxe/52:54:00:12:00:01.ipxe"),
        ("http", "ipxe/52:54:00:12:00:02.ipxe"),
        ("http", "ipxe/52:54:00:12:00:03.ipxe"),
        ("http", "ipxe/52:54:00:12:00:09.ipxe"),
        ("http", "ipxe/52:54:00:13:00:01.ipxe"),
        ("http", "ipxe/boot.ipxe"),
        ("tftp", "grub/grub.cfg-01-52-54-00-12-00-02"),
        ("tftp", "grub/grub.cfg-01-52-54-00-13-00-01"),
        ("tftp", "pxelinux.cfg/01-52-54-00-12-00-01"),
        ("tftp", "pxelinux.cfg/01-52-54-00-12-00-09"),
    ]
    script = tree[("http", "ipxe/52:54:00:12:00:01.ipxe")].decode()
    assert "kernel http://203.0.113.53/debian12/linux " in script
    assert "url=http://203.0.113.53/installer/img-server1/preseed.cfg" in script
    assert "chain --autofree http://203.0.113.53/ipxe/${net0/mac}.ipxe" in tree[("http", "ipxe/boot.ipxe")].decode()


def test_unknown_loader_is_rejected(fleet, templates):
    with pytest.raises(pxe.PxeError, match="unknown loader.s. syslinux"):
        pxe.Renderer(fleet, templates, loaders=["grub", "syslinux"])


def test_rendering_is_deterministic(fleet, templates):
    first = pxe.Renderer(fleet, templates).render_all()
    again = pxe.Renderer(sot.load(ALL_KINDS_SOT), pxe.Templates(pxe.read_templates())).render_all()
    assert first == again


def test_absolute_kernel_url_is_kept(fleet, templates):
    profile = dataclasses.replace(fleet.profile("rocky9"), kernel="http://mirror.example.net/rocky/vmlinuz")
    changed = dataclasses.replace(fleet, profiles=tuple(profile if p.name == "rocky9" else p for p in fleet.profiles))
    tree = pxe.Renderer(changed, templates).render_all()
    assert "kernel http://mirror.example.net/rocky/vmlinuz " in tree[("http", "ipxe/52:54:00:12:00:02.ipxe")].decode()
    assert "linux (http,mirror.example.net)/rocky/vmlinuz " in tree[("tftp", "grub/grub.cfg-01-52-54-00-12-00-02")].decode()


def test_grub_rejects_https_kernel_before_rendering(fleet, templates):
    profile = dataclasses.replace(fleet.profile("rocky9"), kernel="https://mirror.example.net/vmlinuz")
    changed = dataclasses.replace(fleet, profiles=tuple(profile if p.name == "rocky9" else p for p in fleet.profiles))
    with pytest.raises(pxe.PxeError, match=r"profiles\.rocky9\.kernel: GRUB fetches only http://"):
        pxe.Renderer(changed, templates)
    assert pxe.Renderer(changed, templates, loaders=["pxelinux"]).render_all()


def test_unknown_installer_kind_is_rejected(fleet, templates):
    # The SoT loader rejects it first; the renderer refuses a hand-built Sot too.
    profile = dataclasses.replace(fleet.profile("rocky9"), installer="autoyast")
    changed = dataclasses.replace(fleet, profiles=tuple(profile if p.name == "rocky9" else p for p in fleet.profiles))
    with pytest.raises(pxe.PxeError, match=r"profiles\.rocky9\.installer: 'autoyast' is not one of"):
        pxe.Renderer(changed, templates)


def test_sot_loader_rejects_unknown_installer_and_traversal(tmp_path):
    source = tmp_path / "sot.yml"
    source.write_text(open(os.path.join(DATA_DIR, "bad-sot.yml")).read())
    with pytest.raises(sot.SotError) as error:
        sot.load(str(source))
    report = str(error.value)
    assert "profiles.evil.installer: 'autoyast' is not one of preseed, kickstart, autoinstall" in report
    assert "'../../etc/passwd' is not a valid hostname" in report


def test_the_sync_refuses_unsafe_paths_even_from_a_hand_built_sot(fleet, templates, tmp_path):
    """Defence in depth behind the loader: a name or MAC that would leave its directory is never written."""
    for field, value in (("name", "../../etc/passwd"), ("mac", "52:54:00:12:00:01/../x")):
        machine = dataclasses.replace(fleet.machines[0], **{field: value})
        renderer = pxe.Renderer(dataclasses.replace(fleet, machines=(machine,)), templates)
        roots = {layout.TFTP: str(tmp_path / "tftp"), layout.HTTP: str(tmp_path / "http")}
        for root in roots.values():
            os.makedirs(root, exist_ok=True)
        with pytest.raises(asset_sync.SyncError, match="refusing to write"):
            asset_sync.sync(roots, layout.OWNED, renderer.units())
        assert not os.path.exists(str(tmp_path / "etc"))


def test_missing_profile_template_fails_before_rendering(sot_copy):
    networks = sot_copy / "networks.yml"
    networks.write_text(networks.read_text().replace("    installer: kickstart\n",
                                                     "    installer: kickstart\n    template: site/ks.j2\n"))
    fleet = sot.load(str(sot_copy))
    with pytest.raises(pxe.PxeError, match=r"profiles\.rocky9\.template: .*site/ks\.j2 cannot be read"):
        pxe.read_profile_templates(fleet)
    (sot_copy / "site").mkdir()
    (sot_copy / "site" / "ks.j2").write_text("# site kickstart for {{ fqdn }} on {{ disk }}\n")
    renderer = render_tree(sot_copy)
    assert renderer.render_all()[("http", "installer/img-server2/ks.cfg")] == \
        b"# site kickstart for img-server2.rack12.example.net on /dev/vda\n"


def test_template_dir_overrides_and_errors(tmp_path):
    (tmp_path / "machine.ipxe.j2").write_text("#!ipxe\nsanboot --no-describe --drive 0x80 # {{ name }}\n")
    renderer = render_tree(ALL_KINDS_SOT, template_dir=str(tmp_path))
    assert renderer.render_all()[("http", "ipxe/52:54:00:12:00:03.ipxe")] == \
        b"#!ipxe\nsanboot --no-describe --drive 0x80 # web1\n"
    with pytest.raises(pxe.PxeError, match="template directory .* does not exist"):
        pxe.read_templates(str(tmp_path / "missing"))
    texts = pxe.read_templates()
    texts["grub.cfg"] = "{% if %}"
    with pytest.raises(pxe.PxeError, match="template grub.cfg: line 1"):
        pxe.Templates(texts)
    texts = pxe.read_templates()
    texts["pxelinux.cfg"] = "{{ no_such_variable }}"
    renderer = pxe.Renderer(sot.load(ALL_KINDS_SOT), pxe.Templates(texts))
    with pytest.raises(pxe.PxeError, match="'no_such_variable' is undefined"):
        renderer.render_all()


def test_ipv6_only_machine_needs_an_ipv6_service(fleet, templates):
    fabric = dataclasses.replace(fleet.fabric, pxe_ipv6=None)
    with pytest.raises(pxe.PxeError, match="machine v6-worker1: has no address family the PXE service has"):
        pxe.Renderer(dataclasses.replace(fleet, fabric=fabric), templates)


def test_fingerprints_change_only_with_inputs(fleet, templates):
    before = {unit.key: unit.fingerprint for unit in pxe.Renderer(fleet, templates).units()}
    assert before == {unit.key: unit.fingerprint for unit in pxe.Renderer(fleet, templates).units()}
    machine = dataclasses.replace(fleet.machines[0], ipv4="198.51.100.20")
    changed = dataclasses.replace(fleet, machines=(machine,) + fleet.machines[1:])
    after = {unit.key: unit.fingerprint for unit in pxe.Renderer(changed, templates).units()}
    assert [key for key in before if before[key] != after[key]] == [machine.name]
    texts = pxe.read_templates()
    texts["kickstart.cfg"] += "# site\n"
    other = {unit.key: unit.fingerprint for unit in pxe.Renderer(fleet, pxe.Templates(texts)).units()}
    assert all(other[key] != before[key] for key in before)


def test_fingerprints_do_not_depend_on_where_the_sot_lies(fleet, templates, sot_copy):
    # The module unpacks the SoT into a new temporary directory on every run.
    here = {unit.key: unit.fingerprint for unit in pxe.Renderer(fleet, templates).units()}
    there = {unit.key: unit.fingerprint for unit in pxe.Renderer(sot.load(str(sot_copy)), templates).units()}
    assert here == there


def test_a_cmdline_grub_would_quote_is_quoted_for_grub(fleet, templates):
    profile = fleet.profiles[0]
    odd = dataclasses.replace(fleet, profiles=(dataclasses.replace(profile, cmdline="it's;odd"),) + fleet.profiles[1:])
    machine = next(m for m in fleet.machines if m.profile == profile.name)
    context = pxe.Renderer(odd, templates).context(machine)
    assert context["kernel_args"].endswith(" it's;odd")
    assert context["kernel_args_grub"] == pxe.grub_args(context["kernel_args"])
    assert context["kernel_args_grub"].endswith(" 'it'\\''s;odd'")


def test_a_template_from_the_sot_runs_in_the_sandbox(fleet):
    """A profile's own template comes with the SoT and renders on the nodes as root: no way out of Jinja's sandbox."""
    profile = fleet.profiles[0]
    texts = pxe.read_templates()
    escape = "{{ ''.__class__.__mro__[1].__subclasses__() }}\n"
    templates = pxe.Templates(texts, {profile.name: escape})
    hostile = dataclasses.replace(fleet, profiles=(dataclasses.replace(profile, template="evil.cfg"),) + fleet.profiles[1:])
    machine = next(machine for machine in hostile.machines if machine.profile == profile.name)
    with pytest.raises(pxe.PxeError, match="unsafe"):
        pxe.Renderer(hostile, templates).machine_files(machine)


KEY = "5a" * 32


def test_installed_machines_boot_their_disk_with_every_loader(fleet, templates):
    """Boot once: the installed machines' iPXE, GRUB and pxelinux scripts boot the local disk; the others install."""
    renderer = pxe.Renderer(fleet, templates, callback_key=KEY, local_boot={"img-server1", "img-server2"})
    tree = renderer.render_all()
    bios = tree[("http", "ipxe/52:54:00:12:00:01.ipxe")].decode()
    assert "sanboot --no-describe --drive 0x80" in bios and "\nexit 1\n" in bios and "kernel " not in bios
    assert "LOCALBOOT 0" in tree[("tftp", "pxelinux.cfg/01-52-54-00-12-00-01")].decode()
    grub = tree[("tftp", "grub/grub.cfg-01-52-54-00-12-00-02")].decode()
    assert "exit" in grub and "linux " not in grub
    assert "kernel http://203.0.113.53/ubuntu2404/vmlinuz" in tree[("http", "ipxe/52:54:00:12:00:03.ipxe")].decode()
    # The group fast path and Jinja agree for both shapes.
    for machine in fleet.machines:
        context = renderer.context(machine)
        assert renderer.templates.render("machine.ipxe", context, ("g", machine.profile, machine.network)) == \
            renderer.templates.render("machine.ipxe", context)
    # Unknown MACs still get nothing: there is no script but the machines'.
    assert sorted(path for root, path in tree if path.startswith("ipxe/")) == sorted(
        ["ipxe/boot.ipxe"] + ["ipxe/%s.ipxe" % machine.mac for machine in fleet.machines])


def test_each_answer_file_carries_its_own_callback_token(fleet, templates):
    from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback
    tree = pxe.Renderer(fleet, templates, callback_key=KEY).render_all()
    for machine in fleet.machines:
        token = callback.token(KEY, machine.name, machine.mac)
        base = "/callback/%s/%s" % (machine.name, token)
        answer = b"".join(data for (root, path), data in tree.items() if path.startswith("installer/%s/" % machine.name))
        assert (base + "/installed").encode() in answer, machine.name
        others = [other for other in fleet.machines if other.name != machine.name]
        assert not any(callback.token(KEY, other.name, other.mac).encode() in answer for other in others)
    preseed = tree[("http", "installer/img-server1/preseed.cfg")].decode()
    assert "d-i preseed/late_command string" in preseed and "d-i debian-installer/exit/poweroff boolean true" in preseed
    assert "poweroff" in tree[("http", "installer/img-server2/ks.cfg")].decode()
    assert "shutdown: poweroff" in tree[("http", "installer/web1/user-data")].decode()
    minimal = tree[("http", "installer/lab1/install.conf")].decode()
    assert "image=http://203.0.113.53/minimal/disk.img.gz" in minimal and "disk=/dev/vda" in minimal
    # Without a key (no controller state), no callback at all.
    plain = pxe.Renderer(fleet, templates).render_all()
    assert not any(b"/callback/" in data for data in plain.values())


def test_local_boot_and_tokens_change_the_machine_fingerprint(fleet, templates):
    machine = fleet.machines[0]
    plain = pxe.Renderer(fleet, templates).fingerprint(machine)
    keyed = pxe.Renderer(fleet, templates, callback_key=KEY).fingerprint(machine)
    local = pxe.Renderer(fleet, templates, callback_key=KEY, local_boot={machine.name}).fingerprint(machine)
    assert len({plain, keyed, local}) == 3


KEYS = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq7cT6rX6Xx0f4dQmS0mTS1dTJ8yq1n3wJd0oWbq3xY ops@example.net",
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY="]


def test_ssh_keys_from_the_inventory_in_every_answer_file_and_no_password(fleet, templates):
    tree = pxe.Renderer(fleet, templates, callback_key=KEY, ssh_keys=KEYS).render_all()
    preseed = tree[("http", "installer/img-server1/preseed.cfg")].decode()
    assert "d-i passwd/root-password-crypted password !" in preseed
    assert all('"%s"' % key in preseed for key in KEYS) and "/root/.ssh/authorized_keys" in preseed
    kickstart = tree[("http", "installer/img-server2/ks.cfg")].decode()
    assert all('sshkey --username=root "%s"' % key in kickstart for key in KEYS) and "rootpw --lock" in kickstart
    user_data = tree[("http", "installer/web1/user-data")].decode()
    assert user_data.count(KEYS[0]) == 2 and "allow-pw: false" in user_data and "lock_passwd: true" in user_data
    assert not any(b"password " in data and b"password !" not in data for data in tree.values())


@pytest.mark.parametrize("key", ['ssh-ed25519 AAAA" ; reboot', "ssh-rsa AAAA\nd-i x", "not-a-key AAAA", ""])
def test_a_key_that_is_not_a_plain_key_line_is_refused(fleet, templates, key):
    with pytest.raises(pxe.PxeError, match="ssh_authorized_keys.0.: not an OpenSSH public key line"):
        pxe.Renderer(fleet, templates, ssh_keys=[key])
