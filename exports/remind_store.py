"""The SQL of reminders: channels (secrets read only by `channel_secrets`), per-person and
per-unit delivery settings, the outbox, the run log, and the rows a run plans from (people,
open issues and measures, leads, recorded escalation steps, history since the last run).
Parameters only; plain dicts out."""
from __future__ import annotations

import json
from typing import Iterable

import sqlite_utils

from audit.store.db import one, rows, scalar
from audit.time_model import end_of
from exports.remind_model import EVENT_ACTIONS, STEP_ACTION

_PUBLIC = ("c.id, c.kind, c.name, c.config, c.active, c.version, "
           "(SELECT json_group_array(key) FROM json_each(c.secrets) WHERE value <> '') "
           "AS secrets_set")


def _channel(row: dict | None) -> dict | None:
    if row is None:
        return None
    row["config"] = json.loads(row["config"] or "{}")
    row["secrets_set"] = sorted(json.loads(row["secrets_set"] or "[]"))
    return row


# --- channels ------------------------------------------------------------------------------------


def channels(db: sqlite_utils.Database) -> list[dict]:
    """Every channel without its secrets: id, kind, name, config (dict), active, version,
    secrets_set (names of the secrets that hold a value); mail server first, then by name."""
    return [_channel(r) for r in rows(  # type: ignore[misc]
        db, f"SELECT {_PUBLIC} FROM remind_channels c ORDER BY c.kind <> 'smtp', c.name")]


def channel(db: sqlite_utils.Database, channel_id: int) -> dict | None:
    """One channel without its secrets, or None."""
    return _channel(one(db, f"SELECT {_PUBLIC} FROM remind_channels c WHERE c.id = ?",
                        (channel_id,)))


def smtp_channel(db: sqlite_utils.Database) -> dict | None:
    """The mail server's channel without its secrets, or None."""
    return _channel(one(db, f"SELECT {_PUBLIC} FROM remind_channels c WHERE c.kind = 'smtp'"))


def channel_secrets(db: sqlite_utils.Database, channel_id: int) -> dict[str, str]:
    """A channel's secrets (for sending only; never for display)."""
    return json.loads(scalar(db, "SELECT secrets FROM remind_channels WHERE id = ?",
                             (channel_id,)) or "{}")


def channel_name_taken(db: sqlite_utils.Database, name: str, except_id: int | None) -> bool:
    """Does another channel have this name?"""
    return scalar(db, "SELECT COUNT(*) FROM remind_channels WHERE name = ? AND id IS NOT ?",
                  (name, except_id)) > 0


def insert_channel(db: sqlite_utils.Database, values: dict) -> int:
    """Insert a channel (config and secrets as dicts); its id."""
    cur = db.conn.execute(
        "INSERT INTO remind_channels (kind, name, config, secrets, active) VALUES (?,?,?,?,?)",
        (values["kind"], values["name"], json.dumps(values["config"], ensure_ascii=False,
                                                     sort_keys=True),
         json.dumps(values["secrets"], ensure_ascii=False, sort_keys=True),
         int(values.get("active", 1))))
    return int(cur.lastrowid)


def update_channel(db: sqlite_utils.Database, channel_id: int, version: int, values: dict
                   ) -> bool:
    """Write a channel's name, config, secrets and active flag if it is still at `version`
    (then bump it); False when another writer got there first."""
    cur = db.conn.execute(
        "UPDATE remind_channels SET name = ?, config = ?, secrets = ?, active = ?, "
        "version = version + 1 WHERE id = ? AND version = ?",
        (values["name"], json.dumps(values["config"], ensure_ascii=False, sort_keys=True),
         json.dumps(values["secrets"], ensure_ascii=False, sort_keys=True),
         int(values["active"]), channel_id, version))
    return cur.rowcount == 1


# --- units and people ------------------------------------------------------------------------


def units(db: sqlite_utils.Database) -> list[dict]:
    """Every unit with its robot: id, code, name, level, parent_id, head_person_id,
    robot_channel_id; region first, then by code."""
    return rows(db, "SELECT id, code, name, level, parent_id, head_person_id, robot_channel_id "
                    "FROM units ORDER BY level <> 'region', code")


def unit(db: sqlite_utils.Database, unit_id: int) -> dict | None:
    """One unit (id, code, name, robot_channel_id), or None."""
    return one(db, "SELECT id, code, name, robot_channel_id FROM units WHERE id = ?",
               (unit_id,))


def set_unit_robot(db: sqlite_utils.Database, unit_id: int, channel_id: int | None) -> None:
    """Point a unit at a robot (None: use the one above)."""
    db.conn.execute("UPDATE units SET robot_channel_id = ? WHERE id = ?", (channel_id, unit_id))


