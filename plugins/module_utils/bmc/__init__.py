# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Out-of-band power: the BMC client (IPMI and Redfish through pyghmi) and what each BMC action does."""
