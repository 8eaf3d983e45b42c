//! The canary configs a service serves by name: every `NAME.json` of the configured
//! directory, read and validated once at start-up (a bad file stops the start with
//! its path and the JSON path of the mistake; restart to pick up changes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serin_core::{CanaryConfig, ConfigError};
use thiserror::Error;

/// Why the configs directory could not be loaded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigStoreError {
    /// The directory or a file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a valid canary config.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The config error (names the JSON path).
        #[source]
        source: ConfigError,
    },
    /// Two files define configs of the same name.
    #[error("config name {name:?} is used by both {first} and {second}")]
    DuplicateName {
        /// The name.
        name: String,
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
}

/// One served config.
#[derive(Debug, Clone)]
pub struct StoredConfig {
    /// Id: the file stem (what Kayenta's API calls `configId`).
    pub id: String,
    /// The config.
    pub config: Arc<CanaryConfig>,
    /// Applications the config declares (Kayenta's `applications`); empty = any.
    pub applications: Vec<String>,
    /// File modification time.
    pub updated: DateTime<Utc>,
    path: PathBuf,
}

/// An entry of `GET /canaryConfig`, in Kayenta's shape.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSummary {
    /// Config id.
    pub id: String,
    /// Config name.
    pub name: String,
    /// Milliseconds since the epoch.
    pub updated_timestamp: i64,
    /// RFC 3339.
    pub updated_timestamp_iso: String,
    /// Applications.
    pub applications: Vec<String>,
}

/// Configs by id.
#[derive(Debug, Clone, Default)]
pub struct ConfigStore {
    by_id: BTreeMap<String, StoredConfig>,
}

impl ConfigStore {
    /// Loads every `*.json` file of `dir`.
    pub fn load(dir: &Path) -> Result<Self, ConfigStoreError> {
        let read = |path: &Path, source| ConfigStoreError::Read {
            path: path.to_owned(),
            source,
        };
        let mut store = Self::default();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| read(dir, e))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "json") && path.is_file())
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| read(&path, e))?;
            let config =
                CanaryConfig::from_json(&text).map_err(|source| ConfigStoreError::Invalid {
                    path: path.clone(),
                    source,
                })?;
            let updated = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .map(DateTime::<Utc>::from)
                .unwrap_or_default();
            let id = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            store.insert(id, config, updated, path)?;
        }
        Ok(store)
    }

    /// A store of the given configs (ids as given), for tests and embedding.
    pub fn from_configs(
        configs: impl IntoIterator<Item = (String, CanaryConfig)>,
    ) -> Result<Self, ConfigStoreError> {
        let mut store = Self::default();
        for (id, config) in configs {
            let path = PathBuf::from(format!("{id}.json"));
            store.insert(id, config, DateTime::<Utc>::default(), path)?;
        }
        Ok(store)
    }

    fn insert(
        &mut self,
        id: String,
        config: CanaryConfig,
        updated: DateTime<Utc>,
        path: PathBuf,
    ) -> Result<(), ConfigStoreError> {
        if let Some(other) = self
            .by_id
            .values()
            .find(|c| c.config.name == config.name && !config.name.is_empty())
        {
            return Err(ConfigStoreError::DuplicateName {
                name: config.name.clone(),
                first: other.path.clone(),
                second: path,
            });
        }
        let applications = config
            .raw
            .get("applications")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        self.by_id.insert(
            id.clone(),
            StoredConfig {
                id,
                config: Arc::new(config),
                applications,
                updated,
                path,
            },
        );
        Ok(())
    }

    /// The config with this id, else the one with this name.
    pub fn find(&self, key: &str) -> Option<&StoredConfig> {
        self.by_id
            .get(key)
            .or_else(|| self.by_id.values().find(|c| c.config.name == key))
    }

    /// Names and ids, for error messages.
    pub fn known(&self) -> String {
        self.by_id.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// Kayenta's config list, filtered by application (configs that declare no
    /// application match every one).
    pub fn list(&self, application: Option<&str>) -> Vec<ConfigSummary> {
        self.by_id
            .values()
            .filter(|c| match application {
                Some(app) if !c.applications.is_empty() => c.applications.iter().any(|a| a == app),
                _ => true,
            })
            .map(|c| ConfigSummary {
                id: c.id.clone(),
                name: c.config.name.clone(),
                updated_timestamp: c.updated.timestamp_millis(),
                updated_timestamp_iso: c
                    .updated
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                applications: c.applications.clone(),
            })
            .collect()
    }

    /// Number of configs.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no config is served.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
