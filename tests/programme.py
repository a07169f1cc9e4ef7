"""A small hand-built programme for tests: every id and date is known, so that every figure can
be worked out by hand. Built through the real services on a real SQLite file."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import sqlite_utils

from audit import accounts_service, calendar_service, login_service
from audit.demo import evidence_pdf
from audit.model import Actor
from audit.store.db import open_database
from audit.store.paths import evidence_dir
from audit.time_model import at_day
from issues import evidence_service
from issues import service as issues
from issues.model import Move
from owners import service as owners

PASSWORD = "correct horse 1"
MAX_UPLOAD = 5 * 1024 * 1024
PDF = evidence_pdf("evidence")


@dataclass
class Programme:
    db: sqlite_utils.Database
    path: Path
    evidence_root: Path
    units: dict[str, int] = field(default_factory=dict)
    people: dict[str, int] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)
    aspects: dict[str, int] = field(default_factory=dict)
    audits: dict[str, int] = field(default_factory=dict)

    def at(self, day: date | str, hour: int = 10, minute: int = 0) -> str:
        d = date.fromisoformat(day) if isinstance(day, str) else day
        return at_day(d, hour, minute)

    def version(self, issue_id: int) -> int:
        return self.db.conn.execute("SELECT version FROM issues WHERE id = ?",
                                    (issue_id,)).fetchone()[0]

    def mversion(self, measure_id: int) -> int:
        return self.db.conn.execute("SELECT version FROM measures WHERE id = ?",
                                    (measure_id,)).fetchone()[0]

    def status(self, issue_id: int) -> str:
        return self.db.conn.execute("SELECT status FROM issues WHERE id = ?",
                                    (issue_id,)).fetchone()[0]

    # --- conveniences that walk an issue through the workflow with the real services -------

    def new_issue(self, title: str = "合同未经法律审核", *, unit: str = "A", aspect: str = "C1.1",
                  day: str = "2026-01-05", amount: float = 0, streams=("audit",),
                  focus=("F1",), sources=("AUD2025",)) -> int:
        return issues.create_issue(
            self.db, self.actors["lead"], aspect_id=self.aspects[aspect], title=title,
            unit_id=self.units[unit], amount_involved=amount, streams=list(streams),
            focus=list(focus), sources=[self.audits[s] for s in sources], at=self.at(day))

    def assign(self, issue_id: int, *, deadline: str, responsible: str = "rect_a",
               day: str = "2026-01-06") -> None:
        owners.assign_issue(self.db, self.actors["lead"], issue_id,
                            version=self.version(issue_id),
                            responsible_person_id=self.people[responsible], deadline=deadline,
                            at=self.at(day))

    def measure(self, issue_id: int, *, deadline: str, owner: str = "rect_a",
                day: str = "2026-01-06", title: str = "补充法律审核",
                accept_reason: str | None = None) -> int:
        return issues.add_measure(self.db, self.actors["lead"], issue_id, title=title,
                                  owner_person_id=self.people[owner], deadline=deadline,
                                  accept_reason=accept_reason, at=self.at(day, 11))

    def start(self, issue_id: int, day: str = "2026-01-07") -> None:
        issues.move_issue(self.db, self.actors["lead"], issue_id, Move.START,
                          version=self.version(issue_id), at=self.at(day))

    def make_closable(self, issue_id: int, *, day: str, actor: str = "rect") -> None:
        """Record cause and accountability, finish every measure with evidence."""
        a = self.actors[actor]
        issues.record_root_cause(self.db, a, issue_id, new_cause_title="制度缺失",
                                 at=self.at(day, 9))
        issues.record_accountability(self.db, a, issue_id, not_applicable=True,
                                     reason="制度缺陷", at=self.at(day, 9, 5))
        mids = [r[0] for r in self.db.conn.execute(
            "SELECT id FROM measures WHERE issue_id = ?", (issue_id,))]
        for mid in mids:
            evidence_service.attach_evidence(self.db, a, issue_id, filename="佐证.pdf",
                                             data=evidence_pdf(f"evidence {mid}"),
                                             evidence_root=self.evidence_root,
                                             max_bytes=MAX_UPLOAD, measure_id=mid,
                                             at=self.at(day, 9, 10))
            issues.set_measure_status(self.db, a, mid, version=self.mversion(mid),
                                      status="done", at=self.at(day, 9, 20))

    def submit(self, issue_id: int, day: str, actor: str = "rect") -> None:
        issues.move_issue(self.db, self.actors[actor], issue_id, Move.SUBMIT,
                          version=self.version(issue_id), at=self.at(day, 12))

    def close(self, issue_id: int, day: str, actor: str = "lead") -> None:
        issues.move_issue(self.db, self.actors[actor], issue_id, Move.CLOSE,
                          version=self.version(issue_id), at=self.at(day, 16))

    def full_cycle(self, issue_id: int, *, deadline: str, done: str, closed: str) -> None:
        """Assign, add a measure, start, finish, submit and close an issue."""
        self.assign(issue_id, deadline=deadline)
        self.measure(issue_id, deadline=deadline)
        self.start(issue_id)
        self.make_closable(issue_id, day=done)
        self.submit(issue_id, done)
        self.close(issue_id, closed)


_TEMPLATE: dict[str, tuple[Path, Programme]] = {}


def build(tmp_path: Path) -> Programme:
    """Region R with city A (county A1) and city B; people; one user of each role; category C1
    with aspects C1.1 and C1.2, category C2 with C2.1; two source audits. No issues yet.
    Built once per process (argon2 hashing is deliberately slow) and copied for each test."""
    import sqlite3
    import tempfile
    if "t" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="programme-template-"))
        _TEMPLATE["t"] = (folder / "programme.db", _build(folder))
        _TEMPLATE["t"][1].db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    src_path, src = _TEMPLATE["t"]
    path = tmp_path / "programme.db"
    with sqlite3.connect(str(path)) as dest:
        src.db.conn.backup(dest)
    db = open_database(path)
    # Evidence where the product keeps it (<db stem>-evidence beside the file), so that
    # `verify` finds it.
    p = Programme(db, path, evidence_dir(path), dict(src.units), dict(src.people),
                  dict(src.actors), dict(src.aspects), dict(src.audits))
    return p


def _build(tmp_path: Path) -> Programme:
    path = tmp_path / "programme.db"
    db = open_database(path)
    p = Programme(db, path, evidence_dir(path))
    setup = at_day(date(2026, 1, 1), 8)
    calendar_service.seed_calendar(db, range(2025, 2028), at=setup)
    owners.create_unit(db, None, code="R", name="自治区分公司", level="region", at=setup)
    p.units["R"] = db.conn.execute("SELECT id FROM units WHERE code='R'").fetchone()[0]
    p.units["A"] = owners.create_unit(db, None, code="A", name="甲市分公司", level="city",
                                      parent_code="R", at=setup)
    p.units["A1"] = owners.create_unit(db, None, code="A1", name="甲县分公司", level="county",
                                       parent_code="A", at=setup)
    p.units["B"] = owners.create_unit(db, None, code="B", name="乙市分公司", level="city",
                                      parent_code="R", at=setup)
    for key, name, unit in (("rect_a", "张三", "A"), ("owner_a", "李四", "A"),
                            ("rect_b", "王五", "B"), ("lead_p", "赵审计", "R"),
                            ("lead2_p", "钱审计", "R"), ("head_a", "孙经理", "A"),
                            ("head_r", "周总", "R")):
        p.people[key] = owners.create_person(db, None, name=name, unit_id=p.units[unit],
                                             at=setup)
    owners.set_unit_head(db, None, p.units["A"], p.people["head_a"], at=setup)
    owners.set_unit_head(db, None, p.units["R"], p.people["head_r"], at=setup)
    for username, role, unit, person in (("admin", "admin", None, None),
                                         ("lead", "lead", None, "lead_p"),
                                         ("lead2", "lead", None, "lead2_p"),
                                         ("rect", "rectifier", "A", "rect_a"),
                                         ("rect_b", "rectifier", "B", "rect_b"),
                                         ("manager", "manager", "A", None)):
        uid = accounts_service.create_user(db, None, username, PASSWORD, role,
                                unit_id=p.units[unit] if unit else None,
                                person_id=p.people[person] if person else None, at=setup)
        p.actors[username] = login_service.actor_for(db, uid)
    lead = p.actors["lead"]
    c1 = issues.create_category(db, lead, code="C1", name="外包合同管理", at=setup)
    c2 = issues.create_category(db, lead, code="C2", name="费用结算", at=setup)
    p.aspects["C1.1"] = issues.create_aspect(db, lead, category_id=c1, name="合同签订", at=setup)
    p.aspects["C1.2"] = issues.create_aspect(db, lead, category_id=c1, name="合同履行", at=setup)
    p.aspects["C2.1"] = issues.create_aspect(db, lead, category_id=c2, name="结算依据", at=setup)
    p.audits["AUD2024"] = issues.ensure_audit(db, lead, name="外包专项审计", year=2024,
                                              level="group", at=setup)
    p.audits["AUD2025"] = issues.ensure_audit(db, lead, name="成本费用审计", year=2025,
                                              level="regional", at=setup)
    return p


def day_after(d: str, n: int = 1) -> str:
    return (date.fromisoformat(d) + timedelta(days=n)).isoformat()
