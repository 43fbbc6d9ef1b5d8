# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""BMC client: one small interface over pyghmi's IPMI and Redfish commands.

Everything here runs on the Ansible controller (the machines have no OS yet).
Every pyghmi failure leaves this module as a :class:`BmcError` whose message
says what went wrong and what to check; nothing it raises or returns contains
the BMC password.
"""

from __future__ import annotations

import numbers
import socket
import ssl
import threading
import time

from ansible_collections.netboot.fleet.plugins.module_utils.sot.model import BMC_DEFAULT_PORTS

try:
    import pyghmi.exceptions as pyghmi_exc
    from pyghmi.ipmi import command as ipmi_command
    from pyghmi.ipmi.private import constants as ipmi_constants
    from pyghmi.ipmi.private import session as ipmi_session
    from pyghmi.redfish import command as redfish_command
    PYGHMI_IMPORT_ERROR = None
except ImportError as exc:  # reported when a client is made, so the rest stays importable
    PYGHMI_IMPORT_ERROR = exc

PROTOCOLS = ("ipmi", "redfish")
DEFAULT_PORTS = BMC_DEFAULT_PORTS

# Boot devices as this collection names them -> pyghmi's names, and back.
BOOT_DEVICES = {
    "network": "network",
    "disk": "hd",
    "cdrom": "optical",
    "bios": "setup",
    "default": "default",
}
BOOT_DEVICE_ALIASES = {"pxe": "network", "hd": "disk", "optical": "cdrom", "setup": "bios", "none": "default"}
_PYGHMI_TO_DEVICE = dict((v, k) for k, v in BOOT_DEVICES.items())

# IPMI chassis control "power cycle" (IPMI 2.0 table 28-4) has no pyghmi helper.
_IPMI_CHASSIS_CONTROL = (0x00, 0x02)
_IPMI_POWER_CYCLE = 0x02
# Get System Boot Options, parameter 5 (boot flags), read to learn the "valid" bit
# that pyghmi's get_bootdev() folds into "default".
_IPMI_GET_BOOT_OPTIONS = (0x00, 0x09)
_IPMI_BOOT_FLAGS = (5, 0, 0)
_BOOT_FLAGS_VALID = 0x80

# Completion codes meaning "this BMC does not do that" rather than "failed this time".
_IPMI_UNSUPPORTED_CODES = (0xc1, 0xc2, 0xc9, 0xcb, 0xcc, 0xd5, 0xd6, 0x80)
_IPMI_AUTH_WORDS = ("password", "unauthorized", "invalid role", "privilege", "integrity check",
                    "username length", "invalid user name")
_REDFISH_AUTH_WORDS = ("Access Denied", "Unauthorized", "401")
_IPMI_NO_ANSWER_WORDS = ("none", "", "timeout", "session no longer connected")
_HEALTH_WORDS = {1: "warning", 2: "critical", 4: "failed"}  # pyghmi.constants.Health bits


class BmcError(Exception):
    """A BMC failure explained for an operator.

    ``kind`` lets callers decide without parsing text: resolve, unreachable,
    auth, tls, unsupported, refused, timeout (waiting for a state), config, dependency.
    """

    TRANSIENT = ("unreachable",)

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def transient(self):
        return self.kind in self.TRANSIENT


class BmcTarget:
    """Where a BMC is and how to talk to it. Its repr never shows the password."""

    def __init__(self, address, protocol="ipmi", port=None, username=None, password=None,
                 timeout=10.0, retries=1, validate_certs=True):
        if protocol not in PROTOCOLS:
            raise BmcError("config", "unknown BMC protocol %r: use one of %s" % (protocol, ", ".join(PROTOCOLS)))
        if not address:
            raise BmcError("config", "no BMC address: set netboot.bmc.address in the source of truth "
                                     "or pass address=")
        if password is None:
            raise BmcError("config", "no BMC password: set netboot_bmc_password (vault) or pass password=")
        self.address = address
        self.protocol = protocol
        self.port = int(port) if port else DEFAULT_PORTS[protocol]
        self.username = username or ""
        self.password = password
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.validate_certs = bool(validate_certs)

    def describe(self):
        host = "[%s]" % self.address if ":" in self.address else self.address
        return "%s %s:%d" % ("IPMI" if self.protocol == "ipmi" else "Redfish", host, self.port)

    def __repr__(self):
        return "BmcTarget(%s, user=%r)" % (self.describe(), self.username)


def target_from(args, hostvars):
    """Build a BmcTarget from task arguments over the machine's hostvars.

    ``args`` are the validated task arguments (module_defaults already merged
    in by Ansible); ``hostvars`` are the machine's variables, where the
    ``netboot.sot`` inventory puts ``netboot.bmc`` and group_vars/vault put
    ``netboot_bmc_username``/``netboot_bmc_password``. Task arguments win.
    """
    record = (hostvars.get("netboot") or {}).get("bmc") or {}

    def pick(arg, record_key=None, hostvar=None, default=None):
        for value in (args.get(arg),
                      record.get(record_key) if record_key else None,
                      hostvars.get(hostvar) if hostvar else None):
            if value is not None:
                return value
        return default

    # A task naming another BMC address must not inherit the SoT BMC's port.
    port = args.get("port") if args.get("address") else pick("port", "port")
    return BmcTarget(
        address=pick("address", "address"),
        protocol=pick("protocol", "protocol", default="ipmi"),
        port=port,
        username=pick("username", hostvar="netboot_bmc_username"),
        password=pick("password", hostvar="netboot_bmc_password"),
        timeout=pick("timeout", default=10),
        retries=pick("retries", default=1),
        validate_certs=pick("validate_certs", hostvar="netboot_bmc_validate_certs", default=True),
    )


def _within(seconds, func):
    """Run func() but give up after `seconds`.

    pyghmi has its own, fixed retry timers (about 6 s before an unanswered
    IPMI login fails, 60 s TCP timeouts for Redfish); this makes the
    configured timeout the real bound. A call left behind runs on in a daemon
    thread that dies with the Ansible worker process.
    """
    outcome = {}

    def run():
        try:
            outcome["value"] = func()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="bmc-call")
    worker.daemon = True
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _completion_code(exc):
    """The IPMI completion code behind a pyghmi exception (pyghmi often keeps only the words)."""
    code = getattr(exc, "ipmicode", 0) or 0
    if code:
        return code
    text = str(exc)
    for number, words in ipmi_constants.ipmi_completion_codes.items():
        if words == text and number not in (0, 0xffff):
            return number
    return 0


def explain(exc, target, what, elapsed):
    """Turn whatever pyghmi or the network raised (after `elapsed` s) into a BmcError."""
    if isinstance(exc, BmcError):
        return exc
    where = "%s on BMC %s" % (what, target.describe())
    if isinstance(exc, socket.gaierror):
        return BmcError("resolve", "%s: cannot resolve BMC name %r (%s); check netboot.bmc.address and DNS"
                        % (where, target.address, exc.strerror or exc))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return BmcError("tls", "%s: TLS certificate not trusted (%s); install the BMC CA on the controller "
                               "or set validate_certs=false" % (where, getattr(exc, "verify_message", None) or exc))
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return _no_answer(where, target, elapsed)
    if isinstance(exc, ConnectionRefusedError):
        return BmcError("unreachable", "%s: connection refused; nothing listens on port %d"
                        % (where, target.port))
    if isinstance(exc, OSError):
        return BmcError("unreachable", "%s: network error: %s" % (where, exc.strerror or exc))
    if PYGHMI_IMPORT_ERROR is None:
        if isinstance(exc, pyghmi_exc.IpmiException):
            return _explain_ipmi(exc, target, where, elapsed)
        if isinstance(exc, pyghmi_exc.UnsupportedFunctionality):
            return BmcError("unsupported", "%s: not supported by this BMC (%s)" % (where, exc))
        if isinstance(exc, pyghmi_exc.InvalidParameterValue):
            return BmcError("unsupported", "%s: %s" % (where, exc))
        if isinstance(exc, pyghmi_exc.RedfishError):
            return _explain_redfish(exc, where)
        if isinstance(exc, pyghmi_exc.PyghmiException):
            if any(word in str(exc) for word in _REDFISH_AUTH_WORDS):
                return BmcError("auth", "%s: login refused for user %r: %s; check netboot_bmc_username/"
                                        "netboot_bmc_password" % (where, target.username, exc))
            return BmcError("refused", "%s: %s" % (where, exc))
    return BmcError("refused", "%s: unexpected %s: %s" % (where, type(exc).__name__, exc))


def _no_answer(where, target, elapsed):
    return BmcError("unreachable", "%s: no answer after %.1f s (%s); check the address, port %d and that the "
                                   "BMC is powered and on the management network"
                    % (where, elapsed, "UDP" if target.protocol == "ipmi" else "HTTPS", target.port))


def _explain_ipmi(exc, target, where, elapsed):
    text = str(exc)
    lowered = text.strip().lower()
    if lowered in _IPMI_NO_ANSWER_WORDS:
        # pyghmi reports an unanswered session as IpmiException(None)
        return _no_answer(where, target, elapsed)
    if "unable to transmit" in lowered:
        return BmcError("resolve", "%s: cannot resolve or reach BMC address %r" % (where, target.address))
    if "insufficient resources" in lowered:
        return BmcError("refused", "%s: the BMC has no free session (%s); wait for idle sessions to "
                                   "expire" % (where, text))
    if any(word in lowered for word in _IPMI_AUTH_WORDS):
        return BmcError("auth", "%s: login refused for user %r: %s; check netboot_bmc_username/"
                                "netboot_bmc_password" % (where, target.username, text))
    code = _completion_code(exc)
    if code:
        detail = "%s (completion code 0x%02X)" % (text, code)
        if code in _IPMI_UNSUPPORTED_CODES:
            return BmcError("unsupported", "%s: not supported by this BMC: %s" % (where, detail))
        return BmcError("refused", "%s: the BMC answered %s" % (where, detail))
    return BmcError("refused", "%s: %s" % (where, text))


def _explain_redfish(exc, where):
    msgid = exc.msgid or ""
    text = str(exc) or msgid
    if "ActionNotSupported" in msgid or "NotInList" in msgid or "PropertyUnknown" in msgid:
        return BmcError("unsupported", "%s: not supported by this BMC: %s" % (where, text))
    if "Unauthorized" in msgid or "InsufficientPrivilege" in msgid:
        return BmcError("auth", "%s: access refused: %s" % (where, text))
    return BmcError("refused", "%s: the BMC answered: %s (%s)" % (where, text, msgid))


def plain(value):
    """pyghmi results as JSON-friendly data (it returns bytearrays, datetimes, enums)."""
    if isinstance(value, dict):
        return dict((str(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if value is None or isinstance(value, (bool, str, numbers.Number)):
        return value
    return str(value)


def fix_pyghmi_sessions(session_module):
    """Two pyghmi 1.6 IPMI session bugs that only show with many sessions in threads under load (bulk_power,
    and lab/bmc_farm.py's BMC servers, which are pyghmi sessions too).

    Deadlock: its two session-table locks are taken in both orders (a retransmit timeout takes
    WAITING_SESSIONS, then KEEPALIVE_SESSIONS to resend; sending takes them the other way round), so every
    thread ends up blocked. Both are re-entrant locks read from the module at each use: one lock has no
    order to get wrong.

    Stall: its one I/O thread reads each socket after setblocking(0), while senders in other threads call
    setblocking(1) on the same socket; a read that lands between them blocks the I/O thread until that
    socket gets a packet, and every session of the process waits - for good once that BMC is done with.
    MSG_DONTWAIT makes each read non-blocking whatever mode the socket was left in.
    """
    session_module.KEEPALIVE_SESSIONS = session_module.WAITING_SESSIONS

    def io_recvfrom(mysocket, size):
        try:
            return mysocket.recvfrom(size, socket.MSG_DONTWAIT)
        except OSError:
            return None

    session_module._io_recvfrom = io_recvfrom  # pylint: disable=protected-access


if PYGHMI_IMPORT_ERROR is None:
    fix_pyghmi_sessions(ipmi_session)


class _IpmiProtocol:
    """pyghmi.ipmi.command calls behind the client's interface."""

    @staticmethod
    def open(target):
        return ipmi_command.Command(bmc=target.address, userid=target.username,
                                    password=target.password, port=target.port)

    @staticmethod
    def close(session, target):
        session.ipmi_session.logout()
        _IpmiProtocol.forget(target)

    @staticmethod
    def forget(target):
        # pyghmi 1.6 keys logins in progress by the str credentials but removes them by the
        # encoded ones, so a later login to this BMC in the same process would reuse the old
        # (logged out or abandoned) session.
        ipmi_session.Session.initting_sessions.pop(
            (target.address, target.username, target.password, target.port, None), None)

    @staticmethod
    def power_state(session):
        return session.get_power()["powerstate"]

    @staticmethod
    def request_power(session, action):
        if action == "cycle":
            netfn, command = _IPMI_CHASSIS_CONTROL
            session.xraw_command(netfn=netfn, command=command, data=(_IPMI_POWER_CYCLE,))
        else:
            session.set_power(action, wait=False)

    @staticmethod
    def boot_override(session):
        flags = session.get_bootdev()
        netfn, command = _IPMI_GET_BOOT_OPTIONS
        raw = session.xraw_command(netfn=netfn, command=command, data=_IPMI_BOOT_FLAGS)["data"]
        valid = len(raw) > 2 and bool(raw[2] & _BOOT_FLAGS_VALID)
        return _boot_view(flags, valid)

    @staticmethod
    def set_boot_override(session, device, persistent, uefi):
        session.set_bootdev(BOOT_DEVICES[device], persist=persistent, uefiboot=uefi)

    @staticmethod
    def identity(session):
        # pyghmi decodes Get Device ID only in this helper (used for its OEM lookup)
        return session._get_device_id()


class _RedfishProtocol:
    """pyghmi.redfish.command calls behind the client's interface (HTTPS only, as pyghmi is)."""

    @staticmethod
    def open(target):
        verify = None if target.validate_certs else (lambda certificate: True)
        session = redfish_command.Command(target.address, target.username, target.password,
                                          verifycallback=verify, port=target.port)
        session.wc.mytimeout = target.timeout  # pyghmi's default is 60 s per request
        return session

    @staticmethod
    def forget(target):
        pass  # every Redfish request is a new connection

    @staticmethod
    def close(session, target):
        token = getattr(session, "xauthtoken", None)
        if token:
            session.wc.grab_json_response_with_status("/redfish/v1/SessionService/Sessions/" + token,
                                                      method="DELETE")

    @staticmethod
    def power_state(session):
        # Redfish may say PoweringOn/PoweringOff: returned as is, so a waiter keeps waiting
        return session.get_power()["powerstate"]

    @staticmethod
    def request_power(session, action):
        if action == "cycle":
            allowed = session.sysinfo.get("Actions", {}).get("#ComputerSystem.Reset", {}).get(
                "ResetType@Redfish.AllowableValues")
            if allowed and "PowerCycle" not in allowed:
                raise BmcError("unsupported", "power cycle is not offered by this Redfish BMC (it offers %s); "
                                              "use state=reset, or state=off then state=on"
                               % ", ".join(allowed))
            session._do_web_request(session.powerurl, {"ResetType": "PowerCycle"})
        else:
            session.set_power(action, wait=False)
        session._urlcache.clear()  # pyghmi serves GETs from a 30 s cache, stale after a write

    @staticmethod
    def boot_override(session):
        return _boot_view(session.get_bootdev(), True)

    @staticmethod
    def set_boot_override(session, device, persistent, uefi):
        session.set_bootdev(BOOT_DEVICES[device], persist=persistent, uefiboot=uefi)
        session._urlcache.clear()  # pyghmi serves GETs from a 30 s cache, stale after a write

    @staticmethod
    def identity(session):
        system = session.sysinfo
        manager = session.bmcinfo
        return plain({
            "manufacturer": system.get("Manufacturer"),
            "model": system.get("Model"),
            "serial_number": system.get("SerialNumber"),
            "uuid": system.get("UUID"),
            "bios_version": system.get("BiosVersion"),
            "bmc_model": manager.get("Model"),
            "firmware_version": manager.get("FirmwareVersion"),
        })


def _boot_view(flags, valid):
    device = flags.get("bootdev")
    uefi = flags.get("uefimode")
    return {
        "device": _PYGHMI_TO_DEVICE.get(device, device),
        "persistent": flags.get("persistent"),
        "mode": None if uefi is None else ("uefi" if uefi else "legacy"),
        "valid": valid,
    }


class BmcClient:
    """One BMC session with bounded, explained calls.

    Reads are retried (on a fresh session) when the BMC did not answer.
    Requests that change state are sent once: callers that want to retry
    one must read the state again first (see bmc_actions), so a lost answer
    never turns into a second reset.
    """

    def __init__(self, target, protocols=None):
        if PYGHMI_IMPORT_ERROR is not None and protocols is None:
            raise BmcError("dependency", "pyghmi is required on the Ansible controller for BMC control "
                                         "(pip install pyghmi): %s" % PYGHMI_IMPORT_ERROR)
        self.target = target
        self._protocol = (protocols or {"ipmi": _IpmiProtocol, "redfish": _RedfishProtocol})[target.protocol]
        self._session = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _call(self, what, func, retry):
        attempts = 1 + (self.target.retries if retry else 0)
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                if self._session is None:
                    self._session = _within(self.target.timeout, lambda: self._protocol.open(self.target))
                return _within(self.target.timeout, lambda: func(self._session))
            except Exception as exc:  # every failure leaves as a BmcError
                error = explain(exc, self.target, what, time.monotonic() - started)
                if error.transient:
                    # pyghmi marks an unanswered session broken: start the next attempt afresh
                    self._session = None
                    self._protocol.forget(self.target)
                if not error.transient or attempt == attempts:
                    if attempts > 1 and error.transient:
                        error = BmcError(error.kind, "%s (%d attempts)" % (error.message, attempts))
                    raise error

    def connect(self):
        """Log in now (otherwise the first call does)."""
        self._call("login", lambda session: None, retry=True)

    def power_state(self):
        return self._call("read power state", self._protocol.power_state, retry=True)

    def request_power(self, action):
        self._call("power %s" % action, lambda session: self._protocol.request_power(session, action), retry=False)

    def boot_override(self):
        return self._call("read boot device", self._protocol.boot_override, retry=True)

    def set_boot_override(self, device, persistent, uefi):
        self._call("set boot device", lambda session: self._protocol.set_boot_override(
            session, device, persistent, uefi), retry=False)

    def identity(self):
        return plain(self._call("read device id", self._protocol.identity, retry=True))

    def firmware(self):
        return plain(dict(self._call("read firmware", lambda session: list(session.get_firmware()), retry=True)))

    def inventory(self):
        return plain(dict(self._call("read inventory", lambda session: list(session.get_inventory()), retry=True)))

    def health(self):
        found = self._call("read health", lambda session: session.get_health(), retry=True)
        level = found.get("health", 0)
        words = [name for bit, name in sorted(_HEALTH_WORDS.items()) if level & bit] or ["ok"]
        return {"status": words[-1], "bad_readings": plain(found.get("badreadings", []))}

    def close(self):
        session, self._session = self._session, None
        if session is not None:
            try:
                _within(self.target.timeout, lambda: self._protocol.close(session, self.target))
            except Exception:  # logging out is a courtesy; the BMC expires idle sessions anyway
                pass
