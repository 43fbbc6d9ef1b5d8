"""Run in gunicorn's master once NetBox is loaded (gunicorn.py): an API token for the tests, written to
/run/nbx/token (0600). The token goes into that file only: never to stdout, a log or a process argument."""

import os

from django.db import connections
from users.models import Token, User

user, _created = User.objects.get_or_create(username="nbx-admin", defaults={"is_superuser": True})
token = Token(user=user, description="netboot.fleet tests", write_enabled=True)
token.save()
descriptor = os.open("/run/nbx/token.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(descriptor, "w") as handle:
    handle.write("nbt_%s.%s" % (token.key, token.token))
os.replace("/run/nbx/token.tmp", "/run/nbx/token")
# The workers fork from this process: none may inherit its database connection.
connections.close_all()
