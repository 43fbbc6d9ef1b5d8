# -*- coding: utf-8 -*-
"""netboot.fleet.boot_events run by Ansible on a "node" (this host, local connection): the journal path
(journalctl found on PATH, here a stand-in printing what `journalctl -o json` prints, which also records
its arguments), nginx logs, Kea lease files and what it says about sources it cannot read."""

import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, os.pardir))
SINCE = 1795705200.0
JOURNAL = [
    {"__REALTIME_TIMESTAMP": "1795705218500000", "SYSLOG_IDENTIFIER": "in.tftpd", "MESSAGE": "RRQ from 198.51.100.11 filename snponly.efi"},
    {"__REALTIME_TIMESTAMP": "1795705219000000", "SYSLOG_IDENTIFIER": "in.tftpd", "MESSAGE": "tftp: client does not accept options"},
]


def run_module(args, path_dirs):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               PATH=os.pathsep.join(path_dirs + [os.environ["PATH"]]))
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-i", "localhost,",
         "-e", "ansible_python_interpreter=%s" % sys.executable, "-m", "netboot.fleet.boot_events", "-a", json.dumps(args),
         "-o"], cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.split("=>", 1)[1])


def test_journal_logs_and_leases(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    journalctl = bin_dir / "journalctl"
    journalctl.write_text("#!/bin/sh\necho \"$@\" > %s\ncat %s\n" % (tmp_path / "journal-args", tmp_path / "journal.json"))
    journalctl.chmod(0o755)
    (tmp_path / "journal.json").write_text("\n".join(json.dumps(entry) for entry in JOURNAL) + "\n")
    (tmp_path / "netboot-pxe.log").write_text(
        '1795705222.317 198.51.100.11 "GET /ipxe/52%3A54%3A00%3A12%3A00%3A02.ipxe HTTP/1.1" 200 301 "iPXE/1.21.1"\n')
    (tmp_path / "leases4.csv").write_text(
        "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n"
        "198.51.100.11,52:54:00:12:00:02,,3600,1795708816,1,0,0,img-server2,0,\n")
    result = run_module({
        "since": SINCE, "http_logs": [str(tmp_path / "netboot-pxe.log"), str(tmp_path / "missing.log")],
        "lease_files4": [str(tmp_path / "leases4.csv")], "lease_files6": [str(tmp_path / "leases6.csv")]}, [str(bin_dir)])

    assert (tmp_path / "journal-args").read_text().split() == ["--no-pager", "-o", "json", "-t", "in.tftpd", "--since", "@1795705200"]
    assert [(event["kind"], event["key"], event["time"]) for event in result["events"]] == [
        ("lease4", "52:54:00:12:00:02", 1795705216), ("loader", "198.51.100.11", 1795705218.5),
        ("script", "52:54:00:12:00:02", 1795705222.317)]
    assert result["scripts_fetched"] == ["52:54:00:12:00:02"] and result["changed"] is False
    sources = {(source["source"], os.path.basename(source["path"])): source for source in result["sources"]}
    assert sources[("tftp", "journal")]["events"] == 1
    assert sources[("http", "missing.log")]["error"] == "does not exist"
    assert "No such file" in sources[("lease6", "leases6.csv")]["error"]


def test_a_failing_journal_is_reported_not_fatal(tmp_path):
    """A node without a journal (journalctl exits 1) still answers; the source says why it was not read."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    journalctl = bin_dir / "journalctl"
    journalctl.write_text("#!/bin/sh\necho 'No journal files were found.' >&2\nexit 1\n")
    journalctl.chmod(0o755)
    result = run_module({"since": SINCE, "http_logs": [], "lease_files4": [], "lease_files6": []}, [str(bin_dir)])
    assert result["sources"] == [{"source": "tftp", "path": "journal", "error": "No journal files were found."}]
    assert result["events"] == [] and result["scripts_fetched"] == []
