"""The client of one link in the links file, by its ``protocol``: SMPP 3.4 (``smpp.client``), CMPP
2.0 / 3.0 (``cmpp.client``), SMGP 3.0 (``smgp.client``) or SGIP 1.2 (``sgip.client``). Each is an
``smpp.client.Upstream``: the SMPP gateway runs its dispatcher over it the same way."""

from __future__ import annotations

from piguard.messaging.ismg.client import ClientConfig
from piguard.messaging.routing.links import LinkConfig
from piguard.messaging.smpp.client import Upstream, UpstreamClient
from piguard.messaging.smpp.config import SmppSettings


def client_config(cfg: LinkConfig, settings: SmppSettings) -> ClientConfig:
    """An ISMG link's settings; keep-alive and response timeout as SMPP's upstream ones."""
    return ClientConfig(
        host=cfg.host,
        port=cfg.port,
        login=cfg.system_id,
        password=cfg.password,
        window=cfg.window,
        max_rate=cfg.max_rate,
        service_id=cfg.service_id,
        corp_id=cfg.corp_id,
        node_id=cfg.node_id,
        listen_host=cfg.listen_host,
        listen_port=cfg.listen_port,
        keepalive=settings.upstream_enquire_link,
        response_timeout=settings.upstream_response_timeout,
    )


def make_upstream(cfg: LinkConfig, settings: SmppSettings) -> Upstream:
    """The client of a link (not started); receipts and MO are wired by the caller."""
    if cfg.protocol == "smpp":
        return UpstreamClient(
            settings.model_copy(
                update={
                    "upstream_host": cfg.host,
                    "upstream_port": cfg.port,
                    "upstream_system_id": cfg.system_id,
                    "upstream_password": cfg.password,
                    "upstream_window": cfg.window,
                    "upstream_max_rate": cfg.max_rate,
                }
            )
        )
    cc = client_config(cfg, settings)
    if cfg.protocol in ("cmpp2", "cmpp3"):
        from piguard.messaging.cmpp.client import CmppClient
        from piguard.messaging.cmpp.pdu import V20, V30

        return CmppClient(cc, V30 if cfg.protocol == "cmpp3" else V20)
    if cfg.protocol == "smgp":
        from piguard.messaging.smgp.client import SmgpClient

        return SmgpClient(cc)
    if cfg.protocol == "sgip":
        from piguard.messaging.sgip.client import SgipClient

        return SgipClient(cc)
    raise ValueError(f"no client for protocol {cfg.protocol!r}")
