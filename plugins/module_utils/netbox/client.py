# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small NetBox GraphQL client: bulk reads in pages as large as NetBox allows, several pages a request, retries
with backoff.

The token is sent in the Authorization header only; no message, exception or log line carries it. TLS
certificates are verified unless validate_certs is False.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from http.client import HTTPException

from ansible.module_utils.urls import Request
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

# NetBox's own default ceiling on a page (its MAX_PAGE_SIZE); a larger limit is cut down to it.
DEFAULT_PAGE_SIZE = 1000
# Pages asked for in one request: NetBox's default GRAPHQL_MAX_ALIASES.
ALIASES = 10
# Answers worth asking again: NetBox or its proxy overloaded or restarting.
RETRIED_STATUSES = frozenset((429, 502, 503, 504))
# Where the token comes from when no option gives it (the name netbox.netbox uses too).
TOKEN_ENV = "NETBOX_TOKEN"
# The most of an error answer quoted in a message.
QUOTED = 300


class NetBoxError(Exception):
    """NetBox could not be read: unreachable, slow, refused the token, or answered something unusable."""


@dataclass(frozen=True)
class Connection:
    """How to reach NetBox. token: a v2 token (nbt_<key>.<secret>, sent as Bearer) or a v1 token."""
    url: str
    token: str
    validate_certs: bool = True
    timeout: float = 60.0
    retries: int = 3
    backoff: float = 1.0
    page_size: int = DEFAULT_PAGE_SIZE

    def __repr__(self) -> str:  # never the token
        return "Connection(url=%r)" % self.url

    @classmethod
    def from_options(cls, options: dict, environ: dict) -> "Connection":
        """The connection the options of netbox_export or the inventory source describe; the token defaults to
        TOKEN_ENV. Raises NetBoxError when there is no token or a number is out of range."""
        token = options.get("token") or environ.get(TOKEN_ENV)
        if not token:
            raise NetBoxError("no NetBox token: set the option token or the environment variable %s" % TOKEN_ENV)
        for name, lowest in (("timeout", 1), ("retries", 0), ("page_size", 1)):
            if options[name] < lowest:
                raise NetBoxError("%s must be at least %d, got %d" % (name, lowest, options[name]))
        return cls(url=options["url"], token=token, validate_certs=options["validate_certs"],
                   timeout=options["timeout"], retries=options["retries"], page_size=options["page_size"])


