"""Identity API: console login/logout, who am I, personal API tokens, staff administration."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from piguard.core.deps import client_ip, db_session
from piguard.core.errors import PiguardError, not_found
from piguard.identity import service
from piguard.identity.deps import (
    SESSION_COOKIE,
    clear_session_cookie,
    current_principal,
    login,
    require_action,
    set_session_cookie,
    terminal_of,
)
from piguard.identity.models import ApiToken
from piguard.identity.principal import Principal
from piguard.identity.schemas import (
    LoginIn,
    PrincipalOut,
    StaffIn,
    StaffOut,
    StaffPatch,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
)

router = APIRouter(tags=["identity"])

#: a row id as a path parameter: bounded, so no backend overflows on a huge number
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


# ------------------------------------------------------------------------------------- auth


@router.post(
    "/api/auth/login",
    response_model=PrincipalOut,
    summary="Console login: sets the session cookie / 控制台登录",
    responses={401: {"description": "wrong username or password"}, 429: {"description": "rate limited"}},
)
def post_login(
    body: LoginIn,
    request: Request,
    response: Response,
    session: Session = Depends(db_session, scope="function"),
) -> PrincipalOut | JSONResponse:
    try:
        principal, cookie = login(session, request, body.username, body.password)
    except PiguardError as err:
        wait = service.retry_after_seconds(err)
        if wait is None:
            raise
        return JSONResponse(err.to_dict(), status_code=err.http_status, headers={"Retry-After": str(wait)})
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # a new login replaces the session this browser had
        service.end_session(session, previous, client_ip=client_ip(request), reason="replaced")
    set_session_cookie(response, cookie)
    return PrincipalOut.of(principal)


@router.post("/api/auth/logout", summary="End the console session / 退出登录")
def post_logout(
    request: Request, response: Response, session: Session = Depends(db_session, scope="function")
) -> dict[str, bool]:
    cookie = request.cookies.get(SESSION_COOKIE)
    ended = bool(cookie) and service.end_session(
        session, cookie or "", client_ip=client_ip(request), terminal=terminal_of(request)
    )
    clear_session_cookie(response)
    return {"logged_out": ended}


@router.get("/api/auth/me", response_model=PrincipalOut, summary="Who am I / 当前身份")
def get_me(principal: Principal = Depends(current_principal)) -> PrincipalOut:
    return PrincipalOut.of(principal)


# ----------------------------------------------------------------------------------- tokens


@router.get(
    "/api/auth/tokens", response_model=list[TokenOut], summary="My API tokens (no secrets) / 我的令牌"
)
def get_tokens(
    principal: Principal = Depends(require_action("token.self")),
    session: Session = Depends(db_session, scope="function"),
) -> list[TokenOut]:
    staff = service.get_staff(session, principal.staff_id or 0)
    return [TokenOut.of(t) for t in service.list_tokens(session, staff)]


@router.post(
    "/api/auth/tokens",
    response_model=TokenCreatedOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API token for myself (shown once) / 创建个人 API 令牌",
)
def post_token(
    body: TokenIn,
    principal: Principal = Depends(require_action("token.self")),
    session: Session = Depends(db_session, scope="function"),
) -> TokenCreatedOut:
    staff = service.get_staff(session, principal.staff_id or 0)
    plaintext, row = service.issue_token(
        session,
        staff,
        body.scopes,
        timedelta(days=body.expires_in_days),
        name=body.name,
        by=principal,
        content_provider=body.content_provider,
    )
    return TokenCreatedOut(**TokenOut.of(row).model_dump(), token=plaintext)


@router.delete("/api/auth/tokens/{token_id}", response_model=TokenOut, summary="Revoke a token / 撤销令牌")
def delete_token(
    token_id: RowId,
    principal: Principal = Depends(require_action("token.self")),
    session: Session = Depends(db_session, scope="function"),
) -> TokenOut:
    row = session.get(ApiToken, token_id)
    # someone else's token looks like a missing one, unless you administer accounts
    if row is None or (
        row.staff_id != principal.staff_id and not service.decide_access(principal, "staff.manage").allowed
    ):
        raise not_found("API token", "API 令牌", str(token_id))
    return TokenOut.of(service.revoke_token(session, row, by=principal))


# ------------------------------------------------------------------------------------ staff


@router.get("/api/staff", response_model=list[StaffOut], summary="Staff and agent accounts / 人员账号列表")
def get_staff_list(
    include_inactive: bool = True,
    _p: Principal = Depends(require_action("staff.read")),
    session: Session = Depends(db_session, scope="function"),
) -> list[StaffOut]:
    return [StaffOut.of(s) for s in service.list_staff(session, include_inactive=include_inactive)]


@router.get("/api/staff/{staff_id}", response_model=StaffOut, summary="One account / 人员账号")
def get_staff_one(
    staff_id: RowId,
    _p: Principal = Depends(require_action("staff.read")),
    session: Session = Depends(db_session, scope="function"),
) -> StaffOut:
    return StaffOut.of(service.get_staff(session, staff_id))


@router.post(
    "/api/staff",
    response_model=StaffOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a staff or agent account (admin) / 创建人员账号",
)
def post_staff(
    body: StaffIn,
    principal: Principal = Depends(require_action("staff.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> StaffOut:
    staff = service.create_staff(
        session,
        username=body.username,
        password=body.password,
        roles=body.roles,
        display_name=body.display_name,
        kind=body.kind,
        agent_org=body.agent_org,
        access_expires_at=body.access_expires_at,
        by=principal,
    )
    return StaffOut.of(staff)


@router.patch(
    "/api/staff/{staff_id}",
    response_model=StaffOut,
    summary="Change roles, details, password; deactivate or reactivate (admin) / 修改人员账号",
)
def patch_staff(
    staff_id: RowId,
    body: StaffPatch,
    principal: Principal = Depends(require_action("staff.manage")),
    session: Session = Depends(db_session, scope="function"),
) -> StaffOut:
    staff = service.get_staff(session, staff_id)
    given = body.model_fields_set
    if body.active is True:
        service.reactivate(session, staff, by=principal)
    if body.roles is not None:
        service.set_roles(session, staff, body.roles, by=principal)
    details = {k: getattr(body, k) for k in ("display_name", "agent_org", "access_expires_at") if k in given}
    if details:
        service.update_staff(session, staff, by=principal, **details)
    if body.password is not None:
        service.set_password(session, staff, body.password, by=principal)
    if body.active is False:
        service.deactivate(session, staff, by=principal)
    return StaffOut.of(staff)
