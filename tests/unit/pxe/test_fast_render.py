# -*- coding: utf-8 -*-
"""Templates made only of text and {{ name }} render with str.format: the same bytes as Jinja, or Jinja."""

import jinja2
import pytest

from ansible_collections.netboot.fleet.plugins.module_utils import pxe

# The per-machine templates that are hot at 100,000 machines: these must keep the fast path.
SIMPLE_SHIPPED = ("machine.ipxe", "grub.cfg", "pxelinux.cfg", "autoinstall-meta-data")

# Text Jinja treats specially around substitutions: braces, comments, raw blocks, trimmed newlines, CRLF.
TRICKY = {
    "braces": "a {x} b {{ name }} }} {{ '{' }}",
    "literal braces": "set {a} {{ name }} {b}\n",
    "comment": "{# about #}\n{{ name }}\n{#- trimmed -#}  x\n",
    "raw": "{% raw %}{{ name }}{% endraw %} {{ mac }}\n",
    "crlf": "one\r\n{{ name }}\r\ntwo",
    "trailing newline": "{{ name }}\n\n",
    "value types": "{{ ipv4 }} {{ rack }} {{ labels }} {{ dns_servers }} {{ ipv6_prefixlen }}",
    "whitespace control": "a  {{- name -}}  b",
    "filter": "{{ name | upper }}",
    "attribute": "{{ labels.role }}",
    "expression": "{{ name ~ '.x' }}",
    "tag": "{% if ipv4 %}{{ ipv4 }}{% endif %}",
    "special name": "{{ self }}",
    "undefined": "{{ no_such_name }}",
}
FAST = ("literal braces", "comment", "raw", "crlf", "trailing newline", "value types", "whitespace control", "undefined")


def jinja_render(templates, text, context):
    return templates.env.from_string(text).render(context).encode("utf-8")


@pytest.fixture(scope="module")
def renderer(fleet, templates):
    return pxe.Renderer(fleet, templates)


def test_shipped_per_machine_templates_use_the_fast_path(templates):
    assert set(SIMPLE_SHIPPED) <= set(templates.formats)
    assert "preseed.cfg" not in templates.formats  # tags and filters: Jinja


@pytest.mark.parametrize("name", pxe.TEMPLATE_NAMES[1:])
def test_every_machine_renders_as_jinja_does(fleet, templates, renderer, name):
    for machine in fleet.machines:
        context = renderer.context(machine)
        assert templates.render(name, context) == jinja_render(templates, pxe.read_templates()[name], context)


@pytest.mark.parametrize("label", sorted(TRICKY))
def test_tricky_templates_render_as_jinja_does(fleet, renderer, label):
    texts = dict(pxe.read_templates(), **{"machine.ipxe": TRICKY[label]})
    templates = pxe.Templates(texts)
    assert ("machine.ipxe" in templates.formats) == (label in FAST)
    context = renderer.context(fleet.machines[0])
    try:
        expected = jinja_render(templates, TRICKY[label], context)
    except jinja2.UndefinedError:
        with pytest.raises(pxe.PxeError, match="no_such_name"):
            templates.render("machine.ipxe", context)
        return
    assert templates.render("machine.ipxe", context) == expected
