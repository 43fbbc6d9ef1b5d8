"""The benchmark's floor plugin is a fair floor: the same hosts and the same per-host dict as the plugin sets."""

import os
import subprocess
import sys

from conftest import BENCHMARKS, REPO, inventory_list


def test_floor_sets_the_plugins_record_for_every_machine(generated, plugin_list):
    floor = inventory_list(generated[0] / "fleet.floor.yml")
    floor_vars, plugin_vars = floor["_meta"]["hostvars"], plugin_list["_meta"]["hostvars"]
    machines = [machine.name for machine in generated[1].machines]
    assert sorted(floor_vars) == sorted(machines)
    for name in machines:
        # Only the variable the floor sets: Ansible's own inventory_file/inventory_dir are not in --list.
        assert floor_vars[name] == {"netboot": plugin_vars[name]["netboot"]}, name


def test_scale_benchmark_prints_both_ratios(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(BENCHMARKS, "inventory_scale.py"), "--machines", "120",
                             "--static-timeout", "60", "--workdir", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    for mode in ("--graph", "--list"):
        assert "ratio plugin/floor %s" % mode in result.stdout
        for name in ("floor", "plugin", "static"):
            line = next(line for line in result.stdout.splitlines() if line.strip().startswith("%s %s " % (name, mode)))
            assert " s " in line and "MB" in line and "exit" not in line, line
