//! Gateway API router against the scripted API: backendRefs weights on an HTTPRoute.

use serde_json::{Value, json};

use super::*;
use crate::router::kubernetes::mock::{Exchange, RouterCase, check_cases, status};

const PATH: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/checkout";

fn config() -> GatewayApiConfig {
    GatewayApiConfig {
        namespace: "shop".into(),
        http_route: "checkout".into(),
        stable_service: "checkout-stable".into(),
        canary_service: "checkout-canary".into(),
    }
}

fn rules(stable: Option<u32>, canary: Option<u32>) -> Vec<Value> {
    let backend = |name: &str, weight: Option<u32>| {
        let mut backend = json!({"name": name, "port": 80});
        if let Some(weight) = weight {
            backend["weight"] = json!(weight);
        }
        backend
    };
    vec![
        json!({
            "matches": [{"path": {"type": "PathPrefix", "value": "/checkout"}}],
            "backendRefs": [backend("checkout-stable", stable), backend("checkout-canary", canary)]
        }),
        json!({"matches": [{"path": {"type": "PathPrefix", "value": "/static"}}], "backendRefs": [{"name": "static", "port": 80}]}),
    ]
}

fn route(rules: Vec<Value>, version: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "checkout", "namespace": "shop", "resourceVersion": version},
        "spec": {"parentRefs": [{"name": "shop-gateway"}], "rules": rules}
    })
}

fn patch(rules: Vec<Value>, version: &str) -> Value {
    json!({"metadata": {"resourceVersion": version}, "spec": {"rules": rules}})
}

fn change(from: Option<u32>, to: u32, force: bool) -> WeightChange {
    WeightChange {
        from: from.map(|p| Weight::new(p).unwrap()),
        to: Weight::new(to).unwrap(),
        force,
    }
}

#[tokio::test]
async fn requests_and_answers() {
    let at = format!("{PATH}?");
    let cases: Vec<RouterCase> = vec![
        (
            "first step from explicit 100/0",
            change(None, 5, false),
            vec![
                Exchange::get(PATH, 200, route(rules(Some(100), Some(0)), "1")),
                Exchange::merge_patch(
                    &at,
                    patch(rules(Some(95), Some(5)), "1"),
                    200,
                    route(rules(Some(95), Some(5)), "2"),
                ),
            ],
            Ok(true),
        ),
        (
            "absent weights (1 each, so 50 %) read as a foreign edit",
            change(Some(5), 20, false),
            vec![Exchange::get(PATH, 200, route(rules(None, None), "2"))],
            Err("found 50 %"),
        ),
        (
            "422 from the API server",
            change(Some(5), 20, false),
            vec![
                Exchange::get(PATH, 200, route(rules(Some(95), Some(5)), "2")),
                Exchange::merge_patch(
                    &at,
                    patch(rules(Some(80), Some(20)), "2"),
                    422,
                    status(422, "Invalid"),
                ),
            ],
            Err("rejected the change"),
        ),
        (
            "abort",
            change(Some(50), 0, true),
            vec![
                Exchange::get(PATH, 200, route(rules(Some(50), Some(50)), "5")),
                Exchange::merge_patch(
                    &at,
                    patch(rules(Some(100), Some(0)), "5"),
                    200,
                    route(rules(Some(100), Some(0)), "6"),
                ),
            ],
            Ok(true),
        ),
        (
            "abort when the canary backend was removed from the route: nothing to do",
            change(Some(50), 0, true),
            vec![Exchange::get(
                PATH,
                200,
                route(
                    vec![json!({"backendRefs": [{"name": "checkout-stable", "port": 80}]})],
                    "7",
                ),
            )],
            Ok(false),
        ),
    ];
    check_cases(cases, |client| GatewayApi::new(client, config())).await;
}
