//! Tests of the CSV reader: layouts, NaN handling, and the error (with line) for each kind of bad row.

use std::path::Path;

use super::*;

fn read(text: &str) -> Result<LoadedMetrics, CsvError> {
    read_long_from(text.as_bytes(), Path::new("m.csv"))
}

#[test]
fn reads_long_format_with_kayenta_scope_names_and_nan() {
    let text = "\
Metric,Scope,Timestamp,Value,host
latency,baseline,2026-11-23T10:00:00Z,10.5,a
latency,canary,1795428060,11,b
latency,control,2026-11-23T10:02:00+01:00,,c
errors,experiment,1795428000.5,NaN,d

errors,canary,1795428000,inf,e
";
    let loaded = read(text).unwrap();
    assert_eq!(loaded.rows, 5);
    let latency = loaded.metrics.get("latency").unwrap();
    assert_eq!(latency.canary, [11.0]);
    assert_eq!(latency.baseline[0], 10.5);
    assert!(latency.baseline[1].is_nan());
    let errors = loaded.metrics.get("errors").unwrap();
    assert!(errors.canary.iter().all(|v| v.is_nan()));
    let window = loaded.window.unwrap();
    assert_eq!(window.start.to_rfc3339(), "2026-11-23T09:02:00+00:00");
    assert_eq!(window.end.to_rfc3339(), "2026-11-23T10:01:00+00:00");
}

#[test]
fn a_trailing_empty_value_is_a_missing_point() {
    let loaded =
        read("metric,scope,timestamp,value\nerr,canary,1795428000,\nerr,canary,1795428060,0.5\n")
            .unwrap();
    let err = loaded.metrics.get("err").unwrap();
    assert!(err.canary[0].is_nan());
    assert_eq!(err.canary[1], 0.5);
}

#[test]
fn malformed_input_names_file_and_line() {
    let header = "metric,scope,timestamp,value\n";
    let cases = [
        ("", "m.csv: file is empty"),
        (
            "metric,timestamp,value\n",
            "m.csv:1: missing column 'scope'",
        ),
        (
            "\n\nmetric,scope,value\n",
            "m.csv:3: missing column 'timestamp'",
        ),
        ("m,canary,1,abc\n", "m.csv:2: value 'abc' is not a number"),
        (
            "m,canary,1,1\nm,canary,2,2,9\n",
            "m.csv:3: expected 4 fields, found 5",
        ),
        (
            "m,prod,1,1\n",
            "m.csv:2: scope 'prod' is not baseline, canary, control or experiment",
        ),
        (
            "m,canary,yesterday,1\n",
            "m.csv:2: timestamp 'yesterday' is neither RFC 3339 nor epoch seconds",
        ),
        (",canary,1,1\n", "m.csv:2: missing metric name"),
        ("m,canary,1\n", "m.csv:2: expected 4 fields, found 3"),
        (
            "m,canary,1,1\nm,\"can\nary\",2,2\nm,canary,3,oops\n",
            "m.csv:5: value 'oops' is not a number",
        ),
        (
            "m,canary,1,1e400\n",
            "m.csv:2: value '1e400' is too large for a 64-bit float",
        ),
        (
            "m,canary,1,-1e999\n",
            "m.csv:2: value '-1e999' is too large for a 64-bit float",
        ),
        (
            "metric,scope,timestamp,value,VALUE\n",
            "m.csv:1: column 'value' appears twice (as 'value' and 'VALUE')",
        ),
        (
            "m,canary,1,1\nm,baseline,1,1\nm,canary,2,1\nm,canary,1,3\n",
            "m.csv:5: m (canary) at 1970-01-01T00:00:01+00:00 repeats line 2; a file with several series of a metric needs a 'series' column",
        ),
        (
            // The same instant written two ways is the same point.
            "m,canary,2026-11-23T10:00:00Z,1\nm,canary,1795428000,2\n",
            "m.csv:3: m (canary) at 2026-11-23T10:00:00+00:00 repeats line 2",
        ),
        (
            "metric,scope,timestamp,value,series\nm,canary,1,1,a\nm,canary,1,1,b\nm,canary,1,1,a\n",
            "m.csv:4: m (canary) at 1970-01-01T00:00:01+00:00 repeats line 2",
        ),
    ];
    for (body, want) in cases {
        let text = if body.starts_with("metric") || body.starts_with('\n') || body.is_empty() {
            body.to_owned()
        } else {
            format!("{header}{body}")
        };
        let error = read(&text).expect_err(body);
        let message = error.to_string();
        assert!(
            message.starts_with(want),
            "{body:?}: got {message:?}, want {want:?}"
        );
    }
}

