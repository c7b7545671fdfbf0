"""``sferum-kpi report``: the figures it prints and the HTML page it writes, on the hand-built
dataset (``tests/support/kpi_dataset.py``), checked against the independent computation
(``tests/support/kpi_oracle.py``); the page is rendered by headless Chromium, which must be
installed (Debian package ``chromium``): without it the test fails, it never skips."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.kpi_dataset import NOW_MS, W1, W2, W3, W4, build, write_registry
from tests.support.kpi_oracle import kpi_unit_week
from tests.support.oracle import expected

pytestmark = pytest.mark.integration

Truth = dict[tuple[date, str, str], dict]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: a rendered page with charts and text; an error page or a blank one is a few kB
MIN_SCREENSHOT_BYTES = 20_000


def pct(share: float) -> str:
    """As the slides write a share, 0.4023 -> 40,2% (written here, not imported from the code under test)."""
    return f"{share * 100:.1f}".replace(".", ",") + "%"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Truth, Path]:
    """The dataset replayed and its registry loaded into a fresh embedded store, and the truth."""
    registry, lines = build()
    base = tmp_path_factory.mktemp("report")
    events = base / "events.ndjson"
    events.write_bytes(b"\n".join(lines) + b"\n")
    env = {"SFERUM_STORE": f"chdb://{base / 'store'}", "COLUMNS": "120"}
    replayed = run_cli("replay", "--json", "--dead-letter", str(base / "dl.ndjson"), str(events), env=env)
    assert replayed.returncode == 0, replayed.stderr
    registered = run_cli("load-registry", str(write_registry(registry, base / "registry")), env=env)
    assert registered.returncode == 0, registered.stderr
    accepted = expected(lines, now_ms=NOW_MS)
    truth = kpi_unit_week(registry, accepted.teacher_week, accepted.registrations, accepted.staff_week)
    return env, truth, base


@pytest.fixture(scope="module")
def r1_page(loaded: tuple[dict[str, str], Truth, Path]) -> tuple[str, Path]:
    """``report --region r1 --html FILE`` for the default (newest) week: its stdout and the page."""
    env, _, base = loaded
    page = base / "r1.html"
    result = run_cli("report", "--region", "r1", "--html", str(page), env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout, page


def _line_with(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    assert lines, f"no line with {needle!r} in:\n{text}"
    return lines[0]


def test_report_defaults_to_the_newest_week(r1_page: tuple[str, Path]) -> None:
    stdout, _ = r1_page
    assert f"{W4:%d.%m.%Y} – {W4 + timedelta(days=6):%d.%m.%Y}" in stdout
    assert "Орловская область" in stdout


def test_report_prints_the_region_figures_of_the_oracle(
    r1_page: tuple[str, Path], loaded: tuple[dict[str, str], Truth, Path]
) -> None:
    stdout, _ = r1_page
    row = loaded[1][(W4, "region", "r1")]
    registered, total = row["teachers_registered"], row["teachers_total"]
    teachers = _line_with(stdout, "Педагоги")
    want = [str(total), f"{registered} ({pct(registered / total)})"]
    want.append(f"{row['active_teachers']} ({pct(row['active_share'])})")
    assert all(w in teachers for w in want), (teachers, want)
    students = _line_with(stdout, "Ученики ")
    assert f"{row['students_registered']} ({pct(row['students_registered_share'])})" in students
    schools = _line_with(stdout, "Школы")
    assert f"{row['schools_active']} ({pct(row['schools_active_share'])})" in schools
    for key in "abcd":
        assert f"{row[f'{key}_teachers']} из {registered}" in stdout
        assert pct(row[f"{key}_share"]) in stdout


def test_report_shows_the_change_from_the_previous_week(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    env, truth, _ = loaded
    result = run_cli("report", "--region", "r1", "--week", str(W2 + timedelta(days=3)), env=env)
    assert result.returncode == 0, result.stderr
    now, before = truth[(W2, "region", "r1")], truth[(W1, "region", "r1")]
    delta = round((now["b_share"] - before["b_share"]) * 100, 1)
    assert delta > 0, "the dataset's b grows in r1 from W1 to W2"
    assert "+" + f"{delta:.1f}".replace(".", ",") + " п. п." in result.stdout
    assert "растёт" in result.stdout
    met = now["b_teachers"] * 100 >= 25 * now["teachers_registered"]
    b_row = result.stdout.split("b) Доля")[1].split("c) Доля")[0]
    assert pct(now["b_share"]) in b_row and f"{now['b_teachers']} из {now['teachers_registered']}" in b_row
    assert ("✓ достигнута" if met else "✗ не достигнута") in b_row


def test_report_lists_absent_and_active_municipalities(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    env, _, _ = loaded
    result = run_cli("report", "--region", "r2", "--week", str(W3), env=env)
    assert result.returncode == 0, result.stderr
    # kpi_dataset: m4 (Льговский район) never registers; m3 (г. Курск) registers in W3 and is active
    lists = result.stdout.split("4. Списки")[1].split("5. ")[0]
    assert "Отсутствуют в ИКОП «Сферум»: 1" in lists and "Активные: 1" in lists
    first_row = _line_with(lists, "Льговский район")
    assert first_row.index("Льговский район") < first_row.index("г. Курск")


def test_report_without_region_shows_the_ranking_and_asks_for_one(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    env, truth, _ = loaded
    result = run_cli("report", "--week", str(W2), env=env)
    assert result.returncode == 0, result.stderr
    assert "--region" in result.stdout
    lines = [_line_with(result.stdout, name) for name in ("Орловская область", "Курская область")]
    shares = [truth[(W2, "region", r)]["b_share"] for r in ("r1", "r2")]
    assert all(pct(share) in line for share, line in zip(shares, lines, strict=True))
    best_first = result.stdout.index("Орловская область") < result.stdout.index("Курская область")
    assert best_first == (shares[0] >= shares[1])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--week", "2026-13-01"], "--week must be a date"),
        (["--week", "2027-01-04"], "no data for the week of 2027-01-04"),
        (["--region", "r9"], "unknown region 'r9'"),
    ],
)
def test_bad_week_or_region_is_one_line_and_exit_2(
    loaded: tuple[dict[str, str], Truth, Path], args: list[str], needle: str
) -> None:
    result = run_cli("report", *args, env=loaded[0])
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sferum-kpi: error: ") and needle in lines[0], result.stderr


def test_html_page_is_self_contained(r1_page: tuple[str, Path], loaded: tuple[dict[str, str], Truth, Path]) -> None:
    _, page = r1_page
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and '<meta charset="utf-8">' in text
    assert not re.search(r"https?://", text), "no external reference"
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", text, re.IGNORECASE)
    assert text.count("<svg") >= 4  # indicators and three level charts (no region above 0 % to rank)
    for name in ("г. Орёл", "Мценский район", "Орловская область"):
        assert name in text
    row = loaded[1][(W4, "region", "r1")]
    assert "Доля учителей, создавших минимум 1 групповой чат" in text
    assert f"{row['a_teachers']} из {row['teachers_registered']} учителей" in text
    assert pct(row["active_share"]) in text


def test_html_page_renders_in_headless_chromium(r1_page: tuple[str, Path], tmp_path: Path) -> None:
    _, page = r1_page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed (Debian: apt-get install -y chromium)", pytrace=False)
    screenshot = tmp_path / "report.png"
    args = [
        chromium,
        "--headless",
        "--no-sandbox",  # root in CI containers; the page is our own local file
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--screenshot={screenshot}",
        "--window-size=1280,2400",
        page.resolve().as_uri(),
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=180, env=os.environ | {"HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert screenshot.exists(), result.stderr[-3000:]
    data = screenshot.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > MIN_SCREENSHOT_BYTES, len(data)
