"""Stress scenarios from YAML: the shipped library, user files, and their validation.

A scenario file is one YAML mapping. Numbers are read exactly (``0.1`` is ``Decimal("0.1")``) and
checked, then kept as floats for the paths. Every mistake raises
:class:`~crossmargin.model.errors.InputError` naming the field's path (``assets.BTC.gbm.sigma``,
``faults[2].stale.source``), prefixed with the file name for files (``mine.yaml: assets.BTC.gbm.sigma``).
Unknown keys are errors, not ignored. Times are seconds from the start of the scenario; factors are
prices over the price at ``t = 0``; sigmas and mus are annualized (365-day year); see
:mod:`crossmargin.sim.scenarios.model` for the maths of each kind and
:mod:`crossmargin.sim.scenarios.paths` for how paths and random draws are made.

A full example (every key; only ``name`` and ``step_seconds`` are required)::

    name: my-crash                  # letters, digits, '.', '_', '-'
    title: "BTC -30 % in two hours, USDC wobbles on one venue"
    description: >
      Free text: what the scenario imitates and what is assumed.
    sources:                        # the public figures it is built from: (what, where) citations
      - {what: "BTC 43,000 -> 30,000 (-30 %) on 2021-05-19", where: "research/incidents.md row 2"}
    step_seconds: 60                # the grid: times = k x step_seconds, k = 0 .. steps
    steps: 240                      # optional: default the longest table / included scenario
    assets:                         # one path spec per asset; exactly one kind each
      BTC: {table: {file: btcusdt_2021-05-19_1m.csv}}    # CSV `t,price` (t from 0); factor = price / first
                                                          #   price; `interpolate: hold` (default for files)
      ETH: {table: [[0, 1.0], [3600, 0.7], [7200, 0.8]]}  # inline (t, factor) points from (0, 1.0), linear
      BNB: {table: {prices: [[0, 600], [1800, 480]], interpolate: linear}}  # (t, price): divided by the first
      SOL: {gbm: {sigma: 1.2, mu: 0}}                     # geometric Brownian motion, annualized
      LUNA: {jump: {sigma: 0.8, mu: 0, intensity: 24, mean: -0.1, sd: 0.05}}
                                      # + Poisson jumps: `intensity` a day, log-size N(mean, sd²)
      XRP: {garch: {sigma: 0.8, alpha: 0.1, beta: 0.85}}  # GARCH(1,1) variance around sigma (optional
                                                          #   intensity/mean/sd add jumps)
      DOGE: {follow: BTC, beta: 2.0, sigma: 0.5}          # log f = beta log f_BTC (+ own noise of vol sigma)
      "*": {follow: BTC, beta: 1.3}                       # every asset not named: any of the kinds above
    fixed: [USDT, USDC]             # held at 1.0 (stablecoins), never moved by the "*" rule
    correlation:                    # between the shocks of gbm/jump/garch assets; must be positive definite
      SOL: {LUNA: 0.7, XRP: 0.6}
      LUNA: {XRP: 0.5}
    faults:                         # oracle sources are s1, s2, s3
      - {stale: {symbol: BTC, source: s1, start: 600, end: 1800}}     # or `symbols: [BTC, ETH]`
      - {spike: {symbol: BTC-PERP, source: s2, at: 900, factor: 0.8}}
      - {thin_market: {symbol: BTC-PERP, start: 1200, end: 1500, factor: 0.9}}
      - {depeg: {asset: USDC, source: s3, start: 0, end: 7200, price: 0.87}}
      - {depeg: {asset: USDC, source: s3, start: 0, end: 7200, series: {file: usdcusdt.csv, every: 900}}}
                                      # one Depeg a 900 s segment, priced at the series value (held) at
                                      #   the segment start; the CSV's prices are absolute, not factors
      - {venue_price: {asset: USDE, source: s1, start: 2760, end: 5160, price: 0.65}}   # as a depeg
      - {venue_price: {asset: WBETH, source: s1, start: 2760, end: 5160, factors: [[0, 1.0], [2760, 0.12]]}}
                                      # venue s1's own path of WBETH: its price at t = 0 x the factor (the
                                      #   forms of an asset's `table`; times on the scenario's clock); the
                                      #   other sources report the market. Seen by a book whose oracle
                                      #   prices WBETH at s1 alone (price_source: s1, docs/oracle.md)
    liquidity: [[0, 1.0], [1800, 0.2], [7200, 0.6]]  # depth multiplier, linear, held after the last point
    include: [usdc-depeg-2023]      # library scenarios composed in (see below)

Files named by ``file:`` are looked up beside the scenario file, then among the library's data
(``crossmargin/sim/scenarios/library/data``); a file's ``t = 0`` is the scenario's start.

**Composition.** Each included library scenario adds its faults (after this scenario's), its depth
schedules (all schedules multiply) and its sources; its assets come in where this scenario does not
name them (the first include naming an asset wins), its ``"*"`` rule where this scenario has none,
and its correlations between assets taken from it. Followers follow the composed asset of that name.
"""

