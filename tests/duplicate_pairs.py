"""A labelled set for the duplicate finder: pairs of findings an auditor would merge (the same
finding worded by another work stream, another year or another unit) and pairs they would keep
apart (the same topic, another finding). Written in the style of outsourced-delivery audit
ledgers (audit/demo.py CATALOGUE); each side is a title, or a title and a description.

`DUPLICATES` and `DISTINCT` were written before the similarity method was chosen and are the set
it was chosen on; `HELD_OUT_DUPLICATES` and `HELD_OUT_DISTINCT` were written after the method
and its default threshold were fixed, and were never used to tune them: their figures say how
the method does on wording it has not seen.

Each entry is (a, b, kind); a side is a `Finding`. Kinds of duplicates: reworded, synonym,
reordered (the clauses in another order), length (one short, one long), title_description (one
side says it only in its description), across_units, across_years, across_categories. Kinds of
non-duplicates: hard (same topic and many shared words, another finding), template (different
findings written into the same description template), topic (same area, different finding).
"""
from __future__ import annotations

from dataclasses import dataclass

from audit.demo import CATALOGUE, CITIES


@dataclass(frozen=True)
class Finding:
    """One side of a pair: what an issue's title and description say."""

    title: str
    description: str = ""


F = Finding


def _template(year: int, audit: str, unit: str, title: str, aspect: str) -> Finding:
    """A finding written into the demo ledger's description template (audit/demo.py)."""
    return F(title, f"{year}年{audit}发现：{unit}{title}。该问题涉及寄递业务外包管理的{aspect}"
                    "环节，影响外包业务降本增效目标的实现，需查明原因、落实责任并从源头整改。")


