# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client for Kea's control channel.

Transports:
  unix  the daemon's own control socket: one JSON command per connection, the answer is
        read until Kea closes the connection.
  http  kea-ctrl-agent (Kea 2.x; commands carry "service": ["dhcp4"|"dhcp6"] and the answer
        is a JSON list with one entry per service) or a Kea 3 daemon's own HTTP control
        socket (no "service"). Optional basic auth and TLS.

Kea answers {"result": N, "text": ..., "arguments": ...}; non-zero results become the
exceptions below, carrying Kea's own text. Needs only the standard library and
ansible.module_utils (HTTP), so it runs on any Kea host.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error

from ansible.module_utils.urls import open_url

RESULT_SUCCESS = 0
RESULT_ERROR = 1
RESULT_UNSUPPORTED = 2
RESULT_EMPTY = 3
RESULT_CONFLICT = 4

_CHUNK = 1 << 20


class KeaControlError(Exception):
    """Any failure talking to Kea. .command is the command, .result Kea's code (or None)."""

    def __init__(self, message, command=None, result=None):
        super().__init__(message)
        self.command = command
        self.result = result


class KeaConnectionError(KeaControlError):
    """Kea could not be reached or did not answer in time."""


class KeaCommandError(KeaControlError):
    """Kea ran the command and reported an error (result 1), e.g. a rejected config."""


class KeaUnsupportedCommand(KeaControlError):
    """The daemon does not know the command (result 2): older Kea or hook not loaded."""


class KeaConflictError(KeaControlError):
    """Kea refused the change as conflicting with its state (result 4)."""


_RESULT_NAMES = {RESULT_ERROR: "error", RESULT_UNSUPPORTED: "unsupported command", RESULT_CONFLICT: "conflict"}
_ERRORS = {RESULT_ERROR: KeaCommandError, RESULT_UNSUPPORTED: KeaUnsupportedCommand,
           RESULT_CONFLICT: KeaConflictError}


class KeaControlClient:
    """Send commands to one Kea daemon.

    socket_path: the daemon's unix control socket; or url: http(s) endpoint of kea-ctrl-agent
    (service="dhcp4"/"dhcp6") or of a Kea 3 HTTP control socket (service=None).
    timeout: seconds for the whole exchange (a 100k-host config-set takes several seconds).
    """

    def __init__(self, socket_path=None, url=None, service=None, timeout=120.0,
                 username=None, password=None, ca_file=None, validate_certs=True):
        if bool(socket_path) == bool(url):
            raise ValueError("give exactly one of socket_path and url")
        self.socket_path = socket_path
        self.url = url
        self.service = service
        self.timeout = float(timeout)
        self.username = username
        self.password = password
        self.ca_file = ca_file
        self.validate_certs = validate_certs

    @property
    def endpoint(self) -> str:
        return self.socket_path or self.url

    def call(self, command, arguments=None):
        """Run command; return its arguments (None for an empty result). Raises KeaControlError."""
        answer = self.exchange(command, arguments)
        result = answer.get("result")
        if result in (RESULT_SUCCESS, RESULT_EMPTY):
            return answer.get("arguments")
        text = answer.get("text") or "(no text)"
        error = _ERRORS.get(result, KeaControlError)
        raise error("Kea at %s: %s failed (result %s, %s): %s"
                    % (self.endpoint, command, result, _RESULT_NAMES.get(result, "unknown"), text),
                    command=command, result=result)

    def exchange(self, command, arguments=None) -> dict:
        """Send one command, return Kea's answer map (whatever its result)."""
        request = {"command": command}
        if self.service:
            request["service"] = [self.service]
        if arguments is not None:
            request["arguments"] = arguments
        payload = json.dumps(request, separators=(",", ":")).encode("utf-8")
        raw = self._unix(command, payload) if self.socket_path else self._http(command, payload)
        try:
            answer = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise KeaControlError("Kea at %s answered %s with something that is not JSON: %r"
                                  % (self.endpoint, command, raw[:200]), command=command)
        # kea-ctrl-agent answers with a list, one entry per service asked.
        if isinstance(answer, list):
            answer = answer[0] if answer else {}
        if not isinstance(answer, dict) or "result" not in answer:
            raise KeaControlError("Kea at %s answered %s without a result: %r"
                                  % (self.endpoint, command, str(answer)[:200]), command=command)
        return answer

    def _unix(self, command, payload) -> bytes:
        deadline = time.monotonic() + self.timeout
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.socket_path)
            except FileNotFoundError:
                raise KeaConnectionError("Kea control socket %s does not exist: is the daemon running with "
                                         "this control-socket?" % self.socket_path, command=command)
            except ConnectionRefusedError:
                raise KeaConnectionError("Kea control socket %s refuses connections: the daemon is not running "
                                         "(stale socket file)" % self.socket_path, command=command)
            except PermissionError:
                raise KeaConnectionError("no permission to use Kea control socket %s (run as root or the Kea user)"
                                         % self.socket_path, command=command)
            chunks = []
            try:
                sock.sendall(payload)
                while True:
                    sock.settimeout(max(deadline - time.monotonic(), 0.001))
                    chunk = sock.recv(_CHUNK)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except socket.timeout:
                raise KeaConnectionError("Kea at %s did not answer %s within %.0f s"
                                         % (self.socket_path, command, self.timeout), command=command)
            except OSError as exc:
                raise KeaConnectionError("talking to Kea at %s (%s) failed: %s"
                                         % (self.socket_path, command, exc), command=command)
            if not chunks:
                raise KeaConnectionError("Kea at %s closed the connection without answering %s"
                                         % (self.socket_path, command), command=command)
            return b"".join(chunks)
        finally:
            sock.close()

    def _http(self, command, payload) -> bytes:
        try:
            response = open_url(self.url, data=payload, method="POST", headers={"Content-Type": "application/json"},
                                timeout=self.timeout, validate_certs=self.validate_certs, ca_path=self.ca_file,
                                url_username=self.username, url_password=self.password,
                                force_basic_auth=self.username is not None, use_proxy=False)
            with response:
                return response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            if exc.code in (401, 403):
                raise KeaConnectionError("Kea at %s refused %s: HTTP %d (check the control username/password)"
                                         % (self.url, command, exc.code), command=command)
            # Kea reports command errors in a JSON body with a 4xx/5xx status too.
            if body.lstrip().startswith((b"{", b"[")):
                return body
            raise KeaConnectionError("Kea at %s answered %s with HTTP %d: %r"
                                     % (self.url, command, exc.code, body[:300]), command=command)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, socket.timeout) or isinstance(exc, socket.timeout):
                raise KeaConnectionError("Kea at %s did not answer %s within %.0f s"
                                         % (self.url, command, self.timeout), command=command)
            raise KeaConnectionError("cannot reach Kea at %s (%s): %s" % (self.url, command, reason),
                                     command=command)
