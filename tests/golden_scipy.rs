//! Mann-Whitney U and p-values against scipy's `mannwhitneyu` with explicit methods
//! (values from scripts/golden/mann_whitney_scipy.py, scipy 1.17.1).

use serin_core::Sample;
use serin_core::stats::{PValueMethod, mann_whitney_u};

use crate::fixtures::{alternative, datasets, json};
use crate::tolerances::{P_VALUE_ABSOLUTE_FLOOR, P_VALUE_RELATIVE, close_relative};

#[test]
fn u_and_p_values_match_scipy() {
    let data = datasets();
    let golden = json("golden/mann_whitney_scipy.json");
    let mut checked = 0;
    for case in golden["results"].as_array().unwrap() {
        let method = match case["method"].as_str().unwrap() {
            "exact" => PValueMethod::Exact,
            "asymptotic" => PValueMethod::Asymptotic,
            _ => continue, // scipy's own "auto" rule differs from R's; R's is Serin's.
        };
        let alternative = alternative(case["alternative"].as_str().unwrap());
        let name = case["name"].as_str().unwrap();
        let (x, y) = &data[name];
        let result = mann_whitney_u(
            &Sample::new(x).unwrap(),
            &Sample::new(y).unwrap(),
            alternative,
            method,
        );
        let label = format!("{name} {alternative:?} {method:?}");
        assert_eq!(result.u, case["u"].as_f64().unwrap(), "{label}: U");
        let want = case["p_value"].as_f64().unwrap();
        assert!(
            close_relative(
                result.p_value,
                want,
                P_VALUE_RELATIVE,
                P_VALUE_ABSOLUTE_FLOOR
            ),
            "{label}: p {} vs scipy {want}",
            result.p_value
        );
        checked += 1;
    }
    assert!(checked >= 240, "{checked}");
}
