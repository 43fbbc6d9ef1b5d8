# -*- coding: utf-8 -*-
"""Real tftpd-hpa and nginx serve what pxe_assets synced; sync is idempotent and prunes exactly."""

import os

from pxe_lab import BOOT_LOADERS, PXE_IPV6

MAC = "52:54:00:12:00:01"            # img-server1: bios, preseed
UNKNOWN_MAC = "52:54:00:99:99:99"


def read(lab, root, path):
    with open(os.path.join(lab.tftp_root if root == "tftp" else lab.http_root, path), "rb") as handle:
        return handle.read()


def test_first_sync_wrote_every_asset(lab):
    result = lab.first_result
    assert result["changed"] and result["counts"]["units"] == 5   # 4 machines + the entry script
    assert result["counts"]["added"] == 13 and result["counts"]["removed"] == 0
    assert "http:ipxe/boot.ipxe" in result["files"]["added"]


def test_tftp_serves_boot_loaders_and_pxelinux_config(lab):
    for name, source in BOOT_LOADERS.items():
        code, content = lab.tftp(name)
        assert code == 0, "TFTP %s: curl exit %d" % (name, code)
        with open(source, "rb") as handle:
            assert content == handle.read()
    code, content = lab.tftp("pxelinux.cfg/01-52-54-00-12-00-01")
    assert code == 0 and content == read(lab, "tftp", "pxelinux.cfg/01-52-54-00-12-00-01")
    assert b"APPEND auto=true priority=critical url=http://203.0.113.53/installer/img-server1/preseed.cfg" in content


def test_tftp_unknown_mac_is_not_found(lab):
    code, _content = lab.tftp("pxelinux.cfg/01-52-54-00-99-99-99")
    assert code == 68   # curl: TFTP file not found


def plant_secret(lab):
    """A file right beside the roots: what a '..' request would reach if it escaped."""
    with open(os.path.join(lab.work, "secret.txt"), "w") as handle:
        handle.write("secret\n")
    os.chmod(os.path.join(lab.work, "secret.txt"), 0o644)


def test_tftp_refuses_dot_dot(lab):
    plant_secret(lab)
    for path in ("../secret.txt", "pxelinux.cfg/../../secret.txt", "../../../../etc/passwd"):
        code, content = lab.tftp(path)
        assert code in (68, 69) and content == b"", (path, code)   # not found in the chroot / access violation


def test_tftp_is_read_only(lab):
    upload = os.path.join(lab.work, "upload")
    with open(upload, "w") as handle:
        handle.write("x\n")
    done = lab.ns("curl", "--silent", "--max-time", "10", "-T", upload, "tftp://203.0.113.53/planted",
                  capture_output=True)
    assert done.returncode != 0 and not os.path.exists(os.path.join(lab.tftp_root, "planted"))


def test_http_serves_scripts_and_answer_files(lab):
    status, body = lab.http("/ipxe/boot.ipxe")
    assert status == 200 and body == read(lab, "http", "ipxe/boot.ipxe")
    status, body = lab.http("/ipxe/%s.ipxe" % MAC)
    assert status == 200 and body.startswith(b"#!ipxe\n")
    assert b"url=http://203.0.113.53/installer/img-server1/preseed.cfg" in body
    status, body = lab.http("/installer/img-server1/preseed.cfg")
    assert status == 200 and b"netcfg/get_ipaddress string 198.51.100.10" in body
    status, body = lab.http("/installer/web1/user-data")
    assert status == 200 and body.startswith(b"#cloud-config\n")
    status, body = lab.http("/installer/web1/meta-data")
    assert status == 200 and body == b"instance-id: web1\nlocal-hostname: web1\n"
    # The IPv6-only machine reaches the service over IPv6.
    status, body = lab.http("/ipxe/52:54:00:13:00:01.ipxe", host=PXE_IPV6)
    assert status == 200 and b"http://[2001:db8:53::53]/debian12/linux" in body


def test_http_unknown_mac_is_404(lab):
    status, _body = lab.http("/ipxe/%s.ipxe" % UNKNOWN_MAC)
    assert status == 404


