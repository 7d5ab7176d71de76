"""``piguard sms …``: content review of message batches, reply classification, the loaded rules.

Contract of ``piguard sms review FILE.jsonl`` (``-`` reads stdin), documented in docs/sms-review.md:
one JSON object a line in, ``{"id", "text", "sender"?, "content_provider"?}``; one JSON line a
line out on stdout, in input order, either a review
``{"id", "verdict", "kind", "prohibited", "findings": [{"code", "articles", "message": {"zh", "en"},
"severity", "detail"?}]}`` or a per-line error ``{"id", "line", "error": {"code", "message": {"zh",
"en"}}}``. Blank lines are skipped. A progress bar and a summary go to stderr. Exit status 1 when
any line was an error, 0 otherwise (a failed review is a result, not an error).

The gateway, early-warning and SMPP commands are mounted from ``SMS_COMMANDS`` below, as the root
mounts the domains: each module is imported only when its command runs (``core/cli_lazy.py``), and
none of them imports this one.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from piguard.core import yamlfiles
from piguard.core.cli_lazy import LazyEntry, LazyTyperGroup
from piguard.core.errors import PiguardError
from piguard.messaging.review import (
    Channel,
    ReviewContext,
    SignaturePosition,
    SignatureRequirement,
    load_rules,
    reviewer_for,
)
from piguard.messaging.review.engine import DEFAULT_MAX_LENGTH
from piguard.messaging.review.rules import RULES_DIR_ENV, RuleSet
from piguard.messaging.subscriptions.replies import classify_reply

# (command name, "module:attr" of a command function or a Typer sub-app, the help listed by
# ``piguard sms --help``: the command's own first paragraph, checked by tests/core/test_cli_lazy.py).
SMS_COMMANDS: list[LazyEntry] = [
    (
        "send",
        "piguard.messaging.gateway.cli:send_command",
        "Decide, record and queue messages (exit 1 when an item had an input error). 发送短信（经网关检查）。",
    ),
    (
        "consents",
        "piguard.messaging.gateway.cli:consents_command",
        "The consent ledger, one JSON object a line (numbers masked). 用户同意台账。",
    ),
    (
        "subscription-events",
        "piguard.messaging.gateway.cli:events_command",
        "Subscription-status events, one JSON object a line (O31-11). 订阅退订状态记录。",
    ),
    (
        "check",
        "piguard.messaging.gateway.cli:check_command",
        "Decide without sending or recording. 仅检查，不发送。",
    ),
    (
        "inbound",
        "piguard.messaging.gateway.cli:inbound_command",
        "Handle a reply (opt-out ends consent at once). 处理用户回复。",
    ),
    (
        "release",
        "piguard.messaging.monitor.cli:release_command",
        "Decide a held message again now; queued when its hold has ended (audited). 重新判定被暂缓的短信。",
    ),
    (
        "reasons",
        "piguard.messaging.monitor.cli:reasons_command",
        "The gateway's reason codes with their obligation ids and labels (zh/en). 网关理由代码及其义务条款。",
    ),
    (
        "smpp-serve",
        "piguard.messaging.smpp.cli:smpp_serve",
        "Run piguard's SMPP server: content providers bind to it; every submit_sm is decided by the "
        "gateway and allowed ones go to the SMS centre. With --cmpp-port / --smgp-port / --sgip-port the "
        "CMPP, SMGP and SGIP servers run in the same process: their allowed messages go out through the "
        "same SMS centre link and users' replies (退订) reach their content providers. "
        "运行 SMPP 服务：每条 submit_sm 经网关判定后转发短信中心；可同进程运行 CMPP/SMGP/SGIP 服务。",
    ),
    (
        "registry",
        "piguard.messaging.gateway.cli:registry_app",
        "Gateway registry: providers, content providers, signatures, templates, ports, suspension. 短信网关登记。",
    ),
    ("alerts", "piguard.messaging.monitor.cli:alerts_app", "Early-warning alerts (O31-22, O31-23). 预警。"),
    (
        "complaint",
        "piguard.messaging.monitor.cli:complaint_app",
        "Complaints about content providers (O31-22). 投诉。",
    ),
    (
        "smpp-account",
        "piguard.messaging.smpp.cli:account_app",
        "SMPP accounts of content providers' ESMEs. 内容提供者的 SMPP 账号。",
    ),
    (
        "cmpp-serve",
        "piguard.messaging.cmpp.cli:cmpp_serve",
        "Run piguard's CMPP 2.0/3.0 server: content providers connect to it; every CMPP_SUBMIT is decided by the gateway (as SMPP submit_sm) and allowed ones are queued in the outbox. 运行 CMPP 服务：每条 CMPP_SUBMIT 经网关判定。",
    ),
    (
        "cmpp-account",
        "piguard.messaging.cmpp.cli:account_app",
        "CMPP accounts of content providers (SP_Id and shared secret). 内容提供者的 CMPP 账号。",
    ),
    (
        "route",
        "piguard.messaging.routing.cli:route_command",
        "Which carrier's link a number goes to, and why (ported, or its segment). 号码的路由。",
    ),
    (
        "ported",
        "piguard.messaging.routing.cli:ported_app",
        "Ported numbers (携号转网): import the list. 携号转网号码。",
    ),
    (
        "links",
        "piguard.messaging.routing.cli:links_command",
        "Outbound links per carrier and the queue waiting for each (one JSON line each; a carrier no link carries is listed with link null). 各运营商链路与待发队列。",
    ),
    (
        "smgp-serve",
        "piguard.messaging.smgp.cli:smgp_serve",
        "Run piguard's SMGP 3.0 server: content providers log in to it; every Submit is decided by the gateway (as SMPP submit_sm) and allowed ones are queued in the outbox. 运行 SMGP 服务：每条 Submit 经网关判定。",
    ),
    (
        "smgp-account",
        "piguard.messaging.smgp.cli:account_app",
        "SMGP accounts of content providers (ClientID and shared secret). 内容提供者的 SMGP 账号。",
    ),
    (
        "sgip-serve",
        "piguard.messaging.sgip.cli:sgip_serve",
        "Run piguard's SGIP 1.2 server: content providers bind to it; every Submit is decided by the gateway (as SMPP submit_sm) and allowed ones are queued in the outbox. 运行 SGIP 服务：每条 Submit 经网关判定。",
    ),
    (
        "sgip-account",
        "piguard.messaging.sgip.cli:account_app",
        "SGIP accounts of content providers (Login Name and Password). 内容提供者的 SGIP 账号。",
    ),
    (
        "mail-relay",
        "piguard.messaging.mail.cli:mail_relay_command",
        "Hand the outbox's e-mail to an SMTP mail relay, with the one-click unsubscribe headers on commercial mail (NPC-7); one JSON line per round. 经 SMTP 中继发送发件箱中的电子邮件。",
    ),
    (
        "callback",
        "piguard.messaging.callbacks.cli:callback_app",
        "Receipts and replies pushed to content providers (HMAC-signed), or kept to poll. 回执与上行推送。",
    ),
]


class _SmsGroup(LazyTyperGroup):
    lazy_commands = SMS_COMMANDS


app = typer.Typer(
    cls=_SmsGroup,
    help="SMS and commercial e-mail: content review, reply classification (MIIT Order 31). "
    "短信与商业电子邮件：内容审核、回复识别（工信部令第31号）。",
    no_args_is_help=True,
)

RULES_DIR_HELP = (
    f"Directory of extra keyword/pattern files (repeatable; adds to the built-ins and to ${RULES_DIR_ENV}). "
    "附加规则目录。"
)


class LineError(Exception):
    def __init__(self, code: str, en: str, zh: str) -> None:
        super().__init__(code)
        self.code, self.en, self.zh = code, en, zh


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(err: PiguardError) -> typer.Exit:
    from piguard.core.cli_render import render_error  # the root's one error shape, markup escaped

    render_error(err)
    return typer.Exit(err.exit_code)


def _rules(rules_dir: list[Path]) -> RuleSet:
    try:
        return load_rules(rules_dir)
    except PiguardError as err:
        raise _fail(err) from None


def _load_signatures(path: Path) -> dict[str, frozenset[str]]:
    """``{"content provider": ["签名", ...]}`` from a JSON or YAML file."""
    try:
        data = yamlfiles.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _fail(
            PiguardError(
                "validation_error",
                f"Cannot read signatures file {path}: {exc}",
                f"无法读取签名文件 {path}：{exc}",
            )
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, list | str) for k, v in data.items()
    ):
        raise _fail(
            PiguardError(
                "validation_error",
                f"{path} must map each content provider to a list of signatures.",
                f"{path} 须为“内容提供者: [签名, …]”的映射。",
            )
        )
    return {k: frozenset([v] if isinstance(v, str) else [str(s) for s in v]) for k, v in data.items()}


def _count_lines(stream: IO[bytes]) -> int:
    n = 0
    last = b"\n"
    while chunk := stream.read(1 << 20):
        n += chunk.count(b"\n")
        last = chunk[-1:]
    return n + (0 if last == b"\n" else 1)


def _lines(source: str) -> tuple[Iterator[bytes], int | None]:
    if source == "-":
        return iter(sys.stdin.buffer), None
    path = Path(source)
    if not path.is_file():
        raise _fail(
            PiguardError(
                "not_found",
                f"Input file {source!r} was not found.",
                f"未找到输入文件 {source!r}。",
                exit_code=2,
            )
        )

    def gen() -> Iterator[bytes]:
        with path.open("rb") as fh:
            yield from fh

    with path.open("rb") as fh:
        total = _count_lines(fh)
    return gen(), total


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int) and not isinstance(value, bool))


def _parse(raw: bytes, lineno: int, max_length: int) -> dict[str, Any]:
    if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LineError(
            "invalid_utf8", "The line is not valid UTF-8.", "该行不是有效的 UTF-8 编码。"
        ) from None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LineError(
            "invalid_json", f"The line is not JSON ({exc.msg}).", f"该行不是有效的 JSON（{exc.msg}）。"
        ) from None
    except RecursionError:
        raise LineError(
            "invalid_json", "The line is not JSON (nested too deeply).", "该行不是有效的 JSON（嵌套过深）。"
        ) from None
    if not isinstance(obj, dict):
        raise LineError("not_an_object", "The line must be a JSON object.", "该行必须是 JSON 对象。")
    if "id" in obj and not _valid_id(obj["id"]):
        raise LineError("invalid_id", "'id' must be a string or an integer.", "“id”必须是字符串或整数。")
    if "text" not in obj:
        raise LineError("missing_text", "The 'text' field is missing.", "缺少“text”字段。")
    text = obj["text"]
    if not isinstance(text, str):
        raise LineError("invalid_text", "'text' must be a string.", "“text”必须是字符串。")
    if not text.strip():
        raise LineError("empty_text", "The message text is empty.", "短信内容为空。")
    if len(text) > max_length:
        raise LineError(
            "text_too_long",
            f"The message text is longer than {max_length} characters.",
            f"短信内容超过 {max_length} 个字符。",
        )
    for key in ("sender", "content_provider"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise LineError("invalid_field", f"'{key}' must be a string.", f"“{key}”必须是字符串。")
    return obj


def _id_of(raw: bytes) -> Any:
    """The id of a line that failed, when it can still be read (never the text)."""
    try:
        obj = json.loads(raw.decode("utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError):
        return None
    if isinstance(obj, dict) and obj.get("id") is not None and _valid_id(obj["id"]):
        return obj["id"]
    return None


class _ReviewGroup(TyperGroup):
    """``piguard sms review FILE.jsonl`` reviews a batch as before; ``review train`` and ``review
    evaluate`` are sub-commands. Anything that is not a sub-command's name goes to ``batch``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["batch", *args]
        return super().parse_args(ctx, args)


