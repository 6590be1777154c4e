"""Problems found in evidence, and the exception that carries them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EvidenceError", "Problem"]


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in one place of an evidence base.

    Attributes
    ----------
    file : str
        File name relative to the evidence directory (``codings.csv``).
    line : int or None
        1-based line number in the file (the header is line 1), when the problem has a place.
    column : str or None
        Column (CSV) or key (TOML) name.
    value : str or None
        The offending value as written.
    expected : str
        What was expected instead, in plain words.
    """

    file: str
    line: int | None
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        place = self.file
        if self.line is not None:
            place += f":{self.line}"
        parts = [place]
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.value is not None:
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            parts.append(f"value {shown!r}")
        return ": ".join([", ".join(parts), self.expected])


class EvidenceError(Exception):
    """Evidence that failed validation; carries every problem found.

    Parameters
    ----------
    problems : list of Problem
        All problems, in file and line order.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=_order)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the evidence"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


def _order(p: Problem) -> tuple:
    return (p.file, p.line or 0, p.column or "", p.expected)
