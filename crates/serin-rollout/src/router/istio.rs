//! Istio: weights on named HTTP routes of a VirtualService, with the canary and stable
//! destinations told apart by host or by DestinationRule subset, and an optional route that
//! sends matching requests (a header, a cookie) to the canary while it has traffic.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::kubernetes::{Kind, Object};
use super::{Router, RouterError, RouterWrite, WeightChange};
use crate::plan::PlanError;
use crate::weight::Weight;

const VIRTUAL_SERVICE: Kind = Kind {
    group: "networking.istio.io",
    version: "v1",
    kind: "VirtualService",
    plural: "virtualservices",
};

/// The plan's `router.istio` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IstioConfig {
    /// The VirtualService's namespace.
    pub namespace: String,
    /// The VirtualService's name.
    pub virtual_service: String,
    /// The API version (`v1`, or `v1beta1` / `v1alpha3` on older Istio).
    #[serde(default = "default_version")]
    pub api_version: String,
    /// The HTTP routes (by `name`) whose weights are set; empty: every route holding both destinations.
    #[serde(default)]
    pub routes: Vec<String>,
    /// The stable destination.
    pub stable: Destination,
    /// The canary destination.
    pub canary: Destination,
    /// A route to the canary for matching requests, placed first while the canary has traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_route: Option<MatchRoute>,
}

fn default_version() -> String {
    "v1".into()
}

/// A route destination: a host, and a DestinationRule subset when both versions share the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Destination {
    /// The destination host (a Service name).
    pub host: String,
    /// The subset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
}

/// A route sending matching requests to the canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchRoute {
    /// The route's name in the VirtualService.
    pub name: String,
    /// Istio `HTTPMatchRequest`s, as written in a VirtualService (e.g. a cookie regex).
    #[serde(rename = "match")]
    pub matches: Vec<Value>,
}

impl IstioConfig {
    pub(crate) fn validate(&self) -> Result<(), PlanError> {
        if self.stable == self.canary {
            return Err(PlanError::Invalid(
                "router.istio: stable and canary destinations are the same".into(),
            ));
        }
        Ok(())
    }

    fn is(destination: &Value, wanted: &Destination) -> bool {
        destination["host"] == wanted.host.as_str()
            && destination["subset"].as_str() == wanted.subset.as_deref()
    }

    fn selected(&self, route: &Value) -> bool {
        match route["name"].as_str() {
            Some(name) if self.match_route.as_ref().is_some_and(|m| m.name == name) => false,
            Some(name) if !self.routes.is_empty() => self.routes.iter().any(|r| r == name),
            _ => self.routes.is_empty() && self.has_both(route),
        }
    }

    fn has_both(&self, route: &Value) -> bool {
        let destinations = route["route"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let has = |wanted| {
            destinations
                .iter()
                .any(|d| Self::is(&d["destination"], wanted))
        };
        has(&self.stable) && has(&self.canary)
    }

    /// The canary weight found on the selected routes (missing `weight` counts as 0).
    pub fn weight_of(&self, http: &[Value]) -> Result<Weight, String> {
        let mut found = None;
        for route in http.iter().filter(|route| self.selected(route)) {
            let destinations = route["route"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let weight = destinations
                .iter()
                .find(|d| Self::is(&d["destination"], &self.canary))
                .map(|d| d["weight"].as_u64().unwrap_or(0))
                .unwrap_or(0);
            let weight = u32::try_from(weight)
                .ok()
                .and_then(Weight::new)
                .ok_or_else(|| format!("canary weight {weight} is above 100"))?;
            match found {
                Some(other) if other != weight => {
                    return Err(format!(
                        "routes disagree on the canary weight ({other} and {weight})"
                    ));
                }
                _ => found = Some(weight),
            }
        }
        found.ok_or_else(|| "no HTTP route holds both the stable and the canary destination".into())
    }

    /// The VirtualService's `spec.http` with the canary at `weight`.
    pub fn desired_http(&self, http: &[Value], weight: Weight) -> Result<Vec<Value>, String> {
        let mut routes = Vec::with_capacity(http.len() + 1);
        if let Some(match_route) = &self.match_route
            && weight != Weight::ZERO
        {
            let mut destination = json!({"host": self.canary.host});
            if let Some(subset) = &self.canary.subset {
                destination["subset"] = json!(subset);
            }
            routes.push(json!({
                "name": match_route.name,
                "match": match_route.matches,
                "route": [{"destination": destination, "weight": 100}],
            }));
        }
        let mut touched = 0;
        for route in http {
            if self
                .match_route
                .as_ref()
                .is_some_and(|m| route["name"] == m.name.as_str())
            {
                continue;
            }
            let mut route = route.clone();
            let sends_to_canary = route["route"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| Self::is(&d["destination"], &self.canary)));
            if weight == Weight::ZERO && !sends_to_canary {
                // The canary destination is gone (removed with the canary): nothing to take away.
                routes.push(route);
                continue;
            }
            if self.selected(&route) {
                if !self.has_both(&route) {
                    return Err(format!(
                        "route {} lacks the stable or the canary destination",
                        route["name"]
                    ));
                }
                for destination in route["route"].as_array_mut().into_iter().flatten() {
                    if Self::is(&destination["destination"], &self.canary) {
                        destination["weight"] = json!(weight.canary());
                    } else if Self::is(&destination["destination"], &self.stable) {
                        destination["weight"] = json!(weight.stable());
                    }
                }
                touched += 1;
            }
            routes.push(route);
        }
        // At 0 % routes without the canary (removed with it) need nothing.
        if (touched == 0 || touched < self.routes.len()) && weight != Weight::ZERO {
            return Err(format!(
                "routes {:?} not found (or none holds both destinations)",
                self.routes
            ));
        }
        Ok(routes)
    }
}

/// The Istio router.
pub struct Istio {
    client: kube::Client,
    config: IstioConfig,
}

impl Istio {
    /// A router for `config` through `client`.
    pub fn new(client: kube::Client, config: IstioConfig) -> Self {
        Istio { client, config }
    }
}

impl Router for Istio {
    async fn set_weight(&self, change: WeightChange) -> Result<RouterWrite, RouterError> {
        let config = &self.config;
        let object = Object::new(
            &self.client,
            &config.namespace,
            VIRTUAL_SERVICE,
            &config.api_version,
            &config.virtual_service,
        );
        let label = object.label().to_owned();
        let invalid = |message| RouterError::Invalid {
            object: label.clone(),
            message,
        };
        object
            .update(|current| {
                let http = current["spec"]["http"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                match config.weight_of(http) {
                    Ok(found) => change.check(&label, found)?,
                    Err(_) if change.force => {}
                    Err(message) => return Err(invalid(message)),
                }
                let desired = config.desired_http(http, change.to).map_err(invalid)?;
                Ok((desired.as_slice() != http).then(|| json!({"spec": {"http": desired}})))
            })
            .await
    }
}

#[cfg(test)]
mod tests;
