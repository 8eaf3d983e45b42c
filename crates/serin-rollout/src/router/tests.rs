//! The manifests in `docs/examples/rollout/` are exactly what the routers generate from the
//! example plans and "before" objects there.

use std::path::PathBuf;

use serde_json::Value;

use super::*;
use crate::plan::Plan;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/rollout")
}

fn read(relative: &str) -> String {
    let path = examples().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn yaml(relative: &str) -> Value {
    serde_norway::from_str(&read(relative)).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

fn router(plan: &str) -> RouterConfig {
    Plan::from_yaml(&read(plan)).unwrap().router
}

fn weight(percent: u32) -> Weight {
    Weight::new(percent).unwrap()
}

#[test]
fn documented_manifests_match_the_routers() {
    let RouterConfig::IngressNginx(ingress) = router("ingress-nginx.plan.yaml") else {
        panic!()
    };
    let canary = ingress
        .canary_ingress(&yaml("ingress-nginx/stable-ingress.yaml"), weight(5))
        .unwrap();
    assert_eq!(
        canary,
        yaml("ingress-nginx/canary-ingress-5.yaml"),
        "ingress-nginx"
    );

    let RouterConfig::Istio(istio) = router("istio.plan.yaml") else {
        panic!()
    };
    let mut service = yaml("istio/virtualservice.yaml");
    let http = service["spec"]["http"].as_array().unwrap().clone();
    service["spec"]["http"] = Value::Array(istio.desired_http(&http, weight(20)).unwrap());
    assert_eq!(service, yaml("istio/virtualservice-20.yaml"), "istio");

    let RouterConfig::GatewayApi(gateway) = router("gateway-api.plan.yaml") else {
        panic!()
    };
    let mut route = yaml("gateway-api/httproute.yaml");
    let rules = route["spec"]["rules"].as_array().unwrap().clone();
    route["spec"]["rules"] = Value::Array(gateway.desired_rules(&rules, weight(20)).unwrap());
    assert_eq!(route, yaml("gateway-api/httproute-20.yaml"), "gateway api");

    let RouterConfig::Replicas(replicas) = router("replicas.plan.yaml") else {
        panic!()
    };
    assert_eq!(
        replicas.split(weight(10)),
        replicas::ReplicaSplit {
            stable: 9,
            canary: 1
        }
    );

    let RouterConfig::Nginx(nginx) = router("nginx.plan.yaml") else {
        panic!()
    };
    assert_eq!(
        nginx.render(weight(10)),
        read("nginx/upstream-10.conf"),
        "nginx"
    );
}
