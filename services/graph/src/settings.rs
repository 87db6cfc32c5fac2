//! The graph's own configuration (the common variables are the kit's).

use six_kit::{
    auth::AuthConfig,
    config::{ConfigError, Env},
};

use crate::network::Limits;

/// Everything the graph reads beyond the common settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Verifying the users' access tokens.
    pub auth: AuthConfig,
    /// Bounds on the work of one question (`GRAPH_MAX_VISITED`,
    /// `GRAPH_EGO_MAX_NODES`).
    pub limits: Limits,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limits = Limits {
            max_visited: at_least_one(env, "GRAPH_MAX_VISITED", 200_000)?,
            ego_max_nodes: at_least_one(env, "GRAPH_EGO_MAX_NODES", 300)?,
        };
        Ok(Self {
            auth: AuthConfig::from_env(env)?,
            limits,
        })
    }
}

fn at_least_one(env: &Env, name: &str, default: usize) -> Result<usize, ConfigError> {
    match env.optional(name, default)? {
        0 => Err(ConfigError::Invalid {
            name: name.to_owned(),
            reason: "must be at least 1".to_owned(),
        }),
        value => Ok(value),
    }
}
