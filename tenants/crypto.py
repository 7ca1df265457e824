"""Encryption of secrets at rest (access keys, webhook secrets) with Fernet.

SECRETS_ENCRYPTION_KEYS lists Fernet keys: the first encrypts, every one decrypts,
so an operator rotates by putting a new key first; older ciphertexts still decrypt.
"""

from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    # Keyed on the settings value so tests that override the keys get a fresh instance.
    return _fernet(tuple(settings.SECRETS_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _current().decrypt(token.encode()).decode()
