"""A multi-venue contagion scenario as data, read from YAML, and the venues' run configurations it names.

A scenario file is one YAML mapping (only ``name``, ``market`` and ``venues`` are required)::

    name: two-venue                       # letters, digits, '.', '_', '-'
    title: "A whale's liquidation on alpha carried to beta"
    description: >
      Free text: what the scenario imitates and what is assumed.
    sources:                              # the public figures it imitates: (what, where) citations
      - {what: "...", where: "research/incidents.md"}
    market: flash-crash                   # the market path that drives every venue's index: a library
                                          #   stress scenario's name or an inline scenario mapping
                                          #   (docs/scenarios.md's format)
    venues:
      alpha:
        book: {document: alpha.yaml}      # a portfolio document (beside the scenario file, else in the
                                          #   contagion library), or {generate: 500, seed: 3}
        rulebook: generic                 # a generated book's rulebook (a document names its own)
        insurance_fund: 100               # base currency (default: the document's, else 1 % of collateral)
        depth: 0.5                        # multiplier of every instrument's depth (default 1)
        params: {liquidation: {partial: false}}   # a parameter set (docs/stress.md) applied to the venue
        oracle:                           # the venue's oracle reads other venues' own prices: each entry
          - {venue: beta, weight: 0.3, symbols: [BTC]}   # moves `weight` of the symbols' price from the
                                          #   market's index to that venue's own price (default symbols:
                                          #   every underlying both venues list)
        faults:                           # the venue's own oracle faults, the stress scenarios' format
          - {stale: {symbol: BTC, source: s1, start: 60, end: 600}}
        collateral: {asset: USDE, part: 0.4, weight: 0.9}   # every account holds 40 % of its USDT as USDE
                                          #   instead (at price 1, so worth the same at t = 0), counted at
                                          #   weight 0.9; also `price` (default 1), `from` (default USDT)
        own_book: {USDE: s1}              # the venue's oracle prices USDE at source s1 alone (own-venue
                                          #   pricing, docs/oracle.md): a venue fault on s1 is its own book
      beta: {book: {generate: 200, seed: 4}}
    links:
      - arbitrage: {name: ab, venues: [alpha, beta], capacity: 50000, delay: 0, assets: [BTC, ETH]}
                                          # capacity: notional a second (base currency), delay: seconds,
                                          #   assets: what it trades (default: every asset both venues list
                                          #   a linear instrument on)
      - shared_collateral: {name: usde, asset: USDE, priced_by: alpha, venues: [beta], weight: 1}
                                          # beta prices USDE at alpha's own price (weight 1)
      - traders: {name: t, venues: [alpha, beta], owners: {whale: {alpha: w1, beta: w2}}, transfer_delay: 60}
                                          # owners: owner -> venue -> account id; or share: 0.1 (the first
                                          #   tenth of each venue's accounts, in id order, one owner per
                                          #   rank); transfer_delay: seconds, or none (no transfers);
                                          #   asset: what they move (default USDT)

**Own price.** A venue's own price of an asset is its mark of its reference instrument on the asset (its
linear perpetual, else its linear future, the first by name), else its index price of the asset (a collateral
the venue prices on its own book). Prices mix as fractions of their start: a reader's quote of a symbol is its
start price x ((1 - sum of weights) x the market's factor + sum of weight x the source venue's own price over
its start).

**Links.** Each link has a name (default: its kind and venues) and can be switched off by it
(``links_off``): an arbitrage, each oracle entry (``oracle:READER<-SOURCE``), each shared collateral, each
group of traders. Errors name the field's dotted path (``venues.alpha.oracle[0].weight``), prefixed with the
file name for files.
"""

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from crossmargin.liquidation.liquidity import scaled_depth
from crossmargin.live.document import loop_config_of
from crossmargin.model import Asset, Portfolio
from crossmargin.model.document_text import MAX_BYTES, decoded, parse_document, parse_yaml
from crossmargin.model.errors import InputError, field_prefix
from crossmargin.model.numbers import ZERO, bounded, exact
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.scenarios import fields
from crossmargin.sim.scenarios.load import library as stress_library
from crossmargin.sim.scenarios.load import scenario_from_dict
from crossmargin.sim.scenarios.model import SOURCES, Fault, Scenario
from crossmargin.sim.stress.configs import default_insurance_fund, default_liquidity
from crossmargin.sim.stress.params import applied, parameter_set
from crossmargin.sim.stress.runner import StressConfig

