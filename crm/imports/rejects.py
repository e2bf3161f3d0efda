"""The rejects file: every rejected row with its original cells, its line, the failing fields and why.

It is a CSV the user can fix and import again: the original columns keep their headers and order (the
remembered mapping still fits), followed by ``line``, ``field`` and ``reason``. Every cell goes through
:func:`crm.exports.cells.safe_cell`, so a cell a spreadsheet would run as a formula is quoted.
"""

import csv
import tempfile
from collections.abc import Iterable
from typing import IO

from ..exports.cells import safe_cell

EXTRA = ("line", "field", "reason")


class RejectsWriter:
    """Streams rejected rows into a temporary file (bounded memory); :meth:`file` hands it over at the end."""

    def __init__(self, headers: list[str], delimiter: str = ",") -> None:
        self.headers = headers
        lowered = {h.lower() for h in headers}
        extra = [f"reject_{name}" if name in lowered else name for name in EXTRA]
        # utf-8-sig: Excel opens it with the right characters; the importer reads the BOM back.
        self._file: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file, delimiter=delimiter if delimiter in ",;\t|" else ",")
        self._writer.writerow([safe_cell(h) for h in [*headers, *extra]])
        self.count = 0

    def write(self, line: int, record: dict[str, str], problems: Iterable[tuple[str, str]]) -> None:
        """One rejected row; ``problems`` are ``(field as the user knows it, reason)`` pairs."""
        problems = list(problems)
        fields = "; ".join(dict.fromkeys(name for name, _ in problems))
        if len(problems) == 1:
            reason = problems[0][1]
        else:
            reason = "; ".join(f"{name}: {why}" for name, why in problems)
        cells = [record.get(h, "") for h in self.headers]
        self._writer.writerow([safe_cell(c) for c in (*cells, str(line), fields, reason)])
        self.count += 1

    def file(self) -> IO[bytes]:
        """The finished file, rewound, as bytes (for ``FieldFile.save``)."""
        self._file.flush()
        self._file.buffer.seek(0)
        return self._file.buffer  # type: ignore[attr-defined, no-any-return]

    def close(self) -> None:
        self._file.close()
