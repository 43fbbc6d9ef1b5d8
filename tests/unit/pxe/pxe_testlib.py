# -*- coding: utf-8 -*-
"""Paths and helpers of the PXE renderer and asset sync unit tests (a uniquely named module:
`from conftest import` breaks when several test folders run in one pytest session)."""

import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir))
if os.path.join(REPO, "collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe  # noqa: E402

# Every firmware and installer kind (the embedded SoT's machines all use the minimal installer).
ALL_KINDS_SOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "all-kinds-sot")
GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "golden")
DATA_DIR = os.path.join(os.path.dirname(__file__), "data")


def render_tree(source, **options):
    fleet = sot.load(str(source))
    templates = pxe.Templates(pxe.read_templates(options.pop("template_dir", None)),
                              pxe.read_profile_templates(fleet))
    return pxe.Renderer(fleet, templates, **options)
