# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Renderer settings: a frozen dataclass whose fields are, at the same time, the argument spec Ansible checks.

Each field's type follows its default (bool, int, float, str, a tuple of strings -> a list); a field's metadata
adds to its spec (choices, no_log). from_options() has Ansible's own validator check and convert the options,
then the class's problems() checks what a spec cannot say (ranges, relations between settings).
"""

from __future__ import annotations

from dataclasses import fields

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

_TYPES = {bool: "bool", int: "int", float: "float", str: "str", type(None): "str"}


def argument_spec(settings_class) -> dict:
    """The Ansible argument spec of a settings dataclass."""
    spec = {}
    for item in fields(settings_class):
        default = item.default
        if isinstance(default, tuple):
            option = {"type": "list", "elements": "str", "default": list(default)}
        else:
            option = {"type": _TYPES[type(default)], "default": default}
        option.update(item.metadata)
        spec[item.name] = option
    return spec


def from_options(settings_class, options, error_class):
    """settings_class(**options), checked and converted as Ansible checks module options; error_class (a
    ProblemsError) lists every problem, each naming settings.<option>."""
    spec = argument_spec(settings_class)
    given = {key: value for key, value in (options or {}).items() if value is not None}
    result = ArgumentSpecValidator(spec).validate(given)
    problems = ["settings.%s: unknown setting (allowed: %s)" % (key, ", ".join(sorted(spec)))
                for key in sorted(result.unsupported_parameters)]
    problems.extend("settings: %s" % error for error in result.errors if not isinstance(error, UnsupportedError))
    if problems:
        raise error_class(problems)
    values = {key: tuple(value) if isinstance(value, list) else value
              for key, value in result.validated_parameters.items()}
    settings = settings_class(**values)
    problems = settings.problems()
    if problems:
        raise error_class(problems)
    return settings


def negative_integers(settings) -> list:
    """The usual range check: no integer setting is negative."""
    return ["settings.%s: must not be negative, got %d" % (item.name, getattr(settings, item.name))
            for item in fields(settings) if _is_integer(getattr(settings, item.name)) and getattr(settings, item.name) < 0]


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)
