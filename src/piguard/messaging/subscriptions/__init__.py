"""Subscriptions: consent requests, grants and opt-outs (``consent``), inbound replies (``inbound``,
classified by ``replies``) and the consent API (``views``).
"""