def test_http_refuses_dot_dot_listing_and_hidden_files(lab):
    plant_secret(lab)
    for path in ("/../secret.txt", "/ipxe/../../secret.txt", "/installer/%2e%2e/%2e%2e/secret.txt",
                 "/../../../../etc/passwd"):
        status, body = lab.http(path)
        assert status in (400, 404) and b"secret" not in body and b"root:" not in body, (path, status)
    status, body = lab.http("/ipxe/")
    assert status in (403, 404) and b"boot.ipxe" not in body
    with open(os.path.join(lab.http_root, "ipxe", ".%s.ipxe.nbf-tmp" % MAC), "w") as handle:
        handle.write("#!ipxe\nhalf")
    try:
        assert lab.http("/ipxe/.%s.ipxe.nbf-tmp" % MAC)[0] == 404
    finally:
        os.unlink(os.path.join(lab.http_root, "ipxe", ".%s.ipxe.nbf-tmp" % MAC))


def test_second_sync_changes_nothing_and_touches_no_file(lab):
    before = lab.files()
    result = lab.sync()
    assert result["changed"] is False
    assert result["counts"]["rendered_units"] == 0   # inputs unchanged: the SoT was not even loaded
    assert result["counts"]["added"] == result["counts"]["changed"] == result["counts"]["removed"] == 0
    assert lab.files() == before   # same inodes and mtimes: nothing rewritten


def test_changed_machine_is_the_only_one_rendered_and_written(lab):
    machines = os.path.join(lab.sot_path, "machines.yml")
    with open(machines) as handle:
        text = handle.read()
    with open(machines, "w") as handle:
        handle.write(text.replace("ipv4: 198.51.100.12\n", "ipv4: 198.51.100.22\n"))
    before = lab.files()
    result = lab.sync()
    assert result["counts"]["rendered_units"] == 1
    assert result["files"] == {"added": [], "changed": ["http:installer/web1/user-data"], "removed": []}
    after = lab.files()
    assert [key for key in after if after[key] != before[key]] == ["http:installer/web1/user-data"]
    assert b"198.51.100.22/26" in lab.http("/installer/web1/user-data")[1]


def test_removed_machine_is_pruned_and_nothing_else(lab):
    machines = os.path.join(lab.sot_path, "machines.yml")
    with open(machines) as handle:
        blocks = handle.read().split("\n  - name: ")
    with open(machines, "w") as handle:
        handle.write("\n  - name: ".join(block for block in blocks if not block.startswith("img-server1\n")))
    before = lab.files()
    preview = lab.sync(check=True)
    assert preview["changed"] and lab.files() == before
    result = lab.sync()
    gone = ["http:installer/img-server1/preseed.cfg", "http:ipxe/%s.ipxe" % MAC,
            "tftp:pxelinux.cfg/01-52-54-00-12-00-01"]
    assert preview["files"]["removed"] == result["files"]["removed"] == gone
    after = lab.files()
    assert sorted(set(before) - set(after)) == gone
    assert {key: value for key, value in before.items() if key not in gone} == after
    assert lab.http("/ipxe/%s.ipxe" % MAC)[0] == 404
    assert lab.tftp("pxelinux.cfg/01-52-54-00-12-00-01")[0] == 68


def test_invalid_sot_or_missing_template_fails_before_writing(lab):
    before = lab.files()
    networks = os.path.join(lab.sot_path, "networks.yml")
    with open(networks) as handle:
        original = handle.read()
    try:
        with open(networks, "w") as handle:
            handle.write(original.replace("installer: kickstart\n", "installer: kickstart\n    template: site/ks.j2\n"))
        output = lab.sync(expect_failure=True)
        # Named by the controller's path, not the node's temporary copy.
        assert "%s/networks.yml: profiles.rocky9.template" % lab.sot_path in output and "cannot be read" in output
        with open(networks, "w") as handle:
            handle.write(original.replace("installer: kickstart", "installer: autoyast"))
        output = lab.sync(expect_failure=True)
        assert "profiles.rocky9.installer: 'autoyast' is not one of preseed, kickstart, autoinstall" in output
    finally:
        with open(networks, "w") as handle:
            handle.write(original)
    assert lab.files() == before