import csv
import io
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from crossmargin.model.document_text import MAX_BYTES, decoded, parse_yaml
from crossmargin.model.errors import InputError, field_prefix
from crossmargin.model.numbers import bounded, shown
from crossmargin.sim.scenarios import fields
from crossmargin.sim.scenarios.model import (
    OTHERS,
    Clustering,
    Depeg,
    Fault,
    Follow,
    Jumps,
    PathSpec,
    Process,
    Scenario,
    Spike,
    StaleSource,
    Table,
    ThinMarket,
    VenuePrice,
)

LIBRARY: Traversable = files("crossmargin.sim.scenarios") / "library"
"""The shipped scenarios: one ``<name>.yaml`` each, and their price series in ``data/``."""

_DATA: Traversable = LIBRARY / "data"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TOP = (
    "name",
    "title",
    "description",
    "sources",
    "step_seconds",
    "steps",
    "assets",
    "fixed",
    "correlation",
    "faults",
    "liquidity",
    "include",
)
_KINDS = ("table", "gbm", "jump", "garch", "follow")
_FAULTS = ("stale", "spike", "thin_market", "depeg", "venue_price")

MAX_STEP_SECONDS = 365 * 86_400
"""Longest step: a year. With :data:`MAX_STEPS` it keeps every time of the scenario a number the oracle takes
(far below 10^30 seconds)."""
MAX_STEPS = 100_000
"""Most steps of a scenario, given or derived from its tables (ten weeks of one-minute steps; the library's
longest scenario has 1,736): every path, shock and step record has one entry a step. Paths alone take
milliseconds; a stress run of a book of ten accounts takes about 5 ms and 14 kB a step (cross and isolated):
500 s and 1.4 GB at the limit."""
MAX_ASSETS = 100
"""Most assets a scenario names (``assets`` and ``fixed``; ``"*"`` moves any number of others): with
:data:`MAX_STEPS`, the correlated shocks stay within 80 MB."""
MAX_FAULTS = 1_000
"""Most oracle faults of a scenario, its includes' and a depeg series' segments counted: every source of
every symbol looks through them at every step."""

_T = TypeVar("_T")
Resolver = Callable[[str], Scenario]


# --- public -------------------------------------------------------------------------------------


def library() -> dict[str, Scenario]:
    """Every shipped scenario by name (parsed once, then cached)."""
    return dict(_library())


def load_scenario(name_or_path: str | Path) -> Scenario:
    """The library scenario called ``name_or_path``, or the scenario in the YAML file at that path."""
    if isinstance(name_or_path, str) and name_or_path in _library():
        return _library()[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(_library()))
        raise InputError("scenario", f"{str(name_or_path)!r} is neither a library scenario ({known}) nor a file")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise InputError(path.name, f"cannot read the scenario file: {err.strerror}") from None
    raw = parse_yaml(decoded(data, path.name), path.name)
    with _origin(path.name):
        return _scenario(raw, _library_scenario, (path.parent, _DATA))


