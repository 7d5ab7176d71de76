"""Moved below every domain: addresses to ``piguard.core.addresses`` (normalise, mask), encryption
and keyed hashes to ``piguard.core.crypto`` (issue 9). These names stay only so that code written
against the old place keeps working; new code imports from core."""

from __future__ import annotations

from piguard.core.addresses import CHANNELS, mask_address, mask_identity, normalize_address
from piguard.core.crypto import address_hash, decrypt, encrypt, identity_hash

__all__ = [
    "CHANNELS",
    "address_hash",
    "decrypt",
    "encrypt",
    "identity_hash",
    "mask_address",
    "mask_identity",
    "normalize_address",
]
