"""Reconciliation: every recorded fixture (globbed: a new one is picked up) imports, evaluates and reconciles with
each figure agreeing within the venue's display rounding or a named rule accounting for it; the statuses of one
figure; a figure moved away from the venue's is caught."""

from decimal import Decimal
from pathlib import Path

import pytest

from crossmargin.bridge.explanations import Candidate
from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.reconcile import (
    AGREES,
    EXPLAINED,
    MISSING,
    NOTED,
    UNEXPLAINED,
    Line,
    judge,
    reconcile_document,
    rounding_rule,
)
from crossmargin.bridge.responses import read_responses
from crossmargin.model import InputError
from tests.bridge.support import edited, fixture_paths, recording, responses


def reconciled(name: str):
    return reconcile_document(document_from_responses(responses(name)))


def by_figure(name: str) -> dict[tuple[str, str | None, str], Line]:
    return {(a, p, line.figure): line for a, p, line in reconciled(name).lines()}


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.stem)
def test_every_fixture_reconciles_within_rounding_or_by_a_named_rule(path: Path):
    result = reconcile_document(document_from_responses(read_responses(recording(path.stem))))
    lines = list(result.lines())
    assert lines, "a fixture reconciles at least one figure"
    for account, position, line in lines:
        where = f"{path.stem}: {account} {position or 'account'} {line.figure}"
        assert line.status != UNEXPLAINED, f"{where}: ours {line.ours}, venue {line.venue}"
        if line.status == AGREES and line.difference is not None:
            assert abs(line.difference) <= line.tolerance, where
        if line.status in (EXPLAINED, NOTED, MISSING):
            assert line.rule, where
        if line.status == MISSING:
            assert line.venue is None or line.venue == 0, where
            assert line.ours is not None, where  # filled with ours


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.stem)
def test_every_fixture_has_its_positions_and_accounts_reported(path: Path):
    result = reconcile_document(document_from_responses(read_responses(recording(path.stem))))
    held = sum(1 for p in recording(path.stem)["fetch_positions"] if p.get("contracts"))
    assert sum(len(a.positions) for a in result.accounts) == held
    assert all(len(a.lines) == 5 for a in result.accounts)


def test_binance_usdm_short_liquidation_price_is_the_published_formula():
    # Binance's one-way cross formula (fixture notes): with bracket 2 (MMR 0.005, cum 50) and the other
    # position's MM 455.5926254839 and uPnL 1962.22509678 held:
    # (100284.61735942 - 455.5926254839 + 1962.22509678 + 50 + 40 x 2581.37) / (40 x 0.005 + 40)
    # = 205096.0498307161 / 40.2 = 5101.891786833734...; Binance prints 5101.89178683 (truncated)
    line = by_figure("binanceusdm-cross")[("binanceusdm-USDT", "ETH-PERP", "liquidation_price")]
    assert line.status == AGREES
    assert abs(ours(line) - Decimal("205096.0498307161") / Decimal("40.2")) < Decimal("1E-20")
    assert line.venue == Decimal("5101.89178683")


def test_binance_initial_margin_at_the_users_leverage():
    # ours at the bracket's max leverage 100: 101118.52509678 / 100 = 1011.1852509678;
    # Binance at leverage 20: 101118.52509678 / 20 = 5055.926254839 -> printed 5055.92625483
    line = by_figure("binanceusdm-cross")[("binanceusdm-USDT", "BTC-PERP", "initial_margin")]
    assert line.ours == Decimal("1011.1852509678")
    assert line.status == EXPLAINED
    assert line.rule == "initial margin at the user's leverage 20x (ours: the bracket's maximum leverage)"


def test_a_cross_long_without_a_liquidation_price_agrees_with_binances_zero():
    # the wallet carries the BTC long even at a price of 0: Binance prints "0", ours has none
    line = by_figure("binanceusdm-cross")[("binanceusdm-USDT", "BTC-PERP", "liquidation_price")]
    assert (line.ours, line.venue, line.status) == (None, None, AGREES)


def test_binances_missing_margin_ratio_is_filled_with_ours():
    # 913.0750870219 / 104005.1501486 (MM / margin balance, both exact before truncation)
    line = by_figure("binanceusdm-cross")[("binanceusdm-USDT", None, "margin_ratio")]
    assert line.status == MISSING
    assert abs(ours(line) - Decimal("913.0750870219") / Decimal("104005.1501486")) < Decimal("1E-25")
    assert "filled with ours" in rule(line)


