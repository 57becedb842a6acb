"""[[lines]] and [[numbers]] as the call services and the inbound handler see them."""

from __future__ import annotations

from callbridge.calls.inbound.numbers import InboundNumber
from callbridge.calls.lines import Line
from callbridge.calls.request import StatusCallback
from callbridge.config import CallbridgeConfig
from callbridge.config_control import number_control
from callbridge.store.repository import ApiKeyRepository
from callbridge.webhooks.params import CallbackEvent


def configured_lines(config: CallbridgeConfig) -> tuple[Line, ...]:
    return tuple(
        Line(
            id=line.id,
            name=line.display_name,
            users=line.users,
            numbers=line.numbers,
            ring_timeout=line.ring_timeout,
            forward_to=line.forward_to,
            forward_timeout=line.forward_timeout,
            number=line.number,
            api_keys=line.api_keys,
        )
        for line in config.lines
    )


async def inbound_numbers(
    config: CallbridgeConfig, keys: ApiKeyRepository
) -> tuple[InboundNumber, ...]:
    """The configured [[numbers]], each with its key's id as stored and its line."""
    lines = {line.id: line for line in configured_lines(config)}
    numbers: list[InboundNumber] = []
    for number in config.numbers:
        key_id = None
        if number.api_key is not None:
            key = next(k for k in config.api_keys if k.name == number.api_key)
            record = await keys.find_by_key(key.key)
            key_id = None if record is None else record.id
        callback = None
        if number.status_callback is not None:
            callback = StatusCallback(
                url=number.status_callback,
                events=tuple(CallbackEvent(each) for each in number.status_callback_event.split()),
            )
        numbers.append(
            InboundNumber(
                number=number.number,
                voice_url=number.voice_url,
                voice_method=number.voice_method,
                user=number.user,
                line=None if number.line is None else lines[number.line],
                forward_to=number.forward_to,
                queue=number.queue,
                status_callback=callback,
                api_key_id=key_id,
                api_key_name=number.api_key,
                mailbox=number.mailbox,
                record=number.record,
                control=number_control(
                    number=number.number,
                    control_url=number.control_url,
                    control_retries=number.control_retries,
                    control_timeout=number.control_timeout,
                    notify_url=number.notify_url,
                    announcement=number.announcement,
                    backup=number.backup,
                    mailbox=number.mailbox,
                ),
            )
        )
    return tuple(numbers)
