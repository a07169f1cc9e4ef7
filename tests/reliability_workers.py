"""Worker processes for the reliability tests: `python -m tests.reliability_workers MODE ARGS`.

Each worker opens the database file itself (its own connection, as a second user or a second
app process would) and acts only through the services.

Modes:
- edit DB WORKER EDITS ISSUE_IDS OUT: read-then-write edits (update_progress / edit_issue with
  the version read just before) on a few shared issues; writes what it believes it applied,
  how many were refused as stale, and any OperationalError, to OUT (JSON).
- crash DB OP STOP_AT: runs one batch operation (OP: batch_create, merge, batch_end, import)
  in ONE write transaction, counting the SQL statements it executes. Before statement
  STOP_AT it prints "at N SQL" and waits to be killed (kill -9); STOP_AT 0 waits after the
  COMMIT instead. When the operation finishes it
  prints "done N COMMIT_AT" (COMMIT_AT: the number of the statement that committed).
- write DB WORKER LOG SECONDS: keeps updating progress notes; after each commit appends
  "seq<TAB>issue<TAB>value" to LOG (flushed) so a test knows what was committed when.
"""
from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
from pathlib import Path

from audit import login_service
from issues import merge_service

AT = "2026-11-23T09:00:00+08:00"
BATCH_TITLE = "批量导入问题"


def _actor(db, username: str):
    uid = db.conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()[0]
    return login_service.actor_for(db, uid)


def _wait_for(path: Path, timeout: float = 60) -> None:
    """Start together: wait until the test creates the go-file."""
    end = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > end:
            raise SystemExit("no go signal")
        time.sleep(0.005)


# --- lost updates -----------------------------------------------------------------------------


def edit(db_path: str, worker: int, edits: int, issue_ids: list[int], out: str) -> None:
    """Read-then-write edits through the services; record what was applied and refused."""
    from audit.model import StaleEdit
    from audit.store.db import open_database
    from issues import service as issues

    db = open_database(db_path)
    lead, lead2 = _actor(db, "lead"), _actor(db, "lead2")
    rnd = random.Random(worker)
    applied: list[dict] = []
    refused = 0
    operational: list[str] = []
    other: list[str] = []
    _wait_for(Path(out + ".go"))
    for k in range(edits):
        iid = rnd.choice(issue_ids)
        row = db.conn.execute("SELECT version FROM issues WHERE id = ?", (iid,)).fetchone()
        version = row[0]
        # A person looks at the form for a moment before saving.
        if rnd.random() < 0.5:
            time.sleep(rnd.random() * 0.002)
        value = f"w{worker}-e{k} 进展"
        field = "progress" if k % 2 == 0 else "description"
        try:
            if field == "progress":
                issues.update_progress(db, lead, iid, version=version, progress=value, at=AT)
            else:
                issues.edit_issue(db, lead2, iid, version=version, description=value, at=AT)
        except StaleEdit:
            refused += 1
            continue
        except sqlite3.OperationalError as ex:
            operational.append(str(ex))
            continue
        except Exception as ex:  # anything else is a finding: report it, keep going
            other.append(f"{type(ex).__name__}: {ex}")
            continue
        applied.append({"issue": iid, "field": field, "value": value, "version": version})
    Path(out).write_text(json.dumps({"worker": worker, "applied": applied, "refused": refused,
                                     "operational": operational, "other": other},
                                    ensure_ascii=False), encoding="utf-8")


# --- crash points -------------------------------------------------------------------------------


def _batch_create(db, n: int) -> None:
    """A large import stand-in: n issues created through the service in one transaction."""
    from audit.store.db import write_transaction
    from issues import service as issues
    lead = _actor(db, "lead")
    aspect = db.conn.execute("SELECT id FROM aspects ORDER BY id LIMIT 1").fetchone()[0]
    unit = db.conn.execute("SELECT id FROM units WHERE code = 'A'").fetchone()[0]
    with write_transaction(db):
        for i in range(n):
            issues.create_issue(db, lead, aspect_id=aspect, title=f"{BATCH_TITLE}{i}",
                                unit_id=unit, description="说明" * 20, amount_involved=i,
                                streams=["audit"], focus=["F1"], at=AT)


