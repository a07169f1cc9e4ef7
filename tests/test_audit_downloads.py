"""Download grants: a token opens one file for one session, the same token while it is valid,
nothing once the session signs out or the grant expires; the evidence behind it is checked
again, against the user as the database has them, when it is fetched."""
from __future__ import annotations

import pytest

from audit import accounts_service
from audit.model import NotPermitted
from audit.store import downloads
from issues import evidence_service
from tests import programme


def _file():
    return "a.pdf", "application/pdf", b"%PDF-1.4"


def test_a_grant_is_reused_while_valid_and_gone_after_sign_out():
    token = downloads.grant("s1", 7, "evidence:1", _file, now=100.0)
    assert downloads.grant("s1", 7, "evidence:1", _file, now=101.0) == token
    assert downloads.redeem(token, now=102.0).user_id == 7
    other = downloads.grant("s2", 7, "evidence:1", _file, now=102.0)
    assert other != token
    assert downloads.revoke_session("s1") == 1
    assert downloads.redeem(token, now=103.0) is None
    assert downloads.redeem(other, now=103.0) is not None
    downloads.revoke_session("s2")


def test_a_grant_expires_and_an_unknown_token_opens_nothing():
    token = downloads.grant("s3", 7, "evidence:2", _file, seconds=10, now=0.0)
    assert downloads.redeem(token, now=9.0) is not None
    assert downloads.redeem(token, now=10.0) is None
    assert downloads.redeem("made-up", now=1.0) is None
    assert downloads.grant("s3", 7, "evidence:2", _file, seconds=10, now=11.0) != token
    downloads.revoke_session("s3")


@pytest.fixture
def p(tmp_path):
    prog = programme.build(tmp_path)
    iid = prog.new_issue(unit="A")
    prog.assign(iid, deadline="2026-06-30")
    prog.measure(iid, deadline="2026-06-30")
    prog.start(iid)
    prog.make_closable(iid, day="2026-03-02")
    prog.evidence_id = prog.db.conn.execute("SELECT id FROM evidence").fetchone()[0]
    return prog


def test_a_fetched_link_checks_the_user_and_scope_as_they_are_then(p):
    eid, root = p.evidence_id, p.evidence_root
    name, _mime, data = evidence_service.evidence_for_download(p.db, p.actors["rect"].user_id,
                                                               eid, root)
    assert data.startswith(b"%PDF")
    with pytest.raises(NotPermitted):     # unit B's rectifier: not in scope
        evidence_service.evidence_for_download(p.db, p.actors["rect_b"].user_id, eid, root)
    accounts_service.set_active(p.db, p.actors["admin"], p.actors["rect"].user_id, False,
                                at=p.at("2026-03-03"))
    with pytest.raises(NotPermitted):     # disabled after the link was given
        evidence_service.evidence_for_download(p.db, p.actors["rect"].user_id, eid, root)
