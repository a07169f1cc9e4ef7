"""Merging two issues into one (并轨) and undoing it: the survivor keeps both sets of links
and every child row; the absorbed issue stays, with its history, marked as merged. A cluster
the duplicate finder proposed is merged into one of its issues, or rejected for good."""
from __future__ import annotations

import json

import sqlite_utils

from audit.model import OPEN_STATUSES, Actor, MergeNotUndoable, NotFound, Status, ValidationFailed
from audit.service import check_version, require
from audit.store.db import write_transaction
from audit.store.history import Recorder
from audit.store.rows import bump_version, get_row, insert, update
from issues import store
from issues.duplicates_views import Cluster, rejected_pairs
from issues.model import ISSUE_LINKS
from issues.service import _set_links

# Rows that follow an issue into a merge, and the entity their history is recorded under.
MERGED_ROWS = {"measures": "measure", "evidence": "evidence",
               "accountability": "accountability", "extensions": "extension"}


def _move_rows(db, rec: Recorder, row_ids: dict[str, list[int]], from_id: int, to_id: int
               ) -> None:
    """Re-attach child rows (by table) from one issue to another, recording each."""
    for table, ids in row_ids.items():
        for rid in ids:
            store.reattach(db, table, rid, to_id)
            rec.add(MERGED_ROWS[table], rid, "issue_id", from_id, to_id)


def merge_issues(db: sqlite_utils.Database, actor: Actor, survivor_id: int, absorbed_id: int,
                 *, survivor_version: int | None, absorbed_version: int | None, at: str) -> int:
    """Merge `absorbed` into `survivor`: the survivor keeps both sets of sources, work streams,
    focus points and causes, every measure, evidence, accountability record and extension; the
    absorbed issue stays (with its history) marked as merged. Returns the merge id; the merge
    can be undone until the survivor next changes."""
    if survivor_id == absorbed_id:
        raise ValidationFailed("absorbed_id", "an issue cannot be merged into itself")
    with write_transaction(db):
        s = get_row(db, "issues", survivor_id, "issue")
        a = get_row(db, "issues", absorbed_id, "issue")
        require(actor, "issue.merge", unit_id=s["unit_id"], what=s["code"])
        require(actor, "issue.merge", unit_id=a["unit_id"], what=a["code"])
        check_version(db, "issue", s, survivor_version)
        check_version(db, "issue", a, absorbed_version)
        for row in (s, a):
            if row["merged_into_id"]:
                raise ValidationFailed("merged_into_id", f"{row['code']} is already merged")
        if s["status"] in (Status.CLOSED.value, Status.ENDED.value) and \
                a["status"] in {x.value for x in OPEN_STATUSES}:
            raise ValidationFailed("survivor_id", f"{s['code']} is {s['status']}: merge the open "
                                                  f"{a['code']} into an open issue instead")
        rec = Recorder(db, actor, at, "issue.merge")
        row_ids = {t: store.child_row_ids(db, t, absorbed_id) for t in MERGED_ROWS}
        links = {}
        for field, (table, column) in ISSUE_LINKS.items():
            old_s = store.link_ids(db, table, column, survivor_id)
            old_a = store.link_ids(db, table, column, absorbed_id)
            links[field] = old_s
            _set_links(db, rec, survivor_id, table, column, field, old_s + old_a)
        _move_rows(db, rec, row_ids, absorbed_id, survivor_id)
        survivor_values: dict = {}
        if not s["deadline"] and a["deadline"]:
            survivor_values.update(deadline=a["deadline"],
                                   original_deadline=a["original_deadline"])
        if not s["amount_involved"] and a["amount_involved"]:
            survivor_values["amount_involved"] = a["amount_involved"]
        if not s["responsible_person_id"] and a["responsible_person_id"]:
            survivor_values["responsible_person_id"] = a["responsible_person_id"]
        if not update(db, rec, "issues", "issue", s, survivor_values):
            bump_version(db, "issues", "issue", s)
        update(db, rec, "issues", "issue", a, {"merged_into_id": survivor_id, "merged_at": at})
        new_version = store.issue_version(db, survivor_id)
        # What undo_merge needs to put everything back.
        moved = {"rows": row_ids, "links_before": links,
                 "survivor_values_before": {k: s[k] for k in survivor_values}}
        merge_id = insert(db, rec, "merges", "merge", {
            "survivor_id": survivor_id, "absorbed_id": absorbed_id,
            "survivor_version": new_version, "moved": json.dumps(moved, ensure_ascii=False),
            "merged_by": actor.user_id, "at": at})
        rec.flush()
    return merge_id


