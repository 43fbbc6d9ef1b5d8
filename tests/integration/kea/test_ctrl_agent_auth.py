"""kea-ctrl-agent as the kea_dhcp role configures it: basic authentication from a 0600 file, on loopback.

The real agent (Debian's kea-ctrl-agent) runs on 127.0.0.1 with the role's rendered configuration and is stopped
by PID: a request without credentials or with a wrong password gets 401, the right ones get the agent's answer."""

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from role_template import render

PORT = 17011


@pytest.fixture
def agent(tmp_path):
    if shutil.which("kea-ctrl-agent") is None:
        pytest.skip("kea-ctrl-agent is not installed")
    password_file = tmp_path / "kea-api-password"
    password_file.write_text("s3cret-from-file")
    password_file.chmod(0o600)
    config = render("kea_dhcp", "kea-ctrl-agent.conf.j2", kea_dhcp_families=["dhcp4"],
                    kea_dhcp_daemons={"dhcp4": {"control_socket": str(tmp_path / "kea4.sock")}},
                    kea_dhcp_ctrl_agent_port=PORT, kea_dhcp_ctrl_agent_password_file=str(password_file),
                    kea_dhcp_log_output=str(tmp_path / "agent.log"))
    (tmp_path / "agent.json").write_text(config)
    env = dict(os.environ, KEA_LOCKFILE_DIR=str(tmp_path), KEA_PIDFILE_DIR=str(tmp_path))
    process = subprocess.Popen(["kea-ctrl-agent", "-c", str(tmp_path / "agent.json")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
                time.sleep(0.1)
        yield json.loads(config)
    finally:
        process.terminate()
        process.wait(timeout=10)


def ask(user=None, password=None):
    request = urllib.request.Request("http://127.0.0.1:%d/" % PORT, data=b'{"command": "list-commands"}',
                                     headers={"Content-Type": "application/json"})
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        request.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def test_the_agent_answers_only_with_the_password_from_the_file(agent):
    assert agent["Control-agent"]["http-host"] == "127.0.0.1"
    assert ask()[0] == 401
    assert ask("kea-api", "wrong")[0] == 401
    status, answer = ask("kea-api", "s3cret-from-file")
    assert status == 200 and answer[0]["result"] == 0, answer
