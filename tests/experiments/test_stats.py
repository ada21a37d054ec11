"""experiments/stats.py against textbook worked examples, scipy's own implementations, seeded
Monte Carlo estimates and seeded simulations of A/A tests looked at every day."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from experiments import stats

# -- one arm: Wilson -----------------------------------------------------------------------------


def test_wilson_interval_matches_newcombes_worked_examples():
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I
    # method 3 (score, no continuity correction): 81/263 → 0.2553 to 0.3662; 15/148 → 0.0624 to 0.1605.
    e = stats.proportion(81, 263)
    assert (round(e.low, 4), round(e.high, 4)) == (0.2553, 0.3662)
    e = stats.proportion(15, 148)
    assert (round(e.low, 4), round(e.high, 4)) == (0.0624, 0.1605)


@pytest.mark.parametrize("c,n", [(0, 10), (1, 29), (10, 10), (37, 1000), (4100, 100000)])
def test_wilson_interval_matches_scipy(c, n):
    expected = sps.binomtest(c, n).proportion_ci(confidence_level=0.95, method="wilson")
    e = stats.proportion(c, n)
    assert e.value == c / n
    assert e.low == pytest.approx(expected.low, abs=1e-12)
    assert e.high == pytest.approx(expected.high, abs=1e-12)


def test_an_empty_arm_has_no_rate_and_impossible_counts_are_refused():
    assert stats.proportion(0, 0) == stats.Estimate(None, None, None)
    with pytest.raises(ValueError, match=r"conversions \(11\) exceed the contacts exposed \(10\)"):
        stats.proportion(11, 10)
    with pytest.raises(ValueError, match="must not be negative"):
        stats.two_proportion_p_value(-1, 10, 1, 10)
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        stats.proportion(1, 10, alpha=5)


# -- two arms: z test, absolute and relative lift -------------------------------------------------


def test_two_proportion_test_worked_example():
    # 48/80 (control) against 56/70 (Newcombe 1998, second paper, example (a)): pooled rate 104/150,
    # z = 0.2 / sqrt(0.6933 · 0.3067 · (1/80 + 1/70)) = 2.650, two-sided p = 0.0080.
    assert stats.two_proportion_p_value(48, 80, 56, 70) == pytest.approx(0.00805, abs=5e-5)


@pytest.mark.parametrize(
    "counts", [(48, 80, 56, 70), (320, 10000, 410, 10000), (5, 60, 2, 75), (3100, 99000, 3290, 101000)]
)
def test_two_proportion_test_equals_scipys_chi_square_without_yates(counts):
    c_a, n_a, c_b, n_b = counts
    table = [[c_a, n_a - c_a], [c_b, n_b - c_b]]
    expected = sps.chi2_contingency(table, correction=False).pvalue
    assert stats.two_proportion_p_value(*counts) == pytest.approx(expected, rel=1e-9)


def test_two_proportion_test_without_variance_or_without_contacts():
    assert stats.two_proportion_p_value(0, 100, 0, 100) == 1.0
    assert stats.two_proportion_p_value(100, 100, 50, 50) == 1.0
    assert stats.two_proportion_p_value(0, 0, 3, 100) is None


def test_absolute_lift_matches_newcombes_wald_interval():
    # Newcombe (1998), "Interval estimation for the difference between independent proportions",
    # example (a) 56/70 − 48/80, method 1 (simple asymptotic): 0.2000, interval 0.0575 to 0.3425.
    e = stats.absolute_lift(48, 80, 56, 70)
    assert e.value == pytest.approx(0.2)
    assert (round(e.low, 4), round(e.high, 4)) == (0.0575, 0.3425)


def test_relative_lift_delta_method_by_hand():
    # control 320/10,000 = 3.2 %, variant 410/10,000 = 4.1 %: lift 28.125 %;
    # Var = .032·.968·.041² / (.032⁴·10⁴) + .041·.959 / (.032²·10⁴)
    e = stats.relative_lift(320, 10000, 410, 10000)
    p_a, p_b = 0.032, 0.041
    variance = p_a * (1 - p_a) * p_b**2 / (p_a**4 * 1e4) + p_b * (1 - p_b) / (p_a**2 * 1e4)
    assert e.value == pytest.approx(0.28125)
    assert e.low == pytest.approx(0.28125 - 1.959964 * math.sqrt(variance), abs=1e-6)
    assert e.high == pytest.approx(0.28125 + 1.959964 * math.sqrt(variance), abs=1e-6)
    assert (round(e.low, 3), round(e.high, 3)) == (0.097, 0.465)  # "+28 % (+10 % to +47 %)"


def test_relative_lift_interval_covers_the_true_lift_about_95_percent_of_the_time():
    rng = np.random.default_rng(14)
    p_a, p_b, n = 0.04, 0.05, 20000
    truth = (p_b - p_a) / p_a
    c_a, c_b = rng.binomial(n, p_a, 2000), rng.binomial(n, p_b, 2000)
    covered = [
        (e := stats.relative_lift(int(a), n, int(b), n)).low <= truth <= e.high
        for a, b in zip(c_a, c_b, strict=True)
    ]
    assert 0.93 <= np.mean(covered) <= 0.97


def test_relative_lift_over_a_control_without_conversions_is_not_a_number():
    assert stats.relative_lift(0, 100, 5, 100) == stats.Estimate(None, None, None)


# -- Welch ---------------------------------------------------------------------------------------


def test_welch_t_test_matches_scipy_on_summary_statistics():
    rng = np.random.default_rng(3)
    a = rng.gamma(2.0, 0.05, size=400)  # cost per contact, skewed
    b = rng.gamma(2.0, 0.06, size=250)
    expected = sps.ttest_ind(b, a, equal_var=False)
    interval = expected.confidence_interval(0.95)
    r = stats.welch_t_test(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b))
    assert r.t == pytest.approx(expected.statistic, rel=1e-9)
    assert r.df == pytest.approx(expected.df, rel=1e-9)
    assert r.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert (r.low, r.high) == (pytest.approx(interval.low, rel=1e-9), pytest.approx(interval.high, rel=1e-9))


def test_welch_from_the_sums_sql_returns():
    values = [0.05, 0.10, 0.10, 0.15, 0.40]
    mean, variance = stats.mean_and_variance(sum(values), sum(v * v for v in values), len(values))
    assert mean == pytest.approx(np.mean(values))
    assert variance == pytest.approx(np.var(values, ddof=1))
    assert stats.mean_and_variance(1.0, 1.0, 1) is None
    assert stats.welch_t_test(1.0, 0.0, 10, 1.0, 0.0, 10) is None


# -- Bayesian ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts",
    [(32, 1000, 41, 1000), (3, 40, 1, 35), (3200, 100000, 3290, 100000), (0, 50, 0, 50), (12, 300, 30, 310)],
)
def test_chance_to_beat_control_and_expected_loss_agree_with_monte_carlo(counts):
    c_a, n_a, c_b, n_b = counts
    rng = np.random.default_rng(2026)
    a = rng.beta(1 + c_a, 1 + n_a - c_a, 400_000)
    b = rng.beta(1 + c_b, 1 + n_b - c_b, 400_000)
    r = stats.bayesian(*counts)

    def close(value, samples):  # within 4 Monte Carlo standard errors
        return abs(value - samples.mean()) <= 4 * samples.std() / math.sqrt(samples.size) + 1e-9

    assert close(r.chance_to_beat_control, (b > a).astype(float))
    assert close(r.expected_loss_variant, np.maximum(a - b, 0))
    assert close(r.expected_loss_control, np.maximum(b - a, 0))


def test_chance_to_beat_control_exact_small_case():
    # Beta(1, 2) control against Beta(2, 1) variant: P(B > A) = 5/6, E[(A - B)+] = 1/30.
    r = stats.bayesian(0, 1, 1, 1)
    assert r.chance_to_beat_control == pytest.approx(5 / 6, abs=1e-9)
    assert r.expected_loss_variant == pytest.approx(1 / 30, abs=1e-9)
    assert r.expected_loss_control - r.expected_loss_variant == pytest.approx(2 / 3 - 1 / 3, abs=1e-9)


def test_chance_to_beat_control_is_deterministic_and_an_empty_arm_has_none():
    assert stats.bayesian(320, 10000, 410, 10000) == stats.bayesian(320, 10000, 410, 10000)
    assert stats.bayesian(0, 0, 3, 10) is None


# -- sequential ----------------------------------------------------------------------------------

SIMULATIONS, DAYS, PER_DAY, RATE = 300, 30, 400, 0.05


def _daily_looks(rng, p_a, p_b):
    """Cumulative counts per day for SIMULATIONS experiments: shape (SIMULATIONS, DAYS, 4)."""
    n = np.full((SIMULATIONS, DAYS), PER_DAY)
    c_a = rng.binomial(PER_DAY, p_a, (SIMULATIONS, DAYS)).cumsum(axis=1)
    c_b = rng.binomial(PER_DAY, p_b, (SIMULATIONS, DAYS)).cumsum(axis=1)
    return np.stack([c_a, n.cumsum(axis=1), c_b, n.cumsum(axis=1)], axis=2).tolist()


def test_sequential_mode_holds_its_error_rate_on_aa_tests_checked_every_day():
    # given 300 A/A tests (both arms convert at 5 %), 400 contacts per arm per day, looked at
    # after each of 30 days, τ² tuned for 6,000 contacts per arm
    tau2 = stats.sequential_mixture_variance(RATE, 6000)
    looks = _daily_looks(np.random.default_rng(1), RATE, RATE)
    # when an analyst stops at the first day the result looks significant
    always_valid = sum(stats.sequential_test(series, tau2).p_value < 0.05 for series in looks)
    peeking = sum(any(stats.two_proportion_p_value(*day) < 0.05 for day in series) for series in looks)
    # then the sequential mode declares a false winner in at most 5 % (+ 2 standard errors)
    assert always_valid / SIMULATIONS <= 0.05 + 0.025
    # and the fixed-horizon test read every day does not: this check can fail
    assert peeking / SIMULATIONS > 0.10


def test_sequential_interval_covers_a_real_difference_on_every_day():
    tau2 = stats.sequential_mixture_variance(RATE, 6000)
    truth = 0.06 - RATE
    looks = _daily_looks(np.random.default_rng(2), RATE, 0.06)
    results = [stats.sequential_test(series, tau2) for series in looks]
    missed = sum(not (r.low <= truth <= r.high) for r in results)
    assert missed / SIMULATIONS <= 0.05 + 0.025
    # and it is not vacuous: most of these tests find the 1-point difference within 30 days
    assert sum(r.p_value < 0.05 for r in results) / SIMULATIONS > 0.6


def test_sequential_p_value_and_interval_agree_and_only_narrow():
    tau2 = stats.sequential_mixture_variance(0.03, 10000)
    p, low, high = stats.sequential_look(300, 10000, 420, 10000, tau2)
    assert (p < 0.05) == (low > 0 or high < 0)
    later = stats.sequential_test([(300, 10000, 420, 10000), (610, 20000, 640, 20000)], tau2)
    assert later.p_value == p  # the running minimum keeps the first day's evidence
    assert low <= later.low and later.high <= high
    assert stats.sequential_test([(0, 0, 0, 0), (0, 10, 0, 10)], tau2) == stats.SequentialResult(
        1.0, None, None
    )


def test_sequential_interval_is_wider_than_the_fixed_horizon_one():
    tau2 = stats.sequential_mixture_variance(0.032, 10000)
    fixed = stats.absolute_lift(320, 10000, 410, 10000)
    sequential = stats.sequential_test([(320, 10000, 410, 10000)], tau2)
    assert sequential.low < fixed.low and sequential.high > fixed.high


# -- corrections ---------------------------------------------------------------------------------


def test_holm_and_benjamini_hochberg_worked_example():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 × 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 → monotone 0.06
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: × 4/1, 4/2, 4/3, 4/4 = 0.02, 0.02, 0.04, 0.04 (already monotone)
    assert stats.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_corrections_reject_the_same_hypotheses_as_the_step_procedures():
    rng = np.random.default_rng(5)
    alpha = 0.05
    for _ in range(200):
        m = int(rng.integers(2, 8))
        p = (rng.uniform(0, 0.08, m)).tolist()
        ordered = sorted(p)
        # Holm: reject while p(k) <= alpha / (m - k + 1), stop at the first failure
        holm_rejected = set()
        for k, value in enumerate(ordered):
            if value > alpha / (m - k):
                break
            holm_rejected.add(value)
        assert {v for v, a in zip(p, stats.holm(p), strict=True) if a <= alpha} == holm_rejected
        # BH: the largest k with p(k) <= k/m · alpha, reject 1..k
        k_max = max((k + 1 for k, v in enumerate(ordered) if v <= (k + 1) / m * alpha), default=0)
        assert {v for v, a in zip(p, stats.benjamini_hochberg(p), strict=True) if a <= alpha} == set(
            ordered[:k_max]
        )


# -- sample-ratio mismatch -----------------------------------------------------------------------


def test_srm_statistic_matches_scipy():
    observed, weights = [5120, 4880, 10050], [25, 25, 50]
    expected = sps.chisquare(observed, [sum(observed) * w / 100 for w in weights])
    r = stats.sample_ratio_mismatch(observed, weights)
    assert r.chi2 == pytest.approx(expected.statistic)
    assert r.p_value == pytest.approx(expected.pvalue)


def test_srm_detected_on_a_biased_assignment_and_not_on_a_fair_one():
    rng = np.random.default_rng(7)
    arms = rng.choice(2, size=100_000, p=[0.5, 0.5])
    fair = np.bincount(arms).tolist()
    # the bug: 5 % of the variant's contacts are never recorded as exposed
    lost = (arms == 1) & (rng.uniform(size=arms.size) < 0.05)
    biased = np.bincount(arms[~lost]).tolist()
    assert stats.sample_ratio_mismatch(fair, [50, 50]).mismatch is False
    r = stats.sample_ratio_mismatch(biased, [50, 50])
    assert r.mismatch is True and r.p_value < 0.001


def test_srm_waits_for_a_few_contacts_per_arm_and_refuses_bad_weights():
    assert stats.sample_ratio_mismatch([7, 30], [50, 50]) is None
    with pytest.raises(ValueError, match="one observed count and one weight per arm"):
        stats.sample_ratio_mismatch([10, 10], [100])


# -- design --------------------------------------------------------------------------------------


def test_required_sample_matches_a_published_value():
    # JMP 13 documentation, "Two Sample Proportions": p1 = 0.08, p2 = 0.06, α = 0.05 two-sided,
    # power 0.8 → 2554 per group. Here: baseline 6 %, relative MDE +33.3 % (to 8 %).
    assert stats.required_sample_per_arm(0.06, 1 / 3, alpha=0.05, power=0.8) == 2554


def test_power_and_minimum_detectable_effect_invert_the_sample_size():
    n = stats.required_sample_per_arm(0.032, 0.10, power=0.8)
    assert stats.power_at(0.032, 0.10, n) == pytest.approx(0.8, abs=0.002)
    assert stats.power_at(0.032, 0.10, n // 4) < 0.4
    assert stats.minimum_detectable_effect(0.032, n) == pytest.approx(0.10, abs=0.001)
    assert stats.minimum_detectable_effect(0.032, 0) is None


def test_sample_size_grows_as_the_effect_shrinks_and_refuses_impossible_targets():
    assert stats.required_sample_per_arm(0.05, 0.05) > 3.5 * stats.required_sample_per_arm(0.05, 0.10)
    with pytest.raises(ValueError, match="would exceed 100 %"):
        stats.required_sample_per_arm(0.6, 1.0)
    with pytest.raises(ValueError, match="minimum detectable effect must be positive"):
        stats.required_sample_per_arm(0.05, 0)


def test_expected_duration_waits_for_the_smallest_arm():
    # 1,000 entries a day split 80/20: the 20 % arm needs 10,000 / 200 = 50 days
    assert stats.expected_duration_days(10000, [80, 20], 1000) == pytest.approx(50)
    assert stats.expected_duration_days(10000, [50, 50], 0) is None


def test_equal_values_have_no_variance_despite_rounding():
    values = [0.15] * 300  # Σx² - n·mean² leaves rounding noise that would fake a certain difference
    assert stats.mean_and_variance(sum(values), sum(v * v for v in values), 300)[1] == 0.0
