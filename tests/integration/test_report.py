"""``sferum-kpi report`` in every format on the hand-built dataset (``tests/support/kpi_dataset.py``):
the figures it prints, checked against the independent computation (``tests/support/kpi_oracle.py``)
and against values worked out by hand; the JSON document; the HTML page (region and federal views)
loaded in headless Chromium over the DevTools protocol (no console errors, one map tile per region,
one trend line per indicator); and the PDF (A4 pages). Chromium must be installed (Debian package
``chromium``): without it the tests fail, they never skip."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
from pypdf import PdfReader

from tests.conftest import run_cli
from tests.support.browser import inspect_page
from tests.support.kpi_dataset import NOW_MS, W1, W2, W3, W4, build, write_registry
from tests.support.kpi_oracle import kpi_unit_week
from tests.support.oracle import expected

pytestmark = pytest.mark.integration

Truth = dict[tuple[date, str, str], dict]
#: A4 in PostScript points (210 x 297 mm), and how far Chromium's page may round from it
A4_PT, A4_TOLERANCE_PT = (595.28, 841.89), 2.0


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


def report(loaded: tuple[dict[str, str], Truth, Path], *args: str) -> str:
    result = run_cli("report", *args, env=loaded[0])
    assert result.returncode == 0, result.stderr
    return result.stdout


def _line_with(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    assert len(lines) == 1, f"{len(lines)} lines with {needle!r} in:\n{text}"
    return lines[0]


def _indicator_rows(stdout: str, key: str) -> tuple[str, str]:
    """The two lines of indicator ``key``'s row: its name with the value, and below them the count."""
    lines = stdout.splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.startswith(f"{key}) Доля")]
    return lines[start], lines[start + 1]


# terminal ----------------------------------------------------------------------------------------


