"""Russian wording and number formats shared by the terminal and the HTML report, as on the
regional centre's slides: "40,2%", "+1,5 п. п.", "Низкий уровень (менее 30%)"."""

from __future__ import annotations

from datetime import date, timedelta

from sinks.indicators import (
    A_GROUP_CHATS,
    ACTIVE_GROUP_CHATS,
    ACTIVE_GROUP_MESSAGES,
    B_GROUP_MESSAGES,
    C_CHAT_MESSAGES,
    D_CALLS,
)


def count_of(n: int, one: str, few: str, many: str) -> str:
    """A number with its noun in the Russian form for it: ``count_of(3, "сообщение", "сообщения",
    "сообщений")`` -> ``3 сообщения``."""
    if n % 10 == 1 and n % 100 != 11:
        noun = one
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        noun = few
    else:
        noun = many
    return f"{n} {noun}"


def _group_chats(n: int) -> str:
    return count_of(n, "групповой чат", "групповых чата", "групповых чатов")


def _messages(n: int) -> str:
    return count_of(n, "сообщение", "сообщения", "сообщений")


INDICATOR_TITLES = {
    "a": f"Доля учителей, создавших минимум {_group_chats(A_GROUP_CHATS)}",
    "b": f"Доля учителей, написавших в групповых чатах минимум {_messages(B_GROUP_MESSAGES)} за неделю",
    "c": f"Доля учителей, написавших минимум {_messages(C_CHAT_MESSAGES)} в чаты за неделю",
    "d": f"Доля учителей, совершивших минимум {count_of(D_CALLS, 'звонок', 'звонка', 'звонков')} за неделю",
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
    "active": "МО зарегистрировано, и его сотрудники вместе создали "
    + ("групповой чат" if ACTIVE_GROUP_CHATS == 1 else _group_chats(ACTIVE_GROUP_CHATS))
    + f" и написали {_messages(ACTIVE_GROUP_MESSAGES)}",
}

ACTIVE_MUNICIPALITY = (
    "Активным считается МО, зарегистрированное в ИКОП «Сферум», сотрудники органа управления образованием "
    f"которого (зарегистрированные в ИКОП «Сферум») вместе создали как минимум {_group_chats(ACTIVE_GROUP_CHATS)} "
    f"и написали как минимум {_messages(ACTIVE_GROUP_MESSAGES)} в групповых чатах"
)
ACTIVE_SCHOOL = (
    "Активной считается школа, зарегистрированная в ИКОП «Сферум», педагоги которой создали как минимум "
    f"{_group_chats(ACTIVE_GROUP_CHATS)} и написали как минимум {_messages(ACTIVE_GROUP_MESSAGES)} в групповых чатах"
)
ACTIVE_TEACHER = (
    f"Активным считается педагог, зарегистрированный в ИКОП «Сферум», создавший как минимум "
    f"{_group_chats(ACTIVE_GROUP_CHATS)} и написавший как минимум {_messages(ACTIVE_GROUP_MESSAGES)} в групповых чатах"
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
#: Names of the trend series (stream.tools.report.trends.SERIES).
TREND_NAMES = {**INDICATOR_SHORT, "active": "активные педагоги (от зарегистрированных)"}
TREND_SHORT = {"a": "a", "b": "b", "c": "c", "d": "d", "active": "активные"}
#: The federal map's bands of b (kpi_region_ranking.band)
BANDS = {"0-1%": "0–1%", "1-5%": "1–5%", "5-100%": "5–100%"}
LEVEL_NAMES = {"low": "низкий", "sufficient": "достаточный", "high": "высокий"}
