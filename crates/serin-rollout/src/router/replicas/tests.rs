//! Replica-ratio router: the documented rounding, and the scale patches against the scripted API.

use serde_json::{Value, json};

use super::*;
use crate::router::kubernetes::mock::{Exchange, RouterCase, check_cases, status};

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/shop/deployments";

fn config(replicas: u32) -> ReplicasConfig {
    ReplicasConfig {
        namespace: "shop".into(),
        stable_deployment: "checkout-stable".into(),
        canary_deployment: "checkout-canary".into(),
        replicas,
    }
}

#[test]
fn split_rounds_half_up_and_keeps_both_sides_alive() {
    // (replicas, percent, stable, canary); at 4 % of 10 pods round(0.4) = 0, but a canary
    // with traffic keeps one pod.
    let cases = [
        (10, 0, 10, 0),
        (10, 4, 9, 1),
        (10, 5, 9, 1),
        (10, 10, 9, 1),
        (10, 20, 8, 2),
        (10, 50, 5, 5),
        (10, 94, 1, 9),
        (10, 99, 1, 9),
        (10, 100, 0, 10),
        (3, 50, 1, 2),
        (2, 1, 1, 1),
    ];
    for (replicas, percent, stable, canary) in cases {
        let split = config(replicas).split(Weight::new(percent).unwrap());
        assert_eq!(
            split,
            ReplicaSplit { stable, canary },
            "{percent} % of {replicas}"
        );
    }
}

fn deployment(name: &str, replicas: u32, version: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": version},
        "spec": {"replicas": replicas}
    })
}

fn scale(replicas: u32, version: &str) -> Value {
    json!({"metadata": {"resourceVersion": version}, "spec": {"replicas": replicas}})
}

#[tokio::test]
async fn requests_and_answers() {
    let stable = format!("{DEPLOYMENTS}/checkout-stable");
    let canary = format!("{DEPLOYMENTS}/checkout-canary");
    let patch = |path: &str| format!("{path}?");
    let weight = |p| Weight::new(p).unwrap();
    let cases: Vec<RouterCase> = vec![
        (
            "10 %: canary up to 1 first, then stable down to 9 (the seeds' 9:1)",
            WeightChange {
                from: Some(Weight::ZERO),
                to: weight(10),
                force: false,
            },
            vec![
                Exchange::get(&stable, 200, deployment("checkout-stable", 10, "1")),
                Exchange::get(&canary, 200, deployment("checkout-canary", 0, "2")),
                Exchange::get(&canary, 200, deployment("checkout-canary", 0, "2")),
                Exchange::merge_patch(
                    &patch(&canary),
                    scale(1, "2"),
                    200,
                    deployment("checkout-canary", 1, "3"),
                ),
                Exchange::get(&stable, 200, deployment("checkout-stable", 10, "1")),
                Exchange::merge_patch(
                    &patch(&stable),
                    scale(9, "1"),
                    200,
                    deployment("checkout-stable", 9, "4"),
                ),
            ],
            Ok(true),
        ),
        (
            "someone scaled the canary by hand",
            WeightChange {
                from: Some(weight(10)),
                to: weight(20),
                force: false,
            },
            vec![
                Exchange::get(&stable, 200, deployment("checkout-stable", 9, "4")),
                Exchange::get(&canary, 200, deployment("checkout-canary", 4, "5")),
            ],
            Err(
                "found 9 stable / 4 canary pods but the rollout last wrote 9 stable / 1 canary pods",
            ),
        ),
        (
            "abort: stable up first, then canary to 0",
            WeightChange {
                from: Some(weight(50)),
                to: Weight::ZERO,
                force: true,
            },
            vec![
                Exchange::get(&stable, 200, deployment("checkout-stable", 5, "6")),
                Exchange::get(&canary, 200, deployment("checkout-canary", 5, "7")),
                Exchange::get(&stable, 200, deployment("checkout-stable", 5, "6")),
                Exchange::merge_patch(
                    &patch(&stable),
                    scale(10, "6"),
                    200,
                    deployment("checkout-stable", 10, "8"),
                ),
                Exchange::get(&canary, 200, deployment("checkout-canary", 5, "7")),
                Exchange::merge_patch(
                    &patch(&canary),
                    scale(0, "7"),
                    200,
                    deployment("checkout-canary", 0, "9"),
                ),
            ],
            Ok(true),
        ),
        (
            "abort with the canary Deployment deleted: stable back to all pods",
            WeightChange {
                from: Some(weight(50)),
                to: Weight::ZERO,
                force: true,
            },
            vec![
                Exchange::get(&stable, 200, deployment("checkout-stable", 5, "6")),
                Exchange::get(&canary, 404, status(404, "NotFound")),
                Exchange::get(&stable, 200, deployment("checkout-stable", 5, "6")),
                Exchange::merge_patch(
                    &patch(&stable),
                    scale(10, "6"),
                    200,
                    deployment("checkout-stable", 10, "8"),
                ),
            ],
            Ok(true),
        ),
        (
            "the canary Deployment deleted mid-rollout",
            WeightChange {
                from: Some(weight(10)),
                to: weight(20),
                force: false,
            },
            vec![
                Exchange::get(&stable, 200, deployment("checkout-stable", 9, "4")),
                Exchange::get(&canary, 404, status(404, "NotFound")),
            ],
            Err("Deployment shop/checkout-canary not found"),
        ),
    ];
    check_cases(cases, |client| Replicas::new(client, config(10))).await;
}
