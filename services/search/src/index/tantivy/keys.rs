//! The query that deletes the documents an upsert replaces.
//!
//! An upsert deletes the document of its key, then adds the new one. tantivy runs
//! each delete on every segment at the commit; with a `TermQuery` per document,
//! deleting was ~9 % of the service's CPU while indexing (`infra/bench/search`):
//! a scoring weight built for each, then a scorer per segment. [`KeysQuery`]
//! deletes the keys of a run of upserts at once, looking each up in a segment's
//! key dictionary (a `TermSetQuery` walks the whole dictionary with an automaton
//! instead, which cost more than a query per document).

use std::sync::Arc;

use ::tantivy::{
    DocId, Score, SegmentReader, TantivyError,
    query::{ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight},
    schema::Field as IndexField,
};

use super::scoped::{MatchedDocuments, add_postings};

/// The documents with one of `keys` in `field`.
#[derive(Clone, Debug)]
pub struct KeysQuery {
    field: IndexField,
    keys: Arc<[String]>,
}

impl KeysQuery {
    pub fn new(field: IndexField, keys: impl IntoIterator<Item = String>) -> Self {
        Self {
            field,
            keys: keys.into_iter().collect(),
        }
    }
}

impl Query for KeysQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> ::tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(KeysWeight(self.clone())))
    }
}

/// The query as tantivy runs it on each segment.
struct KeysWeight(KeysQuery);

impl KeysWeight {
    /// The segment's documents with one of the keys, in order.
    fn documents(&self, reader: &SegmentReader) -> ::tantivy::Result<MatchedDocuments> {
        let inverted_index = reader.inverted_index(self.0.field)?;
        let dictionary = inverted_index.terms();
        let mut documents = Vec::new();
        for key in self.0.keys.iter() {
            if let Some(term_info) = dictionary.get(key)? {
                add_postings(&inverted_index, &term_info, &mut documents)?;
            }
        }
        Ok(MatchedDocuments::new(documents))
    }
}

impl Weight for KeysWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> ::tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ConstScorer::new(self.documents(reader)?, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> ::tantivy::Result<Explanation> {
        if self.documents(reader)?.contains(doc) {
            Ok(Explanation::new("KeysQuery", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )))
        }
    }
}
