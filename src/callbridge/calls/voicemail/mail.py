"""The mail of one message (pure): its details, and the MP3 attached or an authenticated
link to it.  The ``Message-ID`` is the queue entry's, the same on every attempt, so a
receiver can drop the copy of a mail whose sending was cut short after delivery."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

from callbridge.store.voicemails import VoicemailRecord


@dataclass(frozen=True, kw_only=True)
class MailSettings:
    sender: str  # the From header
    public_url: str  # the base of the links
    domain: str = "callbridge"  # of the Message-ID


def message_link(public_url: str, record: VoicemailRecord, suffix: str) -> str:
    """The message's audio, readable without an API key by whoever has the link."""
    base = public_url.rstrip("/")
    return f"{base}/api/v2/voicemails/{record.id}.{suffix}?token={record.token}"


def compose(
    settings: MailSettings,
    *,
    mail_id: int,
    recipients: tuple[str, ...],
    record: VoicemailRecord,
    mp3: bytes | None,
) -> EmailMessage:
    """The mail; ``mp3`` attached when given, else the links."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"Voicemail from {record.caller or 'unknown'} ({round(record.duration)} s)"
    message["Date"] = format_datetime(record.created_at)
    stamp = int(record.created_at.timestamp())
    message["Message-ID"] = f"<voicemail-{mail_id}-{stamp}@{settings.domain}>"
    message["X-Callbridge-Voicemail"] = str(record.id)
    lines = [
        f"A new message in mailbox {record.mailbox}.",
        "",
        f"From:     {record.caller or 'unknown'}",
        f"To:       {record.number}",
        f"Time:     {record.created_at.isoformat(timespec='seconds')}",
        f"Duration: {record.duration:.0f} s",
        "",
    ]
    if mp3 is None:
        lines += [
            "Listen: " + message_link(settings.public_url, record, "mp3"),
            "WAV:    " + message_link(settings.public_url, record, "wav"),
            "",
        ]
    message.set_content("\n".join(lines))
    if mp3 is not None:
        message.add_attachment(
            mp3, maintype="audio", subtype="mpeg", filename=f"voicemail-{record.id}.mp3"
        )
    return message
