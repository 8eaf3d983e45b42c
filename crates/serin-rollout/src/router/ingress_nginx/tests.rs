//! ingress-nginx router against the scripted API: the canary Ingress made from the stable
//! one, weight patches with the resourceVersion read, conflicts, foreign edits, 404 and 422.

use serde_json::{Value, json};

use super::*;
use crate::router::kubernetes::mock::{Exchange, MockApi, status};

const INGRESSES: &str = "/apis/networking.k8s.io/v1/namespaces/shop/ingresses";

fn config() -> IngressNginxConfig {
    IngressNginxConfig {
        namespace: "shop".into(),
        stable_ingress: "checkout".into(),
        canary_ingress: None,
        stable_service: "checkout-stable".into(),
        canary_service: "checkout-canary".into(),
        weight_total: 100,
        header: Some(HeaderRouting {
            name: "X-Canary".into(),
            value: Some("yes".into()),
        }),
        cookie: Some("test-user".into()),
    }
}

fn stable_ingress() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "checkout",
            "namespace": "shop",
            "resourceVersion": "7",
            "uid": "0b1d",
            "labels": {"app": "checkout"},
            "annotations": {
                "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
                "kubectl.kubernetes.io/last-applied-configuration": "{}"
            }
        },
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{
                "host": "shop.example.com",
                "http": {"paths": [
                    {"path": "/checkout", "pathType": "Prefix",
                     "backend": {"service": {"name": "checkout-stable", "port": {"number": 80}}}},
                    {"path": "/static", "pathType": "Prefix",
                     "backend": {"service": {"name": "static", "port": {"number": 80}}}}
                ]}
            }]
        }
    })
}

/// The canary Ingress the router creates at `weight` (the golden POST body).
fn canary_ingress(weight: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "checkout-canary",
            "namespace": "shop",
            "labels": {"app": "checkout", "app.kubernetes.io/managed-by": "serin-rollout"},
            "annotations": {
                "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
                "nginx.ingress.kubernetes.io/canary": "true",
                "nginx.ingress.kubernetes.io/canary-by-cookie": "test-user",
                "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
                "nginx.ingress.kubernetes.io/canary-by-header-value": "yes",
                "nginx.ingress.kubernetes.io/canary-weight": weight,
                "nginx.ingress.kubernetes.io/canary-weight-total": "100"
            }
        },
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{
                "host": "shop.example.com",
                "http": {"paths": [
                    {"path": "/checkout", "pathType": "Prefix",
                     "backend": {"service": {"name": "checkout-canary", "port": {"number": 80}}}},
                    {"path": "/static", "pathType": "Prefix",
                     "backend": {"service": {"name": "static", "port": {"number": 80}}}}
                ]}
            }]
        }
    })
}

/// The canary Ingress as the API server returns it.
fn live_canary(weight: &str, version: &str) -> Value {
    let mut object = canary_ingress(weight);
    object["metadata"]["resourceVersion"] = json!(version);
    object
}

fn weight_patch(weight: &str, version: &str) -> Value {
    json!({"metadata": {
        "resourceVersion": version,
        "annotations": {
            "nginx.ingress.kubernetes.io/canary": "true",
            "nginx.ingress.kubernetes.io/canary-by-cookie": "test-user",
            "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
            "nginx.ingress.kubernetes.io/canary-by-header-value": "yes",
            "nginx.ingress.kubernetes.io/canary-weight": weight,
            "nginx.ingress.kubernetes.io/canary-weight-total": "100"
        }
    }})
}

fn abort_patch(version: &str) -> Value {
    json!({"metadata": {
        "resourceVersion": version,
        "annotations": {
            "nginx.ingress.kubernetes.io/canary": "true",
            "nginx.ingress.kubernetes.io/canary-by-cookie": null,
            "nginx.ingress.kubernetes.io/canary-by-header": null,
            "nginx.ingress.kubernetes.io/canary-by-header-value": null,
            "nginx.ingress.kubernetes.io/canary-weight": "0",
            "nginx.ingress.kubernetes.io/canary-weight-total": "100"
        }
    }})
}

fn canary_path() -> String {
    format!("{INGRESSES}/checkout-canary")
}

fn weight(percent: u32) -> Weight {
    Weight::new(percent).unwrap()
}

fn change(from: Option<u32>, to: u32, force: bool) -> WeightChange {
    WeightChange {
        from: from.map(weight),
        to: weight(to),
        force,
    }
}

