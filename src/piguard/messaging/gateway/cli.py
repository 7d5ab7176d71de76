"""Gateway commands on ``piguard sms``: ``send``, ``check``, ``inbound``, ``registry …``.

Mounted on ``piguard sms`` by ``SMS_COMMANDS`` in ``messaging/cli.py`` (imported only when run).
Output is one JSON object per message (``--format json``) or a short table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from piguard.core.db import unit_of_work
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.identity.principal import system_principal
from piguard.messaging import service
from piguard.messaging.gateway.decision import GatewayRequest
from piguard.messaging.registry import service as registry

registry_app = typer.Typer(
    help="Gateway registry: providers, content providers, signatures, templates, ports, suspension. 短信网关登记。",
    no_args_is_help=True,
)

_CLI = system_principal("cli")


def _requests(
    file: Path | None,
    sender: str | None,
    to: str | None,
    text: str | None,
    channel: str,
    kind: str | None,
    message_type: str | None,
) -> list[GatewayRequest]:
    if file is None:
        if not (sender and to and text is not None):
            raise validation_error(
                [FieldError("sender/to/text", "give --sender, --to and --text, or --file")]
            )
        return [GatewayRequest(channel, sender, to, text, kind, message_type)]
    stream = sys.stdin if str(file) == "-" else file.open(encoding="utf-8")
    out: list[GatewayRequest] = []
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if not isinstance(d, dict):
                raise ValueError
        except ValueError:
            d = {"channel": channel, "sender": "", "recipient": "", "text": "", "client_ref": f"line:{n}"}
        out.append(
            GatewayRequest(
                str(d.get("channel", channel)),
                str(d.get("sender", "")),
                str(d.get("recipient", d.get("to", ""))),
                d.get("text", ""),
                d.get("kind"),
                d.get("message_type"),
                d.get("campaign_id"),
                str(d.get("client_ref") or d.get("id") or f"line:{n}"),
                template_id=d.get("template_id"),  # not an int: decided as "template_not_approved"
            )
        )
    return out


def _print(results: list[Any], fmt: str) -> int:
    failed = 0
    console = Console(highlight=False)
    for r in results:
        d = r.to_dict()
        failed += bool(r.error)
        if fmt == "json":
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
        elif r.error:
            console.print(
                f"[red]error[/] #{r.index}: {r.error.message_en} / {r.error.message_zh} {[f.field for f in r.error.fields]}"
            )
        else:
            codes = ", ".join(
                f"{x.code} ({'/'.join(x.obligations)})"
                for x in r.reasons
                if x.code not in ("sender_registered", "message_kind")
            )
            console.print(f"#{r.index} [bold]{r.outcome}[/] {r.kind or ''} {r.ref or ''} {codes}")
    return 1 if failed else 0


def _run(
    dry_run: bool,
    file: Path | None,
    sender: str | None,
    to: str | None,
    text: str | None,
    channel: str,
    kind: str | None,
    message_type: str | None,
    fmt: str,
) -> None:
    reqs = _requests(file, sender, to, text, channel, kind, message_type)
    with unit_of_work() as session:
        results = service.submit(session, reqs, principal=_CLI, dry_run=dry_run)
    raise typer.Exit(_print(results, fmt))


_FILE = typer.Option(
    None,
    "--file",
    help="JSONL of {sender, recipient, text, kind?, message_type?, client_ref?, template_id?}; - for stdin. "
    "JSONL 批量输入，- 为标准输入。",
)
_FMT = typer.Option("text", "--format", help="text or json. 输出格式。")


def send_command(
    file: Path | None = _FILE,
    sender: str | None = typer.Option(None, "--sender", help="Port code (+ extension). 端口号（含扩展码）。"),
    to: str | None = typer.Option(None, "--to", help="Recipient address. 接收方号码或地址。"),
    text: str | None = typer.Option(None, "--text"),
    channel: str = typer.Option("sms", "--channel"),
    kind: str | None = typer.Option(None, "--kind"),
    message_type: str | None = typer.Option(
        None, "--type", help="Consent type of a commercial message. 商业性消息的同意类型。"
    ),
    fmt: str = _FMT,
) -> None:
    """Decide, record and queue messages (exit 1 when an item had an input error). 发送短信（经网关检查）。"""
    _run(False, file, sender, to, text, channel, kind, message_type, fmt)


def check_command(
    file: Path | None = _FILE,
    sender: str | None = typer.Option(None, "--sender"),
    to: str | None = typer.Option(None, "--to"),
    text: str | None = typer.Option(None, "--text"),
    channel: str = typer.Option("sms", "--channel"),
    kind: str | None = typer.Option(None, "--kind"),
    message_type: str | None = typer.Option(None, "--type"),
    fmt: str = _FMT,
) -> None:
    """Decide without sending or recording. 仅检查，不发送。"""
    _run(True, file, sender, to, text, channel, kind, message_type, fmt)


def inbound_command(
    sender: str = typer.Option(..., "--from", help="The replying user's address. 回复用户的号码或地址。"),
    to: str = typer.Option(
        ..., "--to", help="Port code (+ extension) replied to. 被回复的端口号（含扩展码）。"
    ),
    text: str = typer.Option(..., "--text"),
    channel: str = typer.Option("sms", "--channel"),
) -> None:
    """Handle a reply (opt-out ends consent at once). 处理用户回复。"""
    with unit_of_work() as session:
        res = service.receive_reply(session, channel=channel, sender=sender, to=to, text=text, principal=_CLI)
    sys.stdout.write(json.dumps(res.to_dict(), ensure_ascii=False) + "\n")


@registry_app.command("list")
def registry_list() -> None:
    """Service providers, content providers and ports. 列出登记信息。"""
    from piguard.messaging.registry.views import cp_dict, port_dict, sp_dict

    with unit_of_work() as session:
        out = {
            "providers": [sp_dict(s) for s in registry.list_service_providers(session)],
            "content_providers": [cp_dict(c) for c in registry.list_content_providers(session)],
            "ports": [port_dict(p) for p in registry.list_ports(session)],
        }
    sys.stdout.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")


@registry_app.command("add-provider")
def add_provider(
    name: str = typer.Option(...),
    licence: str = typer.Option(..., "--licence"),
    access_code: list[str] = typer.Option([], "--access-code"),
    location: str = typer.Option("", "--location"),
) -> None:
    """Register a licensed SMS service provider (O31-6, O31-7). 登记持证的短信服务提供者。"""
    with unit_of_work() as session:
        sp = registry.create_service_provider(
            session,
            name=name,
            licence_number=licence,
            access_codes=access_code,
            access_location=location,
            principal=_CLI,
        )
        typer.echo(json.dumps({"id": sp.id}))


@registry_app.command("add-content-provider")
def add_cp(
    code: str = typer.Option(...),
    name: str = typer.Option(...),
    provider: int = typer.Option(..., "--provider"),
    identity_type: str = typer.Option("uscc", "--identity-type"),
    identity_number: str = typer.Option(..., "--identity-number"),
    verified: bool = typer.Option(
        False, "--verified", help="The identity was checked (O31-12) 已核验真实身份"
    ),
    signature: list[str] = typer.Option(
        [],
        "--signature",
        help="Submit a signature for review (repeatable; see review-signature) 提交签名待审核（可重复）",
    ),
) -> None:
    """Register a content provider with its real identity (O31-12) and submit its signatures.
    登记内容提供者及其真实身份信息，并提交其签名。"""
    with unit_of_work() as session:
        cp = registry.create_content_provider(
            session,
            code=code,
            name=name,
            service_provider_id=provider,
            identity_type=identity_type,
            identity_number=identity_number,
            principal=_CLI,
        )
        if verified:
            registry.verify_content_provider(session, code, principal=_CLI)
        sigs = [registry.add_signature(session, code, s, principal=_CLI).id for s in signature]
        typer.echo(
            json.dumps({"id": cp.id, "identity": cp.identity_masked, "signatures": sigs}, ensure_ascii=False)
        )


def _echo(d: dict[str, Any] | list[dict[str, Any]]) -> None:
    sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")


_DECISION = typer.Option(..., "--decision", help="approved or rejected 审核结果：通过或驳回")
_EVIDENCE = typer.Option(
    ..., "--evidence", help="What the decision rests on (kept with the review) 审核依据（随审核记录保存）"
)


@registry_app.command("add-signature")
def add_signature_command(
    content_provider: str = typer.Argument(..., help="Content provider code 内容提供者代码"),
    text: str = typer.Argument(..., help="The signature, with or without 【】 签名（可带或不带【】）"),
) -> None:
    """Submit a signature for review (O31-21): one signature belongs to one content provider.
    提交签名待审核：一个签名只属于一个内容提供者。"""
    from piguard.messaging.registry.views import signature_dict

    with unit_of_work() as session:
        _echo(signature_dict(registry.add_signature(session, content_provider, text, principal=_CLI)))


@registry_app.command("signatures")
def signatures_command(
    content_provider: str = typer.Argument(..., help="Content provider code 内容提供者代码"),
) -> None:
    """A content provider's signatures and their review status. 内容提供者的签名及其审核状态。"""
    from piguard.messaging.registry.views import signature_dict

    with unit_of_work() as session:
        _echo([signature_dict(s) for s in registry.list_signatures(session, content_provider)])


