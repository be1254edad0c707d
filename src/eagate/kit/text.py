"""Checks shared by every free-text field: what characters a stored string may hold."""

from __future__ import annotations

import unicodedata

# Control characters, surrogates, unassigned and private-use code points. NUL above all:
# PostgreSQL cannot store it, and no client means it.
_FORBIDDEN = {"Cc", "Cs", "Cn", "Co"}


def reject_control_characters(value: str, *, allow: str = "") -> str:
    """``value`` unchanged, or ValueError naming the first forbidden character."""
    for char in value:
        if char not in allow and unicodedata.category(char) in _FORBIDDEN:
            raise ValueError(f"must not contain the character U+{ord(char):04X}")
    return value


def single_line(value: str) -> str:
    return reject_control_characters(value)


def multi_line(value: str) -> str:
    """Free text that may span lines (an error message from a terminal)."""
    return reject_control_characters(value, allow="\n\r\t")