/// What a case expects: a write (changed or not), or an error whose text contains this.
enum Expect {
    Written(bool),
    Error(&'static str),
}

async fn check(name: &str, change: WeightChange, script: Vec<Exchange>, expect: Expect) {
    let api = MockApi::start(script).await;
    let router = IngressNginx::new(api.client(), config());
    let result = router.set_weight(change).await;
    api.finish(name);
    match (expect, result) {
        (Expect::Written(changed), Ok(write)) => assert_eq!(write.changed, changed, "{name}"),
        (Expect::Error(text), Err(error)) => {
            assert!(error.to_string().contains(text), "{name}: {error}");
        }
        (_, result) => panic!("{name}: unexpected {result:?}"),
    }
}

#[tokio::test]
async fn requests_and_answers() {
    let canary = canary_path();
    let stable = format!("{INGRESSES}/checkout");
    let cases = [
        (
            "first write creates the canary Ingress from the stable one",
            change(None, 5, false),
            vec![
                Exchange::get(&canary, 404, status(404, "NotFound")),
                Exchange::get(&stable, 200, stable_ingress()),
                Exchange::post(
                    &format!("{INGRESSES}?"),
                    canary_ingress("5"),
                    201,
                    live_canary("5", "8"),
                ),
            ],
            Expect::Written(true),
        ),
        (
            "someone else created the canary Ingress meanwhile (409 on create): read it and patch",
            change(None, 5, false),
            vec![
                Exchange::get(&canary, 404, status(404, "NotFound")),
                Exchange::get(&stable, 200, stable_ingress()),
                Exchange::post(
                    &format!("{INGRESSES}?"),
                    canary_ingress("5"),
                    409,
                    status(409, "AlreadyExists"),
                ),
                Exchange::get(&canary, 200, live_canary("0", "8")),
                Exchange::merge_patch(
                    &format!("{canary}?"),
                    weight_patch("5", "8"),
                    200,
                    live_canary("5", "9"),
                ),
            ],
            Expect::Written(true),
        ),
        (
            "a weight change patches the annotations with the resourceVersion read",
            change(Some(5), 20, false),
            vec![
                Exchange::get(&canary, 200, live_canary("5", "8")),
                Exchange::merge_patch(
                    &format!("{canary}?"),
                    weight_patch("20", "8"),
                    200,
                    live_canary("20", "9"),
                ),
            ],
            Expect::Written(true),
        ),
        (
            "409 conflict: read again and retry with the new resourceVersion",
            change(Some(5), 20, false),
            vec![
                Exchange::get(&canary, 200, live_canary("5", "8")),
                Exchange::merge_patch(
                    &format!("{canary}?"),
                    weight_patch("20", "8"),
                    409,
                    status(409, "Conflict"),
                ),
                Exchange::get(&canary, 200, live_canary("5", "12")),
                Exchange::merge_patch(
                    &format!("{canary}?"),
                    weight_patch("20", "12"),
                    200,
                    live_canary("20", "13"),
                ),
            ],
            Expect::Written(true),
        ),
        (
            "the weight already in place: nothing is written",
            change(Some(5), 20, false),
            vec![Exchange::get(&canary, 200, live_canary("20", "9"))],
            Expect::Written(false),
        ),
        (
            "a foreign edit is reported and not overwritten",
            change(Some(5), 20, false),
            vec![Exchange::get(&canary, 200, live_canary("30", "9"))],
            Expect::Error("found 30 % but the rollout last wrote 5 %"),
        ),
        (
            "abort sets 0 and removes header and cookie routing, whatever it finds",
            change(Some(50), 0, true),
            vec![
                Exchange::get(&canary, 200, live_canary("30", "9")),
                Exchange::merge_patch(
                    &format!("{canary}?"),
                    abort_patch("9"),
                    200,
                    live_canary("0", "10"),
                ),
            ],
            Expect::Written(true),
        ),
        (
            "abort with the canary Ingress deleted: already all on stable",
            change(Some(50), 0, true),
            vec![Exchange::get(&canary, 404, status(404, "NotFound"))],
            Expect::Written(false),
        ),
        (
            "a canary Ingress deleted mid-rollout is reported",
            change(Some(20), 50, false),
            vec![
                Exchange::get(&canary, 404, status(404, "NotFound")),
                Exchange::get(&stable, 200, stable_ingress()),
            ],
            Expect::Error("Ingress shop/checkout-canary not found"),
        ),
        (
            "no stable Ingress",
            change(None, 5, false),
            vec![
                Exchange::get(&canary, 404, status(404, "NotFound")),
                Exchange::get(&stable, 404, status(404, "NotFound")),
            ],
            Expect::Error("Ingress shop/checkout not found"),
        ),
        (
            "422 from the API server is an invalid change",
            change(Some(5), 20, false),
            vec![
                Exchange::get(&canary, 200, live_canary("5", "8")),
                Exchange::merge_patch(
                    &format!("{canary}?"),
                    weight_patch("20", "8"),
                    422,
                    status(422, "Invalid"),
                ),
            ],
            Expect::Error("rejected the change: Invalid (recorded)"),
        ),
    ];
    for (name, change, script, expect) in cases {
        check(name, change, script, expect).await;
    }
}

#[tokio::test]
async fn conflicts_are_retried_a_bounded_number_of_times() {
    let canary = canary_path();
    let mut script = Vec::new();
    for round in 0..crate::router::kubernetes::CONFLICT_ATTEMPTS {
        let version = (10 + round).to_string();
        script.push(Exchange::get(&canary, 200, live_canary("5", &version)));
        script.push(Exchange::merge_patch(
            &format!("{canary}?"),
            weight_patch("20", &version),
            409,
            status(409, "Conflict"),
        ));
    }
    check(
        "always conflicting",
        change(Some(5), 20, false),
        script,
        Expect::Error("still conflicting after 5 attempts"),
    )
    .await;
}

#[test]
fn weights_scale_to_the_weight_total() {
    let cases = [(100, 5, "5"), (1000, 5, "50"), (10, 50, "5"), (10, 15, "2")];
    for (total, percent, expected) in cases {
        let config = IngressNginxConfig {
            weight_total: total,
            ..config()
        };
        let annotations = config.annotations(weight(percent));
        assert_eq!(
            annotations[&format!("{PREFIX}canary-weight")],
            expected,
            "{total} {percent}"
        );
    }
}
