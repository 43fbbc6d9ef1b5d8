"""playbooks/bringup.yml runs no task once per machine unless it has work for that machine: in the plays on
"all" or "machines" (and the wait stage's rounds) every task runs once, on the controller. A task there
without run_once costs a worker process per host even when its condition skips it."""

import os

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PLAYBOOKS = os.path.join(REPO, "playbooks")


def _load(name):
    with open(os.path.join(PLAYBOOKS, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _per_host(tasks, where):
    """Names of the tasks (blocks included) that would run once per host of their play."""
    found = []
    for task in tasks or []:
        if "block" in task:
            found += _per_host(task["block"] + task.get("rescue", []) + task.get("always", []), where)
        elif not task.get("run_once") and "ansible.builtin.meta" not in task:
            found.append("%s: %s" % (where, task.get("name")))
    return found


def test_controller_plays_run_each_task_once():
    plays = [play for play in _load("bringup.yml") if play["hosts"] in ("all", "machines")]
    assert len(plays) >= 5, [play["name"] for play in plays]
    per_host = [name for play in plays for name in _per_host(play["tasks"], play["name"])]
    per_host += _per_host(_load(os.path.join("tasks", "bringup_observe.yml")), "tasks/bringup_observe.yml")
    assert per_host == []


def test_per_machine_plays_are_only_the_recorded_consoles():
    """The plays with a task per machine run on the machines whose consoles are recorded, none when they are off."""
    per_machine = [play for play in _load("bringup.yml")
                   if play["hosts"] not in ("all", "machines", "dhcp_nodes") and "kea_db" not in play["hosts"]
                   and "bringup_wait_play_host" not in play["hosts"]]
    assert [(play["name"], play["hosts"]) for play in per_machine] == [
        (name, "{{ hostvars['localhost'].bringup_console_machines | default([]) }}")
        for name in ("Record the serial consoles through the BMCs (bringup_consoles)", "Stop recording the consoles")]
