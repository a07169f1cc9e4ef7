"""The demo programme: the Inner Mongolia branch's outsourcing rectification, 8 categories,
22 aspects and 38 issues, built through the real services with a history spread over the last
five months. Deterministic for a given seed; dates are relative to `as_of`. Tests and the dev
database use this one module."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import sqlite_utils

from audit import accounts_service, calendar_service, login_service
from audit.model import Actor, Role
from audit.time_model import at_day
from issues import evidence_service
from issues import service as issues
from issues.model import Move
from owners import service as owners
from issues import escalation_service

DEMO_PASSWORD = "demo1234"
DEMO_ACCOUNTS = (
    ("admin", "admin", None, "系统管理员"),
    ("lead", "lead", None, "审计部 牵头人"),
    ("lead2", "lead", None, "审计部 复核人"),
    ("team", "rectifier", "BT", "包头市分公司 整改责任人"),
    ("team2", "rectifier", "BT", "包头市分公司 整改组成员"),
    ("manager", "manager", "BT", "包头市分公司 领导"),
)
# What the demo rectifiers' and manager's unit (包头) shows, in the order of its issues: red,
# amber and green items, one returned and one waiting for verification, one struck off.
BT_FATES = ("overdue", "amber", "in_progress", "returned", "submitted", "overdue",
            "closed_on_time")

REGION = ("NM", "内蒙古自治区分公司")
# The demo's ledger predates the cap on staged + continuous items (audit.rules_model): the types
# it registered are kept, each acceptance recorded with this reason.
LEDGER_TYPE_REASON = "按原审计整改台账登记的整改类型"
CITIES = [
    ("HHHT", "呼和浩特市分公司", ["托克托县", "武川县"]),
    ("BT", "包头市分公司", ["固阳县", "土默特右旗"]),
    ("HLBE", "呼伦贝尔市分公司", ["扎兰屯市", "牙克石市"]),
    ("XAM", "兴安盟分公司", ["科尔沁右翼前旗", "突泉县"]),
    ("TL", "通辽市分公司", ["开鲁县", "科尔沁左翼中旗"]),
    ("CF", "赤峰市分公司", ["宁城县", "翁牛特旗"]),
    ("XLGL", "锡林郭勒盟分公司", ["二连浩特市", "多伦县"]),
    ("WLCB", "乌兰察布市分公司", ["丰镇市", "凉城县"]),
    ("EEDS", "鄂尔多斯市分公司", ["准格尔旗", "达拉特旗"]),
    ("BYNE", "巴彦淖尔市分公司", ["五原县", "临河区"]),
    ("WH", "乌海市分公司", ["海勃湾区", "乌达区"]),
    ("ALS", "阿拉善盟分公司", ["阿拉善左旗", "额济纳旗"]),
]

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志斌海燕宇浩然晨阳雪梅琳婷飞凯文博"

# code, name, [(aspect name, [issue titles])]
CATALOGUE = [
    ("C1", "外包合同管理", [
        ("合同签订", ["部分外包合同未经法律审核即签订", "外包合同先履行后签订，存在倒签合同"]),
        ("合同履行", ["合同约定的服务标准与实际执行不一致", "未按合同约定收取履约保证金"]),
        ("合同变更与续签", ["合同到期后未重新选商直接续签", "合同变更未履行审批程序"]),
    ]),
    ("C2", "外包商选择与退出", [
        ("准入与资质审查", ["外包商资质审查不严，个别承包方无快递业务经营许可",
                            "未建立外包商准入名录和信用档案"]),
        ("采购方式", ["化整为零规避公开招标", "单一来源采购论证不充分"]),
        ("考核淘汰与退出", ["考核不合格的外包商未按规定退出"]),
    ]),
    ("C3", "外包费用结算", [
        ("结算依据", ["结算业务量未与系统数据核对，存在虚增业务量",
                      "结算单据审核签字不全"]),
        ("单价标准", ["外包单价高于同地区市场价格", "同一区域不同外包商单价差异大且无测算依据",
                      "外包单价调整未经集体决策"]),
        ("费用支付", ["超合同约定金额支付外包费用", "考核扣罚款未在结算中抵扣"]),
    ]),
    ("C4", "服务质量与考核", [
        ("考核办法", ["未制定外包服务质量考核办法", "考核指标与投递时限要求脱节"]),
        ("扣罚执行", ["考核扣罚执行不到位，扣罚标准随意降低", "考核结果未与结算挂钩"]),
        ("客户投诉处理", ["外包段道客户投诉处理不及时"]),
    ]),
    ("C5", "寄递安全管理", [
        ("收寄验视与实名", ["外包网点未严格执行收寄验视制度", "实名收寄信息登记不全"]),
        ("安全检查", ["外包转运环节未按规定过机安检", "安全检查记录缺失"]),
        ("车辆与场地安全", ["外包车辆未纳入监控平台管理"]),
    ]),
    ("C6", "外包人员管理", [
        ("资质与培训", ["外包投递人员未经岗前培训即上岗", "外包人员身份信息未备案"]),
        ("用工合规", ["以业务外包名义变相劳务派遣", "未核查外包人员社会保险缴纳情况"]),
    ]),
    ("C7", "系统与数据管理", [
        ("系统权限", ["外包人员共用系统账号", "离岗外包人员系统权限未及时注销"]),
        ("数据质量", ["投递系统数据与结算数据不一致"]),
    ]),
    ("C8", "内部控制与监督", [
        ("制度建设", ["外包管理制度未随业务变化及时修订"]),
        ("监督检查", ["对外包业务缺乏常态化监督检查"]),
        ("整改与问责", ["以往审计发现问题整改不到位，屡审屡犯"]),
    ]),
]

CAUSES = [
    ("R1", "外包管理制度不健全，归口部门与业务部门职责边界不清"),
    ("R2", "合同与采购环节内控缺位，法律审核与集体决策流于形式"),
    ("R3", "结算数据依赖外包商自报，缺乏系统校验与交叉核对"),
    ("R4", "考核机制与结算脱节，奖惩不到位"),
    ("R5", "寄递安全主体责任未压实到外包环节"),
    ("R6", "外包人员准入、培训与用工管理粗放"),
    ("R7", "信息系统权限与数据管理薄弱"),
    ("R8", "整改跟踪与问责机制缺失，问题反复出现"),
]
CATEGORY_CAUSES = {"C1": ["R2", "R1"], "C2": ["R2", "R1"], "C3": ["R3", "R4"],
                   "C4": ["R4"], "C5": ["R5"], "C6": ["R6", "R1"], "C7": ["R7", "R3"],
                   "C8": ["R8", "R1"]}
CATEGORY_FOCUS = {"C1": ["F1"], "C2": ["F1", "F3"], "C3": ["F1"], "C4": ["F4"], "C5": ["F5"],
                  "C6": ["F2", "F3"], "C7": ["F2"], "C8": ["F5"]}
MEASURE_TEMPLATES = {
    "C1": ["全面梳理在执行外包合同并补充法律审核", "修订合同范本，明确服务标准和违约责任",
           "建立合同台账并实行到期预警"],
    "C2": ["清理不具备资质的外包商并重新选商", "建立外包商准入名录和信用评价档案",
           "规范采购方式，达到限额的一律公开招标"],
    "C3": ["逐笔核对近一年结算业务量与系统数据", "开展外包单价市场比价并重新测算",
           "追回多付费用并在结算中抵扣扣罚款"],
    "C4": ["制定外包服务质量考核办法", "将考核结果与月度结算挂钩", "建立客户投诉闭环处理机制"],
    "C5": ["开展外包网点收寄验视专项检查", "外包转运环节全部过机安检并留存记录",
           "外包车辆全部接入监控平台"],
    "C6": ["组织外包人员岗前培训并持证上岗", "完成外包人员身份信息备案",
           "核查外包人员社保缴纳并督促整改"],
    "C7": ["清理共用账号并实行一人一号", "建立离岗人员权限注销流程", "建立投递与结算数据每月比对机制"],
    "C8": ["修订外包管理制度并印发执行", "建立外包业务常态化监督检查机制", "对屡审屡犯问题严肃问责"],
}
DESCRIPTION = ("{year}年{audit}发现：{unit}{title}。该问题涉及寄递业务外包管理的{aspect}环节，"
               "影响外包业务降本增效目标的实现，需查明原因、落实责任并从源头整改。")

# fate, count: what happens to each issue over the programme (closed on time, late, …)
FATES = ([("closed_on_time", 12), ("closed_late", 4), ("submitted", 3), ("returned", 2),
          ("in_progress", 6), ("amber", 2), ("extended", 1), ("overdue", 5),
          ("not_started", 2), ("ended", 1)])


@dataclass
class _Ev:
    day: int
    order: int
    fn: object


def _name(rng: random.Random, used: set[str]) -> str:
    while True:
        n = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        if n not in used:
            used.add(n)
            return n


def evidence_pdf(text: str) -> bytes:
    """A small, valid one-page PDF used as demo evidence."""
    body = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1", "replace")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length " + str(len(body)).encode() + b" >>\nstream\n" + body + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + o + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _give_bt_its_fates(issue_list: list[tuple]) -> None:
    """Swap fates so that 包头's issues, in order, have BT_FATES: every fate keeps its count in
    the programme, and the demo rectifier and manager always see every kind of item."""
    bt = [i for i, item in enumerate(issue_list) if item[3] == "BT"]
    for i, wanted in zip(bt, BT_FATES):
        if issue_list[i][4] == wanted:
            continue
        j = next(j for j, item in enumerate(issue_list)
                 if j not in bt and item[4] == wanted)
        a, b = issue_list[i], issue_list[j]
        issue_list[i], issue_list[j] = a[:4] + (wanted,), b[:4] + (a[4],)


def build_demo(db: sqlite_utils.Database, *, as_of: date, seed: int = 1,
               evidence_root: Path) -> dict:
    """Fill an empty database with the demo programme as it stands on `as_of`.
    Returns a summary: counts and the demo accounts."""
    rng = random.Random(seed)
    start = as_of - timedelta(days=150)

    def at(day: int, hour: int = 9, minute: int = 0) -> str:
        return at_day(start + timedelta(days=day), hour, minute)

    def dt(day: int) -> date:
        return start + timedelta(days=day)

    calendar_service.seed_calendar(db, range(as_of.year - 3, as_of.year + 2), at=at(0, 8))

    # --- organisation ----------------------------------------------------------------------
    owners.create_unit(db, None, code=REGION[0], name=REGION[1], level="region", at=at(0, 8))
    used: set[str] = set()
    people: dict[str, list[int]] = {}
    unit_ids: dict[str, int] = {}
    unit_ids[REGION[0]] = db.conn.execute("SELECT id FROM units WHERE code = ?",
                                          (REGION[0],)).fetchone()[0]

    def add_people(code: str, titles: list[str]) -> None:
        ids = []
        for t in titles:
            ids.append(owners.create_person(db, None, name=_name(rng, used),
                                            unit_id=unit_ids[code], title=t, at=at(0, 8, 5)))
        people[code] = ids
        owners.set_unit_head(db, None, unit_ids[code], ids[0], at=at(0, 8, 6))

    for city_code, city_name, counties in CITIES:
        unit_ids[city_code] = owners.create_unit(db, None, code=city_code, name=city_name,
                                                 level="city", parent_code=REGION[0],
                                                 at=at(0, 8, 1))
        for n, county in enumerate(counties, 1):
            code = f"{city_code}-{n:02d}"
            unit_ids[code] = owners.create_unit(
                db, None, code=code, name=f"{county}分公司", level="county",
                parent_code=city_code, at=at(0, 8, 2))
            add_people(code, ["县分公司经理", "寄递业务主管"])
        add_people(city_code, ["总经理", "分管副总经理", "寄递事业部主任", "审计专员", "寄递业务主管"])
    add_people(REGION[0], ["总经理", "纪委书记", "审计部主任", "审计部审计师", "审计部审计师",
                           "寄递事业部总经理", "财务部主任"])

    region_people = people[REGION[0]]
    accounts = {}
    person_for = {"lead": region_people[3], "lead2": region_people[4], "admin": None,
                  "team": people["BT"][4], "team2": people["BT"][2],
                  "manager": people["BT"][0]}
    for username, role, unit_code, display in DEMO_ACCOUNTS:
        # A person's account greets them by their name (the sidebar adds the role and the
        # scope); the description stays for the sign-in page and `init --demo`.
        if person_for[username] is not None:
            display = db.conn.execute("SELECT name FROM people WHERE id = ?",
                                      (person_for[username],)).fetchone()[0]
        uid = accounts_service.create_user(db, None, username, DEMO_PASSWORD, role,
                                unit_id=unit_ids[unit_code] if unit_code else None,
                                person_id=person_for[username], display_name=display,
                                at=at(0, 8, 30))
        accounts[username] = login_service.actor_for(db, uid)
    accounts_service.mark_demo_database(db, at(0, 8, 31))
    lead, lead2, admin, team, team2 = (accounts["lead"], accounts["lead2"], accounts["admin"],
                                       accounts["team"], accounts["team2"])

    # --- source audits over the last three years ----------------------------------------
    y = as_of.year
    audit_specs = [
        ("集团公司寄递业务外包管理专项审计", y - 2, "group", f"中邮审〔{y - 2}〕18号"),
        ("区分公司经济责任审计", y - 2, "regional", f"内邮审〔{y - 2}〕7号"),
        ("区分公司寄递业务成本费用专项审计", y - 1, "regional", f"内邮审〔{y - 1}〕11号"),
        ("集团公司内部控制审计", y - 1, "group", f"中邮审〔{y - 1}〕25号"),
        ("区分公司寄递业务外包专项审计", y, "regional", f"内邮审〔{y}〕3号"),
    ]
    audit_ids = [issues.ensure_audit(db, lead, name=n, year=yr, level=lv, report_no=no,
                                     at=at(1, 9)) for n, yr, lv, no in audit_specs]
    cause_ids = {code: issues.create_cause(db, lead, code=code, title=title, at=at(1, 10))
                 for code, title in CAUSES}

    # --- the catalogue ---------------------------------------------------------------------
    fates = [f for f, n in FATES for _ in range(n)]
    rng.shuffle(fates)
    # team's branch gets a fair share of open and closed items, so every demo role has work
    city_codes = [c[0] for c in CITIES]
    issue_list = []
    n = 0
    for cat_code, cat_name, aspects in CATALOGUE:
        cat_id = issues.create_category(db, lead, code=cat_code, name=cat_name, at=at(2, 9))
        for aspect_name, titles in aspects:
            asp_id = issues.create_aspect(db, lead, category_id=cat_id, name=aspect_name,
                                          at=at(2, 9, 10))
            for title in titles:
                city = "BT" if n % 6 == 1 else city_codes[n % len(city_codes)]
                unit = city if rng.random() < 0.7 or city == "BT" else \
                    f"{city}-{rng.randint(1, 2):02d}"
                k = rng.random()
                srcs = ([audit_ids[rng.randrange(5)]] if k < 0.6 else
                        [audit_ids[i] for i in sorted(rng.sample(range(5), 2))])
                streams = ["audit"] if k < 0.55 else (["cleanup"] if k < 0.75 else
                                                       ["audit", "cleanup"])
                if n == 1:
                    # 包头's first item was found again, two years on (屡审屡犯).
                    srcs = [audit_ids[0], audit_ids[4]]
                src_names = [audit_specs[audit_ids.index(s)] for s in srcs]
                amount = round(rng.choice([0, 0, 12000, 35800.5, 86000, 150000, 420000.8,
                                           1260000]) * (0.5 + rng.random()), 2)
                iid = issues.create_issue(
                    db, lead, aspect_id=asp_id, title=title, unit_id=unit_ids[unit],
                    description=DESCRIPTION.format(year=src_names[0][1], audit=src_names[0][0],
                                                   unit=dict((c[0], c[1]) for c in CITIES)
                                                   .get(city, ""), title=title,
                                                   aspect=aspect_name),
                    severity=rng.choice(["high", "medium", "medium", "low"]),
                    amount_involved=amount,
                    basis="《中国邮政集团有限公司业务外包管理办法》",
                    recommendation="建议查明原因，完善制度，落实责任，举一反三开展整改。",
                    rectification_type=rng.choice(["immediate", "immediate", "staged",
                                                   "continuous"]),
                    accept_reason=LEDGER_TYPE_REASON, sources=srcs, streams=streams, focus=CATEGORY_FOCUS[cat_code],
                    at=at(3 + n % 4, 10, n % 60))
                issue_list.append((iid, cat_code, unit, city, fates[n]))
                n += 1
    _give_bt_its_fates(issue_list)

    # --- the programme over time --------------------------------------------------------------
    events: list[_Ev] = []
    today = (as_of - start).days
    root = evidence_root

    def ev(day: int, fn, order: int = 0) -> None:
        events.append(_Ev(min(day, today), order, fn))

    def version(iid: int) -> int:
        return db.conn.execute("SELECT version FROM issues WHERE id = ?", (iid,)).fetchone()[0]

    def mversion(mid: int) -> int:
        return db.conn.execute("SELECT version FROM measures WHERE id = ?", (mid,)).fetchone()[0]

    measure_map: dict[int, list[int]] = {}
    for idx, (iid, cat, unit, city, fate) in enumerate(issue_list):
        staff = people[unit]
        responsible = (team.person_id if city == "BT" and unit == "BT" else staff[-1])
        supervisor = people[city][1]
        if fate == "closed_on_time":
            deadline = today - rng.randint(15, 90)
        elif fate == "closed_late":
            deadline = today - rng.randint(40, 80)
        elif fate in ("submitted", "in_progress"):
            deadline = today + rng.randint(15, 90)
        elif fate == "returned":
            deadline = today + rng.randint(20, 60)
        elif fate == "amber":
            deadline = today + rng.randint(3, 9)
        elif fate == "extended":
            deadline = today - 10
        elif fate == "overdue":
            deadline = today - rng.randint(3, 35)
        else:
            deadline = today + rng.randint(30, 120)
        assign_day = 8 + idx % 5

        def assign(iid=iid, responsible=responsible, supervisor=supervisor, deadline=deadline,
                   fate=fate, assign_day=assign_day):
            kwargs = dict(supervisor_person_id=supervisor, deadline=dt(deadline).isoformat())
            if fate != "not_started":
                kwargs["responsible_person_id"] = responsible
            owners.assign_issue(db, lead, iid, version=version(iid), at=at(assign_day, 10),
                                **kwargs)
        ev(assign_day, assign)
        n_measures = 0 if fate == "not_started" and idx % 2 else rng.randint(1, 3)
        templates = rng.sample(MEASURE_TEMPLATES[cat], n_measures)
        mids: list[int] = []
        measure_map[iid] = mids
        for k, mt in enumerate(templates):
            m_deadline = deadline - rng.randint(0, 10) * (k < n_measures - 1)

            owner = staff[k % len(staff)] if fate != "not_started" or k else None
            if unit == "BT":
                # The two demo rectifiers of 包头 share its items' measures.
                owner = (team, team2)[k % 2].person_id

            def add(iid=iid, mt=mt, owner=owner, m_deadline=m_deadline, mids=mids,
                    day=assign_day + 1):
                mids.append(issues.add_measure(db, lead, iid, title=mt, owner_person_id=owner,
                                               deadline=dt(m_deadline).isoformat(),
                                               at=at(day, 11, len(mids))))
            ev(assign_day + 1, add)
        if fate == "not_started":
            continue
        ev(assign_day + 2, lambda iid=iid, d=assign_day + 2: issues.move_issue(
            db, lead, iid, Move.START, version=version(iid), at=at(d, 9)))
        actor_for_own = team if responsible == team.person_id else lead

        def causes_and_accountability(iid=iid, cat=cat, day=assign_day + 12,
                                      actor=actor_for_own):
            for code in CATEGORY_CAUSES[cat][: 1 + rng.randint(0, 1)]:
                issues.record_root_cause(db, actor, iid, cause_id=cause_ids[code], at=at(day, 15))
            if rng.random() < 0.35:
                issues.record_accountability(db, actor, iid, person_name=_name(rng, used),
                                             action="通报批评并扣减当年绩效",
                                             penalty=1000.0 * (1 + iid % 3), at=at(day, 16))
            else:
                issues.record_accountability(db, actor, iid, not_applicable=True,
                                             reason="属于制度缺陷，经集体研究不涉及个人责任",
                                             at=at(day, 16))
        if fate not in ("overdue", "amber") or idx % 2 == 0:
            ev(assign_day + 12, causes_and_accountability)

        # when the work is finished, and what happens next
        if fate == "closed_on_time":
            done_day = deadline - rng.randint(5, 12)
        elif fate == "closed_late":
            done_day = deadline + rng.randint(3, 12)
        elif fate == "submitted":
            done_day = today - rng.randint(2, 5)
        elif fate == "returned":
            done_day = today - 25
        else:
            done_day = None

        def complete(iid=iid, mids=mids, actor=actor_for_own, all_done=True):
            def run(day: int) -> None:
                for j, mid in enumerate(mids):
                    if not all_done and j == len(mids) - 1 and len(mids) > 1:
                        continue
                    if not all_done and len(mids) == 1:
                        continue
                    evidence_service.attach_evidence(
                        db, actor, iid, filename=f"整改佐证-M{mid}.pdf",
                        data=evidence_pdf(f"Evidence for measure {mid}"), evidence_root=root,
                        max_bytes=20 * 1024 * 1024, measure_id=mid, at=at(day, 14, j))
                    issues.set_measure_status(db, actor, mid, version=mversion(mid),
                                              status="done", at=at(day, 15, j))
            return run
        if done_day is not None:
            done_day = max(done_day, assign_day + 13)
            ev(done_day, lambda d=done_day, f=complete(): f(d))
            ev(done_day + 1, lambda iid=iid, d=done_day + 1, actor=actor_for_own:
               issues.move_issue(db, actor, iid, Move.SUBMIT, version=version(iid), at=at(d, 10)))
        elif fate in ("overdue", "in_progress", "extended", "amber"):
            mid_day = assign_day + 20 + rng.randint(0, 30)
            ev(mid_day, lambda d=mid_day, f=complete(all_done=False): f(d))
        if fate in ("closed_on_time", "closed_late"):
            # segregation of duties: never the one who submitted it
            closer = lead2 if actor_for_own is lead else rng.choice([lead, lead2])
            close_day = done_day + rng.randint(2, 4)
            ev(close_day, lambda iid=iid, d=close_day, c=closer: issues.move_issue(
                db, c, iid, Move.CLOSE, version=version(iid), at=at(d, 16)))
        if fate == "returned":
            ev(done_day + 4, lambda iid=iid, d=done_day + 4: issues.move_issue(
                db, lead2, iid, Move.RETURN, version=version(iid),
                reason="佐证材料不充分：缺少结算数据比对结果，请补充后重新提交", at=at(d, 11)))
            ev(done_day + 6, lambda iid=iid, d=done_day + 6, actor=actor_for_own:
               issues.update_progress(db, actor, iid, version=version(iid),
                                      progress="已按验收意见补充比对数据，正在复核。",
                                      at=at(d, 11)))
        if fate == "extended":
            ev(today - 15, lambda iid=iid: owners.extend_deadline(
                db, lead, iid, version=version(iid), new_deadline=dt(today + 30).isoformat(),
                reason="涉及跨部门系统改造，经分管领导批准延期", at=at(today - 15, 14)))
        if fate == "ended":
            ev(today - 40, lambda iid=iid: issues.move_issue(
                db, lead, iid, Move.END, version=version(iid),
                reason="该外包业务已于年内整体收回自营，问题所涉业务不复存在", at=at(today - 40, 10)))
        if fate in ("in_progress", "overdue", "amber"):
            ev(today - rng.randint(1, 10), lambda iid=iid, actor=actor_for_own, d=today - 3:
               issues.update_progress(db, actor, iid, version=version(iid),
                                      progress="正在推进，已完成部分措施，剩余措施按计划实施。",
                                      at=at(d, 17)))

    events.sort(key=lambda e: (e.day, e.order))
    for e in events:
        e.fn()

    # cross-issue dependencies and source-level measures on two shared causes
    pairs = [(issue_list[i][0], issue_list[j][0]) for i, j in ((20, 14), (33, 35), (24, 26))]
    for waiting, first in pairs:
        if measure_map.get(waiting) and measure_map.get(first):
            st = db.conn.execute("SELECT status FROM issues WHERE id IN (?, ?)",
                                 (waiting, first)).fetchall()
            if all(s[0] in ("not_started", "in_progress") for s in st):
                issues.add_dependency(db, lead, measure_map[waiting][0], measure_map[first][0],
                                      at=at(today - 2, 9))
    # A measure of 包头's second red item waits for a measure of an overdue item elsewhere (a
    # blocked chain), and its red items have had their first escalation step recorded.
    def undone(mids: list[int]) -> list[int]:
        return [m for m in mids if db.conn.execute("SELECT status FROM measures WHERE id = ?",
                                                   (m,)).fetchone()[0] != "done"]
    # The measure waited for is itself unfinished, so the chain really is blocked; the waiting
    # one is the second rectifier's on the second red item, which leaves the green item free
    # to be finished and submitted (the rectifier's task in the browser tests).
    late = next(m for iid, _c, unit, city, fate in issue_list
                if fate == "overdue" and city != "BT" for m in undone(measure_map.get(iid, [])))
    red = [iid for iid, _c, unit, city, fate in issue_list if unit == "BT" and fate == "overdue"]
    waiting = undone(measure_map.get(red[-1], []))
    if waiting:
        issues.add_dependency(db, lead, waiting[-1], late, at=at(today - 2, 10))
    from issues import graph_views
    from audit.views import scope_for
    dues = [d for d in graph_views.escalations_due(db, scope_for(db, lead), as_of)
            if d["issue_id"] in {iid for iid, _c, unit, _ct, fate in issue_list
                                 if unit == "BT" and fate == "overdue"}]
    escalation_service.record_escalations(db, lead, as_of, at(today - 1, 9), dues=dues)
    for code, title, owner in (("R3", "上线外包结算数据系统校验功能，结算量自动比对", region_people[6]),
                               ("R4", "全区统一外包考核与结算挂钩办法", region_people[5])):
        issues.add_cause_measure(db, lead, cause_ids[code], title=title, owner_person_id=owner,
                                 deadline=(as_of + timedelta(days=45)).isoformat(),
                                 at=at(today - 20, 9))
    _report_outcomes(db, lead, admin, issue_list, unit_ids, cause_ids, at(today - 1, 10),
                     random.Random(seed + 22))
    _rules_after_closure(db, lead, as_of, at(today - 1, 11))
    _rules_demo(db, lead, issue_list, as_of, region_people[5])
    return {"issues": len(issue_list), "accounts": [a[0] for a in DEMO_ACCOUNTS],
            "password": DEMO_PASSWORD}


DEMO_REPORT_SETTINGS = {
    "report.company": "中国邮政集团有限公司内蒙古自治区分公司",
    "report.company_en": "China Post Group Co., Ltd. Inner Mongolia Branch",
    "report.department": "审计部（外包专项整治和审计整改工作办公室）",
    "report.department_en": "Audit Department (Outsourcing Clean-up and Audit Rectification Office)",
    "report.compiler": "审计部",
    "report.compiler_en": "Audit Department",
    "report.contact": "王芳　0471-6912345",
    "report.house_style": "fangsong",
    "report.classification": "internal",
    "report.background": (
        "区分公司党委将外包专项整治与外包专项审计整改并轨推进，成立由总经理任组长的整改工作领导小组，"
        "下设两个整改工作组，在审计部合署办公，齐抓共管。对近三年集团公司和区分公司开展的审计项目"
        "进行“回头看”，将涉及寄递业务外包的问题归并为8大类22个方面38个问题，同步梳理降本增效五大关注点。\n"
        "整改工作坚持“三不放过”和“四个到人”，逐项明确责任单位、责任人、整改措施和整改时限，"
        "深挖问题根源，靶向施策，强化源头整改，推动整改落地落实落细。"),
}
# Rules made or revised because of the findings (建章立制): unit code, cause code, title, kind.
DEMO_RULES = [
    ("NM", "R1", "内蒙古分公司寄递业务外包管理办法（2026年修订）", "revised"),
    ("NM", "R2", "外包合同法律审核与集体决策实施细则", "made"),
    ("NM", "R3", "外包结算数据交叉核对操作规程", "made"),
    ("NM", "R4", "外包服务质量考核与结算挂钩办法", "made"),
    ("BT", "R5", "包头市分公司外包环节寄递安全责任清单", "made"),
    ("CF", "R6", "赤峰市分公司外包人员准入与培训管理规定（修订）", "revised"),
]


def _report_outcomes(db: sqlite_utils.Database, lead: Actor, admin: Actor,
                     issue_list: list, unit_ids: dict[str, int], cause_ids: dict[str, int],
                     at: str, rng: random.Random) -> None:
    """What the review pack's 整改成效 and cover print: amounts corrected and recovered on
    closed issues, rules made or revised, and the pack's settings. A random source of its own,
    so that the rest of the demo stays as it was."""
    from audit.report_settings_service import save_report_settings
    from issues import rules_service
    closed = db.conn.execute("SELECT id, amount_involved, version FROM issues "
                             "WHERE status = 'closed' ORDER BY id").fetchall()
    for iid, amount, version in closed:
        if not amount:
            continue
        corrected = round(amount * rng.choice([0.6, 0.8, 1.0]), 2)
        recovered = round(amount * rng.choice([0, 0, 0.05, 0.12]), 2)
        issues.edit_issue(db, lead, iid, version=version, at=at,
                          amount_corrected=corrected, amount_recovered=recovered)
    for unit, cause, title, kind in DEMO_RULES:
        rules_service.add_rule(db, lead, unit_id=unit_ids[unit], cause_id=cause_ids[cause],
                               title=title, kind=kind, issued_on=at[:10], at=at)
    save_report_settings(db, admin, DEMO_REPORT_SETTINGS, at=at)


def _rules_demo(db: sqlite_utils.Database, lead: Actor, issue_list: list, as_of: date,
                owner: int) -> None:
    """The rules of docs/RULES.md at work: a staged item with milestones (one done, one late,
    one ahead, and a measure serving it accepted past the milestone's date), a continuous item
    with its stage goal and quarterly reports, and two past review meetings at which a 包头
    item was red (红灯 2 in a row, so its 督办函 is due). Chooses items by their fate, no
    random draws, so that the rest of the demo stays as it was."""
    from issues import meeting_service, rectify_service

    def at(day: date, hour: int = 9) -> str:
        return at_day(day, hour)

    def kind(iid: int) -> tuple[str, str]:
        return db.conn.execute("SELECT rectification_type, status FROM issues WHERE id = ?",
                               (iid,)).fetchone()

    staged = next(iid for iid, _c, unit, _ct, fate in issue_list
                  if unit != "BT" and fate == "in_progress" and kind(iid) == ("staged",
                                                                              "in_progress"))
    start = as_of - timedelta(days=60)
    done = rectify_service.add_milestone(db, lead, staged, due_on=as_of - timedelta(days=40),
                                         deliverable="完成存量外包合同清查，形成问题清单",
                                         at=at(start))
    rectify_service.add_milestone(db, lead, staged, due_on=as_of - timedelta(days=12),
                                  deliverable="完成问题合同补签或解除", at=at(start))
    ahead = rectify_service.add_milestone(db, lead, staged, due_on=as_of + timedelta(days=30),
                                          deliverable="建立合同全周期台账并通过复核",
                                          at=at(start))
    rectify_service.complete_milestone(db, lead, done, version=1, evidence="合同清查报告（附件）",
                                       done_on=as_of - timedelta(days=42),
                                       at=at(as_of - timedelta(days=42), 16))
    deadline = db.conn.execute("SELECT deadline FROM issues WHERE id = ?", (staged,)).fetchone()[0]
    late = max(as_of + timedelta(days=35), date.fromisoformat(deadline) if deadline else as_of)
    issues.add_measure(db, lead, staged, title="合同台账信息系统上线", owner_person_id=owner,
                       deadline=late.isoformat(), milestone_id=ahead,
                       accept_reason="系统上线需待全区统一版本发布，已报领导小组同意",
                       at=at(as_of - timedelta(days=20), 10))
    continuous = next(iid for iid, _c, unit, _ct, fate in issue_list
                      if unit != "BT" and kind(iid)[0] == "continuous"
                      and kind(iid)[1] in ("not_started", "in_progress"))
    rectify_service.add_milestone(db, lead, continuous, due_on=as_of + timedelta(days=180),
                                  kind="goal", deliverable="外包人员持证上岗率达到100%",
                                  at=at(start))
    reports = rectify_service.schedule_reports(
        db, lead, continuous, first=as_of - timedelta(days=30), every_months=3, count=4,
        deliverable="季度整改进展报告", at=at(start))
    rectify_service.complete_milestone(db, lead, reports[0], version=1,
                                       evidence="第一季度整改进展报告已报送",
                                       done_on=as_of - timedelta(days=31),
                                       at=at(as_of - timedelta(days=31), 15))
    # Two meetings, two weeks apart, both after a 包头 item's deadline had passed.
    first_late = db.conn.execute(
        "SELECT MIN(deadline) FROM issues i JOIN units u ON u.id = i.unit_id "
        "WHERE u.code = 'BT' AND i.status IN ('not_started', 'in_progress', 'submitted') "
        "AND i.deadline < ?", (as_of.isoformat(),)).fetchone()[0]
    second = as_of - timedelta(days=3)
    first = max(date.fromisoformat(first_late) + timedelta(days=1), second - timedelta(days=14))
    for n, day in enumerate((first, second)):
        meeting_service.record_meeting(
            db, lead, held_on=day, title=f"外包专项整治和审计整改推进会（第{n + 1}次）",
            attendees="区分公司整改工作领导小组成员，各市分公司分管领导、审计专员",
            decisions="逾期事项由责任单位说明原因并限期完成；连续两次红灯的事项发督办函。",
            at=at(day, 17))


def _rules_after_closure(db: sqlite_utils.Database, lead: Actor, as_of: date, at: str) -> None:
    """The check after closure and findings that come back, on the demo: the earliest struck-off
    item's check (回头看) brought forward to two days ago, so one check is due; and the latest
    open item flagged as the possible recurrence of the earliest struck-off one of the same
    category, for a lead to confirm or reject. Two-level verification stays off (the demo's
    items were struck off by one lead); tests/test_issues_verification_levels.py shows it."""
    from issues import recurrence_service
    closed = db.conn.execute("""
        SELECT i.id, i.version, a.category_id FROM issues i JOIN aspects a ON a.id = i.aspect_id
        WHERE i.status = 'closed' ORDER BY i.closed_at, i.id""").fetchall()
    if not closed:
        return
    iid, version, category = closed[0]
    issues.schedule_recheck(db, lead, iid, version=version,
                            due=(as_of - timedelta(days=2)).isoformat(), at=at)
    later = db.conn.execute("""
        SELECT i.id, i.version FROM issues i JOIN aspects a ON a.id = i.aspect_id
        WHERE i.status IN ('not_started', 'in_progress') AND a.category_id = ?
        ORDER BY i.id DESC LIMIT 1""", (category,)).fetchone()
    if later:
        recurrence_service.flag_recurrence(db, lead, later[0], earlier_id=iid,
                                           version=later[1], at=at)


def demo_actor(db: sqlite_utils.Database, username: str) -> Actor:
    """The Actor of a demo account (tests and scripts)."""
    uid = db.conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()[0]
    return login_service.actor_for(db, uid)


__all__ = ["build_demo", "demo_actor", "DEMO_ACCOUNTS", "DEMO_PASSWORD", "Role"]
