#!/usr/bin/env bash
# The one command for the collection's Molecule scenarios (molecule/<scenario>/, see
# molecule/README.md). Builds/imports the base image when missing, points podman at the
# project's config and storage, then runs Molecule from the repo root:
#   scripts/molecule.sh                          # molecule test --all
#   scripts/molecule.sh test -s kea_dhcp         # any molecule subcommand and options
#   scripts/molecule.sh converge -s kea_dhcp     # keep the instance for `login`/debugging
# Needs root and the project's Python venv (molecule, molecule-plugins[podman]) on PATH.
set -euo pipefail
# shellcheck source=tests/images/podman-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/images/podman-env.sh"

if ! command -v molecule >/dev/null; then
  echo "molecule is not on PATH: activate the project's venv first" >&2
  exit 4
fi
bash "$NBF_REPO/tests/images/build.sh"
bash "$NBF_REPO/tests/images/build.sh" db # the kea_db_replication scenario's PostgreSQL hosts

cd "$NBF_REPO"
# Scenarios live at molecule/<name>/ (not extensions/molecule/, which Molecule 26 prefers for a
# collection); an explicit glob selects them without the migration warning. molecule/_shared
# holds no molecule.yml, so it is not a scenario.
export MOLECULE_GLOB='molecule/*/molecule.yml'
if ! compgen -G "$MOLECULE_GLOB" >/dev/null; then
  echo "no Molecule scenario under molecule/: nothing to run"
  exit 0
fi
if [ $# -eq 0 ]; then
  set -- test --all
fi
start=$SECONDS
status=0
molecule "$@" || status=$?
echo "molecule $*: exit $status after $((SECONDS - start)) s"
exit "$status"