review_app = typer.Typer(
    cls=_ReviewGroup,
    help="Content review: a batch of messages (FILE.jsonl), or train/evaluate a model on labelled "
    "messages. 内容审核：批量审核，或用标注数据训练、评估模型。",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")


@review_app.command("batch")
def review_command(
    file: str = typer.Argument(
        ...,
        help="JSONL file of {id, text, sender?, content_provider?}; '-' for stdin. "
        "输入文件，'-' 表示标准输入。",
    ),
    rules_dir: list[Path] = typer.Option([], "--rules-dir", help=RULES_DIR_HELP),
    signatures: Path | None = typer.Option(
        None,
        "--signatures",
        help="JSON/YAML file mapping content provider -> registered signatures; when given, each line's "
        "content_provider is checked against it (O31-21). 内容提供者登记签名文件。",
    ),
    channel: Channel = typer.Option(Channel.SMS, help="sms or email (NPC-7). 渠道：短信或电子邮件。"),
    require_signature: SignatureRequirement = typer.Option(
        SignatureRequirement.COMMERCIAL,
        help="commercial: O31-21 as written; all: every message signed. 签名要求：commercial 按第二十一条，all 为每条都须签名。",
    ),
    signature_position: SignaturePosition = typer.Option(
        SignaturePosition.START_OR_END, help="Where the signature must be. 签名须在的位置。"
    ),
    max_length: int = typer.Option(
        DEFAULT_MAX_LENGTH, min=1, help="Longest text accepted (characters). 接受的最大文本长度（字符）。"
    ),
    explain: bool = typer.Option(
        False,
        "--explain",
        help="Add signature, opt-out, signals and scores. 附加签名、退订方式、信号与得分。",
    ),
    progress: bool = typer.Option(
        True, "--progress/--no-progress", help="Progress bar on stderr. 在标准错误输出显示进度条。"
    ),
) -> None:
    """Review a batch of messages: one JSON line out per line in. 批量审核短信内容。"""
    rules = _rules(rules_dir)
    reviewer = reviewer_for(rules)
    registry = _load_signatures(signatures) if signatures is not None else None
    lines, total = _lines(file)
    base = ReviewContext(
        channel=channel,
        require_signature=require_signature,
        signature_position=signature_position,
        max_length=max_length,
    )
    contexts: dict[str | None, ReviewContext] = {None: base}
    stats: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    out = sys.stdout
    console = _stderr()
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]sms review"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not progress,
    ) as bar:
        task = bar.add_task("review", total=total)
        lineno = 0
        for lineno, raw in enumerate(lines, start=1):
            if not lineno % 256:
                bar.update(task, completed=lineno)
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            stats["lines"] += 1
            try:
                obj = _parse(raw, lineno, max_length)
            except LineError as err:
                stats["errors"] += 1
                record: dict[str, Any] = {
                    "id": _id_of(raw),
                    "line": lineno,
                    "error": {"code": err.code, "message": {"zh": err.zh, "en": err.en}},
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                continue
            provider: str | None = obj.get("content_provider")
            ctx = contexts.get(provider)
            if ctx is None:
                ctx = contexts[provider] = ReviewContext(
                    content_provider=provider,
                    signatures=None
                    if registry is None or provider is None
                    else registry.get(provider, frozenset()),
                    channel=channel,
                    require_signature=require_signature,
                    signature_position=signature_position,
                    max_length=max_length,
                )
            result = reviewer.review(obj["text"], ctx)
            stats[result.verdict.value] += 1
            kinds[result.kind.value] += 1
            categories.update(result.prohibited)
            out.write(
                json.dumps({"id": obj.get("id"), **result.to_dict(explain=explain)}, ensure_ascii=False)
                + "\n"
            )
        bar.update(task, completed=lineno)
    out.flush()
    elapsed = time.perf_counter() - started
    reviewed = stats["pass"] + stats["fail"]
    console.print(
        f"[bold]sms review[/]: {stats['lines']} lines, {reviewed} reviewed "
        f"(pass {stats['pass']}, fail {stats['fail']}), {stats['errors']} errors; "
        f"{reviewed / elapsed if elapsed > 0 else 0:.0f} msg/s"
    )
    console.print(
        f"  审核 {reviewed} 条：通过 {stats['pass']}，不通过 {stats['fail']}；错误行 {stats['errors']}"
    )
    if kinds:
        console.print("  kinds: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    if categories:
        console.print("  prohibited: " + ", ".join(f"{k} {n}" for k, n in categories.most_common()))
    if stats["errors"]:
        raise typer.Exit(1)


@app.command("classify-reply")
def classify_reply_command(
    text: str = typer.Argument(..., help="The reply text. 回复内容。"),
    pending_consent: bool = typer.Option(
        False,
        "--pending-consent",
        help="A consent request to this user awaits an answer (O31-18.2). 已向该用户发出同意请求，待其答复。",
    ),
    rules_dir: list[Path] = typer.Option([], "--rules-dir", help=RULES_DIR_HELP),
) -> None:
    """Classify an inbound reply: opt_out, consent_grant, consent_refusal, ambiguous or none. 识别用户回复。"""
    if not text.strip():
        raise _fail(
            PiguardError("validation_error", "The reply text is empty.", "回复内容为空。", exit_code=2)
        )
    result = classify_reply(text, pending_consent=pending_consent, rules=_rules(rules_dir))
    sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")


@app.command("rules")
def rules_command(
    rules_dir: list[Path] = typer.Option([], "--rules-dir", help=RULES_DIR_HELP),
    as_json: bool = typer.Option(
        False, "--json", help="JSON on stdout instead of a table. 以 JSON 输出而非表格。"
    ),
) -> None:
    """List the loaded keyword categories and their sizes. 列出已加载的关键词类别。"""
    rules = _rules(rules_dir)
    rows: list[dict[str, Any]] = [
        {
            "role": g.role,
            "name": g.name,
            "terms": len(g.terms) + len(g.contains),
            "context": len(g.context),
            "exempt": len(g.exempt),
            "patterns": len(g.patterns),
            "threshold": g.threshold,
            "articles": list(g.articles),
            "sources": list(g.sources),
        }
        for g in rules.groups
    ]
    verdicts: list[dict[str, Any]] = [
        {
            "name": v.name,
            "threshold": v.threshold,
            "weights": dict(v.weights),
            "require": list(v.require),
            "require_all": [list(g) for g in v.require_all],
            "distinct": v.distinct,
            "clear": list(v.clear),
            "articles": list(v.articles),
            "sources": list(v.sources),
        }
        for v in rules.verdicts.values()
    ]
    extras: dict[str, Any] = {
        "verdicts": verdicts,
        "generic_signatures": len(rules.generic_signatures),
        "variants": len(rules.variants),
        "replies": {k: len(v) for k, v in sorted(rules.replies.items())},
    }
    if as_json:
        sys.stdout.write(json.dumps({"groups": rows, **extras}, ensure_ascii=False) + "\n")
        return
    table = Table(title="SMS review rules / 短信审核规则")
    for col in ("role", "name", "terms", "context", "exempt", "patterns", "threshold", "articles"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["role"],
            r["name"],
            str(r["terms"]),
            str(r["context"]),
            str(r["exempt"]),
            str(r["patterns"]),
            f"{r['threshold']:g}",
            ", ".join(r["articles"]),
        )
    console = Console(highlight=False, width=max(Console().width, 120))
    console.print(table)
    vt = Table(title="Prohibited categories scored from signals / 按信号评分的禁止类别")
    for col in ("category", "threshold", "weights", "clear", "articles"):
        vt.add_column(col, overflow="fold")
    for v in verdicts:
        vt.add_row(
            v["name"],
            f"{v['threshold']:g}",
            ", ".join(f"{c} {w:g}" for c, w in v["weights"].items()),
            ", ".join(v["clear"]),
            ", ".join(v["articles"]),
        )
    console.print(vt)
    console.print(
        f"generic signatures: {extras['generic_signatures']}; variant characters: {extras['variants']}"
    )
    console.print("reply tables: " + ", ".join(f"{k} {n}" for k, n in extras["replies"].items()))
    console.print("sources: " + ", ".join(rules.sources))


def _label_map(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        src, sep, dst = p.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise _fail(
                PiguardError(
                    "validation_error",
                    f"--map takes LABEL=CATEGORY, not {p!r}.",
                    f"--map 的格式为 标签=类别，而不是 {p!r}。",
                )
            )
        out[src.strip()] = dst.strip()
    return out


MAP_HELP = "Rename a label before use, LABEL=CATEGORY (repeatable), e.g. --map 1=commercial --map 0=normal. 标签映射。"


@review_app.command("train")
def train_command(
    labelled: Path = typer.Argument(..., help="TSV file, label<TAB>text a line. 标注文件。"),
    out: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="Model file to write (NAME.model.json); put it in a rules directory to use it. 输出模型文件。",
    ),
    label_map: list[str] = typer.Option([], "--map", help=MAP_HELP),
    rules_dir: list[Path] = typer.Option([], "--rules-dir", help=RULES_DIR_HELP),
    margin: float = typer.Option(
        2.0,
        min=0.0,
        help="How far (log odds) ahead of normal a label must be to count. 标签须领先正常类别的幅度（对数几率）。",
    ),
) -> None:
    """Fit a character n-gram model on labelled messages (written atomically). 训练模型。"""
    from piguard.messaging.review.evaluate import categories_of
    from piguard.messaging.review.model import read_labelled, train, write_model

    rules = _rules(rules_dir)
    try:
        rows = read_labelled(labelled, categories_of(rules), _label_map(label_map))
        model = train(rows, rules.normalizer, categories_of(rules), margin=margin)
        write_model(model, out)
    except PiguardError as err:
        raise _fail(err) from None
    meta = model.meta or {}
    per = ", ".join(f"{k} {v}" for k, v in sorted(meta.get("per_label", {}).items()))
    sys.stderr.write(
        f"model written to {out}: {meta.get('rows', 0)} messages ({per}), {len(model.weights)} n-grams\n"
        f"模型已写入 {out}：{meta.get('rows', 0)} 条消息，{len(model.weights)} 个 n-gram\n"
    )


@review_app.command("evaluate")
def evaluate_command(
    labelled: Path = typer.Argument(..., help="TSV file, label<TAB>text a line. 标注文件。"),
    label_map: list[str] = typer.Option([], "--map", help=MAP_HELP),
    rules_dir: list[Path] = typer.Option([], "--rules-dir", help=RULES_DIR_HELP),
    max_length: int = typer.Option(
        DEFAULT_MAX_LENGTH, min=1, help="Longer texts are cut to this length. 超长文本截断至此长度。"
    ),
) -> None:
    """Precision, recall and F1 per category, and the confusion table. 评估：各类别精确率、召回率、F1 与混淆矩阵。"""
    from piguard.messaging.review.evaluate import categories_of, evaluate
    from piguard.messaging.review.model import read_labelled

    rules = _rules(rules_dir)
    try:
        rows = read_labelled(labelled, categories_of(rules), _label_map(label_map))
    except PiguardError as err:
        raise _fail(err) from None
    reviewer = reviewer_for(rules)
    report = evaluate(((label, text[:max_length]) for label, text in rows), reviewer, categories_of(rules))
    sys.stdout.write("\n".join(report.lines()) + "\n")
