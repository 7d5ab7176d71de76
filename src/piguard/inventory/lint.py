"""Policy lint: is each disclosure the rules require present in a privacy policy? (pure, no database)

A policy (plain text, HTML or Markdown; Chinese or English) is decoded, reduced to readable text with
a map back to the original, cut into sentences, and each of the sixteen fixed items is looked for
with cues for the *kind* of disclosure. A disclosure counts as present only when an ordinary reader
would learn the thing:

* a channel (contact, inquiry, correction, deletion, cancellation, complaint) needs a way to use it:
  an e-mail address, a phone number, a postal address, a URL, an in-app path or named function
  ("我的 > 设置 > 账号注销", "在线客服"), or a pointer to the policy's contact details when the policy
  has them. "Contact us" or "you have the right to delete" alone is not a channel;
* security measures must name a measure (encryption, access control, audits …), not "industry
  standard measures"; retention needs a period or an end event, not "as long as necessary";
* purposes need a concrete activity, scope concrete categories, the effective date a date.

Evidence spans are Python string indices into the decoded text of the file as given (for HTML and
Markdown: the original markup, not the stripped text).
"""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piguard.core.errors import FieldError, PiguardError
from piguard.core.reasons import Decision, Reason
from piguard.regulations.markers import carries

FORMATS = ("auto", "text", "html", "markdown")
MAX_EVIDENCE = 3


# --------------------------------------------------------------------------------------------------
# Items: fixed ids, titles and the obligations each rests on (ids from REQUIREMENTS.md)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    articles: tuple[str, ...]
    title_en: str
    title_zh: str


ITEMS: tuple[Item, ...] = (
    # Who publishes the rules: the operator the rules of O24-8 / CSL-41 / NPC-2 bind.
    Item("operator_identity", ("O24-8", "CSL-41.1", "NPC-2"), "Operator identity", "运营者身份"),
    # O24-12: "disclose effective contact information".
    Item("contact", ("O24-12", "O24-8"), "Contact details", "联系方式"),
    # O24-9.2 / CSL-41.1 / NPC-2: purposes, methods and scope of collection and use.
    Item("purposes", ("O24-9.2", "CSL-41.1", "NPC-2"), "Purposes of collection and use", "收集使用目的"),
    Item("methods", ("O24-9.2", "CSL-41.1", "NPC-2"), "Methods of collection and use", "收集使用方式"),
    Item("scope", ("O24-9.2", "CSL-41.1", "NPC-2"), "Scope (categories of PI)", "收集使用范围"),
    # O24-9.2: channels for inquiry and correction; CSL-43: correction and deletion.
    Item("inquiry_channel", ("O24-9.2",), "Inquiry (access) channel", "查询渠道"),
    Item("correction_channel", ("O24-9.2", "CSL-43"), "Correction channel", "更正渠道"),
    Item("deletion_channel", ("CSL-43", "NPC-8"), "Deletion channel", "删除渠道"),
    # O24-9.4: provide number or account cancellation.
    Item("account_cancellation", ("O24-9.4",), "Account cancellation", "账号注销"),
    # O24-9.2: consequences of refusing to provide information.
    Item("refusal_consequences", ("O24-9.2",), "Consequences of refusing", "拒绝提供的后果"),
    # O24-12: complaint handling mechanism with effective contact information.
    Item("complaint_channel", ("O24-12",), "Complaint channel", "投诉渠道"),
    # CSL-42.1: no provision to others without consent.
    Item("third_party_sharing", ("CSL-42.1", "CSL-41.1"), "Sharing with third parties", "向第三方提供"),
    # O24-9.4: stop using after the service ends; CSL-41.2: handle kept PI per law and agreement.
    Item("retention", ("O24-9.4", "CSL-41.2"), "Retention period", "保存期限"),
    # CSL-42.2 / O24-10 / NPC-4 / CSL-40: technical and other measures.
    Item("security_measures", ("CSL-42.2", "O24-10", "NPC-4", "CSL-40"), "Security measures", "安全保护措施"),
    # CSL-42.2 / O24-14.1 / NPC-4: remedy, notify users, report.
    Item("breach_notification", ("CSL-42.2", "O24-14.1", "NPC-4"), "Breach notification", "安全事件告知"),
    # O24-8: the published rules, versioned: which version is in force from when.
    Item("effective_date", ("O24-8",), "Effective date", "生效日期"),
)
ITEM_IDS: tuple[str, ...] = tuple(i.id for i in ITEMS)
_ITEMS_BY_ID = {i.id: i for i in ITEMS}


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True, slots=True)
class ItemResult:
    item: Item
    present: bool
    evidence: tuple[Span, ...] = ()

    @property
    def id(self) -> str:
        return self.item.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "present": self.present,
            "articles": list(self.item.articles),
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class LintReport:
    items: tuple[ItemResult, ...]
    input_format: str
    source: str | None = None

    def item(self, item_id: str) -> ItemResult:
        for r in self.items:
            if r.item.id == item_id:
                return r
        raise KeyError(item_id)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(r.item.id for r in self.items if not r.present)

    def to_dict(self) -> dict[str, Any]:
        return {"items": [r.to_dict() for r in self.items]}

    @carries("O24-8", "O24-9.2", "O24-12", "CSL-41.1")
    def decision(self) -> Decision:
        """Allow when every required disclosure is present; otherwise refuse, one reason per gap."""
        refusals = [
            Reason(
                f"policy_lint.{r.item.id}_absent",
                r.item.articles,
                f"The policy does not disclose: {r.item.title_en}.",
                f"政策未告知：{r.item.title_zh}。",
                {"item": r.item.id},
            )
            for r in self.items
            if not r.present
        ]
        allows = [
            Reason(
                f"policy_lint.{r.item.id}_present",
                r.item.articles,
                f"The policy discloses: {r.item.title_en}.",
                f"政策已告知：{r.item.title_zh}。",
                {"item": r.item.id},
            )
            for r in self.items
            if r.present
        ]
        return Decision.combine(allows, refusals, [])


# --------------------------------------------------------------------------------------------------
# Decoding: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030 (GBK); anything else refused
# --------------------------------------------------------------------------------------------------


def _undecodable(name: str, why_en: str, why_zh: str) -> PiguardError:
    return PiguardError(
        "policy_undecodable",
        f"The policy file cannot be read as text ({why_en}); save it as UTF-8 or GBK/GB18030.",
        f"无法将政策文件读取为文本（{why_zh}）；请另存为 UTF-8 或 GBK/GB18030 编码。",
        fields=[FieldError(name, why_en)],
        http_status=422,
        exit_code=2,
    )


