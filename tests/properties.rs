//! Property tests: p-values are probabilities, swapping samples mirrors the result, shifts move the estimate.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serin_core::Classification;
use serin_core::Sample;
use serin_core::config::ScoreThresholds;
use serin_core::score::{ScoredMetric, score};
use serin_core::stats::{
    Alternative, IntervalMethod, PValueMethod, hodges_lehmann, mann_whitney_u,
};

use crate::tolerances::{MIRRORED_P_RELATIVE, SCORE_SUM};

/// Samples of 1 to 60 values on a coarse grid, so ties happen often.
fn sample() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((-200i32..200).prop_map(|v| f64::from(v) / 4.0), 1..60)
}

fn methods() -> impl Strategy<Value = PValueMethod> {
    prop_oneof![
        Just(PValueMethod::Auto),
        Just(PValueMethod::Exact),
        Just(PValueMethod::Asymptotic)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn p_values_are_probabilities(x in sample(), y in sample(), method in methods()) {
        let (x, y) = (Sample::new(&x).unwrap(), Sample::new(&y).unwrap());
        for alternative in [Alternative::TwoSided, Alternative::Less, Alternative::Greater] {
            let p = mann_whitney_u(&x, &y, alternative, method).p_value;
            prop_assert!((0.0..=1.0).contains(&p), "{p}");
        }
    }

    #[test]
    fn swapping_samples_mirrors_the_test(x in sample(), y in sample(), method in methods()) {
        let (x, y) = (Sample::new(&x).unwrap(), Sample::new(&y).unwrap());
        let forward = mann_whitney_u(&x, &y, Alternative::Greater, method);
        let backward = mann_whitney_u(&y, &x, Alternative::Less, method);
        prop_assert_eq!(forward.u + backward.u, (x.len() * y.len()) as f64);
        prop_assert!((forward.p_value - backward.p_value).abs() <= MIRRORED_P_RELATIVE * forward.p_value.max(1e-300));
        let two_forward = mann_whitney_u(&x, &y, Alternative::TwoSided, method).p_value;
        let two_backward = mann_whitney_u(&y, &x, Alternative::TwoSided, method).p_value;
        prop_assert!((two_forward - two_backward).abs() <= MIRRORED_P_RELATIVE * two_forward.max(1e-300));
        // The exact interval mirrors exactly: the differences are negated exactly.
        let a = hodges_lehmann(&x, &y, 0.98, IntervalMethod::Exact).unwrap();
        let b = hodges_lehmann(&y, &x, 0.98, IntervalMethod::Exact).unwrap();
        prop_assert_eq!((a.estimate, a.lower, a.upper), (-b.estimate, -b.upper, -b.lower));
    }

    #[test]
    fn shifting_the_canary_shifts_estimate_and_interval(x in sample(), y in sample(), shift in -1000i32..1000) {
        // Quarter-unit grids and whole shifts keep every difference exact.
        let shift = f64::from(shift);
        let (xs, ys) = (Sample::new(&x).unwrap(), Sample::new(&y).unwrap());
        let moved = xs.shifted(shift).unwrap();
        let before = hodges_lehmann(&xs, &ys, 0.98, IntervalMethod::Exact).unwrap();
        let after = hodges_lehmann(&moved, &ys, 0.98, IntervalMethod::Exact).unwrap();
        prop_assert_eq!(after.estimate, before.estimate + shift);
        prop_assert_eq!(after.lower, before.lower + shift);
        prop_assert_eq!(after.upper, before.upper + shift);
        // The kayenta method moves too, within its root tolerance (plus rounding
        // of the shifted bracket ends).
        if let (Ok(k_before), Ok(k_after)) = (
            hodges_lehmann(&xs, &ys, 0.98, IntervalMethod::Kayenta),
            hodges_lehmann(&moved, &ys, 0.98, IntervalMethod::Kayenta),
        ) {
            prop_assert!((k_after.lower - (k_before.lower + shift)).abs() <= 2e-4);
            prop_assert!((k_after.upper - (k_before.upper + shift)).abs() <= 2e-4);
        }
    }

    #[test]
    fn effective_group_weights_sum_to_100(
        weighted in prop::collection::vec(0u32..40, 0..3),
        unweighted in 1usize..4,
    ) {
        // Weighted groups take their weight, the rest share what is left: a canary
        // whose every metric passes scores exactly 100.
        let total: u32 = weighted.iter().sum();
        prop_assume!(total <= 100);
        let names: Vec<Vec<String>> = (0..weighted.len() + unweighted).map(|i| vec![format!("g{i}")]).collect();
        let weights: BTreeMap<String, f64> = weighted
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("g{i}"), f64::from(*w)))
            .collect();
        let metrics: Vec<ScoredMetric<'_>> = names
            .iter()
            .map(|groups| ScoredMetric { classification: Classification::Pass, reason: None, groups, critical: false, muted: false, undecided: false })
            .collect();
        let result = score(&metrics, &weights, ScoreThresholds::default());
        prop_assert!((result.score - 100.0).abs() < SCORE_SUM, "{}", result.score);
    }
}
