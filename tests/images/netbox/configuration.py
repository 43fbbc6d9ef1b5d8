"""NetBox configuration of the test container (tests/images/netbox/start.sh copies it into NETBOX_ROOT/conf).

Secrets are made per container by start.sh (secrets.json beside this file); PostgreSQL listens on a Unix
socket inside the container only, Redis on loopback with a password.
"""

import json
import os

with open(os.path.join(os.path.dirname(__file__), "secrets.json"), encoding="utf-8") as handle:
    _SECRETS = json.load(handle)

ALLOWED_HOSTS = ["*"]
SECRET_KEY = _SECRETS["secret_key"]
API_TOKEN_PEPPERS = {1: _SECRETS["pepper"]}
DATABASE = {"NAME": "netbox", "USER": "netbox", "PASSWORD": "", "HOST": "/run/nbx-pg", "PORT": ""}
_REDIS = {"HOST": "127.0.0.1", "PORT": int(os.environ["NBX_REDIS_PORT"]), "PASSWORD": _SECRETS["redis"], "SSL": False}
REDIS = {"tasks": dict(_REDIS, DATABASE=0), "caching": dict(_REDIS, DATABASE=1)}
# The SoT's own validation reports duplicate addresses (and the lab's BMCs all listen on 127.0.0.1).
ENFORCE_GLOBAL_UNIQUE = False
CENSUS_REPORTING_ENABLED = False
RELEASE_CHECK_URL = None
