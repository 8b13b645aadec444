//! `server/model-config.json`: which models the app serves (a data source), whether they are
//! public, extra ACLs for built-in models, and where model files are (`_meta.sources`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::model_file::AclSpec;

/// One model's entry.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ModelEntry {
    #[serde(rename = "dataSource", default)]
    pub(crate) data_source: Option<String>,
    #[serde(default)]
    pub(crate) public: Option<bool>,
    #[serde(default)]
    pub(crate) acls: Vec<AclSpec>,
}

/// The whole file.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelConfig {
    /// Folders of model files, relative to `server/` (LoopBack's own are left out).
    pub(crate) sources: Vec<String>,
    /// The models, in file order.
    pub(crate) models: Vec<(String, ModelEntry)>,
}

impl ModelConfig {
    pub(crate) fn parse(json: &Value) -> Result<Self, serde_json::Error> {
        let mut out = ModelConfig::default();
        let Some(object) = json.as_object() else {
            return Err(serde::de::Error::custom("model-config.json must be an object"));
        };
        for (name, value) in object {
            if name == "_meta" {
                let meta: BTreeMap<String, Value> = serde_json::from_value(value.clone())?;
                if let Some(Value::Array(sources)) = meta.get("sources") {
                    out.sources = sources
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|s| s.starts_with('.'))
                        .map(str::to_owned)
                        .collect();
                }
                continue;
            }
            out.models.push((name.clone(), serde_json::from_value(value.clone())?));
        }
        if out.sources.is_empty() {
            out.sources = vec!["../common/models".into(), "./models".into()];
        }
        Ok(out)
    }
}