@registry_app.command("review-signature")
def review_signature_command(
    signature_id: str = typer.Argument(..., help="Signature id (see `sms registry signatures`) 签名编号"),
    decision: str = _DECISION,
    evidence: str = _EVIDENCE,
) -> None:
    """Approve or reject a signature, with the evidence (O31-21, O31-12); only approved ones send.
    审核签名（通过或驳回，附证据）；仅审核通过的签名可用于发送。"""
    from piguard.messaging.registry.views import signature_dict

    with unit_of_work() as session:
        s = registry.review_signature(
            session, signature_id, decision=decision, evidence=evidence, principal=_CLI
        )
        _echo(signature_dict(s))


@registry_app.command("templates")
def templates_command(
    content_provider: str | None = typer.Option(None, "--content-provider"),
) -> None:
    """Message templates and their review status. 短信模板及其审核状态。"""
    from piguard.messaging.registry.views import template_dict

    with unit_of_work() as session:
        _echo([template_dict(t) for t in registry.list_templates(session, content_provider)])


@registry_app.command("add-template")
def add_template_command(
    content_provider: str = typer.Option(..., "--content-provider"),
    name: str = typer.Option(..., "--name"),
    text: str = typer.Option(
        ..., "--text", help="Message text; {name} marks a placeholder 模板文本；{name} 表示占位符"
    ),
    kind: str = typer.Option(..., "--kind", help="verification_code, notification, commercial, … 短信类型"),
) -> None:
    """Submit a message template with its kind for review. 提交短信模板及其类型待审核。"""
    from piguard.messaging.registry.views import template_dict

    with unit_of_work() as session:
        t = registry.create_template(
            session, content_provider=content_provider, name=name, text=text, kind=kind, principal=_CLI
        )
        _echo(template_dict(t))


