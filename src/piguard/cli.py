"""Typer root: mounts each domain's sub-commands from ``DOMAIN_COMMANDS``, imported only when run.

``piguard --help`` lists every command from the list without importing any domain, so it starts in
a fraction of a second; ``piguard sms check …`` imports what ``check`` needs and nothing else (see
``core/cli_lazy.py`` and ``bench/cli_start.py``).

Errors come out in the one error shape (code, zh/en message, obligation ids) on stderr; no traces.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from piguard.core.cli_lazy import LazyEntry, LazyTyperGroup
from piguard.core.errors import PiguardError

# (command name, module exposing a Typer ``app`` or a single ``command`` function, the help listed
# by ``piguard --help``: the module's own first paragraph, checked by tests/core/test_cli_lazy.py).
# Modules not written yet are skipped; a module is imported only when its command runs.
DOMAIN_COMMANDS: list[LazyEntry] = [
    (
        "rules",
        "piguard.regulations.cli",
        "Obligations, article texts, dated parameters and the rules matrix. / 义务、条文、法定参数与对照矩阵。",
    ),
    (
        "calendar",
        "piguard.core.calendar_cli",
        "China working-day calendar and statutory deadlines. / 中国法定工作日历与法定期限。",
    ),
    ("db", "piguard.core.db_cli", "Database schema (Alembic migrations). / 数据库结构迁移。"),
    (
        "keys",
        "piguard.keys_cli",
        "Field-encryption keys (O24-10): status, rotate (resumable re-encryption). / 字段加密密钥：状态、轮换。",
    ),
    (
        "audit",
        "piguard.oversight.audit_cli",
        "Tamper-evident audit log (O24-13.6): verify, search, checkpoint, retire. / 防篡改审计日志：校验、查询、检查点、归档。",
    ),
    (
        "staff",
        "piguard.identity.cli",
        "Staff and agent accounts, roles, API tokens. / 人员与代理账号、角色、API 令牌。",
    ),
    (
        "scan",
        "piguard.discovery.cli",
        "Scan PATH... (files or folders), --jsonl FILE, or --db URL for personal information. / 扫描文件、JSONL 或数据库中的个人信息。",
    ),
    (
        "mask",
        "piguard.discovery.mask_cli",
        "De-identify personal information; k-anonymity check. / 个人信息去标识化。",
    ),
    (
        "inventory",
        "piguard.inventory.cli",
        "Inventory of personal information and the published rules (O24-5, O24-8). 个人信息清单与收集使用规则。",
    ),
    (
        "consent",
        "piguard.consent.cli",
        "Consent ledger and use decisions (O24-9.1, CSL-41). / 同意记录与使用决定。",
    ),
    (
        "policy",
        "piguard.inventory.lint_cli",
        "Privacy-policy checks (MIIT Order 24 Art. 8, 9, 12; CSL 41-43). / 隐私政策检查。",
    ),
    (
        "sms",
        "piguard.messaging.cli",
        "SMS and commercial e-mail: content review, reply classification (MIIT Order 31). "
        "短信与商业电子邮件：内容审核、回复识别（工信部令第31号）。",
    ),
    (
        "cases",
        "piguard.cases.cli",
        "Complaints, requests and incidents on statutory clocks (O24-12, O31-27). / 投诉、请求与事件案件及其法定期限。",
    ),
    (
        "incidents",
        "piguard.cases.incident_cli",
        "Incidents: leak, damage, loss or risk of it; report, notices, suspension (O24-14, CSL-42.2). "
        "/ 个人信息安全事件：补救、报告、告知、暂停。",
    ),
    (
        "agents",
        "piguard.oversight.cli:agents_app",
        "Agent register: outsourced firms, contracts, scope, assessments (O24-11). / 代理商登记。",
    ),
    (
        "training",
        "piguard.oversight.cli:training_app",
        "Staff training: courses, completions, expiry (O24-15). / 人员培训：课程、完成记录、有效期。",
    ),
    (
        "responsibilities",
        "piguard.oversight.reviews_cli:responsibilities_app",
        "Responsibility register: PI-protection lead, system, category and branch owners (O24-13.1). "
        "/ 责任登记：个人信息保护负责人及系统、类别、分支机构负责人。",
    ),
    (
        "access-reviews",
        "piguard.oversight.reviews_cli:access_reviews_app",
        "Access reviews: periodic campaigns, owners confirm or revoke each access (O24-13.5). "
        "/ 访问权限定期复核。",
    ),
    (
        "media",
        "piguard.oversight.reviews_cli:media_app",
        "Storage-media register: custody and witnessed destruction (O24-13.4). / 存储介质登记：保管与见证销毁。",
    ),
    (
        "rights",
        "piguard.rights.cli",
        "End users' requests: access, correction, deletion, account cancellation (O24-9.2, O24-9.4, CSL-43, NPC-8). / 用户查询、更正、删除、注销请求。",
    ),
    (
        "bulk",
        "piguard.oversight.bulk_cli",
        "Bulk export, copy and destruction under maker-checker review (O24-13.3). / 批量导出、复制、销毁的双人审批。",
    ),
    (
        "oversight",
        "piguard.oversight.inspection_cli",
        "Self-inspection (O24-16), findings, exposure (O24-22) and the evidence bundle (O24-17). / 自查、问题整改、风险视图与证据包。",
    ),
    (
        "serve",
        "piguard.serve_cli",
        "Serve the REST API (/docs) and the console (/console). / 启动 REST API 与控制台。",
    ),
    (
        "demo",
        "piguard.demo_cli",
        "Set up the embedded SQLite database with demo data and serve the console. / 建立内置演示数据库并启动控制台。",
    ),
    (
        "worker",
        "piguard.worker",
        "Run scheduled jobs: consent-request expiry (O31-18.2), record partitions and retention (O31-11), "
        "early warning (O31-22). 运行定时任务：同意请求过期、记录分区维护与保存期限清理、预警。",
    ),
]


class _PiguardGroup(LazyTyperGroup):
    """Renders a PiguardError from any sub-command in the one error shape, with its exit code,
    whether piguard runs as a program or under a test runner."""

    lazy_commands = DOMAIN_COMMANDS

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except PiguardError as err:
            _render(err, ctx)
        except Exception as exc:
            if not _is_database_error(exc):
                from piguard.core.errors import cli_input_error

                mapped = cli_input_error(exc)
                if mapped is None:
                    raise
                _render(mapped, ctx)
            # A database that is unreachable or not migrated: say what to do, never show SQL
            # (statements may carry parameters, i.e. personal information).
            from piguard.core.errors import database_unavailable

            _render(database_unavailable(exc), ctx)


def _render(err: PiguardError, ctx: typer.Context) -> NoReturn:
    from piguard.core.cli_render import render_error  # Rich is imported only when there is an error

    render_error(err, as_json=_wants_json(ctx))
    ctx.exit(err.exit_code)


def _is_database_error(exc: Exception) -> bool:
    """An unreachable or unmigrated database; SQLAlchemy is not imported for commands that never
    touch it (if it was never imported, the error cannot be one of its)."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    return sa_exc is not None and isinstance(exc, sa_exc.OperationalError | sa_exc.ProgrammingError)


def _wants_json(ctx: typer.Context) -> bool:
    args = list(getattr(ctx, "protected_args", []) or []) + list(ctx.args or [])
    args += sys.argv[1:]
    return any(a in ("--format=json", "--format=jsonl") for a in args) or any(
        a == "--format" and i + 1 < len(args) and args[i + 1] in ("json", "jsonl") for i, a in enumerate(args)
    )


app = typer.Typer(
    cls=_PiguardGroup,
    name="piguard",
    help="piguard: user personal-information protection (MIIT Orders 24/31, Cybersecurity Law). "
    "/ 用户个人信息保护（工信部令第24号、第31号，网络安全法）。",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    # A callback makes the root a group while every command is mounted lazily.
    pass


def main() -> None:
    app()


if __name__ == "__main__":
    main()
