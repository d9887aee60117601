"""``crossmargin risk``: per account, every position's price and greeks, delta by underlying, and VaR and
expected shortfall of the account's value from a price history.

The history file is untrusted input: it is refused, with ``error: <file>: line <n>: <column>: <message>`` and
exit code 2, unless it is UTF-8 text within the limits below, a CSV whose header names a time column and then
one column per asset, every row with a time strictly after the previous row's and a price for every asset the
portfolio prices. Options are checked before any file is read.
"""

import csv
import io
import json
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from crossmargin.cli.loading import load_portfolio
from crossmargin.cli.output import emit_view
from crossmargin.cli.user_input import parse_decimal, user_errors
from crossmargin.margin.ewma import HULL_AGE_LAMBDA, RISKMETRICS_LAMBDA, ewma_covariance
from crossmargin.margin.exposure import AccountRisk, account_risk, factors, pnl_function
from crossmargin.margin.valuation import with_option_marks
from crossmargin.margin.var import (
    Estimator,
    RiskMeasure,
    Tail,
    age_weighted,
    covariance,
    historical,
    horizon_returns,
    monte_carlo,
    parametric,
    volatility_weighted,
)
from crossmargin.model import InputError, Portfolio
from crossmargin.report.numbers import decimal_string

DOCUMENT_VERSION = 2  # 2: numbers as decimal strings, the standard tail convention (1: floats, unversioned)
SIGNIFICANT_DIGITS = 12  # of the float64 figures, in the JSON document

MAX_HISTORY_BYTES = 32 * 1024 * 1024  # checked on the file's size before it is read
MAX_HISTORY_ROWS = 100_000  # rows of prices, not counting the header
MAX_HISTORY_COLUMNS = 1_000
MAX_FIELD_CHARS = 64  # one time or price
MIN_PRICE = 1e-15  # base currency per unit; returns then stay below 1e30 and their squares finite
MAX_PRICE = 1e15
MAX_PATHS = 1_000_000
MIN_PATHS = 100

_PRICE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_COUNT = re.compile(r"[+-]?\d+(?:\.\d+)?", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SHOWN_CHARS = 40  # of a bad value quoted in an error
_BLANKS = " \t"  # stripped around every field; other (Unicode) spaces are part of the value


class Method(StrEnum):
    """How VaR is computed from the history (see :mod:`crossmargin.margin.var`)."""

    HISTORICAL = "historical"
    AGE_WEIGHTED = "age-weighted"
    VOLATILITY_WEIGHTED = "volatility-weighted"
    PARAMETRIC = "parametric"
    MONTE_CARLO = "monte-carlo"


class CovarianceChoice(StrEnum):
    """The covariance of one-row returns behind ``parametric``, ``monte-carlo`` and the net exposure."""

    SAMPLE = "sample"
    POPULATION = "population"
    ZERO_MEAN = "zero-mean"
    EWMA = "ewma"


@dataclass(frozen=True)
class Settings:
    """The checked options of one run: level and lambdas in (0, 1), horizon in rows, paths and seed counts."""

    method: Method
    level: Decimal
    horizon: int
    convention: Tail
    covariance: CovarianceChoice
    ewma_lambda: Decimal
    age_lambda: Decimal
    paths: int
    seed: int


@dataclass(frozen=True)
class History:
    """``[time, asset]`` prices (base currency) in strictly increasing time, and the first and last times."""

    prices: np.ndarray
    first: str
    last: str


def _shown(text: str) -> str:
    """A value quoted in an error: on one line (``repr`` escapes control characters), cut to a few words."""
    return repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "...")


def _choice(text: str, choices: type[StrEnum], option: str) -> Any:
    try:
        return choices(text)
    except ValueError:
        names = ", ".join(c.value for c in choices)
        raise InputError(option, f"must be one of {names}, got {_shown(text)}") from None


def _fraction(text: str, option: str) -> Decimal:
    """A number strictly between 0 and 1, read exactly; its float must be too (0.99999999999999999 is 1.0)."""

    value = parse_decimal(text, option)
    if not (0 < value < 1 and 0.0 < float(value) < 1.0):
        raise InputError(option, f"must be strictly between 0 and 1, got {_shown(text)}")
    return value


