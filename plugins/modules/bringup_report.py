#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/bringup_report.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: bringup_report
short_description: Write the bring-up report (per-machine timeline) as JSON and a self-contained HTML page
version_added: 0.1.0
description:
  - Correlates, for every machine in scope, the power command the bring-up sent with the boot events the
    DHCP nodes observed with M(netboot.fleet.boot_events), that is the DHCP lease, the boot loader fetch, the
    fetch of its own iPXE script and the installer answer file fetch. Events of all nodes are merged, since any anycast node may
    have served any step.
  - A machine is V(ok) only when a node served its own script C(ipxe/<mac>.ipxe). A machine that failed a
    stage is V(failed) with the stage and the reason; for the wait stage the reason is the last thing it was
    seen doing. Failed machines are listed first.
  - Writes C(<dest>/bringup-<start time>.json) and C(.html) (no external assets) and points C(latest.json)
    and C(latest.html) at them; in check mode the files end in C(-check) and C(latest) is left alone.
  - Writes the run's events beside them as JSON lines, C(bringup-<start time>.events.jsonl) (one object per machine
    step, in time order, C(time), C(machine), C(node), C(step), C(detail); a failed machine adds a C(failed) step with its
    C(stage)), and points C(latest.events.jsonl) at it.
  - Writes the run's metrics in the node_exporter textfile-collector format to C(netboot_bringup.prom) in O(metrics_dir)
    (replaced by each run, never in check mode nor with O(latest=false)) - machines per status, the funnel (machines that reached each step),
    failures by stage, machines stalled half-way, histograms of the seconds from the power command to each step.
  - Returns a compact summary for the terminal.
  - Runs on the controller; the rendering lives in C(plugins/module_utils/bringup/report.py).
options:
  machines:
    description: Names of the machines in scope.
    type: list
    elements: str
    required: true
  run:
    description:
      - Facts of the run, C(started) and C(finished) (epoch seconds), C(check_mode), C(sot), C(limit), and
        C(stages), the stages that ran (validate, deploy, apply, boot_device, power, wait).
    type: dict
    required: true
  power:
    description:
      - Per machine name, the outcome of the boot device and power stages, C(ok), C(stage) (boot_device or
        power) and C(msg) when it failed, C(sent) (epoch seconds the power command was sent), C(action) and
        C(previous_state) (from M(netboot.fleet.ipmi_power)).
    type: dict
    default: {}
  observations:
    description: One entry per DHCP node, C(node) (its name) plus the result of M(netboot.fleet.boot_events) (C(events), C(sources)) or C(error).
    type: list
    elements: dict
    default: []
  nodes:
    description: Per DHCP node name, the outcome of the deploy and apply stages, C(ok), C(stage), C(msg).
    type: dict
    default: {}
  wait:
    description: The wait stage, C(ran), C(timeout) (seconds), C(started), C(finished) (epoch seconds).
    type: dict
    default: {}
  lifecycle:
    description:
      - The machines' provisioning states of this run - C(run) (the run's identity, its start time),
        C(left_alone) (installed machines the run did not power) and C(forged) (callbacks with a wrong token,
        from M(netboot.fleet.bringup_progress)). The states are read from the controller's store.
      - With it, each machine's row shows every state it reached (kernel, installing, installed, booted from
        disk), its attempts and its final state; the summary says how many machines are installed.
    type: dict
    default: {}
  dest:
    description: Directory of the reports on the controller (created if missing).
    type: path
    default: /var/tmp/netboot-fleet/reports
  name:
    description:
      - File name stem of the report. Default C(bringup-<start time>), C(bringup-<start time>-check) in check mode.
      - A slice of a run (AWX job slicing) names its report apart from the other slices' (they may start in the same
        second), for example C(bringup-<workflow job id>-<job id>), and sets O(latest=false); M(netboot.fleet.bringup_report_merge)
        merges them into the run's report.
    type: str
  latest:
    description:
      - Point C(latest.json), C(latest.html) and C(latest.events.jsonl) in O(dest) at this report (never in check mode), and write
        the metrics file. A slice's report leaves both to the merged report.
    type: bool
    default: true
  consoles:
    description:
      - Per machine name, the path of its recorded serial console (M(netboot.fleet.bmc_console) RV(netboot.fleet.bmc_console#module:path)).
      - The page shows each recorded console's last lines, every line behind a click, failed machines first; the JSON
        report holds the lines.
    type: dict
    default: {}
  metrics_dir:
    description:
      - Directory of C(netboot_bringup.prom), for example the C(--collector.textfile.directory) of the controller's
        node_exporter. Defaults to O(dest). Written with O(latest) only.
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
  - netboot.fleet.state_dir
  - netboot.fleet.sot
  - netboot.fleet.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
    - The report is a record of the run, not managed state. It is written in check mode too, with a C(-check) name, when
      the task runs with C(check_mode=false) and O(run) says C(check_mode=true).
notes:
  - Runs on the controller (delegate it to localhost in plays on other hosts).
author:
  - netboot.fleet developers (@netboot-fleet)
seealso:
  - module: netboot.fleet.boot_events
"""

EXAMPLES = r"""
- name: Write the report of a bring-up
  netboot.fleet.bringup_report:
    sot: "{{ netboot_sot_source }}"
    machines: "{{ groups['rack12'] }}"
    run: {started: "{{ bringup_started }}", finished: "{{ now().timestamp() }}", check_mode: "{{ ansible_check_mode }}"}
    power: "{{ bringup_power_outcomes }}"
    observations: "{{ bringup_observations }}"
    wait: {ran: true, timeout: 600, started: "{{ bringup_wait_started }}", finished: "{{ now().timestamp() }}"}
  check_mode: false
  register: report

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ report.lines }}"
"""

RETURN = r"""
json:
  description: Path of the JSON report (schema C(netboot.fleet/bringup-report/1)).
  returned: success
  type: str
  sample: /var/tmp/netboot-fleet/reports/bringup-20261126T150000Z.json
html:
  description: Path of the HTML report.
  returned: success
  type: str
  sample: /var/tmp/netboot-fleet/reports/bringup-20261126T150000Z.html
events:
  description: Path of the events, one JSON object per line.
  returned: success
  type: str
  sample: /var/tmp/netboot-fleet/reports/bringup-20261126T150000Z.events.jsonl
metrics:
  description: Path of the textfile metrics; null in check mode or with O(latest=false).
  returned: success
  type: str
  sample: /var/tmp/netboot-fleet/reports/netboot_bringup.prom
summary:
  description: Machine count, count per status (ok, failed, unobserved, planned, not_started), power-to-script seconds.
  returned: success
  type: dict
  sample: {machines: 4, counts: {ok: 3, failed: 1, unobserved: 0, planned: 0, not_started: 0},
           seconds_to_script: {median: 4.2, max: 14.8}}
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
