"""Risk tiers: brackets resolved from a document's rows (maintenance amounts derived continuous, rates from
max leverage or a maintenance fraction), the bracket of a notional, and every refused table named by field."""

import pytest

from crossmargin.model import InputError, RiskTier, TierSpec, TierTable
from tests.builders import D

# Binance USD-M BTCUSDT brackets as Binance publishes them (leverage and margin tiers page, 2022):
#   notional 0 - 50,000: mmr 0.40 %, maintenance amount 0
#   50,000 - 250,000: 0.50 %, 50;  250,000 - 3,000,000: 1.00 %, 1,300;  3,000,000 - 15,000,000: 2.50 %, 46,300
# The amounts are the continuity amounts: 50,000 x (0.005 - 0.004) = 50; 50 + 250,000 x (0.01 - 0.005) = 1,300;
# 1,300 + 3,000,000 x (0.025 - 0.01) = 46,300.
BINANCE_BTCUSDT = [
    TierSpec(D(50_000), D("0.004"), max_leverage=D(125)),
    TierSpec(D(250_000), D("0.005"), max_leverage=D(100)),
    TierSpec(D(3_000_000), D("0.01"), max_leverage=D(50)),
    TierSpec(D(15_000_000), D("0.025"), max_leverage=D(20)),
]


def test_maintenance_amounts_are_binances_published_ones():
    table = TierTable.build(BINANCE_BTCUSDT)
    assert [t.maint_amount for t in table.tiers] == [D(0), D(50), D(1300), D(46300)]
    assert [t.imr for t in table.tiers] == [D("0.008"), D("0.01"), D("0.02"), D("0.05")]
    # maintenance is continuous at every edge: 250,000 x 0.005 - 50 = 1,200 = 250,000 x 0.01 - 1,300
    for below, above in zip(table.tiers, table.tiers[1:], strict=False):
        assert below.max_notional is not None
        assert below.maintenance(below.max_notional) == above.maintenance(below.max_notional)


def test_a_resolved_bracket_by_hand():
    tier = RiskTier(D(250_000), D("0.005"), D("0.01"), D(50))
    # 100,000 of notional: MM 100,000 x 0.005 - 50 = 450, IM 100,000 x 0.01 = 1,000
    assert (tier.maintenance(D(100_000)), tier.initial(D(100_000))) == (D(450), D(1000))


def test_the_bracket_of_a_notional_is_the_first_that_holds_it():
    table = TierTable.build(BINANCE_BTCUSDT)
    assert [table.index_for(D(n)) for n in (0, 50_000, 50_001, 3_000_000, 20_000_000)] == [0, 0, 1, 2, 3]
    assert table.limit == D(15_000_000)
    assert table.edges() == (D(50_000), D(250_000), D(3_000_000))
    assert TierTable.build([TierSpec(None, D("0.01"), D("0.02"))]).limit is None


def test_maintenance_as_a_fraction_of_initial():
    # Hyperliquid: 50x max leverage -> imr 0.02, maintenance half of it: 0.01
    table = TierTable.build([TierSpec(None, None, max_leverage=D(50))], D("0.5"))
    assert table.tiers[0].mmr == D("0.01")


def test_amounts_not_derived_are_zero_and_given_ones_are_kept():
    specs = [TierSpec(D(100), D("0.005"), D("0.01")), TierSpec(None, D("0.01"), D("0.02"))]
    assert [t.maint_amount for t in TierTable.build(specs, derive_amounts=False).tiers] == [D(0), D(0)]
    given = [specs[0], TierSpec(None, D("0.01"), D("0.02"), maint_amount=D("0.3"))]
    assert TierTable.build(given).tiers[1].maint_amount == D("0.3")


BAD = [
    ("no tier", [], ""),
    ("no initial rate", [TierSpec(None, D("0.01"))], "[0].imr"),
    ("leverage below 1", [TierSpec(None, D("0.01"), max_leverage=D("0.5"))], "[0].max_leverage"),
    ("imr zero", [TierSpec(None, D(0), D(0))], "[0].imr"),
    ("imr disagrees with leverage", [TierSpec(None, D("0.01"), D("0.03"), max_leverage=D(50))], "[0].imr"),
    ("no mmr and no fraction", [TierSpec(None, None, D("0.02"))], "[0].mmr"),
    ("imr below mmr", [TierSpec(None, D("0.02"), D("0.01"))], "[0].imr"),
    ("open bracket not last", [TierSpec(None, D("0.01"), D("0.02")), TierSpec(None, D("0.02"), D("0.04"))],
     "[0].max_notional"),
    ("edges not ascending", [TierSpec(D(100), D("0.01"), D("0.02")), TierSpec(D(100), D("0.02"), D("0.04"))],
     "[1].max_notional"),
    ("mmr falls", [TierSpec(D(100), D("0.02"), D("0.04")), TierSpec(None, D("0.01"), D("0.04"))], "[1].mmr"),
    ("imr falls", [TierSpec(D(100), D("0.01"), D("0.04")), TierSpec(None, D("0.01"), D("0.02"))], "[1].imr"),
    ("negative edge", [TierSpec(D(-5), D("0.01"), D("0.02"))], "[0].max_notional"),
    ("amount above the lower edge's margin",
     [TierSpec(D(100), D("0.01"), D("0.02")), TierSpec(None, D("0.02"), D("0.04"), maint_amount=D("2.01"))],
     "[1].maint_amount"),
]  # fmt: skip


@pytest.mark.parametrize(("specs", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_table_is_refused_naming_the_bracket_and_field(specs, field):
    with pytest.raises(InputError) as err:
        TierTable.build(specs)
    assert err.value.field == field


def test_a_maintenance_fraction_outside_zero_to_one_is_refused():
    with pytest.raises(InputError) as err:
        TierTable.build([TierSpec(None, None, D("0.02"))], D("1.5"))
    assert err.value.field == "maintenance_fraction"
