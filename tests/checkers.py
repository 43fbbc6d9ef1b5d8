"""The real checker of each rendered format, as one function per format returning (ok, message).

ok is True when the checker accepts the text; message is the checker's own output (what it rejected,
and where). Each function writes its input to a private temporary directory and runs the tool the
target itself uses, or the validator its project ships:

- Kea: ``kea-dhcp4 -t`` / ``kea-dhcp6 -t``;
- BIRD: ``bird -p -c``;
- GRUB scripts: ``grub-script-check`` (grub-common);
- kickstart: ``ksvalidator`` (pykickstart);
- preseed: ``debconf-set-selections --checkonly``;
- autoinstall / cloud-config user-data: YAML with the ``#cloud-config`` header, validated with
  jsonschema against cloud-init's own schema (``schema-cloud-config-v1.json`` of Debian's cloud-init
  package, extracted by ``scripts/setup.sh`` rather than installed, so no cloud-init service lands on the
  host). The whole document and its ``autoinstall.user-data`` (the installed system's cloud-config) are
  checked; Subiquity's autoinstall schema is not packaged anywhere we install from.

A tool that is not installed skips the calling test with the tool's name (a real absence).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml

STATE = os.environ.get("NETBOOT_FLEET_STATE", "/var/tmp/netboot-fleet")
CLOUD_CONFIG_SCHEMA = os.path.join(STATE, "cloud-init-schema", "schema-cloud-config-v1.json")
TIMEOUT = 60


def _tool(name: str) -> str:
    """The path of a checker: on PATH, beside this Python (ksvalidator in the venv) or in sbin."""
    candidates = [shutil.which(name), os.path.join(os.path.dirname(sys.executable), name),
                  os.path.join("/usr/sbin", name), os.path.join("/usr/bin", name)]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("%s is not installed (scripts/setup.sh installs it)" % name)
    raise AssertionError("unreachable")


def _run(argv: list[str], text: str, name: str, env: dict | None = None) -> tuple[bool, str]:
    """argv with "{}" replaced by a file holding text; (exit status 0, stdout+stderr)."""
    with tempfile.TemporaryDirectory(prefix="nbf-check-") as tmp:
        path = os.path.join(tmp, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        argv = [path if part == "{}" else part for part in argv]
        environ = dict(os.environ, **(env or {}))
        environ = {key: value.replace("{tmp}", tmp) for key, value in environ.items()}
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=TIMEOUT,
                              cwd=tmp, env=environ, stdin=subprocess.DEVNULL)
        return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def kea(family: str, config: dict | str) -> tuple[bool, str]:
    """``kea-<family> -t`` on a Kea configuration (a dict, or its JSON text).

    kea-dhcp6 -t insists that data-directory exists (/var/lib/kea may not on a build host), so a
    dict's Dhcp6 data-directory is pointed at a temporary directory; nothing else is changed."""
    daemon = _tool("kea-%s" % family)
    if isinstance(config, str):
        text = config
    else:
        config = json.loads(json.dumps(config))
        if family == "dhcp6":
            config.setdefault("Dhcp6", {})["data-directory"] = "{tmp}"
        text = json.dumps(config)
    with tempfile.TemporaryDirectory(prefix="nbf-kea-") as data:
        text = text.replace('"{tmp}"', json.dumps(data))
        return _run([daemon, "-t", "{}"], text, "kea.json",
                    env={"KEA_LOCKFILE_DIR": "{tmp}", "KEA_PIDFILE_DIR": "{tmp}"})


def bird(config: str) -> tuple[bool, str]:
    """``bird -p -c``: BIRD parses the configuration and exits.

    The health check's include (``include "<announce_file>";``) is satisfied with the file the health
    check writes (dhcp_probe.announce_text), in the temporary directory: only that include's path is
    rewritten, so the configuration is checked as the node reads it."""
    from ansible_collections.netboot.fleet.plugins.module_utils.anycast import dhcp_probe

    with tempfile.TemporaryDirectory(prefix="nbf-bird-") as tmp:
        announce = os.path.join(tmp, "announce.conf")
        with open(announce, "w", encoding="utf-8") as handle:
            handle.write(dhcp_probe.announce_text(False))
        config = re.sub(r'^include "[^"\n]*/announce\.conf";$', 'include "%s";' % announce, config, flags=re.M)
        return _run([_tool("bird"), "-p", "-c", "{}"], config, "bird.conf")


def grub_script(script: str) -> tuple[bool, str]:
    """``grub-script-check``: GRUB's own parser on a grub.cfg."""
    return _run([_tool("grub-script-check"), "{}"], script, "grub.cfg")


def kickstart(text: str) -> tuple[bool, str]:
    """``ksvalidator`` (pykickstart) on a kickstart file."""
    return _run([_tool("ksvalidator"), "{}"], text, "ks.cfg")


def preseed(text: str) -> tuple[bool, str]:
    """``debconf-set-selections --checkonly``: every line parses as owner, question, type, value."""
    return _run([_tool("debconf-set-selections"), "--checkonly", "{}"], text, "preseed.cfg")


def cloud_config(text: str) -> tuple[bool, str]:
    """An autoinstall/cloud-config user-data file: its header, YAML, and cloud-init's schema."""
    import jsonschema

    if not os.path.exists(CLOUD_CONFIG_SCHEMA):
        pytest.skip("%s is missing (scripts/setup.sh extracts it from Debian's cloud-init)" % CLOUD_CONFIG_SCHEMA)
    if not text.startswith("#cloud-config\n"):
        return False, "the first line is not '#cloud-config'"
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return False, "not valid YAML: %s" % error
    if not isinstance(document, dict):
        return False, "not a mapping: %r" % type(document).__name__
    with open(CLOUD_CONFIG_SCHEMA, encoding="utf-8") as handle:
        schema = json.load(handle)
    validator = jsonschema.Draft4Validator(schema)
    documents = [("user-data", document)]
    autoinstall = document.get("autoinstall")
    if isinstance(autoinstall, dict) and "user-data" in autoinstall:
        documents.append(("autoinstall.user-data", autoinstall["user-data"]))
    errors = ["%s: %s: %s" % (where, "/".join(map(str, error.absolute_path)) or "(top)", error.message)
              for where, part in documents for error in validator.iter_errors(part)]
    return not errors, "\n".join(errors)


def kickstart_files(texts: list[str]) -> list[tuple[bool, str]]:
    """kickstart() of each text, in one ksvalidator run (it takes many files) while they all pass."""
    tool = _tool("ksvalidator")
    with tempfile.TemporaryDirectory(prefix="nbf-ks-") as tmp:
        paths = []
        for index, text in enumerate(texts):
            paths.append(os.path.join(tmp, "ks%05d.cfg" % index))
            with open(paths[-1], "w", encoding="utf-8") as handle:
                handle.write(text)
        proc = subprocess.run([tool, *paths], capture_output=True, text=True, check=False, timeout=TIMEOUT * 5,
                              stdin=subprocess.DEVNULL)
    if proc.returncode == 0:
        return [(True, "")] * len(texts)
    return [kickstart(text) for text in texts]


def preseed_files(texts: list[str]) -> list[tuple[bool, str]]:
    """preseed() of each text, in one run over their concatenation (each line stands alone) while they all pass."""
    ok, _message = preseed("".join(text if text.endswith("\n") else text + "\n" for text in texts))
    if ok:
        return [(True, "")] * len(texts)
    return [preseed(text) for text in texts]
