"""The collection as a user gets it: a tarball from ``ansible-galaxy collection build``, installed into
an empty collections path, run from a virtualenv made only of the declared runtime dependencies
(ansible-core + meta/ee-requirements.txt), from a directory outside the checkout.

Environment:
  NBF_INSTALL_CORE   ansible-core version of that virtualenv (default: the pin in requirements.txt)
  NETBOOT_FLEET_STATE  cache root (default /var/tmp/netboot-fleet); the virtualenv is kept under
                     install-venv/<key>, keyed by the core version, ee-requirements.txt and Python.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STATE = os.environ.get("NETBOOT_FLEET_STATE", "/var/tmp/netboot-fleet")
EE_REQUIREMENTS = os.path.join(REPO, "meta", "ee-requirements.txt")


def pinned_core():
    with open(os.path.join(REPO, "requirements.txt")) as lines:
        for line in lines:
            match = re.match(r"ansible-core==(\S+)", line)
            if match:
                return match.group(1)
    raise AssertionError("requirements.txt pins no ansible-core")


CORE = os.environ.get("NBF_INSTALL_CORE") or pinned_core()


def galaxy():
    with open(os.path.join(REPO, "galaxy.yml")) as stream:
        return yaml.safe_load(stream)


def runtime_venv():
    """A cached virtualenv with ansible-core==CORE and meta/ee-requirements.txt, nothing else."""
    with open(EE_REQUIREMENTS, "rb") as stream:
        requirements = stream.read()
    key = hashlib.sha256(b"%s\n%s\n%s" % (CORE.encode(), sys.version.encode(), requirements)).hexdigest()[:16]
    venv = os.path.join(STATE, "install-venv", "core%s-%s" % (CORE, key))
    ready = os.path.join(venv, ".ready")
    os.makedirs(os.path.dirname(venv), exist_ok=True)
    with open(venv + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(ready):
            shutil.rmtree(venv, ignore_errors=True)
            # The interpreter the tests run on, without the development venv's site-packages.
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", venv], check=True)
            subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                            "ansible-core==%s" % CORE, "-r", EE_REQUIREMENTS], check=True)
            open(ready, "w").close()
    return venv


class Installed:
    """What the tests use: the runtime venv, the tarball, the installed collection and a place to run."""

    def __init__(self, venv, tarball, collections, workdir):
        self.venv = venv
        self.tarball = tarball
        self.collections = collections
        self.root = os.path.join(collections, "ansible_collections", "netboot", "fleet")
        self.workdir = workdir
        self.config = os.path.join(workdir, "ansible.cfg")

    def env(self, **extra):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("ANSIBLE_", "PYTHON", "VIRTUAL_ENV"))}
        env.update(PATH=os.path.join(self.venv, "bin") + os.pathsep + "/usr/sbin:/usr/bin:/sbin:/bin",
                   ANSIBLE_CONFIG=self.config, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   HOME=self.workdir, LC_ALL="C.UTF-8")
        env.update(extra)
        return env

    def run(self, *command, check=True, timeout=300, **extra_env):
        completed = subprocess.run([os.path.join(self.venv, "bin", command[0]), *command[1:]], cwd=self.workdir,
                                   env=self.env(**extra_env), capture_output=True, text=True, timeout=timeout,
                                   check=False)
        if check:
            assert completed.returncode == 0, "%s\n%s\n%s" % (command, completed.stdout, completed.stderr)
        return completed


def dependency_collections(destination):
    """The collections galaxy.yml depends on, laid out as `ansible-galaxy collection install -r requirements.yml`
    would. Galaxy is not reachable here: they are copied from the development venv's pinned `ansible`
    package, which bundles released versions of them (with their MANIFEST.json)."""
    import ansible_collections  # the development venv's, not the runtime venv's

    bundled = [path for path in ansible_collections.__path__ if "site-packages" in path]
    assert bundled, "the development venv has no bundled collections (pip install ansible)"
    for name in galaxy()["dependencies"]:
        namespace, collection = name.split(".")
        source = os.path.join(bundled[0], namespace, collection)
        assert os.path.exists(os.path.join(source, "MANIFEST.json")), source
        shutil.copytree(source, os.path.join(destination, "ansible_collections", namespace, collection), symlinks=True)


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    venv = runtime_venv()
    work = tmp_path_factory.mktemp("install")
    build = work / "build"
    workdir = work / "run"
    collections = work / "collections"
    build.mkdir()
    workdir.mkdir()
    collections.mkdir()
    dependency_collections(str(collections))
    # A configuration of the user's own: the installed collections only, nothing from the checkout.
    (workdir / "ansible.cfg").write_text(
        "[defaults]\ncollections_path = %s\ninterpreter_python = auto_silent\nretry_files_enabled = false\n"
        "[inventory]\nenable_plugins = netboot.fleet.sot, host_list, yaml\nany_unparsed_is_failed = true\n"
        "ignore_patterns = ^sot$\n" % collections)
    result = Installed(venv, None, str(collections), str(workdir))
    built = subprocess.run([os.path.join(venv, "bin", "ansible-galaxy"), "collection", "build", "--force",
                            "--output-path", str(build), REPO], cwd=str(workdir), env=result.env(),
                           capture_output=True, text=True, check=False, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (result.tarball,) = [str(path) for path in build.glob("netboot-fleet-*.tar.gz")]
    # --offline: dependencies are resolved from what is already installed in the collections path.
    result.run("ansible-galaxy", "collection", "install", "--offline", "-p", str(collections), result.tarball)
    return result


def collection_names(root):
    """{plugin type: [short names]} of the installed collection's plugins and roles, from its files."""
    names = {}
    for kind, folder in (("module", "modules"), ("inventory", "inventory"), ("connection", "connection")):
        path = os.path.join(root, "plugins", folder)
        names[kind] = sorted(name[:-3] for name in os.listdir(path) if name.endswith(".py") and name != "__init__.py")
    names["role"] = sorted(os.listdir(os.path.join(root, "roles")))
    return names


def manifest(installed):
    with open(os.path.join(installed.root, "MANIFEST.json")) as stream:
        return json.load(stream)


def tar_members(tarball):
    with tarfile.open(tarball) as archive:
        return list(archive.getmembers())
