//! Istio router against the scripted API: weights on named routes by subset, the match route
//! to the canary (the seeds' `test-user` cookie) added and removed, foreign edits.

use serde_json::{Value, json};

use super::*;
use crate::router::kubernetes::mock::{Exchange, RouterCase, check_cases, status};

const PATH: &str = "/apis/networking.istio.io/v1/namespaces/shop/virtualservices/checkout";

fn config() -> IstioConfig {
    IstioConfig {
        namespace: "shop".into(),
        virtual_service: "checkout".into(),
        api_version: "v1".into(),
        routes: vec!["primary".into()],
        stable: Destination {
            host: "checkout".into(),
            subset: Some("stable".into()),
        },
        canary: Destination {
            host: "checkout".into(),
            subset: Some("canary".into()),
        },
        match_route: Some(MatchRoute {
            name: "test-user".into(),
            matches: vec![
                json!({"headers": {"cookie": {"regex": "^(.*?;)?(user=test-user)(;.*)?$"}}}),
            ],
        }),
    }
}

fn weighted(stable: u32, canary: u32) -> Value {
    json!({
        "name": "primary",
        "route": [
            {"destination": {"host": "checkout", "subset": "stable"}, "weight": stable},
            {"destination": {"host": "checkout", "subset": "canary"}, "weight": canary}
        ]
    })
}

fn match_route() -> Value {
    json!({
        "name": "test-user",
        "match": [{"headers": {"cookie": {"regex": "^(.*?;)?(user=test-user)(;.*)?$"}}}],
        "route": [{"destination": {"host": "checkout", "subset": "canary"}, "weight": 100}]
    })
}

/// The primary route after someone removed the canary destination.
fn stable_only() -> Value {
    json!({"name": "primary", "route": [{"destination": {"host": "checkout", "subset": "stable"}, "weight": 100}]})
}

/// Another route, which the router must leave alone.
fn other_route() -> Value {
    json!({"name": "static", "match": [{"uri": {"prefix": "/static"}}], "route": [{"destination": {"host": "static"}}]})
}

fn virtual_service(http: Vec<Value>, version: &str) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "checkout", "namespace": "shop", "resourceVersion": version},
        "spec": {"hosts": ["checkout"], "http": http}
    })
}

fn http_patch(http: Vec<Value>, version: &str) -> Value {
    json!({"metadata": {"resourceVersion": version}, "spec": {"http": http}})
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
    let patch = format!("{PATH}?");
    let cases: Vec<RouterCase> = vec![
        (
            "first step: weights set and the match route put first",
            change(None, 5, false),
            vec![
                Exchange::get(
                    PATH,
                    200,
                    virtual_service(vec![other_route(), weighted(100, 0)], "3"),
                ),
                Exchange::merge_patch(
                    &patch,
                    http_patch(vec![match_route(), other_route(), weighted(95, 5)], "3"),
                    200,
                    virtual_service(vec![match_route(), other_route(), weighted(95, 5)], "4"),
                ),
            ],
            Ok(true),
        ),
        (
            "next step after a conflict",
            change(Some(5), 20, false),
            vec![
                Exchange::get(
                    PATH,
                    200,
                    virtual_service(vec![match_route(), weighted(95, 5)], "4"),
                ),
                Exchange::merge_patch(
                    &patch,
                    http_patch(vec![match_route(), weighted(80, 20)], "4"),
                    409,
                    status(409, "Conflict"),
                ),
                Exchange::get(
                    PATH,
                    200,
                    virtual_service(vec![match_route(), weighted(95, 5)], "6"),
                ),
                Exchange::merge_patch(
                    &patch,
                    http_patch(vec![match_route(), weighted(80, 20)], "6"),
                    200,
                    virtual_service(vec![match_route(), weighted(80, 20)], "7"),
                ),
            ],
            Ok(true),
        ),
        (
            "weights already in place",
            change(Some(5), 20, false),
            vec![Exchange::get(
                PATH,
                200,
                virtual_service(vec![match_route(), weighted(80, 20)], "7"),
            )],
            Ok(false),
        ),
        (
            "a foreign edit is reported",
            change(Some(20), 50, false),
            vec![Exchange::get(
                PATH,
                200,
                virtual_service(vec![match_route(), weighted(60, 40)], "8"),
            )],
            Err("found 40 % but the rollout last wrote 20 %"),
        ),
        (
            "abort: all to stable, the match route removed",
            change(Some(20), 0, true),
            vec![
                Exchange::get(
                    PATH,
                    200,
                    virtual_service(vec![match_route(), weighted(60, 40)], "8"),
                ),
                Exchange::merge_patch(
                    &patch,
                    http_patch(vec![weighted(100, 0)], "8"),
                    200,
                    virtual_service(vec![weighted(100, 0)], "9"),
                ),
            ],
            Ok(true),
        ),
        (
            "abort with the canary destination already removed: only the match route goes",
            change(Some(20), 0, true),
            vec![
                Exchange::get(
                    PATH,
                    200,
                    virtual_service(vec![match_route(), stable_only()], "8"),
                ),
                Exchange::merge_patch(
                    &patch,
                    http_patch(vec![stable_only()], "8"),
                    200,
                    virtual_service(vec![stable_only()], "9"),
                ),
            ],
            Ok(true),
        ),
        (
            "a missing VirtualService",
            change(Some(20), 50, false),
            vec![Exchange::get(PATH, 404, status(404, "NotFound"))],
            Err("VirtualService shop/checkout not found"),
        ),
        (
            "a named route without the canary destination",
            change(None, 5, false),
            vec![Exchange::get(
                PATH,
                200,
                virtual_service(
                    vec![
                        json!({"name": "primary", "route": [{"destination": {"host": "checkout", "subset": "stable"}}]}),
                    ],
                    "3",
                ),
            )],
            Err("route \"primary\" lacks the stable or the canary destination"),
        ),
    ];
    check_cases(cases, |client| Istio::new(client, config())).await;
}

#[test]
fn destinations_by_host_without_subsets() {
    let config = IstioConfig {
        routes: Vec::new(),
        stable: Destination {
            host: "checkout-stable".into(),
            subset: None,
        },
        canary: Destination {
            host: "checkout-canary".into(),
            subset: None,
        },
        match_route: None,
        ..config()
    };
    let http = vec![json!({"route": [
        {"destination": {"host": "checkout-stable"}, "weight": 100},
        {"destination": {"host": "checkout-canary"}}
    ]})];
    assert_eq!(
        config.weight_of(&http),
        Ok(Weight::ZERO),
        "a missing weight is 0"
    );
    let desired = config
        .desired_http(&http, Weight::new(10).unwrap())
        .unwrap();
    assert_eq!(
        desired,
        vec![json!({"route": [
            {"destination": {"host": "checkout-stable"}, "weight": 90},
            {"destination": {"host": "checkout-canary"}, "weight": 10}
        ]})]
    );
}