class NetBoxClient:
    """client.lists(queries) -> every object of several GraphQL lists, read in pages, several pages a request."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.base_url = connection.url.rstrip("/")
        scheme = "Bearer" if connection.token.startswith("nbt_") else "Token"
        self._request = Request(
            headers={"Authorization": "%s %s" % (scheme, connection.token), "Content-Type": "application/json",
                     "Accept": "application/json"},
            validate_certs=connection.validate_certs, timeout=connection.timeout, follow_redirects="none")
        self.requests = 0

    def object_url(self, path: str, ident) -> str:
        """The NetBox page of one object, e.g. object_url("dcim/devices", 17)."""
        return "%s/%s/%s/" % (self.base_url, path, ident)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """The data of one GraphQL query. Raises NetBoxError."""
        body = json.dumps({"query": query, "variables": variables or {}})
        answer = self._post(self.base_url + "/graphql/", body)
        try:
            document = json.loads(answer)
        except ValueError:
            raise NetBoxError("NetBox at %s answered GraphQL with something that is not JSON: %s"
                              % (self.base_url, _quote(answer))) from None
        errors = document.get("errors") if isinstance(document, dict) else None
        if errors or not isinstance(document, dict) or not isinstance(document.get("data"), dict):
            messages = "; ".join(str(error.get("message", error)) if isinstance(error, dict) else str(error)
                                 for error in (errors or [document])[:3])
            raise NetBoxError("NetBox at %s refused the GraphQL query: %s" % (self.base_url, _quote(messages)))
        return document["data"]

    def lists(self, queries) -> dict:
        """{key: every object of its GraphQL list} for queries ((key, list name, filter or "", fields), ...).

        Pages of page_size objects in NetBox's order. One request asks for as many pages as NetBox takes: the first
        page of each list name needs no alias, the others one each (up to ALIASES, NetBox's limit). The first request
        holds a first page of every list, the next ones the following pages of the lists not yet read to the end,
        round robin. Requests made: about all pages / (ALIASES + the lists not read) + 1."""
        limit = self.connection.page_size
        spec = {key: (list_name, filters, fields) for key, list_name, filters, fields in queries}
        objects = {key: [] for key in spec}
        next_offset = {key: 0 for key in spec}  # a key is removed once its list was read to the end
        while next_offset:
            batch = self._batch(spec, next_offset, limit)
            data = self.graphql(self._query(spec, batch, limit))
            for name, key, _offset in batch:
                if key not in next_offset:
                    continue  # an earlier page of this list in this batch was its last one
                page = data[name]
                objects[key].extend(page)
                if len(page) < limit:
                    del next_offset[key]
        return objects

    @staticmethod
    def _query(spec, batch, limit) -> str:
        return "query { %s }" % " ".join(
            "%s%s(%spagination: {offset: %d, limit: %d}) { id %s }" % (
                "%s: " % name if name != spec[key][0] else "", spec[key][0],
                "filters: %s, " % spec[key][1] if spec[key][1] else "", offset, limit, spec[key][2])
            for name, key, offset in batch)

    @staticmethod
    def _batch(spec, next_offset, limit) -> list:
        """The pages of one request, [(name in the answer, key, offset)], taking them from next_offset: round robin
        over the lists not read to the end, each list name once without an alias, then up to ALIASES aliases."""
        batch, unaliased = [], set()
        added = True
        while added:
            added = False
            for key in next_offset:
                list_name = spec[key][0]
                if list_name not in unaliased:
                    unaliased.add(list_name)
                    name = list_name
                elif len(batch) - len(unaliased) < ALIASES:
                    name = "p%d" % (len(batch) - len(unaliased))
                else:
                    continue
                batch.append((name, key, next_offset[key]))
                next_offset[key] += limit
                added = True
        return batch

    def _post(self, url: str, body: str) -> str:
        attempts = self.connection.retries + 1
        for attempt in range(attempts):
            self.requests += 1
            try:
                with self._request.open("POST", url, data=body) as response:
                    return response.read().decode("utf-8", "replace")
            except HTTPError as exc:
                failure = "answered HTTP %d: %s" % (exc.code, _quote(_read_error(exc)))
                if exc.code in (401, 403):
                    raise NetBoxError("NetBox at %s refused the token: it %s" % (self.base_url, failure)) from None
                if exc.code not in RETRIED_STATUSES:
                    raise NetBoxError("NetBox at %s %s" % (self.base_url, failure)) from None
            except (socket.timeout, TimeoutError):
                failure = "did not answer within %g s" % self.connection.timeout
            except URLError as exc:
                if isinstance(exc.reason, (socket.timeout, TimeoutError)):
                    failure = "did not answer within %g s" % self.connection.timeout
                else:
                    failure = "cannot be reached: %s" % (getattr(exc.reason, "strerror", None) or exc.reason)
            except OSError as exc:  # a connection reset or closed mid-answer
                failure = "cannot be read: %s" % (exc.strerror or exc)
            except ValueError as exc:  # a malformed URL: asking again changes nothing
                raise NetBoxError("NetBox URL %s cannot be used: %s" % (self.base_url, exc)) from None
            if attempt + 1 < attempts:
                time.sleep(self.connection.backoff * 2 ** attempt)
        raise NetBoxError("NetBox at %s %s (%d attempts)" % (self.base_url, failure, attempts))


def _read_error(exc) -> str:
    try:
        return exc.read().decode("utf-8", "replace")
    except (OSError, HTTPException):  # the status alone is still worth reporting
        return ""


def _quote(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= QUOTED else text[:QUOTED] + "..."
