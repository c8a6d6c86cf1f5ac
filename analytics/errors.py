"""Project errors: every message names the file, the column and example values."""

from __future__ import annotations

from collections.abc import Iterable


class ChurnLensError(Exception):
    """Base class of every error ChurnLens reports to a user (CLI exit 2, page banner)."""


class DataError(ChurnLensError):
    """Input data that cannot be used; the message says where and shows examples."""

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None,
                 examples: Iterable[str] = ()) -> None:
        self.file = file
        self.column = column
        self.examples = list(examples)
        parts = []
        if file:
            parts.append(f"{file}")
        if column:
            parts.append(f"column '{column}'")
        where = ": ".join(parts)
        text = f"{where}: {message}" if where else message
        if self.examples:
            text += " (e.g. " + "; ".join(self.examples) + ")"
        super().__init__(text)


def row_examples(values, row_numbers, limit: int = 3) -> list[str]:
    """Format up to `limit` bad values as 'row N: 'value'' (row numbers as a spreadsheet shows them)."""
    out = []
    for value, row in list(zip(values, row_numbers))[:limit]:
        out.append(f"row {row}: {value!r}")
    return out
