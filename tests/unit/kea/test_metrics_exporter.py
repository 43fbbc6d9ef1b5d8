# -*- coding: utf-8 -*-
"""kea-exporter's subnet map from Kea's configuration file (no config-get), re-read only when the file changes."""

import json
import os

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.kea import metrics_exporter

DHCP4 = {"Dhcp4": {"subnet4": [{"id": 1, "subnet": "198.51.100.0/26"}],
                   "shared-networks": [{"name": "s", "subnet4": [{"id": 7, "subnet": "203.0.113.0/28"}]}]}}


def test_subnets_of_both_families_and_shared_networks():
    assert metrics_exporter.subnets_of(DHCP4) == ("Dhcp4", {1: DHCP4["Dhcp4"]["subnet4"][0],
                                                            7: DHCP4["Dhcp4"]["shared-networks"][0]["subnet4"][0]})
    assert metrics_exporter.subnets_of({"Dhcp6": {"subnet6": []}}) == ("Dhcp6", {})
    with pytest.raises(ValueError):
        metrics_exporter.subnets_of({"Control-agent": {}})


def test_the_file_is_read_again_only_when_it_changes(tmp_path):
    socket_path, config = tmp_path / "kea4.sock", tmp_path / "kea-dhcp4.conf"
    socket_path.write_text("")
    config.write_text(json.dumps(DHCP4))
    client = metrics_exporter.ConfigFileClient(str(socket_path), str(config))
    client.reload()
    assert sorted(client.subnets) == [1, 7] and client.dhcp_version.name == "DHCP4"
    client.subnets = {"kept": True}
    client.reload()  # unchanged file: the map stays
    assert client.subnets == {"kept": True}
    config.write_text(json.dumps({"Dhcp6": {"subnet6": [{"id": 3, "subnet": "2001:db8:12::/64"}]}}))
    os.utime(config, ns=(1, 1))
    client.reload()
    assert list(client.subnets) == [3] and client.dhcp_version.name == "DHCP6"


def test_targets_are_socket_equals_file():
    assert metrics_exporter._target("/run/kea/kea4-ctrl-socket=/etc/kea/kea-dhcp4.conf") == (
        "/run/kea/kea4-ctrl-socket", "/etc/kea/kea-dhcp4.conf")
    with pytest.raises(Exception):
        metrics_exporter._target("/run/kea/kea4-ctrl-socket")
