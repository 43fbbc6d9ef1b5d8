# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every problem at once: the error base of the SoT loader and the renderers.

A check collects every Problem it finds and raises one ProblemsError with all of them, so that an operator
fixes a whole file in one pass instead of one error per run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem: where (file or source, record, field) and what."""
    source: str
    record: str
    field: str
    message: str

    def __str__(self) -> str:
        where = self.record + ("." + self.field if self.field else "")
        return "%s: %s: %s" % (self.source, where, self.message)


class ProblemsError(Exception):
    """.problems lists every problem found (Problem objects or texts); the message shows the first SHOWN."""

    # A generated SoT with one systematic mistake can have 100,000 problems: nobody reads past these.
    SHOWN = 100
    HEADER = "%d problem(s):"  # with the number of problems

    def __init__(self, problems):
        self.problems = list(problems)
        lines = [self.HEADER % len(self.problems)]
        lines.extend("  - %s" % problem for problem in self.problems[:self.SHOWN])
        if len(self.problems) > self.SHOWN:
            lines.append("  ... and %d more" % (len(self.problems) - self.SHOWN))
        super().__init__("\n".join(lines))
