//! The conformance suite on Elasticsearch (production). It needs a server: with
//! `ELASTICSEARCH_URL` (and `ELASTICSEARCH_USERNAME`, `ELASTICSEARCH_PASSWORD` when
//! it asks for them) set when the tests are built, every case runs against it on
//! an index of its own, removed afterwards; without, every case is reported as
//! ignored with the reason. `.gitlab-ci.yml` runs it with an Elasticsearch service
//! container.

mod conformance;

use conformance::TestIndex;
use search::{
    IndexSettings,
    index::{ElasticsearchConfig, ElasticsearchIndex},
};
use secrecy::ExposeSecret;
use six_kit::config::Env;
use uuid::Uuid;

/// The `ELASTICSEARCH_*` settings, with an alias of the case's own.
fn config() -> ElasticsearchConfig {
    let mut env = Env::from_process().expect("the environment is readable");
    env.set("SEARCH_INDEX", "elasticsearch");
    env.set(
        "ELASTICSEARCH_INDEX",
        format!("conformance-{}", Uuid::now_v7().simple()),
    );
    match IndexSettings::from_env(&env) {
        Ok(IndexSettings::Elasticsearch(config)) => config,
        Ok(IndexSettings::Tantivy(_)) => unreachable!("SEARCH_INDEX is elasticsearch"),
        Err(error) => panic!("the ELASTICSEARCH_* variables: {error}"),
    }
}

/// Deletes a case's index versions and template when the case ends.
struct Cleanup(ElasticsearchConfig);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let config = self.0.clone();
        // Drop is synchronous and the case's runtime is shutting down: a thread
        // with a runtime of its own sends the deletions.
        let cleaned = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("a runtime")
                .block_on(delete_index_and_template(&config))
        })
        .join();
        if let Ok(Err(error)) = cleaned {
            eprintln!("the case's index {} was not deleted: {error}", self.0.alias);
        }
    }
}

/// Deletes every version of the case's index (`<alias>-v*`) and its template.
async fn delete_index_and_template(config: &ElasticsearchConfig) -> Result<(), reqwest::Error> {
    let client = reqwest::Client::new();
    let base = config.url.trim_end_matches('/');
    for path in [
        format!("{}-v*", config.alias),
        format!("_index_template/{}", config.alias),
    ] {
        let mut request = client.delete(format!("{base}/{path}"));
        if let Some((user, password)) = &config.credentials {
            request = request.basic_auth(user, Some(password.expose_secret()));
        }
        request.send().await?.error_for_status()?;
    }
    Ok(())
}

async fn elasticsearch() -> TestIndex<ElasticsearchIndex> {
    let config = config();
    let index = ElasticsearchIndex::connect(&config, 1)
        .await
        .unwrap_or_else(|error| panic!("elasticsearch at {}: {error}", config.url));
    TestIndex::new(index, Cleanup(config))
}

every_conformance_case!(
    #[cfg_attr(
        not(elasticsearch),
        ignore = "needs an Elasticsearch server: set ELASTICSEARCH_URL (see .gitlab-ci.yml)"
    )]
    elasticsearch
);
