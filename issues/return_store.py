"""What the returned ledger (issues.return_service) reads besides the import's reads: the issues
a file names by code. Parameters only."""
from __future__ import annotations

import sqlite_utils


def issue_ids_by_code(db: sqlite_utils.Database, codes: list[str]) -> dict[str, int]:
    """{code: issue id} of the codes that name an issue."""
    out: dict[str, int] = {}
    for start in range(0, len(codes), 500):
        chunk = codes[start:start + 500]
        marks = ",".join("?" * len(chunk))
        out.update(db.conn.execute(f"SELECT code, id FROM issues WHERE code IN ({marks})",
                                   chunk).fetchall())
    return out
