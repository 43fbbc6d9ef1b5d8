# -*- coding: utf-8 -*-
"""Group patterns: a template that uses machine names only as {{ name }} and in {% if %} tests is rendered by
Jinja once per group and shape, then per machine by filling in the pattern. Same bytes as Jinja per machine,
or Jinja."""

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.pxe import patterns
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe

# Text Jinja treats specially around substitutions, tests of machine names, and what must stay with Jinja.
TRICKY = {
    "braces": "a {x} b {{ name }} }} {{ '{' }}",
    "literal braces": "set {a} {{ name }} {b}\n",
    "comment": "{# about #}\n{{ name }}\n{#- trimmed -#}  x\n",
    "raw": "{% raw %}{{ name }}{% endraw %} {{ mac }}\n",
    "crlf": "one\r\n{{ name }}\r\ntwo",
    "trailing newline": "{{ name }}\n\n",
    "value types": "{{ ipv4 }} {{ rack }} {{ labels }} {{ dns_servers }} {{ ipv6_prefixlen }}",
    "whitespace control": "a  {{- name -}}  b",
    "tag": "{% if ipv4 %}{{ ipv4 }}{% endif %}",
    "falsy value in its branch": "{% if ipv6 %}v6 {{ ipv6 }}{% else %}none {{ ipv6 }}{% endif %} {{ ipv4 }}\n",
    "and, or, not, elif": "{% if ipv4 and ipv6 %}dual{% elif not ipv4 %}v6 only{% else %}v4 {{ ipv4 }}{% endif %}\n",
    "loop over a group list": "{% for package in packages %}{{ package }} on {{ name }}\n{% endfor %}",
    "filter on a group name": "{{ packages | join(',') }} {{ disk | replace('/dev/', '') }} {{ name }}",
    "special name": "{{ self }}",
    "undefined": "{{ no_such_name }}",
    # Jinja per machine:
    "filter": "{{ name | upper }}",
    "attribute": "{{ labels.items() | list }}",
    "expression": "{{ name ~ '.x' }}",
    "test with a filter": "{% if ipv4 | default('', true) | length > 7 %}long{% endif %}",
    "loop over a machine value": "{% for key in labels %}{{ key }}{% endfor %}",
    "assignment": "{% set x = name %}{{ x }}",
    "loop variable named like a machine name": "{% for name in packages %}{{ name }}{% endfor %}",
}
GROUP_RENDERED = ("braces", "literal braces", "comment", "raw", "crlf", "trailing newline", "value types",
                  "whitespace control", "tag", "falsy value in its branch", "and, or, not, elif",
                  "loop over a group list", "filter on a group name", "special name", "undefined")


def jinja_only(texts, profile_texts=None):
    """Templates that render every machine with Jinja: the reference."""
    templates = pxe.Templates(texts, profile_texts)
    templates.patterns.tests = {}
    return templates


def test_every_shipped_template_is_group_rendered(templates):
    assert set(pxe.TEMPLATE_NAMES) <= set(templates.patterns.tests)


def test_every_machine_renders_as_jinja_does(fleet, templates):
    fast = pxe.Renderer(fleet, templates)
    reference = pxe.Renderer(fleet, jinja_only(pxe.read_templates(), pxe.read_profile_templates(fleet)))
    for machine in fleet.machines:
        assert fast.machine_files(machine) == reference.machine_files(machine), machine.name


@pytest.mark.parametrize("label", sorted(TRICKY))
def test_tricky_templates_render_as_jinja_does(fleet, label):
    texts = dict(pxe.read_templates(), **{"machine.ipxe": TRICKY[label]})
    templates = pxe.Templates(texts)
    assert ("machine.ipxe" in templates.patterns.tests) == (label in GROUP_RENDERED)
    fast, reference = pxe.Renderer(fleet, templates), pxe.Renderer(fleet, jinja_only(texts))
    for machine in fleet.machines:  # IPv4-only, IPv6-only and dual-stack machines: every shape
        if label == "undefined":
            with pytest.raises(pxe.PxeError, match="no_such_name"):
                fast.machine_files(machine)
            continue
        assert fast.machine_files(machine) == reference.machine_files(machine), machine.name


def test_other_templates_pulled_in_stay_with_jinja(templates):
    for text in ("{% include 'x' %}", "{% extends 'x' %}", "{% import 'x' as x %}", "{% from 'x' import y %}"):
        assert patterns.machine_tests(templates.env.parse(text)) is None


def test_a_group_value_holding_the_sentinel_mark_renders_with_jinja(fleet, templates):
    context = pxe.Renderer(fleet, templates).context(fleet.machines[0])
    context["profile"] = "a\x001\x00b"  # looks like the sentinel of machine name 1 inside a group value
    expected = jinja_only(pxe.read_templates()).render("machine.ipxe", context)
    assert templates.render("machine.ipxe", context, group="a group of its own") == expected
    assert b"a\x001\x00b" in expected


@pytest.mark.parametrize("label", GROUP_RENDERED[:-1])  # "undefined" raises for every machine
def test_machines_of_one_group_with_other_truths_get_their_own_pattern(fleet, label):
    texts = dict(pxe.read_templates(), **{"machine.ipxe": TRICKY[label]})
    templates, reference = pxe.Templates(texts), jinja_only(texts)
    dual = next(machine for machine in fleet.machines if machine.ipv4 and machine.ipv6)
    context = pxe.Renderer(fleet, templates).context(dual)
    # The same group (same profile, network and service URL), one address family missing in turn.
    for variant in (context, dict(context, ipv6=None), dict(context, ipv4=None), dict(context, ipv6="")):
        assert templates.render("machine.ipxe", variant, "one group") == reference.render("machine.ipxe", variant)
