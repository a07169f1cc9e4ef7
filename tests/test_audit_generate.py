"""A generated programme (the benchmarks' data, `python -m audit generate`) holds as evidence
like any other: every column of every row it writes, defaults of later migrations included,
replays from its history."""
from __future__ import annotations

from datetime import date

from audit.generate import generate
from audit.store import keys
from audit.store.db import open_database
from audit.store.paths import evidence_dir
from audit.verify_views import verify_database


def test_a_generated_programme_verifies_with_its_live_tables_equal_to_history(tmp_path):
    path = tmp_path / "generated.db"
    db = open_database(path)
    key = keys.configured_key(path) or keys.ensure_key_file(path)
    keys.use_key(db, key)
    generate(db, issues=120, seed=3, as_of=date(2026, 11, 27), evidence_root=evidence_dir(path))
    result = verify_database(db, key=key, evidence_root=evidence_dir(path))
    assert result.ok, result
    assert db.conn.execute("SELECT COUNT(*) FROM issues").fetchone()[0] == 120
