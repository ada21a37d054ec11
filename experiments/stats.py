"""The statistics of A/B experiments, as plain functions of counts (no Django, no database):
`experiments/results.py` aggregates the counts in SQL and calls these. Each docstring names its
formula; docs/experiments.md explains them for the people who read the results.

Conventions: arm A is the control, arm B the variant; `c` conversions out of `n` exposed
contacts; `alpha` is the two-sided error rate (0.05 for 95 % intervals). A quantity that the data
cannot define (a rate of zero contacts, a relative lift over a control at 0 %) is None, never a
made-up number; impossible input (more conversions than contacts, a negative count) raises
ValueError saying which argument is wrong.

Distributions come from scipy; the hot loops (the sequential test's looks, the A/A simulations
of the tests) use `statistics.NormalDist`, which is the same normal distribution without scipy's
per-call overhead."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from scipy import integrate, special
from scipy import stats as sps

NORMAL = NormalDist()


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval (`low`, `high`); None where the data cannot define it."""

    value: float | None
    low: float | None
    high: float | None


def _z(alpha: float) -> float:
    _check_probability(alpha, "alpha")
    return NORMAL.inv_cdf(1 - alpha / 2)


def _check_probability(value: float, name: str) -> None:
    if not (0 < value < 1):
        raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")


def _check_counts(c: int, n: int, name: str = "") -> None:
    label = f" of {name}" if name else ""
    if n < 0 or c < 0:
        raise ValueError(f"counts{label} must not be negative (conversions {c}, contacts {n})")
    if c > n:
        raise ValueError(f"conversions{label} ({c}) exceed the contacts exposed ({n})")


# -- one arm ------------------------------------------------------------------------------------


def proportion(c: int, n: int, alpha: float = 0.05) -> Estimate:
    """Conversion rate c/n with the Wilson score interval (Wilson 1927), without continuity
    correction:

        centre = (p + z²/2n) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)

    Unlike the Wald interval it stays inside [0, 1] and keeps its coverage near 0 % and 100 %."""
    _check_counts(c, n)
    z = _z(alpha)
    if n == 0:
        return Estimate(None, None, None)
    p = c / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half))


# -- frequentist comparison of two arms ---------------------------------------------------------


