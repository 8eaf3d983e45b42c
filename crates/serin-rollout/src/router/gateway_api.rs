//! Gateway API: `backendRefs[].weight` of the stable and canary Services on an HTTPRoute.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::kubernetes::{HTTP_ROUTE, Object};
use super::{Router, RouterError, RouterWrite, WeightChange};
use crate::plan::PlanError;
use crate::weight::Weight;

/// The plan's `router.gatewayApi` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayApiConfig {
    /// The HTTPRoute's namespace.
    pub namespace: String,
    /// The HTTPRoute's name.
    pub http_route: String,
    /// The stable Service (a `backendRefs` entry).
    pub stable_service: String,
    /// The canary Service (a `backendRefs` entry).
    pub canary_service: String,
}

impl GatewayApiConfig {
    pub(crate) fn validate(&self) -> Result<(), PlanError> {
        if self.stable_service == self.canary_service {
            return Err(PlanError::Invalid(
                "router.gatewayApi: stable and canary Services are the same".into(),
            ));
        }
        Ok(())
    }

    fn refs(rule: &Value) -> &[Value] {
        rule["backendRefs"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn has(rule: &Value, service: &str) -> bool {
        Self::refs(rule)
            .iter()
            .any(|backend| backend["name"] == service)
    }

    fn selected(&self, rule: &Value) -> bool {
        Self::has(rule, &self.stable_service) && Self::has(rule, &self.canary_service)
    }

    /// The canary weight on the rules holding both Services (an absent `weight` is 1, the
    /// Gateway API default; a canary at 0 % always has an explicit 0).
    pub fn weight_of(&self, rules: &[Value]) -> Result<Weight, String> {
        let mut found = None;
        for rule in rules.iter().filter(|rule| self.selected(rule)) {
            let weight_of = |service: &str| {
                Self::refs(rule)
                    .iter()
                    .find(|backend| backend["name"] == service)
                    .map_or(0, |backend| backend["weight"].as_u64().unwrap_or(1))
            };
            let (canary, stable) = (
                weight_of(&self.canary_service),
                weight_of(&self.stable_service),
            );
            let total = canary + stable;
            let percent = (canary * 100 + total / 2).checked_div(total).unwrap_or(0);
            let weight = Weight::new(u32::try_from(percent).unwrap_or(u32::MAX))
                .ok_or_else(|| format!("canary share {percent} is above 100"))?;
            match found {
                Some(other) if other != weight => {
                    return Err(format!(
                        "rules disagree on the canary weight ({other} and {weight})"
                    ));
                }
                _ => found = Some(weight),
            }
        }
        found.ok_or_else(|| "no rule holds both the stable and the canary Service".into())
    }

    /// `spec.rules` with the canary at `weight` (weights out of 100).
    pub fn desired_rules(&self, rules: &[Value], weight: Weight) -> Result<Vec<Value>, String> {
        let mut touched = 0;
        let desired = rules
            .iter()
            .map(|rule| {
                let mut rule = rule.clone();
                if self.selected(&rule) {
                    touched += 1;
                    for backend in rule["backendRefs"].as_array_mut().into_iter().flatten() {
                        if backend["name"] == self.canary_service.as_str() {
                            backend["weight"] = json!(weight.canary());
                        } else if backend["name"] == self.stable_service.as_str() {
                            backend["weight"] = json!(weight.stable());
                        }
                    }
                }
                rule
            })
            .collect();
        // At 0 % a rule without the canary (removed with it) needs nothing.
        if touched == 0 && weight != Weight::ZERO {
            return Err("no rule holds both the stable and the canary Service".into());
        }
        Ok(desired)
    }
}

/// The Gateway API router.
pub struct GatewayApi {
    client: kube::Client,
    config: GatewayApiConfig,
}

impl GatewayApi {
    /// A router for `config` through `client`.
    pub fn new(client: kube::Client, config: GatewayApiConfig) -> Self {
        GatewayApi { client, config }
    }
}

impl Router for GatewayApi {
    async fn set_weight(&self, change: WeightChange) -> Result<RouterWrite, RouterError> {
        let config = &self.config;
        let object = Object::new(
            &self.client,
            &config.namespace,
            HTTP_ROUTE,
            HTTP_ROUTE.version,
            &config.http_route,
        );
        let label = object.label().to_owned();
        let invalid = |message| RouterError::Invalid {
            object: label.clone(),
            message,
        };
        object
            .update(|current| {
                let rules = current["spec"]["rules"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                match config.weight_of(rules) {
                    Ok(found) => change.check(&label, found)?,
                    Err(_) if change.force => {}
                    Err(message) => return Err(invalid(message)),
                }
                let desired = config.desired_rules(rules, change.to).map_err(invalid)?;
                Ok((desired.as_slice() != rules).then(|| json!({"spec": {"rules": desired}})))
            })
            .await
    }
}

#[cfg(test)]
mod tests;
