"""Column classification of database tables (issue 12, item 5): per column the category, the share
of sampled values that match, the number of cells and a confidence; masked columns (138****5678)
reported as masked, not as PI in clear. On SQLite and, when PIGUARD_TEST_POSTGRES_URL is set,
PostgreSQL (its own schema, reached through the URL as a user would give it)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text
from tests.conftest import POSTGRES_URL
from typer.testing import CliRunner

from piguard.cli import app
from piguard.core import db
from piguard.discovery.deid import mask_value
from piguard.discovery.masked import is_masked, masked_category
from piguard.discovery.scanners import scan_database
from piguard.discovery.synth import Synth

pytestmark = pytest.mark.obligation("O24-4", "O24-5", "O24-10")
runner = CliRunner()
ROWS = 300


def _fill(url: str) -> None:
    engine = db.make_engine(url)
    md = MetaData()
    names = ["mobile", "mobile_clear", "phone_mixed", "cust_name", "id_no", "email", "card_no", "pwd"]
    t = Table(
        "customers",
        md,
        Column("id", Integer, primary_key=True),
        *(Column(n, String(200)) for n in names),
        Column("order_no", String(40)),
        Column("amount", String(20)),
        Column("memo", String(200)),
    )
    md.create_all(engine)
    s = Synth(5)
    rng = random.Random(9)
    rows = []
    for i in range(ROWS):
        mobile = s.mobile_digits()
        rows.append(
            {
                "mobile": mask_value(s.mobile_digits(), "phone_mobile"),  # 138****5678
                "mobile_clear": mobile,
                # seven in ten masked, the rest left in clear: a masking job that stopped half way
                "phone_mixed": mask_value(mobile, "phone_mobile") if i % 10 < 7 else mobile,
                "cust_name": mask_value(s.name(), "name"),  # 张*
                "id_no": mask_value(s.id_card(), "id_card"),
                "email": mask_value(s.email(), "email"),
                "card_no": mask_value(s.bank_card(), "bank_card"),
                "pwd": "******",
                # hard negatives: masked-looking order numbers, amounts, free text
                "order_no": f"2024{rng.randrange(10**4):04d}****{rng.randrange(10**4):04d}",
                "amount": f"{rng.random() * 999:.2f}",
                "memo": rng.choice(["加急", "普通件", "请尽快发货", "*急*"]),
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(t), rows)
    engine.dispose()


@pytest.fixture()
def crm_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'crm.db'}"
        _fill(url)
        yield url
        return
    schema = f"scan_{uuid.uuid4().hex[:10]}"
    admin = db.make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    try:
        _fill(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_masked_shapes() -> None:
    s = Synth(3)
    for _ in range(50):
        for value, cat in (
            (s.mobile_digits(), "phone_mobile"),
            (s.id_card(), "id_card"),
            (s.bank_card(), "bank_card"),
            (s.email(), "email"),
            (s.name(), "name"),
            (s.ipv4(), "ip_address"),
        ):
            m = mask_value(value, cat)
            hint = cat if len(value) == 18 and cat == "bank_card" else None  # see below
            assert is_masked(m) and masked_category(m, hint) == cat, (m, cat)
            assert masked_category(value) is None  # a value in clear is no masked value
    # 18 characters, ungrouped: an ID unless the column's name says card
    assert masked_category("6228**********8462") == "id_card"
    assert masked_category("6228**********8462", "bank_card") == "bank_card"
    assert masked_category("6228 **** **** **84 62") == "bank_card"
    assert masked_category("138xxxx5678") == "phone_mobile"
    assert masked_category("0755-****1234") == "phone_landline"
    assert masked_category("******") == "password"
    assert masked_category("12****89") is None  # could be anything without the column's name
    assert masked_category("12****89", "qq") == "qq"
    assert masked_category("2024****1234") is None  # an order number with a mask: no PI shape
    assert masked_category("v1.2.x") is None and masked_category("") is None


def test_table_scan_reports_category_share_cells_confidence(crm_url: str) -> None:
    report = scan_database(crm_url, sample=200)
    cols = {c.column: c for c in report.columns}
    d = {k: v.to_dict() for k, v in cols.items()}

    mobile = d["mobile"]
    assert mobile["status"] == "masked" and mobile["category"] == "phone_mobile"
    assert mobile["categories"] == []  # not PI in clear
    assert mobile["share"] == 1.0 and mobile["masked"][0]["cells"] == 200 == mobile["sampled"]
    assert mobile["rows_seen"] == ROWS and mobile["confidence"] >= 0.85

    clear = d["mobile_clear"]
    assert clear["status"] == "clear" and clear["category"] == "phone_mobile" and clear["masked"] == []
    assert clear["share"] == 1.0 and clear["confidence"] >= 0.85

    mixed = d["phone_mixed"]
    assert mixed["status"] == "partly_masked"
    assert mixed["categories"][0]["category"] == mixed["masked"][0]["category"] == "phone_mobile"
    assert 0.2 <= mixed["categories"][0]["share"] <= 0.4 and 0.6 <= mixed["masked"][0]["share"] <= 0.8
    # below half the cells, confidence is scaled down: a partial column is less sure than a full one
    assert mixed["categories"][0]["confidence"] < clear["confidence"]

    for col, cat in (
        ("cust_name", "name"),
        ("id_no", "id_card"),
        ("email", "email"),
        ("card_no", "bank_card"),
        ("pwd", "password"),
    ):
        assert (d[col]["status"], d[col]["category"]) == ("masked", cat), col
    for col in ("id", "order_no", "amount", "memo"):
        assert d[col]["status"] == "none" and d[col]["category"] is None, col

    # the summary (and so --fail-on-found) counts PI in clear only
    assert set(report.summary()) == {"phone_mobile"}
    dumped = json.dumps(report.to_dict(), ensure_ascii=False)
    assert "****" not in dumped  # no value, masked or not, in the report


def test_db_scan_cli_shows_masked(crm_url: str) -> None:
    r = runner.invoke(app, ["scan", "--db", crm_url, "--format", "json", "--sample", "100"])
    assert r.exit_code == 0, r.stderr
    cols = {c["column"]: c for c in json.loads(r.stdout)["columns"]}
    assert cols["mobile"]["status"] == "masked" and cols["mobile_clear"]["status"] == "clear"

    r = runner.invoke(app, ["scan", "--db", crm_url, "--sample", "100"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.stderr
    rows = {line.split("│")[3].strip(): line for line in r.stdout.splitlines() if line.count("│") > 8}
    assert "masked / 已脱敏" in rows["mobile"] and "phone_mobile" in rows["mobile"]
    assert "clear / 明文" in rows["mobile_clear"] and "100%" in rows["mobile_clear"]
    assert "partly masked" in rows["phone_mixed"]
    assert "amount" not in rows and "order_no" not in rows

    r = runner.invoke(app, ["scan", "--db", crm_url, "--format", "html", "--sample", "50"])
    assert r.exit_code == 0 and "已脱敏 masked" in r.stdout


@pytest.mark.usefixtures("db_engine")
def test_propose_uses_column_verdicts(crm_url: str) -> None:
    r = runner.invoke(app, ["inventory", "propose", "--db", crm_url, "--system", "crm", "--sample", "100"])
    assert r.exit_code == 0, r.stderr
    proposal = yaml.safe_load(r.stdout)
    [table] = proposal["systems"][0]["tables"]
    fields = {f["column"]: f["categories"] for f in table["fields"]}
    # masked columns are still inventoried with their category ...
    assert fields["mobile"] == ["phone_mobile"] and fields["id_no"] == ["id_card"]
    assert fields["pwd"] == ["password"] and fields["phone_mixed"] == ["phone_mobile"]
    assert not {"order_no", "amount", "memo", "id"} & set(fields)
    # ... but only a column in clear can find a data subject
    assert table["subject_keys"] == {"phone": "mobile_clear"}
    notes = [line for line in r.stdout.splitlines() if line.startswith("#   ")]
    mobile = next(line for line in notes if "customers.mobile:" in line)
    assert "phone_mobile 100% of 100 sampled" in mobile and "masked" in mobile
    assert "in clear" in next(line for line in notes if "customers.mobile_clear:" in line)