def test_bybit_maintenance_margin_with_the_fee_to_close_at_the_users_leverage():
    # ours: 58719.3 x 0.005 + 56921.15 x (1 - 1/100) x 0.00055 = 293.5965 + 30.99356617... (max leverage 100)
    # Bybit: 293.5965 + 56921.15 x (1 - 1/10) x 0.00055 = 293.5965 + 28.17596925 = 321.77246925
    line = by_figure("bybit-unified")[("bybit", "BTC-PERP", "maintenance_margin")]
    assert line.ours == Decimal("293.5965") + Decimal("56921.15") * Decimal("0.99") * Decimal("0.00055")
    assert line.venue == Decimal("321.77246925")
    assert line.status == EXPLAINED
    assert "fee to close at the user's leverage 10x" in rule(line)


def test_okx_margin_ratio_is_the_inverse_of_ours():
    # OKX: eq / (mmr + liquidation fees) = 19232.465 / (420.52902 + 33.3577875) = 42.37282221515...
    line = by_figure("okx-cross")[("okx-USDT", None, "margin_ratio")]
    assert abs(ours(line) - (Decimal("420.52902") + Decimal("33.3577875")) / Decimal("19232.465")) < Decimal("1E-25")
    assert line.status == EXPLAINED
    assert "equity / maintenance margin" in rule(line)


def test_a_figure_moved_off_the_venues_is_unexplained():
    # Binance's maintMargin of BTCUSDT moved by 1 USDT: no rule recomputes 456.59262548
    data = edited("binanceusdm-cross", "fetch_positions", 0, "info", "maintMargin", value="456.59262548")
    result = reconcile_document(document_from_responses(read_responses(data)))
    line = {(p, line.figure): line for _, p, line in result.lines()}[("BTC-PERP", "maintenance_margin")]
    assert line.status == UNEXPLAINED
    assert line.difference == Decimal("456.59262548") - Decimal("455.5926254839")


def ours(line: Line) -> Decimal:
    assert line.ours is not None
    return line.ours


def rule(line: Line) -> str:
    assert line.rule is not None
    return line.rule


def no_candidates():
    return iter(())


def test_judge_statuses():
    eight = Decimal("1E-8")
    exact = judge("equity", "USDT", Decimal(5), Decimal(5), eight, no_candidates())
    assert (exact.status, exact.rule, exact.difference) == (AGREES, None, Decimal(0))
    rounded = judge("equity", "USDT", Decimal("5.000000004"), Decimal(5), eight, no_candidates())
    assert (rounded.status, rounded.rule) == (AGREES, "display rounding to 8 decimals")
    missing = judge("liquidation_price", "price", Decimal(100), Decimal(0), eight, no_candidates(), cross=True)
    assert missing.status == MISSING
    assert missing.rule == "venue reports no liquidation price (0, empty or NaN) under cross: filled with ours"
    zero = judge("maintenance_margin", "USDT", Decimal(3), Decimal(0), eight, no_candidates())
    assert zero.status == MISSING
    far = judge("equity", "USDT", Decimal(5), Decimal(6), eight, no_candidates())
    assert far.status == UNEXPLAINED


def test_judge_tries_candidates_in_order_and_notes_an_unrecomputable_one():
    eight = Decimal("1E-8")
    found = judge(
        "equity", "USDT", Decimal(5), Decimal(6), eight, iter([Candidate(Decimal(7), "a"), Candidate(Decimal(6), "b")])
    )
    assert (found.status, found.rule) == (EXPLAINED, "b")
    noted = judge("equity", "USDT", Decimal(5), Decimal(6), eight, iter([Candidate(None, "documented")]))
    assert (noted.status, noted.rule) == (NOTED, "documented")
    slack = judge("equity", "USDT", Decimal(5), Decimal("6.00000002"), eight, iter([Candidate(Decimal(6), "sum", 2)]))
    assert slack.status == EXPLAINED


def test_rounding_rule_names():
    assert rounding_rule(Decimal("1E-8")) == "display rounding to 8 decimals"
    assert rounding_rule(Decimal("0.1")) == "display rounding to 1 decimals"
    assert rounding_rule(Decimal("0.5")) == "display rounding to the tick 0.5"
    assert rounding_rule(Decimal("10")) == "display rounding to 0 decimals"


def test_a_document_without_reported_sections_is_an_error():
    document = document_from_responses(responses("binanceusdm-cross"))
    for account in document["accounts"]:
        del account["reported"]
    with pytest.raises(InputError) as caught:
        reconcile_document(document)
    assert caught.value.field == "accounts"
