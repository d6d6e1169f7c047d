"""Duration histograms: fixed buckets, exact merging, and survival and quantiles worked by
hand (durations in working-day numbers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocmon.domain.histogram import (
    BUCKET_COUNT,
    DurationHistogram,
    HistogramError,
    field_for,
    merge,
)

durations = st.lists(st.integers(0, 500), max_size=60)


def h(*values: int) -> DurationHistogram:
    return DurationHistogram.of(values)


def test_each_working_day_up_to_60_has_its_own_field_then_coarser_ones() -> None:
    assert [field_for(d) for d in (0, 1, 5, 60)] == ["0", "1", "5", "60"]
    assert [field_for(d) for d in (61, 70, 71, 365, 366, 9999)] == [
        "70",
        "70",
        "80",
        "365",
        "+Inf",
        "+Inf",
    ]
    with pytest.raises(ValueError, match="never negative"):
        field_for(-1)


def test_the_stored_form_has_only_the_buckets_that_hold_something() -> None:
    assert h(3, 3, 5, 64, 400).to_fields() == {"3": 2, "5": 1, "70": 1, "+Inf": 1}
    assert DurationHistogram.empty().to_fields() == {}


def test_redis_answers_are_read_back_bytes_and_all() -> None:
    read = DurationHistogram.from_fields({b"3": b"2", b"5": b"1", b"+Inf": b"4"})
    assert read == h(3, 3, 5, 400, 400, 400, 400)
    assert read.total == 7
    decoded: dict[str, str | int] = {"3": "2", "+Inf": 1}  # a client with decode_responses
    assert DurationHistogram.from_fields(decoded) == h(3, 3, 500)


def test_a_field_of_other_boundaries_is_refused_with_advice() -> None:
    with pytest.raises(HistogramError, match=r"'65'.*iocmon rebuild"):
        DurationHistogram.from_fields({"65": "1"})
    with pytest.raises(HistogramError, match="negative"):
        DurationHistogram.from_fields({"3": "-1"})
    with pytest.raises(HistogramError, match="not a count"):
        DurationHistogram.from_fields({"3": "two"})


def test_counts_must_fill_every_bucket() -> None:
    with pytest.raises(ValueError, match=f"{BUCKET_COUNT} counts"):
        DurationHistogram((1, 2, 3))


def test_survival_counts_the_samples_that_lasted_longer() -> None:
    four_to_seven = h(4, 5, 6, 7)
    assert [four_to_seven.survival(d) for d in (-1, 3, 4, 5, 6, 7, 30)] == [4, 4, 3, 2, 1, 0, 0]


def test_survival_inside_a_coarse_bucket_spreads_it_evenly() -> None:
    # 61, 65 and 70 all sit in the bucket (60, 70]: beyond 65 lie half of its ten days.
    coarse = h(61, 65, 70)
    assert coarse.survival(60) == 3
    assert coarse.survival(65) == 1.5
    assert coarse.survival(70) == 0


def test_beyond_the_last_bound_all_of_the_overflow_counts_as_longer() -> None:
    assert h(400, 500, 20).survival(365) == 2
    assert h(400, 500, 20).survival(1000) == 2


def test_conditional_survival_on_hand_worked_cases() -> None:
    four_to_seven = h(4, 5, 6, 7)
    assert four_to_seven.conditional_survival(5, given=1) == 0.5  # 6, 7 of all four
    assert four_to_seven.conditional_survival(5, given=4) == pytest.approx(2 / 3)  # of 5, 6, 7
    assert four_to_seven.conditional_survival(3, given=5) == 1.0
    assert four_to_seven.conditional_survival(9, given=7) is None  # nothing lasted beyond 7


def test_quantiles_are_nearest_ranks() -> None:
    four_to_seven = h(4, 5, 6, 7)
    assert [four_to_seven.quantile(q) for q in (0.25, 0.5, 0.75, 1.0)] == [4, 5, 6, 7]
    one_to_ten = h(*range(1, 11))
    assert one_to_ten.quantile(0.7) == 7  # 0.7 * 10 is 7.000000000000001 in floats
    assert one_to_ten.quantile(0.9) == 9


def test_the_conditional_median_counts_only_the_samples_that_lasted_as_long() -> None:
    four_to_seven = h(4, 5, 6, 7)
    assert four_to_seven.quantile(0.5, given=4) == 6  # median of 5, 6, 7
    assert four_to_seven.quantile(0.5, given=7) is None


def test_quantiles_in_coarse_buckets_and_beyond() -> None:
    assert h(*range(61, 71)).quantile(0.5) == 65
    assert h(3, 400, 400).quantile(0.5) is None  # the median lies beyond 365 working days
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        h(3).quantile(0)


@given(durations, durations, durations)
def test_merge_is_the_histogram_of_the_union(a: list[int], b: list[int], c: list[int]) -> None:
    ha, hb, hc = DurationHistogram.of(a), DurationHistogram.of(b), DurationHistogram.of(c)
    assert merge(ha, hb) == DurationHistogram.of(a + b)
    assert merge(ha, hb) == merge(hb, ha)
    assert merge(merge(ha, hb), hc) == merge(ha, merge(hb, hc)) == merge(ha, hb, hc)
    assert merge(ha, DurationHistogram.empty()) == ha
    assert merge(ha, hb).total == len(a) + len(b)


@given(durations, st.integers(-1, 60))
def test_survival_on_a_working_day_is_an_exact_count(values: list[int], days: int) -> None:
    assert DurationHistogram.of(values).survival(days) == sum(1 for v in values if v > days)


@given(durations)
def test_the_stored_form_reads_back_as_the_same_histogram(values: list[int]) -> None:
    histogram = DurationHistogram.of(values)
    stored = {k.encode(): str(v).encode() for k, v in histogram.to_fields().items()}
    assert DurationHistogram.from_fields(stored) == histogram


@given(st.lists(st.integers(0, 60), min_size=1, max_size=60), st.floats(0.01, 1.0))
def test_a_quantile_has_at_least_its_share_of_samples_at_or_below_it(
    values: list[int], q: float
) -> None:
    answer = DurationHistogram.of(values).quantile(q)
    assert answer is not None
    at_or_below = sum(1 for v in values if v <= answer)
    below = sum(1 for v in values if v < answer)
    assert at_or_below >= q * len(values) - 1e-9
    assert below < q * len(values)
