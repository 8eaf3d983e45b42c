//! Routers: one trait that moves the traffic split, and the backends that implement it
//! (ingress-nginx, Istio, Gateway API, replica ratio, plain nginx).

pub mod gateway_api;
pub mod ingress_nginx;
pub mod istio;
pub mod kubernetes;
pub mod nginx;
pub mod replicas;

use std::future::Future;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::plan::PlanError;
use crate::weight::Weight;

/// A change of the canary's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightChange {
    /// The weight the rollout last wrote (`None` if it never wrote one). If the router finds
    /// another weight (neither this nor `to`), someone else edited it: that is reported as
    /// [`RouterError::ForeignEdit`], not overwritten, unless `force` is set.
    pub from: Option<Weight>,
    /// The weight to write.
    pub to: Weight,
    /// Write whatever is found (abort uses this: it always restores 100 % stable).
    pub force: bool,
}

impl WeightChange {
    /// Whether `found` is a weight this change may overwrite.
    pub fn accepts(&self, found: Weight) -> bool {
        self.force || found == self.to || self.from.is_none_or(|from| from == found)
    }

    /// `Ok` if `found` may be overwritten, else the foreign-edit error for `object`.
    pub fn check(&self, object: &str, found: Weight) -> Result<(), RouterError> {
        if self.accepts(found) {
            Ok(())
        } else {
            Err(RouterError::ForeignEdit {
                object: object.to_owned(),
                expected: self.from.unwrap_or(self.to).to_string(),
                found: found.to_string(),
            })
        }
    }
}

/// What a router did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouterWrite {
    /// Whether anything was changed (false when the weight was already in place).
    pub changed: bool,
    /// Remarks worth logging (e.g. "canary Ingress absent: all traffic already on stable").
    pub notes: Vec<String>,
}

/// A router write that did not happen.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RouterError {
    /// Someone else changed the weight since the rollout last wrote it.
    #[error(
        "{object}: found {found} but the rollout last wrote {expected}; someone else changed it (abort restores stable, or restore {expected} and run again)"
    )]
    ForeignEdit {
        /// The object (e.g. `ingress default/checkout-canary`).
        object: String,
        /// What the rollout expected (a weight, or replica counts).
        expected: String,
        /// What was found.
        found: String,
    },
    /// A needed object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// An object does not have the shape the router needs.
    #[error("{object}: {message}")]
    Invalid {
        /// The object.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// Concurrent writers kept changing the object.
    #[error("{object}: still conflicting after {attempts} attempts")]
    Conflict {
        /// The object.
        object: String,
        /// How many writes were tried.
        attempts: u32,
    },
    /// The Kubernetes API failed.
    #[error("{object}: {source}")]
    Kubernetes {
        /// The object.
        object: String,
        /// The cause (boxed: `kube::Error` is large).
        #[source]
        source: Box<kube::Error>,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A command (nginx's config test or reload) failed.
    #[error("{command}: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and output.
        message: String,
    },
}

impl RouterError {
    /// Whether trying again later may succeed (API or command failures), as opposed to a
    /// problem a human has to look at (foreign edits, missing or malformed objects).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RouterError::Conflict { .. }
                | RouterError::Kubernetes { .. }
                | RouterError::Io { .. }
                | RouterError::Command { .. }
        )
    }
}

/// Anything that can move the traffic split.
pub trait Router: Send + Sync {
    /// Writes the canary's weight. Idempotent: writing the weight in place again is harmless.
    fn set_weight(
        &self,
        change: WeightChange,
    ) -> impl Future<Output = Result<RouterWrite, RouterError>> + Send;
}

/// The plan's `router:` section: exactly one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum RouterConfig {
    /// A canary Ingress for ingress-nginx.
    IngressNginx(ingress_nginx::IngressNginxConfig),
    /// Weights on an Istio VirtualService.
    Istio(istio::IstioConfig),
    /// Weights on a Gateway API HTTPRoute.
    GatewayApi(gateway_api::GatewayApiConfig),
    /// Replica counts of two Deployments.
    Replicas(replicas::ReplicasConfig),
    /// Upstream weights in a plain nginx config file.
    Nginx(nginx::NginxConfig),
}

impl RouterConfig {
    pub(crate) fn validate(&self) -> Result<(), PlanError> {
        match self {
            RouterConfig::Replicas(config) => config.validate(),
            RouterConfig::Nginx(config) => config.validate(),
            RouterConfig::IngressNginx(config) => config.validate(),
            RouterConfig::Istio(config) => config.validate(),
            RouterConfig::GatewayApi(config) => config.validate(),
        }
    }

    /// Whether this backend needs a Kubernetes client.
    pub fn needs_kubernetes(&self) -> bool {
        !matches!(self, RouterConfig::Nginx(_))
    }

    /// Builds the router; `client` is needed by every backend but plain nginx.
    pub fn build(&self, client: Option<kube::Client>) -> Result<AnyRouter, RouterError> {
        let client = || {
            client.clone().ok_or_else(|| RouterError::Invalid {
                object: "router".into(),
                message: "this router needs a Kubernetes client".into(),
            })
        };
        Ok(match self {
            RouterConfig::IngressNginx(config) => {
                AnyRouter::IngressNginx(ingress_nginx::IngressNginx::new(client()?, config.clone()))
            }
            RouterConfig::Istio(config) => {
                AnyRouter::Istio(istio::Istio::new(client()?, config.clone()))
            }
            RouterConfig::GatewayApi(config) => {
                AnyRouter::GatewayApi(gateway_api::GatewayApi::new(client()?, config.clone()))
            }
            RouterConfig::Replicas(config) => {
                AnyRouter::Replicas(replicas::Replicas::new(client()?, config.clone()))
            }
            RouterConfig::Nginx(config) => AnyRouter::Nginx(nginx::Nginx::new(config.clone())),
        })
    }
}

/// Any backend, chosen at run time from the plan.
#[non_exhaustive]
pub enum AnyRouter {
    /// ingress-nginx.
    IngressNginx(ingress_nginx::IngressNginx),
    /// Istio.
    Istio(istio::Istio),
    /// Gateway API.
    GatewayApi(gateway_api::GatewayApi),
    /// Replica ratio.
    Replicas(replicas::Replicas),
    /// Plain nginx.
    Nginx(nginx::Nginx),
}

impl Router for AnyRouter {
    async fn set_weight(&self, change: WeightChange) -> Result<RouterWrite, RouterError> {
        match self {
            AnyRouter::IngressNginx(router) => router.set_weight(change).await,
            AnyRouter::Istio(router) => router.set_weight(change).await,
            AnyRouter::GatewayApi(router) => router.set_weight(change).await,
            AnyRouter::Replicas(router) => router.set_weight(change).await,
            AnyRouter::Nginx(router) => router.set_weight(change).await,
        }
    }
}

#[cfg(test)]
mod tests;