@registry_app.command("update-template")
def update_template_command(
    template_id: str = typer.Argument(...),
    name: str | None = typer.Option(None, "--name"),
    text: str | None = typer.Option(None, "--text"),
    kind: str | None = typer.Option(None, "--kind"),
) -> None:
    """Change a template; a new text or kind goes back to review. 修改模板；文本或类型变更后须重新审核。"""
    from piguard.messaging.registry.views import template_dict

    with unit_of_work() as session:
        t = registry.update_template(session, template_id, name=name, text=text, kind=kind, principal=_CLI)
        _echo(template_dict(t))


@registry_app.command("delete-template")
def delete_template_command(template_id: str = typer.Argument(...)) -> None:
    """Delete a template. 删除模板。"""
    with unit_of_work() as session:
        registry.delete_template(session, template_id, principal=_CLI)
    typer.echo("deleted")


@registry_app.command("review-template")
def review_template_command(
    template_id: str = typer.Argument(...),
    decision: str = _DECISION,
    evidence: str = _EVIDENCE,
) -> None:
    """Approve or reject a template, with the evidence (O31-19, O31-21). 审核模板（通过或驳回，附证据）。"""
    from piguard.messaging.registry.views import template_dict

    with unit_of_work() as session:
        t = registry.review_template(
            session, template_id, decision=decision, evidence=evidence, principal=_CLI
        )
        _echo(template_dict(t))


@registry_app.command("add-port")
def add_port(
    code: str = typer.Option(...),
    port_type: str = typer.Option(
        ..., "--type", help="business_service, commercial or public_welfare 端口类型：业务、商业或公益"
    ),
    content_provider: str = typer.Option(..., "--content-provider"),
    channel: str = typer.Option("sms", "--channel"),
    ext_from: str | None = typer.Option(None, "--extension-from"),
    ext_to: str | None = typer.Option(None, "--extension-to"),
    scope: str = typer.Option("", "--scope"),
) -> None:
    """Register a port with its approved type and scope (O31-13, O31-19). 登记端口及其批准的类型与使用范围。"""
    with unit_of_work() as session:
        p = registry.create_port(
            session,
            code=code,
            port_type=port_type,
            content_provider=content_provider,
            channel=channel,
            approved_scope=scope,
            extension_from=ext_from,
            extension_to=ext_to,
            principal=_CLI,
        )
        typer.echo(json.dumps({"id": p.id}))