def _integer(text: str, option: str, low: int, high: int) -> int:
    stripped = text.strip()
    if not re.fullmatch(r"[+-]?\d{1,20}", stripped, re.ASCII):
        raise InputError(option, f"must be a whole number, got {_shown(text)}")
    value = int(stripped)
    if not low <= value <= high:
        raise InputError(option, f"must be between {low:,} and {high:,}, got {value:,}")
    return value


def settings_from_options(
    method: str,
    level: str,
    horizon: str,
    convention: str,
    covariance_choice: str,
    ewma_lambda: str,
    age_lambda: str,
    paths: str,
    seed: str,
) -> Settings:
    """The options as typed, checked and read (errors name the option)."""
    settings = Settings(
        method=_choice(method, Method, "--method"),
        level=_fraction(level, "--level"),
        horizon=_integer(horizon, "--horizon", 1, MAX_HISTORY_ROWS),
        convention=_choice(convention, Tail, "--convention"),
        covariance=_choice(covariance_choice, CovarianceChoice, "--covariance"),
        ewma_lambda=_fraction(ewma_lambda, "--ewma-lambda"),
        age_lambda=_fraction(age_lambda, "--age-lambda"),
        paths=_integer(paths, "--paths", MIN_PATHS, MAX_PATHS),
        seed=_integer(seed, "--seed", 0, 2**63 - 1),
    )
    if settings.method is Method.AGE_WEIGHTED and settings.convention is not Tail.STANDARD:
        raise InputError("--convention", "age-weighted scenarios are read on the standard convention only")
    return settings


def _time_key(text: str) -> tuple[str, Any] | None:
    """``(kind, sortable key)`` of a time field, or None if it is none of the accepted forms."""
    if _COUNT.fullmatch(text):
        return "a number", Decimal(text)
    if _DATE.fullmatch(text):
        return "a date (YYYY-MM-DD)", date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None
    return "a date and time with a UTC offset", moment - _EPOCH


def _time(text: str, where: str) -> tuple[str, Any]:
    expected = (
        "a date (2008-09-25), a date and time with a UTC offset (2021-05-18T00:05:00Z) or a number "
        "(Unix seconds or a row count)"
    )
    try:
        key = _time_key(text)
    except (ValueError, OverflowError):
        key = None
    if key is None:
        raise InputError(where, f"{_shown(text)} is not a time: {expected} is expected")
    return key


def _price(text: str, where: str) -> float:
    if not _PRICE.fullmatch(text):
        raise InputError(where, f"{_shown(text)} is not a decimal number")
    value = float(text)
    if not MIN_PRICE <= value <= MAX_PRICE:
        raise InputError(where, f"{_shown(text)} is not a price between {MIN_PRICE:g} and {MAX_PRICE:g}")
    return value


def _text_of(path: Path) -> str:
    """The file's text, refused before it is read if it is too large, and if it is not UTF-8 or holds NUL."""
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise InputError(str(path), "is not a regular file")
        if status.st_size > MAX_HISTORY_BYTES:
            raise InputError(str(path), f"{status.st_size:,} bytes is over the limit of {MAX_HISTORY_BYTES:,}")
        with path.open("rb") as handle:
            data = handle.read(MAX_HISTORY_BYTES + 1)
    except OSError as err:
        raise InputError(str(path), f"cannot be read: {err.strerror or err}") from None
    if len(data) > MAX_HISTORY_BYTES:
        raise InputError(str(path), f"grew over the limit of {MAX_HISTORY_BYTES:,} bytes while read")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(f"{path}: line {line}", f"not UTF-8 text (byte {err.start:,})") from None
    nul = text.find("\0")
    if nul >= 0:
        raise InputError(f"{path}: line {text.count(chr(10), 0, nul) + 1}", "a NUL character: not a text file")
    return text