DUPLICATES: list[tuple[Finding, Finding, str]] = [
    # --- the complaint in issue 21 and its neighbours ------------------------------------------
    (F("外包人员共用系统账号"), F("外包人员混用系统账号"), "synonym"),
    (F("外包人员共用系统账号"), F("多名承包人员共享同一投递系统账号登录"), "synonym"),
    (F("外包投递员借用他人账号登录投递系统"), F("外包人员共用系统账号"), "synonym"),
    (F("离岗外包人员系统权限未及时注销"), F("外包人员离职后系统账号未及时停用"), "reworded"),
    # --- contracts -----------------------------------------------------------------------------
    (F("部分外包合同未经法律审核即签订"), F("外包合同签订前未经法律部门审查"), "reworded"),
    (F("外包合同先履行后签订，存在倒签合同"), F("存在先开展业务后补签外包合同的倒签现象"),
     "reworded"),
    (F("合同约定的服务标准与实际执行不一致"), F("外包服务实际执行标准与合同约定不符"),
     "reordered"),
    (F("未按合同约定收取履约保证金"), F("外包商履约保证金未按合同约定收取"), "reordered"),
    (F("合同到期后未重新选商直接续签"), F("外包合同期满未经重新选商即续签"), "reworded"),
    (F("合同变更未履行审批程序"), F("外包合同变更事项未经审批"), "reworded"),
    (F("外包合同未约定违约责任条款"), F("外包合同中缺少违约责任约定"), "reworded"),
    (F("合同管理不规范", "审计抽查发现，部分外包合同未经法律审核即签订，合同条款存在法律风险。"),
     F("外包合同未经法律审核"), "title_description"),
    # --- choosing and dropping contractors -----------------------------------------------------
    (F("外包商资质审查不严，个别承包方无快递业务经营许可"),
     F("个别承包商未取得快递业务经营许可证，准入资质审核把关不严"), "reordered"),
    (F("未建立外包商准入名录和信用档案"), F("外包商准入名录及信用评价档案缺失"), "reworded"),
    (F("化整为零规避公开招标"), F("将外包项目拆分为多个小额项目采购，规避公开招标"), "reworded"),
    (F("单一来源采购论证不充分"), F("采用单一来源方式采购外包服务缺乏充分论证"), "length"),
    (F("考核不合格的外包商未按规定退出"), F("对考核不达标的承包商未按规定清退"), "synonym"),
    (F("未建立外包商退出机制"), F("外包商退出机制缺失"), "reworded"),
    (F("外包商擅自转包分包未经审批"), F("承包商将投递业务违规转包"), "synonym"),
    # --- settlement and prices -----------------------------------------------------------------
    (F("结算业务量未与系统数据核对，存在虚增业务量"),
     F("外包费用结算时业务量未经系统数据核对，部分业务量虚增"), "reordered"),
    (F("结算单据审核签字不全"), F("外包结算单据缺少审核人签字"), "reworded"),
    (F("外包单价高于同地区市场价格"), F("外包服务单价明显高于当地市场价"), "reworded"),
    (F("同一区域不同外包商单价差异大且无测算依据"),
     F("同一地区各承包商结算单价差距较大，且未提供单价测算依据"), "synonym"),
    (F("外包单价调整未经集体决策"), F("调整外包结算单价未履行集体决策程序"), "reordered"),
    (F("超合同约定金额支付外包费用"), F("外包费用支付金额超过合同约定"), "reordered"),
    (F("考核扣罚款未在结算中抵扣"), F("对外包商的考核扣款未从结算款中扣除"), "synonym"),
    (F("外包费用未按月结算，存在跨期结算"), F("外包费用跨期结算，未按月及时结算"), "reordered"),
    (F("外包费用结算缺少业务量原始凭证"), F("结算外包费用时未附业务量原始凭证"), "reordered"),
    (F("外包预付款长期挂账未核销"), F("预付外包商款项长期挂账，未及时核销"), "reworded"),
    (F("外包费用先支付后审批"), F("外包费用支付审批流程倒置，先付款后补审批手续"), "length"),
    (F("外包台账登记不完整"), F("外包业务账目登记不全"), "synonym"),
    # --- quality and appraisal -----------------------------------------------------------------
    (F("未制定外包服务质量考核办法"), F("外包服务质量缺乏考核办法"), "reworded"),
    (F("考核指标与投递时限要求脱节"), F("外包考核指标未体现投递时限要求"), "reworded"),
    (F("考核扣罚执行不到位，扣罚标准随意降低"), F("擅自降低扣罚标准，考核扣罚未严格执行"),
     "reordered"),
    (F("考核结果未与结算挂钩"), F("外包考核结果与费用结算脱钩"), "reworded"),
    (F("外包段道客户投诉处理不及时"), F("外包投递段道用户投诉未及时处理"), "synonym"),
    (F("未对外包商开展年度考核"), F("没有对承包商进行年度考核"), "synonym"),
    (F("外包商服务质量月度考核流于形式"), F("对承包商的月度服务质量考核走过场"), "synonym"),
    (F("外包商投递时限达标率未纳入考核"), F("考核中未包含外包投递时限达标率指标"), "reordered"),
    (F("邮件丢失损毁未向外包商追偿"), F("对外包环节造成的邮件丢损未向承包商追偿"), "reworded"),
    # --- mail safety ---------------------------------------------------------------------------
    (F("外包网点未严格执行收寄验视制度"), F("承包网点收寄环节未落实验视要求"), "synonym"),
    (F("实名收寄信息登记不全"), F("外包网点收寄实名信息登记不完整"), "reworded"),
    (F("外包转运环节未按规定过机安检"), F("委外转运邮件未按规定过机安检"), "synonym"),
    (F("安全检查记录缺失"), F("外包环节安全检查没有留存记录"), "reworded"),
    (F("外包车辆未纳入监控平台管理"), F("承包车辆未接入车辆监控平台"), "synonym"),
    (F("外包网点违规收寄禁寄物品"), F("承包网点收寄违禁物品"), "synonym"),
    (F("未与揽投外包商签订安全责任书"), F("外包商未签订安全生产责任书"), "reworded"),
    (F("外包仓储场地消防设施配备不足"), F("委外仓储场地消防器材配备不足"), "synonym"),
    (F("外包转运车辆超载运输"), F("委外转运车辆存在超载现象"), "synonym"),
    # --- people --------------------------------------------------------------------------------
    (F("外包投递人员未经岗前培训即上岗"), F("外包投递员未参加岗前培训就上岗作业"), "reworded"),
    (F("外包人员身份信息未备案"), F("未对外包人员身份信息进行备案登记"), "reordered"),
    (F("以业务外包名义变相劳务派遣"), F("名为业务外包实为劳务派遣"), "reworded"),
    (F("未核查外包人员社会保险缴纳情况"), F("对外包人员社保缴纳情况未进行核查"), "synonym"),
    (F("外包人员未经安全培训上岗"), F("承包人员未接受安全教育培训即上岗"), "synonym"),
    (F("外包人员未签订保密协议"), F("未与外包人员签订保密承诺书"), "reworded"),
    (F("外包车辆驾驶员未进行资格审查"), F("未审核委外车辆驾驶员驾驶资格"), "synonym"),
    # --- data and control ----------------------------------------------------------------------
    (F("投递系统数据与结算数据不一致"), F("结算数据与投递系统记录不符"), "reordered"),
    (F("外包管理制度未随业务变化及时修订"), F("外包管理办法长期未修订，与现行业务不相适应"),
     "reworded"),
    (F("对外包业务缺乏常态化监督检查"), F("外包业务日常监督检查缺失"), "reworded"),
    (F("以往审计发现问题整改不到位，屡审屡犯"), F("前次审计指出的问题未整改到位，再次被审计发现"),
     "reworded"),
    (F("外包业务未纳入内部审计范围"), F("内部审计未覆盖外包业务"), "reordered"),
    # --- lengths, descriptions, units, years, categories ---------------------------------------
    (F("外包商资质审查不严"),
     F("外包商资质审查把关不严", "2024年专项审计发现，包头市分公司对外包商资质审查把关不严，"
                             "个别承包方快递业务经营许可证过期后仍继续合作。"), "length"),
    (F("系统账号管理不规范", "审计抽查发现，部分外包投递人员共用同一系统账号登录作业，"
                           "无法追溯操作责任人。"),
     F("外包人员共用系统账号"), "title_description"),
    (F("结算管理存在漏洞", "经核对，外包费用结算业务量未与投递系统数据核对，存在虚增业务量。"),
     F("结算业务量未与系统数据核对"), "title_description"),
    (F("呼和浩特市分公司外包合同未经法律审核即签订"),
     F("赤峰市分公司存在外包合同未经法律审核即签订问题"), "across_units"),
    (F("包头市固阳县分公司外包网点未执行收寄验视制度"),
     F("鄂尔多斯市准格尔旗分公司承包网点未严格执行收寄验视制度"), "across_units"),
    (F("2023年审计发现外包单价调整未经集体决策"),
     F("2025年审计再次发现外包单价调整未经集体研究决定"), "across_years"),
    (_template(2024, "外包专项审计", "通辽市分公司", "外包人员共用系统账号", "系统权限"),
     _template(2025, "经济责任审计", "通辽市分公司", "外包人员混用系统账号", "系统权限"),
     "across_years"),
    (_template(2024, "外包专项审计", "乌海市分公司", "考核扣罚款未在结算中抵扣", "费用支付"),
     _template(2024, "外包专项审计", "乌海市分公司", "考核扣款未从外包结算款中扣减", "扣罚执行"),
     "across_categories"),
    (F("外包车辆未纳入监控平台管理"), F("委外运输车辆未接入监控系统", "涉及车辆与场地安全"),
     "across_categories"),
]

