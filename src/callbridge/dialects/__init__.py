"""Dialects: pure translations of external documents into call-flow programs (no I/O)."""

from callbridge.dialects.errors import DialectError, InvalidDocument
from callbridge.dialects.voicexml import MAX_DOCUMENT_BYTES, parse_voice_xml

__all__ = ["MAX_DOCUMENT_BYTES", "DialectError", "InvalidDocument", "parse_voice_xml"]
