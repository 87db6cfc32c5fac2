//! The production backend: Elasticsearch, through the official client.
//!
//! - At start, an index template (analysis and strict mappings) covers every
//!   version of the index (`<alias>-v<n>`). Searches go through the alias; the
//!   projection writes to each open version by name (the live one, and the one a
//!   reindex builds). The first version is created with the alias on it; a
//!   rebuilt version takes it over in one atomic `_aliases` call ([`ElasticsearchIndex::promote`]).
//! - Text is indexed as the terms of [`crate::text`] joined by spaces, analysed by
//!   `whitespace`: Elasticsearch sees exactly the terms tantivy sees. Each searched
//!   field has a `prefix` subfield analysed with an edge n-gram tokenizer, for
//!   search as you type.
//! - Scores are built from `constant_score` clauses, as on tantivy
//!   (`super`, "Ranking"); the tie-break sorts on `sort_key`, the document key's
//!   sort value in fixed-width hexadecimal.
//! - Writes are bulk requests checked item by item: a 200 with failed items is a
//!   failure. Requests time out (`ELASTICSEARCH_TIMEOUT_MS`) and are retried with
//!   backoff on 429 and 502–504 (`ELASTICSEARCH_MAX_RETRIES`).

use std::{future::Future, time::Duration};

use elasticsearch::{
    BulkParts, DeleteByQueryParts, Elasticsearch, SearchParts,
    auth::Credentials,
    http::{
        StatusCode,
        request::JsonBody,
        response::Response,
        transport::{SingleNodeConnectionPool, TransportBuilder},
    },
    indices::{
        IndicesCreateParts, IndicesDeleteParts, IndicesExistsAliasParts, IndicesGetAliasParts,
        IndicesPutIndexTemplateParts, IndicesRefreshParts,
    },
    params::Conflicts,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{
    Change, Hit, IndexError, Page, Position, SearchIndex, SearchQuery, Total, match_factor,
};
use crate::{
    document::{Document, DocumentKey, EVERYONE, Field},
    text::{self, Match},
};

/// Totals are counted exactly up to this many hits, then reported as a lower bound.
const EXACT_TOTAL_UP_TO: u64 = 10_000;

/// First wait before a retry; each next one doubles.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Where the Elasticsearch backend connects and how patiently.
#[derive(Debug, Clone)]
pub struct ElasticsearchConfig {
    /// `ELASTICSEARCH_URL`, e.g. `http://elasticsearch:9200`.
    pub url: String,
    /// The alias searches and writes go through (`ELASTICSEARCH_INDEX`); versions
    /// of the index are `<alias>-v<n>`.
    pub alias: String,
    /// Basic authentication (`ELASTICSEARCH_USERNAME`, `ELASTICSEARCH_PASSWORD`).
    pub credentials: Option<(String, SecretString)>,
    /// Bound on every request (`ELASTICSEARCH_TIMEOUT_MS`).
    pub timeout: Duration,
    /// Retries after a 429, 502–504 or transport error (`ELASTICSEARCH_MAX_RETRIES`).
    pub max_retries: u32,
}

/// One version of the Elasticsearch index (`<alias>-v<n>`), which writes go to;
/// searches go through the alias, to whichever version it points at.
pub struct ElasticsearchIndex {
    client: Elasticsearch,
    alias: String,
    /// `<alias>-v<n>`.
    version_index: String,
    max_retries: u32,
}

impl ElasticsearchIndex {
    /// Connects, creates the index template when missing, and version `version`
    /// of the index when missing; the alias is put on it when no version has it yet.
    pub async fn connect(config: &ElasticsearchConfig, version: i64) -> Result<Self, IndexError> {
        let index = Self::handle(config, version)?;
        index.create_template().await?;
        index.create_version().await?;
        Ok(index)
    }

    /// Version `version` of the index, without checking or creating anything:
    /// enough to [`ElasticsearchIndex::delete`] it.
    pub fn handle(config: &ElasticsearchConfig, version: i64) -> Result<Self, IndexError> {
        let url = config
            .url
            .parse()
            .map_err(|error| IndexError::Elasticsearch(format!("ELASTICSEARCH_URL: {error}")))?;
        let mut transport =
            TransportBuilder::new(SingleNodeConnectionPool::new(url)).timeout(config.timeout);
        if let Some((user, password)) = &config.credentials {
            transport = transport.auth(Credentials::Basic(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        let transport = transport
            .build()
            .map_err(|error| IndexError::Elasticsearch(error.to_string()))?;
        Ok(Self {
            client: Elasticsearch::new(transport),
            alias: config.alias.clone(),
            version_index: format!("{}-v{version}", config.alias),
            max_retries: config.max_retries,
        })
    }

    async fn create_template(&self) -> Result<(), IndexError> {
        let text_field = json!({
            "type": "text",
            "analyzer": "whitespace",
            "index_options": "docs",
            "norms": false,
            "fields": {
                "prefix": {
                    "type": "text",
                    "analyzer": "six_prefix",
                    "search_analyzer": "whitespace",
                    "index_options": "docs",
                    "norms": false
                }
            }
        });
        let mut properties = serde_json::Map::new();
        properties.insert("sort_key".to_owned(), json!({"type": "keyword"}));
        properties.insert("visible_to".to_owned(), json!({"type": "keyword"}));
        properties.insert(
            "source".to_owned(),
            json!({"type": "object", "enabled": false}),
        );
        for field in Field::ALL {
            properties.insert(field.name().to_owned(), text_field.clone());
        }
        let template = json!({
            "index_patterns": [format!("{}-v*", self.alias)],
            "template": {
                "settings": {
                    // Changes become visible at `commit` (a refresh), as on tantivy.
                    "index": {"refresh_interval": "-1"},
                    "analysis": {
                        "tokenizer": {
                            "six_prefix": {
                                "type": "edge_ngram",
                                "min_gram": 1,
                                "max_gram": 64,
                                "token_chars": ["letter", "digit"]
                            }
                        },
                        "analyzer": {
                            "six_prefix": {"type": "custom", "tokenizer": "six_prefix"}
                        }
                    }
                },
                "mappings": {"dynamic": "strict", "properties": properties}
            }
        });
        let template = &template;
        self.request("put index template", || async move {
            self.client
                .indices()
                .put_index_template(IndicesPutIndexTemplateParts::Name(&self.alias))
                .body(template.clone())
                .send()
                .await
        })
        .await?;
        Ok(())
    }

    async fn create_version(&self) -> Result<(), IndexError> {
        let exists = self
            .client
            .indices()
            .exists_alias(IndicesExistsAliasParts::Name(&[&self.alias]))
            .send()
            .await
            .map_err(|error| IndexError::Elasticsearch(error.to_string()))?;
        let body = if exists.status_code().is_success() {
            json!({})
        } else {
            json!({"aliases": {&self.alias: {}}})
        };
        let created = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&self.version_index))
            .body(body)
            .send()
            .await
            .map_err(|error| IndexError::Elasticsearch(error.to_string()))?;
        let status = created.status_code();
        let body: Value = created.json().await.unwrap_or(Value::Null);
        // It exists already (this version was opened before, or another instance
        // starting at the same time created it first).
        let existed = body["error"]["type"] == "resource_already_exists_exception";
        if status.is_success() || existed {
            Ok(())
        } else {
            Err(IndexError::Elasticsearch(format!(
                "create index {}: {status} {body}",
                self.version_index
            )))
        }
    }

    /// Points the alias at this version, away from every other, in one atomic
    /// `_aliases` request: a search sees the old version or this one, never
    /// neither.
    pub async fn promote(&self) -> Result<(), IndexError> {
        let answer = self
            .client
            .indices()
            .get_alias(IndicesGetAliasParts::Name(&[&self.alias]))
            .send()
            .await
            .map_err(|error| IndexError::Unavailable(error.to_string()))?;
        // 404: no version has the alias (yet); otherwise `{index: {aliases}}`.
        let holders: Value = if answer.status_code() == StatusCode::NOT_FOUND {
            Value::Null
        } else if answer.status_code().is_success() {
            answer
                .json()
                .await
                .map_err(|error| IndexError::Elasticsearch(format!("get alias: {error}")))?
        } else {
            return Err(IndexError::Elasticsearch(format!(
                "get alias {}: {}",
                self.alias,
                answer.status_code()
            )));
        };
        let mut actions: Vec<Value> = holders
            .as_object()
            .into_iter()
            .flat_map(|indices| indices.keys())
            .filter(|index| **index != self.version_index)
            .map(|index| json!({"remove": {"index": index, "alias": &self.alias}}))
            .collect();
        actions.push(json!({"add": {"index": &self.version_index, "alias": &self.alias}}));
        let body = json!({ "actions": actions });
        let body = &body;
        self.request("swap alias", || async move {
            self.client
                .indices()
                .update_aliases()
                .body(body.clone())
                .send()
                .await
        })
        .await?;
        Ok(())
    }

    /// Deletes this version's index; a version that does not exist is no error.
    pub async fn delete(&self) -> Result<(), IndexError> {
        let response = self
            .client
            .indices()
            .delete(IndicesDeleteParts::Index(&[&self.version_index]))
            .send()
            .await
            .map_err(|error| IndexError::Elasticsearch(error.to_string()))?;
        let status = response.status_code();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            let body = response.text().await.unwrap_or_default();
            Err(IndexError::Elasticsearch(format!(
                "delete index {}: {status} {body}",
                self.version_index
            )))
        }
    }

    /// Sends a request until it succeeds, fails for good, or retries run out;
    /// the answer's JSON body.
    async fn request<F, Fut>(&self, what: &str, mut send: F) -> Result<Value, IndexError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Response, elasticsearch::Error>>,
    {
        let mut delay = FIRST_RETRY_DELAY;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match send().await {
                Ok(response) if response.status_code().is_success() => {
                    return response
                        .json()
                        .await
                        .map_err(|error| IndexError::Elasticsearch(format!("{what}: {error}")));
                }
                Ok(response) => {
                    let status = response.status_code();
                    let body = response.text().await.unwrap_or_default();
                    if !is_retryable(status) {
                        return Err(IndexError::Elasticsearch(format!(
                            "{what}: {status} {body}"
                        )));
                    }
                    format!("{status} {body}")
                }
                Err(error) => error.to_string(),
            };
            if attempt > self.max_retries {
                return Err(IndexError::Unavailable(format!(
                    "{what}: {failure} (after {attempt} attempts)"
                )));
            }
            tracing::warn!(what, attempt, %failure, "elasticsearch request failed; retrying");
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }

    /// Runs bulk operations (action and document lines), failing when any item
    /// failed; a whole bulk is retried when items were refused for load, which is
    /// safe because every operation names its document.
    async fn bulk(&self, lines: Vec<Value>) -> Result<(), IndexError> {
        let mut delay = FIRST_RETRY_DELAY;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let lines = &lines;
            let answer = self
                .request("bulk", || async move {
                    self.client
                        .bulk(BulkParts::Index(&self.version_index))
                        .body(lines.iter().cloned().map(JsonBody::new).collect())
                        .send()
                        .await
                })
                .await?;
            match failed_items(&answer) {
                Ok(()) => return Ok(()),
                Err(ItemFailures {
                    overloaded: true, ..
                }) if attempt <= self.max_retries => {
                    tracing::warn!(
                        attempt,
                        "elasticsearch refused bulk items for load; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(failures) => {
                    return Err(IndexError::Rejected(format!(
                        "{} of the bulk's items failed, the first: {}",
                        failures.count, failures.first
                    )));
                }
            }
        }
    }

    async fn refresh(&self) -> Result<(), IndexError> {
        self.request("refresh", || async move {
            self.client
                .indices()
                .refresh(IndicesRefreshParts::Index(&[&self.version_index]))
                .send()
                .await
        })
        .await?;
        Ok(())
    }

    async fn delete_contacts_of(&self, owner_id: uuid::Uuid) -> Result<(), IndexError> {
        // delete_by_query sees only refreshed documents: refresh first, so the
        // contacts written just before are deleted too.
        self.refresh().await?;
        let query = json!({"query": {"term": {"visible_to": owner_id.to_string()}}});
        let query = &query;
        let answer = self
            .request("delete by query", || async move {
                self.client
                    .delete_by_query(DeleteByQueryParts::Index(&[&self.version_index]))
                    .conflicts(Conflicts::Proceed)
                    .refresh(true)
                    .body(query.clone())
                    .send()
                    .await
            })
            .await?;
        match answer["failures"].as_array() {
            Some(failures) if !failures.is_empty() => Err(IndexError::Rejected(format!(
                "delete by query: {}",
                failures[0]
            ))),
            _ => Ok(()),
        }
    }

    /// The query: scope and filters in filter context (no score), each term's
    /// best match as a `dis_max` of constant scores.
    fn query_body(query: &SearchQuery) -> Value {
        let mut filters = vec![json!({
            "terms": {"visible_to": [query.viewer_id.to_string(), EVERYONE]}
        })];
        for filter in &query.filters {
            for term in &filter.terms {
                filters.push(json!({"term": {filter.field.name(): term}}));
            }
        }
        let must: Vec<Value> = query.terms.iter().map(|term| best_match(term)).collect();
        let mut body = json!({
            "query": {"bool": {"filter": filters, "must": must}},
            "sort": [{"_score": "desc"}, {"sort_key": "asc"}],
            "size": query.limit + 1,
            "track_total_hits": EXACT_TOTAL_UP_TO,
            "_source": ["source"]
        });
        if let Some(after) = query.after {
            body["search_after"] = json!([after.score, sort_key(after.key)]);
        }
        body
    }
}

/// Scores the best match of one query term over every field and match kind.
fn best_match(term: &str) -> Value {
    let edits = text::allowed_edits(term);
    let mut queries = Vec::new();
    for field in Field::ALL {
        let name = field.name();
        for kind in Match::ALL {
            let matching = match kind {
                Match::Exact => json!({"term": {name: term}}),
                Match::Prefix => json!({"term": {format!("{name}.prefix"): term}}),
                Match::Fuzzy if edits > 0 => json!({"fuzzy": {name: {
                    "value": term,
                    "fuzziness": edits,
                    "transpositions": true,
                    "prefix_length": 0,
                    "max_expansions": 1000
                }}}),
                Match::Fuzzy => continue,
            };
            queries.push(json!({"constant_score": {
                "filter": matching,
                "boost": field.weight() * match_factor(kind)
            }}));
        }
    }
    json!({"dis_max": {"queries": queries, "tie_breaker": 0.0}})
}

/// A document key's sort value as text that sorts the same way: the id in 32
/// hexadecimal digits, then the kind.
fn sort_key(key: DocumentKey) -> String {
    let (id, kind) = key.sort_value();
    format!("{id:032x}{kind}")
}

fn key_of_sort_key(sort_key: &str) -> Option<DocumentKey> {
    let (id, kind) = sort_key.split_at_checked(32)?;
    DocumentKey::from_sort_value(u128::from_str_radix(id, 16).ok()?, kind.parse().ok()?)
}

/// The indexed form of a document: terms joined by spaces, for `whitespace`.
fn indexed(document: &Document) -> Value {
    let key = document.subject.key();
    let mut indexed = json!({
        "sort_key": sort_key(key),
        "visible_to": document.subject.visible_to(),
        "source": document,
    });
    for field in Field::ALL {
        let terms: Vec<Value> = document
            .values(field)
            .into_iter()
            .map(|value| {
                let terms: Vec<String> = text::terms(value).into_iter().map(|t| t.text).collect();
                Value::String(terms.join(" "))
            })
            .collect();
        indexed[field.name()] = Value::Array(terms);
    }
    indexed
}

fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

struct ItemFailures {
    count: usize,
    first: String,
    /// Some items were refused for load (429) and may succeed later.
    overloaded: bool,
}

/// Whether every item of a bulk answer succeeded (a missing document is success
/// for a delete).
fn failed_items(answer: &Value) -> Result<(), ItemFailures> {
    if answer["errors"] == Value::Bool(false) {
        return Ok(());
    }
    let mut failures = ItemFailures {
        count: 0,
        first: String::new(),
        overloaded: false,
    };
    for item in answer["items"].as_array().into_iter().flatten() {
        let Some((action, result)) = item.as_object().and_then(|item| item.iter().next()) else {
            continue;
        };
        let status = result["status"].as_u64().unwrap_or(0);
        let deleted_already = action == "delete" && status == 404;
        if (200..300).contains(&status) || deleted_already {
            continue;
        }
        failures.count += 1;
        failures.overloaded |= status == 429;
        if failures.first.is_empty() {
            failures.first = format!("{action} {}: {status} {}", result["_id"], result["error"]);
        }
    }
    if failures.count == 0 {
        Ok(())
    } else {
        Err(failures)
    }
}

impl SearchIndex for ElasticsearchIndex {
    async fn apply(&self, changes: Vec<Change>) -> Result<(), IndexError> {
        let mut lines = Vec::new();
        for change in changes {
            match change {
                Change::Upsert(document) => {
                    lines.push(json!({"index": {"_id": document.subject.key().stored_id()}}));
                    lines.push(indexed(&document));
                }
                Change::DeleteContact { contact_id } => {
                    lines.push(
                        json!({"delete": {"_id": DocumentKey::Contact(contact_id).stored_id()}}),
                    );
                }
                Change::DeleteProfile { user_id } => {
                    lines.push(
                        json!({"delete": {"_id": DocumentKey::Profile(user_id).stored_id()}}),
                    );
                }
                Change::DeleteContactsOf { owner_id } => {
                    // In order: what came before is written before the deletion.
                    if !lines.is_empty() {
                        self.bulk(std::mem::take(&mut lines)).await?;
                    }
                    self.delete_contacts_of(owner_id).await?;
                }
            }
        }
        if !lines.is_empty() {
            self.bulk(lines).await?;
        }
        Ok(())
    }

    /// Bulk writes are durable when acknowledged (the translog is synced per
    /// request); a refresh makes them visible.
    async fn commit(&self) -> Result<(), IndexError> {
        self.refresh().await
    }

    async fn search(&self, query: SearchQuery) -> Result<Page, IndexError> {
        let body = Self::query_body(&query);
        let body = &body;
        let answer = self
            .request("search", || async move {
                self.client
                    .search(SearchParts::Index(&[&self.alias]))
                    .body(body.clone())
                    .send()
                    .await
            })
            .await?;
        let unreadable = |what: &str| IndexError::Stored(format!("search answer: {what}"));
        let mut hits = Vec::new();
        for hit in answer["hits"]["hits"].as_array().into_iter().flatten() {
            let document: Document = serde_json::from_value(hit["_source"]["source"].clone())
                .map_err(|error| unreadable(&error.to_string()))?;
            let score = hit["sort"][0]
                .as_f64()
                .ok_or_else(|| unreadable("no score"))?;
            let key = hit["sort"][1]
                .as_str()
                .and_then(key_of_sort_key)
                .ok_or_else(|| unreadable("no sort key"))?;
            hits.push(Hit {
                document,
                // Scores are sums of small whole constants: exact in f32.
                position: Position {
                    score: score as f32,
                    key,
                },
            });
        }
        let more = hits.len() > query.limit;
        hits.truncate(query.limit);
        let total = &answer["hits"]["total"];
        Ok(Page {
            hits,
            more,
            total: Total {
                value: total["value"].as_u64().unwrap_or(0),
                exact: total["relation"] == "eq",
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn sort_keys_sort_as_document_keys_do() {
        let mut keys: Vec<DocumentKey> = (0..50)
            .flat_map(|_| {
                let id = Uuid::from_u128(fastrand::u128(..));
                [DocumentKey::Contact(id), DocumentKey::Profile(id)]
            })
            .collect();
        let mut as_text: Vec<String> = keys.iter().map(|key| sort_key(*key)).collect();
        keys.sort_by_key(DocumentKey::sort_value);
        as_text.sort();
        let back: Vec<DocumentKey> = as_text
            .iter()
            .map(|text| key_of_sort_key(text).unwrap())
            .collect();
        assert_eq!(back, keys);
    }

    #[test]
    fn a_bulk_answer_fails_on_any_failed_item_but_not_on_deleting_the_deleted() {
        let ok = json!({"errors": true, "items": [
            {"index": {"_id": "c:1", "status": 201}},
            {"delete": {"_id": "c:2", "status": 404, "result": "not_found"}}
        ]});
        assert!(failed_items(&ok).is_ok());
        let failed = json!({"errors": true, "items": [
            {"index": {"_id": "c:1", "status": 201}},
            {"index": {"_id": "c:3", "status": 400, "error": {"type": "mapper_parsing_exception"}}},
            {"index": {"_id": "c:4", "status": 429, "error": {"type": "es_rejected_execution_exception"}}}
        ]});
        let failures = failed_items(&failed).unwrap_err();
        assert_eq!(failures.count, 2);
        assert!(failures.overloaded);
        assert!(
            failures.first.contains("mapper_parsing_exception"),
            "{}",
            failures.first
        );
    }

    #[test]
    fn documents_are_indexed_as_the_analysers_terms() {
        let owner_id = Uuid::now_v7();
        let document = Document {
            subject: crate::document::Subject::Contact {
                contact_id: Uuid::now_v7(),
                owner_id,
            },
            full_name: "José Álvarez-Núñez".to_owned(),
            other_names: vec!["José".to_owned()],
            emails: vec!["jose@acme.io".to_owned()],
            company: None,
            title: None,
            location: None,
        };
        let indexed = indexed(&document);
        assert_eq!(indexed["name"], json!(["jose alvarez nunez", "jose"]));
        assert_eq!(indexed["email"], json!(["jose acme io"]));
        assert_eq!(indexed["company"], json!([]));
        assert_eq!(indexed["visible_to"], owner_id.to_string());
    }
}