def people(db: sqlite_utils.Database) -> list[dict]:
    """Every person with their contacts: id, name, unit_id, unit_name, unit_code, email,
    mobile, digest, lang, active; by unit code, then name."""
    return rows(db, "SELECT p.id, p.name, p.unit_id, u.name AS unit_name, u.code AS unit_code, "
                    "p.email, p.mobile, p.digest, p.lang, p.active FROM people p "
                    "JOIN units u ON u.id = p.unit_id ORDER BY u.code, p.name")


def person(db: sqlite_utils.Database, person_id: int) -> dict | None:
    """One person's contacts, or None."""
    return one(db, "SELECT id, name, unit_id, email, mobile, digest, lang, active FROM people "
                   "WHERE id = ?", (person_id,))


def update_person(db: sqlite_utils.Database, person_id: int, values: dict) -> None:
    """Write a person's contact columns (email, mobile, digest, lang)."""
    sets = ", ".join(f"{k} = ?" for k in values)
    db.conn.execute(f"UPDATE people SET {sets} WHERE id = ?", (*values.values(), person_id))


# --- settings --------------------------------------------------------------------------------


def settings(db: sqlite_utils.Database) -> dict[str, str]:
    """The 'remind.*' and 'escalation.*' settings, key → value."""
    return dict(db.conn.execute("SELECT key, value FROM settings WHERE key LIKE 'remind.%' "
                                "OR key LIKE 'escalation.%'"))


def set_setting(db: sqlite_utils.Database, key: str, value: str) -> None:
    """Write one setting."""
    db.conn.execute("UPDATE settings SET value = ? WHERE key = ?", (value, key))


# --- what a run plans from -------------------------------------------------------------------


def open_issues(db: sqlite_utils.Database) -> list[dict]:
    """Open issues (not merged away) with the workflow action of their latest status change
    (`last_action`, e.g. 'workflow.return')."""
    return rows(db, """
        SELECT i.id, i.code, i.title, i.unit_id, i.status, i.responsible_person_id,
               i.deadline, i.original_deadline, i.status_reason, i.submitted_by,
               (SELECT h.action FROM history h WHERE h.entity = 'issue'
                  AND h.entity_id = i.id AND h.field = 'status'
                ORDER BY h.seq DESC LIMIT 1) AS last_action
        FROM issues i
        WHERE i.merged_into_id IS NULL AND i.status IN ('not_started', 'in_progress', 'submitted')
        ORDER BY i.id""")


def issues_by_id(db: sqlite_utils.Database, ids: Iterable[int]) -> list[dict]:
    """Issues (any status) by id, as open_issues gives them."""
    return rows(db, """
        SELECT i.id, i.code, i.title, i.unit_id, i.status, i.responsible_person_id,
               i.deadline, i.original_deadline, i.status_reason, i.submitted_by,
               NULL AS last_action
        FROM issues i WHERE i.id IN (SELECT value FROM json_each(?)) ORDER BY i.id""",
                (json.dumps(sorted({int(i) for i in ids})),))


def open_measures(db: sqlite_utils.Database) -> list[dict]:
    """Unfinished measures of open issues: id, issue_id, title, owner_person_id, deadline."""
    return rows(db, """
        SELECT m.id, m.issue_id, m.title, m.owner_person_id, m.deadline
        FROM measures m JOIN issues i ON i.id = m.issue_id
        WHERE m.status <> 'done' AND i.merged_into_id IS NULL
          AND i.status IN ('not_started', 'in_progress', 'submitted')
        ORDER BY m.id""")


