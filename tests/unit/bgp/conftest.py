"""The anycast renderer, probe loop and drain flow: no network, no daemons."""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "anycast"))  # write_sot(): the dual-stack fabric SoT
