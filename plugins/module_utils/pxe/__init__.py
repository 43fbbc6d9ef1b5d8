# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PXE/iPXE assets: the boot layout, the renderer, the SoT archive pxe_assets ships, the atomic asset sync."""
