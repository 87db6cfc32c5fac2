//! Where documents are kept and searched: the [`SearchIndex`] trait, what every
//! backend must do, and the ranking they all apply.
//!
//! Ranking: a query term scores the best of its matches over the document's
//! fields, `field weight × match factor` ([`Field::weight`], [`match_factor`]); a
//! document scores the sum over the query's terms, and must match every term and
//! every filter. A score depends on the document and the query only, never on the
//! rest of the index, so a cursor (score and key of the last hit) keeps its place
//! while documents are added or removed. Equal scores are ordered by key.

pub mod elasticsearch;
pub mod tantivy;
pub mod versions;

use std::{cmp::Ordering, future::Future};

use uuid::Uuid;

use crate::{
    document::{Document, DocumentKey, Field},
    text::Match,
};

pub use self::{
    elasticsearch::{ElasticsearchConfig, ElasticsearchIndex},
    tantivy::TantivyIndex,
    versions::Indexes,
};

/// A change to the index, applied in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Adds the document, or replaces the one with the same key.
    Upsert(Document),
    /// Removes a contact's document, if there is one.
    DeleteContact { contact_id: Uuid },
    /// Removes a profile's document, if there is one.
    DeleteProfile { user_id: Uuid },
    /// Removes every contact document `owner_id` owns.
    DeleteContactsOf { owner_id: Uuid },
}

/// Terms a field must contain for a document to be found (a filter adds nothing
/// to the score).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub field: Field,
    /// Folded terms (`crate::text::terms`), each required exactly.
    pub terms: Vec<String>,
}

/// A place in a ranking: hits after it come strictly later.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub score: f32,
    pub key: DocumentKey,
}

impl Position {
    /// The ranking order: higher score first, then key.
    pub fn cmp_rank(&self, other: &Position) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.key.sort_value().cmp(&other.key.sort_value()))
    }
}

/// One search as a backend runs it: everything is already checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// Who asks: they see their own contacts and discoverable profiles, nothing else.
    pub viewer_id: Uuid,
    /// Folded query terms; a document must match each. Empty: every visible
    /// document that passes the filters, all of score 0.
    pub terms: Vec<String>,
    pub filters: Vec<Filter>,
    /// Hits wanted, at least 1.
    pub limit: usize,
    /// Only hits ranked after this place.
    pub after: Option<Position>,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// At most `limit` hits, in ranking order.
    pub hits: Vec<Hit>,
    /// Whether hits follow the last one.
    pub more: bool,
    /// Documents matching the query (all pages).
    pub total: Total,
}

/// One document found.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub document: Document,
    pub position: Position,
}

/// A count of matching documents: exact, or a lower bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub value: u64,
    pub exact: bool,
}

/// Why the index failed; every error is worth retrying later.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("tantivy index: {0}")]
    Tantivy(#[from] ::tantivy::TantivyError),
    #[error("elasticsearch: {0}")]
    Elasticsearch(String),
    /// The server did not answer, or kept answering 429 or 502–504.
    #[error("elasticsearch unavailable: {0}")]
    Unavailable(String),
    /// A bulk request's items failed.
    #[error("elasticsearch refused documents: {0}")]
    Rejected(String),
    #[error("stored document unreadable: {0}")]
    Stored(String),
    #[error("index task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl IndexError {
    /// Whether the index could not be reached or was overloaded: worth a 503 and
    /// a retry, unlike a fault.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, IndexError::Unavailable(_))
    }
}

/// Where documents are kept and searched. Every backend passes the conformance
/// suite (`tests/conformance/`).
pub trait SearchIndex: Send + Sync + 'static {
    /// Applies `changes` in order, after every change applied before. They may
    /// stay invisible and not durable until [`SearchIndex::commit`]; applying the
    /// same changes again leaves the same documents.
    fn apply(&self, changes: Vec<Change>) -> impl Future<Output = Result<(), IndexError>> + Send;

    /// Makes every change applied so far durable and visible to searches.
    fn commit(&self) -> impl Future<Output = Result<(), IndexError>> + Send;

    /// Runs a search, scoped to what the viewer may see as part of the query.
    fn search(&self, query: SearchQuery) -> impl Future<Output = Result<Page, IndexError>> + Send;
}

/// The backend the service runs on, chosen by `SEARCH_INDEX`.
pub enum Backend {
    Tantivy(TantivyIndex),
    Elasticsearch(ElasticsearchIndex),
}

impl SearchIndex for Backend {
    async fn apply(&self, changes: Vec<Change>) -> Result<(), IndexError> {
        match self {
            Backend::Tantivy(index) => index.apply(changes).await,
            Backend::Elasticsearch(index) => index.apply(changes).await,
        }
    }

    async fn commit(&self) -> Result<(), IndexError> {
        match self {
            Backend::Tantivy(index) => index.commit().await,
            Backend::Elasticsearch(index) => index.commit().await,
        }
    }

    async fn search(&self, query: SearchQuery) -> Result<Page, IndexError> {
        match self {
            Backend::Tantivy(index) => index.search(query).await,
            Backend::Elasticsearch(index) => index.search(query).await,
        }
    }
}

/// How much a match of each kind counts, times the field's weight.
pub fn match_factor(kind: Match) -> f32 {
    match kind {
        Match::Exact => 3.0,
        Match::Prefix => 2.0,
        Match::Fuzzy => 1.0,
    }
}
