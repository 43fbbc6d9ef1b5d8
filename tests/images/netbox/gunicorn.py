"""gunicorn settings of the test container (start.sh runs gunicorn -c /nbx/gunicorn.py).

NetBox is loaded once in the master (preload) and the API token made there before the workers fork: one
Django start-up instead of one per worker plus one for the token.
"""

import os

bind = "127.0.0.1:%s" % os.environ["NBX_HTTP_PORT"]
wsgi_app = "netbox.wsgi"
workers = 3
timeout = 600
preload_app = True
accesslog = "/run/nbx/access.log"
errorlog = "/run/nbx/gunicorn.log"


def when_ready(_server):
    with open("/nbx/make_token.py", encoding="utf-8") as handle:
        exec(handle.read(), {})  # nosec B102 - the container's own script
