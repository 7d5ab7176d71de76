"""Console text in Simplified Chinese and English; the language comes from a cookie or ?lang=."""

from __future__ import annotations

from fastapi import Request

LANG_COOKIE = "piguard_lang"
LANGS = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {
    # key: (zh, en)
    "app.tagline": ("用户个人信息保护系统", "User personal-information protection"),
    "nav.home": ("概览", "Overview"),
    "nav.rules": ("法规义务", "Obligations"),
    "nav.parameters": ("法定参数", "Statutory parameters"),
    "nav.matrix": ("落实矩阵", "Coverage matrix"),
    "nav.audit": ("审计日志", "Audit log"),
    "nav.calendar": ("工作日历", "Working-day calendar"),
    "nav.logout": ("退出登录", "Log out"),
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("用户名或密码错误。", "Wrong username or password."),
    "login.locked": ("失败次数过多，请稍后再试。", "Too many failed attempts; try again later."),
    "home.title": ("合规概览", "Compliance overview"),
    "home.obligations": ("义务条目", "Obligations"),
    "home.built": ("已落实", "Built"),
    "home.partial": ("部分落实", "Partial"),
    "home.not_yet": ("尚未落实", "Not yet"),
    "home.audit_entries": ("审计记录", "Audit entries"),
    "home.audit_chain": ("审计链完整性", "Audit chain integrity"),
    "home.intact": ("完整", "Intact"),
    "home.broken": ("已被篡改", "Tampered"),
    "rules.title": ("法规义务", "Obligations"),
    "rules.filter": ("按编号、标题或正文筛选", "Filter by id, title or text"),
    "rules.source": ("来源", "Source"),
    "rules.section": ("章节", "Section"),
    "rules.id": ("编号", "Id"),
    "rules.obligation": ("义务", "Obligation"),
    "rules.capability": ("piguard 的落实方式", "What piguard does"),
    "rules.text": ("条文", "Article text"),
    "rules.parameters": ("相关参数", "Parameters"),
    "rules.penalty": ("罚则", "Penalty"),
    "rules.code": ("落实代码", "Code"),
    "rules.tests": ("测试", "Tests"),
    "rules.status": ("状态", "Status"),
    "params.title": ("法定参数", "Statutory parameters"),
    "params.name": ("名称", "Name"),
    "params.value": ("现行值", "Value in force"),
    "params.unit": ("单位", "Unit"),
    "params.reference": ("依据", "Reference"),
    "params.effective": ("生效日期", "Effective"),
    "matrix.title": ("落实矩阵", "Coverage matrix"),
    "audit.title": ("审计日志", "Audit log"),
    "audit.actor": ("操作人", "Actor"),
    "audit.subject": ("用户标识", "Subject"),
    "audit.action": ("操作", "Action"),
    "audit.since": ("起始时间", "Since"),
    "audit.until": ("截止时间", "Until"),
    "audit.search": ("查询", "Search"),
    "audit.time": ("时间 (UTC)", "Time (UTC)"),
    "audit.location": ("地点", "Location"),
    "audit.outcome": ("结果", "Outcome"),
    "audit.categories": ("信息类别", "Categories"),
    "audit.purpose": ("目的", "Purpose"),
    "audit.obligations": ("义务编号", "Obligations"),
    "audit.none": ("没有符合条件的记录。", "No matching entries."),
    "audit.verify": ("校验完整性", "Verify integrity"),
    "audit.note": (
        "每次查询本身也会记入审计日志（O24-13.6）。",
        "Each search is itself recorded in the audit log (O24-13.6).",
    ),
    "common.all": ("全部", "All"),
    "error.title": ("出错了", "Something went wrong"),
    "error.forbidden": ("您无权访问此页面。", "You are not allowed to open this page."),
}


def lang_of(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get(LANG_COOKIE)
    return c if c in LANGS else "zh"


def translator(lang: str):  # type: ignore[no-untyped-def]
    idx = 0 if lang == "zh" else 1

    def t(key: str) -> str:
        pair = TEXT.get(key)
        return pair[idx] if pair else key

    return t
