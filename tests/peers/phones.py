"""Baresip phones registered to a registrar under test (the engine, in the engine and call
tests): start one through the ``baresip`` fixture and wait until its REGISTER is accepted."""

from __future__ import annotations

from typing import Any

from .baresip import Baresip
from .conftest import BaresipFactory


async def registered_phone(
    baresip: BaresipFactory,
    user: str,
    *,
    registrar: str,
    password: str,
    name: str | None = None,
    timeout: float = 10.0,
    **options: Any,
) -> Baresip:
    """A baresip phone ``name`` (default ``user``) registered at ``registrar`` ("host:port")
    as ``user``; returns once REGISTER_OK came (TimeoutError after ``timeout`` s).

    ``options`` go to the fixture as they are, e.g. ``tone_hz``, ``regint``."""
    phone = await baresip(
        name or user, user=user, registrar=registrar, password=password, **options
    )
    await phone.wait_event("REGISTER_OK", timeout=timeout)
    return phone