def _looks_textual(text: str) -> bool:
    if not text:
        return True
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\n\r\f") or 0xE000 <= ord(ch) <= 0xF8FF)
    return bad <= max(2, len(text) // 200)


def decode_policy(data: bytes, name: str = "file") -> str:
    """The file's text. Offsets in reports index into this string (a BOM is not part of it)."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            text = data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _undecodable(
                name,
                f"UTF-8 BOM but invalid UTF-8 at byte {exc.start + 3}",
                f"带 BOM 但第 {exc.start + 3} 字节不是有效的 UTF-8",
            ) from None
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise _undecodable(name, "UTF-16 BOM but invalid UTF-16", "带 UTF-16 BOM 但内容无效") from None
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError as exc:
                raise _undecodable(
                    name,
                    f"neither UTF-8 nor GBK/GB18030 (invalid byte at {exc.start})",
                    f"既不是 UTF-8 也不是 GBK/GB18030（第 {exc.start} 字节无效）",
                ) from None
    if "\x00" in text or not _looks_textual(text):
        raise _undecodable(name, "binary content, not text", "内容为二进制，不是文本")
    return text


def read_policy(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PiguardError(
            "policy_unreadable",
            f"The policy file cannot be opened ({exc.strerror or type(exc).__name__}).",
            f"无法打开政策文件（{exc.strerror or type(exc).__name__}）。",
            fields=[FieldError(str(path), "cannot be opened")],
            http_status=422,
            exit_code=2,
        ) from None
    return decode_policy(data, str(path))


# --------------------------------------------------------------------------------------------------
# Views: readable text with a map back to the original
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _View:
    text: str
    origin: list[int] | None  # origin[i] = index in the original of text[i]; None = identity
    titles: frozenset[int] = frozenset()  # line starts in text that the markup makes a heading

    def span(self, start: int, end: int, original: str) -> Span:
        if self.origin is None:
            return Span(start, end, original[start:end])
        o_start = self.origin[start]
        o_end = self.origin[end - 1] + 1 if end > start else o_start
        # an entity or tag-inserted char maps to its first original char: extend to cover the
        # whole entity when the last char came from one
        if o_end < len(original) and original[o_end - 1] == "&":
            semi = original.find(";", o_end - 1, o_end + 10)
            if semi != -1:
                o_end = semi + 1
        return Span(o_start, o_end, original[o_start:o_end])


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.origin: list[int] = []
        self.titles: set[int] = set()
        self.length = 0

    def add(self, s: str, at: int, contiguous: bool = True) -> None:
        """Append s; contiguous: s[k] came from original[at + k], else every char maps to at."""
        self.parts.append(s)
        self.length += len(s)
        if contiguous:
            self.origin.extend(range(at, at + len(s)))
        else:
            self.origin.extend([at] * len(s))

    def mark_title(self) -> None:
        """The next line of the text is a heading (Markdown ``#``, HTML ``<h1>``..``<h6>``)."""
        self.titles.add(self.length)

    def view(self) -> _View:
        return _View("".join(self.parts), self.origin, frozenset(self.titles))


_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "td",
        "th",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "dd",
        "dt",
        "dl",
        "blockquote",
        "pre",
        "hr",
        "title",
        "nav",
        "main",
        "aside",
        "form",
        "caption",
        "tbody",
        "thead",
    ]
)
_HEADING_TAGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])
_HTML_TOKEN = re.compile(
    r"<!--.*?-->|<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>|<!?/?([A-Za-z][\w:-]*)?[^>]*>|&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z]\w{1,31});",
    re.S | re.I,
)
_HREF = re.compile(r"""\bhref\s*=\s*(["']?)((?:mailto:|tel:|https?://)[^"'\s>]+)\1""", re.I)


def _html_view(src: str) -> _View:
    b = _Builder()
    pos = 0
    for m in _HTML_TOKEN.finditer(src):
        if m.start() > pos:
            b.add(src[pos : m.start()], pos)
        tok = m.group(0)
        if tok.startswith("&"):
            b.add(html.unescape(tok), m.start(), contiguous=False)
        elif m.group(1):  # script/style: nothing readable
            b.add("\n", m.start(), contiguous=False)
        else:
            tag = (m.group(2) or "").lower()
            href = _HREF.search(tok)
            if href:  # a link's target is a channel the reader can use
                target = href.group(2)
                skip = (
                    len(target.split(":", 1)[0]) + 1 if target.lower().startswith(("mailto:", "tel:")) else 0
                )
                b.add(" ", m.start(), contiguous=False)
                b.add(target[skip:], m.start() + href.start(2) + skip)
                b.add(" ", m.start(), contiguous=False)
            if tag in _BLOCK_TAGS:
                b.add("\n", m.start(), contiguous=False)
                if tag in _HEADING_TAGS and not tok.startswith("</"):
                    b.mark_title()
        pos = m.end()
    if pos < len(src):
        b.add(src[pos:], pos)
    return b.view()


_MD_DROP = re.compile(r"\*\*|__|`+|^\s{0,3}#{1,6}\s+|^\s{0,3}>\s?|^\s*[-*+]\s+|!?\[|\]\(|\]", re.M)


def _markdown_view(src: str) -> _View:
    b = _Builder()
    pos = 0
    for m in _MD_DROP.finditer(src):
        if m.start() > pos:
            b.add(src[pos : m.start()], pos)
        tok = m.group(0)
        if tok.lstrip().startswith("#"):
            b.mark_title()
        if tok == "](" or tok.strip() in ("-", "*", "+", ">") or tok.lstrip().startswith("#"):
            b.add(" ", m.start(), contiguous=False)
        pos = m.end()
    if pos < len(src):
        b.add(src[pos:], pos)
    return b.view()


def detect_format(text: str, filename: str | None = None) -> str:
    suffix = Path(filename).suffix.lower() if filename else ""
    if suffix in (".html", ".htm", ".xhtml"):
        return "html"
    if suffix in (".md", ".markdown"):
        return "markdown"
    head = text[:2048].lower()
    if (
        "<html" in head
        or "<!doctype html" in head
        or ("<body" in head)
        or re.search(r"<(p|div|h[1-6])[\s>]", head)
    ):
        return "html"
    if len(_MD_SNIFF.findall(text[:8192])) >= 2:
        return "markdown"
    return "text"


_MD_SNIFF = re.compile(r"^\s{0,3}#{1,6}\s+\S|\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\s]+\)", re.M)


# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Sentence:
    start: int
    end: int
    text: str
    heading: bool  # a question-shaped heading ("我们如何共享…"): never itself a disclosure
    title: bool = False  # a heading line (numbered, question-shaped or marked up): opens a section
    line_start: bool = False  # the sentence begins its line (a list item, a label line)


