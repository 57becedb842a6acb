"""ORM tables. Portable types only: SQLite by default, PostgreSQL-compatible.

Timestamps are stored as UTC and always come back timezone-aware (SQLite keeps no offset).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

# 64-bit ids on PostgreSQL, the rowid alias (``INTEGER PRIMARY KEY``) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class _SqliteDatetimeText(sqlite.DATETIME):
    """SQLite's ``DATETIME`` column (the schema is unchanged), its text passed through:
    :class:`UtcDateTime` converts it."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC ``datetime`` in, an aware UTC ``datetime`` out, on every backend.

    SQLite keeps the text SQLAlchemy's ``DATETIME`` writes (``2026-12-01 10:00:00.000000``,
    UTC), converted here by ``isoformat``/``fromisoformat`` rather than ``DATETIME``'s
    %-formatting and regular expression: a call stores and reads some twenty timestamps,
    and those processors were 3 % of the server's CPU."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _SqliteDatetimeText()  # type: ignore[no-untyped-call]
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None).isoformat(" ", "microseconds")
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        read: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return read.replace(tzinfo=UTC) if read.tzinfo is None else read.astimezone(UTC)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Base(DeclarativeBase):
    pass


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signing_secret: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    calls_per_second: Mapped[float | None] = mapped_column(Float)
    max_concurrent: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set when the key left the configuration: it no longer authenticates.
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ServerSecretRow(Base):
    """Secrets of the server itself (``api_key_pepper``: the key of the API keys' hashes)."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class CallRow(Base):
    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_created_at_sid", "created_at", "sid"),
        Index("ix_calls_api_key_created_at", "api_key_id", "created_at"),
        Index("ix_calls_node_ended_at", "node", "ended_at"),
        Index("ix_calls_parent_sid", "parent_sid"),
        Index("ix_calls_external_id", "external_id"),
        Index("ix_calls_call_id", "call_id"),
    )

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_key_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("api_keys.id"))
    parent_sid: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    from_: Mapped[str] = mapped_column("from", String(200))
    to: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(8))
    status_callback: Mapped[str | None] = mapped_column(Text)
    status_callback_method: Mapped[str] = mapped_column(String(8))
    status_callback_events: Mapped[list[str]] = mapped_column(JSON)
    secret_key: Mapped[str | None] = mapped_column(String(200))
    optional: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    duration: Mapped[int | None]
    hangup_cause: Mapped[str | None] = mapped_column(String(1024))
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    sip_code: Mapped[int | None]
    recording_url: Mapped[str | None] = mapped_column(Text)
    node: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(256))
    # seed-004's call_id: SHA-256 of the sid in hex (callbridge.store.call_ids), as the notify
    # and call-control posts carry it: the API finds a call by it.
    call_id: Mapped[str | None] = mapped_column(String(64))
    # The answered leg's SIP dialog (callbridge.sip.dialog.DialogSnapshot as JSON) while the
    # call is live: a restart after a crash sends it a BYE.  Cleared when the call ends.
    sip_dialog: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # The seq of the latest event; bumped with UPDATE ... RETURNING so concurrent
    # writers of one call's events serialise on the call row.
    last_event_seq: Mapped[int] = mapped_column(Integer, default=0)
    # How many status callbacks (delivery rows) the call has queued: the next one's
    # SequenceNumber.  Bumped in the transaction that writes the delivery row.
    callback_count: Mapped[int] = mapped_column(Integer, server_default="0")


class CallEventRow(Base):
    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_sid", "seq", name="uq_call_events_call_sid_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    call_sid: Mapped[str] = mapped_column(String(64), ForeignKey("calls.sid"))
    seq: Mapped[int]
    name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class DeliveryRow(Base):
    """The transactional outbox: one row per webhook request still owed or already made."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("call_sid", "seq", name="uq_deliveries_call_sid_seq"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_deliveries_claimed_by", "claimed_by"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    call_sid: Mapped[str] = mapped_column(String(64), ForeignKey("calls.sid"))
    seq: Mapped[int]
    url: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(8))
    params: Mapped[dict[str, str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None]
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RecordingRow(Base):
    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_call_sid", "call_sid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    call_sid: Mapped[str] = mapped_column(String(64), ForeignKey("calls.sid"))
    path: Mapped[str] = mapped_column(Text)
    duration: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IdempotencyRow(Base):
    """The first reply to a request with an ``Idempotency-Key`` (kept 24 hours); a claim
    while ``status_code`` is null."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    api_key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status_code: Mapped[int | None]
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))


class VoicemailRow(Base):
    """A message left in a mailbox: its WAV file and who left it when (migration 0010)."""

    __tablename__ = "voicemails"
    __table_args__ = (Index("ix_voicemails_mailbox", "mailbox", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mailbox: Mapped[str] = mapped_column(String(64))
    caller: Mapped[str] = mapped_column(String(255))
    number: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration: Mapped[float] = mapped_column(Float)
    path: Mapped[str] = mapped_column(Text)
    token: Mapped[str] = mapped_column(String(64))  # the mailed link's secret
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class VoicemailMailRow(Base):
    """A mail owed for a message: the durable, ordered queue (sent in id order, once)."""

    __tablename__ = "voicemail_mails"
    __table_args__ = (Index("ix_voicemail_mails_sent_at", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    voicemail_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("voicemails.id", ondelete="CASCADE")
    )
    recipients: Mapped[str] = mapped_column(Text)  # comma-separated addresses
    as_attachment: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    given_up_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # refused for good
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the node sending it
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AnnouncementRow(Base):
    """An uploaded announcement (the media library); its audio is in ``announcement_audio``."""

    __tablename__ = "announcements"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "file" or "text"
    text: Mapped[str | None] = mapped_column(Text)
    voice: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    duration: Mapped[float] = mapped_column(Float)
    api_key_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class QueueStatisticsRow(Base):
    """What became of a queue's callers, added up over every node (migration 0013)."""

    __tablename__ = "queue_statistics"

    queue_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    overflowed: Mapped[int] = mapped_column(Integer, default=0)
    left_queue: Mapped[int] = mapped_column(Integer, default=0)  # <Leave/>
    wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # of waited answers
    waited_answers: Mapped[int] = mapped_column(Integer, default=0)


class QueueMemberStatisticsRow(Base):
    """The calls of a queue a member answered (migration 0013), and when it answered the
    last (migration 0017; the ``leastrecent`` strategy's order)."""

    __tablename__ = "queue_member_statistics"

    queue_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    extension: Mapped[str] = mapped_column(String(64), primary_key=True)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    last_answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AnnouncementAudioRow(Base):
    """An uploaded announcement's audio, 8 kHz mono 16-bit PCM (every node plays it)."""

    __tablename__ = "announcement_audio"

    announcement_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True
    )
    pcm: Mapped[bytes] = mapped_column(LargeBinary)


class VoicemailAudioRow(Base):
    """A voicemail message's WAV file as recorded (every node serves and mails it)."""

    __tablename__ = "voicemail_audio"

    voicemail_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("voicemails.id", ondelete="CASCADE"), primary_key=True
    )
    wav: Mapped[bytes] = mapped_column(LargeBinary)