def scenario_from_dict(raw: Mapping[str, Any], where: str = "") -> Scenario:
    """The scenario described by ``raw`` (a parsed YAML/JSON mapping in the format above).

    Error paths are prefixed with ``where`` (e.g. a file name) when it is given; ``file:`` names are
    looked up among the library's data; ``include`` names library scenarios.
    """
    with _origin(where):
        return _scenario(raw, _library_scenario, (_DATA,))


# --- the library --------------------------------------------------------------------------------


@cache
def _library() -> dict[str, Scenario]:
    raws: dict[str, Any] = {}
    for entry in sorted(LIBRARY.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            raws[entry.name.removesuffix(".yaml")] = parse_yaml(entry.read_text(encoding="utf-8"), entry.name)
    built: dict[str, Scenario] = {}
    building: list[str] = []

    def resolve(name: str) -> Scenario:
        if name in built:
            return built[name]
        if name not in raws:
            raise InputError("", f"unknown library scenario {name!r}; known: {', '.join(sorted(raws))}")
        if name in building:
            raise InputError("", f"scenarios include each other: {' -> '.join([*building, name])}")
        building.append(name)
        try:
            with _origin(f"{name}.yaml"):
                scenario = _scenario(raws[name], resolve, (_DATA,))
                if scenario.name != name:
                    raise InputError("name", f"is {scenario.name!r}: a library file is named after its scenario")
        finally:
            building.pop()
        built[name] = scenario
        return scenario

    return {name: resolve(name) for name in raws}


def _library_scenario(name: str) -> Scenario:
    try:
        return _library()[name]
    except KeyError:
        raise InputError("", f"unknown library scenario {name!r}; known: {', '.join(sorted(_library()))}") from None


# --- the document -------------------------------------------------------------------------------


def _scenario(raw: Any, resolve: Resolver, bases: Sequence[Traversable]) -> Scenario:
    doc = fields.mapping(raw, "")
    fields.keys(doc, "", _TOP, required=("name", "step_seconds"))
    name = fields.text(doc["name"], "name")
    if not _NAME.match(name):
        raise InputError(
            "name", f"use letters, digits, '.', '_' and '-' (starting with a letter or digit), got {name!r}"
        )
    step_seconds = _whole(doc["step_seconds"], "step_seconds", MAX_STEP_SECONDS)
    given_steps = _whole(doc["steps"], "steps", MAX_STEPS) if "steps" in doc else None
    named = len(fields.mapping(doc.get("assets", {}), "assets")) + len(fields.listed(doc.get("fixed", []), "fixed"))
    _at_most(named, MAX_ASSETS, "assets", "assets named (under assets and fixed)")
    _at_most(len(fields.listed(doc.get("faults", []), "faults")), MAX_FAULTS, "faults", "faults")
    includes = _includes(doc.get("include", []), resolve)

    own = _assets(doc.get("assets", {}), bases)
    others = own.pop(OTHERS, None)
    for i, item in enumerate(fields.listed(doc.get("fixed", []), "fixed")):
        asset = fields.text(item, f"fixed[{i}]")
        if asset == OTHERS or asset in own:
            raise InputError(f"fixed[{i}]", f"{asset!r} is also given a path under assets")
        own[asset] = Table((0.0,), (1.0,), "hold", "fixed")

    assets, origin = dict(own), dict.fromkeys(own, "")
    for included in includes:
        for asset, spec in included.assets:
            if asset not in assets:
                assets[asset], origin[asset] = spec, included.name
        if others is None:
            others = included.others
    correlation = _correlation(doc.get("correlation", {}), assets)
    for included in includes:
        correlation += [
            (a, b, rho) for a, b, rho in included.correlation if origin.get(a) == origin.get(b) == included.name
        ]

    faults = _faults(doc.get("faults", []), bases)
    liquidity = [] if "liquidity" not in doc else [tuple(_points(doc["liquidity"], "liquidity", factors=False))]
    sources = _sources(doc.get("sources", []))
    for included in includes:
        faults += included.faults
        liquidity += included.liquidity
        sources += [source for source in included.sources if source not in sources]
    _at_most(len(faults), MAX_FAULTS, "faults", "faults (its own, a depeg series' segments and its includes')")

    if given_steps is not None:
        steps = given_steps
    else:
        spans = [spec.span for spec in (*assets.values(), others) if isinstance(spec, Table)]
        spans += [included.duration for included in includes]
        if not spans or max(spans) <= 0:
            raise InputError("steps", "is required: no table or included scenario gives the scenario's length")
        steps = max(1, math.ceil(max(spans) / step_seconds))
        if steps > MAX_STEPS:
            raise InputError(
                "steps",
                f"its tables span {max(spans):g} s: {steps:,} steps of {step_seconds} s, more than {MAX_STEPS:,}; "
                "give steps or a longer step_seconds",
            )

    return Scenario(
        name=name,
        title=fields.text(doc.get("title", name), "title"),
        description=fields.text(doc.get("description", ""), "description", empty=True).strip(),
        sources=tuple(sources),
        step_seconds=step_seconds,
        steps=steps,
        assets=tuple(sorted(assets.items())),
        others=others,
        correlation=tuple(sorted(correlation)),
        faults=tuple(faults),
        liquidity=tuple(liquidity),
        includes=tuple(included.name for included in includes),
    )


def _includes(raw: Any, resolve: Resolver) -> list[Scenario]:
    included: list[Scenario] = []
    for i, item in enumerate(fields.listed(raw, "include")):
        with field_prefix(f"include[{i}]"):
            included.append(resolve(fields.text(item, "")))
    return included


def _sources(raw: Any) -> list[tuple[str, str]]:
    sources: list[tuple[str, str]] = []
    for i, item in enumerate(fields.listed(raw, "sources")):
        field = f"sources[{i}]"
        entry = fields.mapping(item, field)
        fields.keys(entry, field, ("what", "where"), required=("what", "where"))
        sources.append((fields.text(entry["what"], f"{field}.what"), fields.text(entry["where"], f"{field}.where")))
    return sources


# --- assets -------------------------------------------------------------------------------------


def _assets(raw: Any, bases: Sequence[Traversable]) -> dict[str, PathSpec]:
    specs: dict[str, PathSpec] = {}
    for asset, value in fields.mapping(raw, "assets").items():
        if not isinstance(asset, str) or not asset:
            raise InputError("assets", f"asset names are non-empty strings, got {asset!r}")
        specs[asset] = _spec(value, f"assets.{asset}", bases)
    return specs


def _spec(raw: Any, field: str, bases: Sequence[Traversable]) -> PathSpec:
    spec = fields.mapping(raw, field)
    if "follow" in spec:
        fields.keys(spec, field, ("follow", "beta", "sigma"), required=("follow",))
        target = fields.text(spec["follow"], f"{field}.follow")
        beta, sigma = _number(spec.get("beta", 1), f"{field}.beta"), _number(spec.get("sigma", 0), f"{field}.sigma")
        return _build(field, lambda: Follow(target, beta, sigma))
    kinds = [key for key in spec if key in _KINDS]
    fields.keys(spec, field, _KINDS, required=())
    if len(kinds) != 1:
        raise InputError(field, f"give exactly one of {', '.join(_KINDS)}, got {len(kinds)}")
    kind = kinds[0]
    here = f"{field}.{kind}"
    if kind == "table":
        return _table(spec[kind], here, bases)
    body = fields.mapping(spec[kind], here)
    jump_keys = ("intensity", "mean", "sd")
    if kind == "gbm":
        fields.keys(body, here, ("sigma", "mu"), required=("sigma",))
    elif kind == "jump":
        fields.keys(body, here, ("sigma", "mu", *jump_keys), required=("sigma", *jump_keys))
    else:
        fields.keys(body, here, ("sigma", "mu", "alpha", "beta", *jump_keys), required=("sigma", "alpha", "beta"))
        given = [key for key in jump_keys if key in body]
        if given and len(given) != len(jump_keys):
            raise InputError(here, f"jumps need all of {', '.join(jump_keys)}, got only {', '.join(given)}")
    values = {key: _number(value, f"{here}.{key}") for key, value in body.items()}
    jumps = _build(here, lambda: Jumps(values["intensity"], values["mean"], values["sd"])) if "sd" in values else None
    clustering = _build(here, lambda: Clustering(values["alpha"], values["beta"])) if kind == "garch" else None
    return _build(here, lambda: Process(values["sigma"], values.get("mu", 0.0), jumps, clustering))


def _table(raw: Any, field: str, bases: Sequence[Traversable]) -> Table:
    if isinstance(raw, list):
        times, factors = zip(*_points(raw, field, factors=True), strict=True)
        return _build(field, lambda: Table(times, factors, "linear", "inline"))
    body = fields.mapping(raw, field)
    fields.keys(body, field, ("points", "prices", "file", "interpolate"), required=())
    given = [key for key in ("points", "prices", "file") if key in body]
    if len(given) != 1:
        raise InputError(field, f"give exactly one of points, prices, file, got {len(given)}")
    form = given[0]
    interpolate = body.get("interpolate", "hold" if form == "file" else "linear")
    if interpolate not in ("linear", "hold"):
        raise InputError(f"{field}.interpolate", f"must be linear or hold, got {interpolate!r}")
    origin = "inline"
    if form == "points":
        times, values = zip(*_points(body["points"], f"{field}.points", factors=True), strict=True)
    elif form == "prices":
        times, values = zip(*_points(body["prices"], f"{field}.prices", factors=False), strict=True)
    else:
        origin = fields.text(body["file"], f"{field}.file")
        times, values = _series(origin, f"{field}.file", bases)
    if form != "points":
        values = tuple(value / values[0] for value in values)
    return _build(field, lambda: Table(tuple(times), tuple(values), interpolate, origin))


def _points(raw: Any, field: str, factors: bool) -> list[tuple[float, float]]:
    """``[[t, value], ...]`` from t = 0, times increasing, values positive (factors: the first is 1)."""
    items = fields.listed(raw, field)
    if not items:
        raise InputError(field, "needs at least one [t, value] point")
    points: list[tuple[float, float]] = []
    for i, item in enumerate(items):
        here = f"{field}[{i}]"
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise InputError(here, f"a point is [t seconds, value], got {item!r}")
        t = _number(item[0], f"{here}[0]")
        value = _number(item[1], f"{here}[1]")
        if not i and t != 0:
            raise InputError(f"{here}[0]", f"the first point is at t = 0, got {t:g}")
        if points and t <= points[-1][0]:
            raise InputError(f"{here}[0]", f"times must increase, got {t:g} after {points[-1][0]:g}")
        if value <= 0:
            raise InputError(f"{here}[1]", f"must be positive, got {value:g}")
        if factors and not i and value != 1:
            raise InputError(f"{here}[1]", f"a path of factors starts at 1.0, got {value:g}")
        points.append((t, value))
    return points


def _correlation(raw: Any, assets: Mapping[str, PathSpec]) -> list[tuple[str, str, float]]:
    pairs: dict[tuple[str, str], str] = {}
    correlation: list[tuple[str, str, float]] = []
    for a, row in fields.mapping(raw, "correlation").items():
        for b, value in fields.mapping(row, f"correlation.{a}").items():
            field = f"correlation.{a}.{b}"
            for asset in (a, b):
                if not isinstance(assets.get(asset), Process):
                    raise InputError(field, f"{asset!r} is not a gbm, jump or garch asset of the scenario")
            if a == b:
                raise InputError(field, "an asset's correlation with itself is 1 by definition")
            rho = _number(value, field)
            if not -1 <= rho <= 1:
                raise InputError(field, f"must be between -1 and 1, got {rho:g}")
            key = (min(a, b), max(a, b))
            if key in pairs:
                raise InputError(field, f"is given twice (also {pairs[key]})")
            pairs[key] = field
            correlation.append((*key, rho))
    return correlation


# --- faults -------------------------------------------------------------------------------------


def _faults(raw: Any, bases: Sequence[Traversable]) -> list[Fault]:
    faults: list[Fault] = []
    for i, item in enumerate(fields.listed(raw, "faults")):
        field = f"faults[{i}]"
        entry = fields.mapping(item, field)
        fields.keys(entry, field, _FAULTS, required=())
        if len(entry) != 1:
            raise InputError(field, f"a fault is one of {', '.join(_FAULTS)}, got {len(entry)} keys")
        kind = next(iter(entry))
        faults += _fault(kind, fields.mapping(entry[kind], f"{field}.{kind}"), f"{field}.{kind}", bases)
    return faults


def _fault(kind: str, body: Mapping[str, Any], field: str, bases: Sequence[Traversable]) -> list[Fault]:
    """The faults of one entry; its values are read (errors naming ``field.key``) before the fault is built
    (whose own errors, e.g. an unknown source, come back under ``field``)."""

    def num(key: str) -> float:
        return _number(body[key], f"{field}.{key}")

    def text(key: str) -> str:
        return fields.text(body[key], f"{field}.{key}")

    if kind == "stale":
        fields.keys(body, field, ("symbol", "symbols", "source", "start", "end"), required=("source", "start", "end"))
        if ("symbol" in body) == ("symbols" in body):
            raise InputError(field, "give exactly one of symbol, symbols")
        symbols = (
            [text("symbol")]
            if "symbol" in body
            else [
                fields.text(s, f"{field}.symbols[{j}]")
                for j, s in enumerate(fields.listed(body["symbols"], f"{field}.symbols"))
            ]
        )

        source, start, end = text("source"), num("start"), num("end")

        def stale(symbol: str) -> StaleSource:
            return _build(field, lambda: StaleSource(symbol, source, start, end))

        return [stale(symbol) for symbol in symbols]
    if kind == "spike":
        fields.keys(body, field, ("symbol", "source", "at", "factor"), required=("symbol", "source", "at", "factor"))
        symbol, source, at, factor = text("symbol"), text("source"), num("at"), num("factor")
        return [_build(field, lambda: Spike(symbol, source, at, factor))]
    if kind == "thin_market":
        fields.keys(body, field, ("symbol", "start", "end", "factor"), required=("symbol", "start", "end", "factor"))
        symbol, start, end, factor = text("symbol"), num("start"), num("end"), num("factor")
        return [_build(field, lambda: ThinMarket(symbol, start, end, factor))]
    if kind == "venue_price":
        keys = ("asset", "source", "start", "end")
        fields.keys(body, field, (*keys, "price", "factors"), required=keys)
        if ("price" in body) == ("factors" in body):
            raise InputError(field, "give exactly one of price, factors")
        asset, source, start, end = text("asset"), text("source"), num("start"), num("end")
        if "price" in body:
            price = num("price")
            return [_build(field, lambda: VenuePrice(asset, source, start, end, price=price))]
        table = _table(body["factors"], f"{field}.factors", bases)
        return [_build(field, lambda: VenuePrice(asset, source, start, end, factors=table))]
    fields.keys(
        body,
        field,
        ("asset", "source", "start", "end", "price", "series"),
        required=("asset", "source", "start", "end"),
    )
    if ("price" in body) == ("series" in body):
        raise InputError(field, "give exactly one of price, series")
    asset, source, start, end = text("asset"), text("source"), num("start"), num("end")
    if "price" in body:
        price = num("price")
        return [_build(field, lambda: Depeg(asset, source, start, end, price))]
    here = f"{field}.series"
    series = fields.mapping(body["series"], here)
    fields.keys(series, here, ("file", "every"), required=("file", "every"))
    times, prices = _series(fields.text(series["file"], f"{here}.file"), f"{here}.file", bases)
    every = _number(series["every"], f"{here}.every")
    if every <= 0:
        raise InputError(f"{here}.every", f"must be positive, got {every:g}")
    _build(field, lambda: Depeg(asset, source, start, end, 1.0))  # checks the window and names
    _at_most(math.ceil((end - start) / every), MAX_FAULTS, f"{here}.every", f"segments of {every:g} s")
    table = Table(times, tuple(p / prices[0] for p in prices), "hold", "series")
    segments: list[Fault] = []
    k = 0
    while (at := start + k * every) < end:
        price = prices[_held_index(table, at)]
        segments.append(Depeg(asset, source, at, min(at + every, end), price))
        k += 1
    return segments


def _held_index(table: Table, t: float) -> int:
    """The index of the last point of ``table`` at or before ``t``."""
    low, high = 0, len(table.times)
    while high - low > 1:
        middle = (low + high) // 2
        if table.times[middle] <= t:
            low = middle
        else:
            high = middle
    return low


# --- price series files -------------------------------------------------------------------------

_SERIES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}


