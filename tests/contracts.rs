//! Contract tests: the YAML of `docs/integrations/` is parsed, and the requests it
//! describes are sent exactly as Argo Rollouts (web and kayenta providers) and
//! Flagger send them, to the service backed by a real Prometheus; each client's
//! conclusion is asserted (see `support::clients` for the client models).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::support::clients::{
    ArgoPhase, FlaggerCheck, KayentaProvider, argo_kayenta, argo_web, flagger,
};
use crate::support::prometheus::Prometheus;
use crate::support::service::{CheckoutStack, Service};

/// A Flagger scenario: canary track, extra metadata, pass or the failure text.
type FlaggerCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Result<(), &'static str>,
);

/// The token the docs use.
const TOKEN: &str = "change-me";

/// Every YAML document in the ```yaml blocks of a docs page.
fn yaml_documents(page: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/integrations")
        .join(page);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut documents = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("```yaml\n") {
        let block = &rest[start + 8..];
        let end = block.find("```").unwrap();
        for document in serde_norway::Deserializer::from_str(&block[..end]) {
            let value: Value =
                serde::Deserialize::deserialize(document).unwrap_or_else(|e| panic!("{page}: {e}"));
            documents.push(value);
        }
        rest = &block[end + 3..];
    }
    assert!(!documents.is_empty(), "{page} has no YAML");
    documents
}

