#!/usr/bin/env bash
# Versions matrix: the lowest ansible-core meta/runtime.yml declares (requires_ansible ">=X.Y.Z": X.Y.Z
# exactly), on a minimal subset: ansible-test sanity and the unit tests run by that core, and one
# integration path, the install test (tarball built, installed and run by that core: ansible-doc,
# inventory plugin, bringup.yml --tags validate, ipmi_power against ipmi_sim).
# The newest core that runs on Python 3.11 is requirements.txt's pin: the rest of `make test` runs on it.
# The venv of that core (+ meta/ee-requirements.txt + the test runner pins) is cached under
# $NETBOOT_FLEET_STATE/versions, keyed by its inputs; ansible-test keeps its sanity venvs in ~/.ansible/test.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
STATE=${NETBOOT_FLEET_STATE:-/var/tmp/netboot-fleet}
DEV_PYTHON=${DEV_PYTHON:-$REPO/.venv/bin/python}
cd "$REPO"

lowest=$(sed -n 's/^requires_ansible: *">=\([0-9][0-9.]*\)".*/\1/p' meta/runtime.yml)
newest=$(sed -n 's/^ansible-core==//p' requirements.txt)
[ -n "$lowest" ] && [ -n "$newest" ] || { echo "versions: cannot read the versions" >&2; exit 1; }
echo "versions: lowest declared ansible-core $lowest (meta/runtime.yml), newest on Python 3.11 $newest (requirements.txt)"
if [ "$lowest" = "$newest" ]; then
  echo "versions: the lowest is the pinned core, which the rest of make test runs on"
  exit 0
fi

# The test runner and what the unit tests import beyond the runtime dependencies, at the development pins.
test_pins=$(grep -E '^(pytest|pytest-xdist|scapy|hypothesis|jsonschema|prometheus-client|kea-exporter|pykickstart)==' requirements.txt | sort | paste -sd' ' -)
key=$(printf '%s\n%s\n%s\n' "$lowest" "$test_pins" "$(python3 -VV)" | cat - meta/ee-requirements.txt | sha256sum | cut -c1-16)
venv=$STATE/versions/core$lowest-$key
mkdir -p "$STATE/versions"
exec 9>"$venv.lock"
flock 9
if [ ! -e "$venv/.ready" ]; then
  echo "versions: building $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$lowest" -r meta/ee-requirements.txt $test_pins
  touch "$venv/.ready"
fi
"$venv/bin/python" -c "import ansible.release as r; print(\"versions: venv has ansible-core\", r.__version__)"

# Tests that exercise ansible-core 2.19 internals (data tagging, in-process module runs through
# ansible.module_utils._internal) cannot run on an older core.
deselect=()
if [ "$(printf '%s\n' "$lowest" 2.19 | sort -V | head -1)" != 2.19 ]; then
  for test in tests/unit/bgp/test_anycast_drain_module.py tests/unit/hostsdb/test_kea_hosts_module.py \
              tests/unit/bringup/test_boot_events_module.py \
              tests/unit/kea/test_kea_config_module.py tests/unit/inventory/test_origin.py; do
    echo "versions: not run on $lowest: $test (needs ansible-core 2.19: ansible._internal / module_utils._internal)"
    deselect+=(--ignore "$test")
  done
fi

started=$SECONDS
echo "versions: sanity on $lowest"
root=$STATE/versions/sanity-$lowest/ansible_collections/netboot/fleet
rm -rf "$root" && mkdir -p "$root"
git ls-files -co --exclude-standard | grep -v '^collections/' | rsync -a --files-from=- ./ "$root/"
ln -sfn "$("$DEV_PYTHON" -c 'import ansible_collections.containers.podman as c; print(list(c.__path__)[0])')/.." \
  "$root/../../containers"
pip_version=$(grep -ho "pip='[0-9.]*'" "$venv"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py |
  head -1 | tr -dc '0-9.')
mkdir -p ~/.ansible/test/cache && cp scripts/get_pip_offline.py ~/.ansible/test/cache/get_pip_"${pip_version//./_}".py
(cd "$root" && PATH=$venv/bin:$PATH ansible-test sanity --python 3.11 --color no)
echo "versions: sanity on $lowest passed in $((SECONDS - started)) s"

started=$SECONDS
echo "versions: unit tests on $lowest"
"$venv/bin/python" -m pytest -q -n 2 -p no:cacheprovider "${deselect[@]}" tests/unit
echo "versions: unit on $lowest passed in $((SECONDS - started)) s"

started=$SECONDS
echo "versions: install test on $lowest"
NBF_INSTALL_CORE=$lowest NETBOOT_FLEET_STATE=$STATE "$DEV_PYTHON" -m pytest -q -p no:cacheprovider tests/install
echo "versions: install test on $lowest passed in $((SECONDS - started)) s"