_SPLIT = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*")
_EN_SPLIT = re.compile(
    r"(?<=[a-z0-9)\]\"”])(?<!\bLtd)(?<!\bInc)(?<!\bCo)(?<!\bCorp)(?<!\bNo)(?<!\bSt)(?<!\bRd)(?<!\bAve)"
    r"(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)\.\s+(?=[A-Z\"“(])"
)
_HEADING_Q = re.compile(r"如何|怎样|怎么|\bhow (?:we|you|do|to|can|long)\b", re.I)
# a numbered heading: 第一条 / 一、 / （一） / 1. / 1.2 / A.
_NUMBERED = re.compile(
    r"^(?:第[一二三四五六七八九十百\d]+[条章节部分]|[一二三四五六七八九十]+\s*[、.．]|[（(]\s*[一二三四五六七八九十\d]+\s*[)）]|"
    r"\d+(?:\.\d+)*\s*[.、．]?\s|\d+(?:\.\d+)*\s*[、．.]|[A-Z][.、]\s)"
)
_NOT_TITLE = re.compile(r"[:：@]|[。；;.，,！!？?]$")


def _is_title(seg: str, whole_line: bool, marked: bool) -> bool:
    """A heading line: the whole line, short, not a label or a sentence; numbered, question-shaped
    or marked up as a heading."""
    if not whole_line or len(seg) < 2:
        return False
    if marked:
        return len(seg) < 80
    return (
        len(seg) < 40 and not _NOT_TITLE.search(seg) and bool(_NUMBERED.match(seg) or _HEADING_Q.search(seg))
    )


def _sentences(text: str, titles: frozenset[int] = frozenset()) -> list[_Sentence]:
    out: list[_Sentence] = []
    for m in _SPLIT.finditer(text):
        chunk_start = m.start()
        chunk = m.group(0)
        line0 = text.rfind("\n", 0, chunk_start) + 1
        if not text[line0:chunk_start].strip() and (m.end() == len(text) or text[m.end()] == "\n"):
            seg = chunk.strip()
            if _is_title(seg, True, line0 in titles):  # a heading line is one sentence, never split
                s = chunk_start + len(chunk) - len(chunk.lstrip())
                heading = len(seg) < 40 and bool(_HEADING_Q.search(seg))
                out.append(_Sentence(s, s + len(seg), seg, heading, True, True))
                continue
        pieces: list[tuple[int, int]] = []
        last = 0
        for em in _EN_SPLIT.finditer(chunk):
            pieces.append((last, em.start() + 1))
            last = em.end()
        pieces.append((last, len(chunk)))
        for a, z in pieces:
            seg = chunk[a:z]
            lead = len(seg) - len(seg.lstrip())
            seg = seg.strip()
            if len(seg) < 2:
                continue
            s = chunk_start + a + lead
            heading = len(seg) < 40 and bool(_HEADING_Q.search(seg))
            line_start = not text[text.rfind("\n", 0, s) + 1 : s].strip()
            out.append(_Sentence(s, s + len(seg), seg, heading, False, line_start))
    return out


# --------------------------------------------------------------------------------------------------
# Cues (kinds of disclosure, not any policy's sentences)
# --------------------------------------------------------------------------------------------------


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


CJK = r"\u4e00-\u9fff"