def two_proportion_p_value(c_a: int, n_a: int, c_b: int, n_b: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z test:

        p̂ = (c_a + c_b) / (n_a + n_b)
        z  = (p_b - p_a) / sqrt(p̂(1-p̂)(1/n_a + 1/n_b)),   p = 2(1 - Φ(|z|))

    (z² is Pearson's chi-square of the 2×2 table without Yates' correction.) None when an arm is
    empty; 1.0 when no arm or every arm converted (no variance, no evidence of a difference)."""
    _check_counts(c_a, n_a, "the control")
    _check_counts(c_b, n_b, "the variant")
    if n_a == 0 or n_b == 0:
        return None
    pooled = (c_a + c_b) / (n_a + n_b)
    variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if variance <= 0:
        return 1.0
    z = (c_b / n_b - c_a / n_a) / math.sqrt(variance)
    return float(2 * sps.norm.sf(abs(z)))


def absolute_lift(c_a: int, n_a: int, c_b: int, n_b: int, alpha: float = 0.05) -> Estimate:
    """Difference of rates p_b - p_a with the unpooled (Wald) interval:

        SE = sqrt(p_a(1-p_a)/n_a + p_b(1-p_b)/n_b),   (p_b - p_a) ± z·SE

    (Newcombe 1998, method 1)."""
    _check_counts(c_a, n_a, "the control")
    _check_counts(c_b, n_b, "the variant")
    z = _z(alpha)
    if n_a == 0 or n_b == 0:
        return Estimate(None, None, None)
    p_a, p_b = c_a / n_a, c_b / n_b
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    diff = p_b - p_a
    return Estimate(diff, diff - z * se, diff + z * se)


def relative_lift(c_a: int, n_a: int, c_b: int, n_b: int, alpha: float = 0.05) -> Estimate:
    """Relative lift Δ = (p_b - p_a) / p_a with the delta-method interval (GrowthBook's
    frequentist engine, FIELD.md §9):

        Var(Δ) ≈ σ²_a·p_b² / (p_a⁴·n_a) + σ²_b / (p_a²·n_b),   σ² = p(1-p),   Δ ± z·sqrt(Var)

    None when the control has no conversion (a lift over 0 % is not a number)."""
    _check_counts(c_a, n_a, "the control")
    _check_counts(c_b, n_b, "the variant")
    z = _z(alpha)
    if n_a == 0 or n_b == 0 or c_a == 0:
        return Estimate(None, None, None)
    p_a, p_b = c_a / n_a, c_b / n_b
    var_a, var_b = p_a * (1 - p_a), p_b * (1 - p_b)
    variance = var_a * p_b**2 / (p_a**4 * n_a) + var_b / (p_a**2 * n_b)
    lift = (p_b - p_a) / p_a
    se = math.sqrt(variance)
    return Estimate(lift, lift - z * se, lift + z * se)


@dataclass(frozen=True)
class WelchResult:
    difference: float  # mean_b - mean_a
    low: float
    high: float
    t: float
    df: float
    p_value: float


def welch_t_test(
    mean_a: float,
    var_a: float,
    n_a: int,
    mean_b: float,
    var_b: float,
    n_b: int,
    alpha: float = 0.05,
) -> WelchResult | None:
    """Welch's unequal-variance t test from summary statistics (sample variances, n - 1):

        SE = sqrt(s²_a/n_a + s²_b/n_b),   t = (m_b - m_a) / SE
        df = SE⁴ / ((s²_a/n_a)²/(n_a-1) + (s²_b/n_b)²/(n_b-1))      (Welch–Satterthwaite)
        p  = 2·(1 - T_df(|t|)),   interval (m_b - m_a) ± t_{df,1-α/2}·SE

    For a continuous metric such as the cost per exposed contact. None with fewer than two
    values in an arm or no variance at all."""
    if n_a < 2 or n_b < 2:
        return None
    if var_a < 0 or var_b < 0:
        raise ValueError("variances must not be negative")
    _check_probability(alpha, "alpha")
    share_a, share_b = var_a / n_a, var_b / n_b
    se2 = share_a + share_b
    if se2 <= 0:
        return None
    se = math.sqrt(se2)
    df = se2**2 / (share_a**2 / (n_a - 1) + share_b**2 / (n_b - 1))
    diff = mean_b - mean_a
    t = diff / se
    p = float(2 * sps.t.sf(abs(t), df))
    q = float(sps.t.isf(alpha / 2, df))
    return WelchResult(diff, diff - q * se, diff + q * se, t, df, p)


def mean_and_variance(total: float, total_of_squares: float, n: int) -> tuple[float, float] | None:
    """Mean and sample variance (n - 1) from the sums SQL gives: Σx and Σx². None below two values."""
    if n < 2:
        return None
    mean = total / n
    variance = (total_of_squares - n * mean * mean) / (n - 1)
    # Σx² - n·mean² cancels to rounding noise when every value is equal: call that no variance
    if variance <= 1e-9 * (total_of_squares / n):
        variance = 0.0
    return mean, variance


# -- Bayesian comparison ------------------------------------------------------------------------


@dataclass(frozen=True)
class BayesResult:
    chance_to_beat_control: float  # P(p_b > p_a | data)
    expected_loss_variant: float  # E[max(p_a - p_b, 0)]: the rate given up if B is chosen and is worse
    expected_loss_control: float  # E[max(p_b - p_a, 0)]: the rate given up if A is kept and B is better


def _beta_grid(a: float, b: float, points: int = 4001) -> np.ndarray:
    """Points covering all but 1e-12 of a Beta(a, b) distribution's mass, for integrating
    against its density (the posterior of a large arm is a narrow spike that a fixed [0, 1]
    grid or an adaptive quadrature over [0, 1] would miss)."""
    low, high = special.betaincinv(a, b, 1e-12), special.betaincinv(a, b, 1 - 1e-12)
    return np.linspace(low, high, points)


def _upper_partial_mean(a: float, b: float, y: np.ndarray) -> np.ndarray:
    """E[max(X - y, 0)] for X ~ Beta(a, b), closed form:
    a/(a+b)·(1 - I_y(a+1, b)) - y·(1 - I_y(a, b)), with I the regularised incomplete beta."""
    return a / (a + b) * special.betaincc(a + 1, b, y) - y * special.betaincc(a, b, y)


def bayesian(c_a: int, n_a: int, c_b: int, n_b: int) -> BayesResult | None:
    """Beta-Binomial model with a uniform prior: p ~ Beta(1 + c, 1 + n - c) in each arm.

        chance to beat control = P(p_b > p_a) = ∫ f_b(x)·F_a(x) dx
        expected loss (choosing B) = E[max(p_a - p_b, 0)] = ∫ f_b(y)·E[max(p_a - y, 0)] dy

    The inner terms are closed forms of the regularised incomplete beta function; the outer
    integral is Simpson's rule over the 1e-12 … 1 - 1e-12 quantiles of the outer posterior
    (deterministic: no random sampling, so a page shows the same number on every refresh).
    None when an arm is empty."""
    _check_counts(c_a, n_a, "the control")
    _check_counts(c_b, n_b, "the variant")
    if n_a == 0 or n_b == 0:
        return None
    a_a, b_a = 1 + c_a, 1 + n_a - c_a
    a_b, b_b = 1 + c_b, 1 + n_b - c_b
    x = _beta_grid(a_b, b_b)
    f_b = sps.beta.pdf(x, a_b, b_b)
    chance = float(integrate.simpson(f_b * special.betainc(a_a, b_a, x), x=x))
    loss_variant = float(integrate.simpson(f_b * _upper_partial_mean(a_a, b_a, x), x=x))
    y = _beta_grid(a_a, b_a)
    f_a = sps.beta.pdf(y, a_a, b_a)
    loss_control = float(integrate.simpson(f_a * _upper_partial_mean(a_b, b_b, y), x=y))
    clip = min(1.0, max(0.0, chance))
    return BayesResult(clip, max(0.0, loss_variant), max(0.0, loss_control))


# -- always-valid (sequential) inference ---------------------------------------------------------


def _optimal_mixture_ratio(alpha: float) -> float:
    """x minimising the mSPRT interval's width at the planned sample, where the width² is
    proportional to (1 + 1/x)·(2·ln(1/α) + ln(1 + x)), x = τ²/V: its root of
    x = 2·ln(1/α) + ln(1 + x) (fixed point; about 8.2 for α = 0.05)."""
    x = 2 * math.log(1 / alpha)
    for _ in range(50):
        x = 2 * math.log(1 / alpha) + math.log1p(x)
    return x


def sequential_mixture_variance(baseline_rate: float, n_per_arm: int, alpha: float = 0.05) -> float:
    """τ², the variance of the normal mixture over the true difference in the mSPRT, tuned
    (like GrowthBook's "expected sample size" for its confidence sequences) so the interval is
    narrowest when each arm has `n_per_arm` contacts at the baseline rate:
    τ² = x*·V*, with V* = 2·p₀(1-p₀)/n* the variance of the difference at that point.
    Fix it before the experiment starts; it is a design choice, not an estimate."""
    _check_probability(baseline_rate, "the baseline rate")
    _check_probability(alpha, "alpha")
    if n_per_arm < 1:
        raise ValueError(f"the planned sample per arm must be at least 1, got {n_per_arm}")
    return _optimal_mixture_ratio(alpha) * 2 * baseline_rate * (1 - baseline_rate) / n_per_arm


@dataclass(frozen=True)
class SequentialResult:
    p_value: float  # always valid: the smallest over all looks so far
    low: float | None  # always-valid interval of p_b - p_a: the intersection over all looks
    high: float | None


def sequential_look(c_a: int, n_a: int, c_b: int, n_b: int, tau2: float, alpha: float = 0.05):
    """One look of the mixture sequential probability ratio test (mSPRT) for the difference of
    two rates (Johari, Koomen, Pekelis & Walsh, "Always valid inference", 2017/2022; the normal
    mixture of Robbins 1970), with the plug-in variance V = p_a(1-p_a)/n_a + p_b(1-p_b)/n_b:

        Λ = sqrt(V / (V + τ²)) · exp(τ²·d² / (2·V·(V + τ²))),   d = p_b - p_a
        p = min(1, 1/Λ)
        interval = d ± sqrt(V·(V + τ²)/τ² · (2·ln(1/α) + ln((V + τ²)/V)))

    Returns (p, low, high) for this look alone, or None when V is 0 (no information yet);
    `sequential_test` combines the looks."""
    if n_a == 0 or n_b == 0:
        return None
    p_a, p_b = c_a / n_a, c_b / n_b
    v = p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b
    if v <= 0:
        return None
    d = p_b - p_a
    log_lambda = 0.5 * math.log(v / (v + tau2)) + tau2 * d * d / (2 * v * (v + tau2))
    p = 1.0 if log_lambda <= 0 else math.exp(-log_lambda)
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
    return p, d - half, d + half


def sequential_test(looks, tau2: float, alpha: float = 0.05) -> SequentialResult:
    """The always-valid p-value and interval after a series of looks, each look the cumulative
    counts (c_a, n_a, c_b, n_b) at that time (one per day, oldest first): the running minimum of
    the looks' p-values and the running intersection of their intervals (Johari et al.), so
    checking every day keeps the error rate at α. If the intersection becomes empty (possible
    only when the model is badly wrong), the last look's interval is shown."""
    if tau2 <= 0:
        raise ValueError(f"the mixture variance τ² must be positive, got {tau2!r}")
    _check_probability(alpha, "alpha")
    p_value, low, high, last = 1.0, -math.inf, math.inf, None
    for c_a, n_a, c_b, n_b in looks:
        _check_counts(c_a, n_a, "the control")
        _check_counts(c_b, n_b, "the variant")
        look = sequential_look(c_a, n_a, c_b, n_b, tau2, alpha)
        if look is None:
            continue
        last = look
        p_value = min(p_value, look[0])
        low, high = max(low, look[1]), min(high, look[2])
    if last is None:
        return SequentialResult(1.0, None, None)
    if low > high:
        low, high = last[1], last[2]
    return SequentialResult(p_value, low, high)


# -- several comparisons ------------------------------------------------------------------------


def holm(p_values: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (controls the family-wise error rate): sort ascending,
    p̃₍k₎ = max_{j≤k} min(1, (m - j + 1)·p₍j₎); reject where p̃ ≤ α. Same order as the input."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (controls the false discovery rate): sort ascending,
    p̃₍k₎ = min_{j≥k} min(1, m/j·p₍j₎); reject where p̃ ≤ α. Same order as the input."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, m / (rank + 1) * p_values[i])
        adjusted[i] = min(1.0, running)
    return adjusted


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}


# -- sample-ratio mismatch ----------------------------------------------------------------------

SRM_THRESHOLD = 0.001  # GrowthBook's: keeps false alarms rare over many checks (FIELD.md §9)
SRM_MINIMUM_PER_ARM = 8  # below this the chi-square approximation is not worth a warning


@dataclass(frozen=True)
class SrmResult:
    chi2: float
    p_value: float
    mismatch: bool  # p < SRM_THRESHOLD


def sample_ratio_mismatch(observed: list[int], weights: list[float]) -> SrmResult | None:
    """Pearson's chi-square goodness of fit of the exposures per arm against the planned
    weights: χ² = Σ (O - E)² / E with E = N·w/Σw, k - 1 degrees of freedom; a mismatch when
    p < 0.001. None until every arm has at least 8 contacts."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("give one observed count and one weight per arm, at least two arms")
    if any(o < 0 for o in observed) or any(w <= 0 for w in weights):
        raise ValueError("counts must not be negative and weights must be positive")
    if min(observed) < SRM_MINIMUM_PER_ARM:
        return None
    total, weight_total = sum(observed), sum(weights)
    expected = [total * w / weight_total for w in weights]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p = float(sps.chi2.sf(chi2, len(observed) - 1))
    return SrmResult(chi2, p, p < SRM_THRESHOLD)


# -- design: sample size, power, duration -------------------------------------------------------


def _rates(baseline_rate: float, mde_relative: float) -> tuple[float, float]:
    _check_probability(baseline_rate, "the baseline rate")
    if mde_relative <= 0:
        raise ValueError(f"the minimum detectable effect must be positive, got {mde_relative!r}")
    target = baseline_rate * (1 + mde_relative)
    if target >= 1:
        raise ValueError(
            f"a {mde_relative:.0%} lift on a {baseline_rate:.1%} baseline would exceed 100 %: lower one of them"
        )
    return baseline_rate, target


def required_sample_per_arm(
    baseline_rate: float, mde_relative: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Contacts needed in each of two equal arms for the two-sided pooled two-proportion z test
    to detect a relative lift `mde_relative` (0.10 = +10 % of the baseline rate) with the given
    power (Fleiss, Levin & Paik, without continuity correction):

        n = (z_{1-α/2}·sqrt(2·p̄(1-p̄)) + z_{1-β}·sqrt(p₁(1-p₁) + p₂(1-p₂)))² / (p₂ - p₁)²,
        p₂ = p₁(1 + MDE), p̄ = (p₁ + p₂)/2, rounded up."""
    p1, p2 = _rates(baseline_rate, mde_relative)
    _check_probability(power, "power")
    z_a, z_b = _z(alpha), NORMAL.inv_cdf(power)
    p_bar = (p1 + p2) / 2
    root = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / (p2 - p1) ** 2)


def power_at(baseline_rate: float, mde_relative: float, n_per_arm: int, alpha: float = 0.05) -> float:
    """Power of the same test with `n_per_arm` contacts per arm (the formula above solved for
    z_{1-β}, ignoring the far tail): Φ((|p₂ - p₁|·sqrt(n) - z_{1-α/2}·sqrt(2·p̄(1-p̄))) /
    sqrt(p₁(1-p₁) + p₂(1-p₂)))."""
    p1, p2 = _rates(baseline_rate, mde_relative)
    if n_per_arm <= 0:
        return 0.0
    p_bar = (p1 + p2) / 2
    z = (abs(p2 - p1) * math.sqrt(n_per_arm) - _z(alpha) * math.sqrt(2 * p_bar * (1 - p_bar))) / math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return NORMAL.cdf(z)


def minimum_detectable_effect(baseline_rate: float, n_per_arm: int, alpha: float = 0.05, power: float = 0.8):
    """The smallest relative lift the test detects with `power` at `n_per_arm` contacts per arm
    (`power_at` solved for the lift by bisection); None when even a lift to 100 % is not
    detectable with so few contacts."""
    _check_probability(baseline_rate, "the baseline rate")
    _check_probability(power, "power")
    high = (1 - 1e-9) / baseline_rate - 1
    if n_per_arm <= 0 or power_at(baseline_rate, high, n_per_arm, alpha) < power:
        return None
    low = 0.0
    for _ in range(100):
        middle = (low + high) / 2
        if middle > 0 and power_at(baseline_rate, middle, n_per_arm, alpha) >= power:
            high = middle
        else:
            low = middle
    return high


def expected_duration_days(
    required_per_arm: int, weights: list[float], entries_per_day: float
) -> float | None:
    """Days until every arm has `required_per_arm` contacts when `entries_per_day` contacts
    reach the split and arm i receives the share w_i/Σw: max_i n / (rate · w_i/Σw). None when
    nobody enters (no rate measured yet)."""
    if entries_per_day <= 0:
        return None
    if not weights or any(w <= 0 for w in weights):
        raise ValueError("every arm needs a positive weight")
    total = sum(weights)
    return max(required_per_arm / (entries_per_day * w / total) for w in weights)
