"""The shipped alert rules and the bring-up textfile metrics, checked by the real promtool (Debian prometheus)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
RULES = os.path.join(REPO, "monitoring", "prometheus", "netboot-fleet.rules.yml")
RULE_TESTS = os.path.join(REPO, "monitoring", "prometheus", "tests", "netboot-fleet.rules.test.yml")
BRINGUP_METRICS = os.path.join(REPO, "tests", "unit", "bringup", "golden", "netboot_bringup.prom")


@pytest.fixture(name="promtool")
def promtool_fixture():
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return path


def _run(*argv, stdin=None):
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False)


def test_rules_are_valid(promtool):
    result = _run(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_rule_unit_tests_pass(promtool):
    result = _run(promtool, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_can_fail(promtool, tmp_path):
    """A rule made too eager fails its unit test: the tests look at timing, not only at names."""
    with open(RULES, encoding="utf-8") as handle:
        eager = handle.read().replace("for: 5m\n", "for: 1m\n", 1)
    (tmp_path / "netboot-fleet.rules.yml").write_text(eager, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    shutil.copy(RULE_TESTS, tmp_path / "tests")
    result = _run(promtool, "test", "rules", str(tmp_path / "tests" / os.path.basename(RULE_TESTS)))
    assert result.returncode != 0 and "AnycastNodeWithdrawn" in result.stdout + result.stderr


def test_bringup_textfile_metrics_pass_promtool_lint(promtool):
    with open(BRINGUP_METRICS, encoding="utf-8") as handle:
        result = _run(promtool, "check", "metrics", stdin=handle.read())
    assert result.returncode == 0, result.stdout + result.stderr
