#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pxe_assets
short_description: Render PXE/iPXE boot assets from the source of truth and sync them into the TFTP and HTTP roots
version_added: 0.1.0
author:
  - netboot.fleet developers (@netboot)
description:
  - Renders, for every machine of the source of truth (SoT), its iPXE script, its GRUB or pxelinux
    config and its installer answer file (preseed, kickstart or autoinstall), plus the C(ipxe/boot.ipxe)
    entry script, and syncs them into the TFTP and HTTP roots of the node.
  - Layout (shared with the Kea renderer) - HTTP root C(ipxe/boot.ipxe), C(ipxe/<mac>.ipxe),
    C(installer/<name>/preseed.cfg|ks.cfg|user-data|meta-data); TFTP root
    C(pxelinux.cfg/01-<mac-with-dashes>) (firmware C(bios)), C(grub/grub.cfg-01-<mac-with-dashes>)
    (firmware C(uefi)).
  - Every write is atomic (temporary file, then rename; an owned directory that does not exist yet,
    as on a first run, is built under a hidden name and renamed into place whole); files whose
    content is unchanged are not rewritten; files of machines no longer in the SoT are pruned, only
    inside C(ipxe/), C(installer/) and the C(01-*) files of C(pxelinux.cfg/) and C(grub/). Boot
    loaders and kernels are not touched.
  - Runs as an action plugin - the SoT and template overrides are read on the controller and
    shipped to the node in one archive; rendering happens on the node, so only the SoT travels, not
    the rendered tree (hundreds of thousands of files at 100,000 machines).
  - A manifest (O(state_file)) records a digest of the inputs (SoT files, templates, options) and
    each file's size, mtime and inode. Every run stats every recorded file, so a file edited,
    replaced or deleted on the node behind the module's back is rewritten. When the inputs are
    unchanged and every file is intact, the run does not even load the SoT - it stats the files
    and counts the entries of the owned directories (a stray file there is pruned). When the
    inputs changed, only machines whose own inputs changed (or whose files are not intact) are
    rendered. The manifest is a cache - losing it only makes the next run slower.
  - Two pushes to one node at once (two runs, or the slices of one bring-up) take turns from reading the machine
    states on the controller to the end of the node's sync - a lock per node in the state directory - so the
    later reader pushes later; on the node, two syncs of one tree take turns on C(<state_file>.lock).
  - An invalid SoT, an unknown installer kind, a missing or broken template fails the task before
    any file is written.
requirements:
  - On the node - python3-jinja2, python3-netaddr and python3-yaml (the C(pxe_server) role installs them).
