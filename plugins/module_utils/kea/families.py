# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kea's two daemons as the collection names them, and the top-level key of each one's configuration."""

from __future__ import annotations

FAMILY_KEYS = {"dhcp4": "Dhcp4", "dhcp6": "Dhcp6"}
FAMILIES = tuple(FAMILY_KEYS)