LIBRARY: Traversable = files("crossmargin.sim.contagion") / "library"
"""The shipped contagion scenarios (``<name>.yaml``) and the book documents they name."""

MAX_VENUES = 16
MAX_LINKS = 64
MAX_GENERATED = 100_000
"""Most accounts of a generated venue book."""
SWAP_QUANTUM = Decimal("1e-8")
"""A collateral swap's units are rounded down to this quantum."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TOP = ("name", "title", "description", "sources", "market", "venues", "links")
_VENUE = ("book", "rulebook", "insurance_fund", "depth", "params", "oracle", "faults", "collateral", "own_book")
_LINKS = ("arbitrage", "shared_collateral", "traders")


@dataclass(frozen=True)
class BookSource:
    """Where a venue's book comes from: a portfolio ``document`` (a path) or ``generate`` accounts drawn from
    ``seed`` (:func:`crossmargin.sim.population.synthetic_book`)."""

    document: str | None = None
    generate: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class CollateralSwap:
    """Part of every account's holding of ``source`` held as ``asset`` instead: ``part`` (0 < part <= 1) of
    each positive balance of ``source`` moves to ``asset`` at ``price`` (base currency a unit at t = 0; the
    value is kept, the units rounded down to 1e-8), ``asset`` counted at ``weight`` (maintenance and initial)."""

    asset: str
    part: Decimal
    weight: Decimal
    price: Decimal = Decimal(1)
    source: str = "USDT"


@dataclass(frozen=True)
class VenueSpec:
    """One venue: its book, its rulebook (generated books), insurance fund (base currency; None: the
    document's, else the default), depth multiplier, parameter set (raw mapping), its own faults, a
    collateral its accounts hold part of their balances in, and ``own_book``: (symbol, source) pairs its
    oracle prices at that one source (own-venue pricing)."""

    name: str
    book: BookSource
    rulebook: str = "generic"
    insurance_fund: Decimal | None = None
    depth: Decimal = Decimal(1)
    params: Mapping[str, Any] | None = None
    faults: tuple[Fault, ...] = ()
    collateral: CollateralSwap | None = None
    own_book: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Arbitrage:
    """Arbitrage between two venues' own prices: at most ``capacity`` notional a second (base currency,
    each leg), acting on the gap as it stood ``delay_s`` seconds before; the arbitrageur's account holds
    ``collateral`` (base currency; None: capacity x the scenario's duration, so it never trades beyond 1x);
    ``assets``: the assets it trades (None: every asset both venues list a linear instrument on)."""

    name: str
    venues: tuple[str, str]
    capacity: float
    delay_s: float = 0.0
    collateral: Decimal | None = None
    assets: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PriceLink:
    """Readers' oracles read a source venue's own price: ``weight`` of each symbol's price moves from the
    market's index to ``source``'s own price. ``kind``: ``oracle`` (a venue's oracle entry) or
    ``collateral`` (a shared collateral asset priced by one venue's book)."""

    name: str
    kind: str
    readers: tuple[str, ...]
    source: str
    symbols: tuple[str, ...] | None  # None: every underlying the reader and the source both list
    weight: float


@dataclass(frozen=True)
class SharedTraders:
    """Traders present on several venues: ``owners`` maps an owner id to its account id on each venue (or,
    with ``share``, the first share of each venue's accounts in id order, one owner a rank). An account
    whose initial equity falls below its initial margin is topped up in ``asset`` from the owner's other
    accounts' free collateral, arriving ``transfer_delay_s`` seconds later (None: traders move nothing)."""

    name: str
    venues: tuple[str, ...]
    owners: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    share: float | None = None
    transfer_delay_s: float | None = 0.0
    asset: str = "USDT"  # what they move (its units; the need in base currency at its price)


Link = Arbitrage | PriceLink | SharedTraders


def link_kind(link: Link) -> str:
    """arbitrage, oracle, collateral or traders."""
    if isinstance(link, Arbitrage):
        return "arbitrage"
    return link.kind if isinstance(link, PriceLink) else "traders"


@dataclass(frozen=True)
class ContagionScenario:
    """Venues stepped together through ``market``'s path, and the links between them (see module doc).
    ``base``: where the scenario's book documents are looked up first (the scenario file's directory)."""

    name: str
    title: str
    description: str
    sources: tuple[tuple[str, str], ...]
    market: Scenario
    venues: tuple[VenueSpec, ...]
    links: tuple[Link, ...]
    base: str | None = None

    @property
    def link_names(self) -> tuple[str, ...]:
        return tuple(link.name for link in self.links)

    def venue(self, name: str) -> VenueSpec:
        return next(v for v in self.venues if v.name == name)


# --- reading ------------------------------------------------------------------------------------


def library() -> dict[str, ContagionScenario]:
    """Every shipped contagion scenario by name."""
    found = {}
    for entry in sorted(LIBRARY.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml") and not entry.name.startswith("book-"):
            found[entry.name.removesuffix(".yaml")] = _read(entry, entry.name, None)
    return found


def load_contagion(name_or_path: str | Path) -> ContagionScenario:
    """The library scenario called ``name_or_path``, or the scenario in the YAML file at that path."""
    shipped = LIBRARY / f"{name_or_path}.yaml"
    if isinstance(name_or_path, str) and _NAME.match(name_or_path) and shipped.is_file():
        return _read(shipped, shipped.name, None)
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(library()))
        raise InputError("scenario", f"{str(name_or_path)!r} is neither a library scenario ({known}) nor a file")
    return _read(path, path.name, str(path.parent))


def _read(entry: Traversable, origin: str, base: str | None) -> ContagionScenario:
    try:
        with entry.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise InputError(origin, f"cannot read the scenario file: {err.strerror}") from None
    raw = parse_yaml(decoded(data, origin), origin)
    with field_prefix(origin):
        return contagion_from_dict(raw, base)


def contagion_from_dict(raw: Any, base: str | None = None) -> ContagionScenario:
    """The scenario ``raw`` describes (a parsed mapping in the module doc's format); ``base``: the directory
    book documents are looked up in first."""
    doc = fields.mapping(raw, "")
    fields.keys(doc, "", _TOP, ("name", "market", "venues"))
    name = fields.text(doc["name"], "name")
    if not _NAME.match(name):
        raise InputError("name", f"use letters, digits, '.', '_' and '-', got {name!r}")
    market = _market(doc["market"])
    venues_raw = fields.mapping(doc["venues"], "venues")
    if not 1 <= len(venues_raw) <= MAX_VENUES:
        raise InputError("venues", f"give 1 to {MAX_VENUES} venues, got {len(venues_raw)}")
    venues = tuple(_venue(str(key), value) for key, value in venues_raw.items())
    names = [v.name for v in venues]
    links: list[Link] = []
    for venue in venues:
        for i, entry in enumerate(
            fields.listed(venues_raw[venue.name].get("oracle", []), f"venues.{venue.name}.oracle")
        ):
            links.append(_oracle_entry(entry, f"venues.{venue.name}.oracle[{i}]", venue.name, names))
    raw_links = fields.listed(doc.get("links", []), "links")
    if len(raw_links) + len(links) > MAX_LINKS:
        raise InputError("links", f"at most {MAX_LINKS} links (oracle entries counted)")
    for i, entry in enumerate(raw_links):
        links.append(_link(entry, f"links[{i}]", names))
    seen: set[str] = set()
    for link in links:
        if link.name in seen:
            raise InputError("links", f"two links are named {link.name!r}: give each a distinct name")
        seen.add(link.name)
    sources = []
    for i, item in enumerate(fields.listed(doc.get("sources", []), "sources")):
        entry = fields.mapping(item, f"sources[{i}]")
        fields.keys(entry, f"sources[{i}]", ("what", "where"), ("what", "where"))
        sources.append(
            (fields.text(entry["what"], f"sources[{i}].what"), fields.text(entry["where"], f"sources[{i}].where"))
        )
    return ContagionScenario(
        name=name,
        title=fields.text(doc.get("title", name), "title"),
        description=str(doc.get("description", "")).strip(),
        sources=tuple(sources),
        market=market,
        venues=venues,
        links=tuple(links),
        base=base,
    )


def _market(raw: Any) -> Scenario:
    if isinstance(raw, str):
        scenarios = stress_library()
        if raw not in scenarios:
            raise InputError("market", f"unknown library scenario {raw!r}; known: {', '.join(sorted(scenarios))}")
        return scenarios[raw]
    with field_prefix("market"):
        return scenario_from_dict(fields.mapping(raw, ""))


def _venue(name: str, raw: Any) -> VenueSpec:
    field = f"venues.{name}"
    if not _NAME.match(name):
        raise InputError(field, f"a venue's name uses letters, digits, '.', '_' and '-', got {name!r}")
    body = fields.mapping(raw, field)
    fields.keys(body, field, _VENUE, ("book",))
    book = fields.mapping(body["book"], f"{field}.book")
    fields.keys(book, f"{field}.book", ("document", "generate", "seed"), ())
    if ("document" in book) == ("generate" in book):
        raise InputError(f"{field}.book", "give exactly one of document, generate")
    if "document" in book and "seed" in book:
        raise InputError(f"{field}.book.seed", "a seed goes with generate, not with a document")
    source = BookSource(
        document=fields.text(book["document"], f"{field}.book.document") if "document" in book else None,
        generate=_whole(book["generate"], f"{field}.book.generate", 10, MAX_GENERATED) if "generate" in book else None,
        seed=_whole(book.get("seed", 0), f"{field}.book.seed", 0, 2**32 - 1),
    )
    fund = None
    if "insurance_fund" in body:
        fund = _decimal(body["insurance_fund"], f"{field}.insurance_fund")
        if fund < 0:
            raise InputError(f"{field}.insurance_fund", f"must not be negative, got {fund}")
    depth = _decimal(body.get("depth", 1), f"{field}.depth")
    if depth <= 0:
        raise InputError(f"{field}.depth", f"must be positive, got {depth}")
    params = None
    if "params" in body:
        params = dict(fields.mapping(body["params"], f"{field}.params"))
        with field_prefix(f"{field}.params"):
            parameter_set(params, name)
    faults: tuple[Fault, ...] = ()
    if "faults" in body:
        with field_prefix(field):
            faults = scenario_from_dict({"name": name, "step_seconds": 1, "steps": 1, "faults": body["faults"]}).faults
    collateral = _collateral(body["collateral"], f"{field}.collateral") if "collateral" in body else None
    own_book = []
    for symbol, feed in fields.mapping(body.get("own_book", {}), f"{field}.own_book").items():
        at = f"{field}.own_book.{symbol}"
        if fields.text(feed, at) not in SOURCES:
            raise InputError(at, f"a source is one of {', '.join(SOURCES)}, got {feed!r}")
        own_book.append((str(symbol), feed))
    return VenueSpec(
        name, source, fields.text(body.get("rulebook", "generic"), f"{field}.rulebook"), fund, depth, params, faults,
        collateral, tuple(own_book),
    )  # fmt: skip


def _collateral(raw: Any, field: str) -> CollateralSwap:
    body = fields.mapping(raw, field)
    fields.keys(body, field, ("asset", "part", "weight", "price", "from"), ("asset", "part", "weight"))
    part = _decimal(body["part"], f"{field}.part")
    if not 0 < part <= 1:
        raise InputError(f"{field}.part", f"must be above 0 and at most 1, got {part}")
    weight = _decimal(body["weight"], f"{field}.weight")
    if not 0 <= weight <= 1:
        raise InputError(f"{field}.weight", f"must be from 0 to 1, got {weight}")
    price = _decimal(body.get("price", 1), f"{field}.price")
    if price <= 0:
        raise InputError(f"{field}.price", f"must be positive, got {price}")
    asset, source = fields.text(body["asset"], f"{field}.asset"), fields.text(body.get("from", "USDT"), f"{field}.from")
    if asset == source:
        raise InputError(f"{field}.asset", f"is the asset it comes from ({source}): name another")
    return CollateralSwap(asset, part, weight, price, source)


def _oracle_entry(raw: Any, field: str, reader: str, venues: Sequence[str]) -> PriceLink:
    body = fields.mapping(raw, field)
    fields.keys(body, field, ("name", "venue", "weight", "symbols"), ("venue", "weight"))
    source = _venue_name(body["venue"], f"{field}.venue", venues)
    if source == reader:
        raise InputError(f"{field}.venue", "a venue's own price is its index already: name another venue")
    symbols = None
    if "symbols" in body:
        symbols = tuple(
            fields.text(s, f"{field}.symbols[{j}]") for j, s in enumerate(fields.listed(body["symbols"], field))
        )
    name = fields.text(body.get("name", f"oracle:{reader}<-{source}"), f"{field}.name")
    return PriceLink(name, "oracle", (reader,), source, symbols, _weight(body["weight"], f"{field}.weight"))


def _link(raw: Any, field: str, venues: Sequence[str]) -> Link:
    entry = fields.mapping(raw, field)
    fields.keys(entry, field, _LINKS, ())
    if len(entry) != 1:
        raise InputError(field, f"a link is one of {', '.join(_LINKS)}, got {len(entry)} keys")
    kind = next(iter(entry))
    here = f"{field}.{kind}"
    body = fields.mapping(entry[kind], here)
    if kind == "arbitrage":
        fields.keys(body, here, ("name", "venues", "capacity", "delay", "collateral", "assets"), ("venues", "capacity"))
        pair = tuple(
            _venue_name(v, f"{here}.venues[{j}]", venues) for j, v in enumerate(fields.listed(body["venues"], here))
        )
        if len(pair) != 2 or pair[0] == pair[1]:
            raise InputError(f"{here}.venues", "an arbitrage links two different venues")
        capacity = _number(body["capacity"], f"{here}.capacity")
        if capacity <= 0:
            raise InputError(f"{here}.capacity", f"must be positive, got {capacity:g}")
        delay = _number(body.get("delay", 0), f"{here}.delay")
        if delay < 0:
            raise InputError(f"{here}.delay", f"must not be negative, got {delay:g}")
        collateral = None
        if "collateral" in body:
            collateral = _decimal(body["collateral"], f"{here}.collateral")
            if collateral <= 0:
                raise InputError(f"{here}.collateral", f"must be positive, got {collateral}")
        assets = None
        if "assets" in body:
            listed = fields.listed(body["assets"], f"{here}.assets")
            assets = tuple(fields.text(a, f"{here}.assets[{j}]") for j, a in enumerate(listed))
            if not assets:
                raise InputError(f"{here}.assets", "name at least one asset (or leave it out for every one)")
        name = fields.text(body.get("name", f"arbitrage:{pair[0]}-{pair[1]}"), f"{here}.name")
        return Arbitrage(name, (pair[0], pair[1]), capacity, delay, collateral, assets)
    if kind == "shared_collateral":
        fields.keys(body, here, ("name", "asset", "priced_by", "venues", "weight"), ("asset", "priced_by", "venues"))
        asset = fields.text(body["asset"], f"{here}.asset")
        source = _venue_name(body["priced_by"], f"{here}.priced_by", venues)
        readers = tuple(
            _venue_name(v, f"{here}.venues[{j}]", venues)
            for j, v in enumerate(fields.listed(body["venues"], f"{here}.venues"))
        )
        if not readers or source in readers:
            raise InputError(f"{here}.venues", "name the venues that read the price, not the one that makes it")
        name = fields.text(body.get("name", f"collateral:{asset}"), f"{here}.name")
        weight = _weight(body.get("weight", 1), f"{here}.weight")
        return PriceLink(name, "collateral", readers, source, (asset,), weight)
    fields.keys(body, here, ("name", "venues", "owners", "share", "transfer_delay", "asset"), ("venues",))
    members = tuple(
        _venue_name(v, f"{here}.venues[{j}]", venues)
        for j, v in enumerate(fields.listed(body["venues"], f"{here}.venues"))
    )
    if len(set(members)) < 2 or len(set(members)) != len(members):
        raise InputError(f"{here}.venues", "shared traders are on two or more different venues")
    if ("owners" in body) == ("share" in body):
        raise InputError(here, "give exactly one of owners, share")
    owners: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    share = None
    if "owners" in body:
        for owner, accounts in fields.mapping(body["owners"], f"{here}.owners").items():
            at = f"{here}.owners.{owner}"
            placed = fields.mapping(accounts, at)
            for venue in placed:
                if venue not in members:
                    raise InputError(f"{at}.{venue}", f"is not one of the link's venues ({', '.join(members)})")
            if len(placed) < 2:
                raise InputError(at, "an owner holds accounts on two or more venues")
            owners.append((str(owner), tuple((str(v), fields.text(a, f"{at}.{v}")) for v, a in placed.items())))
    else:
        share = _number(body["share"], f"{here}.share")
        if not 0 < share <= 1:
            raise InputError(f"{here}.share", f"must be above 0 and at most 1, got {share:g}")
    delay = body.get("transfer_delay", 0)
    transfer = None if delay is None or delay == "none" else _number(delay, f"{here}.transfer_delay")
    if transfer is not None and transfer < 0:
        raise InputError(f"{here}.transfer_delay", f"must not be negative (or none), got {transfer:g}")
    name = fields.text(body.get("name", f"traders:{'-'.join(members)}"), f"{here}.name")
    asset = fields.text(body.get("asset", "USDT"), f"{here}.asset")
    return SharedTraders(name, members, tuple(owners), share, transfer, asset)


# --- the venues' configurations ----------------------------------------------------------------


DocumentReader = Callable[[str], dict[str, Any]]
"""Reads the portfolio document a venue's ``book.document`` names (a parsed mapping)."""


def read_document(scenario: ContagionScenario) -> DocumentReader:
    """The reader of ``scenario``'s book documents: beside the scenario file first, then the library."""

    def read(name: str) -> dict[str, Any]:
        candidates: list[Traversable] = []
        if scenario.base is not None:
            candidates.append(Path(scenario.base) / name)
        candidates.append(LIBRARY / name)
        for candidate in candidates:
            if candidate.is_file():
                with candidate.open("rb") as handle:
                    return parse_document(decoded(handle.read(MAX_BYTES + 1), name), name)
        raise InputError("document", f"no book document {name!r} (looked beside the scenario and in the library)")

    return read


def venue_configs(scenario: ContagionScenario, read: DocumentReader | None = None) -> dict[str, StressConfig]:
    """Every venue's run configuration (labelled by its name): its book, rules, terms, depth (each
    instrument's model x the venue's multiplier; a book without liquidity gets the calibrated default), fund
    and oracle settings, its parameter set applied. Errors name ``venues.NAME...``."""
    from crossmargin.sim.population import synthetic_book
    from crossmargin.venues import rulebook

    reader = read or read_document(scenario)
    configs = {}
    for venue in scenario.venues:
        with field_prefix(f"venues.{venue.name}"):
            if venue.book.document is not None:
                with field_prefix("book"):
                    raw = reader(venue.book.document)
                    loop = loop_config_of(raw)
                portfolio, rules, terms, oracle = loop.portfolio, loop.rules, loop.terms, loop.oracle
                liquidity = dict(loop.liquidity)
                fund = loop.insurance_fund if "insurance_fund" in raw else None
            else:
                assert venue.book.generate is not None
                portfolio = synthetic_book(venue.book.generate, venue.book.seed)
                book = rulebook(venue.rulebook)
                rules, terms, liquidity, fund, oracle = book.rules, book.liquidation, {}, None, OracleConfig()
            if venue.collateral is not None:
                with field_prefix("collateral"):
                    portfolio = swapped(portfolio, venue.collateral)
            for symbol, feed in venue.own_book:
                if symbol not in portfolio.market.prices:
                    raise InputError(f"own_book.{symbol}", f"the venue's book has no price of {symbol!r}")
                guards = {**oracle.symbols, symbol: replace(oracle.guards(symbol), price_source=feed)}
                oracle = replace(oracle, symbols=guards)
            liquidity = liquidity or default_liquidity(portfolio)
            if venue.depth != 1:
                liquidity = {name: scaled_depth(model, venue.depth) for name, model in liquidity.items()}
            if venue.insurance_fund is not None:
                fund = venue.insurance_fund
            config = StressConfig(
                venue.name, portfolio, rules, terms, liquidity,
                default_insurance_fund(portfolio) if fund is None else fund, oracle,
            )  # fmt: skip
            if venue.params is not None:
                with field_prefix("params"):
                    config = replace(applied(config, parameter_set(venue.params, venue.name)), label=venue.name)
            configs[venue.name] = config
    return configs


def swapped(portfolio: Portfolio, swap: CollateralSwap) -> Portfolio:
    """``portfolio`` with ``swap.part`` of every positive balance of ``swap.source`` held as ``swap.asset`` at
    ``swap.price`` (:class:`CollateralSwap`): the units floored to 1e-8 and only their value taken from
    ``swap.source``, so each account's value at t = 0 is kept; the asset added at ``swap.weight`` and priced at
    ``swap.price``. Raises InputError on ``from`` or ``asset``."""
    if swap.source not in portfolio.assets:
        raise InputError("from", f"the book has no asset {swap.source!r}")
    if swap.asset in portfolio.assets:
        raise InputError("asset", f"the book already has an asset {swap.asset!r}: name a new one")
    source_price = portfolio.market.price(swap.source)
    accounts = []
    with exact():
        for account in portfolio.accounts:
            held = account.balances.get(swap.source, ZERO)
            if held <= 0:
                accounts.append(account)
                continue
            units = (held * swap.part * source_price / swap.price).quantize(SWAP_QUANTUM, ROUND_DOWN)
            moved = units * swap.price / source_price
            balances = {**account.balances, swap.source: held - moved, swap.asset: units}
            accounts.append(replace(account, balances=balances))
    market = replace(portfolio.market, prices={**portfolio.market.prices, swap.asset: swap.price})
    assets = {**portfolio.assets, swap.asset: Asset.simple(swap.asset, swap.weight)}
    return replace(portfolio, assets=assets, market=market, accounts=tuple(accounts))


# --- small validators ---------------------------------------------------------------------------


def _venue_name(raw: Any, field: str, venues: Sequence[str]) -> str:
    name = fields.text(raw, field)
    if name not in venues:
        raise InputError(field, f"unknown venue {name!r}; the scenario's venues: {', '.join(venues)}")
    return name


def _decimal(raw: Any, field: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        raise InputError(field, f"expected a number, got {type(raw).__name__}")
    return bounded(Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw), field)


def _number(raw: Any, field: str) -> float:
    value = float(_decimal(raw, field))
    if not math.isfinite(value):
        raise InputError(field, "must be finite")
    return value


def _weight(raw: Any, field: str) -> float:
    value = _number(raw, field)
    if not 0 < value <= 1:
        raise InputError(field, f"must be above 0 and at most 1, got {value:g}")
    return value


def _whole(raw: Any, field: str, least: int, most: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not least <= raw <= most:
        raise InputError(field, f"must be a whole number from {least} to {most:,}, got {raw!r}")
    return raw
