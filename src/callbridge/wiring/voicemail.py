"""Builds the voicemail service and its mailer from the configuration; phones' message-waiting
lights follow it (RFC 3842 subscriptions, served by the engine), also its changes made on
other nodes sharing the database (:mod:`callbridge.calls.voicemail.lights`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callbridge.calls.voicemail import Announcements, Mailbox, Voicemail
from callbridge.calls.voicemail.audio import MessageAudio
from callbridge.calls.voicemail.lights import SharedLights
from callbridge.calls.voicemail.mail import MailSettings
from callbridge.calls.voicemail.mailer import SmtpSettings, SmtpTransport, VoicemailMailer
from callbridge.config import CallbridgeConfig
from callbridge.engine.engine import Engine
from callbridge.engine.subscription import MessageCounts
from callbridge.store.clock import Clock
from callbridge.store.database import Database
from callbridge.store.voicemail_audio import VoicemailAudioRepository
from callbridge.store.voicemails import VoicemailRepository

VOICEMAIL_FOLDER = "voicemail"  # under [media] recordings_dir


@dataclass(frozen=True)
class VoicemailParts:
    service: Voicemail
    mailer: VoicemailMailer
    audio: MessageAudio  # its ``load`` stores this node's files of messages kept before 0015


def build_voicemail(
    config: CallbridgeConfig,
    database: Database,
    clock: Clock,
    *,
    announcements: Announcements | None = None,
) -> VoicemailParts:
    """``announcements`` are the greetings by id (prompts' AnnouncementLibrary)."""
    repository = VoicemailRepository(database=database)
    audio = MessageAudio(
        stored=VoicemailAudioRepository(database=database),
        directory=Path(config.media.recordings_dir) / VOICEMAIL_FOLDER,
    )
    smtp = config.smtp
    mailer = VoicemailMailer(
        repository=repository,
        transport=SmtpTransport(
            SmtpSettings(
                host=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                starttls=smtp.starttls,
                tls=smtp.tls,
                timeout=smtp.timeout,
            )
        ),
        settings=MailSettings(sender=smtp.from_, public_url=config.http.base_url),
        clock=clock,
        retry_seconds=smtp.retry_seconds,
        node=config.calls.node,
        files=audio,
    )
    service = Voicemail(
        mailboxes=tuple(
            Mailbox(
                id=box.id,
                emails=box.email,
                announcement=box.announcement,
                max_seconds=box.max_seconds,
                users=box.users,
                as_attachment=box.as_attachment,
                api_keys=box.api_keys,
            )
            for box in config.mailboxes
        ),
        repository=repository,
        clock=clock,
        audio=audio,
        announcements=announcements,
        mail_queued=mailer.wake,
    )
    return VoicemailParts(service=service, mailer=mailer, audio=audio)


def wire_message_waiting(engine: Engine, counts: MessageCounts | None) -> None:
    """Phones' message-summary subscriptions read their counts from ``counts`` (voicemail's
    ``Voicemail``, which is told of changes through ``engine.message_waiting``); None: the
    package is not offered (489)."""
    if counts is not None:
        engine.message_waiting.serve(counts)


def shared_lights(engine: Engine, voicemail: Voicemail) -> SharedLights:
    """The check (its ``run``) that NOTIFYs this node's subscribers of changes made on any
    node."""
    return SharedLights(lights=engine.message_waiting, counts=voicemail)
