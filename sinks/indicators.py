"""The indicators' thresholds and targets, defined here once (docs/indicators.md).

The SQL of ``sinks/sql`` reads the thresholds as placeholders (``{b_group_messages}`` …) that
``schema_statements`` renders from ``sql_placeholders()``; ``stream.worker.kpi_gauges`` and the
report read the same names. The module imports nothing of the project, so ``stream`` and ``sinks`` both may
import it.

A teacher registered by the end of a week W counts for

- **a**: at least ``A_GROUP_CHATS`` group chats created, up to the end of W;
- **b**: at least ``B_GROUP_MESSAGES`` group-chat messages written during W;
- **c**: at least ``C_CHAT_MESSAGES`` messages written in group or personal chats during W;
- **d**: at least ``D_CALLS`` calls made during W;
- **active**: at least ``ACTIVE_GROUP_CHATS`` group chats created and ``ACTIVE_GROUP_MESSAGES``
  group-chat messages written, up to the end of W.

A school is active when its registered teachers together reach the active thresholds, a
municipality when its registered staff together do.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

A_GROUP_CHATS: Final = 1
B_GROUP_MESSAGES: Final = 3
C_CHAT_MESSAGES: Final = 10
D_CALLS: Final = 1
ACTIVE_GROUP_CHATS: Final = 1
ACTIVE_GROUP_MESSAGES: Final = 3

#: The targets the shares a … d of a unit are judged against, in whole percent: a share meets its
#: target when it is at least this (the active share has none).
TARGETS_PCT: Final = MappingProxyType({"a": 35, "b": 25, "c": 30, "d": 30})

#: What the incremental refresh's teacher status (``kpi_teacher_status``, 046_kpi_changes.sql)
#: records: the first week by whose end a teacher had created 1 group chat, and had written 1, 2
#: and 3 group-chat messages. The cumulative thresholds (a, active) cannot be more than it records.
STATUS_GROUP_CHATS: Final = 1
STATUS_GROUP_MESSAGES: Final = 3


def sql_placeholders() -> dict[str, str]:
    """``{name}`` -> its value, as the ``sinks/sql`` files are rendered with."""
    if not 1 <= A_GROUP_CHATS <= STATUS_GROUP_CHATS or not 1 <= ACTIVE_GROUP_CHATS <= STATUS_GROUP_CHATS:
        raise ValueError(f"kpi_teacher_status records the first {STATUS_GROUP_CHATS} group chat(s) only")
    if not 1 <= ACTIVE_GROUP_MESSAGES <= STATUS_GROUP_MESSAGES:
        raise ValueError(f"kpi_teacher_status records the first {STATUS_GROUP_MESSAGES} group-chat messages only")
    values = {
        "a_group_chats": A_GROUP_CHATS,
        "b_group_messages": B_GROUP_MESSAGES,
        "c_chat_messages": C_CHAT_MESSAGES,
        "d_calls": D_CALLS,
        "active_group_chats": ACTIVE_GROUP_CHATS,
        "active_group_messages": ACTIVE_GROUP_MESSAGES,
    }
    return {f"{{{name}}}": str(int(value)) for name, value in values.items()}
