"""How ``RangeSizer`` sizes ``eth_getLogs`` spans from the provider's refusals and the logs seen.

The messages are the proxy's own (``chain.testing.rpcproxy.MESSAGE_FORMATS``), i.e. real providers'
wordings; the sync through the proxy is tested end to end in ``licensing/tests``.
"""

from __future__ import annotations

import pytest

from chain.sync import RangeSizer
from chain.testing.rpcproxy import MESSAGE_FORMATS


def sizer(initial: int = 2000, maximum: int = 100_000, sparse: int = 500) -> RangeSizer:
    return RangeSizer(initial, maximum, sparse)


def results_error(hint_from: int, hint_to: int, cap: int = 50) -> str:
    return MESSAGE_FORMATS["results"].format(max_results=cap, hint_from=hint_from, hint_to=hint_to)


def test_a_range_refusal_with_a_hint_sets_the_span_and_the_maximum():
    s = sizer()
    message = MESSAGE_FORMATS["alchemy"].format(
        max_block_range=500, cap=10_000, hint_from=100, hint_to=599
    )
    s.refused(100, 2099, message)
    assert s.span == 500
    assert s.maximum == 500  # a range limit holds for every later query
    s.served(500, 0)
    assert s.span == 500  # empty ranges grow, but never past the provider's range


@pytest.mark.parametrize(
    ("style", "expected"),
    [("max_range", 500), ("quicknode", 500), ("too_wide", 1000)],  # stated limit, or halve
)
def test_a_range_refusal_without_a_hint_uses_a_stated_limit_or_halves(style, expected):
    s = sizer()
    s.refused(0, 1999, MESSAGE_FORMATS[style].format(max_block_range=500))
    assert s.span == expected


def test_a_correct_result_hint_is_taken_and_the_cap_learned():
    s = sizer()
    s.refused(1000, 1999, results_error(1000, 1149))
    assert s.span == 150
    assert s.result_cap == 50
    assert s.maximum == 100_000  # a result cap says nothing about the range


@pytest.mark.parametrize(
    "hint",
    [(1000, 1999), (1000, 2999), (1999, 1000), (2000, 2999)],
    ids=["equal", "wider", "reversed", "outside"],
)
def test_a_bogus_result_hint_is_ignored(hint):
    s = sizer()
    s.refused(1000, 1999, results_error(*hint))
    assert s.span == 500  # halved: the hint was no smaller range starting where we asked


def test_spans_aim_at_part_of_the_learned_cap_from_the_density_seen():
    s = sizer()
    s.refused(0, 1999, results_error(0, 99, cap=100))
    s.served(100, 100)  # one log per block
    assert s.span == int(100 * RangeSizer.CAP_FILL)  # 70 blocks for 70 logs


def test_density_remembers_earlier_ranges_with_less_weight():
    s = sizer()
    s.served(100, 200)  # a burst: 2 logs per block
    s.served(100, 0)  # then nothing
    # decayed sums: 200 * 0.5 + 0 logs over 100 * 0.5 + 100 blocks -> 2/3 log per block
    assert s.span == int(150 * 500 / 100)
    s.served(s.span, 0)  # the density says 8,250 blocks; growth is capped at eightfold
    assert int((150 * 0.5 + 750) * 500 / 50) > 750 * 8 == s.span


def test_empty_ranges_grow_eightfold_up_to_the_maximum():
    s = sizer(initial=100, maximum=5000)
    s.served(100, 0)
    assert s.span == 800
    s.served(800, 0)
    s.served(5000, 0)
    assert s.span == 5000


def test_the_next_contract_starts_without_the_last_ones_density():
    s = sizer()
    s.refused(0, 1999, MESSAGE_FORMATS["max_range"].format(max_block_range=500))
    s.refused(0, 499, results_error(0, 49))
    s.served(50, 50)  # dense
    s.next_contract()
    assert (s.maximum, s.result_cap) == (500, 50)  # the provider's limits stay
    s.served(50, 0)
    assert s.span == 400  # no memory of the dense contract: an empty range grows eightfold