DISTINCT: list[tuple[Finding, Finding, str]] = [
    # --- hard: the same topic and many shared words, another finding ---------------------------
    (F("合同未经法律审核"), F("合同未按期续签"), "hard"),
    (F("外包合同未经法律审核"), F("外包合同未经集体决策"), "hard"),
    (F("部分外包合同未经法律审核即签订"), F("外包合同先履行后签订，存在倒签合同"), "hard"),
    (F("合同到期后未重新选商直接续签"), F("合同变更未履行审批程序"), "hard"),
    (F("外包合同未约定违约责任条款"), F("外包合同未约定服务质量标准"), "hard"),
    (F("外包合同先履行后签订"), F("外包合同签订后未按约定履行"), "hard"),
    (F("外包人员共用系统账号"), F("离岗外包人员系统权限未及时注销"), "hard"),
    (F("外包人员共用系统账号"), F("外包系统账号密码长期未修改"), "hard"),
    (F("外包单价高于同地区市场价格"), F("外包单价调整未经集体决策"), "hard"),
    (F("外包单价调整未经集体决策"), F("外包合同续签未经集体决策"), "hard"),
    (F("超合同约定金额支付外包费用"), F("考核扣罚款未在结算中抵扣"), "hard"),
    (F("超合同约定金额支付外包费用"), F("外包费用未按合同约定时间支付"), "hard"),
    (F("未按合同约定收取履约保证金"), F("履约保证金到期未及时退还"), "hard"),
    (F("考核扣罚执行不到位，扣罚标准随意降低"), F("考核扣罚款未在结算中抵扣"), "hard"),
    (F("未制定外包服务质量考核办法"), F("考核结果未与结算挂钩"), "hard"),
    (F("外包投递人员未经岗前培训即上岗"), F("外包投递人员未持证上岗"), "hard"),
    (F("外包投递人员未经岗前培训即上岗"), F("外包人员身份信息未备案"), "hard"),
    (F("外包人员身份信息未备案"), F("外包车辆信息未备案"), "hard"),
    (F("实名收寄信息登记不全"), F("外包人员身份信息登记不全"), "hard"),
    (F("安全检查记录缺失"), F("安全培训记录缺失"), "hard"),
    (F("结算单据审核签字不全"), F("合同审批单签字不全"), "hard"),
    (F("外包管理制度未随业务变化及时修订"), F("外包服务质量考核办法未及时修订"), "hard"),
    (F("未建立外包商准入名录和信用档案"), F("未建立外包合同台账"), "hard"),
    (F("外包商服务质量考核流于形式"), F("外包商准入资质审查流于形式"), "hard"),
    (F("单一来源采购论证不充分"), F("单一来源采购未经集体决策"), "hard"),
    (F("以业务外包名义变相劳务派遣"), F("劳务派遣人员超过用工总量比例"), "hard"),
    (F("外包费用未按月结算"), F("外包费用未按合同约定单价结算"), "hard"),
    (F("外包预付款长期挂账未核销"), F("外包商履约保证金长期挂账未退还"), "hard"),
    (F("外包网点未严格执行收寄验视制度"), F("外包网点未严格执行安全检查制度"), "hard"),
    (F("外包转运环节未按规定过机安检"), F("外包转运车辆未按规定路线行驶"), "hard"),
    (F("外包车辆未纳入监控平台管理"), F("外包车辆未按规定年检"), "hard"),
    (F("外包车辆未纳入监控平台管理"), F("外包车辆驾驶员未进行资格审查"), "hard"),
    (F("外包商投递时限达标率未纳入考核"), F("外包投递时限达标率统计数据不准确"), "hard"),
    (F("外包仓储场地消防设施配备不足"), F("外包仓储场地租赁合同到期未续签"), "hard"),
    (F("邮件丢失损毁未向外包商追偿"), F("邮件丢失损毁投诉处理不及时"), "hard"),
    (F("外包人员未签订保密协议"), F("外包人员未签订劳动合同"), "hard"),
    (F("外包商资质审查不严"), F("外包商考核不严"), "hard"),
    (F("外包费用支付未经审批"), F("外包单价调整未经审批"), "hard"),
    (F("外包商擅自转包分包未经审批"), F("外包商选定未经审批"), "hard"),
    (F("外包网点违规收寄禁寄物品"), F("外包网点未落实实名收寄"), "hard"),
    (F("外包业务未纳入内部审计范围"), F("外包业务未纳入全面预算管理"), "hard"),
    (F("外包人员社保未缴纳"), F("外包人员工资被拖欠"), "hard"),
    # --- template: different findings in the same description template ------------------------
    (_template(2024, "外包专项审计", "包头市分公司", "合同到期后未重新选商直接续签",
               "合同变更与续签"),
     _template(2024, "外包专项审计", "包头市分公司", "合同变更未履行审批程序", "合同变更与续签"),
     "template"),
    (_template(2023, "经济责任审计", "赤峰市分公司", "外包单价高于同地区市场价格", "单价标准"),
     _template(2023, "经济责任审计", "赤峰市分公司", "外包单价调整未经集体决策", "单价标准"),
     "template"),
    (_template(2025, "外包专项审计", "通辽市分公司", "外包人员共用系统账号", "系统权限"),
     _template(2025, "外包专项审计", "通辽市分公司", "离岗外包人员系统权限未及时注销",
               "系统权限"), "template"),
    (_template(2024, "内部控制审计", "乌海市分公司", "外包网点未严格执行收寄验视制度",
               "收寄验视与实名"),
     _template(2024, "内部控制审计", "乌海市分公司", "实名收寄信息登记不全", "收寄验视与实名"),
     "template"),
    (_template(2025, "外包专项审计", "鄂尔多斯市分公司", "考核扣罚执行不到位，扣罚标准随意降低",
               "扣罚执行"),
     _template(2025, "外包专项审计", "鄂尔多斯市分公司", "考核结果未与结算挂钩", "扣罚执行"),
     "template"),
    (_template(2024, "外包专项审计", "兴安盟分公司", "外包投递人员未经岗前培训即上岗",
               "资质与培训"),
     _template(2024, "外包专项审计", "兴安盟分公司", "外包人员身份信息未备案", "资质与培训"),
     "template"),
    (F("结算管理存在漏洞", "审计发现外包费用结算单据审核签字不全。"),
     F("结算管理存在漏洞", "审计发现外包单价高于同地区市场价格。"), "template"),
    (F("合同管理不规范", "部分外包合同未经法律审核即签订。"),
     F("合同管理不规范", "外包合同到期后未重新选商直接续签。"), "template"),
    # --- topic: the same area, a different finding ---------------------------------------------
    (F("外包人员共用系统账号"), F("外包人员未经培训上岗"), "topic"),
    (F("化整为零规避公开招标"), F("单一来源采购论证不充分"), "topic"),
    (F("外包网点未严格执行收寄验视制度"), F("实名收寄信息登记不全"), "topic"),
    (F("外包转运环节未按规定过机安检"), F("安全检查记录缺失"), "topic"),
    (F("以业务外包名义变相劳务派遣"), F("未核查外包人员社会保险缴纳情况"), "topic"),
    (F("未建立外包商准入名录和信用档案"), F("考核不合格的外包商未按规定退出"), "topic"),
    (F("外包管理制度未随业务变化及时修订"), F("对外包业务缺乏常态化监督检查"), "topic"),
    (F("结算单据审核签字不全"), F("结算业务量未与系统数据核对，存在虚增业务量"), "topic"),
    (F("外包段道客户投诉处理不及时"), F("外包段道邮件投递不及时"), "topic"),
    (F("对外包业务缺乏常态化监督检查"), F("对外包网点缺乏安全检查"), "topic"),
    (F("同一外包商承接业务量超过规定比例"), F("同一外包商长期未更换"), "topic"),
    (F("外包单价高于同地区市场价格"), F("外包商服务质量低于合同约定标准"), "topic"),
    (F("外包车辆未纳入监控平台管理"), F("外包人员未纳入统一管理"), "topic"),
    (F("投递系统数据与结算数据不一致"), F("外包人员共用系统账号"), "topic"),
    (F("以往审计发现问题整改不到位，屡审屡犯"), F("外包管理制度未随业务变化及时修订"), "topic"),
    (F("未对外包商开展年度考核"), F("未对外包商开展资质年审"), "topic"),
    (F("外包仓储场地消防设施配备不足"), F("外包车辆未纳入监控平台管理"), "topic"),
    (F("外包费用结算缺少业务量原始凭证"), F("外包费用未按月结算，存在跨期结算"), "topic"),
]

