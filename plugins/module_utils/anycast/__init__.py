# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The anycast DHCP node: BIRD2 configuration, the relayed DHCP probe and health loop, drain state."""