fn find<'a>(documents: &'a [Value], kind: &str, name: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Replaces Argo's `{{args.NAME}}` placeholders in every string of `value`.
fn substitute(value: &Value, args: &BTreeMap<&str, String>) -> Value {
    match value {
        Value::String(text) => {
            let mut out = text.clone();
            for (name, arg) in args {
                out = out.replace(&format!("{{{{args.{name}}}}}"), arg);
            }
            assert!(
                !out.contains("{{args."),
                "unsubstituted argument in {out:?}"
            );
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, args)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, args)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Points a documented in-cluster URL at the test service.
fn local(url: &str, service: &Service) -> String {
    let path_start = url.find("://").map(|i| i + 3).unwrap();
    let path = url[path_start..]
        .find('/')
        .map(|i| &url[path_start + i..])
        .unwrap_or("");
    format!("{}{path}", service.url)
}

async fn start() -> (Prometheus, Service) {
    let stack = CheckoutStack::start(&format!("tokens = [\"{TOKEN}\"]"), "retries = 0").await;
    (stack.prometheus, stack.service)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_clients_reach_the_verdicts_they_should() {
    let (_prometheus, service) = start().await;
    let client = reqwest::Client::new();

    // Argo Rollouts, web provider: the documented AnalysisTemplate, args as a Rollout passes them.
    let argo = yaml_documents("argo-rollouts.md");
    let rollout = find(&argo, "Rollout", "checkout");
    let analysis_args = &rollout["spec"]["strategy"]["canary"]["steps"][2]["analysis"]["args"];
    assert_eq!(analysis_args[0]["value"], "stable");
    assert_eq!(analysis_args[1]["value"], "canary");
    let metric = &find(&argo, "AnalysisTemplate", "serin-judge")["spec"]["metrics"][0];
    let web = &metric["provider"]["web"];
    let cases = [
        ("canary", ArgoPhase::Successful),
        ("canary-bad", ArgoPhase::Failed),
        ("canary-cpu", ArgoPhase::Inconclusive),
        ("canary-nan", ArgoPhase::Failed),
        ("no-such-track", ArgoPhase::Failed),
    ];
    for (canary, expected) in &cases {
        let args = BTreeMap::from([
            ("baseline-scope", "stable".to_owned()),
            ("canary-scope", (*canary).to_owned()),
            ("serin-token", TOKEN.to_owned()),
        ]);
        let web = substitute(web, &args);
        let mut request = client.post(local(web["url"].as_str().unwrap(), &service));
        for header in web["headers"].as_array().unwrap() {
            request = request.header(
                header["key"].as_str().unwrap(),
                header["value"].as_str().unwrap(),
            );
        }
        let response = request
            .body(web["jsonBody"].to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        let phase = argo_web(
            status,
            &body,
            web["jsonPath"].as_str().unwrap(),
            metric["successCondition"].as_str(),
            metric["failureCondition"].as_str(),
        );
        assert_eq!(&phase, expected, "web provider, canary {canary}: {body}");
    }

    // The Serin judge on the same Prometheus: the config inline with its judge named,
    // the window as `serin rollout` sends a growing one (`start` and `end`).
    let mut serin_config = crate::fixtures::json("service/configs/checkout.json");
    serin_config["judge"] = json!({"name": "SerinJudge-v1.0"});
    for (canary, verdict) in [("canary", "pass"), ("canary-bad", "fail")] {
        let now = Utc::now();
        let body = json!({
            "config": serin_config,
            "baseline": {"scope": "stable"},
            "canary": {"scope": canary},
            "start": (now - Duration::minutes(20)).to_rfc3339_opts(SecondsFormat::Secs, true),
            "end": now.to_rfc3339_opts(SecondsFormat::Secs, true),
            "step": "30s",
        });
        let response = client
            .post(format!("{}/judge", service.url))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer["verdict"], verdict,
            "Serin judge, canary {canary}: {answer}"
        );
        assert_eq!(answer["judgeResult"]["judgeName"], "SerinJudge-v1.0");
        let sequential = &answer["judgeResult"]["results"][0]["evidence"]["sequential"];
        assert!(sequential["bins"].as_u64().unwrap() >= 20, "{answer}");
        if verdict == "fail" {
            assert!(
                answer["reasons"].to_string().contains("since 20"),
                "{answer}"
            );
        }
    }

    // Argo Rollouts, kayenta provider: the three calls, in order.
    let template = find(&argo, "AnalysisTemplate", "serin-kayenta");
    for (canary, expected) in [
        ("canary", ArgoPhase::Successful),
        ("canary-bad", ArgoPhase::Failed),
        ("canary-cpu", ArgoPhase::Inconclusive),
    ] {
        let now = Utc::now();
        let args = BTreeMap::from([
            (
                "start-time",
                (now - Duration::minutes(20)).to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
            ("end-time", now.to_rfc3339_opts(SecondsFormat::Secs, true)),
            ("stable-hash", "stable".to_owned()),
            ("canary-hash", canary.to_owned()),
            ("serin-token", TOKEN.to_owned()),
        ]);
        let kayenta = substitute(
            &template["spec"]["metrics"][0]["provider"]["kayenta"],
            &args,
        );
        // Argo marshals its KayentaScope struct: every field, empty ones included.
        let scope = |s: &Value| {
            json!({"scope": s["scope"], "region": s.get("region").cloned().unwrap_or(json!("")),
                   "step": s["step"], "start": s["start"], "end": s["end"]})
        };
        let provider = KayentaProvider {
            address: local(kayenta["address"].as_str().unwrap(), &service),
            application: kayenta["application"].as_str().unwrap().to_owned(),
            canary_config_name: kayenta["canaryConfigName"].as_str().unwrap().to_owned(),
            metrics_account_name: kayenta["metricsAccountName"].as_str().unwrap().to_owned(),
            configuration_account_name: kayenta["configurationAccountName"]
                .as_str()
                .unwrap()
                .to_owned(),
            storage_account_name: kayenta["storageAccountName"].as_str().unwrap().to_owned(),
            pass: kayenta["threshold"]["pass"].as_i64().unwrap(),
            marginal: kayenta["threshold"]["marginal"].as_i64().unwrap(),
            scopes: kayenta["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["name"].as_str().unwrap().to_owned(),
                        scope(&s["controlScope"]),
                        scope(&s["experimentScope"]),
                    )
                })
                .collect(),
        };
        let run = argo_kayenta(&client, &provider).await;
        assert_eq!(
            run.phase, expected,
            "kayenta provider, canary {canary}: {:?}",
            run.requests
        );
        // Paths relative to the documented address, which ends in /t/<token>.
        assert!(provider.address.ends_with(&format!("/t/{TOKEN}")));
        assert_eq!(
            run.requests[0],
            "GET /canaryConfig?application=checkout&configurationAccountName=serin"
        );
        assert_eq!(
            run.requests[1],
            "POST /canary/checkout?application=checkout&metricsAccountName=default&configurationAccountName=serin&storageAccountName=serin"
        );
        assert!(
            run.requests[2..]
                .iter()
                .all(|r| r.starts_with("GET /canary/")),
            "{:?}",
            run.requests
        );
    }

    // Flagger: the documented webhook's payload, as Flagger posts it.
    let flagger_docs = yaml_documents("flagger.md");
    let canary_resource = find(&flagger_docs, "Canary", "checkout");
    let hook = &canary_resource["spec"]["analysis"]["webhooks"][0];
    assert_eq!(hook["type"], "rollout");
    let url = local(hook["url"].as_str().unwrap(), &service);
    let flagger_cases: [FlaggerCase; 5] = [
        ("canary", &[], Ok(())),
        ("canary-bad", &[], Err("fail: score 0")),
        ("canary-cpu", &[], Err("marginal: score 80")),
        ("canary-cpu", &[("onMarginal", "pass")], Ok(())),
        (
            "canary",
            &[("lookbak", "5m")],
            Err("unknown metadata key(s) lookbak"),
        ),
    ];
    for (canary, extra, expected) in flagger_cases {
        let mut metadata = hook["metadata"].clone();
        metadata["canary"] = json!(canary);
        for (key, value) in extra {
            metadata[*key] = json!(value);
        }
        let payload = json!({
            "name": canary_resource["metadata"]["name"],
            "namespace": canary_resource["metadata"]["namespace"],
            "phase": "Progressing",
            "checksum": "6d4d6c4c",
            "metadata": metadata,
        });
        let response = client.post(&url).json(&payload).send().await.unwrap();
        let status = response.status().as_u16();
        assert_ne!(status, 429, "Flagger would retry a 429");
        assert_ne!(status, 204);
        let body = response.text().await.unwrap();
        assert_eq!(
            body.trim_end().lines().count(),
            1,
            "one-line body: {body:?}"
        );
        match (flagger(status, &body), expected) {
            (FlaggerCheck::Passed, Ok(())) => assert!(
                body.starts_with("pass") || body.starts_with("marginal"),
                "{body}"
            ),
            (FlaggerCheck::Failed(message), Err(want)) => {
                assert!(message.contains(want), "{canary}: {message}")
            }
            (check, want) => panic!(
                "Flagger, canary {canary} {extra:?}: {check:?}, expected {want:?} ({status})"
            ),
        }
    }

    // The verdicts were counted by outcome and API.
    let metrics = client
        .get(format!("{}/metrics", service.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        // The web provider's pass and the Serin judge's.
        "serin_verdicts_total{verdict=\"pass\",api=\"judge\"} 2",
        "serin_verdicts_total{verdict=\"marginal\",api=\"kayenta\"} 1",
        "serin_verdicts_total{verdict=\"fail\",api=\"flagger\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
    service.stop().await;
}
