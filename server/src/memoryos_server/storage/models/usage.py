"""Daily counts of what an organisation's backends and agents do, for the dashboard's Usage."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from memoryos_server.storage.models.base import Base
from memoryos_server.storage.types import BigIntPK


class UsageDay(Base):
    """How many times one thing (``metric``: adds, retrievals) happened in one tenant on one UTC day."""

    __tablename__ = "usage_days"
    __table_args__ = (UniqueConstraint("tenant_id", "day", "metric"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD, UTC
    metric: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(Integer, default=0)