def test_report_defaults_to_the_newest_week(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    stdout = report(loaded, "--region", "r1")
    assert (
        stdout.splitlines()[0]
        == f"«Сферум»: Орловская область, неделя 40 ({W4:%d.%m.%Y} – {W4 + timedelta(6):%d.%m.%Y})"
    )


@pytest.mark.parametrize("week", [W1, W2, W4])
def test_report_prints_the_region_figures_of_the_oracle(loaded: tuple[dict[str, str], Truth, Path], week: date) -> None:
    stdout = report(loaded, "--region", "r1", "--week", str(week))
    row = loaded[1][(week, "region", "r1")]
    registered, total = row["teachers_registered"], row["teachers_total"]
    assert _line_with(stdout, "Педагоги  ").split() == [
        "Педагоги", str(total), str(registered), f"({pct(registered / total)})",
        str(row["active_teachers"]), f"({pct(row['active_share'])})",
    ]  # fmt: skip
    assert _line_with(stdout, "Ученики  ").split() == [
        "Ученики", str(row["students_total"]), str(row["students_registered"]),
        f"({pct(row['students_registered_share'])})", "—",
    ]  # fmt: skip
    assert _line_with(stdout, "Школы  ").split() == [
        "Школы", str(row["schools_total"]), str(row["schools_registered"]), f"({pct(row['schools_registered_share'])})",
        str(row["schools_active"]), f"({pct(row['schools_active_share'])})",
    ]  # fmt: skip
    for key in "abcd":
        value_line, count_line = _indicator_rows(stdout, key)
        assert re.search(rf"\s{re.escape(pct(row[f'{key}_share']))}\s+≥ \d\d%", value_line), (key, value_line)
        assert re.search(rf"\s{row[f'{key}_teachers']} из {registered}\s+[✓✗]", count_line), (key, count_line)


def test_report_prints_b_of_the_second_week_by_hand(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    # kpi_dataset, r1 in W2: b = t01 t03 t05 of the 5 registered; d = nobody (the other rows: a 4, c 1)
    stdout = report(loaded, "--region", "r1", "--week", str(W2))
    assert re.search(r"\s60,0%\s+≥ 25%\s+растёт\s*$", _indicator_rows(stdout, "b")[0])
    assert re.search(r"\s3 из 5\s+✓ достигнута\s+\+40,0 п\. п\.\s*$", _indicator_rows(stdout, "b")[1])
    assert re.search(r"\s0 из 5\s+✗ не достигнута\s+−20,0 п\. п\.\s*$", _indicator_rows(stdout, "d")[1])


def test_report_shows_the_change_from_the_previous_week(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    _, truth, _ = loaded
    stdout = report(loaded, "--region", "r1", "--week", str(W2 + timedelta(days=3)))
    now, before = truth[(W2, "region", "r1")], truth[(W1, "region", "r1")]
    delta = round((now["b_share"] - before["b_share"]) * 100, 1)
    assert delta > 0, "the dataset's b grows in r1 from W1 to W2"
    value_line, count_line = _indicator_rows(stdout, "b")
    assert value_line.rstrip().endswith("растёт")
    assert count_line.rstrip().endswith("+" + f"{delta:.1f}".replace(".", ",") + " п. п.")


def test_report_lists_the_three_municipality_lists(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    # kpi_dataset, r2 in W3: m4 (Льговский район) never registers; m3 (г. Курск) registered in W3, its staff
    # only in W4; m6 (Курчатовский район) registered, its staff never
    stdout = report(loaded, "--region", "r2", "--week", str(W3))
    lists = stdout.split("5. Списки")[1].split("6. ")[0].splitlines()
    header = next(line for line in lists if "Отсутствуют в ИКОП" in line)
    assert re.split(r"\s{2,}", header.strip()) == [
        "Отсутствуют в ИКОП «Сферум»: 1", "Отсутствуют регистрации: 2", "Активные: 0",
    ]  # fmt: skip
    rows = [re.split(r"\s{2,}", line.strip()) for line in lists if "район" in line or "г. " in line]
    assert rows == [["Льговский район", "г. Курск"], ["Курчатовский район"]]
    # a week later m3's staff is registered and active
    stdout = report(loaded, "--region", "r2", "--week", str(W4))
    header = next(line for line in stdout.splitlines() if "Отсутствуют в ИКОП" in line)
    assert re.split(r"\s{2,}", header.strip())[1:] == ["Отсутствуют регистрации: 1", "Активные: 1"]


def test_report_labels_each_level_list_with_its_denominator(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    stdout = report(loaded, "--region", "r1", "--week", str(W2))
    levels = stdout.split("4. Уровни")[1].split("5. Списки")[0]
    assert "Доля активных от зарегистрированных в ИКОП «Сферум» школ" in levels
    assert "Доля активных от всех педагогов по реестру" in levels
    assert "Доля зарегистрированных от всех учеников по реестру" in levels
    # m1 (г. Орёл): active t01 t02 t03 of its 6 registry teachers (4 registered): 50 %, not 75 %
    teachers = levels.split("Доля педагогов")[1].split("Доля учеников")[0]
    assert _line_with(teachers, "г. Орёл").split() == ["г.", "Орёл", "50,0%"]


def test_report_without_region_shows_the_ranking_and_asks_for_one(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    _, truth, _ = loaded
    stdout = report(loaded, "--week", str(W2))
    assert "--region" in stdout
    for rank, region, name in ((1, "r1", "Орловская область"), (2, "r2", "Курская область")):
        row = truth[(W2, "region", region)]
        assert _line_with(stdout, name).split() == [
            str(rank), region, *name.split(), pct(row["b_share"]), str(row["b_teachers"]), "из",
            str(row["teachers_registered"]),
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--week", "2026-13-01"], "--week must be a date"),
        (["--week", "2027-01-04"], "no data for the week of 2027-01-04"),
        (["--region", "r9"], "unknown region 'r9'"),
        (["--format", "xml"], "unknown --format 'xml': choose terminal, html, json, pdf"),
        (["--format", "pdf"], "--format pdf needs --output FILE"),
        (["--output", "x.json"], "--output needs --format html, json or pdf"),
        (["--format", "json", "--output", "/nonexistent-dir/x.json"], "cannot write /nonexistent-dir/x.json"),
    ],
)
def test_bad_argument_is_one_line_and_exit_2(
    loaded: tuple[dict[str, str], Truth, Path], args: list[str], needle: str
) -> None:
    result = run_cli("report", *args, env=loaded[0])
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sferum-kpi: error: ") and needle in lines[0], result.stderr
    assert not result.stdout


def test_pdf_without_chromium_is_one_line_and_exit_1(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    env = loaded[0] | {"SFERUM_CHROMIUM": "/nonexistent/chromium"}
    out = loaded[2] / "never.pdf"
    result = run_cli("report", "--region", "r1", "--format", "pdf", "--output", str(out), env=env)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["sferum-kpi: error: Chromium '/nonexistent/chromium' (SFERUM_CHROMIUM) is not an executable"]
    assert not out.exists()


# JSON --------------------------------------------------------------------------------------------


def test_json_holds_the_figures_and_lists_by_hand(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    doc = orjson.loads(report(loaded, "--region", "r1", "--week", str(W2), "--format", "json"))
    assert (doc["format"], doc["version"], doc["week"]) == (
        "sferum-kpi report", 1, {"start": "2026-09-14", "end": "2026-09-20", "iso_week": 38, "iso_year": 2026},
    )  # fmt: skip
    assert doc["weeks_with_data"] == ["2026-09-07", "2026-09-14", "2026-09-21", "2026-09-28"]
    region = doc["region"]
    assert (region["region_id"], region["name"], region["code"]) == ("r1", "Орловская область", "ОРЛ")
    # r1 in W2 (tests/unit/test_kpi_oracle.py): 8 teachers, 5 registered; a 4, b 3, c 1, d 0; W1: 2, 1, 0, 1
    got = {k: (v["teachers"], v["teachers_registered"], v["met"], v["change"]) for k, v in region["indicators"].items()}
    assert got == {
        "a": (4, 5, True, {"prev_share": 0.4, "delta_pp": 40.0, "direction": "growth"}),
        "b": (3, 5, True, {"prev_share": 0.2, "delta_pp": 40.0, "direction": "growth"}),
        "c": (1, 5, False, {"prev_share": 0.0, "delta_pp": 20.0, "direction": "growth"}),
        "d": (0, 5, False, {"prev_share": 0.2, "delta_pp": -20.0, "direction": "fall"}),
    }
    assert [region["indicators"][k]["share"] for k in "abcd"] == [0.8, 0.6, 0.2, 0.0]
    municipalities = region["municipalities"]
    assert {k: municipalities[k] for k in ("total", "registered", "active", "no_staff_registered")} == {
        "total": 3, "registered": 3, "active": 2, "no_staff_registered": 0,
    }  # fmt: skip
    assert (municipalities["staff_total"], municipalities["staff_registered"]) == (5, 4)
    assert {k: region["schools"][k] for k in ("total", "registered", "active")} == {
        "total": 3,
        "registered": 3,
        "active": 3,
    }
    teachers = region["teachers"]
    assert (teachers["total"], teachers["registered"], teachers["active"], teachers["active_share"]) == (8, 5, 4, 0.8)
    # t01 t02 t03 t05 t12 registered in W1 and W2: no change of the registered share
    assert teachers["registered_change"] == {"prev_share": 0.625, "delta_pp": 0.0, "direction": "none"}
    students = region["students"]
    assert (students["total"], students["registered"], students["registered_by_parent"]) == (7, 4, 3)
    assert region["municipality_lists"] == {
        "absent": [],
        "no_staff_registered": [],
        "active": ["г. Орёл", "Мценский район"],
    }

    def level_list(key: str) -> dict[str, list[tuple[str, int, int]]]:
        return {
            lvl: [(m["name"], m["count"], m["of"]) for m in region["level_lists"][key][lvl]]
            for lvl in ("low", "sufficient", "high")
        }

    # schools: active of registered; teachers: active of all the registry's; students: registered of all
    assert level_list("schools") == {"low": [("Болховский район", 0, 0)], "sufficient": [],
                                     "high": [("г. Орёл", 2, 2), ("Мценский район", 1, 1)]}  # fmt: skip
    assert level_list("teachers") == {"low": [("Болховский район", 0, 0)], "high": [],
                                      "sufficient": [("Мценский район", 2, 3), ("г. Орёл", 3, 6)]}  # fmt: skip
    assert level_list("students") == {"low": [("Болховский район", 0, 0)], "high": [],
                                      "sufficient": [("г. Орёл", 3, 5), ("Мценский район", 1, 2)]}  # fmt: skip
    assert (region["level_lists"]["teachers"]["numerator"], region["level_lists"]["teachers"]["denominator"]) == (
        "active_teachers", "teachers_total",
    )  # fmt: skip
    trends = region["trends"]
    assert trends["weeks"] == ["2026-09-07", "2026-09-14"] and trends["series"] == ["a", "b", "c", "d", "active"]
    assert trends["region"] == {
        "a": [0.4, 0.8],
        "b": [0.2, 0.6],
        "c": [0.0, 0.2],
        "d": [0.2, 0.0],
        "active": [0.2, 0.8],
    }
    assert [m["name"] for m in trends["municipalities"]] == ["Болховский район", "г. Орёл", "Мценский район"]
    assert [(r["rank"], r["region_id"], r["code"], r["b_share"], r["band"]) for r in doc["ranking"]] == [
        (1, "r1", "ОРЛ", 0.6, "5-100%"), (2, "r2", "КУР", 0.0, "0-1%"),
    ]  # fmt: skip
    assert [r["region_id"] for r in doc["top"]] == ["r1"] and [r["region_id"] for r in doc["zero"]] == ["r2"]


def test_json_of_the_federal_view_has_no_region(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    out = loaded[2] / "federal.json"
    result = run_cli("report", "--week", str(W4), "--format", "json", "--output", str(out), env=loaded[0])
    assert result.returncode == 0 and not result.stdout, result.stderr
    doc = orjson.loads(out.read_bytes())
    assert doc["region"] is None
    # W4: b is 0 in both regions, which share the first rank
    assert [(r["rank"], r["region_id"]) for r in doc["ranking"]] == [(1, "r2"), (1, "r1")]
    assert doc["top"] == [] and [r["name"] for r in doc["zero"]] == ["Курская область", "Орловская область"]


# HTML and PDF ------------------------------------------------------------------------------------

PAGE_FIGURES = {
    "sections": "document.querySelectorAll('main > section').length",
    "tiles": "document.querySelectorAll('svg.map g.tile').length",
    "tile_regions": "[...document.querySelectorAll('svg.map g.tile')].map(t => t.dataset.region).sort()",
    "ghosts": "document.querySelectorAll('svg.map g.ghost').length",
    "trend_lines": "[...document.querySelectorAll('svg.trend-chart polyline.trend')].map(l => l.dataset.series)",
    "trend_targets": "[...document.querySelectorAll('svg.trend-chart line.target')].map(l => l.dataset.series)",
    "multiples": "[...document.querySelectorAll('figure.multiple')].map(f => f.dataset.municipality)",
    "multiple_lines": "[...document.querySelectorAll('figure.multiple')]"
    ".map(f => f.querySelectorAll('polyline.trend').length)",
    "top": "[...document.querySelectorAll('#top li')].map(li => { const c = li.cloneNode(true); "
    "const v = c.querySelector('.v'); if (v) v.remove(); return [c.textContent.trim(), v ? v.textContent : null]; })",
    "zero": "[...document.querySelectorAll('#zero li')].map(li => li.textContent.trim())",
    "height": "document.documentElement.scrollHeight",
    "text": "document.body.innerText",
}  # fmt: skip


@pytest.fixture(scope="module")
def r1_page(loaded: tuple[dict[str, str], Truth, Path]) -> Path:
    page = loaded[2] / "r1.html"
    report(loaded, "--region", "r1", "--format", "html", "--output", str(page))
    return page


def test_html_page_is_self_contained(r1_page: Path) -> None:
    text = r1_page.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and '<meta charset="utf-8">' in text
    assert not re.search(r"https?://", text), "no external reference"
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", text, re.IGNORECASE)


def test_region_page_renders_with_map_and_trends_in_chromium(
    r1_page: Path, loaded: tuple[dict[str, str], Truth, Path]
) -> None:
    page = inspect_page(r1_page, PAGE_FIGURES)
    assert page.console_errors == []
    figures = page.values
    assert figures["sections"] == 6 and figures["height"] > 3000
    # one tile per region of the registry (r1, r2); the other 83 subjects of the grid are faint cells
    assert (figures["tiles"], figures["tile_regions"], figures["ghosts"]) == (2, ["r1", "r2"], 83)
    assert figures["trend_lines"] == ["a", "b", "c", "d", "active"]
    assert figures["trend_targets"] == ["a", "b", "c", "d"]
    # small multiples: r1's municipalities m5 (Болховский район), m1 (г. Орёл), m2 (Мценский район)
    assert figures["multiples"] == ["m5", "m1", "m2"] and figures["multiple_lines"] == [5, 5, 5]
    row = loaded[1][(W4, "region", "r1")]
    assert f"{row['a_teachers']} из {row['teachers_registered']} учителей" in figures["text"]
    assert "Доля активных от всех педагогов по реестру" in figures["text"]


def test_federal_page_renders_with_a_tile_per_region(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    path = loaded[2] / "federal.html"
    report(loaded, "--week", str(W2), "--format", "html", "--output", str(path))
    page = inspect_page(path, PAGE_FIGURES)
    assert page.console_errors == []
    figures = page.values
    assert (figures["sections"], figures["tiles"], figures["tile_regions"]) == (1, 2, ["r1", "r2"])
    assert figures["trend_lines"] == []
    # W2: b is 3 of 5 in r1, 0 of 10 in r2
    assert figures["top"] == [["Орловская область", "60,0%"]] and figures["zero"] == ["Курская область"]
    assert "Регионы с низкими показателями (0%): 1" in figures["text"]


def test_old_html_option_still_writes_the_page(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    path = loaded[2] / "old.html"
    stdout = report(loaded, "--region", "r1", "--html", str(path))
    assert stdout.splitlines()[0].startswith("«Сферум»: Орловская область")
    assert stdout.rstrip().endswith(f"HTML: {path}")
    assert path.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_pdf_has_a4_pages_a_section_per_page(loaded: tuple[dict[str, str], Truth, Path]) -> None:
    path = loaded[2] / "r1.pdf"
    report(loaded, "--region", "r1", "--format", "pdf", "--output", str(path))
    assert path.read_bytes().startswith(b"%PDF-")
    reader = PdfReader(path)
    sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]
    assert len(sizes) >= 6, "each of the six sections starts a page"
    assert all(abs(w - A4_PT[0]) < A4_TOLERANCE_PT and abs(h - A4_PT[1]) < A4_TOLERANCE_PT for w, h in sizes), sizes
    text = "\n".join(p.extract_text() for p in reader.pages)
    for heading in ("1. Показатели субъекта РФ", "3. Показатели по неделям", "6. Субъекты РФ по показателю b"):
        assert heading in text
    starts = [i for i, p in enumerate(reader.pages) if re.match(r"\s*\d\. ", p.extract_text())]
    assert len(starts) >= 5, "sections 2-6 begin at the top of a page"
