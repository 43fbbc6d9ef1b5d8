"""Running-vs-rendered comparison and the human summary. `running-*.json` are real Kea 2.2
config-get answers for the embedded SoT (host paths reset to the defaults)."""

from __future__ import annotations

import copy
import json
import os

import pytest

from kea_unit_helpers import GOLDEN
from ansible_collections.netboot.fleet.plugins.module_utils.kea import diff as kea_diff


def _load(name):
    with open(os.path.join(GOLDEN, name)) as handle:
        return json.load(handle)


@pytest.fixture(params=["dhcp4", "dhcp6"])
def pair(request):
    return _load("running-%s.json" % request.param), _load("%s.json" % request.param)


def _body(config):
    return next(iter(config.values()))


def _subnets(config):
    body = _body(config)
    return body.get("subnet4", body.get("subnet6"))


def test_keas_own_rendering_of_the_same_config_is_the_same(pair):
    running, desired = pair
    assert kea_diff.same(running, desired)
    assert not kea_diff.changed(kea_diff.summarize(running, desired))


def test_order_and_spelling_that_kea_normalises_do_not_count(pair):
    running, desired = pair
    for subnet in _subnets(running):
        subnet["reservations"].reverse()
        for option in subnet["option-data"]:
            option["data"] = option["data"].replace(", ", ",").upper()
    _subnets(running).reverse()
    assert kea_diff.same(running, desired)


def test_pool_written_as_prefix_equals_the_range():
    assert kea_diff.same({"pool": "2001:db8:13::1000/116"}, {"pool": "2001:db8:13::1000-2001:db8:13::1fff"},
                         "pools")
    assert not kea_diff.same([{"pool": "2001:db8:13::1000/117"}], [{"pool": "2001:db8:13::1000-2001:db8:13::1fff"}],
                             "pools")


CASES = {
    "reservation removed": (lambda r: _subnets(r)[0]["reservations"].append(
        dict(_subnets(r)[0]["reservations"][0], **{"hw-address": "52:54:00:99:99:99", "hostname": "gone"})),
        ("reservations", "removed", 1)),
    "reservation changed": (lambda r: _subnets(r)[0]["reservations"][0].update(hostname="renamed"),
                            ("reservations", "changed", 1)),
    "reservation added": (lambda r: _subnets(r)[0]["reservations"].pop(0), ("reservations", "added", 1)),
    "subnet option changed": (lambda r: _subnets(r)[0]["option-data"].pop(), ("subnets", "changed", 1)),
    "subnet added": (lambda r: _subnets(r).pop(0), ("subnets", "added", 1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_differences_are_seen_and_counted(pair, case):
    mutate, (kind, change, count) = CASES[case]
    running, desired = pair
    running = copy.deepcopy(running)
    mutate(running)
    assert not kea_diff.same(running, desired)
    summary = kea_diff.summarize(running, desired)
    assert kea_diff.changed(summary)
    assert summary[kind][change]["count"] == count
    others = [(k, c) for k in ("subnets", "reservations") for c in ("added", "removed", "changed")
              if summary[k][c]["count"] and (k, c) != (kind, change)]
    # Adding a subnet also adds its reservations; nothing else moves.
    assert all(k == "reservations" and c == "added" for k, c in others) if case == "subnet added" else not others


def test_client_class_order_and_settings(pair):
    running, desired = pair
    running = copy.deepcopy(running)
    _body(running)["client-classes"].reverse()
    _body(running)["valid-lifetime"] = 7200
    summary = kea_diff.summarize(running, desired)
    assert not kea_diff.same(running, desired)
    assert summary["client_classes"]["changed"] == ["(evaluation order)"]
    assert summary["settings_changed"] == ["valid-lifetime"]


def test_summary_text_is_bounded_at_scale():
    subnet = {"id": 7, "subnet": "2001:db8:7::/64", "user-context": {"network": "r7"}}
    want = {"Dhcp6": {"subnet6": [dict(subnet, reservations=[
        {"hw-address": "52:54:00:00:%02x:%02x" % divmod(i, 256), "ip-addresses": ["2001:db8:7::%x" % (i + 16)],
         "hostname": "m%05d" % i} for i in range(5000)])]}}
    have = {"Dhcp6": {"subnet6": [dict(subnet, reservations=[])]}}
    summary = kea_diff.summarize(have, want)
    assert summary["reservations"]["added"]["count"] == 5000
    text = kea_diff.render_text(summary)
    assert text.splitlines()[0] == ("Dhcp6: subnets +0 -0 ~0, reservations +5000 -0 ~0, client classes +0 -0 ~0, "
                                    "settings changed: none")
    assert "  + reservation m00000 (52:54:00:00:00:00) 2001:db8:7::10 in 2001:db8:7::/64" in text
    assert "... and 4980 more reservation(s) added" in text
    assert len(text.splitlines()) == 1 + kea_diff.SAMPLE + 1


def test_nothing_running_counts_everything_as_added(pair):
    _running, desired = pair
    summary = kea_diff.summarize(None, desired)
    assert summary["subnets"]["added"]["count"] == len(_subnets(desired))
    assert kea_diff.counts(desired)["subnets"] == len(_subnets(desired))


def test_classes_left_out_of_the_render_still_count_as_removed(pair):
    running, desired = pair
    desired = copy.deepcopy(desired)
    del _body(desired)["client-classes"]
    assert not kea_diff.same(running, desired)
    assert kea_diff.summarize(running, desired)["client_classes"]["removed"]
