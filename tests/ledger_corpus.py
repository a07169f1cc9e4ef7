"""A corpus of ledgers as different offices write them, built in code: other header words and
orders, one- and two-level headers, per-category and per-unit sheets, .xls, numbered measures,
local words, years only in audit names, 元 and 万元, blanks and merged garbage. Each case
holds the same four issues (TRUTH) unless it says otherwise, the file, and the field each
header should map to (None: kept as an extra column), written by hand."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any, Callable

import openpyxl

# The four issues every case records, in the office's words chosen per case. Units and people
# are those of tests.programme (甲市分公司: 张三, 李四; 乙市分公司: 王五; 甲县分公司 under 甲市);
# 安全管理/安全培训 and 赵六 are new to the programme.
TRUTH: list[dict[str, Any]] = [
    {"category": "外包合同管理", "aspect": "合同签订", "description": "外包合同未经法律审核即签订",
     "unit": "甲市分公司", "responsible": "张三", "measures": ["补签合同", "开展法律审核"],
     "deadline": dt.date(2026, 12, 31), "status": "in_progress", "amount": 12000.0},
    {"category": "外包合同管理", "aspect": "合同履行", "description": "承包商未按合同约定履约",
     "unit": "乙市分公司", "responsible": "王五", "measures": ["约谈承包商", "扣减服务费用"],
     "deadline": dt.date(2027, 3, 31), "status": "not_started", "amount": None},
    {"category": "费用结算", "aspect": "结算依据", "description": "结算缺少工作量确认依据",
     "unit": "甲县分公司", "responsible": "李四", "measures": ["补齐结算依据", "复核已结算款项"],
     "deadline": dt.date(2026, 6, 30), "status": "closed", "amount": 35000.0},
    {"category": "安全管理", "aspect": "安全培训", "description": "外包人员未经岗前安全培训",
     "unit": "甲市分公司", "responsible": "赵六", "measures": ["组织全员安全培训"],
     "deadline": dt.date(2026, 9, 30), "status": "submitted", "amount": 1200.5},
]

# What importing TRUTH gives, worked out by hand: as an audit lead, 整改中 with 四个到人 starts
# work; 待验收 and 已销号 stop at 待验收 (striking off needs 三不放过 and another verifier);
# every measure takes its row's 责任人 and 整改时限, so all four meet 四个到人.
EXPECTED = {
    "by_aspect": {("外包合同管理", "合同签订"): 1, ("外包合同管理", "合同履行"): 1,
                  ("费用结算", "结算依据"): 1, ("安全管理", "安全培训"): 1},
    "status": {"外包合同未经法律审核即签订": "in_progress", "承包商未按合同约定履约": "not_started",
               "结算缺少工作量确认依据": "submitted", "外包人员未经岗前安全培训": "submitted"},
    "deadlines": ["2026-06-30", "2026-09-30", "2026-12-31", "2027-03-31"],
    "amount": 48200.5,
    "measures": 7,
    "four_met": 4,
}

STATUS_STD = {"in_progress": "整改中", "not_started": "未启动", "closed": "已销号",
              "submitted": "待验收"}


@dataclass
class Case:
    """A ledger of one office: its file, and by hand the field each header means and what the
    import must give (EXPECTED, with `expected` overriding parts)."""

    name: str
    filename: str
    data: bytes
    columns: dict[str, str | None]
    expected: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, dict[str, str]] = field(default_factory=dict)   # title → kept columns

    def want(self, key: str) -> Any:
        """The expected value of `key` for this case."""
        return self.expected.get(key, EXPECTED[key])


def numbered(items: list[str], style: str) -> str:
    """Measures as one cell in an office's numbering style."""
    if len(items) == 1:
        return items[0]
    if style == "lines":
        return "\n".join(f"{i}. {t}" for i, t in enumerate(items, 1))
    if style == "dot":
        return "".join(f"{i}.{t}；" for i, t in enumerate(items, 1))
    if style == "paren":
        return "".join(f"（{i}）{t}" for i, t in enumerate(items, 1))
    if style == "circled":
        return "".join(f"{'①②③④'[i]}{t}" for i, t in enumerate(items))
    if style == "shi":
        return "，".join(f"{'一二三四'[i]}是{t}" for i, t in enumerate(items)) + "。"
    raise ValueError(style)


Cell = Callable[[dict[str, Any]], Any]


def grid(header: list[str], cells: list[Cell], rows: list[dict] = TRUTH) -> list[list[Any]]:
    """A header row and one row per truth row, each cell made by its function."""
    return [list(header)] + [[c(r) for c in cells] for r in rows]


