"""Bitrix24's text-to-speech voice ids (``VOICE`` of ``voximplant.callback.start``, the ids
``voximplant.tts.voices.get`` lists there) and the espeak-ng voice that speaks for each.

Bitrix24 names a voice by language and sex (``ruinternalfemale``, ``eurgermanmale``,
``usenglishfemale``, ...); each maps to the espeak-ng voice of that language with its
female (``+f3``) or male (``+m3``) variant.  A Bitrix24 id whose language espeak-ng does not
have installed is not offered.  The ids are those of Bitrix24's ``voximplant`` module, plus
the short forms some older integrations send (``deinternalfemale``, ``internalfemale``).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class BitrixVoice:
    id: str
    espeak: str  # voice+variant, e.g. "ru+f3"
    name: str


def _pair(stem: str, language: str, espeak: str, *, male: bool = True) -> list[BitrixVoice]:
    voices = [BitrixVoice(f"{stem}female", f"{espeak}+f3", f"{language} (female)")]
    if male:
        voices.append(BitrixVoice(f"{stem}male", f"{espeak}+m3", f"{language} (male)"))
    return voices


BITRIX_VOICES: tuple[BitrixVoice, ...] = (
    *_pair("auenglish", "Australian English", "en-gb", male=False),
    *_pair("brportuguese", "Brazilian Portuguese", "pt-br", male=False),
    *_pair("caenglish", "Canadian English", "en-us", male=False),
    *_pair("cafrench", "Canadian French", "fr-fr"),
    *_pair("chchinese", "Chinese", "cmn"),
    *_pair("eurcatalan", "Catalan", "ca", male=False),
    *_pair("eurczech", "Czech", "cs", male=False),
    *_pair("eurdanish", "Danish", "da", male=False),
    *_pair("eurdutch", "Dutch", "nl", male=False),
    *_pair("eurfinnish", "Finnish", "fi", male=False),
    *_pair("eurfrench", "French", "fr-fr"),
    *_pair("eurgerman", "German", "de"),
    *_pair("euritalian", "Italian", "it"),
    *_pair("eurnorwegian", "Norwegian", "nb", male=False),
    *_pair("eurpolish", "Polish", "pl", male=False),
    *_pair("eurportuguese", "Portuguese", "pt"),
    *_pair("eurspanish", "Spanish", "es"),
    *_pair("eurturkish", "Turkish", "tr"),
    *_pair("hkchinese", "Hong Kong Cantonese", "yue", male=False),
    *_pair("huhungarian", "Hungarian", "hu", male=False),
    *_pair("jpjapanese", "Japanese", "ja"),
    *_pair("krkorean", "Korean", "ko"),
    *_pair("ruinternal", "Russian", "ru"),
    *_pair("swswedish", "Swedish", "sv", male=False),
    *_pair("twchinese", "Taiwanese Chinese", "cmn", male=False),
    *_pair("ukenglish", "British English", "en-gb"),
    *_pair("usenglish", "American English", "en-us"),
    *_pair("usspanish", "American Spanish", "es-419"),
    *_pair("deinternal", "German", "de"),
    *_pair("internal", "English", "en-us"),
)
_BY_ID = {voice.id: voice for voice in BITRIX_VOICES}


def language_of(espeak: str) -> str:
    return espeak.split("+", 1)[0]


def bitrix_voice(value: str, installed: Collection[str]) -> str | None:
    """The espeak-ng voice a Bitrix24 voice id (any case) names, if its language is among
    ``installed`` (espeak-ng voice ids)."""
    voice = _BY_ID.get(value.lower())
    if voice is None or language_of(voice.espeak) not in installed:
        return None
    return voice.espeak


def bitrix_voices_offered(installed: Collection[str]) -> dict[str, str]:
    """Bitrix24 voice id → name, for the ids whose language is among ``installed``."""
    return {v.id: v.name for v in BITRIX_VOICES if language_of(v.espeak) in installed}
