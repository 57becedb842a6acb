"""PreparedStatement: a hot Core statement run on SQLite's driver, compiled once.

SQLAlchemy stays the only author of the SQL, its types the only converters of values;
what is skipped is its per-execution machinery.  In the outbound-call bench's profile
(60 calls/s) a Core execution cost about 60 µs of CPU beyond sqlite3's own 15 µs — the
compiled-cache lookup, the execution context, building the parameters and the result —
and with some twenty statements per call that was a fifth of the server's CPU.

A prepared statement is compiled once for each driver and set of parameter names it is
executed with (as Core's compiled cache keys it).  On SQLite it then binds the values in the
compiled order through the types' own bind processors, runs the string on the DBAPI
cursor of the connection (so inside the connection's transaction) and passes the
returned columns through the types' result processors.  On any other dialect it is an
ordinary ``connection.execute``.  Statements whose execution needs more (Python-side
column defaults, expanding ``IN`` parameters) are refused when compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.expression import SelectBase

Processor = Callable[[Any], Any] | None
Statement = SelectBase | UpdateBase
T = TypeVar("T")


class NotPreparable(Exception):
    """The statement's execution needs SQLAlchemy's machinery (a programming error)."""


@dataclass(frozen=True)
class Returned:
    """What an execution answered: the returned rows (as tuples) and the rows changed."""

    rows: Sequence[tuple[Any, ...]]
    rowcount: int

    def one_or_none(self) -> tuple[Any, ...] | None:
        if len(self.rows) > 1:
            raise ValueError(f"{len(self.rows)} rows returned where at most one was expected")
        return self.rows[0] if self.rows else None

    def one(self) -> tuple[Any, ...]:
        row = self.one_or_none()
        if row is None:
            raise ValueError("no row returned where one was expected")
        return row


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    literals: Mapping[str, Any]
    binders: tuple[Processor, ...]
    readers: tuple[Processor, ...]


class PreparedStatement:
    """``statement``, executed on SQLite's driver (see the module's text)."""

    def __init__(self, statement: Statement) -> None:
        self._statement = statement
        self._columns = tuple(column.key for column in _returned_columns(statement))
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    @property
    def columns(self) -> tuple[str, ...]:
        """The keys of the returned columns, in their order."""
        return self._columns

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> Returned:
        if connection.dialect.name != "sqlite":
            result = connection.execute(self._statement, dict(params))  # type: ignore[arg-type]
            rows = [tuple(row) for row in result] if result.returns_rows else []
            return Returned(rows=rows, rowcount=result.rowcount)
        compiled = self._compile(connection.dialect, params)
        values = _bound(compiled, params)

        def run(cursor: Any) -> Returned:
            cursor.execute(compiled.sql, values)
            rows = [_read(compiled.readers, row) for row in cursor.fetchall()]
            return Returned(rows=rows, rowcount=cursor.rowcount)

        return _on_cursor(connection, compiled, values, run)

    def execute_many(self, connection: Connection, params: Sequence[Mapping[str, Any]]) -> int:
        """Run once per parameter set (no rows returned); the rows changed in all (one
        execution each elsewhere: asyncpg reports -1 for an executemany)."""
        if not params:
            return 0
        if connection.dialect.name != "sqlite":
            return sum(self.execute(connection, one).rowcount for one in params)
        compiled = self._compile(connection.dialect, params[0])
        values = [_bound(compiled, one) for one in params]

        def run(cursor: Any) -> int:
            cursor.executemany(compiled.sql, values)
            return int(cursor.rowcount)

        return _on_cursor(connection, compiled, values, run)

    def _compile(self, dialect: Dialect, params: Mapping[str, Any]) -> _Compiled:
        keys = tuple(params)
        compiled = self._compiled.get((dialect.driver, keys))
        if compiled is None:
            compiled = _compile(self._statement, keys, dialect)
            self._compiled[dialect.driver, keys] = compiled
        return compiled


def _on_cursor(
    connection: Connection, compiled: _Compiled, values: Any, run: Callable[[Any], T]
) -> T:
    """``run`` on a DBAPI cursor of the connection (inside its transaction); the DBAPI's
    errors come out as Core would have raised them (``IntegrityError`` and so on)."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None, "the connection was closed"
    cursor = dbapi_connection.cursor()
    error = connection.dialect.loaded_dbapi.Error
    try:
        return run(cursor)
    except error as exc:
        raise DBAPIError.instance(compiled.sql, values, exc, error) from exc
    finally:
        cursor.close()


def _compile(statement: Statement, keys: Sequence[str], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler)
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise NotPreparable(f"{statement} needs Python-side column defaults")
    if compiled.positiontup is None:
        raise NotPreparable(f"the {dialect.name} dialect's parameters are not positional")
    binds = compiled.binds
    if any(bind.expanding for bind in binds.values()):
        raise NotPreparable(f"{statement} has an expanding IN parameter")
    names = tuple(compiled.positiontup)
    missing = [name for name in names if name not in keys and binds[name].required]
    if missing:
        raise NotPreparable(f"{statement} needs parameters {missing}, not declared")
    return _Compiled(
        sql=compiled.string,
        names=names,
        literals={n: binds[n].effective_value for n in names if n not in keys},
        binders=tuple(binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names),
        readers=tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in _returned_columns(statement)
        ),
    )


def _returned_columns(statement: Statement) -> Sequence[Any]:
    """The columns of a SELECT, or of an INSERT/UPDATE's RETURNING (none without)."""
    return list(statement.exported_columns)


def _bound(compiled: _Compiled, params: Mapping[str, Any]) -> list[Any]:
    """The values in the compiled order, through their types' bind processors (whose
    errors come out as Core's ``StatementError``, as from ``connection.execute``)."""
    values = []
    for name, binder in zip(compiled.names, compiled.binders, strict=True):
        value = params[name] if name in params else compiled.literals[name]
        try:
            values.append(value if binder is None else binder(value))
        except Exception as exc:
            message = f"({type(exc).__module__}.{type(exc).__name__}) {exc}"
            raise StatementError(message, compiled.sql, dict(params), exc) from exc
    return values


def _read(readers: tuple[Processor, ...], row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(
        value if reader is None else reader(value)
        for reader, value in zip(readers, row, strict=True)
    )