def _merge(db) -> None:
    """Merge the issue titled 被合并 into the one titled 保留."""
    lead = _actor(db, "lead")
    s = db.conn.execute("SELECT id, version FROM issues WHERE title = '保留'").fetchone()
    a = db.conn.execute("SELECT id, version FROM issues WHERE title = '被合并'").fetchone()
    merge_service.merge_issues(db, lead, s[0], a[0], survivor_version=s[1], absorbed_version=a[1],
                        at=AT)


def _batch_end(db) -> None:
    """End (特殊原因终结) every not-started batch issue, as one batch in one transaction."""
    from audit.store.db import write_transaction
    from issues import service as issues
    from issues.model import Move
    lead = _actor(db, "lead")
    with write_transaction(db):
        for iid, version in db.conn.execute(
                "SELECT id, version FROM issues WHERE title LIKE ? AND status = 'not_started' "
                "ORDER BY id", (BATCH_TITLE + "%",)).fetchall():
            issues.move_issue(db, lead, iid, Move.END, version=version,
                              reason="业务已撤销", at=AT)


def _import(db, ledger: str) -> None:
    """The ledger import service on a ledger file."""
    from issues import import_service as importer
    from tests.ledger_factory import read_ledger
    lead = _actor(db, "lead")
    parsed = read_ledger(Path(ledger).read_bytes(), Path(ledger).name)
    plan = importer.plan_import(db, lead, parsed, "audit", filename=Path(ledger).name)
    importer.apply_import(db, lead, plan, AT)


def crash(db_path: str, op: str, stop_at: int, extra: str = "") -> None:
    """Run `op`, stopping before SQL statement `stop_at` to be killed."""
    from audit.store.db import open_database
    db = open_database(db_path)
    count = [0]
    commit_at = [0]

    def trace(sql: str) -> None:
        count[0] += 1
        if count[0] == stop_at:
            print(f"at {count[0]} {sql[:60]!r}", flush=True)
            time.sleep(600)
        if sql.strip().upper().startswith("COMMIT"):
            commit_at[0] = count[0]

    db.conn.set_trace_callback(trace)
    if op == "batch_create":
        _batch_create(db, int(extra or 1000))
    elif op == "merge":
        _merge(db)
    elif op == "batch_end":
        _batch_end(db)
    elif op == "import":
        _import(db, extra)
    else:
        raise SystemExit(f"unknown op {op}")
    db.conn.set_trace_callback(None)
    if stop_at == 0:  # killed after the COMMIT, before the process ends
        print(f"at {count[0] + 1} after-commit", flush=True)
        time.sleep(600)
    print(f"done {count[0]} {commit_at[0]}", flush=True)


# --- writers during a backup -------------------------------------------------------------------


def write(db_path: str, worker: int, log: str, seconds: float, issue_ids: list[int]) -> None:
    """Keep writing progress notes; log each commit (history seq, issue, value) after it."""
    from audit.model import StaleEdit
    from audit.store.db import open_database
    from issues import service as issues
    db = open_database(db_path)
    lead = _actor(db, "lead")
    end = time.monotonic() + seconds
    k = 0
    with open(log, "a", encoding="utf-8") as fh:
        while time.monotonic() < end:
            iid = issue_ids[(worker + k) % len(issue_ids)]
            version = db.conn.execute("SELECT version FROM issues WHERE id = ?",
                                      (iid,)).fetchone()[0]
            value = f"b{worker}-{k}"
            k += 1
            try:
                issues.update_progress(db, lead, iid, version=version, progress=value, at=AT)
            except StaleEdit:
                continue
            seq = db.conn.execute(
                "SELECT MAX(seq) FROM history WHERE entity = 'issue' AND entity_id = ? "
                "AND field = 'progress' AND new = ?", (iid, value)).fetchone()[0]
            fh.write(f"{seq}\t{iid}\t{value}\n")
            fh.flush()


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "edit":
        edit(argv[1], int(argv[2]), int(argv[3]), [int(x) for x in argv[4].split(",")], argv[5])
    elif mode == "crash":
        crash(argv[1], argv[2], int(argv[3]), argv[4] if len(argv) > 4 else "")
    elif mode == "write":
        write(argv[1], int(argv[2]), argv[3], float(argv[4]),
              [int(x) for x in argv[5].split(",")])
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
