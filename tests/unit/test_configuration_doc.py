"""docs/configuration.md lists every setting with its environment variable and its default, and
nothing that is not a setting."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr

from stream.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `SFERUM_([A-Z0-9_]+)` \| ([^|]*) \|", re.MULTILINE)


def _rows() -> dict[str, str]:
    return {name.lower(): default.strip() for name, default in ROW.findall(DOC.read_text(encoding="utf-8"))}


def test_every_setting_is_documented_and_nothing_else() -> None:
    assert set(_rows()) == set(Settings.model_fields)


def test_each_documented_default_is_the_settings_default() -> None:
    rows = _rows()
    for name, field in Settings.model_fields.items():
        documented = rows[name]
        if field.default_factory is not None:
            assert documented.startswith("`$XDG_DATA_HOME"), name  # the data dir: computed
            continue
        default = field.default
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        if name == "store":  # empty: the embedded store in the data dir
            assert documented == "`chdb://<data dir>/chdb`"
            continue
        if default in ("", None, ()):
            assert documented.startswith("("), (name, documented)  # "(empty…)" or "(none…)"
            continue
        shown = documented.split("`")[1]
        if isinstance(default, bool):
            assert shown == str(default).lower(), name
        elif isinstance(default, (int, float)):
            assert float(shown) == float(default), (name, shown, default)
        else:
            assert shown == str(default), (name, shown, default)
