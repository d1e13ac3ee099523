"""The repository base: a session and a few helpers. All SQL lives in repositories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

T = TypeVar("T")


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def one_or_none(self, statement: Select[tuple[T]]) -> T | None:
        return self.session.execute(statement.limit(1)).scalars().first()

    def all(self, statement: Select[tuple[T]]) -> Sequence[T]:
        return self.session.execute(statement).scalars().all()

    def count(self, statement: Select[Any]) -> int:
        return int(self.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one())

    def upsert(self, model: Any) -> Any:
        """An INSERT with this database's ``on_conflict_do_update`` (SQLite and PostgreSQL both
        have it, each under its own dialect)."""
        dialect = self.session.get_bind().dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)

    def add(self, obj: T) -> T:
        self.session.add(obj)
        self.session.flush()
        return obj

    def delete(self, obj: object) -> None:
        self.session.delete(obj)
        self.session.flush()
