"""``crossmargin risk``: per account, every position's price and greeks, delta by underlying, and VaR and
expected shortfall of the account's value from a price history."""

import csv
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from crossmargin.margin.exposure import AccountRisk, account_risk, factors, pnl_function
from crossmargin.margin.valuation import with_option_marks
from crossmargin.margin.var import RiskMeasure, covariance, historical, horizon_returns, monte_carlo, parametric
from crossmargin.model import InputError, Portfolio


class Method(StrEnum):
    """How VaR is computed from the history (see :mod:`crossmargin.margin.var`)."""

    HISTORICAL = "historical"
    PARAMETRIC = "parametric"
    MONTE_CARLO = "monte-carlo"


def read_history(path: Path, assets: list[str]) -> np.ndarray:
    """``[time, asset]`` prices (base currency) of ``assets`` from a CSV file whose header names a time
    column first and then one column per asset, rows ascending in time."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except OSError as err:
        raise InputError("--history", f"cannot read {path}: {err.strerror}") from None
    if not rows:
        raise InputError("--history", f"{path} is empty")
    header = [name.strip() for name in rows[0]]
    missing = [a for a in assets if a not in header[1:]]
    if missing:
        raise InputError("--history", f"{path} has no column for {missing[0]!r} (columns: {', '.join(header[1:])})")
    columns = [header.index(a) for a in assets]
    prices = np.empty((len(rows) - 1, len(assets)))
    for r, row in enumerate(rows[1:]):
        for k, c in enumerate(columns):
            try:
                value = float(row[c])
            except (IndexError, ValueError):
                raise InputError("--history", f"{path} row {r + 2}, column {assets[k]!r}: not a price") from None
            if not math.isfinite(value) or value <= 0:
                raise InputError("--history", f"{path} row {r + 2}, column {assets[k]!r}: not a positive price")
            prices[r, k] = value
    return prices


def risk_document(
    portfolio: Portfolio,
    history: np.ndarray | None,
    method: Method,
    level: float,
    horizon: int,
    paths: int,
    seed: int,
) -> dict[str, Any]:
    """The analytics of every account, as a JSON-ready mapping (VaR only with a history)."""
    portfolio = with_option_marks(portfolio)
    names = factors(portfolio)
    returns = cov = None
    if history is not None:
        try:
            returns = horizon_returns(history, horizon)
            cov = covariance(horizon_returns(history, 1))
        except ValueError as err:
            raise InputError("--history", str(err)) from None
    accounts = []
    for account in portfolio.accounts:
        risk = account_risk(account, portfolio)
        entry = _account_entry(risk)
        if returns is not None and cov is not None:
            measure = _measure(account, portfolio, names, risk, returns, cov, method, level, horizon, paths, seed)
            entry.update(var=measure.var, expected_shortfall=measure.expected_shortfall)
            entry["net_exposure"] = _net_exposure(risk, names, cov)
        accounts.append(entry)
    settings = {"method": str(method), "level": level, "horizon": horizon, "factors": names}
    return {"risk": settings if history is not None else None, "accounts": accounts}


def _measure(
    account: Any,
    portfolio: Portfolio,
    names: list[str],
    risk: AccountRisk,
    returns: np.ndarray,
    cov: np.ndarray,
    method: Method,
    level: float,
    horizon: int,
    paths: int,
    seed: int,
) -> RiskMeasure:
    pnl_of = pnl_function(account, portfolio)
    if method is Method.HISTORICAL:
        return historical(pnl_of, returns, level, horizon)
    if method is Method.PARAMETRIC:
        exposures = np.array([risk.delta_base.get(a, 0.0) for a in names])
        return parametric(exposures, cov, level, horizon)
    return monte_carlo(pnl_of, cov, level, horizon, paths, seed)


def _net_exposure(risk: AccountRisk, names: list[str], cov: np.ndarray) -> float:
    """Base-currency delta netted by the factors' correlation: sqrt(e' R e), R the correlation matrix."""
    e = np.array([risk.delta_base.get(a, 0.0) for a in names])
    scale = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(np.outer(scale, scale) > 0, cov / np.outer(scale, scale), 0.0)
    np.fill_diagonal(correlation, 1.0)
    return float(np.sqrt(max(0.0, float(e @ correlation @ e))))


def _account_entry(risk: AccountRisk) -> dict[str, Any]:
    return {
        "id": risk.account,
        "delta_by_underlying": dict(sorted(risk.delta_by_underlying.items())),
        "delta_base": dict(sorted(risk.delta_base.items())),
        "gamma_by_underlying": dict(sorted(risk.gamma_by_underlying.items())),
        "vega": risk.vega,
        "theta": risk.theta,
        "var": None,
        "expected_shortfall": None,
        "positions": [
            {
                "instrument": p.instrument,
                "price": p.price,
                "delta": p.delta,
                "gamma": p.gamma,
                "vega": p.vega,
                "theta": p.theta,
            }
            for p in risk.positions
        ],
    }


def _table(document: dict[str, Any]) -> Table:
    table = Table(title="risk by account (base currency unless units)")
    for column in ("account", "delta (units)", "delta (base)", "vega", "theta / day", "VaR", "ES"):
        table.add_column(column, justify="right")
    for entry in document["accounts"]:
        units = ", ".join(f"{a} {v:,.4g}" for a, v in entry["delta_by_underlying"].items())
        base = sum(entry["delta_base"].values())
        var = "-" if entry["var"] is None else f"{entry['var']:,.2f}"
        es = "-" if entry["expected_shortfall"] is None else f"{entry['expected_shortfall']:,.2f}"
        table.add_row(entry["id"], units, f"{base:,.2f}", f"{entry['vega']:,.2f}", f"{entry['theta']:,.2f}", var, es)
    return table


def risk(
    file: Annotated[Path, typer.Argument(help="A portfolio document (options need valuation_time and vols).")],
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help="CSV of prices in the base currency: a time column, then one column per priced asset. "
            "Needed for VaR and expected shortfall.",
        ),
    ] = None,
    method: Annotated[Method, typer.Option("--method", help="How VaR is computed.")] = Method.HISTORICAL,
    level: Annotated[float, typer.Option("--level", min=0.5, max=0.9999, help="Confidence level.")] = 0.99,
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="Horizon in rows of the history.")] = 1,
    paths: Annotated[int, typer.Option("--paths", min=100, help="Monte Carlo paths.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Monte Carlo seed.")] = 7,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Per account: each position's price and greeks, delta by underlying, VaR and expected shortfall."""
    from crossmargin.cli.main import load_portfolio, user_errors

    with user_errors():
        portfolio, _ = load_portfolio(file)
        prices = None if history is None else read_history(history, factors(portfolio))
        document = risk_document(portfolio, prices, method, level, horizon, paths, seed)
    if json_output:
        typer.echo(json.dumps(document, indent=2))
    else:
        Console().print(_table(document))