def measures_by_id(db: sqlite_utils.Database, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """measure id → (issue id, title), for measures of issues."""
    return {r["id"]: (r["issue_id"], r["title"]) for r in rows(
        db, "SELECT id, issue_id, title FROM measures WHERE issue_id IS NOT NULL AND id IN "
            "(SELECT value FROM json_each(?))", (json.dumps(sorted({int(i) for i in ids})),))}


def leads(db: sqlite_utils.Database) -> list[dict]:
    """Active audit-lead accounts that are a person: user_id, person_id, unit_id (their scope's
    root; None is the whole region)."""
    return rows(db, "SELECT id AS user_id, person_id, unit_id FROM users WHERE role = 'lead' "
                    "AND active = 1 AND person_id IS NOT NULL ORDER BY id")


def user_people(db: sqlite_utils.Database) -> dict[int, int]:
    """user id → person id, for accounts that are a person."""
    return dict(db.conn.execute("SELECT id, person_id FROM users WHERE person_id IS NOT NULL"))


def recorded_steps(db: sqlite_utils.Database, as_of: str) -> list[dict]:
    """Escalation steps recorded on or before `as_of` for open issues: id, issue_id, step,
    target_person_id, target_unit_id, as_of."""
    return rows(db, """
        SELECT e.id, e.issue_id, e.step, e.target_person_id, e.target_unit_id, e.as_of
        FROM escalations e JOIN issues i ON i.id = e.issue_id
        WHERE e.as_of <= ? AND i.status IN ('not_started', 'in_progress', 'submitted')
          AND i.merged_into_id IS NULL ORDER BY e.id""", (as_of,))


def steps_by_id(db: sqlite_utils.Database, ids: Iterable[int]) -> list[dict]:
    """Escalation steps by id (as recorded_steps gives them, any issue status)."""
    return rows(db, "SELECT id, issue_id, step, target_person_id, target_unit_id, as_of "
                    "FROM escalations WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                (json.dumps(sorted({int(i) for i in ids})),))


def history_upto(db: sqlite_utils.Database, as_of) -> int:
    """The last history seq recorded before the end of day `as_of` (0 when none)."""
    return int(scalar(db, "SELECT MAX(seq) FROM history WHERE at < ?", (end_of(as_of),)) or 0)


def last_watermark(db: sqlite_utils.Database) -> int | None:
    """The history seq the last planning run read up to, or None before the first."""
    return scalar(db, "SELECT MAX(history_seq) FROM remind_runs WHERE working_day = 1")


def first_seq_from(db: sqlite_utils.Database, at: str) -> int:
    """The seq before the first record at or after `at` (a window that starts at `at`)."""
    found = scalar(db, "SELECT MIN(seq) FROM history WHERE at >= ?", (at,))
    if found is None:
        return int(scalar(db, "SELECT MAX(seq) FROM history") or 0)
    return int(found) - 1


def event_records(db: sqlite_utils.Database, after_seq: int, upto_seq: int) -> list[dict]:
    """Every record of each operation in (after_seq, upto_seq] that moved, assigned or
    escalated something reminders tell about (an operation's records are contiguous: one
    transaction appends them)."""
    actions = json.dumps([*EVENT_ACTIONS, STEP_ACTION])
    return rows(db, """
        SELECT seq, at, op, action, entity, entity_id, field, old, new, actor_id
        FROM history
        WHERE seq > :a AND seq <= :b AND op IN (
            SELECT DISTINCT op FROM history WHERE seq > :a AND seq <= :b
              AND action IN (SELECT value FROM json_each(:actions)))
        ORDER BY seq""", {"a": after_seq, "b": upto_seq, "actions": actions})


# --- letters ---------------------------------------------------------------------------------


def letter_rows(db: sqlite_utils.Database, escalation_id: int) -> dict | None:
    """An escalation step with what its letter says: the issue, its unit and responsible
    person, the addressee (target person and unit), or None."""
    return one(db, """
        SELECT e.id, e.step, e.as_of, e.target_person_id, e.target_unit_id, e.issue_id,
               i.code, i.title, i.description, i.status, i.deadline, i.original_deadline,
               i.progress, i.unit_id, u.name AS unit_name, rp.name AS responsible_name,
               tp.name AS target_name, tu.name AS target_unit_name
        FROM escalations e JOIN issues i ON i.id = e.issue_id
        JOIN units u ON u.id = i.unit_id
        LEFT JOIN people rp ON rp.id = i.responsible_person_id
        LEFT JOIN people tp ON tp.id = e.target_person_id
        LEFT JOIN units tu ON tu.id = e.target_unit_id
        WHERE e.id = ?""", (escalation_id,))


def issue_sources(db: sqlite_utils.Database, issue_id: int) -> list[str]:
    """The source audits of an issue as 'year name (report no.)', oldest first."""
    return [r["label"] for r in rows(db, """
        SELECT a.year || ' ' || a.name ||
               CASE WHEN a.report_no <> '' THEN '（' || a.report_no || '）' ELSE '' END AS label
        FROM issue_sources s JOIN audits a ON a.id = s.audit_id
        WHERE s.issue_id = ? ORDER BY a.year, a.name""", (issue_id,))]


def unfinished_measures(db: sqlite_utils.Database, issue_id: int) -> list[dict]:
    """An issue's unfinished measures: title, owner (name), deadline."""
    return rows(db, "SELECT m.title, p.name AS owner, m.deadline FROM measures m "
                    "LEFT JOIN people p ON p.id = m.owner_person_id "
                    "WHERE m.issue_id = ? AND m.status <> 'done' ORDER BY m.id", (issue_id,))


def letters(db: sqlite_utils.Database) -> list[dict]:
    """Every recorded 督办函 step: id, as_of, issue_id, code, title, unit_id (the issue's),
    target_unit_name; newest first."""
    return rows(db, """
        SELECT e.id, e.as_of, e.issue_id, i.code, i.title, i.unit_id,
               tu.name AS target_unit_name
        FROM escalations e JOIN issues i ON i.id = e.issue_id
        LEFT JOIN units tu ON tu.id = e.target_unit_id
        WHERE e.step = 'letter' ORDER BY e.as_of DESC, e.id DESC""")


# --- the outbox ------------------------------------------------------------------------------


def existing_keys(db: sqlite_utils.Database, keys: Iterable[str]) -> set[str]:
    """The keys already in the outbox among `keys`."""
    return {r[0] for r in db.conn.execute(
        "SELECT key FROM remind_outbox WHERE key IN (SELECT value FROM json_each(?))",
        (json.dumps(list(keys), ensure_ascii=False),))}


def insert_message(db: sqlite_utils.Database, values: dict) -> int | None:
    """Put a message in the outbox; its id, or None when its key is already there."""
    cols = ", ".join(values)
    cur = db.conn.execute(f"INSERT OR IGNORE INTO remind_outbox ({cols}) VALUES "
                          f"({', '.join('?' for _ in values)})", tuple(values.values()))
    return int(cur.lastrowid) if cur.rowcount == 1 else None


_MESSAGE = ("id, key, kind, channel_id, person_id, unit_id, issue_id, recipient, subject, "
            "status, attempts, next_attempt_at, last_error, created_at, sent_at, created_run_id, "
            "sent_run_id")


def message(db: sqlite_utils.Database, message_id: int) -> dict | None:
    """One outbox row without its payload, or None."""
    return one(db, f"SELECT {_MESSAGE} FROM remind_outbox WHERE id = ?", (message_id,))


def payload(db: sqlite_utils.Database, message_id: int) -> bytes:
    """The bytes a message sends."""
    return bytes(scalar(db, "SELECT payload FROM remind_outbox WHERE id = ?", (message_id,)))


def due_messages(db: sqlite_utils.Database, at: str) -> list[dict]:
    """Pending messages whose next attempt is due at `at`, oldest first (without payload)."""
    return rows(db, f"SELECT {_MESSAGE} FROM remind_outbox WHERE status = 'pending' "
                    "AND next_attempt_at <= ? ORDER BY id", (at,))


def messages_with_status(db: sqlite_utils.Database, status: str) -> list[dict]:
    """Outbox rows with a status, oldest first (without payload)."""
    return rows(db, f"SELECT {_MESSAGE} FROM remind_outbox WHERE status = ? ORDER BY id",
                (status,))


def claim(db: sqlite_utils.Database, message_id: int) -> bool:
    """Take a pending message for sending (status 'sending', one more attempt); False when it
    is no longer pending."""
    cur = db.conn.execute("UPDATE remind_outbox SET status = 'sending', attempts = attempts + 1 "
                          "WHERE id = ? AND status = 'pending'", (message_id,))
    return cur.rowcount == 1


def set_message(db: sqlite_utils.Database, message_id: int, values: dict) -> None:
    """Write columns of an outbox row."""
    sets = ", ".join(f"{k} = ?" for k in values)
    db.conn.execute(f"UPDATE remind_outbox SET {sets} WHERE id = ?",
                    (*values.values(), message_id))


def failures(db: sqlite_utils.Database, limit: int = 200) -> list[dict]:
    """Messages that failed for good or wait to be tried again after an error, newest first."""
    return rows(db, f"SELECT {_MESSAGE} FROM remind_outbox WHERE status = 'failed' "
                    "OR (status = 'pending' AND last_error <> '') ORDER BY id DESC LIMIT ?",
                (limit,))


def sent_in_run(db: sqlite_utils.Database, run_id: int, limit: int = 500) -> list[dict]:
    """The messages a run sent, in the order sent."""
    return rows(db, f"SELECT {_MESSAGE} FROM remind_outbox WHERE sent_run_id = ? "
                    "ORDER BY sent_at, id LIMIT ?", (run_id, limit))


def status_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Outbox rows per status."""
    return dict(db.conn.execute("SELECT status, COUNT(*) FROM remind_outbox GROUP BY status"))


# --- runs ------------------------------------------------------------------------------------


def insert_run(db: sqlite_utils.Database, values: dict) -> int:
    """Start a run's log row; its id."""
    cols = ", ".join(values)
    cur = db.conn.execute(f"INSERT INTO remind_runs ({cols}) VALUES "
                          f"({', '.join('?' for _ in values)})", tuple(values.values()))
    return int(cur.lastrowid)


def update_run(db: sqlite_utils.Database, run_id: int, values: dict) -> None:
    """Write columns of a run's log row."""
    sets = ", ".join(f"{k} = ?" for k in values)
    db.conn.execute(f"UPDATE remind_runs SET {sets} WHERE id = ?", (*values.values(), run_id))


def last_run(db: sqlite_utils.Database) -> dict | None:
    """The latest run's log row, or None."""
    return one(db, "SELECT * FROM remind_runs ORDER BY id DESC LIMIT 1")