def undo_merge(db: sqlite_utils.Database, actor: Actor, merge_id: int, *, at: str) -> None:
    """Undo a merge while the survivor has not changed since (its version is the one the merge
    left and nothing moved has been touched)."""
    with write_transaction(db):
        mg = get_row(db, "merges", merge_id, "merge")
        s = get_row(db, "issues", mg["survivor_id"], "issue")
        a = get_row(db, "issues", mg["absorbed_id"], "issue")
        require(actor, "issue.merge", unit_id=s["unit_id"], what=s["code"])
        if mg["undone_at"]:
            raise MergeNotUndoable(f"merge {merge_id} was already undone", merge_id=merge_id)
        moved = json.loads(mg["moved"])
        touched = store.changes_since_merge(db, merge_id, s["id"])
        if s["version"] != mg["survivor_version"] or touched:
            raise MergeNotUndoable(f"{s['code']} has changed since the merge; it can no longer be "
                                   "undone", merge_id=merge_id, code=s["code"])
        rec = Recorder(db, actor, at, "issue.unmerge")
        _move_rows(db, rec, moved["rows"], s["id"], a["id"])
        for field, before in moved["links_before"].items():
            table, column = ISSUE_LINKS[field]
            _set_links(db, rec, s["id"], table, column, field, before)
        if not update(db, rec, "issues", "issue", s, moved["survivor_values_before"]):
            bump_version(db, "issues", "issue", s)
        update(db, rec, "issues", "issue", a, {"merged_into_id": None, "merged_at": None})
        store.mark_merge_undone(db, merge_id, at)
        rec.add("merge", merge_id, "undone_at", None, at)
        rec.flush()


# --- clusters proposed by the duplicate finder --------------------------------------------




def confirm_cluster(db: sqlite_utils.Database, actor: Actor, cluster: Cluster | list[int],
                    survivor_id: int, at: str, versions: dict[int, int] | None = None
                    ) -> list[int]:
    """Merge every other issue of the cluster into `survivor_id` through merge_issues, in one
    transaction (all or nothing). Returns the merge ids. `versions` (issue id → the version
    shown) refuses with StaleEdit a merge of issues changed since they were shown: a second
    click of 确认合并 on the same cluster changes nothing."""
    ids = cluster.issue_ids if isinstance(cluster, Cluster) else list(cluster)
    if survivor_id not in ids:
        raise ValidationFailed("survivor_id", "the issue to keep must be one of the cluster")
    require(actor, "issue.merge")
    merge_ids = []
    with write_transaction(db):
        for iid, version in sorted((versions or {}).items()):
            check_version(db, "issue", get_row(db, "issues", iid, "issue"), version)
        for other in sorted(ids):
            if other != survivor_id:
                merge_ids.append(merge_issues(db, actor, survivor_id, other,
                                                     survivor_version=None,
                                                     absorbed_version=None, at=at))
    return merge_ids


def reject_cluster(db: sqlite_utils.Database, actor: Actor, cluster: Cluster | list[int],
                   at: str) -> int:
    """Record that the issues of the cluster are different findings, so that none of its pairs
    is proposed again. Returns the number of pairs recorded."""
    ids = sorted(cluster.issue_ids if isinstance(cluster, Cluster) else cluster)
    if len(ids) < 2:
        raise ValidationFailed("cluster", "a cluster has at least two issues")
    require(actor, "issue.merge")
    with write_transaction(db):
        for iid in ids:
            unit = store.issue_row(db, iid)
            if unit is None:
                raise NotFound(f"issue {iid} not found", entity="issue", id=iid)
            require(actor, "issue.merge", unit_id=unit["unit_id"], what=str(iid))
        existing = rejected_pairs(db)
        new = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:] if (a, b) not in existing]
        if not new:
            return 0
        rec = Recorder(db, actor, at, "duplicate.reject")
        store.add_rejected_pairs(db, new, rejected_by=actor.user_id, at=at)
        rec.add("duplicate", ids[0], "rejected", None, ids)
        rec.flush()
    return len(new)
