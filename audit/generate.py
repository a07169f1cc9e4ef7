"""A synthetic programme of any size for benchmarks: N issues with ~5 measures each, causes,
dependencies and a history that follows the same conventions as the services (so as-of figures
and `verify` work on it: every column written is recorded, evidence and accountability rows as
one whole-row record each, history.ROW). Written in bulk, a few thousand issues per
transaction."""
from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import sqlite_utils

from audit import accounts_service, calendar_service
from audit.demo import CATALOGUE, CITIES, DEMO_ACCOUNTS, DEMO_PASSWORD, MEASURE_TEMPLATES, REGION
from audit.store.db import write_transaction
from audit.store.evidence_files import store_blob
from audit.store.history import ROW, Recorder
from audit.time_model import at_day
from issues.recheck_model import recheck_due
from issues.store import column_defaults
from owners import service as owners

BATCH = 2000



_DEFAULTS: dict[tuple[int, str], dict] = {}


def _full(db: sqlite_utils.Database, table: str, values: dict) -> dict:
    """`values` with the table's defaults for the columns the insert left out: what the row
    holds, so that its history replays to it (columns later migrations add included)."""
    key = (id(db), table)
    if key not in _DEFAULTS:
        _DEFAULTS[key] = column_defaults(db, table)
    return {**_DEFAULTS[key], **values}

