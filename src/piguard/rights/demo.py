"""A demo "customer system": a second database (SQLite by default) with members and orders, mapped in
the inventory with a ``sql`` connector, and a few open requests of each kind (``make run``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine
from sqlalchemy.orm import Session

from piguard.audit.service import Actor

META = MetaData()
MEMBERS = Table(
    "members",
    META,
    Column("id", Integer, primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("phone", String(20)),
    Column("nickname", String(64)),
    Column("address", String(200)),
)
ORDERS = Table(
    "orders",
    META,
    Column("id", Integer, primary_key=True),
    Column("buyer_phone", String(20)),
    Column("item", String(100), nullable=False),
    Column("ship_to", String(200)),
)

SYSTEM_ID = "shop"


def make_customer_db(url: str, phones: list[str], *, schema: str | None = None) -> None:
    """Create the tables (if missing) and two members' worth of rows per phone."""
    eng = create_engine(url)
    meta = MetaData(schema=schema)
    members = MEMBERS.to_metadata(meta)
    orders = ORDERS.to_metadata(meta)
    meta.create_all(eng)
    with eng.begin() as conn:
        for i, p in enumerate(phones):
            conn.execute(
                members.insert().values(
                    user_id=f"u{i:05d}", phone=p, nickname=f"用户{i}", address=f"北京市海淀区{i}号"
                )
            )
            conn.execute(orders.insert().values(buyer_phone=p, item="话费充值", ship_to=f"北京市海淀区{i}号"))
            conn.execute(orders.insert().values(buyer_phone=p, item="流量包", ship_to=f"北京市海淀区{i}号"))
    eng.dispose()


def system_doc(
    url: str | None = None, *, url_env: str | None = None, schema: str | None = None
) -> dict[str, Any]:
    conn: dict[str, Any] = {"kind": "sql", "deidentify": ["orders"]}
    if url_env:
        conn["url_env"] = url_env
    else:
        conn["url"] = url
    if schema:
        conn["schema"] = schema
    return {
        "id": SYSTEM_ID,
        "name": "示例商城会员系统",
        "owner": "电商部",
        "location": "中国境内",
        "connector": conn,
        "tables": [
            {
                "name": "members",
                "subject_keys": {"phone": "phone", "account": "user_id"},
                "fields": [
                    {
                        "column": "phone",
                        "categories": ["phone_mobile"],
                        "purposes": ["service_provision"],
                        "necessity": "登录",
                        "retention": "until_cancellation",
                    },
                    {
                        "column": "nickname",
                        "categories": ["name"],
                        "purposes": ["service_provision"],
                        "necessity": "展示",
                        "retention": "until_cancellation",
                    },
                    {
                        "column": "address",
                        "categories": ["address"],
                        "purposes": ["service_provision"],
                        "necessity": "配送",
                        "retention": "until_cancellation",
                    },
                ],
            },
            {
                "name": "orders",
                "subject_keys": {"phone": "buyer_phone"},
                "fields": [
                    {
                        "column": "buyer_phone",
                        "categories": ["phone_mobile"],
                        "purposes": ["service_provision"],
                        "necessity": "联系",
                        "retention": "P3Y",
                    },
                    {
                        "column": "ship_to",
                        "categories": ["address"],
                        "purposes": ["service_provision"],
                        "necessity": "配送",
                        "retention": "P3Y",
                    },
                ],
            },
        ],
    }


def add_system(session: Session, system: dict[str, Any]) -> None:
    """Add (or replace) the customer system in the current inventory, or a minimal one if none."""
    from piguard.inventory import service as inventory
    from piguard.inventory.document import InventoryDoc

    if inventory.has_inventory(session):
        doc = inventory.export(session)
        doc["systems"] = [s for s in doc.get("systems", []) if s["id"] != system["id"]] + [system]
    else:
        doc = {
            "operator": {"name": "示例运营者", "contact": "privacy@example.cn"},
            "purposes": [{"id": "service_provision", "required": True}],
            "systems": [system],
        }
    inventory.apply(session, InventoryDoc.model_validate(doc), Actor.system("demo-loader"), source="demo")


def load_demo_requests(session: Session, url: str) -> None:
    """The customer system in the inventory and a few requests of each kind, left open (idempotent)."""
    from sqlalchemy import select

    from piguard.rights import service
    from piguard.rights.models import RightsRequest

    if session.scalars(select(RightsRequest).limit(1)).first() is not None:
        return
    phones = [f"1390000{i:04d}" for i in range(8)]
    make_customer_db(url, phones)
    add_system(session, system_doc(url))
    actor = Actor.system("demo-loader")
    for i, kind in enumerate(["access", "access", "correction", "deletion", "deletion", "cancellation"]):
        changes = {"nickname": "新昵称"} if kind == "correction" else None
        service.open_request(session, kind=kind, subject=f"phone:{phones[i]}", actor=actor, changes=changes)
