"""Whole numbers typed by people (environment variables, link parameters, ports, device indices).

ASCII digits only: ``str.isdigit()`` also accepts superscripts and other scripts' digits ('²', '٣'), which
``int()`` then refuses with a traceback, so a link with ``?point=²`` or ``VAE_EXPLORER_MAX_TRAININGS=²`` must
be read here, where it is simply not a number.
"""

from __future__ import annotations


def whole_number(text: str | None) -> int | None:
    """TEXT as a whole number of ASCII digits (surrounding spaces ignored), else None."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if text and text.isascii() and text.isdigit() else None
