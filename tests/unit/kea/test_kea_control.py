"""Control-channel client against small fake Kea endpoints (unix socket and HTTP)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.kea import control as kc


class FakeUnixKea:
    """Answers each connection with the next canned reply, recording the requests."""

    def __init__(self, path, replies):
        self.path, self.replies, self.requests = path, list(replies), []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for reply in self.replies:
            conn, _address = self.server.accept()
            with conn:
                data = b""
                while True:
                    data += conn.recv(65536)
                    try:
                        self.requests.append(json.loads(data))
                        break
                    except ValueError:
                        continue
                if reply is None:  # never answer: the client must time out
                    conn.recv(1)
                    continue
                conn.sendall(reply if isinstance(reply, bytes) else json.dumps(reply).encode())

    def close(self):
        self.server.close()


@pytest.fixture()
def fake(tmp_path):
    servers = []

    def make(*replies):
        server = FakeUnixKea(str(tmp_path / "kea.sock"), replies)
        servers.append(server)
        return server
    yield make
    for server in servers:
        server.close()


def test_success_returns_arguments_and_sends_one_command(fake):
    server = fake({"result": 0, "arguments": {"Dhcp4": {}}})
    client = kc.KeaControlClient(socket_path=server.path, timeout=5)
    assert client.call("config-get") == {"Dhcp4": {}}
    assert server.requests == [{"command": "config-get"}]


def test_large_answer_is_read_to_the_end(fake):
    big = {"result": 0, "arguments": {"blob": "x" * (3 << 20)}}
    server = fake(big)
    assert kc.KeaControlClient(socket_path=server.path).call("config-get") == big["arguments"]


@pytest.mark.parametrize("result, error", [(1, kc.KeaCommandError), (2, kc.KeaUnsupportedCommand),
                                           (4, kc.KeaConflictError), (9, kc.KeaControlError)])
def test_result_codes_become_errors_with_keas_text(fake, result, error):
    server = fake({"result": result, "text": "subnet configuration failed: bad thing"})
    with pytest.raises(error) as caught:
        kc.KeaControlClient(socket_path=server.path).call("config-test", {"Dhcp4": {}})
    assert "config-test" in str(caught.value) and "bad thing" in str(caught.value)
    assert (caught.value.command, caught.value.result) == ("config-test", result)
    assert server.requests[0]["arguments"] == {"Dhcp4": {}}


def test_empty_result_is_not_an_error(fake):
    server = fake({"result": 3, "text": "0 IPv4 lease(s) found."})
    assert kc.KeaControlClient(socket_path=server.path).call("lease4-get-all") is None


def test_answer_that_is_not_json(fake):
    server = fake(b"<html>oops</html>")
    with pytest.raises(kc.KeaControlError, match="not JSON"):
        kc.KeaControlClient(socket_path=server.path).call("status-get")


def test_silent_daemon_times_out(fake):
    server = fake(None)
    with pytest.raises(kc.KeaConnectionError, match="did not answer status-get within"):
        kc.KeaControlClient(socket_path=server.path, timeout=0.3).call("status-get")


def test_missing_and_stale_sockets(tmp_path):
    with pytest.raises(kc.KeaConnectionError, match="does not exist"):
        kc.KeaControlClient(socket_path=str(tmp_path / "none.sock")).call("status-get")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "stale.sock"))
    stale.close()  # the file stays, nobody listens
    with pytest.raises(kc.KeaConnectionError, match="refuses connections"):
        kc.KeaControlClient(socket_path=str(tmp_path / "stale.sock")).call("status-get")


def test_exactly_one_transport():
    with pytest.raises(ValueError):
        kc.KeaControlClient()
    with pytest.raises(ValueError):
        kc.KeaControlClient(socket_path="/x", url="http://127.0.0.1:1/")


class _Agent(BaseHTTPRequestHandler):
    requests = []
    status = 200
    body = b""

    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers["Content-Length"])
        type(self).requests.append((json.loads(self.rfile.read(length)), self.headers.get("Authorization")))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def agent():
    handler = type("Agent", (_Agent,), {"requests": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def test_ctrl_agent_list_answer_and_service(agent):
    server, handler = agent
    handler.body = json.dumps([{"result": 0, "arguments": {"pid": 42}}]).encode()
    client = kc.KeaControlClient(url="http://127.0.0.1:%d/" % server.server_port, service="dhcp4",
                                 username="kea", password="secret")
    assert client.call("status-get") == {"pid": 42}
    request, auth = handler.requests[0]
    assert request == {"command": "status-get", "service": ["dhcp4"]}
    assert auth.startswith("Basic ") and "secret" not in auth


def test_kea3_http_socket_map_answer_and_http_errors(agent):
    server, handler = agent
    url = "http://127.0.0.1:%d/" % server.server_port
    handler.body = json.dumps({"result": 1, "text": "rejected"}).encode()
    handler.status = 400
    with pytest.raises(kc.KeaCommandError, match="rejected"):
        kc.KeaControlClient(url=url).call("config-set", {"Dhcp4": {}})
    assert "service" not in handler.requests[0][0]
    handler.status, handler.body = 401, b"unauthorized"
    with pytest.raises(kc.KeaConnectionError, match="HTTP 401"):
        kc.KeaControlClient(url=url).call("status-get")


def test_unreachable_http_endpoint():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(kc.KeaConnectionError, match="cannot reach"):
        kc.KeaControlClient(url="http://127.0.0.1:%d/" % port, timeout=2).call("status-get")