def xlsx(sheets: list[tuple[str, list[list[Any]], list[str]]]) -> bytes:
    """An .xlsx of (sheet name, rows, merged ranges), the first sheet active."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows, merges in sheets:
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(list(r))
        for m in merges:
            ws.merge_cells(m)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xls(sheets: list[tuple[str, list[list[Any]], list[tuple[int, int, int, int]]]]) -> bytes:
    """An Excel 97–2003 .xls (xlwt) of (sheet name, rows, merges as r0, r1, c0, c1)."""
    import xlwt
    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for name, rows, merges in sheets:
        ws = wb.add_sheet(name)
        merged_cells = {(r, c) for r0, r1, c0, c1 in merges for r in range(r0, r1 + 1)
                        for c in range(c0, c1 + 1)}
        for r0, r1, c0, c1 in merges:
            ws.write_merge(r0, r1, c0, c1, rows[r0][c0])
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if (r, c) in merged_cells or v is None:
                    continue
                if isinstance(v, dt.date):
                    ws.write(r, c, v, date_style)
                else:
                    ws.write(r, c, v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv(rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    from tests.ledger_factory import csv_bytes
    return csv_bytes(rows, encoding=encoding)


def f(key: str) -> Cell:
    return lambda r: r[key]


def iso(r: dict) -> str:
    return r["deadline"].isoformat()


def cn_date(r: dict) -> str:
    d = r["deadline"]
    return f"{d.year}年{d.month}月{d.day}日"


def yuan(r: dict) -> Any:
    return r["amount"]


def wan(r: dict) -> Any:
    return None if r["amount"] is None else r["amount"] / 10000


def std_status(r: dict) -> str:
    return STATUS_STD[r["status"]]


def cases() -> list[Case]:
    """The corpus."""
    out: list[Case] = []

    # 1. One level, the usual words in another order, amounts in 元.
    h = ["问题描述", "责任单位", "问题类别", "问题方面", "整改时限", "责任人", "整改状态",
         "涉及金额（元）", "整改措施"]
    cells = [f("description"), f("unit"), f("category"), f("aspect"), iso, f("responsible"),
             std_status, yuan, lambda r: numbered(r["measures"], "lines")]
    out.append(Case("reordered", "reordered.xlsx", xlsx([("台账", grid(h, cells), [])]),
                    dict(zip(h, ["description", "unit", "category", "aspect", "deadline",
                                 "responsible", "status", "amount", "measures"]))))

    # 2. Other words for the headers, 万元, Chinese dates.
    h = ["序号", "所属类别", "所属方面", "问题具体描述", "整改责任单位", "整改负责人",
         "整改举措", "完成期限", "目前状态", "金额（万元）"]
    cells = [lambda r: TRUTH.index(r) + 1, f("category"), f("aspect"), f("description"),
             f("unit"), f("responsible"), lambda r: numbered(r["measures"], "dot"), cn_date,
             std_status, wan]
    out.append(Case("other words", "words.xlsx", xlsx([("Sheet1", grid(h, cells), [])]),
                    dict(zip(h, ["serial", "category", "aspect", "description", "unit",
                                 "responsible", "measures", "deadline", "status", "amount"]))))

    # 3. A two-level header whose children are short words under their parents.
    top = ["问题情况", None, None, "责任落实", None, "整改情况", None, None, "涉及金额"]
    sub = ["类别", "方面", "描述", "单位", "责任人", "措施", "时限", "状态", None]
    cells = [f("category"), f("aspect"), f("description"), f("unit"), f("responsible"),
             lambda r: numbered(r["measures"], "paren"), iso, std_status, yuan]
    rows = [top, sub] + [[c(r) for c in cells] for r in TRUTH]
    merges = ["A1:C1", "D1:E1", "F1:H1", "I1:I2"]
    out.append(Case("two-level short words", "two_level.xlsx", xlsx([("台账", rows, merges)]),
                    {"问题情况/类别": "category", "问题情况/方面": "aspect",
                     "问题情况/描述": "description", "责任落实/单位": "unit",
                     "责任落实/责任人": "responsible", "整改情况/措施": "measures",
                     "整改情况/时限": "deadline", "整改情况/状态": "status", "涉及金额": "amount"}))

    # 4. Title rows, a two-level header, the category merged down, a totals row, a footer.
    top = ["序号", "问题类别", "问题方面", "存在问题", "涉及金额（万元）", "整改情况", None, None,
           "整改状态", "责任单位", "责任人"]
    sub = [None, None, None, None, None, "整改措施", "整改时限", "整改进展", None, None, None]
    body = []
    for i, r in enumerate(TRUTH):
        body.append([i + 1, r["category"] if i in (0, 2, 3) else None, r["aspect"],
                     r["description"], wan(r), numbered(r["measures"], "lines"),
                     r["deadline"] if i % 2 else cn_date(r), "", std_status(r), r["unit"],
                     r["responsible"]])
    rows = [["内蒙古区分公司外包专项审计整改台账"], ["填报单位：审计部", None, None, None, None,
                                         None, None, None, None, None, "单位：万元"],
            top, sub, *body, ["合计", None, None, None, 4.82005], [None],
            ["制表人：王五", None, None, "审核人：赵六"]]
    merges = ["A1:K1", "A3:A4", "B3:B4", "C3:C4", "D3:D4", "E3:E4", "F3:H3", "I3:I4", "J3:J4",
              "K3:K4", "B5:B6", "A9:D9"]
    out.append(Case("field ledger with titles and footer", "field.xlsx",
                    xlsx([("整改台账", rows, merges)]),
                    {"序号": "serial", "问题类别": "category", "问题方面": "aspect",
                     "存在问题": "description", "涉及金额（万元）": "amount",
                     "整改情况/整改措施": "measures", "整改情况/整改时限": "deadline",
                     "整改情况/整改进展": "progress", "整改状态": "status", "责任单位": "unit",
                     "责任人": "responsible"}))

    # 5. English headers in a GBK CSV.
    h = ["Category", "Aspect", "Issue", "Unit", "Owner", "Actions", "Due date", "Status",
         "Amount (yuan)"]
    en_status = {"in_progress": "in progress", "not_started": "not started",
                 "closed": "closed", "submitted": "submitted"}
    cells = [f("category"), f("aspect"), f("description"), f("unit"), f("responsible"),
             lambda r: numbered(r["measures"], "lines"), iso,
             lambda r: en_status[r["status"]], yuan]
    out.append(Case("english csv in gbk", "english.csv", csv(grid(h, cells), "gbk"),
                    dict(zip(h, ["category", "aspect", "title", "unit", "responsible",
                                 "measures", "deadline", "status", "amount"]))))

    # 6. One sheet per category (no category column), an instructions sheet first.
    h = ["问题方面", "问题描述", "责任单位", "责任人", "整改措施", "整改时限", "整改状态", "涉及金额"]
    cells = [f("aspect"), f("description"), f("unit"), f("responsible"),
             lambda r: numbered(r["measures"], "circled"), iso, std_status, yuan]
    sheets = [("填表说明", [["填表说明"], ["1. 每个大类一张表"]], [])]
    for cat in ("外包合同管理", "费用结算", "安全管理"):
        sheets.append((cat, grid(h, cells, [r for r in TRUTH if r["category"] == cat]), []))
    out.append(Case("one sheet per category", "per_category.xlsx", xlsx(sheets),
                    {**dict(zip(h, ["aspect", "description", "unit", "responsible", "measures",
                                    "deadline", "status", "amount"])), "工作表": "category"}))

    # 7. One sheet per unit (no unit column), a 说明 sheet last.
    h = ["问题类别", "问题方面", "问题描述", "责任人", "整改措施", "整改时限", "整改状态", "涉及金额"]
    cells = [f("category"), f("aspect"), f("description"), f("responsible"),
             lambda r: numbered(r["measures"], "shi"), iso, std_status, yuan]
    sheets = [(u, grid(h, cells, [r for r in TRUTH if r["unit"] == u]), [])
              for u in ("甲市分公司", "乙市分公司", "甲县分公司")]
    sheets.append(("说明", [["本表由各单位填报"]], []))
    out.append(Case("one sheet per unit", "per_unit.xlsx", xlsx(sheets),
                    {**dict(zip(h, ["category", "aspect", "description", "responsible",
                                    "measures", "deadline", "status", "amount"])),
                     "工作表": "unit"}))

    # 8. An Excel 97–2003 .xls with the category merged down and real dates.
    h = ["问题编号", "问题类别", "问题方面", "问题描述", "责任单位", "责任人", "整改措施",
         "整改时限", "整改状态", "涉及金额"]
    rows = [h]
    for i, r in enumerate(TRUTH):
        rows.append(["", r["category"], r["aspect"], r["description"], r["unit"],
                     r["responsible"], numbered(r["measures"], "lines"), r["deadline"],
                     std_status(r), r["amount"]])
    out.append(Case("xls with merged category", "old.xls",
                    xls([("台账", rows, [(1, 2, 1, 1)])]),
                    dict(zip(h, ["code", "category", "aspect", "description", "unit",
                                 "responsible", "measures", "deadline", "status", "amount"]))))

    # 9. No year or level column: the audit's name carries both.
    h = ["审计项目", "问题类别", "问题方面", "问题描述", "责任单位", "责任人", "整改措施",
         "整改时限", "整改状态", "涉及金额"]
    audit = ["集团公司2021年外包业务专项审计", "区分公司2023年度经济责任审计"]
    cells = [lambda r: audit[TRUTH.index(r) % 2], f("category"), f("aspect"),
             f("description"), f("unit"), f("responsible"),
             lambda r: numbered(r["measures"], "lines"), iso, std_status, yuan]
    out.append(Case("years only in audit names", "audit_names.xlsx",
                    xlsx([("台账", grid(h, cells), [])]),
                    dict(zip(h, ["audit_name", "category", "aspect", "description", "unit",
                                 "responsible", "measures", "deadline", "status", "amount"])),
                    {"audits": {("集团公司2021年外包业务专项审计", 2021, "group"),
                                ("区分公司2023年度经济责任审计", 2023, "regional")}}))

    # 10. Statuses, types, streams and focus points in the office's own words.
    local_status = {"in_progress": "正在推进", "not_started": "尚未启动", "closed": "整改到位",
                    "submitted": "已报验收"}
    h = ["问题类别", "问题方面", "问题描述", "责任单位", "责任人", "整改措施", "整改时限",
         "整改进度状态", "整改类型", "工作组", "关注点", "涉及金额"]
    kinds = ["即知即改", "分步整改", "常态化整改", "即知即改"]
    streams = ["审计组", "整治组", "审计组、整治组", "审计组"]
    focus = ["单价偏高", "", "结算成本", "安全合规"]
    cells = [f("category"), f("aspect"), f("description"), f("unit"), f("responsible"),
             lambda r: numbered(r["measures"], "lines"), iso,
             lambda r: local_status[r["status"]], lambda r: kinds[TRUTH.index(r)],
             lambda r: streams[TRUTH.index(r)], lambda r: focus[TRUTH.index(r)], yuan]
    out.append(Case("local words", "local_words.xlsx", xlsx([("台账", grid(h, cells), [])]),
                    dict(zip(h, ["category", "aspect", "description", "unit", "responsible",
                                 "measures", "deadline", "status", "rectification_type",
                                 "streams", "focus", "amount"])),
                    {"types": ["immediate", "staged", "continuous", "immediate"],
                     "streams": [("audit",), ("cleanup",), ("cleanup", "audit"), ("audit",)],
                     "focus": [("F1",), (), ("F1",), ("F5",)]}))

    # 11. Measures numbered inline, one naming its own owner and deadline; no 责任人 on the
    # second row, so it does not meet 四个到人.
    h = ["问题类别", "问题方面", "问题描述", "责任单位", "责任人", "整改措施", "整改时限",
         "整改状态", "涉及金额"]
    own = "1.补签合同；2.开展法律审核（责任人：李四；时限：2026-10-31）"
    cells = [f("category"), f("aspect"), f("description"), f("unit"),
             lambda r: "" if r is TRUTH[1] else r["responsible"],
             lambda r: own if r is TRUTH[0] else numbered(r["measures"], "dot"), iso,
             std_status, yuan]
    out.append(Case("numbered measures and a missing owner", "measures.xlsx",
                    xlsx([("台账", grid(h, cells), [])]),
                    dict(zip(h, ["category", "aspect", "description", "unit", "responsible",
                                 "measures", "deadline", "status", "amount"])),
                    {"four_met": 3, "measure_owners": {"开展法律审核": "李四", "补签合同": "张三"}}))

    # 12. Amounts written with units in the cells, under a header that says nothing of them.
    h = ["问题类别", "问题方面", "问题描述", "责任单位", "责任人", "整改措施", "整改时限",
         "整改状态", "问题金额"]
    money = ["1.2万元", "", "35,000元", "¥1,200.50"]
    cells = [f("category"), f("aspect"), f("description"), f("unit"), f("responsible"),
             lambda r: numbered(r["measures"], "lines"), iso, std_status,
             lambda r: money[TRUTH.index(r)]]
    out.append(Case("amounts with units in cells", "money.xlsx",
                    xlsx([("台账", grid(h, cells), [])]),
                    dict(zip(h, ["category", "aspect", "description", "unit", "responsible",
                                 "measures", "deadline", "status", "amount"]))))

    # 13. Blank rows, a merged title, an office column of its own (kept with the issue), a
    # merged 备注 down the rows, and a totals row.
    h = ["问题类别", "问题方面", "问题描述", "责任单位", "责任人", "整改措施", "整改时限",
         "整改状态", "涉及金额", "佐证材料清单", "备注"]
    cells = [f("category"), f("aspect"), f("description"), f("unit"), f("responsible"),
             lambda r: numbered(r["measures"], "lines"), iso, std_status, yuan,
             lambda r: f"{r['responsible']}提供的材料", lambda r: None]
    body = grid(h, cells)
    body[1][10] = "季度更新"
    rows = [["2026年整改台账（第三季度）"], [None], body[0], body[1], [None], body[2], body[3],
            body[4], ["小计", None, None, None, None, None, None, None, 48200.5]]
    out.append(Case("blanks and merged garbage", "garbage.xlsx",
                    xlsx([("台账", rows, ["A1:K1", "K4:K8"])]),
                    dict(zip(h, ["category", "aspect", "description", "unit", "responsible",
                                 "measures", "deadline", "status", "amount", None,
                                 "remarks"])),
                    # 备注 is the remarks column, kept with the issue under its own header
                    {}, {"外包合同未经法律审核即签订": {"佐证材料清单": "张三提供的材料",
                                                  "备注": "季度更新"}}))

    # 14. A year column and a level column under unusual headers.
    h = ["审计项目名称", "审计年份", "审计主体单位", "问题类别", "问题方面", "问题描述", "责任单位",
         "责任人", "整改措施", "整改时限", "整改状态", "涉及金额"]
    cells = [lambda r: "外包业务专项审计", lambda r: 2022, lambda r: "集团公司", f("category"),
             f("aspect"), f("description"), f("unit"), f("responsible"),
             lambda r: numbered(r["measures"], "lines"), iso, std_status, yuan]
    out.append(Case("year and level under unusual headers", "year_level.xlsx",
                    xlsx([("台账", grid(h, cells), [])]),
                    dict(zip(h, ["audit_name", "audit_year", "audit_level", "category",
                                 "aspect", "description", "unit", "responsible", "measures",
                                 "deadline", "status", "amount"])),
                    {"audits": {("外包业务专项审计", 2022, "group")}}))

    # 15. Codes under a header that is no synonym, found by their C3.2.1 shape; dates as text
    # with slashes; the status column last.
    h = ["编码", "问题类别", "问题方面", "问题描述", "责任单位", "责任人", "整改措施", "整改时限",
         "涉及金额", "整改状态"]
    codes = ["C1.1.7", "C1.2.3", "C2.1.4", "C9.1.1"]
    cells = [lambda r: codes[TRUTH.index(r)], f("category"), f("aspect"), f("description"),
             f("unit"), f("responsible"), lambda r: numbered(r["measures"], "lines"),
             lambda r: r["deadline"].strftime("%Y/%m/%d"), yuan, std_status]
    out.append(Case("codes found by their shape", "codes.xlsx",
                    xlsx([("台账", grid(h, cells), [])]),
                    dict(zip(h, ["code", "category", "aspect", "description", "unit",
                                 "responsible", "measures", "deadline", "amount", "status"])),
                    # Each code fits its aspect and is free, so it is kept; C9.1.1 gives the
                    # new category 安全管理 the code C9 and its aspect C9.1.
                    {"codes": ["C1.1.7", "C1.2.3", "C2.1.4", "C9.1.1"]}))

    # 16. A tab-separated export with a header row below two blank rows and 是否销号.
    h = ["类别", "方面", "具体问题", "整改单位", "具体责任人", "具体整改措施", "计划完成时间",
         "整改状态", "涉及资金"]
    cells = [f("category"), f("aspect"), f("description"), f("unit"), f("responsible"),
             lambda r: numbered(r["measures"], "circled"), iso, std_status, yuan]
    from tests.ledger_factory import csv_bytes
    data = csv_bytes([[], []] + grid(h, cells), delimiter="\t")
    out.append(Case("tab separated with blank rows first", "tabs.tsv", data,
                    dict(zip(h, ["category", "aspect", "description", "unit", "responsible",
                                 "measures", "deadline", "status", "amount"]))))
    return out