def generate(db: sqlite_utils.Database, *, issues: int, seed: int, as_of: date,
             evidence_root: Path, counties_per_city: int = 6,
             on_progress: Callable[[int, int], None] | None = None) -> dict:
    """Build a programme of `issues` issues into an empty database; returns counts."""
    rng = random.Random(seed)
    start = as_of - timedelta(days=365)
    setup_at = at_day(start, 8)
    calendar_service.seed_calendar(db, range(as_of.year - 2, as_of.year + 3), at=setup_at)
    owners.create_unit(db, None, code=REGION[0], name=REGION[1], level="region", at=setup_at)
    unit_ids: list[int] = []
    for code, name, counties in CITIES:
        cid = owners.create_unit(db, None, code=code, name=name, level="city",
                                 parent_code=REGION[0], at=setup_at)
        unit_ids.append(cid)
        for n in range(counties_per_city):
            label = counties[n % len(counties)] + ("" if n < len(counties) else f"{n}")
            unit_ids.append(owners.create_unit(db, None, code=f"{code}-{n + 1:02d}",
                                               name=f"{label}分公司", level="county",
                                               parent_code=code, at=setup_at))
    rec = Recorder(db, None, setup_at, "generate.setup")
    people: dict[int, list[int]] = {}
    with write_transaction(db):
        for uid in unit_ids:
            ids = []
            for k in range(6):
                values = {"name": f"员工{uid}-{k}", "unit_id": uid, "title": "整改责任人",
                          "phone": "", "active": 1}
                cur = db.conn.execute("INSERT INTO people (name, unit_id, title, phone, active) "
                                      "VALUES (:name, :unit_id, :title, :phone, :active)", values)
                rec.created("person", cur.lastrowid, _full(db, "people", values))
                ids.append(cur.lastrowid)
            people[uid] = ids
            db.conn.execute("UPDATE units SET head_person_id = ? WHERE id = ?", (ids[0], uid))
            rec.add("unit", uid, "head_person_id", None, ids[0])
        aspect_ids: list[tuple[int, str, str]] = []
        for cat_code, cat_name, aspects in CATALOGUE:
            cur = db.conn.execute("INSERT INTO categories (code, name) VALUES (?, ?)",
                                  (cat_code, cat_name))
            rec.created("category", cur.lastrowid, {"code": cat_code, "name": cat_name})
            for n, (aname, _) in enumerate(aspects, 1):
                acode = f"{cat_code}.{n}"
                cur2 = db.conn.execute(
                    "INSERT INTO aspects (code, category_id, name) VALUES (?, ?, ?)",
                    (acode, cur.lastrowid, aname))
                rec.created("aspect", cur2.lastrowid, {"code": acode, "name": aname,
                                                       "category_id": cur.lastrowid})
                aspect_ids.append((cur2.lastrowid, acode, cat_code))
        audit_ids = []
        for k in range(12):
            values = {"name": f"审计项目{k + 1}", "year": as_of.year - k % 3,
                      "level": "group" if k % 2 else "regional", "report_no": f"审〔{k}〕号"}
            cur = db.conn.execute("INSERT INTO audits (name, year, level, report_no) "
                                  "VALUES (:name, :year, :level, :report_no)", values)
            rec.created("audit", cur.lastrowid, _full(db, "audits", values))
            audit_ids.append(cur.lastrowid)
        n_causes = max(8, issues // 20)
        cause_ids = []
        for k in range(n_causes):
            values = {"code": f"R{k + 1}", "title": f"根源问题{k + 1}：管理制度与执行存在缺陷",
                      "description": ""}
            cur = db.conn.execute("INSERT INTO causes (code, title, description) "
                                  "VALUES (:code, :title, :description)", values)
            rec.created("cause", cur.lastrowid, _full(db, "causes", values))
            cause_ids.append(cur.lastrowid)
        rec.flush()
    accounts = {}
    for username, role, unit_code, display in DEMO_ACCOUNTS:
        unit = db.conn.execute("SELECT id FROM units WHERE code = ?",
                               (unit_code,)).fetchone()[0] if unit_code else None
        person = people[unit][1] if unit else None
        accounts[username] = accounts_service.create_user(db, None, username, DEMO_PASSWORD, role,
                                               unit_id=unit, person_id=person,
                                               display_name=display, at=setup_at)
    lead_id = accounts["lead"]
    blob = b"%PDF-1.4\n% generated evidence\n%%EOF\n"
    sha = hashlib.sha256(blob).hexdigest()
    store_blob(Path(evidence_root), blob, sha)

    stream_ids = dict(db.conn.execute("SELECT code, id FROM streams").fetchall())
    focus_ids = [r[0] for r in db.conn.execute("SELECT id FROM focus_points")]
    per_aspect: dict[str, int] = {}
    measure_count = 0
    today = (as_of - start).days
    done = 0
    while done < issues:
        size = min(BATCH, issues - done)
        with write_transaction(db):
            for _ in range(size):
                measure_count += _one_issue(db, rng, start, today, aspect_ids, per_aspect,
                                            unit_ids, people, audit_ids, cause_ids, stream_ids,
                                            focus_ids, lead_id, sha, blob)
            done += size
        if on_progress:
            on_progress(done, issues)
    return {"issues": issues, "measures": measure_count, "causes": len(cause_ids),
            "units": len(unit_ids) + 1}


def _at(start: date, day: int, rng: random.Random) -> str:
    return at_day(start + timedelta(days=day), rng.randint(8, 18), rng.randint(0, 59))


def _one_issue(db, rng, start, today, aspect_ids, per_aspect, unit_ids, people, audit_ids,
               cause_ids, stream_ids, focus_ids, lead_id, sha, blob) -> int:
    conn = db.conn
    aspect_id, acode, cat = aspect_ids[rng.randrange(len(aspect_ids))]
    per_aspect[acode] = per_aspect.get(acode, 0) + 1
    code = f"{acode}.{per_aspect[acode]}"
    unit = unit_ids[rng.randrange(len(unit_ids))]
    staff = people[unit]
    created = rng.randint(0, 90)
    created_at = _at(start, created, rng)
    title = rng.choice(MEASURE_TEMPLATES[cat]).replace("开展", "未开展") + f"（{code}）"
    values = {"code": code, "aspect_id": aspect_id, "title": title,
              "description": f"{title}。审计发现该问题影响外包业务降本增效。",
              "severity": rng.choice(("high", "medium", "low")), "unit_id": unit,
              "amount_involved": round(rng.choice((0, 0, 5000, 20000, 80000, 300000))
                                       * rng.random(), 2),
              "rectification_type": rng.choice(("immediate", "staged", "continuous")),
              "status": "not_started", "created_at": created_at, "basis": "",
              "recommendation": "", "progress": "", "status_reason": ""}
    cur = conn.execute(f"INSERT INTO issues ({', '.join(values)}) VALUES "
                       f"({', '.join('?' for _ in values)})", tuple(values.values()))
    iid = cur.lastrowid
    rec = Recorder(db, None, created_at, "issue.create")
    rec.created("issue", iid, _full(db, "issues", values))
    links = {"sources": sorted(rng.sample(audit_ids, rng.choice((1, 1, 2)))),
             "streams": sorted(rng.sample(list(stream_ids.values()), rng.choice((1, 1, 2)))),
             "focus": sorted(rng.sample(focus_ids, rng.choice((1, 2))))}
    for field, table, col in (("sources", "issue_sources", "audit_id"),
                              ("streams", "issue_streams", "stream_id"),
                              ("focus", "issue_focus", "focus_id")):
        conn.executemany(f"INSERT INTO {table} (issue_id, {col}) VALUES (?, ?)",
                         [(iid, x) for x in links[field]])
        rec.add("issue", iid, field, [], links[field])
    rec.flush()

    fate = rng.random()
    deadline_day = created + rng.randint(30, 330)
    deadline = (start + timedelta(days=deadline_day)).isoformat()
    assign_day = created + rng.randint(1, 10)
    responsible = staff[rng.randrange(1, len(staff))]
    rec = Recorder(db, None, _at(start, assign_day, rng), "issue.assign")
    a_values = {"responsible_person_id": responsible, "supervisor_person_id": staff[0],
                "deadline": deadline, "original_deadline": deadline}
    conn.execute("UPDATE issues SET responsible_person_id=?, supervisor_person_id=?, "
                 "deadline=?, original_deadline=?, version = version + 1 WHERE id=?",
                 (*a_values.values(), iid))
    for k, v in a_values.items():
        rec.add("issue", iid, k, None, v)
    rec.flush()

    # measures, ~5 per issue; a few depend on an earlier measure (so the graph stays acyclic)
    n_measures = rng.choice((3, 4, 5, 5, 6, 7))
    closed = fate < 0.45 and deadline_day - 20 < today
    mids = []
    for k in range(n_measures):
        m_deadline = (start + timedelta(days=deadline_day - rng.randint(0, 20))).isoformat()
        m_at = _at(start, assign_day + 1, rng)
        mv = {"issue_id": iid, "title": rng.choice(MEASURE_TEMPLATES[cat]),
              "owner_person_id": staff[rng.randrange(len(staff))], "deadline": m_deadline,
              "status": "todo", "created_at": m_at, "progress": ""}
        mcur = conn.execute(f"INSERT INTO measures ({', '.join(mv)}) VALUES "
                            f"({', '.join('?' for _ in mv)})", tuple(mv.values()))
        mid = mcur.lastrowid
        mids.append(mid)
        rec = Recorder(db, None, m_at, "measure.add")
        rec.created("measure", mid, _full(db, "measures", mv))
        if rng.random() < 0.12 and mid > 50:
            dep = mid - rng.randint(6, 50)
            conn.execute("INSERT OR IGNORE INTO measure_deps (measure_id, depends_on_id) "
                         "VALUES (?, ?)", (mid, dep))
            rec.add("measure", mid, "depends_on", [], [dep])
        rec.flush()
    causes = sorted({cause_ids[min(int(rng.paretovariate(1.2)) - 1, len(cause_ids) - 1)]
                     for _ in range(rng.choice((1, 1, 2)))})
    day = assign_day + 2
    if fate < 0.9 and day < today:
        _status(db, iid, "not_started", "in_progress", _at(start, day, rng), lead_id)
        conn.executemany("INSERT INTO issue_causes (issue_id, cause_id) VALUES (?, ?)",
                         [(iid, c) for c in causes])
        rec = Recorder(db, None, _at(start, day, rng), "issue.cause")
        rec.add("issue", iid, "causes", [], causes)
        rec.flush()
        finish_day = deadline_day + rng.randint(-25, 25) if closed else min(
            today - 1, day + rng.randint(5, 120))
        finish_day = max(day + 1, min(finish_day, today - 2))
        n_done = n_measures if closed or fate < 0.55 else rng.randint(0, n_measures - 1)
        for mid in mids[:n_done]:
            f_at = _at(start, finish_day, rng)
            ev = {"sha256": sha, "issue_id": iid, "measure_id": mid,
                  "filename": f"佐证{mid}.pdf", "size": len(blob), "mime": "application/pdf",
                  "uploaded_by": lead_id, "uploaded_at": f_at}
            ecur = conn.execute("INSERT INTO evidence (sha256, issue_id, measure_id, filename, "
                                "size, mime, uploaded_by, uploaded_at) VALUES (:sha256, "
                                ":issue_id, :measure_id, :filename, :size, :mime, "
                                ":uploaded_by, :uploaded_at)", ev)
            rec = Recorder(db, None, f_at, "evidence.attach")
            rec.add("evidence", ecur.lastrowid, ROW, None, ev)
            rec.flush()
            conn.execute("UPDATE measures SET status='done', completed_on=?, version=version+1 "
                         "WHERE id=?", (f_at[:10], mid))
            rec = Recorder(db, None, f_at, "measure.status")
            rec.add("measure", mid, "status", "todo", "done")
            rec.add("measure", mid, "completed_on", None, f_at[:10])
            rec.flush()
        if closed or fate < 0.53:
            acc = {"issue_id": iid, "not_applicable": 1, "person_name": "", "action": "",
                   "reason": "制度缺陷，不涉及个人责任", "recorded_by": lead_id,
                   "recorded_at": _at(start, finish_day, rng)}
            acur = conn.execute("INSERT INTO accountability (issue_id, not_applicable, "
                                "person_name, action, reason, recorded_by, recorded_at) VALUES "
                                "(:issue_id, :not_applicable, :person_name, :action, :reason, "
                                ":recorded_by, :recorded_at)", acc)
            rec = Recorder(db, None, acc["recorded_at"], "accountability.record")
            rec.add("accountability", acur.lastrowid, ROW, None,
                    {k: v for k, v in _full(db, "accountability", acc).items() if k != "id"})
            rec.flush()
            s_at = _at(start, finish_day + 1, rng)
            _status(db, iid, "in_progress", "submitted", s_at, lead_id,
                    {"submitted_by": lead_id, "submitted_at": s_at})
            if closed:
                c_at = _at(start, min(finish_day + 2, today), rng)
                # The check after closure, as striking off sets it (default months per type).
                due = recheck_due(date.fromisoformat(c_at[:10]), values["rectification_type"],
                                  {})
                _status(db, iid, "submitted", "closed", c_at, lead_id + 1,
                        {"closed_by": lead_id + 1, "closed_at": c_at, "recheck_due": due})
        elif fate > 0.88:
            e_at = _at(start, min(finish_day, today), rng)
            _status(db, iid, "in_progress", "ended", e_at, lead_id,
                    {"status_reason": "业务已收回自营"})
    return n_measures


def _status(db, iid: int, old: str, new: str, at: str, actor_id: int,
            extra: dict | None = None) -> None:
    values = {"status": new, **(extra or {})}
    sets = ", ".join(f"{k} = ?" for k in values)
    db.conn.execute(f"UPDATE issues SET {sets}, version = version + 1 WHERE id = ?",
                    (*values.values(), iid))
    rec = Recorder(db, None, at, f"workflow.{new}")
    rec.add("issue", iid, "status", old, new)
    for k, v in (extra or {}).items():
        rec.add("issue", iid, k, "" if k == "status_reason" else None, v)
    rec.flush()
