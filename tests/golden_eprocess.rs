//! The Serin judge's e-processes against scipy: the betting mixture, the sign test and its thresholds, and the conditional binomial rate-ratio test (values from scripts/golden/eprocess_scipy.py).

use serde_json::Value;
use serin_core::stats::eprocess::{
    Betting, EState, RateBin, RateRatio, sign_log_e, sign_threshold,
};

use crate::fixtures::json;
use crate::tolerances::{E_PROCESS_LOG, close_relative};

/// ln E, its maximum and the first crossing, as the script writes them.
fn assert_state(label: &str, got: EState, want: &Value) {
    for (field, value) in [("log_e", got.log_e), ("max_log_e", got.max_log_e)] {
        let expected = want[field].as_f64().unwrap();
        assert!(
            close_relative(value, expected, E_PROCESS_LOG, E_PROCESS_LOG),
            "{label}: {field} {value} vs scipy {expected}"
        );
    }
    let crossed = want["crossed_at"].as_u64().map(|at| at as usize);
    assert_eq!(got.crossed_at, crossed, "{label}: first crossing");
}

#[test]
fn e_processes_match_scipy() {
    let golden = json("golden/eprocess_scipy.json");
    let log_threshold = golden["log_threshold"].as_f64().unwrap();
    let cases = |table: &str| golden[table].as_array().unwrap().clone();

    let betting = cases("betting");
    for case in &betting {
        let mut process = Betting::new(log_threshold);
        for statistic in case["statistics"].as_array().unwrap() {
            process.observe(statistic.as_f64().unwrap());
        }
        assert_state(case["name"].as_str().unwrap(), process.state(), case);
    }

    let sign = cases("sign");
    for case in &sign {
        let (n, above) = (case["n"].as_u64().unwrap(), case["above"].as_u64().unwrap());
        let got = sign_log_e(above as usize, (n - above) as usize);
        let want = case["log_e"].as_f64().unwrap();
        assert!(
            close_relative(got, want, E_PROCESS_LOG, E_PROCESS_LOG),
            "sign {above} of {n}: {got} vs scipy {want}"
        );
    }
    let thresholds = cases("sign_threshold");
    for case in &thresholds {
        let n = case["n"].as_u64().unwrap() as usize;
        let alpha = case["alpha"].as_f64().unwrap();
        let want = case["k"].as_u64().map(|k| k as usize);
        assert_eq!(
            sign_threshold(n, (1.0 / alpha).ln()),
            want,
            "n {n}, alpha {alpha}"
        );
    }

    let rate = cases("rate");
    for case in &rate {
        let null_ratio = case["null_ratio"].as_f64().unwrap();
        let mut process = match case["direction"].as_str().unwrap() {
            "above" => RateRatio::above(null_ratio, log_threshold),
            _ => RateRatio::below(null_ratio, log_threshold),
        };
        for bin in case["bins"].as_array().unwrap() {
            let count = |i: usize| bin[i].as_f64().unwrap();
            process.observe(RateBin {
                canary_events: count(0),
                canary_requests: count(1),
                baseline_events: count(2),
                baseline_requests: count(3),
            });
        }
        let label = format!(
            "rate {} {} {null_ratio}",
            case["name"].as_str().unwrap(),
            case["direction"].as_str().unwrap()
        );
        assert_state(&label, process.state(), case);
    }
    // Every table is there and full (a script that wrote nothing must not pass).
    assert!(
        betting.len() >= 6 && sign.len() >= 6 && thresholds.len() >= 28 && rate.len() >= 16,
        "golden tables are short"
    );
}