@registry_app.command("suspend")
def suspend(
    target: str = typer.Argument(
        ..., help="content provider code, or port:<id> 内容提供者代码，或 port:<编号>"
    ),
    reason: str = typer.Option(..., "--reason"),
    obligation: list[str] = typer.Option(["O31-23"], "--obligation"),
    resume: bool = typer.Option(False, "--resume"),
) -> None:
    """Suspend (or --resume) a content provider or a port (O31-23, O24-14.2, O31-28).
    暂停（或以 --resume 恢复）内容提供者或端口。"""
    kind, key = ("port", target[5:]) if target.startswith("port:") else ("content_provider", target)
    with unit_of_work() as session:
        try:
            registry.set_suspension(
                session,
                target_type=kind,
                key=key,
                suspended=not resume,
                reason=reason,
                obligations=obligation,
                principal=_CLI,
            )
        except ValueError:
            raise validation_error([FieldError("target", "port:<id> with a numeric id")]) from None
    typer.echo("resumed" if resume else "suspended")


@registry_app.command("lottery-licence")
def lottery_licence(
    content_provider: str = typer.Argument(..., help="Content provider code 内容提供者代码"),
    licence: str | None = typer.Option(
        None, "--licence", help="The lottery issuing body's authorisation number 彩票发行机构的授权编号"
    ),
    withdraw: bool = typer.Option(False, "--withdraw", help="Remove the licence on record 撤销登记的许可"),
) -> None:
    """Record a content provider's lottery licence (its lottery results are then not gambling:
    clearance licensed_lottery; O31-16), or --withdraw it.
    登记内容提供者的彩票发行机构授权（其开奖信息即不按赌博信息处理），或以 --withdraw 撤销。"""
    if (licence is None) == (not withdraw):
        raise validation_error([FieldError("licence", "give --licence NUMBER or --withdraw, not both")])
    with unit_of_work() as session:
        cp = registry.record_lottery_licence(session, content_provider, licence, principal=_CLI)
        licensed = cp.lottery_licence is not None
    _echo({"content_provider": content_provider, "lottery_licensed": licensed})


__all__ = ["PiguardError"]


def consents_command(
    content_provider: str | None = typer.Option(None, "--content-provider"),
    recipient: str | None = typer.Option(
        None, "--recipient", help="A number (hashed, never stored) 号码（仅以哈希使用，不存储）"
    ),
    recipient_hash: str | None = typer.Option(None, "--recipient-hash"),
    channel: str = typer.Option("sms", "--channel"),
    status: str | None = typer.Option(None, "--status", help="active or ended 状态：有效或已终止"),
    limit: int = typer.Option(100, "--limit"),
) -> None:
    """The consent ledger, one JSON object a line (numbers masked). 用户同意台账。"""
    from piguard.messaging.subscriptions import consent

    with unit_of_work() as session:
        cp_id = registry.get_content_provider(session, content_provider).id if content_provider else None
        q = consent.LedgerQuery(cp_id, recipient, recipient_hash, channel, status, limit=limit)
        for c in consent.list_consents(session, q):
            sys.stdout.write(json.dumps(consent.consent_to_dict(c), ensure_ascii=False) + "\n")


def events_command(
    content_provider: str | None = typer.Option(None, "--content-provider"),
    recipient: str | None = typer.Option(
        None, "--recipient", help="A number (hashed, never stored) 号码（仅以哈希使用，不存储）"
    ),
    recipient_hash: str | None = typer.Option(None, "--recipient-hash"),
    channel: str = typer.Option("sms", "--channel"),
    event: str | None = typer.Option(
        None, "--event", help="subscribed, unsubscribed, refused, expired 事件：订阅、退订、拒绝、过期"
    ),
    limit: int = typer.Option(100, "--limit"),
) -> None:
    """Subscription-status events, one JSON object a line (O31-11). 订阅退订状态记录。"""
    from piguard.messaging.subscriptions import consent

    with unit_of_work() as session:
        cp_id = registry.get_content_provider(session, content_provider).id if content_provider else None
        q = consent.LedgerQuery(cp_id, recipient, recipient_hash, channel, event, limit=limit)
        for e in consent.list_events(session, q):
            sys.stdout.write(json.dumps(consent.event_to_dict(e), ensure_ascii=False) + "\n")
