"""Verification of a database as evidence, in one report: SQLite's integrity and the keyed
history chain (against any anchors given), history replayed against the live tables
(audit.store.live_check), and the evidence files against their SHA-256 (left out when quick).
Used by `python -m audit verify`, the backup (the copy) and the restore (the backup)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import sqlite_utils

from audit.store import history
from audit.store.evidence_files import EvidenceCheck, check_files
from audit.store.live_check import LiveCheck, check_live_tables


@dataclass
class Report:
    """What verify found. `problem` is the first problem in one line ('' when ok); `stage`
    names the check it came from ('chain', 'tables' or 'evidence')."""

    chain: history.VerifyResult
    tables: LiveCheck | None = None
    evidence: EvidenceCheck | None = None
    anchors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.chain.ok and (self.tables is None or self.tables.ok)
                and (self.evidence is None or self.evidence.ok))

    @property
    def stage(self) -> str:
        if not self.chain.ok:
            return "chain"
        if self.tables is not None and not self.tables.ok:
            return "tables"
        if self.evidence is not None and not self.evidence.ok:
            return "evidence"
        return ""

    @property
    def problem(self) -> str:
        stage = self.stage
        if stage == "chain":
            return self.chain.problem
        if stage == "tables":
            n = self.tables.mismatches
            return (f"live tables differ from history: {self.tables.first.describe()}"
                    + (f" ({n - 1} more difference(s))" if n > 1 else ""))
        if stage == "evidence":
            return self.evidence.describe()
        return ""

    def as_dict(self) -> dict:
        """The report as plain data (the CLI's --json)."""
        c = self.chain
        out = {"ok": self.ok, "problem": self.problem, "stage": self.stage or None,
               "records": c.records, "integrity": c.integrity, "first_bad_seq": c.first_bad_seq,
               "anchor": f"{c.anchor[0]}:{c.anchor[1]}" if c.anchor else None,
               "keyed_from": c.keyed_from, "key_id": c.key_id, "anchors_checked": self.anchors,
               "warnings": list(c.warnings), "tables": None, "evidence": None}
        if self.tables is not None:
            t = self.tables
            out["tables"] = {"rows": t.rows, "values": t.values, "mismatches": t.mismatches,
                             "first": None if t.first is None else {
                                 "kind": t.first.kind, "table": t.first.table,
                                 "row": t.first.row, "field": t.first.field,
                                 "live": t.first.live, "history": t.first.history,
                                 "seq": t.first.seq, "text": t.first.describe()}}
        if self.evidence is not None:
            e = self.evidence
            out["evidence"] = {"files": e.files, "bytes": e.bytes,
                               "missing": [m["sha256"] for m in e.missing],
                               "changed": [m["sha256"] for m in e.changed],
                               "first": e.describe() or None}
        return out


def verify_database(db: sqlite_utils.Database, *, anchors: Iterable[tuple[int, str]] = (),
                    key: bytes | None | object = history.CONFIGURED,
                    evidence_root: Path | None = None, quick: bool = False) -> Report:
    """Every check of the module docstring. The live tables are compared only when the chain
    holds (a broken chain is the finding); evidence files are read unless `quick` or no
    `evidence_root` is given. Raises KeyUnusable for a malformed configured key."""
    anchors = list(anchors)
    chain = history.verify(db, key=key, anchors=anchors)
    report = Report(chain, anchors=[f"{s}:{h}" for s, h in anchors])
    if not chain.ok:
        return report
    report.tables = check_live_tables(db)
    if not quick and evidence_root is not None:
        report.evidence = check_files(db, Path(evidence_root))
    return report
