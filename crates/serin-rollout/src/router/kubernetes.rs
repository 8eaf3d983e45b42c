//! Kubernetes access shared by the Kubernetes routers: get, create and merge-patch with
//! optimistic concurrency (the patch carries the `resourceVersion` that was read, so a
//! concurrent change answers 409 and the router reads again and retries).

use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::Value;

use super::{RouterError, RouterWrite};

/// How many read-patch rounds a write tries before giving up on conflicts.
pub const CONFLICT_ATTEMPTS: u32 = 5;

/// A kind of object the routers touch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) plural: &'static str,
}

pub(crate) const INGRESS: Kind = Kind {
    group: "networking.k8s.io",
    version: "v1",
    kind: "Ingress",
    plural: "ingresses",
};

pub(crate) const DEPLOYMENT: Kind = Kind {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
};

pub(crate) const HTTP_ROUTE: Kind = Kind {
    group: "gateway.networking.k8s.io",
    version: "v1",
    kind: "HTTPRoute",
    plural: "httproutes",
};

/// One object: its API, kind and name.
pub(crate) struct Object {
    api: Api<DynamicObject>,
    label: String,
    name: String,
}

impl Object {
    pub(crate) fn new(
        client: &kube::Client,
        namespace: &str,
        kind: Kind,
        version: &str,
        name: &str,
    ) -> Self {
        let gvk = GroupVersionKind::gvk(kind.group, version, kind.kind);
        let resource = ApiResource::from_gvk_with_plural(&gvk, kind.plural);
        Object {
            api: Api::namespaced_with(client.clone(), namespace, &resource),
            label: format!("{} {namespace}/{name}", kind.kind),
            name: name.to_owned(),
        }
    }

    /// `kind namespace/name`, for messages.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    fn error(&self, source: kube::Error) -> RouterError {
        RouterError::Kubernetes {
            object: self.label.clone(),
            source: Box::new(source),
        }
    }

    /// The object as JSON, or `None` if it does not exist.
    pub(crate) async fn get(&self) -> Result<Option<Value>, RouterError> {
        match self.api.get(&self.name).await {
            Ok(object) => {
                serde_json::to_value(object)
                    .map(Some)
                    .map_err(|error| RouterError::Invalid {
                        object: self.label.clone(),
                        message: error.to_string(),
                    })
            }
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(error) => Err(self.error(error)),
        }
    }

    /// Creates the object; `Ok(false)` if it already exists (someone raced us).
    pub(crate) async fn create(&self, object: &Value) -> Result<bool, RouterError> {
        let object: DynamicObject =
            serde_json::from_value(object.clone()).map_err(|error| RouterError::Invalid {
                object: self.label.clone(),
                message: error.to_string(),
            })?;
        match self.api.create(&PostParams::default(), &object).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(self.error(error)),
        }
    }

    /// Reads the object and merge-patches what `desired` asks, with the `resourceVersion` read;
    /// on a conflict reads again and retries. `desired` sees the current object and returns the
    /// patch (`None`: nothing to change). A missing object is [`RouterError::NotFound`].
    pub(crate) async fn update(
        &self,
        desired: impl FnMut(&Value) -> Result<Option<Value>, RouterError>,
    ) -> Result<RouterWrite, RouterError> {
        self.update_from(None, desired).await
    }

    /// [`Object::update`] starting from an object just read (saves the first read).
    pub(crate) async fn update_from(
        &self,
        mut read: Option<Value>,
        mut desired: impl FnMut(&Value) -> Result<Option<Value>, RouterError>,
    ) -> Result<RouterWrite, RouterError> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let current = match read.take() {
                Some(current) => current,
                None => self
                    .get()
                    .await?
                    .ok_or_else(|| RouterError::NotFound(self.label.clone()))?,
            };
            let Some(mut patch) = desired(&current)? else {
                return Ok(RouterWrite::default());
            };
            let version = current["metadata"]["resourceVersion"].clone();
            if version.is_string() {
                patch["metadata"]["resourceVersion"] = version;
            }
            match self
                .api
                .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    return Ok(RouterWrite {
                        changed: true,
                        notes: Vec::new(),
                    });
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    tracing::info!(object = %self.label, "conflict; reading again");
                }
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    return Err(RouterError::NotFound(self.label.clone()));
                }
                Err(kube::Error::Api(status)) if status.code == 422 => {
                    return Err(RouterError::Invalid {
                        object: self.label.clone(),
                        message: format!("the API server rejected the change: {}", status.message),
                    });
                }
                Err(error) => return Err(self.error(error)),
            }
        }
        Err(RouterError::Conflict {
            object: self.label.clone(),
            attempts: CONFLICT_ATTEMPTS,
        })
    }
}

#[cfg(test)]
pub(crate) mod mock;
