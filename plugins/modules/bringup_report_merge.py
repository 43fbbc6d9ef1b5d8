#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/bringup_report_merge.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: bringup_report_merge
short_description: Merge the bring-up reports of a run's slices into the run's one report
version_added: 0.1.0
description:
  - A bring-up run as K slices (AWX job slicing, or K C(ansible-playbook) or ansible-runner runs of C(playbooks/bringup.yml),
    each with a subset of the machines) writes one report per slice. This merges them into the report the run would have
    written as one playbook - the same machines with the same statuses, stages, reasons and timelines, ordered and
    counted as one report (failed first).
  - The run spans from the first slice's start to the last one's end; its stages are those any slice ran; a DHCP node
    that failed in any slice failed (with that slice's stage and reason), and its event count is the most any slice read;
    a forged callback seen by several slices is listed once.
  - Refuses, naming the file and the field, slices that are not reports of one run (another source of truth, a check run
    with a real one) and a machine found in two slices.
  - Writes C(<dest>/<name>.json), C(.html), C(.events.jsonl) and the metrics, and points C(latest.*) at them, as
    M(netboot.fleet.bringup_report) does for one run.
  - Runs on the controller; the merge lives in C(plugins/module_utils/bringup/slices.py).
options:
  reports:
    description: The slices' JSON reports (M(netboot.fleet.bringup_report) RV(netboot.fleet.bringup_report#module:json)), one per slice.
    type: list
    elements: path
    required: true
  dest:
    description: Directory of the merged report on the controller (created if missing).
    type: path
    default: /var/tmp/netboot-fleet/reports
  name:
    description:
      - File name stem of the merged report. Default C(bringup-<start time of the first slice>), the name a single run
        would have had (C(-check) added for a check run). A merged report never replaces one of its slices.
    type: str
  latest:
    description: Point C(latest.json), C(latest.html) and C(latest.events.jsonl) in O(dest) at the merged report (never for a check run).
    type: bool
    default: true
  metrics_dir:
    description:
      - Directory of C(netboot_bringup.prom) (the run's metrics in the node_exporter textfile format), written with
        O(latest) for a real run. Defaults to O(dest).
    type: path
  summary_limit:
    description: At most this many machines in the terminal summary (failed ones first).
    type: int
    default: 40
  html_limit:
    description: At most this many machine rows in the HTML page (failed ones first); the JSON holds every machine.
    type: int
    default: 2000
extends_documentation_fragment:
  - netboot.fleet.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
    - In check mode the slices are read and merged (errors included) and nothing is written.
notes:
  - Runs on the controller (delegate it to localhost in plays on other hosts).
  - C(playbooks/bringup_merge.yml) runs it over the slices' reports; C(docs/awx.md) sets a bring-up up as an AWX job
    template with job slicing.
author:
  - netboot.fleet developers (@netboot-fleet)
seealso:
  - module: netboot.fleet.bringup_report
"""

EXAMPLES = r"""
- name: Merge the slices of workflow job 412
  netboot.fleet.bringup_report_merge:
    reports: "{{ query('ansible.builtin.fileglob', '/srv/bringup/reports/bringup-412-*.json') }}"
    dest: /srv/bringup/reports
  register: merged

- name: Show the run's summary
  ansible.builtin.debug:
    msg: "{{ merged.lines }}"
"""

RETURN = r"""
json:
  description: Path of the merged JSON report (schema C(netboot.fleet/bringup-report/1)).
  returned: success
  type: str
  sample: /var/tmp/netboot-fleet/reports/bringup-20261126T150000Z.json
html:
  description: Path of the merged HTML report.
  returned: success
  type: str
  sample: /var/tmp/netboot-fleet/reports/bringup-20261126T150000Z.html
events:
  description: Path of the merged events, one JSON object per line.
  returned: success
  type: str
  sample: /var/tmp/netboot-fleet/reports/bringup-20261126T150000Z.events.jsonl
metrics:
  description: Path of the textfile metrics; null for a check run or with O(latest=false).
  returned: success
  type: str
  sample: /var/tmp/netboot-fleet/reports/netboot_bringup.prom
slices:
  description: How many slice reports were merged.
  returned: success
  type: int
  sample: 4
summary:
  description: Machine count, count per status, power-to-script and power-to-booted seconds, of the whole run.
  returned: success
  type: dict
  sample: {machines: 1000, counts: {booted: 998, failed: 2}, seconds_to_script: {median: 4.2, max: 14.8}}
failed_machines:
  description: Names of the machines that failed a stage.
  returned: success
  type: list
  elements: str
installed_machines:
  description: Names of the machines installed, booted from their disks in this run or left alone as installed.
  returned: success
  type: list
  elements: str
lines:
  description: The terminal summary, one line each.
  returned: success
  type: list
  elements: str
"""
