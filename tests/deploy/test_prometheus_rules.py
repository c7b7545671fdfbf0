"""The Prometheus configuration and rules in deploy/prometheus, checked by promtool and by reading them.

``promtool`` (Debian package ``prometheus``; ``deploy/local/setup.sh`` installs it when root) is
required: without it these tests fail, they never skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sinks.indicators import TARGETS_PCT
from stream.core.week import WeekCalendar

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "rules" / "sferum.rules.yml"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "sferum.rules.test.yml"
DEPLOY_README = ROOT / "deploy" / "README.md"
JOB = "sferum-kpi-worker"

#: Labels a rule may aggregate by or attach: all take values from small fixed sets.
ALLOWED_LABELS = {"job", "instance", "topic", "type", "reason", "region", "indicator", "cause", "severity", "partition"}
SEVERITIES = {"critical", "warning", "info"}


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail(
            "promtool not found: install the Debian package 'prometheus' "
            "(apt-get install prometheus; deploy/local/setup.sh does it when run as root)",
            pytrace=False,
        )
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{' '.join(result.args)} failed:\n{result.stdout}\n{result.stderr}"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    return [rule for group in load(RULES)["groups"] for rule in group["rules"]]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


# promtool ------------------------------------------------------------------------------------


def test_prometheus_config_is_valid_with_its_rule_files() -> None:
    # Rule file paths in prometheus.yml are relative to the file; run from elsewhere to prove it.
    assert_ok(promtool("check", "config", str(CONFIG), cwd=Path("/")))


def test_rule_files_are_valid() -> None:
    assert_ok(promtool("check", "rules", str(RULES)))


def test_rule_unit_tests_pass() -> None:
    assert_ok(promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT))))


# what the rules say ---------------------------------------------------------------------------


def test_worker_scrape_job_keeps_the_name_the_rules_select() -> None:
    jobs = [job["job_name"] for job in load(CONFIG)["scrape_configs"]]
    assert JOB in jobs
    for rule in rules():
        for selector in re.findall(r"\{([^}]*)\}", rule["expr"]):
            if "job=" in selector:
                assert f'job="{JOB}"' in selector, rule


def test_rules_use_only_labels_from_small_fixed_sets() -> None:
    for rule in rules():
        for grouping in re.findall(r"\b(?:by|on|ignoring)\s*\(([^)]*)\)", rule["expr"]):
            used = {label.strip() for label in grouping.split(",") if label.strip()}
            assert used <= ALLOWED_LABELS, (rule.get("alert") or rule.get("record"), used - ALLOWED_LABELS)
        assert set(rule.get("labels", {})) <= ALLOWED_LABELS, rule


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    readme = DEPLOY_README.read_text(encoding="utf-8")
    anchors = {heading.strip().lower() for heading in re.findall(r"^###\s+(\S+)\s*$", readme, flags=re.M)}
    for rule in alert_rules():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook"} <= set(annotations), rule["alert"]
        # Each runbook hint points at the alert's section of deploy/README.md.
        anchor = re.match(r"deploy/README\.md#(\S+?)\.?\s", annotations["runbook"])
        assert anchor is not None, annotations["runbook"]
        assert anchor.group(1) == rule["alert"].lower()
        assert anchor.group(1) in anchors, f"deploy/README.md has no section '### {rule['alert']}'"


def test_kpi_alert_thresholds_and_target_series_are_the_report_targets() -> None:
    kpi_alerts = {
        rule["labels"]["indicator"]: rule for rule in alert_rules() if rule["alert"] == "SferumKpiBelowTarget"
    }
    assert set(kpi_alerts) == set(TARGETS_PCT) == {"a", "b", "c", "d"}
    targets = {
        rule["labels"]["indicator"]: float(re.fullmatch(r"vector\(([\d.]+)\)", rule["expr"]).group(1))  # type: ignore[union-attr]
        for rule in rules()
        if rule.get("record") == "indicator:sferum_kpi_target:ratio"
    }
    for indicator, pct in TARGETS_PCT.items():
        rule = kpi_alerts[indicator]
        assert rule["labels"]["severity"] == "info"
        threshold = re.search(rf'\{{indicator="{indicator}"\}} < ([\d.]+)', rule["expr"])
        assert threshold is not None, rule["expr"]
        assert float(threshold.group(1)) == pytest.approx(pct / 100)
        assert targets[indicator] == pytest.approx(pct / 100)
        assert f"target {pct} %" in rule["annotations"]["summary"]


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2025, 9, 1, 0, 0, tzinfo=UTC),  # Monday 03:00 MSK
        datetime(2025, 8, 31, 20, 59, 59, tzinfo=UTC),  # Sunday 23:59:59 MSK: end of the week
        datetime(2025, 8, 31, 21, 0, tzinfo=UTC),  # Monday 00:00 MSK: a new week
        datetime(2026, 3, 5, 12, 34, 56, tzinfo=UTC),  # a Thursday
        datetime(2027, 1, 1, 0, 0, tzinfo=UTC),
    ],
)
def test_week_clock_rule_agrees_with_the_week_calendar(instant: datetime) -> None:
    """sferum:kpi_week_elapsed_seconds hard-codes Monday 00:00 Europe/Moscow; stream.core.week decides weeks."""
    (expr,) = [rule["expr"] for rule in rules() if rule.get("record") == "sferum:kpi_week_elapsed_seconds"]
    match = re.fullmatch(r"vector\(\(time\(\) \+ (\d+)\) % 604800\)", expr.strip())
    assert match is not None, expr
    now_s = int(instant.timestamp())
    calendar = WeekCalendar("Europe/Moscow")
    week_start_s = calendar.week_start_ms(calendar.week_of(now_s * 1000)) // 1000
    assert (now_s + int(match.group(1))) % 604800 == now_s - week_start_s


def test_every_alert_has_unit_tests_where_it_fires_and_where_it_does_not() -> None:
    cases: dict[str, dict[str, int]] = {}
    for group in load(RULE_TESTS)["tests"]:
        for case in group.get("alert_rule_test", []):
            kind = "fires" if case.get("exp_alerts") else "quiet"
            counts = cases.setdefault(case["alertname"], {"fires": 0, "quiet": 0})
            counts[kind] += 1
            for alert in case.get("exp_alerts", []):
                # Exact expectations: every label the rule sets and every annotation.
                assert "severity" in alert["exp_labels"], case
                assert {"summary", "description", "runbook"} <= set(alert["exp_annotations"]), case
    for name in {rule["alert"] for rule in alert_rules()}:
        assert cases.get(name, {}).get("fires", 0) >= 1, f"no test where {name} fires"
        assert cases.get(name, {}).get("quiet", 0) >= 1, f"no test where {name} stays quiet"
    # Each of the four KPI rules fires in some test.
    fired = {
        alert["exp_labels"]["indicator"]
        for group in load(RULE_TESTS)["tests"]
        for case in group.get("alert_rule_test", [])
        if case["alertname"] == "SferumKpiBelowTarget"
        for alert in case.get("exp_alerts", [])
    }
    assert fired == {"a", "b", "c", "d"}


def test_every_recording_rule_is_checked_by_value() -> None:
    checked = " ".join(
        case["expr"] for group in load(RULE_TESTS)["tests"] for case in group.get("promql_expr_test", [])
    )
    for record in {rule["record"] for rule in rules() if "record" in rule}:
        assert record in checked, f"no promql_expr_test for {record}"
