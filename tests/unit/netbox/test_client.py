"""The NetBox client's paged reads (client.lists) against a fake GraphQL endpoint holding lists of known sizes."""

import re

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.netbox import client, mapping

PAGE = re.compile(r"(?:(\w+): )?(\w+)\((?:filters: (\{.*?\}), )?pagination: \{offset: (\d+), limit: (\d+)\}\) \{ id [^{}]*"
                  r"(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}[^{}]*)*\}")


class FakeNetBox(client.NetBoxClient):
    """Serves each (list name, filter) as objects {"id": "<list>-<n>"}; records every query."""

    def __init__(self, sizes: dict, page_size: int = 1000):
        super().__init__(client.Connection("https://nb.example.net", "nbt_k.s", page_size=page_size))
        self.sizes = sizes
        self.queries = []

    def graphql(self, query: str, variables=None) -> dict:
        self.queries.append(query)
        self.requests += 1
        data = {}
        pages = PAGE.findall(query)
        assert len(pages) == query.count("pagination:")
        for alias, list_name, filters, offset, limit in pages:
            name = alias or list_name
            assert name not in data
            size = self.sizes[(list_name, filters)]
            data[name] = [{"id": "%s-%d" % (list_name, index)}
                          for index in range(int(offset), min(size, int(offset) + int(limit)))]
        return data


TAGGED = '{tags: {slug: {exact: "netboot-provisioning"}}}'
# The 10,000-device benchmark fleet (benchmarks/netbox_scale.py): two interfaces and two or three addresses a device.
FLEET_10000 = {("device_list", ""): 10000, ("interface_list", ""): 20000, ("interface_list", TAGGED): 0,
               ("ip_address_list", ""): 20080, ("prefix_list", ""): 252, ("ip_range_list", ""): 250}


@pytest.mark.parametrize("sizes", [
    FLEET_10000,
    {key: 0 for key in FLEET_10000},
    {("device_list", ""): 999, ("interface_list", ""): 1000, ("interface_list", TAGGED): 1001,
     ("ip_address_list", ""): 1, ("prefix_list", ""): 3000, ("ip_range_list", ""): 64321},
])
def test_every_object_is_read_once_in_order_within_netboxs_alias_limit(sizes):
    netbox = FakeNetBox(sizes)
    lists = netbox.lists(mapping.queries(mapping.Selection()))
    for key, list_name, filters, _fields in mapping.queries(mapping.Selection()):
        expected = ["%s-%d" % (list_name, index) for index in range(sizes[(list_name, filters)])]
        assert [item["id"] for item in lists[key]] == expected
    for query in netbox.queries:
        pages = PAGE.findall(query)
        assert sum(1 for alias, *_rest in pages if alias) <= client.ALIASES
        unaliased = [list_name for alias, list_name, *_rest in pages if not alias]
        assert len(unaliased) == len(set(unaliased))
    assert netbox.requests == len(netbox.queries)


def test_the_10000_device_fleet_in_5_requests_the_first_with_every_list():
    netbox = FakeNetBox(FLEET_10000)
    netbox.lists(mapping.queries(mapping.Selection()))
    assert netbox.requests == 5
    first = PAGE.findall(netbox.queries[0])
    assert {list_name for _alias, list_name, *_rest in first} == {name for _key, name, _f, _fl in
                                                                  mapping.queries(mapping.Selection())}
    assert len(first) == client.ALIASES + 5  # five list names, interface_list twice


def test_the_provisioning_tag_is_a_graphql_string_whatever_it_holds():
    queries = dict((key, (name, filters)) for key, name, filters, _fields in
                   mapping.queries(mapping.Selection(provisioning_tag='pxe "a\\b"')))
    assert queries["tagged_interfaces"] == ("interface_list", '{tags: {slug: {exact: "pxe \\"a\\\\b\\""}}}')
    assert "tags" not in mapping.queries(mapping.Selection())[0][3]
    assert "tags { slug }" in mapping.queries(mapping.Selection(device_tags=("netboot",)))[0][3]
