"""Field encryption at rest and keyed hashing, below every domain (O24-10, CSL-40).

``encrypt``/``decrypt`` (AES-256-GCM under versioned keys: ``k2:…``; the original ``v1:…`` values
stay readable), ``address_hash``/``identity_hash``/``blind_index`` (keyed hashes that look-ups use,
under a key of their own), ``register_encrypted_column``/``EncryptedText`` (what ``piguard keys
rotate`` re-encrypts), and the keyring from configuration (``keys``). The rotation job is
``core.crypto.rotation``; operators read ``docs/crypto.md``.
"""

from __future__ import annotations

from piguard.core.crypto.fields import (
    CATEGORIES,
    EncryptedColumn,
    EncryptedText,
    address_hash,
    blind_index,
    decrypt,
    encrypt,
    encrypt_many,
    encrypted_columns,
    identity_hash,
    key_id_of,
    normalize,
    register_encrypted_column,
)
from piguard.core.crypto.keys import Keyring, keyring

__all__ = [
    "CATEGORIES",
    "EncryptedColumn",
    "EncryptedText",
    "Keyring",
    "address_hash",
    "blind_index",
    "decrypt",
    "encrypt",
    "encrypt_many",
    "encrypted_columns",
    "identity_hash",
    "key_id_of",
    "keyring",
    "normalize",
    "register_encrypted_column",
]
