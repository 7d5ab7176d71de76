"""The destruction certificate as HTML, in Chinese or English (O24-13.3); the JSON is
:func:`piguard.oversight.bulk.certificate`."""

from __future__ import annotations

from typing import Any

_CERT_HTML = """<!doctype html>
<html lang="{{ 'zh-CN' if lang == 'zh' else 'en' }}"><head><meta charset="utf-8">
<title>{{ L('个人信息销毁证明', 'Certificate of destruction of personal information') }} {{ c.certificate }}</title>
<style>body{font-family:sans-serif;max-width:46em;margin:2em auto}th{text-align:left;padding-right:1em;vertical-align:top}
td,th{border-bottom:1px solid #ddd;padding:.3em}</style></head><body>
<h1 id="cert-title">{{ L('个人信息销毁证明', 'Certificate of destruction of personal information') }}</h1>
<p>{{ L('证明编号', 'Certificate') }} <code id="cert-ref">{{ c.certificate }}</code> ·
{{ L('申请编号', 'Request') }} <code>{{ c.request }}</code> · O24-13.3</p>
<table>
<tr><th>{{ L('销毁内容', 'What') }}</th><td id="cert-what">{{ c.what.system }} / {{ c.what.dataset }}:
{{ c.what.rows }} {{ L('行', 'rows') }};
{{ (c.what.categories | map(attribute=lang) | join('、' if lang == 'zh' else ', ')) }}</td></tr>
<tr><th>{{ L('销毁方式', 'How') }}</th><td id="cert-how">{{ c.how[lang] }}</td></tr>
<tr><th>{{ L('执行时间（UTC）', 'When (UTC)') }}</th><td id="cert-when">{{ c.when }}</td></tr>
<tr><th>{{ L('用途', 'Purpose') }}</th><td>{{ c.purpose }}: {{ c.justification }}</td></tr>
<tr><th>{{ L('申请人', 'Requested by') }}</th><td id="cert-requested">{{ c.requested_by }} ({{ c.requested_at }})</td></tr>
<tr><th>{{ L('审批人', 'Approved by') }}</th><td id="cert-approved">{{ c.approved_by }} ({{ c.approved_at }})</td></tr>
<tr><th>{{ L('执行人', 'Carried out by') }}</th><td>{{ c.carried_out_by }}</td></tr>
</table>
<p>{{ L('依据：工信部令第24号第十三条第（三）项（批量销毁的审查）；操作已记入防篡改审计日志（O24-13.6）。',
'Basis: MIIT Order 24 Art. 13(3) (review of bulk destruction); the operation is in the tamper-evident audit log (O24-13.6).') }}</p>
</body></html>"""


def certificate_html(cert: dict[str, Any], lang: str = "zh") -> str:
    from jinja2 import Environment

    lang = "en" if lang == "en" else "zh"
    template = Environment(autoescape=True).from_string(_CERT_HTML)
    return template.render(c=cert, lang=lang, L=lambda zh, en: zh if lang == "zh" else en)
