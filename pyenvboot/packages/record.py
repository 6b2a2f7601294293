"""A RECORD file's paths (PEP 376 / the binary distribution format): one parser for every reader.

Imported before installers start, so ``csv`` is loaded only when a RECORD is parsed.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List


def record_paths(text: str) -> List[str]:
    """The paths ``text`` (a RECORD's content) lists, relative to its site-packages, in order.

    ValueError when it is not CSV (``csv.Error``: a NUL byte, say).
    """
    import csv

    try:
        return [row[0] for row in csv.reader(text.splitlines()) if row and row[0]]
    except csv.Error as exc:
        raise ValueError("RECORD is not CSV: %s" % exc) from None
