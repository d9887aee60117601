"""Size-scaled weights and rates (Drift's IMF factor), worked by hand on square numbers."""

from crossmargin.model.size_premium import discounted_weight, premium_rate
from tests.builders import D


def test_a_large_holding_counts_at_a_discounted_weight():
    # imf 0.01: 100 units -> 1.1 / (1 + 0.01 x 10) = 1.0, above 0.9: the weight stays 0.9
    assert discounted_weight(D("0.9"), D("0.01"), D(100)) == D("0.9")
    # 10,000 units -> 1.1 / (1 + 0.01 x 100) = 0.55
    assert discounted_weight(D("0.9"), D("0.01"), D(10000)) == D("0.55")
    # 1,000,000 units -> 1.1 / (1 + 10) = 0.1
    assert discounted_weight(D("0.9"), D("0.01"), D(1000000)) == D("0.1")
    # no factor, no discount, however large
    assert discounted_weight(D("0.9"), D(0), D(10**20)) == D("0.9")


def test_a_large_liability_or_position_pays_a_premium_rate():
    # liability weight 1.05, imf 0.01: 100 owed -> max(1.05, 0.84 + 0.1) = 1.05; 10,000 -> 0.84 + 1 = 1.84
    assert premium_rate(D("1.05"), D("0.01"), D(100)) == D("1.05")
    assert premium_rate(D("1.05"), D("0.01"), D(10000)) == D("1.84")
    # margin rate 0.004, imf 0.001, 100 BTC: max(0.004, 0.0032 + 0.001 x 10) = 0.0132
    assert premium_rate(D("0.004"), D("0.001"), D(100)) == D("0.0132")
    assert premium_rate(D("0.004"), D(0), D(10**20)) == D("0.004")
    # nothing held: the rate as written (0.8 r < r)
    assert premium_rate(D("0.05"), D("0.001"), D(0)) == D("0.05")
