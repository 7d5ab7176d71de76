"""Messaging: the commercial-message gateway (MIIT Order 31) for SMS and commercial e-mail.

This slice is stateless: content review (:mod:`piguard.messaging.review`) and inbound-reply
classification (:mod:`piguard.messaging.subscriptions.replies`).
"""