HELD_OUT_DUPLICATES: list[tuple[Finding, Finding, str]] = [
    (F("外包快递员共用一个手持终端账号"), F("多名外包快递员混用同一手持终端账号"), "synonym"),
    (F("外包合同未明确服务质量标准"), F("外包服务质量标准在合同中未予明确"), "reordered"),
    (F("外包合同续签未重新履行选商程序"), F("合同到期续签时未重新选商"), "reworded"),
    (F("未按规定组织外包项目公开招标"), F("外包项目应公开招标而未公开招标"), "reworded"),
    (F("承包商经营资质证照过期"), F("外包商资质证照已过有效期仍继续合作"), "length"),
    (F("结算业务量以外包商自报数据为准"), F("外包费用按承包商自报业务量结算，未经系统核对"),
     "length"),
    (F("外包结算单价高于市场平均水平"), F("外包单价明显高于本地市场价格"), "reworded"),
    (F("外包考核扣款未及时扣收"), F("考核扣罚款未在当月结算中抵扣"), "synonym"),
    (F("外包服务质量考核办法未制定"), F("尚未建立外包服务质量考核办法"), "reworded"),
    (F("投诉处理不及时", "外包投递段道的用户投诉长期得不到及时处理。"),
     F("外包段道客户投诉处理不及时"), "title_description"),
    (F("外包网点收寄验视制度执行不严"), F("承包网点未严格落实收寄验视制度"), "synonym"),
    (F("外包转运未过机安检"), F("委外转运的邮件未经过机安检"), "synonym"),
    (F("外包车辆未安装监控设备"), F("承包车辆未接入车辆监控平台"), "synonym"),
    (F("外包员工上岗前未经培训"), F("外包人员未经岗前培训即上岗"), "reworded"),
    (F("外包人员身份信息未登记备案"), F("未对外包人员身份信息进行备案"), "reordered"),
    (F("以外包之名行劳务派遣之实"), F("以业务外包名义变相劳务派遣"), "reworded"),
    (F("外包人员社会保险缴纳情况未核实"), F("未核查外包人员社保缴纳情况"), "synonym"),
    (F("离职外包人员账号未及时注销"), F("外包人员离岗后系统权限未及时收回"), "synonym"),
    (F("投递数据与结算数据对不上"), F("投递系统数据与结算数据不一致"), "reworded"),
    (F("外包管理制度多年未修订"), F("外包管理办法未及时修订"), "reworded"),
    (F("外包业务缺少日常监督检查"), F("对外包业务缺乏常态化监督检查"), "reworded"),
    (F("未签订外包安全生产责任书"), F("未与外包商签订安全责任书"), "reworded"),
    (F("外包合同签订前未经法律审查"), F("部分外包合同未经法律审核即签订"), "reworded"),
    (F("赤峰市分公司外包人员未经岗前培训即上岗"),
     F("锡林郭勒盟分公司外包投递人员未经岗前培训上岗"), "across_units"),
    (F("2022年审计指出外包费用超合同金额支付"), F("2024年审计再次发现超合同约定金额支付外包费用"),
     "across_years"),
    (F("外包结算单据缺审核签字"), F("结算单据审核签字不全"), "reworded"),
    (F("外包预付款挂账未清理"), F("外包预付款长期挂账未核销"), "reworded"),
    (F("未建立外包商信用档案"), F("外包商信用评价档案缺失"), "reworded"),
    (F("外包仓储场所消防器材不足"), F("外包仓储场地消防设施配备不足"), "synonym"),
    (F("未与外包人员签订保密协议"), F("外包人员保密协议未签订"), "reordered"),
]

