//! Replica ratio (no mesh): the stable and canary Deployments behind one Service, scaled so
//! that the canary's share of the pods approximates the weight.
//!
//! With `replicas: N` in total, the canary gets `round(N · weight / 100)` pods (halves round
//! up), but at least 1 while the weight is above 0 % and at most `N - 1` while it is below
//! 100 %; the stable Deployment gets the rest. The seeds' 9:1 example is `replicas: 10` at 10 %.
//! The traffic share is only as exact as the pod ratio (and the Service's balancing).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::kubernetes::{DEPLOYMENT, Object};
use super::{Router, RouterError, RouterWrite, WeightChange};
use crate::plan::PlanError;
use crate::weight::Weight;

/// The plan's `router.replicas` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplicasConfig {
    /// The Deployments' namespace.
    pub namespace: String,
    /// The stable Deployment.
    pub stable_deployment: String,
    /// The canary Deployment.
    pub canary_deployment: String,
    /// Pods in total, shared between the two (at least 2).
    pub replicas: u32,
}

/// Pod counts for one weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaSplit {
    /// Stable pods.
    pub stable: u32,
    /// Canary pods.
    pub canary: u32,
}

impl ReplicasConfig {
    pub(crate) fn validate(&self) -> Result<(), PlanError> {
        if self.replicas < 2 {
            return Err(PlanError::Invalid(
                "router.replicas.replicas: at least 2 are needed".into(),
            ));
        }
        if self.stable_deployment == self.canary_deployment {
            return Err(PlanError::Invalid(
                "router.replicas: stable and canary Deployments are the same".into(),
            ));
        }
        Ok(())
    }

    /// The split for `weight` (see the module documentation for the rounding).
    pub fn split(&self, weight: Weight) -> ReplicaSplit {
        let total = self.replicas;
        let canary = match weight.canary() {
            0 => 0,
            100 => total,
            percent => ((total * percent + 50) / 100).clamp(1, total - 1),
        };
        ReplicaSplit {
            stable: total - canary,
            canary,
        }
    }
}

/// The replica-ratio router.
pub struct Replicas {
    client: kube::Client,
    config: ReplicasConfig,
}

impl Replicas {
    /// A router for `config` through `client`.
    pub fn new(client: kube::Client, config: ReplicasConfig) -> Self {
        Replicas { client, config }
    }

    fn deployment(&self, name: &str) -> Object {
        Object::new(
            &self.client,
            &self.config.namespace,
            DEPLOYMENT,
            DEPLOYMENT.version,
            name,
        )
    }
}

fn replicas_of(deployment: &Value) -> u32 {
    // An absent spec.replicas means 1 (the Kubernetes default).
    deployment["spec"]["replicas"]
        .as_u64()
        .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

impl Router for Replicas {
    async fn set_weight(&self, change: WeightChange) -> Result<RouterWrite, RouterError> {
        let target = self.config.split(change.to);
        let stable = self.deployment(&self.config.stable_deployment);
        let canary = self.deployment(&self.config.canary_deployment);
        let (Some(stable_now), canary_now) = (stable.get().await?, canary.get().await?) else {
            return Err(RouterError::NotFound(stable.label().to_owned()));
        };
        let Some(canary_now) = canary_now else {
            if change.to == Weight::ZERO && change.force {
                let mut write = scale(&stable, target.stable).await?;
                write.notes.push(format!(
                    "{} is absent: stable scaled to {}",
                    canary.label(),
                    target.stable
                ));
                return Ok(write);
            }
            return Err(RouterError::NotFound(canary.label().to_owned()));
        };
        if !change.force {
            let found = ReplicaSplit {
                stable: replicas_of(&stable_now),
                canary: replicas_of(&canary_now),
            };
            let accepted = [change.from, Some(change.to)]
                .into_iter()
                .flatten()
                .any(|weight| self.config.split(weight) == found);
            if change.from.is_some() && !accepted {
                let expected = self.config.split(change.from.unwrap_or(change.to));
                return Err(RouterError::ForeignEdit {
                    object: format!("{} and {}", stable.label(), canary.label()),
                    expected: format!(
                        "{} stable / {} canary pods",
                        expected.stable, expected.canary
                    ),
                    found: format!("{} stable / {} canary pods", found.stable, found.canary),
                });
            }
        }
        // Scale up before scaling down, so capacity never dips below the total.
        let canary_grows = target.canary > replicas_of(&canary_now);
        let order = if canary_grows {
            [(&canary, target.canary), (&stable, target.stable)]
        } else {
            [(&stable, target.stable), (&canary, target.canary)]
        };
        let mut write = RouterWrite::default();
        for (deployment, replicas) in order {
            let done = scale(deployment, replicas).await?;
            write.changed |= done.changed;
        }
        Ok(write)
    }
}

async fn scale(deployment: &Object, replicas: u32) -> Result<RouterWrite, RouterError> {
    deployment
        .update(|current| {
            Ok((replicas_of(current) != replicas).then(|| json!({"spec": {"replicas": replicas}})))
        })
        .await
}

#[cfg(test)]
mod tests;
