"""A mypy plugin for SQLModel table models (``class X(SQLModel, table=True)``), which ships none.

SQLModel declares a column as a plain annotation (``start: datetime = Field(...)``), so mypy reads ``Meeting.start``
as a ``datetime`` and every query (``Meeting.start > t``, ``Meeting.id.in_(ids)``, ``select(Meeting.id)``) as a
bool or a missing attribute: the "SQLModel noise". At runtime the class attribute is SQLAlchemy's
``InstrumentedAttribute``, and this plugin says so: a field of a table model read **on the class** is
``sqlalchemy.orm.InstrumentedAttribute[<its type>]``, so the comparisons are SQL expressions typed by SQLAlchemy's
own stubs. Fields read on instances, and non-table models, are typed as declared (a primary key stays
``int | None``: mypy 2.4 does not call the instance-attribute hook for them, so narrowing it here was tried and
dropped). Enabled in pyproject.toml's
``[tool.mypy] plugins``.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import NameExpr, TypeInfo, Var
from mypy.plugin import AttributeContext, ClassDefContext, Plugin
from mypy.types import Instance, Type

SQLMODEL = "sqlmodel.main.SQLModel"
INSTRUMENTED = "sqlalchemy.orm.attributes.InstrumentedAttribute"
META = "tsm_sqlmodel"


def _is_table(info: TypeInfo) -> bool:
    """A class with ``table=True`` in its MRO. The keyword is read when the class is defined (``_note_table``) and
    kept in the class's plugin metadata, which mypy's cache keeps (a class loaded from the cache has no keywords)."""
    if not info.has_base(SQLMODEL) or info.fullname == SQLMODEL:
        return False
    return any(cls.metadata.get(META, {}).get("table") for cls in info.mro)


def _note_table(ctx: ClassDefContext) -> None:
    table = ctx.cls.keywords.get("table")
    if isinstance(table, NameExpr) and table.fullname == "builtins.True":
        ctx.cls.info.metadata.setdefault(META, {})["table"] = True


def _field_owner(info: TypeInfo, name: str) -> TypeInfo | None:
    """The class of the MRO that declares ``name`` as a field (an annotated, non-ClassVar attribute of a subclass
    of SQLModel), or None."""
    if name.startswith("_"):
        return None
    for cls in info.mro:
        if cls.fullname == SQLMODEL or not cls.has_base(SQLMODEL):
            continue
        sym = cls.names.get(name)
        if sym is None:
            continue
        node = sym.node
        if isinstance(node, Var) and not node.is_classvar and not node.is_property and node.type is not None:
            return cls
        return None
    return None


class SQLModelPlugin(Plugin):
    def get_customize_class_mro_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        # Called for every class statement (cheap). Not the base-class hook: pydantic's plugin takes that one for
        # every model, and mypy calls only the first plugin's.
        return _note_table

    def _table_field(self, fullname: str) -> tuple[TypeInfo, str] | None:
        cls_name, _, attr = fullname.rpartition(".")
        sym = self.lookup_fully_qualified(cls_name)
        if sym is None or not isinstance(sym.node, TypeInfo) or not _is_table(sym.node):
            return None
        owner = _field_owner(sym.node, attr)
        return (owner, attr) if owner is not None else None

    def get_class_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        if self._table_field(fullname) is None:
            return None

        def column(ctx: AttributeContext) -> Type:
            sym = self.lookup_fully_qualified(INSTRUMENTED)
            if sym is None or not isinstance(sym.node, TypeInfo):  # SQLAlchemy not in this build
                return ctx.default_attr_type
            return Instance(sym.node, [ctx.default_attr_type])

        return column


def plugin(version: str) -> type[Plugin]:
    return SQLModelPlugin
