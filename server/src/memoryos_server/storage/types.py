"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pgvector import Vector
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Embedding(TypeDecorator[np.ndarray]):
    """A float32 vector: pgvector's ``vector(dim)`` on PostgreSQL, raw float32 bytes on SQLite."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PgVector(self.dim))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        array = np.asarray(value, dtype=np.float32).reshape(-1)
        if dialect.name == "postgresql":
            return array  # sent in pgvector's binary form by VectorDumper
        return array.tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> np.ndarray | None:
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray, memoryview)):
            return np.frombuffer(bytes(value), dtype=np.float32)
        return np.asarray(value, dtype=np.float32)


class _PgVector(UserDefinedType[Any]):
    """pgvector's ``vector(dim)`` whose parameters go to psycopg as numpy arrays, for
    ``VectorDumper`` to send in binary. pgvector's own SQLAlchemy type writes every parameter
    as text first (``[0.0123,…]``): 0.8 ms a vector in Python, and as long again for the
    server to parse, on every search and every add."""

    cache_ok = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def get_col_spec(self, **_kw: Any) -> str:
        return f"VECTOR({self.dim})"

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            return None if value is None else Vector._from_db(value)

        return process


class VectorDumper(Dumper):
    """A float32 numpy vector as pgvector's binary ``vector`` (dimension, unused, big-endian
    floats). The oid stays 0: the server takes the type from the statement (a cast, or the
    column an insert fills), so no lookup of the extension's type is needed per connection."""

    format = Format.BINARY
    oid = 0

    def dump(self, obj: Any) -> bytes:
        array = np.asarray(obj, dtype=">f4").reshape(-1)
        return _VECTOR_HEADER.pack(array.shape[0], 0) + array.tobytes()


_VECTOR_HEADER = struct.Struct(">HH")


def utcnow() -> datetime:
    return datetime.now(UTC)
