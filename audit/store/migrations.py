"""All of the schema, as numbered migrations. `PRAGMA user_version` records how far a file has
been brought; opening an older file upgrades it in place, one step at a time, each in its own
transaction."""
from __future__ import annotations

from functools import cache

import sqlite_utils

# Each entry is one migration: a list of SQL statements. Never edit a released entry; append.
MIGRATIONS: list[list[str]] = [
    # 1: the whole programme
    [
        # --- organisation --------------------------------------------------------------
        """CREATE TABLE units (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE CHECK (length(trim(code)) > 0),
            name TEXT NOT NULL CHECK (length(trim(name)) > 0),
            parent_id INTEGER REFERENCES units(id),
            level TEXT NOT NULL CHECK (level IN ('region', 'city', 'county')),
            head_person_id INTEGER REFERENCES people(id),
            CHECK (parent_id IS NULL OR parent_id <> id)
        )""",
        "CREATE INDEX units_parent ON units(parent_id)",
        """CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL CHECK (length(trim(name)) > 0),
            unit_id INTEGER NOT NULL REFERENCES units(id),
            title TEXT NOT NULL DEFAULT '',
            phone TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            UNIQUE (unit_id, name)
        )""",
        "CREATE INDEX people_unit ON people(unit_id)",
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(trim(username)) > 0),
            display_name TEXT NOT NULL DEFAULT '',
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'lead', 'rectifier', 'manager')),
            unit_id INTEGER REFERENCES units(id),
            person_id INTEGER REFERENCES people(id),
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            password_changed_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1
        )""",
        # --- catalogue -------------------------------------------------------------------
        """CREATE TABLE categories (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE CHECK (code GLOB 'C[0-9]*'),
            name TEXT NOT NULL CHECK (length(trim(name)) > 0),
            version INTEGER NOT NULL DEFAULT 1
        )""",
        """CREATE TABLE aspects (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            category_id INTEGER NOT NULL REFERENCES categories(id),
            name TEXT NOT NULL CHECK (length(trim(name)) > 0),
            version INTEGER NOT NULL DEFAULT 1
        )""",
        "CREATE INDEX aspects_category ON aspects(category_id)",
        """CREATE TABLE audits (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL CHECK (length(trim(name)) > 0),
            year INTEGER NOT NULL CHECK (year BETWEEN 1990 AND 2100),
            level TEXT NOT NULL CHECK (level IN ('group', 'regional')),
            report_no TEXT NOT NULL DEFAULT '',
            UNIQUE (name, year)
        )""",
        """CREATE TABLE streams (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            name_en TEXT NOT NULL
        )""",
        """CREATE TABLE focus_points (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            name_en TEXT NOT NULL
        )""",
        """CREATE TABLE issues (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            aspect_id INTEGER NOT NULL REFERENCES aspects(id),
            title TEXT NOT NULL CHECK (length(trim(title)) > 0),
            description TEXT NOT NULL DEFAULT '',
            severity TEXT NOT NULL DEFAULT 'medium' CHECK (severity IN ('high', 'medium', 'low')),
            unit_id INTEGER NOT NULL REFERENCES units(id),
            amount_involved REAL NOT NULL DEFAULT 0 CHECK (amount_involved >= 0),
            basis TEXT NOT NULL DEFAULT '',
            recommendation TEXT NOT NULL DEFAULT '',
            rectification_type TEXT NOT NULL DEFAULT 'immediate'
                CHECK (rectification_type IN ('immediate', 'staged', 'continuous')),
            status TEXT NOT NULL DEFAULT 'not_started'
                CHECK (status IN ('not_started', 'in_progress', 'submitted', 'closed', 'ended')),
            responsible_person_id INTEGER REFERENCES people(id),
            supervisor_person_id INTEGER REFERENCES people(id),
            deadline TEXT,
            original_deadline TEXT,
            progress TEXT NOT NULL DEFAULT '',
            submitted_by INTEGER REFERENCES users(id),
            submitted_at TEXT,
            closed_by INTEGER REFERENCES users(id),
            closed_at TEXT,
            status_reason TEXT NOT NULL DEFAULT '',
            merged_into_id INTEGER REFERENCES issues(id),
            merged_at TEXT,
            created_at TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            CHECK (merged_into_id IS NULL OR merged_into_id <> id)
        )""",
        "CREATE INDEX issues_aspect ON issues(aspect_id)",
        "CREATE INDEX issues_unit ON issues(unit_id)",
        "CREATE INDEX issues_status ON issues(status)",
        "CREATE INDEX issues_responsible ON issues(responsible_person_id)",
        "CREATE INDEX issues_merged ON issues(merged_into_id)",
        """CREATE TABLE issue_sources (
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            audit_id INTEGER NOT NULL REFERENCES audits(id),
            PRIMARY KEY (issue_id, audit_id)
        )""",
        "CREATE INDEX issue_sources_audit ON issue_sources(audit_id)",
        """CREATE TABLE issue_streams (
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            stream_id INTEGER NOT NULL REFERENCES streams(id),
            PRIMARY KEY (issue_id, stream_id)
        )""",
        "CREATE INDEX issue_streams_stream ON issue_streams(stream_id)",
        """CREATE TABLE issue_focus (
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            focus_id INTEGER NOT NULL REFERENCES focus_points(id),
            PRIMARY KEY (issue_id, focus_id)
        )""",
        "CREATE INDEX issue_focus_focus ON issue_focus(focus_id)",
        # --- root causes -------------------------------------------------------------------
        """CREATE TABLE causes (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL CHECK (length(trim(title)) > 0),
            description TEXT NOT NULL DEFAULT '',
            version INTEGER NOT NULL DEFAULT 1
        )""",
        """CREATE TABLE issue_causes (
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            cause_id INTEGER NOT NULL REFERENCES causes(id),
            PRIMARY KEY (issue_id, cause_id)
        )""",
        "CREATE INDEX issue_causes_cause ON issue_causes(cause_id)",
        # --- measures ------------------------------------------------------------------------
        # A measure belongs to an issue, or (a source-level measure) to a root cause.
        """CREATE TABLE measures (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER REFERENCES issues(id),
            cause_id INTEGER REFERENCES causes(id),
            title TEXT NOT NULL CHECK (length(trim(title)) > 0),
            owner_person_id INTEGER REFERENCES people(id),
            deadline TEXT,
            status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'doing', 'done')),
            completed_on TEXT,
            progress TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            CHECK ((issue_id IS NULL) <> (cause_id IS NULL)),
            CHECK ((status = 'done') = (completed_on IS NOT NULL))
        )""",
        "CREATE INDEX measures_issue ON measures(issue_id)",
        "CREATE INDEX measures_cause ON measures(cause_id)",
        "CREATE INDEX measures_owner ON measures(owner_person_id)",
        # Covers 四个到人 per issue (figures, dashboard): one index pass, no row lookups.
        "CREATE INDEX measures_issue_assigned ON measures(issue_id, owner_person_id, deadline,"
        " created_at)",
        """CREATE TABLE measure_deps (
            measure_id INTEGER NOT NULL REFERENCES measures(id),
            depends_on_id INTEGER NOT NULL REFERENCES measures(id),
            PRIMARY KEY (measure_id, depends_on_id),
            CHECK (measure_id <> depends_on_id)
        )""",
        "CREATE INDEX measure_deps_on ON measure_deps(depends_on_id)",
        # --- evidence: content stored once by SHA-256; a row per attachment ------------------
        """CREATE TABLE evidence (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            measure_id INTEGER REFERENCES measures(id),
            filename TEXT NOT NULL CHECK (length(filename) > 0),
            size INTEGER NOT NULL CHECK (size >= 0),
            mime TEXT NOT NULL,
            uploaded_by INTEGER NOT NULL REFERENCES users(id),
            uploaded_at TEXT NOT NULL
        )""",
        "CREATE INDEX evidence_issue ON evidence(issue_id)",
        "CREATE INDEX evidence_measure ON evidence(measure_id)",
        # --- accountability (责任追究) ------------------------------------------------------
        """CREATE TABLE accountability (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            not_applicable INTEGER NOT NULL DEFAULT 0 CHECK (not_applicable IN (0, 1)),
            person_name TEXT NOT NULL DEFAULT '',
            action TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            recorded_by INTEGER NOT NULL REFERENCES users(id),
            recorded_at TEXT NOT NULL,
            CHECK ((not_applicable = 1 AND length(trim(reason)) > 0)
                   OR (not_applicable = 0 AND length(trim(person_name)) > 0
                       AND length(trim(action)) > 0))
        )""",
        "CREATE INDEX accountability_issue ON accountability(issue_id)",
        # --- deadline extensions (延期) -------------------------------------------------------
        """CREATE TABLE extensions (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            original_deadline TEXT NOT NULL,
            old_deadline TEXT NOT NULL,
            new_deadline TEXT NOT NULL,
            approved_by INTEGER NOT NULL REFERENCES users(id),
            reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
            at TEXT NOT NULL,
            CHECK (new_deadline > old_deadline)
        )""",
        "CREATE INDEX extensions_issue ON extensions(issue_id)",
        # --- escalation (挂账督办) -----------------------------------------------------------
        """CREATE TABLE escalations (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            step TEXT NOT NULL CHECK (step IN ('reminder', 'letter', 'summons', 'accountability')),
            target_person_id INTEGER REFERENCES people(id),
            target_unit_id INTEGER REFERENCES units(id),
            as_of TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            recorded_by INTEGER NOT NULL REFERENCES users(id),
            at TEXT NOT NULL,
            UNIQUE (issue_id, step)
        )""",
        # --- merges (并轨), undoable until the survivor next changes --------------------------
        """CREATE TABLE merges (
            id INTEGER PRIMARY KEY,
            survivor_id INTEGER NOT NULL REFERENCES issues(id),
            absorbed_id INTEGER NOT NULL REFERENCES issues(id),
            survivor_version INTEGER NOT NULL,
            moved TEXT NOT NULL,
            merged_by INTEGER NOT NULL REFERENCES users(id),
            at TEXT NOT NULL,
            undone_at TEXT,
            CHECK (survivor_id <> absorbed_id)
        )""",
        # Pairs a user decided are not duplicates (issues.duplicates), never proposed again.
        """CREATE TABLE duplicate_rejections (
            issue_a INTEGER NOT NULL REFERENCES issues(id),
            issue_b INTEGER NOT NULL REFERENCES issues(id),
            rejected_by INTEGER NOT NULL REFERENCES users(id),
            at TEXT NOT NULL,
            PRIMARY KEY (issue_a, issue_b),
            CHECK (issue_a < issue_b)
        )""",
        # --- working-day calendar: only the days that differ from Mon–Fri --------------------
        """CREATE TABLE calendar_days (
            day TEXT PRIMARY KEY,
            is_working INTEGER NOT NULL CHECK (is_working IN (0, 1)),
            name TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL CHECK (source IN ('holidays', 'admin'))
        )""",
        """CREATE TABLE calendar_years (
            year INTEGER PRIMARY KEY,
            published INTEGER NOT NULL CHECK (published IN (0, 1)),
            source TEXT NOT NULL
        )""",
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        # --- history: append-only, hash-chained ----------------------------------------------
        """CREATE TABLE history (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor_id INTEGER,
            actor TEXT NOT NULL,
            op TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id INTEGER,
            field TEXT NOT NULL DEFAULT '',
            old TEXT,
            new TEXT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        "CREATE INDEX history_entity ON history(entity, entity_id, field, seq)",
        "CREATE INDEX history_at ON history(at)",
        # The burn-up replays every issue status change into or out of 'closed': a small
        # covering partial index (a third of the status records, a fraction of history).
        """CREATE INDEX history_issue_closing ON history(entity, field, at, entity_id, new, old)
           WHERE entity = 'issue' AND field = 'status' AND (new = 'closed' OR old = 'closed')""",
        """CREATE TRIGGER history_no_update BEFORE UPDATE ON history
           BEGIN SELECT RAISE(ABORT, 'history is append-only'); END""",
        """CREATE TRIGGER history_no_delete BEFORE DELETE ON history
           BEGIN SELECT RAISE(ABORT, 'history is append-only'); END""",
        # Full-text search on Chinese: trigram finds 3+ characters; shorter queries use LIKE.
        """CREATE VIRTUAL TABLE issues_fts USING fts5(
            code, title, description, progress, content='issues', content_rowid='id',
            tokenize='trigram')""",
        """CREATE TRIGGER issues_fts_ai AFTER INSERT ON issues BEGIN
            INSERT INTO issues_fts(rowid, code, title, description, progress)
            VALUES (new.id, new.code, new.title, new.description, new.progress); END""",
        """CREATE TRIGGER issues_fts_ad AFTER DELETE ON issues BEGIN
            INSERT INTO issues_fts(issues_fts, rowid, code, title, description, progress)
            VALUES ('delete', old.id, old.code, old.title, old.description, old.progress); END""",
        """CREATE TRIGGER issues_fts_au AFTER UPDATE OF code, title, description, progress
           ON issues BEGIN
            INSERT INTO issues_fts(issues_fts, rowid, code, title, description, progress)
            VALUES ('delete', old.id, old.code, old.title, old.description, old.progress);
            INSERT INTO issues_fts(rowid, code, title, description, progress)
            VALUES (new.id, new.code, new.title, new.description, new.progress); END""",
        # Fixed reference rows: the two work streams and the five focus points.
        """INSERT INTO streams (code, name, name_en) VALUES
            ('cleanup', '外包专项整治', 'Outsourcing clean-up'),
            ('audit', '外包专项审计整改', 'Special audit rectification')""",
        """INSERT INTO focus_points (code, name, name_en) VALUES
            ('F1', '外包单价与结算成本', 'Unit prices and settlement cost'),
            ('F2', '外包业务量与人均效能', 'Volume and productivity per head'),
            ('F3', '自营与外包边界', 'In-house versus outsourced boundary'),
            ('F4', '服务质量与考核扣罚', 'Service quality and penalties'),
            ('F5', '安全合规与风险防控', 'Safety, compliance and risk control')""",
        """INSERT INTO settings (key, value) VALUES
            ('escalation.reminder_days', '0'),
            ('escalation.letter_days', '10'),
            ('escalation.summons_days', '20'),
            ('warning.amber_working_days', '10'),
            ('programme.deadline', '')""",  # YYYY-MM-DD; empty: the latest issue deadline
    ],
    # 2: 四个到人 as of today asks, per issue, whether any of its measures lacks an owner or a
    # deadline: a partial index of just those measures (few, in a programme under way) answers
    # with one seek instead of reading every measure (audit.dashboard.state_table).
    [
        """CREATE INDEX measures_incomplete ON measures(issue_id)
           WHERE owner_person_id IS NULL OR deadline IS NULL""",
    ],
    # 3: reminders that reach people (exports.remind_*): channels (SMTP and group robots, their
    # secrets in a column of their own that no read for display selects), the outbox (one row
    # per message, UNIQUE key: sent at most once), the run log, and per-person / per-unit
    # delivery settings.
    [
        """CREATE TABLE remind_channels (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('smtp', 'wecom', 'dingtalk', 'feishu')),
            name TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
            config TEXT NOT NULL DEFAULT '{}',
            secrets TEXT NOT NULL DEFAULT '{}',
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            version INTEGER NOT NULL DEFAULT 1
        )""",
        # One mail server for the whole tracker; any number of robots (one per group chat).
        "CREATE UNIQUE INDEX remind_channels_one_smtp ON remind_channels(kind) "
        "WHERE kind = 'smtp'",
        """CREATE TABLE remind_runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            as_of TEXT NOT NULL,
            working_day INTEGER NOT NULL CHECK (working_day IN (0, 1)),
            history_seq INTEGER NOT NULL DEFAULT 0,
            planned INTEGER NOT NULL DEFAULT 0,
            sent INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            unconfirmed INTEGER NOT NULL DEFAULT 0,
            note TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE remind_outbox (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('digest', 'event', 'escalation', 'test')),
            channel_id INTEGER NOT NULL REFERENCES remind_channels(id),
            person_id INTEGER REFERENCES people(id),
            unit_id INTEGER REFERENCES units(id),
            issue_id INTEGER REFERENCES issues(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            payload BLOB NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unconfirmed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            created_run_id INTEGER REFERENCES remind_runs(id),
            sent_at TEXT,
            sent_run_id INTEGER REFERENCES remind_runs(id)
        )""",
        "CREATE INDEX remind_outbox_due ON remind_outbox(status, next_attempt_at)",
        "CREATE INDEX remind_outbox_sent_run ON remind_outbox(sent_run_id)",
        "ALTER TABLE people ADD COLUMN email TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE people ADD COLUMN mobile TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE people ADD COLUMN digest TEXT NOT NULL DEFAULT 'daily' "
        "CHECK (digest IN ('daily', 'weekly', 'off'))",
        "ALTER TABLE people ADD COLUMN lang TEXT NOT NULL DEFAULT 'zh' "
        "CHECK (lang IN ('zh', 'en'))",
        "ALTER TABLE units ADD COLUMN robot_channel_id INTEGER REFERENCES remind_channels(id)",
        """INSERT INTO settings (key, value) VALUES
            ('remind.base_url', ''),
            ('remind.due_days', '5'),
            ('remind.reply_days', '5'),
            ('remind.issuing_office', '审计整改工作办公室'),
            ('remind.max_attempts', '6')""",
    ],
    # 4: the review pack, a 整改情况汇报 (issue 22): what rectification achieved (amounts
    # corrected and recovered per issue, rules made or revised 建章立制, the economic penalty of
    # an accountability record) and the settings the pack's cover and 基本情况 print.
    [
        """ALTER TABLE issues ADD COLUMN amount_corrected REAL NOT NULL DEFAULT 0
           CHECK (amount_corrected >= 0)""",
        """ALTER TABLE issues ADD COLUMN amount_recovered REAL NOT NULL DEFAULT 0
           CHECK (amount_recovered >= 0)""",
        """ALTER TABLE accountability ADD COLUMN penalty_amount REAL NOT NULL DEFAULT 0
           CHECK (penalty_amount >= 0)""",
        """CREATE TABLE rules (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES units(id),
            issue_id INTEGER REFERENCES issues(id),
            cause_id INTEGER REFERENCES causes(id),
            title TEXT NOT NULL CHECK (length(trim(title)) > 0),
            kind TEXT NOT NULL CHECK (kind IN ('made', 'revised')),
            issued_on TEXT NOT NULL,
            recorded_by INTEGER NOT NULL REFERENCES users(id),
            recorded_at TEXT NOT NULL
        )""",
        "CREATE INDEX rules_unit ON rules(unit_id)",
        """INSERT OR IGNORE INTO settings (key, value) VALUES
            ('report.company', ''), ('report.company_en', ''),
            ('report.department', ''), ('report.department_en', ''),
            ('report.compiler', ''), ('report.contact', ''),
            ('report.house_style', 'fangsong'), ('report.classification', ''),
            ('report.background', '')""",
    ],    [
        # -- migration of load: data versions per (area, scope) and stored results
        # Data versions (audit.store.versions): the history seq of the last write that touched
        # each unit ('unit', unit id), the duplicate proposals ('duplicates', 0) or everything
        # ('all', 0); page caches and stored results key on the versions
        # of what they read, so a write in one unit leaves other units' caches warm.
        """CREATE TABLE data_versions (
            area TEXT NOT NULL CHECK (area IN ('all', 'unit', 'duplicates')),
            scope INTEGER NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (area, scope)
        ) WITHOUT ROWID""",
        """INSERT INTO data_versions (area, scope, version)
           SELECT 'all', 0, COALESCE(MAX(seq), 0) FROM history WHERE entity <> 'login'""",
        # Results computed ahead of time (audit.store.results): a read's result, with the data
        # version it was computed at; a cache, never history-tracked.
        """CREATE TABLE stored_results (
            name TEXT NOT NULL,
            key TEXT NOT NULL,
            version INTEGER NOT NULL,
            computed_at TEXT NOT NULL,
            seconds REAL NOT NULL DEFAULT 0,
            payload BLOB NOT NULL,
            PRIMARY KEY (name, key)
        )""",
    ],
    [
        # -- migration of uxb: one-time form tokens (a double submit records one thing)
        # A form drawn on screen carries a token; the service that creates what the form
        # describes spends it in its own write transaction, so a second submit of the same
        # drawing finds it spent and records nothing. Not history: a guard, like the sign-in
        # throttle's counters.
        """CREATE TABLE form_tokens (
            token TEXT PRIMARY KEY CHECK (length(token) BETWEEN 16 AND 100),
            user_id INTEGER REFERENCES users(id),
            form TEXT NOT NULL,
            result TEXT,
            spent_at TEXT NOT NULL
        ) WITHOUT ROWID""",
    ],
    # 5: an office's ledger as it is (issue 16): mapping profiles (a confirmed column mapping and
    # the answers about local words, saved under a name, found again by the header signature)
    # and the office's columns that map to no field, kept with each issue.
    [
        """-- migration of ledger: ledger mapping profiles and the extra columns kept with issues
        CREATE TABLE ledger_profiles (
            name TEXT PRIMARY KEY CHECK (length(trim(name)) > 0),
            signature TEXT NOT NULL,
            mapping TEXT NOT NULL,
            value_answers TEXT NOT NULL,
            saved_by INTEGER REFERENCES users(id),
            saved_at TEXT NOT NULL
        )""",
        "CREATE INDEX ledger_profiles_signature ON ledger_profiles(signature)",
        """CREATE TABLE issue_extras (
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            header TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (issue_id, header)
        ) WITHOUT ROWID""",
    ],
    [
        # -- migration of bulk: a rectifier's request for an extension (申请延期), decided by a
        # lead: approved (the extension is made by extend_deadline, in the same transaction)
        # or refused, with a note.
        """CREATE TABLE extension_requests (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            requested_by INTEGER NOT NULL REFERENCES users(id),
            requested_at TEXT NOT NULL,
            current_deadline TEXT NOT NULL,
            new_deadline TEXT NOT NULL,
            reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'refused')),
            decided_by INTEGER REFERENCES users(id),
            decided_at TEXT,
            decision_note TEXT NOT NULL DEFAULT '',
            extension_id INTEGER REFERENCES extensions(id),
            version INTEGER NOT NULL DEFAULT 1,
            CHECK (new_deadline > current_deadline)
        )""",
        "CREATE INDEX extension_requests_issue ON extension_requests(issue_id, status)",
    ],
    # two-level verification (初审 by a city lead, 复核销号 by a regional lead), the check after
    # closure (整改成效回头看: a due date set at 销号, reopening at a check is a recurrence) and
    # findings that come back (a newer audit's finding flagged as a possible recurrence of an
    # earlier item, for a person to confirm or reject).
    [
        """-- migration of rulesb: two-level verification, the check after closure, recurrences
        ALTER TABLE issues ADD COLUMN checked_by INTEGER REFERENCES users(id)""",
        "ALTER TABLE issues ADD COLUMN checked_at TEXT",
        "ALTER TABLE issues ADD COLUMN recheck_due TEXT",
        # No defaults: a row made before this migration holds NULL, as its history says (NULL
        # recurrences: none; NULL recurrence_status: never flagged).
        "ALTER TABLE issues ADD COLUMN recurrences INTEGER CHECK (recurrences >= 0)",
        "ALTER TABLE issues ADD COLUMN recurrence_of_id INTEGER REFERENCES issues(id)",
        "ALTER TABLE issues ADD COLUMN recurrence_score REAL",
        """ALTER TABLE issues ADD COLUMN recurrence_status TEXT
           CHECK (recurrence_status IN ('pending', 'confirmed', 'rejected'))""",
        "CREATE INDEX issues_recheck_due ON issues(recheck_due) WHERE recheck_due IS NOT NULL",
        """INSERT OR IGNORE INTO settings (key, value) VALUES
            ('verification.two_level', '0'),
            ('recheck.months.immediate', '6'), ('recheck.months.staged', '6'),
            ('recheck.months.continuous', '6')""",
    ],
    [
        # -- migration of rulesa: rectification types' rules (milestones of staged items,
        # the stage goal and report dates of continuous ones, the 30% cap), review meetings
        # (推进会) with the warning colour of every item as of each, accepted rule warnings.
        # A milestone's date never changes once set (a new one is added instead), so that the
        # warning of any past day is read from the live rows (created_at, done_on).
        """-- migration of rulesa: milestones, review meetings and their warnings, accepted rules
        CREATE TABLE milestones (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            kind TEXT NOT NULL DEFAULT 'milestone'
                CHECK (kind IN ('milestone', 'goal', 'report')),
            due_on TEXT NOT NULL CHECK (due_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
            deliverable TEXT NOT NULL CHECK (length(trim(deliverable)) > 0),
            done_on TEXT,
            evidence TEXT NOT NULL DEFAULT '',
            created_by INTEGER NOT NULL REFERENCES users(id),
            created_at TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1
        )""",
        "CREATE INDEX milestones_open ON milestones(issue_id, due_on, done_on, created_at)",
        "ALTER TABLE measures ADD COLUMN milestone_id INTEGER REFERENCES milestones(id)",
        """CREATE TABLE meetings (
            id INTEGER PRIMARY KEY,
            held_on TEXT NOT NULL,
            title TEXT NOT NULL CHECK (length(trim(title)) > 0),
            scope_unit_id INTEGER REFERENCES units(id),
            scope_label TEXT NOT NULL DEFAULT '',
            attendees TEXT NOT NULL DEFAULT '',
            decisions TEXT NOT NULL DEFAULT '',
            items INTEGER NOT NULL DEFAULT 0,
            reds INTEGER NOT NULL DEFAULT 0,
            recorded_by INTEGER NOT NULL REFERENCES users(id),
            recorded_at TEXT NOT NULL
        )""",
        "CREATE INDEX meetings_held ON meetings(held_on)",
        # One row per in-scope item and meeting: its warning colour as of the meeting's date.
        """CREATE TABLE meeting_warnings (
            meeting_id INTEGER NOT NULL REFERENCES meetings(id),
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            warning TEXT NOT NULL CHECK (warning IN ('red', 'amber', 'green', 'none')),
            PRIMARY KEY (meeting_id, issue_id)
        )""",
        "CREATE INDEX meeting_warnings_issue ON meeting_warnings(issue_id, meeting_id)",
        # A rule warning a lead went past, with the reason (cap, deadline_fit).
        """CREATE TABLE rule_acceptances (
            id INTEGER PRIMARY KEY,
            rule TEXT NOT NULL CHECK (rule IN ('cap', 'deadline_fit')),
            issue_id INTEGER REFERENCES issues(id),
            measure_id INTEGER REFERENCES measures(id),
            detail TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
            accepted_by INTEGER NOT NULL REFERENCES users(id),
            at TEXT NOT NULL
        )""",
        "CREATE INDEX rule_acceptances_issue ON rule_acceptances(issue_id)",
        """INSERT OR IGNORE INTO settings (key, value) VALUES
            ('rectify.immediate_working_days', '10'),
            ('rectify.cap_percent', '30'),
            ('rectify.cap_min_items', '10'),
            ('rectify.milestone_red_working_days', '5'),
            ('escalation.letter_reds', '2'),
            ('escalation.summons_reds', '3')""",
    ],
    [
        # -- migration of audit22: the closing block's compiler in the English pack (the cover's
        # company and department had their English names; the closing kept the Chinese one).
        "INSERT OR IGNORE INTO settings (key, value) VALUES ('report.compiler_en', '')",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(db: sqlite_utils.Database) -> int:
    """The schema version recorded in the file."""
    return db.conn.execute("PRAGMA user_version").fetchone()[0]


def another_programs(db: sqlite_utils.Database) -> bool:
    """Is this a SQLite file of some other program (tables, but no schema version of ours)?"""
    return current_version(db) == 0 and db.conn.execute(
        "SELECT COUNT(*) FROM sqlite_master").fetchone()[0] > 0


def migrate(db: sqlite_utils.Database) -> int:
    """Apply every migration the file lacks; return the resulting version.
    Raises RuntimeError for a file made by a newer release."""
    version = current_version(db)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {version} is newer than this release ({SCHEMA_VERSION})")
    conn = db.conn
    for number in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if current_version(db) >= number:
                conn.execute("COMMIT")
                continue
            for statement in MIGRATIONS[number - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return current_version(db)


@cache
def default_settings() -> dict[str, str]:
    """The settings rows the migrations write: what a key that history never changed holds
    (audit.store.live_check compares the live table with it)."""
    import sqlite3

    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(sqlite_utils.Database(conn))
        return dict(conn.execute("SELECT key, value FROM settings"))
    finally:
        conn.close()
