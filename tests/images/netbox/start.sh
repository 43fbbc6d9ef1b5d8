#!/usr/bin/env bash
# Entry point of the NetBox test container (tests/netbox_container.py runs it; the image is build.sh's).
# Mounts: this directory at /nbx (read only), a host state directory at /run/nbx (token, logs).
# Env: NBX_HTTP_PORT, NBX_REDIS_PORT (loopback; the container shares the host's network or a
# namespace the test made); NBX_DUMP, a database dump to restore (a path in the container; default:
# the pre-migrated dump of this NetBox version, seconds instead of minutes of migrations).
# PostgreSQL listens on a socket inside the container only.
set -euo pipefail
: "${NBX_HTTP_PORT:?}" "${NBX_REDIS_PORT:?}"
venv=/opt/netbox/venv/bin
pgbin=$(echo /usr/lib/postgresql/*/bin)
export NETBOX_ROOT=/opt/netbox
conf=$NETBOX_ROOT/conf
umask 077

mkdir -p "$conf"
: >"$conf/__init__.py"
cp /nbx/configuration.py "$conf/configuration.py"
"$venv/python" -c 'import json, secrets; print(json.dumps({k: secrets.token_urlsafe(48) for k in ("secret_key", "pepper", "redis")}))' \
  >"$conf/secrets.json"
chmod 0755 "$NETBOX_ROOT" "$conf"
chmod 0644 "$conf/__init__.py" "$conf/configuration.py"

"$venv/python" - "$conf/secrets.json" >/run/nbx-redis.conf <<'PY'
import json, os, sys
password = json.load(open(sys.argv[1]))["redis"]
print("port %s\nbind 127.0.0.1\nrequirepass %s\nsave \"\"\nappendonly no\ndaemonize yes\n"
      "logfile /run/nbx/redis.log" % (os.environ["NBX_REDIS_PORT"], password))
PY
redis-server /run/nbx-redis.conf

install -d -o postgres -m 0700 /var/lib/nbx-pg
install -d -o postgres -m 0755 /run/nbx-pg
runuser -u postgres -- "$pgbin/initdb" -D /var/lib/nbx-pg -U postgres -A trust -E UTF8 --no-locale >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D /var/lib/nbx-pg -l /var/lib/nbx-pg/server.log -w \
  -o "-c listen_addresses='' -k /run/nbx-pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
psql -q -h /run/nbx-pg -U postgres -c "CREATE USER netbox" -c "CREATE DATABASE netbox OWNER netbox"
pg_restore -h /run/nbx-pg -U netbox -d netbox --no-owner "${NBX_DUMP:-/nbx/netbox-$(cat /nbx/VERSION)-migrated.dump}"
echo "database restored"

export DJANGO_SETTINGS_MODULE=netbox.settings
exec "$venv/gunicorn" -c /nbx/gunicorn.py
