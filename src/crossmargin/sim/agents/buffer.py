"""An account's buffer: its distance to liquidation in units of the volatility over a reaction time.

For an account's cross pool with health ``H = equity - threshold x MM`` (base currency; ``threshold`` the
rulebook's liquidation threshold, MM with the venue's multipliers) and positions ``p`` of notional ``N_p``
(base currency, at the mark) on underlyings of annualized volatility ``sigma_p``, over a reaction time of
``T`` seconds::

    s_p    = sigma_p x sqrt(T / SECONDS_PER_YEAR)     one standard deviation of p's log return over T
    risk   = sum_p |N_p| x s_p                         base currency
    buffer = H / risk                                  (+infinity without positions)

It is the number of one-sigma adverse moves over ``T``, every position moving against the account at once
(no diversification), that exhaust the health, to first order in the move: for one linear position the
exact distance is ``H / (|N| x (1 - threshold x mmr))`` (the requirement falls with the notional), so the
buffer is conservative by that factor. ``H <= 0`` is a liquidatable account (buffer <= 0). Isolated
positions are left out: their own margin secures them, not the account's health.

An agent that hedges counts diversification, or a hedge could never raise the buffer: the *correlated* risk
nets each underlying's positions into its signed exposure ``g_u = sum_(p on u) sign(size_p) |N_p|`` (base
currency, long positive: the first-order change of the health per unit log move of ``u``, for inverse
contracts too) and takes the standard deviation of their sum::

    risk = sqrt(sum_u sum_v g_u g_v rho_uv s_u s_v)

with ``rho`` the correlations of the underlyings' moves. With ``|rho| <= 1`` it is never above the gross
``sum_p |N_p| s_p``, so a gross buffer below a threshold names every account whose correlated buffer is: the
float screen stays the gross one. Collateral balances are left out of both (their haircut prices them).

:func:`exact_buffer` is the figure decisions use (exact, on the clearing state's figures);
:func:`screened_buffers` is the float screen over the risk book that names the accounts worth the exact look.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from crossmargin.engine.book import RiskBook
from crossmargin.margin.pools import PoolFigures
from crossmargin.margin.realized_volatility import SECONDS_PER_YEAR
from crossmargin.model import Instrument, RuleChoices
from crossmargin.model.numbers import ZERO, exact, from_float


def move_sigmas(
    volatility: Mapping[str, float], underlyings: Sequence[str], floor: float, reaction_s: float
) -> dict[str, Decimal]:
    """Each underlying's ``s = max(sigma, floor) x sqrt(T / year)`` (module doc), ``sigma`` its annualized
    ``volatility`` (the floor where it has none yet), as a Decimal of 12 digits."""
    scale = math.sqrt(reaction_s / SECONDS_PER_YEAR)
    return {u: from_float(max(volatility.get(u, 0.0), floor) * scale) for u in underlyings}


@dataclass(frozen=True)
class Buffer:
    """An account's ``health`` and ``risk`` (base currency) and their quotient (module doc)."""

    health: Decimal
    risk: Decimal

    @property
    def value(self) -> Decimal:
        """``health / risk``; +infinity without risk."""
        if self.risk == 0:
            return Decimal("Infinity") if self.health >= 0 else Decimal("-Infinity")
        with exact():
            return self.health / self.risk


Correlation = Callable[[str, str], Decimal]
"""The correlation of two underlyings' moves (1 for one underlying)."""


def exposures(figures: PoolFigures, instruments: Mapping[str, Instrument]) -> dict[str, Decimal]:
    """Each underlying's signed exposure ``g_u`` in a pool valued ``figures`` (base currency, long positive;
    module doc), underlyings sorted by name."""
    found: dict[str, Decimal] = {}
    with exact():
        for f in figures.positions:
            underlying = instruments[f.position.instrument].underlying
            signed = abs(f.notional) if f.position.size > 0 else -abs(f.notional)
            found[underlying] = found.get(underlying, ZERO) + signed
    return dict(sorted(found.items()))


def correlated_risk(
    exposure: Mapping[str, Decimal], sigmas: Mapping[str, Decimal], correlation: Correlation
) -> Decimal:
    """``sqrt(g' C g)`` of the signed ``exposure`` by underlying (module doc), ``C_uv = rho_uv s_u s_v``; a
    rounding below zero is read as zero."""
    moves = [(g * sigmas[u], u) for u, g in exposure.items()]
    with exact():
        variance = sum((a * b * (correlation(u, v) if u != v else 1) for a, u in moves for b, v in moves), ZERO)
        return max(variance, ZERO).sqrt()


def exact_buffer(
    figures: PoolFigures, rules: RuleChoices, instruments: Mapping[str, Instrument], sigmas: Mapping[str, Decimal],
    correlation: Correlation | None = None,
) -> Buffer:  # fmt: skip
    """The buffer of a cross pool valued ``figures`` (module doc), ``sigmas`` by underlying
    (:func:`move_sigmas`): the gross risk, or with a ``correlation`` the correlated one."""
    with exact():
        health = figures.equity - rules.liquidation_threshold * figures.maintenance_margin
        if correlation is not None:
            return Buffer(health, correlated_risk(exposures(figures, instruments), sigmas, correlation))
        risk = sum(
            (abs(f.notional) * sigmas[instruments[f.position.instrument].underlying] for f in figures.positions), ZERO
        )
    return Buffer(health, risk)


def cross_pools(book: RiskBook, accounts: Sequence[str]) -> np.ndarray:
    """Each of ``accounts``' cross pool in ``book`` (-1 for an account the book does not hold): a caller that
    screens the same accounts often keeps it (a Python pass over the accounts costs more than the screen)."""
    return np.fromiter((book.cross_pool.get(a, -1) for a in accounts), dtype=np.int64, count=len(accounts))


def screened_buffers(
    book: RiskBook, accounts: Sequence[str], sigmas: Mapping[str, Decimal], pools: np.ndarray | None = None
) -> np.ndarray:
    """The float buffer of each of ``accounts``' cross pools from the mirror (an account the book does not
    hold, or without positions: +infinity); a screen, the exact figure decides. ``pools``: the accounts'
    :func:`cross_pools`, if the caller keeps them."""
    count = book.pool_count
    used = (book.pool >= 0) & (book.size != 0.0)
    slots = np.flatnonzero(used)
    i = book.instrument[slots]
    terms = book.instruments
    contract, inverse, settle = terms.contract_size[i], terms.inverse[i], terms.settle[i]
    marks = book.marks[i]
    units = np.abs(book.size[slots]) * contract
    notional = np.where(inverse, units / marks, units * marks) * book.prices[settle]
    sigma = np.array([float(sigmas[book.instrument_table[n].underlying]) for n in terms.names], dtype=np.float64)
    risk = np.bincount(book.pool[slots], weights=notional * sigma[i], minlength=count)
    threshold = float(book.rules.liquidation_threshold)
    if pools is None:
        pools = cross_pools(book, accounts)
    out = np.full(len(accounts), np.inf)
    held = pools >= 0
    p = pools[held]
    health = book.figures[p, 0] - threshold * book.figures[p, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[held] = np.where(risk[p] > 0, health / risk[p], np.inf)
    return out
