//! The auth service under test: started in this process by `six_kit`'s test
//! harness (its own runtime thread, a throwaway database and vhost, port 0), with
//! its production defaults except where an option asks otherwise, and the settings
//! it actually runs with, read back through its own parser.

use anyhow::Context;
use six_kit::{
    Service,
    config::{CommonConfig, Env},
    testing::TestApp,
};

use crate::session::{hashing::Argon2Cost, key_file::KeyFile, settings::Settings};

/// The running service and the key file it signs with.
pub struct AuthUnderTest {
    /// The service (stopped, its database and vhost removed, when dropped).
    pub app: TestApp,
    /// What it runs with.
    pub config: ServiceConfig,
    // Dropped after the service.
    _key_file: KeyFile,
}

/// The service settings that shape the figures, as the service read them.
#[derive(Debug, Clone, Copy)]
pub struct ServiceConfig {
    /// argon2id parameters.
    pub argon2: Argon2Cost,
    /// Hashes computed at once (`AUTH_MAX_CONCURRENT_HASHES`).
    pub max_concurrent_hashes: usize,
    /// Connections of its database pool (`DATABASE_MAX_CONNECTIONS`).
    pub database_connections: u32,
}

/// Starts auth with `settings`' overrides, or fails on settings it would refuse.
pub async fn start(settings: &Settings) -> anyhow::Result<AuthUnderTest> {
    let key_file = KeyFile::generate()?;
    let mut vars = settings.service_vars(kit_default_database_connections()?);
    vars.push(("AUTH_SIGNING_KEY_FILES", key_file.path()?.to_owned()));
    // Checked before starting: the harness panics on settings the service refuses.
    let config = read_config(&Env::from_pairs(vars.iter().cloned()))?;
    argon2::Params::new(
        config.argon2.memory_kib,
        config.argon2.iterations,
        config.argon2.lanes,
        None,
    )
    .map_err(|error| anyhow::anyhow!("argon2 parameters refused: {error}"))?;
    let borrowed: Vec<(&str, &str)> = vars
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let app = TestApp::spawn_with::<auth::App>(&borrowed).await;
    let config = read_config(&app.env)?;
    Ok(AuthUnderTest {
        app,
        config,
        _key_file: key_file,
    })
}

/// The settings the service reads from `env`.
fn read_config(env: &Env) -> anyhow::Result<ServiceConfig> {
    let own = <auth::App as Service>::settings(env).context("auth settings")?;
    let common = CommonConfig::from_env(<auth::App as Service>::NAME, &with_urls(env))
        .context("common settings")?;
    Ok(ServiceConfig {
        argon2: Argon2Cost {
            memory_kib: own.hash_cost.memory_kib,
            iterations: own.hash_cost.iterations,
            lanes: own.hash_cost.parallelism,
        },
        max_concurrent_hashes: own.max_concurrent_hashes,
        database_connections: common.database.max_connections,
    })
}

/// The kit's pool size when `DATABASE_MAX_CONNECTIONS` is not set (the harness sets
/// a smaller one for tests; production runs with this).
fn kit_default_database_connections() -> anyhow::Result<u32> {
    let common = CommonConfig::from_env(<auth::App as Service>::NAME, &with_urls(&Env::default()))
        .context("the kit's default settings")?;
    Ok(common.database.max_connections)
}

/// `env` with placeholder server URLs where it has none (they are required, and
/// only the harness knows the real ones).
fn with_urls(env: &Env) -> Env {
    let mut env = env.clone();
    for name in ["AMQP_URL", "DATABASE_URL"] {
        if env
            .optional::<String>(name, String::new())
            .unwrap_or_default()
            .is_empty()
        {
            env.set(name, "unused://placeholder");
        }
    }
    env
}
