//! Loading the committed fixture files (golden values, Kayenta's suites, examples).

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;
use serin_core::stats::Alternative;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Parses a JSON file under `fixtures/`.
pub fn json(relative: &str) -> Value {
    let path = root().join("fixtures").join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON array of numbers; `null` stands for NaN.
pub fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect()
}

/// The golden datasets by name: (canary x, baseline y).
pub fn datasets() -> HashMap<String, (Vec<f64>, Vec<f64>)> {
    json("golden/datasets.json")["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            (
                case["name"].as_str().unwrap().to_owned(),
                (numbers(&case["x"]), numbers(&case["y"])),
            )
        })
        .collect()
}

/// An alternative as R (`two.sided`) or scipy (`two-sided`) spells it.
pub fn alternative(text: &str) -> Alternative {
    match text {
        "two.sided" | "two-sided" => Alternative::TwoSided,
        "less" => Alternative::Less,
        "greater" => Alternative::Greater,
        other => panic!("unknown alternative {other}"),
    }
}