# Concrete channels a reader can use
EMAIL = _rx(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
URL = _rx(r"(?:https?://|www\.)[A-Za-z0-9][^\s，。；、“”\"'<>（）()]*")
PHONE_LABEL = _rx(
    r"(?:电话|热线|客服|致电|拨打|座机|手机号码|联系号码|传真|phone|tel\b|telephone|call us|call\b|hotline)"
    r"[^。；;\n\d]{0,15}?([+（(]?\d[\d\-\s()（）]{3,18}\d)(?!\d)"
)
PHONE_BARE = _rx(
    r"(?<!\d)(?:[48]00[-\s]?\d{3}[-\s]?\d{4}|0\d{2,3}-\d{7,8}|\+86[-\s]?\d[\d\-\s]{8,14}\d|95\d{3,4}(?=[，。；、\s)）]))(?!\d)"
)
POSTAL = _rx(
    rf"[{CJK}]{{2,8}}(?:省|市|自治区|特别行政区)[{CJK}0-9A-Za-z（）()\-－、·]{{2,40}}?"
    rf"(?:号|室|楼|层|座|大厦|大楼|园区|邮编)"
    r"|\b\d{1,5}\s+[A-Z][\w .]{2,40}\b(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Boulevard|Lane|Drive|Way)\b"
    r"|\b(?:postal |mailing |registered )?address\s*[:：]\s*\S.{8,}"
    r"|(?:邮寄|寄送|来函|信函)?地址\s*[:：]\s*[^\s，。；]{6,}"
)
UI_PATH = _rx(
    rf"[“\"「『【]?[{CJK}A-Za-z]{{1,12}}[”\"」』】]?\s*(?:>|＞|›|»|→|->|－|-|—(?!—))\s*"
    rf"[“\"「『【]?[{CJK}A-Za-z]{{1,12}}[”\"」』】]?"
)
UI_WORD = _rx(
    r"我的|设置|账号|帐号|账户|帐户|个人中心|个人信息|个人资料|隐私|安全|管理|注销|编辑|资料|"
    r"settings?|account|profile|privacy|\bme\b|preferences"
)
UI_QUOTED = _rx(rf"[“\"「『【][{CJK}A-Za-z0-9 ]{{2,15}}[”\"」』】]")
UI_PLACE = _rx(
    r"(?:在|进入|前往|点击|通过|登录|打开)[^。；;，,\n]{0,15}?"
    r"(?:页面|页|界面|设置|个人中心|个人主页|账号管理|账户管理|帐号管理|资料|功能|入口|菜单|客户端|App|APP|app|应用内|产品内|网站)"
    r"|\b(?:in|via|through|from|under|go to|tap|open|visit)\s+(?:the\s+|your\s+)?[\"“]?[A-Za-z][\w &]{0,30}[\"”]?\s+"
    r"(?:page|screen|settings|menu|section|tab|app|centre|center|dashboard)\b"
    r"|\b(?:in|via|through)\s+(?:the\s+)?(?:app|website|account settings|settings)\b"
)
NAMED_FUNCTION = _rx(
    r"在线客服|人工客服|客服中心|意见反馈|营业厅|服务网点|营业网点|门店|柜台|帮助与反馈|帮助中心|反馈入口|客服热线|个人信息保护专线|"
    r"online customer service|customer service centre|customer service center|help cent(?:er|re)|feedback (?:page|form|function)|web form|online form"
)
# A pointer to the policy's own contact details (counts only when the policy has them)
CONTACT_REF = _rx(
    r"联系我们|与我们联系|与我们取得联系|联络我们|联系客服|通过客服|联系方式(?:与|和|联系)|(?:上述|以上|前述|下述|以下|如下)(?:的)?(?:联系)?方式|"
    r"(?:所列|罗列|所述|公布|公示|列明|载明|提供)的?[^。；，,\n]{0,10}?(?:途径|方式|渠道|联系方式)|"
    r"\bcontact(?:ing)? us|\bcontact our|\breach us|\bget in touch|\bcontact details|\bdetails (?:above|below)|\bwrite to us"
)
# a sentence about reaching the operator (not a list of the user's own contact data)
CONTACT_CUE = _rx(
    r"(?:联系|联络|咨询|反馈|询问)(?:我们|客服)|与我们(?:取得)?(?:联系|联络)|客服(?:电话|热线|邮箱|中心)|在线客服|"
    r"(?:问题|疑问|意见|建议|投诉|举报|请求)[^。；;\n]{0,40}?(?:联系|联络|发送|致电|拨打|邮件|通过)|"
    r"(?:邮箱|邮件|电子邮件|电话|热线|地址|联系方式|网址|传真)\s*[:：]|"
    r"\bcontact us|\breach us|\bquestions|\bwrite to us|\bget in touch|\be-?mail us|\bcall us|\bhotline|"
    r"\b(?:e-?mail|phone|telephone|address|tel)\s*:"
)


_PATH_SEP = re.compile(r"[>＞›»→\-－—]")


def _concrete_channel(s: str, with_paths: bool) -> re.Match[str] | None:
    for rx in (EMAIL, PHONE_LABEL, PHONE_BARE, URL, POSTAL, NAMED_FUNCTION):
        m = rx.search(s)
        if m:
            return m
    if with_paths:
        for m in UI_PATH.finditer(s) if _PATH_SEP.search(s) else ():
            if UI_WORD.search(m.group(0)):
                return m
        m = UI_PLACE.search(s)
        if m:
            return m
        for m in UI_QUOTED.finditer(s):
            if UI_WORD.search(m.group(0)):
                return m
    return None


# Operator identity
ENTITY = _rx(
    rf"([{CJK}A-Za-z0-9（）()·]{{2,40}}?)(?:有限责任公司|股份有限公司|有限公司|合伙企业|研究院|事务所)"
    r"|\b([A-Z][\w&'.,-]*(?:\s+[A-Z][\w&'.,-]*){0,6})\s*,?\s+(?:Co\.,?\s*Ltd\.?|Ltd\.?|Limited|Inc\.?|LLC|GmbH|Corporation|Corp\.|S\.A\.|B\.V\.|PLC)\b"
)
# a company named as the one behind the service (not a third party's SDK provider)
ENTITY_CONTEXT = _rx(
    r"由[^。；;\n]{0,50}?(?:提供|运营|开发|负责)|运营|开发者|经营者|主体|以下简称|以下称|以下或称|以下亦称|下称|简称|合称|统称|"
    r"(?:注册|办公|联系)地址|名称\s*[:：]|适用于|本公司|我公司|我行|本行|"
    r"\bhereinafter|\boperat|\bprovided by|\bcontroller\b|\bwe are\b|\bregistered (?:address|office)"
)
# a legal-entity suffix after these is a kind of company, not a name
_NOT_ENTITY_TAIL = re.compile(
    r"(?:关联|合作|第三方|其他|相关|该|本|贵|其|此|某|任何|示例)$|^(?:the|a|an|our|any|other|third)$", re.I
)
ENTITY_LABEL = _rx(
    rf"(?:开发者|运营者|经营者|运营方|运营主体|服务提供者|运营单位|主办单位|开发运营者|公司)(?:名称|全称|主体)?\s*[:：为是]\s*[{CJK}A-Za-z（）()]{{3,40}}"
    r"|\b(?:operated|provided|published|run) by\s+[A-Z][\w&'.-]*(?:\s+[A-Z][\w&'.-]*){0,5}"
    r"|\b(?:operator|controller|company name)\s*[:：]\s*[A-Z]\w+"
)
ENTITY_WE = _rx(
    rf"([{CJK}A-Za-z0-9（）()·]{{2,40}})\s*[（(]\s*(?:以下|下称|以下简称|以下称|下文简称|简称)[^）)]{{0,20}}?[“\"「]?(?:我们|我方|本公司|本平台)"
    r"|\b([A-Z][\w&'.-]*(?:\s+[A-Z][\w&'.-]*){0,5})\s*\(\s*(?:hereinafter\s+)?(?:referred to as\s+)?[\"“]?(?:we|us)\b"
)
_NOT_NAMES = re.compile(r"^(?:本|我们|我方|该|此|其|第三方|关联|合作|上述|以下|贵)")

# Purposes
PURPOSE_MARK = _rx(
    r"用于|用以|用来|以便|以供|为了|为实现|为向您|为您提供|目的是|目的在于|以实现|以保障|以确保|以完成|以帮助|以识别|以验证|以向您|"
    r"\bto\b|\bin order to\b|\bfor the purposes? of\b|\bso that\b|\bused for\b|\bfor\b"
)
PURPOSE_ACTIVITY = _rx(
    r"注册|登录|登陆|身份|实名|验证|认证|核验|支付|付款|交易|下单|订单|配送|物流|快递|客服|售后|退款|结算|计费|发票|"
    r"安全|风控|风险|反欺诈|欺诈|作弊|推荐|推送|个性化|广告|营销|推广|统计|分析|改进|优化|改善|搜索|定位|导航|"
    r"通知|联系您|沟通|防沉迷|播放|下载|上传|分享|评论|直播|缓存|诊断|崩溃|找回|"
    r"\bregist|\bsign(?:ing)? (?:in|up)|\blog(?:ging)? ?in|\bverif|\bauthenticat|\bpay|\bpurchase|\b(?:process|fulfil)\w* (?:your )?(?:orders?|payments?|requests?)|"
    r"\bdeliver|\bcustomer (?:service|support)|\bsupport\b|\bfraud|\bsecurity\b|\brecommend|\bpersonali[sz]|\badvertis|\bmarketing|"
    r"\banaly[sz]|\bimprove|\bnotif|\bcontact you|\bbilling|\binvoice|\bcomply with"
)
PI_OBJECT = _rx(
    r"个人信息|信息|资料|数据|号码|手机|位置|设备|账号|帐号|地址|姓名|身份证|照片|通讯录|"
    r"\binformation\b|\bdata\b|\bemail|\bphone|\baddress|\blocation|\bdevice|\bname\b|\bidentifier"
)

# Methods of collection
METHODS = _rx(
    r"主动(?:提供|填写|上传|提交|授权|向我们提供)|"
    r"(?<![为向给对])(?:您|你)(?:主动|自行|需要|需|须|可以|可|也可以|亦可)?(?:向我们)?(?:填写|上传|提交|输入|提供)|"
    r"自动(?:收集|采集|获取|记录|接收)|"
    r"(?:通过|使用|利用|借助)[^。；;\n]{0,12}?(?:Cookie|SDK|Web Beacon|网络信标|像素标签|传感器|日志|设备权限|系统权限|权限)[^。；;\n]{0,20}?(?:收集|采集|获取|记录|识别|读取)|"
    r"从[^。；;\n]{0,20}?(?:第三方|合作方|合作伙伴|关联公司|关联方|运营商)[^。；;\n]{0,15}?(?:获取|获得|收集|接收|取得)|"
    r"(?:申请|获取|调用|开启|访问)[^。；;\n]{0,8}?(?:相机|摄像头|麦克风|相册|位置|定位|通讯录|存储|电话)权限|"
    r"\byou (?:provide|give|enter|submit|upload|fill)|"
    r"\b(?:collect|gather|record|receive)\w*\s+(?:[\w-]+\s+){0,6}?automatically|\bautomatically (?:collect|record|receive|log)|"
    r"\b(?:through|via|using|use of)\s+(?:the use of\s+)?(?:cookies|similar technologies|SDKs?|web beacons|pixels?|log files|device permissions)|"
    r"\b(?:obtain|receive|collect)\w*\s+(?:[\w-]+\s+){0,8}?from (?:third[- ]part(?:y|ies)|our partners|partners|affiliates|other sources)"
)

# Scope: concrete categories
CATEGORY = _rx(
    r"真实姓名|姓名|手机号码|手机号|电话号码|身份证件号码|身份证号码|身份证|证件号码|证件信息|护照|出生日期|生日|性别|年龄|"
    r"收货地址|住址|通信地址|地址|地理位置|位置信息|精确位置|GPS|设备信息|设备型号|设备标识|设备识别码|IMEI|IMSI|MAC地址|MAC|"
    r"Android ?ID|IDFA|IDFV|OAID|IP地址|IP|日志信息|浏览记录|搜索记录|通讯录|联系人|照片|相册|银行卡号|银行卡|支付信息|支付账号|"
    r"账号|帐号|密码|昵称|头像|邮箱|电子邮件地址|订单信息|交易记录|人脸|面部|指纹|声纹|生物识别|健康|车牌号|行驶证|驾驶证|学历|职业|"
    r"WLAN|Wi-?Fi|传感器|应用列表|软件列表|剪切板|剪贴板|运营商|操作系统|"
    r"\bfull name\b|\bname\b|\bphone number\b|\bmobile number\b|\be-?mail address\b|\bpostal address\b|\baddress\b|\blocation\b|"
    r"\bdevice (?:information|identifiers?|ID|model)\b|\bIP address\b|\bIMEI\b|\bMAC address\b|\badvertising ID\b|\bdate of birth\b|"
    r"\bbirthday\b|\bgender\b|\bage\b|\bID card\b|\bidentity card\b|\bpassport\b|\bbank (?:card|account)\b|\bpayment (?:information|details)\b|"
    r"\bcontacts\b|\bphotos\b|\baccount (?:name|number)\b|\busername\b|\bpassword\b|\bnickname\b|\bbrowsing history\b|\bsearch history\b|"
    r"\bpurchase history\b|\border (?:information|history)\b|\bcookies?\b|\blog data\b"
)
COLLECT_VERB = _rx(
    r"收集|获取|采集|读取|访问|提供|填写|使用|需要|记录|上传|授权|"
    r"\bcollect|\bobtain|\bgather|\bprocess|\breceive|\bask (?:you )?for|\bneed|\brecord|\bprovide|\bstore|\buse\b"
)

# Rights
RIGHT_MODAL = _rx(
    r"(?:您|你|用户)[^。；;\n]{0,8}?(?:可以|可|能够|能|有权|有权利|也可|均可|享有|需要|需|想|希望|要)|如需|申请|请求|要求|提出|自行|"
    r"\byou (?:can|may|have the right|are entitled|could|will be able|are able)|\brequest|\bask us\b|\byour right"
)
INFO_OBJECT = _rx(
    r"个人信息|个人资料|信息|资料|数据|记录|订单|副本|"
    r"\bpersonal (?:information|data)\b|\binformation\b|\bdata\b|\bprofile\b|\bdetails\b|\brecords?\b|\bcopy\b"
)
INQUIRY_VERB = _rx(
    r"查询|查阅|查看|访问|复制|导出|获取.{0,4}副本|下载[^。；]{0,6}(?:副本|数据|信息)|"
    r"\baccess\b|\bview\b|\bobtain a copy|\bcopy of\b|\bexport|\bdownload|\blook up|\breview your"
)
CORRECTION_VERB = _rx(
    r"更正|修改|编辑|更新|补充|纠正|修正|变更|"
    r"\bcorrect|\brectif|\bamend|\bupdate\b|\bedit\b|\bmodify|\bchange your"
)
DELETION_VERB = _rx(r"删除|清除|\bdelet|\berase|\berasure\b|\bremove")
CANCEL = _rx(
    r"注销|销户|"
    r"\bcancel\w*\s+(?:of\s+)?(?:your\s+)?account|\bclose\s+(?:your\s+)?account|\bdelete\s+(?:your\s+)?account|"
    r"\baccount\s+(?:cancellation|deletion|closure|termination)"
)

# Refusal
REFUSAL = _rx(
    r"(?:如|若|如果|假如|倘若|一旦)?(?:您|你|用户)?(?:不同意|拒绝|不提供|不授权|不允许|未提供|不愿|不予|关闭|撤回)|"
    r"\bif you (?:do not|don't|refuse|decline|choose not|withdraw|disable|turn off)|\bwithout (?:this|such|these|providing|your consent)"
)
CONSEQUENCE = _rx(
    r"无法|不能|将不能|不可|可能无法|影响|不会影响|不影响|导致|受限|不可用|"
    r"\bcannot\b|\bcan't\b|\bunable\b|\bwill not be able|\bwon't be able|\bmay not be able|\bnot be able|\bwill not affect|\bdoes not affect|\bwon't affect|\blimited\b"
)

COMPLAINT = _rx(r"投诉|举报|申诉|\bcomplain|\bgrievance")
REPLY_DEADLINE = _rx(
    r"(?:\d+|[一二三四五六七八九十]+)\s*(?:个)?(?:工作|自然)?(?:日|天)内[^。；;\n]{0,12}?(?:回复|答复|处理|反馈|响应)|"
    r"\b(?:reply|respond|answer)\w*[\w ]{0,30}\bwithin \d+ (?:working |business |calendar )?days"
)
# the complaint is the user's to make (not "complaint records we keep")
COMPLAINT_ASK = _rx(
    r"如|若|如果|倘若|当(?:您|你)|(?:您|你)[^。；;\n]{0,8}?(?:可以|可|有权|需要|想|希望)|请|"
    r"投诉(?:渠道|电话|邮箱|热线|方式|入口|地址)|"
    r"\bif you|\byou (?:can|may)|\bto (?:make|file|lodge|submit) a|\bplease|\bcomplaints? (?:to|at|channel|line)"
)

# Sharing
SHARE_VERB = _rx(
    r"共享|分享|提供给|对外提供|向(?!您|你|用户)[^。；;\n]{0,20}?提供|委托[^。；;\n]{0,10}?处理|转让|公开披露|披露给|披露|接入|"
    r"\bshare|\bdisclos|\bprovide[\w ]{0,30}\bto\b|\btransfer|\bsell\b|\bpass(?:es|ed|ing)?\s+(?:[\w-]+\s+){0,3}?on\b"
)
RECIPIENT = _rx(
    r"第三方|他人|接收方|其他(?:个人|组织|机构|公司|企业)|合作伙伴|合作方|关联公司|关联方|关联企业|服务商|服务提供商|SDK|授权合作|供应商|受托|"
    r"\bthird[- ]part(?:y|ies)|\bpartners?\b|\baffiliat|\bservice providers?\b|\bvendors?\b|\bprocessors?\b|\bcontractors?\b|"
    r"\brecipients?\b|\bno one\b|\bothers\b|\banyone else\b|\bother (?:companies|organi[sz]ations|persons|people)\b"
)

# Retention
RETAIN_VERB = _rx(r"保存|存储|储存|保留|留存|存放|\bretain|\bstore|\bkeep\b|\bkept\b|\bhold\b|\bretention\b")
PERIOD = _rx(
    r"(?<![\d年])(?:\d+|[一二三四五六七八九十两半百]+)\s*(?:个)?(?:自然|工作)?(?:年|个月|月|天|日|小时)(?![\d月])|"
    r"(?:直至|直到|截至|至|到)[^。；;\n]{0,15}?(?:注销|删除|终止|撤回|结束|停止)|"
    r"\b\d+\s*(?:years?|months?|days?|hours?|weeks?)\b|\buntil (?:you|your|the account|we|the end|termination|deletion)"
)
END_EVENT = _rx(
    r"(?:注销|终止使用|撤回)[^。；;\n]{0,15}?(?:后|时|之日起)[^。；;\n]{0,50}?(?:删除|匿名化|销毁|去标识化)|"
    r"\bafter (?:you (?:delete|close|cancel)|your account is (?:deleted|closed|cancelled)|the (?:account|service) (?:is|ends))[\w ,]{0,40}(?:delete|anonymi|erase|destroy)"
)

# Security measures
SECURITY_CONTEXT = _rx(r"安全|保护|防护|防范|防止|保密|\bsecur|\bprotect|\bsafeguard|\bprevent")
SECURITY_MEANS = _rx(
    r"措施|技术|手段|机制|体系|制度|管理|\bmeasures?\b|\btechnolog|\bpractices\b|\bcontrols?\b|\bsafeguards\b"
)
SECURITY_MEASURE = _rx(
    r"加密|SSL|TLS|HTTPS|去标识化|匿名化|访问控制|权限控制|权限管理|最小权限|最小授权|身份认证|身份鉴别|双因素|多因素|防火墙|入侵检测|"
    r"防病毒|数据备份|备份|容灾|安全审计|审计|脱敏|隔离|网络安全等级保护|等级保护|等保|ISO\s*/?\s*(?:IEC)?\s*27001|ISO27001|"
    r"安全培训|培训|保密协议|应急预案|应急响应|哈希|数字签名|监控|"
    r"\bencrypt|\bSSL\b|\bTLS\b|\bHTTPS\b|\bpseudonymi|\banonymi|\bde-identif|\baccess controls?\b|\bleast privilege|\bfirewalls?\b|"
    r"\bintrusion detection|\btwo-factor|\bmulti-factor|\b2FA\b|\bbackups?\b|\baudits?\b|\bISO[/ ]?(?:IEC )?27001|\btraining\b|"
    r"\bconfidentiality (?:agreements?|obligations)|\bincident response|\bmonitoring\b|\bhash"
)

# Breach notification
BREACH = _rx(r"安全事件|泄露|泄漏|泄密|\bbreach|\bsecurity incident|\bdata incident|\bleak")
NOTIFY_USER = _rx(
    r"(?:告知|通知|推送|告诉|通报|公告|提示|知会)(?:您|你|用户)|(?:向|给)(?:您|你|用户)[^。；;\n]{0,6}?(?:告知|通知|发送|推送|提示)|"
    r"(?:以|通过)[^。；;\n]{0,30}?(?:邮件|信函|电话|短信|推送|公告|站内信)[^。；;\n]{0,15}?(?:告知|通知)|"
    r"\bnotify (?:you|affected|users|the affected)|\binform you|\btell you|\blet you know|\bnotification to you|\bwill notify"
)

# Effective date
DATE = _rx(
    r"[【\[]?\s*(?:19|20)\d{2}\s*[】\]]?\s*年\s*[【\[]?\s*\d{1,2}\s*[】\]]?\s*月(?:\s*[【\[]?\s*\d{1,2}\s*[】\]]?\s*[日号])?|"
    r"(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}|"
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},?\s+(?:19|20)\d{2}\b|"
    r"\b\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+(?:19|20)\d{2}\b"
)
DATE_CUE = _rx(
    r"生效|更新|发布|修订|版本|日期|\beffective|\bupdated|\brevised|\blast modified|\bversion|\bdate\b"
)


