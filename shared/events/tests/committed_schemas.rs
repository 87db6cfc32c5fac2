//! The JSON Schemas committed in `docs/events` are what the code generates.
//!
//! To update them after changing the catalog:
//! `SIX_BLESS=1 cargo test -p six-events --test committed_schemas`

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use serde_json::Value;

const SCHEMA_SUFFIX: &str = ".schema.json";
const HOW_TO_UPDATE: &str = "regenerate them with `SIX_BLESS=1 cargo test -p six-events --test committed_schemas` (from shared/) and commit docs/events";

fn docs_dir() -> PathBuf {
    six_testkit::crate_dir().join("../../docs/events")
}

fn rendered(schema: &schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serializes");
    text.push('\n');
    text
}

fn committed_schema_files() -> BTreeSet<String> {
    fs::read_dir(docs_dir())
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|name| name.ends_with(SCHEMA_SUFFIX))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn committed_schemas_match_the_code() {
    let generated: Vec<(String, String)> = six_events::catalog::schemas()
        .iter()
        .map(|(event_type, schema)| (format!("{event_type}{SCHEMA_SUFFIX}"), rendered(schema)))
        .collect();
    let expected_files: BTreeSet<String> = generated.iter().map(|(name, _)| name.clone()).collect();

    if std::env::var_os("SIX_BLESS").is_some_and(|value| value == "1") {
        fs::create_dir_all(docs_dir()).expect("docs/events can be created");
        for stale in committed_schema_files().difference(&expected_files) {
            fs::remove_file(docs_dir().join(stale)).expect("a stale schema can be removed");
        }
        for (name, text) in &generated {
            fs::write(docs_dir().join(name), text).expect("a schema can be written");
        }
        return;
    }

    let mut problems = Vec::new();
    for (name, text) in &generated {
        let path = docs_dir().join(name);
        let Ok(committed) = fs::read_to_string(&path) else {
            problems.push(format!("missing: docs/events/{name}"));
            continue;
        };
        // Compared as JSON values, not text: key order and whitespace do not matter.
        let committed: Result<Value, _> = serde_json::from_str(&committed);
        let generated: Value = serde_json::from_str(text).expect("generated schema is JSON");
        if committed.ok().as_ref() != Some(&generated) {
            problems.push(format!("out of date: docs/events/{name}"));
        }
    }
    for extra in committed_schema_files().difference(&expected_files) {
        problems.push(format!("not in the catalog: docs/events/{extra}"));
    }

    assert!(
        problems.is_empty(),
        "the committed event schemas differ from the code:\n  {}\n{HOW_TO_UPDATE}",
        problems.join("\n  ")
    );
}
