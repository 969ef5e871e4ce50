"""The operator account that signs the outbox's transactions."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from eth_account import Account
from eth_account.signers.local import LocalAccount


class OperatorKeyMissing(ImproperlyConfigured):
    pass


@lru_cache(maxsize=4)
def _account(key: str | None, keystore: str | None, password: str | None) -> LocalAccount:
    if key:
        try:
            return Account.from_key(key)
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(f"CHAIN_OPERATOR_KEY is not a private key: {exc}") from None
    if keystore:
        if not password:
            raise ImproperlyConfigured(
                "CHAIN_OPERATOR_KEYSTORE needs CHAIN_OPERATOR_KEYSTORE_PASSWORD(_FILE)"
            )
        try:
            encrypted = json.loads(Path(keystore).read_text())
            return Account.from_key(Account.decrypt(encrypted, password))
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(f"CHAIN_OPERATOR_KEYSTORE cannot be used: {exc}") from None
    raise OperatorKeyMissing(
        "no operator key: set CHAIN_OPERATOR_KEY(_FILE) or CHAIN_OPERATOR_KEYSTORE"
    )


def operator_account() -> LocalAccount:
    return _account(
        settings.CHAIN_OPERATOR_KEY,
        settings.CHAIN_OPERATOR_KEYSTORE,
        settings.CHAIN_OPERATOR_KEYSTORE_PASSWORD,
    )
