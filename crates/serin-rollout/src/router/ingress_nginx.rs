//! ingress-nginx: a canary Ingress beside the stable one, made from it (same hosts and paths,
//! backends pointed at the canary Service) and weighted with ingress-nginx's canary annotations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::kubernetes::{INGRESS, Object};
use super::{Router, RouterError, RouterWrite, WeightChange};
use crate::plan::PlanError;
use crate::weight::Weight;

/// ingress-nginx's annotation prefix.
pub const PREFIX: &str = "nginx.ingress.kubernetes.io/";

/// The plan's `router.ingressNginx` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressNginxConfig {
    /// The namespace of both Ingresses.
    pub namespace: String,
    /// The stable Ingress (left untouched).
    pub stable_ingress: String,
    /// The canary Ingress to create or update (default `<stableIngress>-canary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_ingress: Option<String>,
    /// The Service the stable Ingress routes to.
    pub stable_service: String,
    /// The Service the canary Ingress routes to instead.
    pub canary_service: String,
    /// `canary-weight-total` (default 100); weights are scaled to it.
    #[serde(default = "default_total")]
    pub weight_total: u32,
    /// Requests with this header go to the canary (`canary-by-header`, optionally `-value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderRouting>,
    /// Requests with this cookie set to `always` go to the canary (`canary-by-cookie`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
}

fn default_total() -> u32 {
    100
}

/// Header routing to the canary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderRouting {
    /// The header's name.
    pub name: String,
    /// The value that routes to the canary (without it, `always` does, `never` does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl IngressNginxConfig {
    pub(crate) fn validate(&self) -> Result<(), PlanError> {
        if self.weight_total == 0
            || !100u32.is_multiple_of(self.weight_total) && !self.weight_total.is_multiple_of(100)
        {
            return Err(PlanError::Invalid(format!(
                "router.ingressNginx.weightTotal: {} must be a multiple or a divisor of 100",
                self.weight_total
            )));
        }
        Ok(())
    }

    /// The canary Ingress' name.
    pub fn canary_name(&self) -> String {
        self.canary_ingress
            .clone()
            .unwrap_or_else(|| format!("{}-canary", self.stable_ingress))
    }

    fn scaled(&self, weight: Weight) -> u32 {
        (weight.canary() * self.weight_total + 50) / 100
    }

    /// The canary annotations for `weight`, as a merge patch: header and cookie routing only
    /// while the canary has traffic (at 0 % they are `null`, i.e. removed, so an abort sends
    /// every request to stable).
    pub fn annotations(&self, weight: Weight) -> BTreeMap<String, Value> {
        let live = weight != Weight::ZERO;
        let mut annotations = BTreeMap::new();
        let mut put = |key: &str, value: Option<String>| {
            annotations.insert(
                format!("{PREFIX}{key}"),
                value.map_or(Value::Null, Value::String),
            )
        };
        put("canary", Some("true".into()));
        put("canary-weight", Some(self.scaled(weight).to_string()));
        put("canary-weight-total", Some(self.weight_total.to_string()));
        if let Some(header) = &self.header {
            put("canary-by-header", live.then(|| header.name.clone()));
            if let Some(value) = &header.value {
                put("canary-by-header-value", live.then(|| value.clone()));
            }
        }
        if let Some(cookie) = &self.cookie {
            put("canary-by-cookie", live.then(|| cookie.clone()));
        }
        annotations
    }

    /// The weight a canary Ingress carries (`canary-weight` scaled back to percent; absent is 0).
    pub fn weight_of(&self, canary: &Value) -> Result<Weight, String> {
        let annotations = &canary["metadata"]["annotations"];
        if annotations[format!("{PREFIX}canary")] != "true" {
            return Err("its canary annotation is not \"true\"".into());
        }
        let scaled = match annotations[format!("{PREFIX}canary-weight")].as_str() {
            None => 0,
            Some(text) => text
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("canary-weight {text:?} is not a whole number"))?,
        };
        let total = annotations[format!("{PREFIX}canary-weight-total")]
            .as_str()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .filter(|total| *total > 0)
            .unwrap_or(100);
        Weight::new((scaled * 100 + total / 2) / total)
            .ok_or_else(|| format!("canary-weight {scaled} is above the total {total}"))
    }

    /// The canary Ingress made from the stable one: labels, annotations (without other canary
    /// annotations and kubectl's last-applied copy), class, TLS and rules copied, every backend
    /// on the stable Service pointed at the canary Service, plus the canary annotations.
    pub fn canary_ingress(&self, stable: &Value, weight: Weight) -> Result<Value, String> {
        let metadata = &stable["metadata"];
        let mut annotations: Map<String, Value> = metadata["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        annotations.retain(|key, _| {
            !key.starts_with(&format!("{PREFIX}canary"))
                && key != "kubectl.kubernetes.io/last-applied-configuration"
        });
        for (key, value) in self.annotations(weight) {
            if !value.is_null() {
                annotations.insert(key, value);
            }
        }
        let mut labels = metadata["labels"].as_object().cloned().unwrap_or_default();
        labels.insert(
            "app.kubernetes.io/managed-by".into(),
            json!("serin-rollout"),
        );
        let mut spec = stable["spec"].clone();
        let mut replaced = 0;
        if let Some(backend) = spec.get_mut("defaultBackend") {
            replaced += self.retarget(backend);
        }
        if let Some(rules) = spec["rules"].as_array_mut() {
            for rule in rules {
                if let Some(paths) = rule["http"]["paths"].as_array_mut() {
                    for path in paths {
                        replaced += self.retarget(&mut path["backend"]);
                    }
                }
            }
        }
        if replaced == 0 {
            return Err(format!(
                "no backend routes to Service {:?}",
                self.stable_service
            ));
        }
        Ok(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": self.canary_name(),
                "namespace": self.namespace,
                "labels": labels,
                "annotations": annotations,
            },
            "spec": spec,
        }))
    }

    fn retarget(&self, backend: &mut Value) -> usize {
        let service = &mut backend["service"]["name"];
        if *service == self.stable_service.as_str() {
            *service = json!(self.canary_service);
            1
        } else {
            0
        }
    }
}

