"""Russian wording and number formats shared by the terminal and the HTML report, as on the
regional centre's slides: "40,2%", "+1,5 п. п.", "Низкий уровень (менее 30%)"."""

from __future__ import annotations

from datetime import date, timedelta

INDICATOR_TITLES = {
    "a": "Доля учителей, создавших минимум 1 групповой чат",
    "b": "Доля учителей, написавших в групповых чатах минимум 3 сообщения за неделю",
    "c": "Доля учителей, написавших минимум 10 сообщений в чаты за неделю",
    "d": "Доля учителей, совершивших минимум 1 звонок за неделю",
}
INDICATOR_NOTES = {
    "a": "Не включены личные чаты; с начала работы",
    "b": "Не включены личные чаты",
    "c": "Групповые и личные чаты",
    "d": "Любые звонки",
}
DIRECTIONS = {"growth": "растёт", "fall": "падает", "none": "нет"}

#: metric of kpi_levels -> (section title, what the share is: numerator of denominator), as on the
#: slides: each list has its own denominator
LEVEL_SECTIONS = {
    "schools_active_share": ("Доля школ в ИКОП «Сферум»", "активных от зарегистрированных в ИКОП «Сферум» школ"),
    "active_share_of_total": ("Доля педагогов в ИКОП «Сферум»", "активных от всех педагогов по реестру"),
    "students_registered_share": ("Доля учеников в ИКОП «Сферум»", "зарегистрированных от всех учеников по реестру"),
}
LEVEL_ORDER = ("low", "sufficient", "high")

#: list of kpi_municipality_lists -> heading, as on the slides
MUNICIPALITY_LISTS = {
    "absent": "Отсутствуют в ИКОП «Сферум»",
    "no_staff_registered": "Отсутствуют регистрации",
    "active": "Активные",
}
#: what each list means
MUNICIPALITY_LIST_NOTES = {
    "absent": "МО не зарегистрировано в ИКОП «Сферум»",
    "no_staff_registered": "МО зарегистрировано, но ни один сотрудник его органа управления образованием не "
    "зарегистрирован",
    "active": "МО зарегистрировано, и его сотрудники вместе создали групповой чат и написали 3 сообщения",
}

ACTIVE_MUNICIPALITY = (
    "Активным считается МО, зарегистрированное в ИКОП «Сферум», сотрудники органа управления образованием "
    "которого (зарегистрированные в ИКОП «Сферум») вместе создали как минимум 1 групповой чат и написали как "
    "минимум 3 сообщения в групповых чатах"
)
ACTIVE_SCHOOL = (
    "Активной считается школа, зарегистрированная в ИКОП «Сферум», педагоги которой создали как минимум "
    "1 групповой чат и написали как минимум 3 сообщения в групповых чатах"
)
ACTIVE_TEACHER = (
    "Активным считается педагог, зарегистрированный в ИКОП «Сферум», создавший как минимум 1 групповой чат "
    "и написавший как минимум 3 сообщения в групповых чатах"
)
STUDENTS_NOTE = (
    "Обучающиеся старше 14 лет самостоятельно регистрируются в ИКОП «Сферум». Регистрацию обучающихся "
    "младше 14 лет осуществляют родители из профиля законного представителя."
)


def pct(share: float) -> str:
    """A share in 0..1 as the slides write it: ``0.4023`` -> ``40,2%``."""
    return f"{share * 100:.1f}".replace(".", ",") + "%"


def whole_pct(fraction: float) -> str:
    """A threshold or target: ``0.35`` -> ``35%``, ``0.325`` -> ``32,5%``."""
    return f"{fraction * 100:g}".replace(".", ",") + "%"


def pp(delta_pp: float) -> str:
    """A change in percentage points with its sign: ``+1,5 п. п.``, ``−0,4 п. п.``."""
    sign = "+" if delta_pp > 0 else "−" if delta_pp < 0 else "±"
    return f"{sign}{abs(delta_pp):.1f}".replace(".", ",") + " п. п."


def week_span(week_start: date) -> str:
    """``07.09.2026 – 13.09.2026``: Monday to Sunday."""
    return f"{week_start:%d.%m.%Y} – {week_start + timedelta(days=6):%d.%m.%Y}"


def week_title(week_start: date) -> str:
    iso = week_start.isocalendar()
    return f"неделя {iso.week} ({week_span(week_start)})"


def level_title(level: str, levels: tuple[float, float]) -> str:
    low, high = levels
    return {
        "low": f"Низкий уровень (менее {whole_pct(low)})",
        "sufficient": f"Достаточный уровень ({whole_pct(low)}–{whole_pct(high)})",
        "high": f"Высокий уровень (более {whole_pct(high)})",
    }[level]


#: Short names of the indicators, for chart rows.
INDICATOR_SHORT = {
    "a": "a) создали групповой чат",
    "b": "b) ≥ 3 сообщений в групповых чатах",
    "c": "c) ≥ 10 сообщений в чатах",
    "d": "d) ≥ 1 звонка",
}
#: Names of the trend series (stream.report.trends.SERIES).
TREND_NAMES = {**INDICATOR_SHORT, "active": "активные педагоги (от зарегистрированных)"}
TREND_SHORT = {"a": "a", "b": "b", "c": "c", "d": "d", "active": "активные"}
#: The federal map's bands of b (kpi_region_ranking.band)
BANDS = {"0-1%": "0–1%", "1-5%": "1–5%", "5-100%": "5–100%"}
LEVEL_NAMES = {"low": "низкий", "sufficient": "достаточный", "high": "высокий"}