# --------------------------------------------------------------------------------------------------
# Finders
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Doc:
    sentences: list[_Sentence]
    has_contact: bool = False
    found: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    section: list[int | None] = field(default_factory=list)  # the heading a sentence stands under
    lead: list[int | None] = field(default_factory=list)  # the "…as follows:" line a list item follows

    def __post_init__(self) -> None:
        title: int | None = None
        lead: int | None = None
        for i, s in enumerate(self.sentences):
            if s.title:
                title, lead = i, None
            self.section.append(title if title != i else None)
            # a list item follows a line that ends with a colon (the lead), within a few sentences
            if lead is not None and i - lead > _LIST_MAX:
                lead = None
            self.lead.append(lead)
            if s.text.endswith((":", "：")) and not s.title:
                lead = i


_LIST_MAX = 8  # a list item is at most this many sentences below its lead line
# the document's own title ("个人信息保护政策") opens no topic of its own
_DOC_TITLE = _rx(r"政策|规则|声明|指引|协议|\bpolicy\b|\brules\b|\bnotice\b|\bstatement\b")


_Finder = Callable[[_Doc], Iterator[tuple[int, ...]]]
_WINDOW = 3  # a channel may follow its topic within this many sentences


def _all(*rxs: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda s: all(rx.search(s) for rx in rxs)


def _single(test: Callable[[str], bool]) -> _Finder:
    def find(doc: _Doc) -> Iterator[tuple[int, ...]]:
        for i, s in enumerate(doc.sentences):
            if not s.heading and test(s.text):
                yield (i,)

    return find


def _with_channel(topic: Callable[[str], bool], with_paths: bool, window: int = _WINDOW) -> _Finder:
    """Topic in sentence i, a usable channel in i .. i+window (or a pointer to the contact details)."""

    def find(doc: _Doc) -> Iterator[tuple[int, ...]]:
        n = len(doc.sentences)
        for i, s in enumerate(doc.sentences):
            if s.heading or not topic(s.text):
                continue
            for j in range(i, min(n, i + window + 1)):
                t = doc.sentences[j].text
                if _concrete_channel(t, with_paths) or (doc.has_contact and CONTACT_REF.search(t)):
                    yield (i,) if j == i else (i, j)
                    break

    return find


# a label line: "查询个人信息：在 App …" / "Correct your data: in the app …" (the label names the right)
_LABEL = re.compile(r"^([^。；;:：\n]{2,60})[:：]\s*\S")


def _labelled(*rxs: re.Pattern[str]) -> Callable[[str], bool]:
    def test(s: str) -> bool:
        m = _LABEL.match(s)
        return bool(m and len(m.group(1).encode("utf-8")) <= 60 and all(rx.search(m.group(1)) for rx in rxs))

    return test


def _right(verb: re.Pattern[str]) -> Callable[[str], bool]:
    """A right to exercise: "you can/may …" with the verb and an object, or a label line naming it."""
    modal = _all(RIGHT_MODAL, verb, INFO_OBJECT)
    label = _labelled(verb, INFO_OBJECT)
    return lambda s: modal(s) or label(s)


def _context(doc: _Doc, i: int) -> Iterator[int]:
    """The lines a list item stands under: its lead line ("…as follows:") and its section heading."""
    lead, title = doc.lead[i], doc.section[i]
    if lead is not None:
        yield lead
    if title is not None and not _DOC_TITLE.search(doc.sentences[title].text):
        yield title


def _under(topic: Callable[[str], bool], item: Callable[[str], bool]) -> _Finder:
    """A list item (or the body of a section) that says the thing, under a heading or lead line that
    names the topic: "## 四、向第三方提供个人信息" / "我们采取以下安全措施：" then "- X：…"."""

    def find(doc: _Doc) -> Iterator[tuple[int, ...]]:
        on_topic: dict[int, bool] = {}  # each heading or lead line is tested once
        for i, s in enumerate(doc.sentences):
            if s.heading or s.title:
                continue
            for c in _context(doc, i):
                if c not in on_topic:
                    on_topic[c] = topic(doc.sentences[c].text)
                if on_topic[c]:
                    if item(s.text):
                        yield (c, i)
                    break

    return find


def _either(*finders: _Finder) -> _Finder:
    def find(doc: _Doc) -> Iterator[tuple[int, ...]]:
        for f in finders:
            yield from f(doc)

    return find


def _contact(doc: _Doc) -> Iterator[tuple[int, ...]]:
    n = len(doc.sentences)
    for i, s in enumerate(doc.sentences):
        if EMAIL.search(s.text):
            yield (i,)
            continue
        if s.heading or not CONTACT_CUE.search(s.text):
            continue
        if _concrete_channel(s.text, with_paths=True):  # an in-app path counts in the same sentence
            yield (i,)
            continue
        for j in range(i + 1, min(n, i + _WINDOW + 1)):
            if _concrete_channel(doc.sentences[j].text, with_paths=False):
                yield (i, j)
                break


_ENTITY_SUFFIX = re.compile(
    r"有限|合伙企业|研究院|事务所|Co\.|Ltd|Limited|Inc\b|LLC|GmbH|Corp|S\.A\.|B\.V\.|PLC"
)
_WE_CUE = re.compile(r"以下|下称|简称|下文|hereinafter|referred|\((?:we|us)\b", re.I)


def _operator(text: str) -> bool:
    has_suffix = _ENTITY_SUFFIX.search(text)
    for m in ENTITY.finditer(text) if has_suffix and ENTITY_CONTEXT.search(text) else ():
        core = m.group(1) or m.group(2) or ""
        if len(core) >= 2 and not _NOT_ENTITY_TAIL.search(core):
            return True
    if ENTITY_LABEL.search(text):
        return True
    we = ENTITY_WE.search(text) if _WE_CUE.search(text) else None
    return bool(we and not _NOT_NAMES.match((we.group(1) or we.group(2) or "").strip()))


def _scope(text: str) -> bool:
    if not COLLECT_VERB.search(text):
        return False
    kinds = {m.group(0).lower() for m in CATEGORY.finditer(text)}
    return len(kinds) >= 2


def _refusal(text: str) -> bool:
    m = REFUSAL.search(text)
    return bool(m and CONSEQUENCE.search(text, m.end()))


def _retention(text: str) -> bool:
    return bool((RETAIN_VERB.search(text) and PERIOD.search(text)) or END_EVENT.search(text))


def _effective(doc: _Doc) -> Iterator[tuple[int, ...]]:
    for i, s in enumerate(doc.sentences):
        if not DATE.search(s.text):
            continue
        if DATE_CUE.search(s.text):
            yield (i,)
        elif i > 0 and len(doc.sentences[i - 1].text) < 40 and DATE_CUE.search(doc.sentences[i - 1].text):
            yield (i - 1, i)


def _breach(doc: _Doc) -> Iterator[tuple[int, ...]]:
    n = len(doc.sentences)
    for i, s in enumerate(doc.sentences):
        if s.heading or not BREACH.search(s.text):
            continue
        if NOTIFY_USER.search(s.text):
            yield (i,)
        elif i + 1 < n and NOTIFY_USER.search(doc.sentences[i + 1].text):
            yield (i, i + 1)


_COLLECTING = _rx(r"收集|采集|\bcollect")
_complaint_asked = _with_channel(
    lambda s: bool(
        COMPLAINT.search(s)
        and COMPLAINT_ASK.search(s)
        and not _COLLECTING.search(s)
        and not REFUSAL.search(s)
    ),
    with_paths=True,
)


def _complaint(doc: _Doc) -> Iterator[tuple[int, ...]]:
    """A complaint the user makes, with a channel; or a reply deadline after a contact channel
    (the O24-12 mechanism stated without the word "complaint")."""
    yield from _complaint_asked(doc)
    for i, s in enumerate(doc.sentences):
        if not REPLY_DEADLINE.search(s.text):
            continue
        for j in range(i, max(-1, i - _WINDOW - 1), -1):
            if _concrete_channel(doc.sentences[j].text, with_paths=False):
                yield (j, i) if j != i else (i,)
                break


def _security(doc: _Doc) -> Iterator[tuple[int, ...]]:
    """A named measure; the sentence or the one before says it is for security."""
    for i, s in enumerate(doc.sentences):
        if s.heading or not (SECURITY_MEASURE.search(s.text) and SECURITY_MEANS.search(s.text)):
            continue
        if SECURITY_CONTEXT.search(s.text):
            yield (i,)
        elif i > 0 and SECURITY_CONTEXT.search(doc.sentences[i - 1].text):
            yield (i - 1, i)


# a heading about protecting PI (not "存储和安全", not a complaint about security)
_SECURITY_TITLE = _rx(
    r"(?:保护|保障|确保|保证)[^。；;\n]{0,8}?(?:个人信息|信息|数据|隐私)|(?:个人信息|信息|数据)(?:的)?(?:安全保护|保护|安全措施|安全保障)|"
    r"安全(?:措施|保护|保障|防护)|\bprotect|\bsafeguard|\bsecurity (?:measures|practices|safeguards)|\bsecur(?:e|ity) (?:of )?your"
)


def _security_topic(text: str) -> bool:
    """A lead line that announces measures ("我们采取以下安全措施：") or a heading about protection."""
    if COMPLAINT.search(text):
        return False
    return bool(SECURITY_CONTEXT.search(text) and SECURITY_MEANS.search(text)) or bool(
        _SECURITY_TITLE.search(text)
    )


def _named_measure(text: str) -> bool:
    """A named measure in a list item (an ``https://`` link is not HTTPS as a measure)."""
    return bool(SECURITY_MEASURE.search(URL.sub(" ", text)))


_WE_SHARE = _rx(
    r"(?:我们|我方|本公司|我公司|我司|我行|本行|本平台|\bwe\b|\bour\b)[^。；;\n]{0,30}?(?:共享|分享给|提供给|对外提供|提供您|向|委托|转让|披露|接入|使用|"
    r"\bshare|\bdisclos|\bprovide|\btransfer|\bsell|\buse)|"
    r"不会[^。；;\n]{0,10}?(?:共享|分享|提供|转让|披露)|\b(?:will not|won't|do not|never) (?:share|sell|disclose)"
)


def _named_party(text: str) -> bool:
    """A recipient named: a kind (partners, SDKs …) or a legal entity ("示例支付有限公司")."""
    if RECIPIENT.search(text):
        return True
    if not _ENTITY_SUFFIX.search(text):
        return False
    return any(
        len(core := (m.group(1) or m.group(2) or "")) >= 2 and not _NOT_ENTITY_TAIL.search(core)
        for m in ENTITY.finditer(text)
    )


_WHAT_FOR = _rx(
    r"提供的(?:个人)?信息|提供(?:其|您的)?|信息(?:为|包括)|\binformation (?:provided|shared|disclosed)"
)


def _shared_item(text: str) -> bool:
    """A list item under a sharing heading: names the recipient and what for or what is passed on."""
    return (
        len(text) >= 10
        and _named_party(text)
        and bool(SHARE_VERB.search(text) or PURPOSE_MARK.search(text) or _WHAT_FOR.search(text))
    )


def _sharing(text: str) -> bool:
    """The operator says whether, with whom or why it passes PI on (not a link the user shares)."""
    return (
        len(text) >= 15
        and bool(SHARE_VERB.search(text) and RECIPIENT.search(text))
        and bool(_WE_SHARE.search(text))
    )


FINDERS: dict[str, _Finder] = {
    "operator_identity": _single(_operator),
    "contact": _contact,
    "purposes": _either(
        _single(_all(PURPOSE_MARK, PURPOSE_ACTIVITY, CATEGORY)),
        # "### 3. 计费与结算" then "- 收集使用的个人信息：手机号码、银行卡号"
        _under(lambda t: bool(PURPOSE_ACTIVITY.search(t)), _scope),
    ),
    "methods": _single(lambda s: bool(METHODS.search(s))),
    "scope": _single(_scope),
    "inquiry_channel": _with_channel(_right(INQUIRY_VERB), with_paths=True),
    "correction_channel": _with_channel(_right(CORRECTION_VERB), with_paths=True),
    "deletion_channel": _with_channel(_right(DELETION_VERB), with_paths=True),
    "account_cancellation": _with_channel(
        lambda s: bool(CANCEL.search(s) and (RIGHT_MODAL.search(s) or _concrete_channel(s, with_paths=True))),
        with_paths=True,
    ),
    "refusal_consequences": _single(_refusal),
    "complaint_channel": _complaint,
    "third_party_sharing": _either(
        _single(_sharing),
        _under(lambda t: bool(SHARE_VERB.search(t)), _shared_item),
    ),
    "retention": _single(_retention),
    "security_measures": _either(
        _security,
        # "## 六、我们如何保护…" / "我们采取以下安全措施：" then "- 以 AES-256-GCM 加密存储…"
        _under(_security_topic, _named_measure),
    ),
    "breach_notification": _breach,
    "effective_date": _effective,
}
assert tuple(FINDERS) == ITEM_IDS


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------


_MAX_HITS = 12
_STRONG = (EMAIL, PHONE_LABEL, PHONE_BARE, URL, POSTAL, UI_PATH)


def _strength(doc: _Doc, hit: tuple[int, ...]) -> int:
    texts = [doc.sentences[i].text for i in hit]
    score = 2 if any(rx.search(t) for rx in _STRONG for t in texts) else 0
    score += 1 if len(hit) == 1 else 0
    score -= 1 if sum(len(t) for t in texts) > 200 else 0
    return score


def _view(text: str, fmt: str) -> _View:
    if fmt == "html":
        return _html_view(text)
    if fmt == "markdown":
        return _markdown_view(text)
    return _View(text, None)


@carries("O24-8", "O24-9.2", "O24-9.4", "O24-12", "CSL-41.1", "CSL-42.1", "CSL-42.2", "CSL-43")
def lint_text(text: str, input_format: str = "auto", filename: str | None = None) -> LintReport:
    """Lint a policy's decoded text; evidence offsets index into ``text`` itself."""
    if input_format not in FORMATS:
        raise PiguardError(
            "validation_error",
            f"Unknown policy format {input_format!r}: one of {', '.join(FORMATS)}.",
            f"未知的政策格式 {input_format!r}：可选 {', '.join(FORMATS)}。",
            fields=[FieldError("format", f"one of {', '.join(FORMATS)}")],
            http_status=422,
        )
    fmt = detect_format(text, filename) if input_format == "auto" else input_format
    view = _view(text, fmt)
    doc = _Doc(_sentences(view.text, view.titles))
    results: list[ItemResult] = []
    for item in ITEMS:
        hits: list[tuple[int, ...]] = []
        for hit in FINDERS[item.id](doc):
            if hit not in hits:
                hits.append(hit)
            if len(hits) >= _MAX_HITS:
                break
        # the clearest evidence first: a concrete channel, one sentence, not a wall of text
        hits = sorted(hits, key=lambda h: _strength(doc, h), reverse=True)[:MAX_EVIDENCE]
        if item.id == "contact":  # ITEMS lists contact before the channels that may point to it
            doc.has_contact = bool(hits)
        spans: list[Span] = []
        for hit in hits:
            for idx in hit:
                s = doc.sentences[idx]
                span = view.span(s.start, s.end, text)
                if span not in spans:
                    spans.append(span)
        results.append(ItemResult(item, bool(hits), tuple(spans)))
    return LintReport(tuple(results), fmt, filename)


def lint_file(path: Path, input_format: str = "auto") -> LintReport:
    text = read_policy(path)
    return lint_text(text, input_format, filename=str(path))


def item(item_id: str) -> Item:
    return _ITEMS_BY_ID[item_id]
