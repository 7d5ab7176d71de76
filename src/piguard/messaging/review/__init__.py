"""Content review of outbound messages (SMS and commercial e-mail): kind, signature, opt-out
wording, prohibited content and personal information in the text. See docs/sms-review.md."""

from piguard.messaging.review.engine import (
    Channel,
    Finding,
    MessageKind,
    ReviewContext,
    Reviewer,
    ReviewResult,
    Severity,
    SignaturePosition,
    SignatureRequirement,
    Verdict,
    category_label,
    default_reviewer,
    review,
    reviewer_for,
)
from piguard.messaging.review.pi import PiHit, find_pi
from piguard.messaging.review.rules import RuleSet, clear_rules_cache, load_rules

__all__ = [
    "Channel",
    "Finding",
    "MessageKind",
    "PiHit",
    "ReviewContext",
    "ReviewResult",
    "Reviewer",
    "RuleSet",
    "Severity",
    "SignaturePosition",
    "SignatureRequirement",
    "Verdict",
    "category_label",
    "clear_rules_cache",
    "default_reviewer",
    "find_pi",
    "load_rules",
    "review",
    "reviewer_for",
]