options:
  template_dir:
    description:
      - Directory on the controller with templates replacing the shipped ones, file names
        C(boot.ipxe.j2), C(machine.ipxe.j2), C(grub.cfg.j2), C(pxelinux.cfg.j2), C(preseed.cfg.j2),
        C(kickstart.cfg.j2), C(autoinstall-user-data.j2), C(autoinstall-meta-data.j2). Files not
        present there come from the collection (C(plugins/templates/pxe/)).
      - A profile's own C(template) in the SoT replaces its answer-file template. Its path must be
        relative to the SoT file that defines the profile (it travels with the SoT); a missing file
        or an absolute path fails the task before anything is written.
    type: path
  templates:
    description:
      - Template texts by name. Filled by the action plugin from the shipped templates and
        O(template_dir); do not set it yourself.
    type: dict
    required: true
  callback_key:
    description:
      - Key of the machines' callback tokens (hex). Set by the action plugin from the controller's key file
        (C(callback.key) in the state directory, made on first use, mode 0600); do not set it yourself.
      - Each machine's answer file calls back C(<http_url>/callback/<name>/<token>/installed) when its
        install is done; the token is an HMAC of the machine's name and MAC, so one machine cannot
        report another as installed.
    type: str
  local_boot:
    description:
      - Names of installed machines (their state in the controller's machine-state store, see
        M(netboot.fleet.machine_state)). Their iPXE script, GRUB and pxelinux configs boot the local disk
        instead of the installer. Set by the action plugin; do not set it yourself.
    type: list
    elements: str
    default: []
  ssh_authorized_keys:
    description:
      - OpenSSH public keys the installed machines authorize - for root (preseed, kickstart) or the
        C(netboot) user of autoinstall; passwords stay locked. A line that is not a plain key (type, key,
        optional comment) fails the task before anything is written.
      - Default - the inventory variable C(netboot_ssh_authorized_keys), else none.
    type: list
    elements: str
  sot_label:
    description: Controller path shown in error messages instead of the node's temporary copy. Set by the action plugin.
    type: str
  tftp_root:
    description: TFTP root on the node (what tftpd-hpa serves; the C(pxe_server) role's default).
    type: path
    default: /srv/tftp
  http_root:
    description: HTTP root on the node (what nginx serves; the C(pxe_server) role's default).
    type: path
    default: /srv/netboot-http
  http_url:
    description:
      - Base URL of the HTTP service written into scripts, e.g. C(http://pxe.example.net).
      - Default - C(http://<fabric.pxe.ipv4>[:http_port]) for machines with IPv4,
        C(http://[<fabric.pxe.ipv6>][:http_port]) for IPv6-only machines.
    type: str
  loaders:
    description:
      - Per-machine configs to render besides the iPXE script (always rendered). C(grub) for
        machines with firmware C(uefi), C(pxelinux) for firmware C(bios).
    type: list
    elements: str
    choices: [grub, pxelinux]
    default: [grub, pxelinux]
  state_file:
    description: Manifest of what the last run wrote (fingerprints, sizes, mtimes, inodes) on the node.
    type: path
    default: /var/lib/netboot-fleet/pxe-assets.json
  workers:
    description: Processes rendering and writing in parallel on a large change, and checking the files of a large manifest; C(0) is one per CPU (at most 4).
    type: int
    default: 0
  report_limit:
    description: At most this many file names per kind (added, changed, removed) in the result and the diff.
    type: int
    default: 20
extends_documentation_fragment:
  - netboot.fleet.state_dir
  - netboot.fleet.sot
  - netboot.fleet.attributes.node
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Renders and compares everything, writes nothing, reports what would be added, changed and removed.
  diff_mode:
    support: full
    details: A summary (file names added, changed and removed, at most O(report_limit) each, plus counts), not a text
      diff.
notes:
  - File names are built only from validated MACs and machine names; a path that would leave the
    owned directories, a symlinked directory or a non-regular file in the way fails the task.
"""

EXAMPLES = r"""
- name: Render and sync PXE assets from the inventory's SoT
  netboot.fleet.pxe_assets:
    tftp_root: /srv/tftp
    http_root: /srv/pxe-http

- name: Same with site templates and a DNS name for the HTTP service
  netboot.fleet.pxe_assets:
    sot: /srv/sot
    template_dir: "{{ playbook_dir }}/templates/pxe"
    http_url: http://pxe.example.net
    loaders: [grub]
    tftp_root: /srv/tftp
    http_root: /srv/pxe-http
"""

RETURN = r"""
counts:
  description:
    - Files added, changed, removed and left unchanged; units (one per machine, plus the entry script)
      and how many of them were rendered in this run (0 when nothing changed).
  returned: always
  type: dict
  sample: {added: 3, changed: 1, removed: 2, unchanged: 12, units: 5, rendered_units: 2}
files:
  description: Names (C(root:path)) of files added, changed and removed, sorted, at most O(report_limit) each.
  returned: always
  type: dict
  sample: {added: ["http:installer/web1/meta-data"], changed: ["http:ipxe/52:54:00:12:00:03.ipxe"], removed: []}
truncated:
  description: True when a list in RV(files) was cut at O(report_limit).
  returned: always
  type: bool
"""

import hashlib
import json
import os
import shutil
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.netboot.fleet.plugins.module_utils.common_args import SOT_ARGS

try:
    from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
    from ansible_collections.netboot.fleet.plugins.module_utils.pxe import sot_archive
    from ansible_collections.netboot.fleet.plugins.module_utils.pxe import sync as asset_sync
    from ansible_collections.netboot.fleet.plugins.module_utils.pxe import layout
    from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe
    IMPORT_ERROR = None
except ImportError:  # pragma: no cover - a missing python3-* package on the node
    IMPORT_ERROR = traceback.format_exc()

DIGEST_VERSION = 2  # bump when the renderer's output changes for the same inputs


def inputs_digest(source, params):
    """Digest of everything the rendered tree depends on: the SoT (its archive, holding the profile
    templates too), the templates and the options. Equal to the last run's, with every file intact,
    means nothing to do: the SoT is not even loaded."""
    digest = hashlib.sha256(("%d\0%s\0" % (DIGEST_VERSION, json.dumps(
        [params["templates"], params["http_url"], sorted(params["loaders"]), params["callback_key"],
         sorted(params["local_boot"]), params["ssh_authorized_keys"]], sort_keys=True))).encode("utf-8"))
    paths = [source] if os.path.isfile(source) else sorted(
        os.path.join(current, name) for current, _dirs, names in os.walk(source) for name in names)
    for path in paths:
        digest.update(("\0%s\0" % os.path.relpath(path, source)).encode("utf-8"))
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def build_units(source, params):
    """Load and validate the SoT, compile the templates: every check before anything is written."""
    fleet = sot.load(source)
    absolute = ["%s: profiles.%s.template: %s is absolute; give a path relative to the SoT file so the "
                "template travels with the SoT" % (p.source, p.name, p.template)
                for p in fleet.profiles if p.template and os.path.isabs(p.template)]
    if absolute:
        raise pxe.PxeError(absolute)
    templates = pxe.Templates(params["templates"], pxe.read_profile_templates(fleet))
    return pxe.Renderer(fleet, templates, http_url=params["http_url"], loaders=params["loaders"],
                        callback_key=params["callback_key"], local_boot=params["local_boot"],
                        ssh_keys=params["ssh_authorized_keys"] or ()).units()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **SOT_ARGS,
            template_dir=dict(type="path"),
            templates=dict(type="dict", required=True),
            sot_label=dict(type="str"),
            callback_key=dict(type="str", no_log=True),
            local_boot=dict(type="list", elements="str", default=[]),
            ssh_authorized_keys=dict(type="list", elements="str", no_log=False),  # public keys
            state_dir=dict(type="path"),
            tftp_root=dict(type="path", default="/srv/tftp"),
            http_root=dict(type="path", default="/srv/netboot-http"),
            http_url=dict(type="str"),
            loaders=dict(type="list", elements="str", choices=["grub", "pxelinux"], default=["grub", "pxelinux"]),
            state_file=dict(type="path", default="/var/lib/netboot-fleet/pxe-assets.json"),
            workers=dict(type="int", default=0),
            report_limit=dict(type="int", default=20),
        ),
        supports_check_mode=True,
    )
    if IMPORT_ERROR or not (pxe.HAS_JINJA2 and pxe.HAS_NETADDR and sot.HAS_NETADDR):
        module.fail_json(msg=missing_required_lib("jinja2, netaddr and PyYAML (Debian: python3-jinja2 "
                                                  "python3-netaddr python3-yaml)"), exception=IMPORT_ERROR)
    params = module.params
    if not params["sot"]:
        module.fail_json(msg="sot is required (the action plugin sets it from netboot_sot_source)")
    workdir = None
    try:
        source = params["sot"]
        if source.endswith(".tar"):
            workdir = tempfile.mkdtemp(prefix="netboot-sot-")
            source = sot_archive.unpack(source, workdir)
        try:
            result = asset_sync.sync(
                {layout.TFTP: params["tftp_root"], layout.HTTP: params["http_root"]}, layout.OWNED,
                lambda: build_units(source, params), state_file=params["state_file"],
                check_mode=module.check_mode, workers=params["workers"] or min(4, os.cpu_count() or 1),
                limit=params["report_limit"], inputs=inputs_digest(source, params))
        except (sot.SotError, pxe.PxeError) as exc:
            message = str(exc)
            if workdir and params["sot_label"]:
                message = message.replace(os.path.join(workdir, sot_archive.ARCHIVE_ROOT), params["sot_label"])
            module.fail_json(msg=message)
        except (asset_sync.SyncError, OSError, ValueError) as exc:
            module.fail_json(msg="PXE asset sync failed: %s" % exc)
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    output = dict(changed=result.changed, **result.summary())
    if module._diff:
        output["diff"] = result.diff()
    module.exit_json(**output)


if __name__ == "__main__":
    main()
