"""A role's template rendered for the tests' own servers as Ansible renders it: the role's defaults under the
given variables, and the collection's netboot.fleet.boot_layout lookup."""

import json
import os

import jinja2
import yaml

from ansible_collections.netboot.fleet.plugins.lookup import boot_layout

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def render(role, name, **variables):
    role_dir = os.path.join(REPO, "roles", role)
    with open(os.path.join(role_dir, "defaults", "main.yml"), encoding="utf-8") as handle:
        context = yaml.safe_load(handle)
    context.update(variables)
    context.setdefault("ansible_managed", "managed by the test")
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True)
    environment.globals["lookup"] = _lookup
    # The Ansible filters the roles' templates use.
    environment.filters.update(to_nice_json=lambda value, indent=4: json.dumps(value, indent=indent, sort_keys=True),
                               dirname=os.path.dirname, basename=os.path.basename)
    with open(os.path.join(role_dir, "templates", name), encoding="utf-8") as handle:
        return environment.from_string(handle.read()).render(context)


def _lookup(plugin, term):
    assert plugin == "netboot.fleet.boot_layout", plugin
    return boot_layout.VALUES[term]