def _header(record: list[str], line: str, assets: list[str]) -> tuple[str, list[int]]:
    """The time column's name and the column of each asset; ``line`` names the header's line in errors."""
    if len(record) > MAX_HISTORY_COLUMNS:
        raise InputError(line, f"{len(record):,} columns is over the limit of {MAX_HISTORY_COLUMNS:,}")
    names = [name.strip(_BLANKS) for name in record]
    for k, name in enumerate(names, start=1):
        if not name or not name.isprintable() or len(name) > MAX_FIELD_CHARS:
            raise InputError(f"{line}: column {k}", f"{_shown(name)} is not a column name")
        if name in names[: k - 1]:
            raise InputError(f"{line}: column {k}", f"{_shown(name)} names two columns")
    if len(names) < 2:
        raise InputError(line, "a time column and at least one price column are expected")
    missing = [a for a in assets if a not in names[1:]]
    if missing:
        listed = ", ".join(names[1:11]) + (", ..." if len(names) > 11 else "")
        raise InputError(line, f"no column for {missing[0]!r} (columns: {listed})")
    return names[0], [names.index(a) for a in assets]


def read_history(path: Path, assets: list[str]) -> History:
    """The prices of ``assets`` (base currency) in the CSV file at ``path``.

    The header names a time column first, then one column per asset (columns for other assets are ignored);
    each row gives a time and the prices at it. A time is an ISO 8601 date (``2008-09-25``), an ISO 8601 date
    and time with a UTC offset (``2021-05-18T00:05:00Z``, ``...+02:00``) or a number (Unix seconds, or any
    count such as a day number); every row's time is of the first row's kind and strictly after the previous
    row's. Prices are decimal numbers from :data:`MIN_PRICE` to :data:`MAX_PRICE`. Blank lines are skipped.
    Limits: :data:`MAX_HISTORY_BYTES`, :data:`MAX_HISTORY_ROWS`, :data:`MAX_HISTORY_COLUMNS`,
    :data:`MAX_FIELD_CHARS` per field. Anything else raises :class:`InputError` naming the file, the line and
    the column.
    """
    reader = csv.reader(io.StringIO(_text_of(path), newline=""), strict=True)
    rows: list[list[float]] = []
    times: list[str] = []
    columns: list[int] = []
    time_name, width = "", 0
    first: tuple[int, str] = (0, "")  # line and kind of the first row's time
    previous: Any = None
    try:
        for record in reader:
            line = f"{path}: line {reader.line_num}"
            if not any(field.strip(_BLANKS) for field in record):
                continue
            if not width:
                time_name, columns = _header(record, line, assets)
                width = len(record)
                continue
            if len(rows) == MAX_HISTORY_ROWS:
                raise InputError(line, f"more than {MAX_HISTORY_ROWS:,} rows of prices, the limit")
            if len(record) != width:
                raise InputError(line, f"{len(record):,} fields where the header has {width:,}")
            fields = [field.strip(_BLANKS) for field in record]
            for k in (0, *columns):
                if len(fields[k]) > MAX_FIELD_CHARS:
                    name = time_name if k == 0 else assets[columns.index(k)]
                    raise InputError(f"{line}: {name}", f"longer than {MAX_FIELD_CHARS} characters")
            kind, key = _time(fields[0], f"{line}: {time_name}")
            if not times:
                first = (reader.line_num, kind)
            elif kind != first[1]:
                raise InputError(
                    f"{line}: {time_name}", f"{_shown(fields[0])} is not {first[1]} like line {first[0]}'s"
                )
            elif not key > previous:
                raise InputError(
                    f"{line}: {time_name}",
                    f"{_shown(fields[0])} is not after the previous row's {_shown(times[-1])} "
                    "(rows must be in strictly increasing time)",
                )
            previous = key
            times.append(fields[0])
            rows.append([_price(fields[c], f"{line}: {a}") for a, c in zip(assets, columns, strict=True)])
    except csv.Error as err:
        raise InputError(f"{path}: line {reader.line_num}", f"not CSV: {err}") from None
    if not width:
        raise InputError(str(path), "is empty: a header (a time column, then one column per asset) is expected")
    if not rows:
        raise InputError(str(path), "has a header but no rows of prices")
    return History(np.array(rows, dtype=np.float64).reshape(len(rows), len(assets)), times[0], times[-1])


def _covariance_of(one_row: np.ndarray, settings: Settings) -> np.ndarray:
    if settings.covariance is CovarianceChoice.EWMA:
        return ewma_covariance(one_row, float(settings.ewma_lambda))
    return covariance(one_row, Estimator(settings.covariance.value))


