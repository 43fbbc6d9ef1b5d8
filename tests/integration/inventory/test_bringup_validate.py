"""playbooks/bringup.yml's validate stage, through ansible-playbook."""

import os
import subprocess
import sys

import yaml

from ansible_collections.netboot.fleet.plugins.module_utils.sot import cache, route

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PLAYBOOK = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "playbooks/bringup.yml", "--tags", "validate"]
ENV = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")


def run(*args):
    return subprocess.run([*PLAYBOOK, *args], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300, check=False)


def test_validate_stage_summarises_the_embedded_default():
    result = run("-i", "inventory/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 machines, DHCP nodes dhcp-a1, dhcp-a2" in result.stdout


def test_one_load_of_the_sot_per_run(tmp_path):
    """The inventory loads the SoT; sot_info and bringup_report (and every other action of a run) reuse it."""
    cache_file = route.cache_file_of(os.path.join(REPO, "inventory", "sot"))
    if os.path.exists(cache_file):
        os.unlink(cache_file)
    log = tmp_path / "loads.log"
    result = subprocess.run([*PLAYBOOK, "-i", "inventory/", "-e", "bringup_report_dir=%s" % tmp_path], cwd=REPO,
                            env=dict(ENV, **{cache.LOAD_LOG_ENV: str(log)}), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Write the bring-up report" in result.stdout
    assert [line.split()[1] for line in log.read_text().splitlines()] == ["full"]
    # The next run reads no file again: the route's cache holds this load.
    log.unlink()
    result = subprocess.run([*PLAYBOOK, "-i", "inventory/", "-e", "bringup_report_dir=%s" % tmp_path], cwd=REPO,
                            env=dict(ENV, **{cache.LOAD_LOG_ENV: str(log)}), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[1:3] for line in log.read_text().splitlines()] == [["cached", "0"]]


def test_validate_stage_stops_on_an_invalid_sot(tmp_path):
    # The inventory is valid; the SoT the play is pointed at is not: the module must fail with the report.
    bad = os.path.join(REPO, "tests", "sot_corpus", "bad", "duplicate-mac.yml")
    result = run("-i", "inventory/", "-e", "netboot_sot_source=%s" % bad)
    assert result.returncode != 0
    assert "machines[1] (m2).mac: MAC 52:54:00:00:00:01 is also used by machines[0] (m1)" in result.stdout


def test_invalid_inventory_stops_the_play(tmp_path):
    config = tmp_path / "bad.sot.yml"
    config.write_text(yaml.safe_dump({"plugin": "netboot.fleet.sot",
                                      "source": os.path.join(REPO, "tests", "sot_corpus", "bad", "unknown-profile.yml")}))
    result = run("-i", str(config))
    assert result.returncode != 0
    assert "unknown profile 'centos6'" in " ".join((result.stdout + result.stderr).split())
    assert "PLAY RECAP" not in result.stdout