HELD_OUT_DISTINCT: list[tuple[Finding, Finding, str]] = [
    (F("外包合同未明确服务质量标准"), F("外包合同未明确违约责任"), "hard"),
    (F("外包合同续签未重新选商"), F("外包合同续签未经法律审核"), "hard"),
    (F("外包人员共用系统账号"), F("外包人员系统账号权限设置过大"), "hard"),
    (F("外包费用超合同金额支付"), F("外包费用支付缺少审批手续"), "hard"),
    (F("外包单价高于市场价格"), F("外包单价未随油价下调而调整"), "hard"),
    (F("考核扣罚款未在结算中抵扣"), F("考核扣罚标准低于合同约定"), "hard"),
    (F("外包网点收寄验视制度执行不严"), F("外包网点营业场所安全防护设施不足"), "hard"),
    (F("外包转运未过机安检"), F("外包转运交接记录不完整"), "hard"),
    (F("外包车辆未接入监控平台"), F("外包车辆未购买承运人责任保险"), "hard"),
    (F("外包人员未经岗前培训上岗"), F("外包人员未经背景审查上岗"), "hard"),
    (F("外包人员身份信息未备案"), F("外包人员健康证明未备案"), "hard"),
    (F("未核查外包人员社保缴纳情况"), F("未核查外包人员工资发放情况"), "hard"),
    (F("离岗外包人员账号未注销"), F("在岗外包人员账号未实名登记"), "hard"),
    (F("投递数据与结算数据不一致"), F("投递数据与客服系统数据不一致"), "hard"),
    (F("外包管理制度未及时修订"), F("外包管理制度未及时宣贯培训"), "hard"),
    (F("外包商资质证照过期"), F("外包商营业执照经营范围不含快递业务"), "hard"),
    (F("结算单据审核签字不全"), F("结算单据附件不全"), "hard"),
    (F("未建立外包商信用档案"), F("外包商信用档案未及时更新"), "hard"),
    (F("外包预付款长期挂账未核销"), F("外包应付款长期挂账未支付"), "hard"),
    (F("未签订安全生产责任书"), F("未签订廉洁从业承诺书"), "hard"),
    (F("单一来源采购论证不充分"), F("询价采购报价单位不足三家"), "topic"),
    (F("外包投递段道划分不合理"), F("外包段道客户投诉处理不及时"), "topic"),
    (F("外包仓储场地消防设施不足"), F("外包仓储场地未签订租赁合同"), "hard"),
    (F("外包业务未纳入内部审计范围"), F("外包业务未纳入信息系统管理"), "hard"),
    (F("外包费用跨期结算"), F("外包费用重复结算"), "hard"),
    (F("以业务外包名义变相劳务派遣"), F("外包人员与正式员工同岗不同酬引发纠纷"), "topic"),
    (F("外包合同签订前未经法律审查"), F("外包合同签订后未及时归档"), "hard"),
    (F("外包商考核结果未与结算挂钩"), F("外包商考核结果未与续签挂钩"), "hard"),
    (_template(2025, "外包专项审计", "巴彦淖尔市分公司", "外包车辆未纳入监控平台管理",
               "车辆与场地安全"),
     _template(2025, "外包专项审计", "巴彦淖尔市分公司", "外包仓储场地消防设施配备不足",
               "车辆与场地安全"), "template"),
    (_template(2024, "经济责任审计", "阿拉善盟分公司", "结算单据审核签字不全", "结算依据"),
     _template(2024, "经济责任审计", "阿拉善盟分公司", "结算业务量未与系统数据核对，存在虚增业务量",
               "结算依据"), "template"),
]


