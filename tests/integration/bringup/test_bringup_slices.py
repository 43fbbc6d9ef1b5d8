# -*- coding: utf-8 -*-
"""playbooks/bringup.yml as AWX job slicing runs it - K slices in parallel, each with its share of the
inventory's hosts (maybe no DHCP node) - through ansible-runner, against the bring-up lab; the slices'
reports merged (playbooks/bringup_merge.yml) equal the report of the run as one playbook."""

import os

import pytest

import bringup_lab
import bringup_slices

# Six machines that boot and one whose BMC does not answer (failed at the power stage in every run).
MACHINES = bringup_lab.booting_machines(6) + (
    ("m-deadbmc", "52:54:00:bb:00:fe", "198.51.100.49", "t2", "bios", 0, "its BMC does not answer"),)
# Ports of this test's BMCs (another lab may run the default ones at the same time; NBF_SLICES_BMC_PORT
# and NBF_SLICES_PREFIX move them and the namespace).
BMC_PORT = int(os.environ.get("NBF_SLICES_BMC_PORT", "32261"))


@pytest.fixture(name="lab", scope="module")
def lab_fixture():
    reason = bringup_lab.missing()
    if reason:
        pytest.skip(reason)
    busy = [port for port in range(BMC_PORT, BMC_PORT + len(MACHINES)) if not bringup_lab.free(port)]
    if busy:
        pytest.fail("BMC ports %s are taken: another slicing lab is running?" % busy)
    built = bringup_lab.Lab(machines=MACHINES, prefix=os.environ.get("NBF_SLICES_PREFIX", "k20"), bmc_port=BMC_PORT)
    try:
        yield built.start()
    finally:
        built.stop()


def test_slices_in_parallel_merge_into_the_single_runs_report(lab):
    listing = bringup_slices.inventory_listing(lab)
    # AWX gives the only DHCP node to one slice: the other one must observe it all the same.
    inventories = [bringup_slices.awx_slice(listing, number, 2)[1] for number in (1, 2)]
    assert "dhcp-t1" in inventories[0] and "dhcp-t1" not in inventories[1]

    single, single_report, single_rc = bringup_slices.run_sliced(lab, listing, 1, "one")
    assert single_rc == 2, single.outcomes()             # m-deadbmc failed: the merge fails the run too
    assert single.outcomes()[0][2] == 2, single.outcomes()
    assert single_report["summary"]["counts"]["booted"] == 6, bringup_slices.states(single_report)

    sliced, merged, merged_rc = bringup_slices.run_sliced(lab, listing, 2, "two")
    outcomes = sliced.outcomes()
    # The slice holding m-deadbmc fails (rc 2), the other succeeds; both ran to their report.
    assert sorted(rc for _number, _status, rc, _tail in outcomes) == [0, 2], outcomes
    assert merged_rc == 2
    assert bringup_slices.states(merged) == bringup_slices.states(single_report)
    assert merged["summary"]["counts"] == single_report["summary"]["counts"]
    assert merged["summary"]["machines"] == len(MACHINES)
    assert merged["run"]["stages"] == single_report["run"]["stages"] == ["validate", "boot_device", "power", "wait"]
    # Each slice's report holds its own machines only; every slice saw the node.
    for number, hosts, _thread, _runner in sliced.slices:
        part = lab.report("bringup-two-%d.json" % number)
        assert sorted(row["name"] for row in part["machines"]) == [host for host in hosts if host.startswith("m-")]
        assert [node["name"] for node in part["nodes"]] == ["dhcp-t1"] and part["nodes"][0]["events"] > 0
    # The merged report is the run's latest; the slices' reports did not touch latest.* nor the metrics.
    assert os.readlink(lab.path("reports", "latest.json")) == "bringup-two.json"
    assert os.path.exists(lab.path("reports", "netboot_bringup.prom"))
