"""Texts of the administration page's extra tabs and its backup section (admin.tab.*,
backup.*). Merged into audit.i18n's catalogue; the same keys in both languages."""
from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "admin.tab.calendar": "工作日历",
        "admin.tab.settings": "督办与预警设置",
        "admin.tab.backup": "备份与校验",
        "backup.title": "备份与变更记录校验",
        "backup.caption": "在线备份（其他用户可同时使用系统），备份文件、佐证材料和清单保存在 "
                          "{folder}。",
        "backup.run": "立即备份",
        "backup.done": "备份完成并已校验：{path}",
        "backup.manifest": "备份清单",
        "backup.verify": "立即校验变更记录",
        "backup.verify_help": "检查数据库完整性和全部变更记录的哈希链；记录很多时需要一些时间。",
        "backup.verify_ok": "校验通过：{records} 条变更记录的哈希链完整，锚点 {anchor}。",
        "backup.verify_bad": "校验未通过：第一条有问题的记录是第 {seq} 条（{problem}）。"
                             "请立即联系系统管理员。",
        "backup.anchor": "当前锚点（最后一条记录的序号:哈希）",
        "backup.anchor_help": "请把锚点记在系统之外（例如会议纪要）：日后用它可以发现被截掉的记录。",
        "backup.restore_cli": "恢复只能在服务器命令行进行（会替换正在使用的数据库，不能在网页上操作）："
                              "python -m audit restore <备份文件> --db <新数据库路径>",
    },
    "en": {
        "admin.tab.calendar": "Working-day calendar",
        "admin.tab.settings": "Supervision settings",
        "admin.tab.backup": "Backup and checks",
        "backup.title": "Backup and history check",
        "backup.caption": "Online backup (others may keep working); the backup, its evidence "
                          "files and its manifest are written to {folder}.",
        "backup.run": "Back up now",
        "backup.done": "Backup written and verified: {path}",
        "backup.manifest": "Backup manifest",
        "backup.verify": "Verify the history now",
        "backup.verify_help": "Checks the database's integrity and the hash chain of every "
                              "history record; takes a while on a large history.",
        "backup.verify_ok": "Verified: the hash chain of {records} history records is intact, "
                            "anchor {anchor}.",
        "backup.verify_bad": "Verification failed: the first bad record is number {seq} "
                             "({problem}). Contact the administrator at once.",
        "backup.anchor": "Current anchor (last record's number:hash)",
        "backup.anchor_help": "Keep the anchor outside the system (e.g. in the minutes): it "
                              "later reveals records cut off the end.",
        "backup.restore_cli": "Restoring is done at the server's command line only (it replaces "
                              "the live database, which a web page must not do): "
                              "python -m audit restore <backup file> --db <new database path>",
    },
}
