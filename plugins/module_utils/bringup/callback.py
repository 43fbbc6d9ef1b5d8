# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install-done and booted callbacks: a per-machine token only that machine's answer file carries.

token = HMAC-SHA256(key, name NUL mac), truncated to 128 bits, hex. The key is made once per
controller (a file, 0600) and given to the DHCP nodes with the SoT so they render each machine's
token into its own answer file. A callback whose token is not the one of the machine it names
(a guess, another machine's token) changes nothing; the wait stage reports it.
"""

from __future__ import annotations

import hmac
import os
import secrets
from hashlib import sha256

KEY_FILE = "callback.key"


class CallbackKeyError(Exception):
    pass


def load_key(path, create=True) -> str:
    """The callback key (hex) in path, made (0600) when it does not exist and create is true."""
    path = os.path.expanduser(path)
    try:
        with open(path, encoding="ascii") as handle:
            key = handle.read().strip()
    except FileNotFoundError:
        if not create:
            raise CallbackKeyError("callback key %s does not exist" % path) from None
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        key = secrets.token_hex(32)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another run made it first: use that one
            return load_key(path, create=False)
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(key + "\n")
        return key
    except (OSError, UnicodeDecodeError) as exc:
        raise CallbackKeyError("callback key %s cannot be read: %s" % (path, exc)) from None
    if len(key) < 32 or any(char not in "0123456789abcdef" for char in key):
        raise CallbackKeyError("callback key %s is not a hex key of at least 128 bits" % path)
    return key


def token(key: str, name: str, mac: str) -> str:
    return hmac.new(bytes.fromhex(key), ("%s\0%s" % (name, mac.lower())).encode("utf-8"), sha256).hexdigest()[:32]


def valid(key: str, name: str, mac: str, given: str) -> bool:
    return hmac.compare_digest(token(key, name, mac), given or "")
