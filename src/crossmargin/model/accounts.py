"""Accounts: balances (the cross collateral pool) and signed positions."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from crossmargin.model.errors import InputError
from crossmargin.model.numbers import finite, positive


@dataclass(frozen=True)
class Position:
    """``size`` contracts of ``instrument`` (positive long, negative short) opened at ``entry_price``.

    ``isolated_margin`` (settle-asset units, held apart from the account's balances) makes the
    position isolated: it is margined against that amount alone. None means cross. It is negative only
    for a bankrupt isolated position under liquidation (a document's margin must not be negative).
    """

    instrument: str
    size: Decimal
    entry_price: Decimal
    isolated_margin: Decimal | None = None

    def __post_init__(self) -> None:
        if finite(self.size, "size") == 0:
            raise InputError("size", "must not be zero (drop a closed position from the list)")
        positive(self.entry_price, "entry_price")
        if self.isolated_margin is not None:
            finite(self.isolated_margin, "isolated_margin")

    @property
    def isolated(self) -> bool:
        """True when the position is margined on its own."""
        return self.isolated_margin is not None


@dataclass(frozen=True)
class Account:
    """An account: ``balances`` (asset -> amount; negative is owed) and its positions.

    One position per instrument (one-way mode), or one long and one short (hedge mode, where a venue
    has it: each leg margined on its own notional, both legs moving together for a liquidation price).

    ``venue`` names the rulebook the account is margined under (None: the document's ``rulebook``) and
    ``owner`` the person holding it (None: the account is its own owner, see :attr:`held_by`). Both are
    labels, not state: they take no part in equality, so an account still compares by its id, balances and
    positions (the clearing state rebuilds accounts without them and tests compare those with the document's).
    """

    id: str
    balances: Mapping[str, Decimal] = field(default_factory=dict)
    positions: tuple[Position, ...] = ()
    venue: str | None = field(default=None, compare=False)
    owner: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise InputError("id", "must not be empty")
        for name, label in (("venue", self.venue), ("owner", self.owner)):
            if label is not None and not label:
                raise InputError(name, "must not be empty (leave it out for the default)")
        for asset, amount in self.balances.items():
            finite(amount, f"balances.{asset}")
        seen: set[tuple[str, bool]] = set()
        for i, position in enumerate(self.positions):
            leg = (position.instrument, position.size > 0)
            if leg in seen:
                raise InputError(
                    f"positions[{i}].instrument",
                    f"{position.instrument!r} appears twice on one side: one position per instrument, or one "
                    "long and one short (hedge mode)",
                )
            seen.add(leg)

    @property
    def held_by(self) -> str:
        """The owner's name: ``owner``, or the account's own id when it names none."""
        return self.id if self.owner is None else self.owner

    @property
    def label(self) -> str:
        """How errors and reports name the account."""
        return f"account {self.id!r}"
