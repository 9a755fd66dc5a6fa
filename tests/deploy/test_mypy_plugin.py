"""dev/mypy_sqlmodel.py, the mypy plugin for SQLModel's table models: a field read on a table class is SQLAlchemy's
InstrumentedAttribute (so a comparison is a SQL expression), and nothing else changes. Checked by running mypy
on a small module, with and without the plugin, also from mypy's cache (the table flag must survive it)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]

MODELS = """
from typing import ClassVar
from sqlmodel import Field, SQLModel

class Row(SQLModel, table=True):
    __tablename__ = "row"
    id: int | None = Field(default=None, primary_key=True)
    name: str = ""
    LIMIT: ClassVar[int] = 3

class Child(Row):  # a subclass of a table model is a table model too
    pass

class Form(SQLModel):  # not a table: its fields are plain values
    name: str = ""
"""

USE = """
from sqlmodel import select
from models import Child, Form, Row

reveal_type(Row.name)
reveal_type(Row.name == "x")
reveal_type(Row.id.in_([1, 2]))
reveal_type(select(Row).where(Row.name == "x"))
reveal_type(Row.LIMIT)
reveal_type(Child.name)
reveal_type(Form.name)
reveal_type(Row().name)
"""


def _run(tmp: Path, plugin: bool) -> list[str]:
    (tmp / "models.py").write_text(textwrap.dedent(MODELS), encoding="utf-8")
    (tmp / "use.py").write_text(textwrap.dedent(USE), encoding="utf-8")
    plugins = f"plugins = {ROOT / 'dev' / 'mypy_sqlmodel.py'}\n" if plugin else ""
    (tmp / "mypy.ini").write_text(f"[mypy]\n{plugins}", encoding="utf-8")
    out, err, _status = api.run(
        [
            "--config-file",
            str(tmp / "mypy.ini"),
            "--cache-dir",
            str(tmp / "cache"),
            str(tmp / "use.py"),
            str(tmp / "models.py"),
        ]
    )
    assert err == "", err
    return [
        line.split("Revealed type is ", 1)[1].strip('"')
        for line in out.splitlines()
        if "Revealed type" in line
    ]


def test_table_fields_on_the_class_are_instrumented_attributes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = _run(tmp_path, plugin=True)
    assert got == [
        "sqlalchemy.orm.attributes.InstrumentedAttribute[str]",
        "sqlalchemy.sql.elements.ColumnElement[bool]",
        "sqlalchemy.sql.elements.BinaryExpression[bool]",
        "sqlmodel.sql._expression_select_cls.SelectOfScalar[models.Row]",
        "int",  # a ClassVar is no column
        "sqlalchemy.orm.attributes.InstrumentedAttribute[str]",
        "str",  # not a table model
        "str",  # read on an instance: the value
    ], got
    # Again from mypy's cache: models.py is not analysed again, and the table flag must come from the cache.
    (tmp_path / "use.py").write_text(textwrap.dedent(USE) + "\nreveal_type(Row.id)\n", encoding="utf-8")
    out, err, _ = api.run(
        [
            "--config-file",
            str(tmp_path / "mypy.ini"),
            "--cache-dir",
            str(tmp_path / "cache"),
            str(tmp_path / "use.py"),
            str(tmp_path / "models.py"),
        ]
    )
    assert "InstrumentedAttribute[int | None]" in out, out


def test_without_the_plugin_mypy_reads_a_comparison_as_a_bool(tmp_path, monkeypatch):
    """What the plugin is for (if SQLModel ever ships its own typing, this fails and the plugin can go)."""
    monkeypatch.chdir(tmp_path)
    got = _run(tmp_path, plugin=False)
    assert got[0] == "str" and got[1] == "bool"
