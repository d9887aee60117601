"""API keys and what each scope may do.

A key is ``cm_`` and 43 URL-safe characters (32 random bytes); the store keeps only its SHA-256 (a key
is as random as a hash's input needs to be, so no salt or slow hash adds anything), and it is shown once,
when made. Scopes:

- ``admin``: everything;
- ``feeder``: post prices (and move the clock);
- ``matcher``: post trades;
- ``account:<id>``: read that account, ask its what-if questions, deposit to and withdraw from it, and
  subscribe to its topic.
"""

import hashlib
import secrets
from dataclasses import dataclass

from crossmargin.model import InputError
from crossmargin.model.errors import UNPRINTABLE
from crossmargin.service.store import KeyRecord, Store

PREFIX = "cm_"
ROLES = ("admin", "feeder", "matcher")


@dataclass(frozen=True)
class Scope:
    """A parsed scope: a role, or the account it is limited to."""

    role: str
    account: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Scope":
        """The scope written ``text`` (admin, feeder, matcher, account:<id>, the id printable as every account
        id is); anything else raises InputError naming ``--scope``."""
        if text in ROLES:
            return cls(text)
        account = text.removeprefix("account:")
        if text.startswith("account:") and account:
            if UNPRINTABLE.search(account):  # neither a document nor an account opening gives such an id
                raise InputError("--scope", f"{text!r} is not printable text (control characters)")
            return cls("account", account)
        raise InputError("--scope", f"{text!r} is not a scope (admin, feeder, matcher, account:<id>)")

    def __str__(self) -> str:
        return self.role if self.account is None else f"account:{self.account}"

    def reads(self, account_id: str) -> bool:
        """May read ``account_id``, ask its what-if questions, move its money and follow its topic."""
        return self.role == "admin" or self.account == account_id


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_key(store: Store, scope: str, name: str = "") -> tuple[int, str]:
    """A new key of ``scope`` (checked) stored by its digest: (its id, the key, shown this once)."""
    parsed = Scope.parse(scope)
    key = PREFIX + secrets.token_urlsafe(32)
    return store.add_key(name, str(parsed), digest_of(key)), key


@dataclass(frozen=True)
class Caller:
    """Who is asking: the key's id and scope."""

    key_id: int
    scope: Scope


def caller_of(store: Store, key: str) -> Caller | None:
    """Who holds ``key``; None for an unknown or revoked key."""
    record: KeyRecord | None = store.key_by_digest(digest_of(key))
    if record is None or record.revoked:
        return None
    return Caller(record.id, Scope.parse(record.scope))
