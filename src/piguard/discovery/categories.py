"""The fixed PI category vocabulary every discovery output uses (O24-4, GC-111).

O24-4 names the user's name, date of birth, ID number, address, phone number, account and password,
and the time and place of service use; GC-111 protects the same. The finer categories below split
those for detection and masking; ``o24_4`` names the statutory item each one belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

from piguard.regulations.markers import carries


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    zh: str
    en: str
    o24_4: str  # the O24-4 item it falls under
    sensitive: bool = False


@carries("O24-4", "GC-111")
def _vocabulary() -> tuple[Category, ...]:
    return (
        Category("name", "姓名", "Name", "name"),
        Category("birth_date", "出生日期", "Date of birth", "date of birth"),
        Category("id_card", "身份证号", "Resident ID number", "ID number", sensitive=True),
        Category("address", "住址", "Address", "address"),
        Category("phone_mobile", "手机号码", "Mobile number", "phone number"),
        Category("phone_landline", "固定电话", "Landline number", "phone number"),
        Category("email", "电子邮箱", "E-mail address", "account"),
        Category("bank_card", "银行卡号", "Bank card number", "account", sensitive=True),
        Category("passport", "护照号码", "Passport number", "ID number", sensitive=True),
        Category("license_plate", "车牌号", "Licence plate", "other identifying information"),
        Category("ip_address", "IP地址", "IP address", "time and place of service use"),
        Category("gps", "经纬度", "GPS coordinates", "time and place of service use", sensitive=True),
        Category("account", "账号", "Account", "account"),
        Category("password", "密码", "Password", "password", sensitive=True),
        Category("qq", "QQ号", "QQ number", "account"),
        Category("wechat", "微信号", "WeChat ID", "account"),
        Category(
            "location_time",
            "使用服务的时间和地点",
            "Time and place of service use",
            "time and place of service use",
            sensitive=True,
        ),
    )


CATEGORIES: tuple[Category, ...] = _vocabulary()
BY_CODE: dict[str, Category] = {c.code: c for c in CATEGORIES}
CODES: tuple[str, ...] = tuple(c.code for c in CATEGORIES)


def check_categories(names: object) -> frozenset[str] | None:
    """Validate a user-given category list; ``None`` means all. Raises a validation error."""
    from piguard.core.errors import FieldError, validation_error

    if names is None:
        return None
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    chosen = frozenset(str(n) for n in names)  # type: ignore[attr-defined]
    unknown = sorted(chosen - set(CODES))
    if unknown:
        raise validation_error(
            [FieldError("categories", f"unknown category {u!r}; known: {', '.join(CODES)}") for u in unknown],
            "Unknown PI category.",
            "未知的个人信息类别。",
        )
    return chosen