#[test]
fn several_series_a_bom_and_words_for_missing_values_are_read() {
    let text = "\u{feff}metric,scope,timestamp,value,series\n\
m,canary,1,1,a\n\
m,canary,1,2,b\n\
m,canary,2,-inf,a\n\
m,canary,2,Infinity,b\n\
m,baseline,1,NAN,a\n";
    let loaded = read(text).unwrap();
    let m = loaded.metrics.get("m").unwrap();
    assert_eq!(&m.canary[..2], [1.0, 2.0]);
    assert!(m.canary[2..].iter().chain(&m.baseline).all(|v| v.is_nan()));
    assert_eq!(loaded.rows, 5);
}

#[test]
fn a_file_written_twice_is_refused_and_a_long_row_is_cut_short() {
    let once = "metric,scope,timestamp,value\nm,canary,1,1\nm,canary,2,2\nm,baseline,1,1\n";
    let twice = format!("{once}{}", once.split_once('\n').unwrap().1);
    let error = read(&twice).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("m.csv:5: m (canary) at 1970-01-01T00:00:01+00:00 repeats line 2"),
        "{error}"
    );
    let long = format!(
        "metric,scope,timestamp,value\nm,canary,1,1\nm,canary,2,{}\n",
        "9".repeat(crate::MAX_ROW_BYTES)
    );
    let error = read(&long).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("m.csv:3: row is longer than {} bytes", crate::MAX_ROW_BYTES)
    );
}

#[test]
fn bad_row_in_a_later_chunk_reports_its_own_line() {
    let mut text = String::from("metric,scope,timestamp,value\n");
    for i in 0..20_000 {
        text.push_str(&format!("m,canary,{i},{i}\n"));
    }
    text.push_str("m,canary,1,oops\n");
    let mut loaded = LoadedMetrics::default();
    let options = ReadOptions { chunk_bytes: 4096 };
    let error = read_into(
        text.as_bytes(),
        Path::new("big.csv"),
        None,
        options,
        &mut loaded,
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "big.csv:20002: value 'oops' is not a number"
    );
}

#[test]
fn chunked_reading_keeps_every_value_and_reports_progress() {
    let mut text = String::from("metric,scope,timestamp,value\n");
    for i in 0..30_000 {
        let scope = if i % 2 == 0 { "baseline" } else { "canary" };
        text.push_str(&format!("cpu,{scope},{i},{i}\n"));
    }
    let mut loaded = LoadedMetrics::default();
    let mut calls = Vec::new();
    let options = ReadOptions { chunk_bytes: 8192 };
    let total = read_into(
        text.as_bytes(),
        Path::new("p.csv"),
        None,
        options,
        &mut loaded,
        &mut |b| calls.push(b),
    )
    .unwrap();
    assert_eq!(total, text.len() as u64);
    assert!(calls.len() > 10 && calls.windows(2).all(|w| w[0] <= w[1]));
    let cpu = loaded.metrics.get("cpu").unwrap();
    assert_eq!((cpu.baseline.len(), cpu.canary.len()), (15_000, 15_000));
    assert_eq!(
        cpu.canary.iter().sum::<f64>(),
        (0..30_000)
            .filter(|i| i % 2 == 1)
            .map(f64::from)
            .sum::<f64>()
    );
}

#[test]
fn pair_files_take_their_scope_from_the_file() {
    let dir = std::env::temp_dir().join(format!("serin-csv-pair-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let baseline = dir.join("b.csv");
    let canary = dir.join("c.csv");
    std::fs::write(&baseline, "metric,timestamp,value\nlat,1,1\nlat,2,2\n").unwrap();
    std::fs::write(&canary, "metric,timestamp,value\nlat,1,3\n").unwrap();
    let loaded = read_pair(&baseline, &canary, ReadOptions::default(), &mut |_| {}).unwrap();
    let lat = loaded.metrics.get("lat").unwrap();
    assert_eq!(
        (lat.baseline.clone(), lat.canary.clone()),
        (vec![1.0, 2.0], vec![3.0])
    );
    let missing = read_pair(
        &dir.join("nope.csv"),
        &canary,
        ReadOptions::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(missing.to_string().contains("nope.csv"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}
