"""Device names: what is allowed, and the key that makes them unique case-insensitively."""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 100

# Control characters (tabs and newlines included), line/paragraph separators, surrogates,
# unassigned code points, and the bidi overrides that let a name display as another.
_FORBIDDEN_CATEGORIES = {"Cc", "Cs", "Cn", "Co", "Zl", "Zp"}
_BIDI_CONTROLS = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))


def clean_device_name(raw: str) -> str:
    """The name as it will be stored: validated, then trimmed. Raises ValueError."""
    for char in raw:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES or ord(char) in _BIDI_CONTROLS:
            raise ValueError(f"device_name must not contain the character U+{ord(char):04X}")
    name = raw.strip()
    if not name:
        raise ValueError("device_name must not be empty or only whitespace")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"device_name must be at most {MAX_NAME_CHARS} characters")
    return name


def name_key(name: str) -> str:
    """NFC + casefold (then NFC again: casefolding can denormalize), for the unique index."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