/// The ingress-nginx router.
pub struct IngressNginx {
    client: kube::Client,
    config: IngressNginxConfig,
}

impl IngressNginx {
    /// A router for `config` through `client`.
    pub fn new(client: kube::Client, config: IngressNginxConfig) -> Self {
        IngressNginx { client, config }
    }
}

impl Router for IngressNginx {
    async fn set_weight(&self, change: WeightChange) -> Result<RouterWrite, RouterError> {
        let config = &self.config;
        let canary = Object::new(
            &self.client,
            &config.namespace,
            INGRESS,
            INGRESS.version,
            &config.canary_name(),
        );
        let mut existing = None;
        for _ in 0..super::kubernetes::CONFLICT_ATTEMPTS {
            existing = canary.get().await?;
            if existing.is_some() {
                break;
            }
            if change.to == Weight::ZERO && change.force {
                return Ok(RouterWrite {
                    changed: false,
                    notes: vec![format!(
                        "{} is absent: all traffic is already on stable",
                        canary.label()
                    )],
                });
            }
            let stable = Object::new(
                &self.client,
                &config.namespace,
                INGRESS,
                INGRESS.version,
                &config.stable_ingress,
            );
            let stable_ingress = stable
                .get()
                .await?
                .ok_or_else(|| RouterError::NotFound(stable.label().to_owned()))?;
            let object = config
                .canary_ingress(&stable_ingress, change.to)
                .map_err(|message| RouterError::Invalid {
                    object: stable.label().to_owned(),
                    message,
                })?;
            if change.from.is_some_and(|from| from != Weight::ZERO) && !change.force {
                // The rollout had sent traffic through a canary Ingress that is now gone.
                return Err(RouterError::NotFound(canary.label().to_owned()));
            }
            if canary.create(&object).await? {
                return Ok(RouterWrite {
                    changed: true,
                    notes: vec![format!("created {}", canary.label())],
                });
            }
        }
        let label = canary.label().to_owned();
        canary
            .update_from(existing, |current| {
                let found = config
                    .weight_of(current)
                    .map_err(|message| RouterError::Invalid {
                        object: label.clone(),
                        message,
                    })
                    .or_else(|error| {
                        if change.force {
                            Ok(change.to)
                        } else {
                            Err(error)
                        }
                    })?;
                change.check(&label, found)?;
                let wanted = config.annotations(change.to);
                let annotations = &current["metadata"]["annotations"];
                let differs = wanted.iter().any(|(key, value)| annotations[key] != *value);
                Ok(differs.then(|| json!({"metadata": {"annotations": wanted}})))
            })
            .await
    }
}

#[cfg(test)]
mod tests;