def risk_document(portfolio: Portfolio, history: History | None, settings: Settings) -> dict[str, Any]:
    """The analytics of every account, as a JSON-ready mapping (VaR only with a history); every number a
    decimal string (base currency for money), counts integers."""
    portfolio = with_option_marks(portfolio)
    names = factors(portfolio)
    computed: tuple[np.ndarray, np.ndarray] | None = None
    if history is not None:
        if not names:
            raise InputError("--history", "the portfolio prices no asset but its base currency: no risk to take")
        rows = history.prices.shape[0]
        if rows < max(settings.horizon + 1, 3):
            raise InputError(
                "--history",
                f"{rows} rows are too few: a covariance needs 3 and a {settings.horizon}-row return "
                f"{settings.horizon + 1}",
            )
        one_row = horizon_returns(history.prices, 1)
        try:
            computed = one_row, _covariance_of(one_row, settings)
        except ValueError as err:
            raise InputError("--history", str(err)) from None
    accounts = []
    for account in portfolio.accounts:
        risk = account_risk(account, portfolio)
        entry = _account_entry(risk)
        if history is not None and computed is not None:
            one_row, cov = computed
            try:
                measure = _measure(account, portfolio, names, risk, history, one_row, cov, settings)
            except ValueError as err:
                raise InputError("--history", str(err)) from None
            entry.update(var=_number(measure.var), expected_shortfall=_number(measure.expected_shortfall))
            entry["net_exposure"] = _number(_net_exposure(risk, names, cov))
        accounts.append(entry)
    return {"version": DOCUMENT_VERSION, "risk": _settings_entry(settings, names, history), "accounts": accounts}


def _settings_entry(settings: Settings, names: list[str], history: History | None) -> dict[str, Any] | None:
    if history is None:
        return None
    return {
        "method": str(settings.method),
        "level": decimal_string(settings.level),
        "horizon": settings.horizon,
        "convention": str(settings.convention),
        "covariance": str(settings.covariance),
        "ewma_lambda": decimal_string(settings.ewma_lambda),
        "age_lambda": decimal_string(settings.age_lambda),
        "paths": settings.paths,
        "seed": settings.seed,
        "factors": names,
        "history": {"rows": int(history.prices.shape[0]), "first": history.first, "last": history.last},
    }


def _measure(
    account: Any,
    portfolio: Portfolio,
    names: list[str],
    risk: AccountRisk,
    history: History,
    one_row: np.ndarray,
    cov: np.ndarray,
    settings: Settings,
) -> RiskMeasure:
    pnl_of = pnl_function(account, portfolio)
    level, horizon = float(settings.level), settings.horizon
    method = settings.method
    if method is Method.PARAMETRIC:
        exposures = np.array([risk.delta_base.get(a, 0.0) for a in names])
        return parametric(exposures, cov, level, horizon)
    if method is Method.MONTE_CARLO:
        return monte_carlo(pnl_of, cov, level, horizon, settings.paths, settings.seed, settings.convention)
    if method is Method.VOLATILITY_WEIGHTED:
        return volatility_weighted(pnl_of, one_row, level, horizon, float(settings.ewma_lambda), settings.convention)
    scenarios = horizon_returns(history.prices, horizon)
    if method is Method.AGE_WEIGHTED:
        return age_weighted(pnl_of, scenarios, level, horizon, float(settings.age_lambda))
    return historical(pnl_of, scenarios, level, horizon, settings.convention)


def _net_exposure(risk: AccountRisk, names: list[str], cov: np.ndarray) -> float:
    """Base-currency delta netted by the factors' correlation: sqrt(e' R e), R the correlation matrix."""
    e = np.array([risk.delta_base.get(a, 0.0) for a in names])
    scale = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(np.outer(scale, scale) > 0, cov / np.outer(scale, scale), 0.0)
    np.fill_diagonal(correlation, 1.0)
    return float(np.sqrt(max(0.0, float(e @ correlation @ e))))


def _number(x: float) -> str:
    """A float64 figure as a decimal string of at most :data:`SIGNIFICANT_DIGITS` significant digits."""
    return decimal_string(Decimal(repr(float(x))), SIGNIFICANT_DIGITS)


def _numbers(values: Mapping[str, float]) -> dict[str, str]:
    return {k: _number(v) for k, v in sorted(values.items())}


