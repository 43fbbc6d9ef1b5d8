"""Every bad SoT in tests/sot_corpus/bad fails with exactly the problems expected.yml lists."""

import os

import pytest
import yaml

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "sot_corpus")
BAD = os.path.join(CORPUS, "bad")
with open(os.path.join(CORPUS, "expected.yml"), encoding="utf-8") as handle:
    EXPECTED = yaml.safe_load(handle)


def test_corpus_is_complete():
    assert sorted(os.listdir(BAD)) == sorted(EXPECTED)
    assert len(EXPECTED) >= 25


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_sot_is_reported(name):
    path = os.path.join(BAD, name)
    with pytest.raises(sot.SotError) as raised:
        sot.load(path)
    assert [str(problem) for problem in raised.value.problems] == ["%s: %s" % (path, line) for line in EXPECTED[name]]
    # The message carries the whole report, each problem naming file, record and field.
    for line in EXPECTED[name]:
        assert "%s: %s" % (path, line) in str(raised.value)


def test_base_of_the_corpus_is_valid():
    fleet = sot.load(os.path.join(CORPUS, "good", "minimal.yml"))
    assert [machine.name for machine in fleet.machines] == ["m1"]