def labelled(held_out: bool = False) -> list[tuple[Finding, Finding, bool, str]]:
    """(a, b, is duplicate, kind) for the development set, or the held-out set."""
    dup, dis = ((HELD_OUT_DUPLICATES, HELD_OUT_DISTINCT) if held_out
                else (DUPLICATES, DISTINCT))
    return [(a, b, True, k) for a, b, k in dup] + [(a, b, False, k) for a, b, k in dis]


# The pairs are compared as they would be inside a programme: the word weights come from every
# finding around them, here the set's own findings and the demo programme's 38 (written into
# its ledger's description template, as imported ledgers are), and unit names are known.
PLACES: tuple[str, ...] = tuple(
    [name for _, name, _ in CITIES] + [name.removesuffix("分公司") for _, name, _ in CITIES]
    + [c for _, _, counties in CITIES for c in counties])


def programme_findings() -> list[Finding]:
    """The demo programme's findings, with their ledger descriptions."""
    return [_template(2024, "外包专项审计", "包头市分公司", title, aspect)
            for _, _, aspects in CATALOGUE for aspect, titles in aspects for title in titles]


def corpus(held_out: bool = False) -> list[Finding]:
    """Every finding a set's pairs are weighed among."""
    return [x for a, b, _, _ in labelled(held_out) for x in (a, b)] + programme_findings()


def precision_recall(scores: list[float], labels: list[bool], threshold: float
                     ) -> tuple[float, float]:
    """(precision, recall) of calling a pair a duplicate when its score reaches threshold."""
    called = [label for s, label in zip(scores, labels) if s >= threshold]
    tp = sum(called)
    return (tp / len(called) if called else 1.0), tp / sum(labels)


def best_recall(scores: list[float], labels: list[bool], precision: float = 0.9
                ) -> tuple[float, float]:
    """(recall, threshold): the highest recall any threshold gives at that precision or more."""
    best = (0.0, 1.0)
    for t in sorted(set(scores)):
        p, r = precision_recall(scores, labels, t)
        if p >= precision and r > best[0]:
            best = (r, t)
    return best