def _account_entry(risk: AccountRisk) -> dict[str, Any]:
    return {
        "id": risk.account,
        "delta_by_underlying": _numbers(risk.delta_by_underlying),
        "delta_base": _numbers(risk.delta_base),
        "gamma_by_underlying": _numbers(risk.gamma_by_underlying),
        "vega": _number(risk.vega),
        "theta": _number(risk.theta),
        "var": None,
        "expected_shortfall": None,
        "positions": [
            {
                "instrument": p.instrument,
                "price": _number(p.price),
                "delta": _number(p.delta),
                "gamma": _number(p.gamma),
                "vega": _number(p.vega),
                "theta": _number(p.theta),
            }
            for p in risk.positions
        ],
    }


def _money(text: str | None) -> str:
    return "-" if text is None else f"{Decimal(text):,.2f}"


def _table(document: dict[str, Any]) -> Table:
    table = Table(title="risk by account (base currency unless units)")
    for column in ("account", "delta (units)", "delta (base)", "vega", "theta / day", "VaR", "ES"):
        table.add_column(column, justify="right")
    for entry in document["accounts"]:
        units = ", ".join(f"{a} {Decimal(v):,.4g}" for a, v in entry["delta_by_underlying"].items())
        base = sum((Decimal(v) for v in entry["delta_base"].values()), Decimal(0))
        table.add_row(
            entry["id"],
            units,
            f"{base:,.2f}",
            _money(entry["vega"]),
            _money(entry["theta"]),
            _money(entry["var"]),
            _money(entry["expected_shortfall"]),
        )
    return table


def risk(
    file: Annotated[Path, typer.Argument(help="A portfolio document (options need valuation_time and vols).")],
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            metavar="CSV",
            help="CSV of prices in the base currency: a time column (ISO dates, ISO times with a UTC offset, or "
            "numbers), then one column per priced asset, rows in increasing time. Needed for VaR and ES.",
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            metavar="METHOD",
            help="historical, age-weighted, volatility-weighted, parametric or monte-carlo.",
        ),
    ] = Method.HISTORICAL.value,
    level: Annotated[
        str, typer.Option("--level", metavar="LEVEL", help="Confidence level, strictly between 0 and 1.")
    ] = "0.99",
    horizon: Annotated[str, typer.Option("--horizon", metavar="ROWS", help="Horizon in rows of the history.")] = "1",
    convention: Annotated[
        str,
        typer.Option(
            "--convention",
            metavar="CONVENTION",
            help="Empirical tail: standard (VaR the ceil(n(1-level))-th worst loss, ES the mean of the worst "
            "n(1-level)) or inverted-cdf (VaR the ceil(n level)-th smallest, ES the mean at or beyond it).",
        ),
    ] = Tail.STANDARD.value,
    covariance_choice: Annotated[
        str,
        typer.Option(
            "--covariance",
            metavar="ESTIMATOR",
            help="Covariance of one-row returns for parametric, monte-carlo and net exposure: sample (mean "
            "removed, n-1), population (mean removed, n), zero-mean (n) or ewma.",
        ),
    ] = CovarianceChoice.SAMPLE.value,
    ewma_lambda: Annotated[
        str,
        typer.Option(
            "--ewma-lambda", metavar="LAMBDA", help="EWMA decay for --covariance ewma and volatility-weighted."
        ),
    ] = str(RISKMETRICS_LAMBDA),
    age_lambda: Annotated[
        str, typer.Option("--age-lambda", metavar="LAMBDA", help="Decay of the scenario weights of age-weighted.")
    ] = str(HULL_AGE_LAMBDA),
    paths: Annotated[
        str, typer.Option("--paths", metavar="PATHS", help=f"Monte Carlo paths, {MIN_PATHS} to {MAX_PATHS:,}.")
    ] = str(10_000),
    seed: Annotated[str, typer.Option("--seed", metavar="SEED", help="Monte Carlo seed, a whole number >= 0.")] = "7",
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Per account: each position's price and greeks, delta by underlying, VaR and expected shortfall."""

    with user_errors():
        settings = settings_from_options(
            method, level, horizon, convention, covariance_choice, ewma_lambda, age_lambda, paths, seed
        )
        portfolio, _ = load_portfolio(file)
        prices = None if history is None else read_history(history, factors(portfolio))
        document = risk_document(portfolio, prices, settings)
    if json_output:
        typer.echo(json.dumps(document, indent=2))
    else:
        emit_view(_table(document))