def _series(name: str, field: str, bases: Sequence[Traversable]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Times and prices of the CSV file ``name`` (header ``t,price``; t in seconds from 0, increasing)."""
    located = _locate(name, bases)
    if located is None:
        raise InputError(field, f"no price series file {name!r} (looked beside the scenario and in the library data)")
    key = str(located)
    if key not in _SERIES:
        try:
            with located.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
            text = decoded(data, name)
        except OSError as err:
            raise InputError(field, f"{name}: cannot be read: {err.strerror}") from None
        except InputError as err:
            raise InputError(field, f"{name}: {err.message}") from None
        _SERIES[key] = _parse_series(text, name, field)
    return _SERIES[key]


def _locate(name: str, bases: Sequence[Traversable]) -> Traversable | None:
    if Path(name).is_absolute():
        return Path(name) if Path(name).is_file() else None
    for base in bases:
        candidate = base
        for part in Path(name).parts:
            candidate = candidate / part
        if candidate.is_file():
            return candidate
    return None


def _parse_series(text: str, name: str, field: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as err:
        raise InputError(field, f"{name}: not a CSV file ({err})") from None
    if not rows or [cell.strip().lower() for cell in rows[0][:2]] != ["t", "price"]:
        raise InputError(field, f"{name}: the first line must be the header t,price")
    times: list[float] = []
    prices: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            t, price = float(bounded(Decimal(row[0]), "t")), float(bounded(Decimal(row[1]), "price"))
        except (ArithmeticError, IndexError):
            raise InputError(field, f"{name} line {line}: expected two numbers t,price, got {row!r}") from None
        except InputError as err:
            raise InputError(field, f"{name} line {line}: {err.field} {err.message}") from None
        if price <= 0:
            raise InputError(field, f"{name} line {line}: the price must be positive, got {row!r}")
        if (not times and t != 0) or (times and t <= times[-1]):
            raise InputError(field, f"{name} line {line}: times start at 0 and increase, got {t:g}")
        times.append(t)
        prices.append(price)
    if not times:
        raise InputError(field, f"{name}: no rows")
    return tuple(times), tuple(prices)


# --- small validators ---------------------------------------------------------------------------


@contextmanager
def _origin(prefix: str) -> Iterator[None]:
    """Prefix the field of any :class:`InputError` raised in the block with ``prefix: ``."""
    try:
        yield
    except InputError as err:
        if not prefix:
            raise
        raise InputError(f"{prefix}: {err.field}" if err.field else prefix, err.message) from None


def _build(field: str, make: Callable[[], _T]) -> _T:
    """``make()``, with the field of a model error put under ``field``."""
    with field_prefix(field):
        return make()


def _number(raw: Any, field: str) -> float:
    """A number as a float, once it has passed the input boundary exactly
    (:func:`crossmargin.model.numbers.bounded`)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        raise InputError(field, f"expected a number, got {fields.kind_of(raw)}")
    return float(bounded(Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw), field))


def _whole(raw: Any, field: str, most: int | None = None) -> int:
    """A whole number from 1 (to ``most``)."""
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise InputError(field, f"must be a whole number >= 1, got {fields.kind_of(raw)}")
    if most is not None and raw > most:
        raise InputError(field, f"must be at most {most:,}, got {shown(raw)}")
    return raw


def _at_most(count: int, most: int, field: str, what: str) -> None:
    """Refuse ``count`` of ``what`` beyond ``most``, before any of them is built."""
    if count > most:
        raise InputError(field, f"{count:,} {what}: at most {most:,}")
