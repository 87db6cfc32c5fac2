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
    SegmentReader,
    query::{EnableScoring, Query, Weight},
    schema::Field as IndexField,
};

use super::documents::{DocumentsQuery, DocumentsWeight, MatchedDocuments, add_postings};

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
        Ok(Box::new(DocumentsWeight(self.clone())))
    }
}

impl DocumentsQuery for KeysQuery {
    const NAME: &'static str = "KeysQuery";

    /// The segment's documents with one of the keys.
    fn documents(&self, reader: &SegmentReader) -> ::tantivy::Result<MatchedDocuments> {
        let inverted_index = reader.inverted_index(self.field)?;
        let dictionary = inverted_index.terms();
        let mut documents = Vec::new();
        for key in self.keys.iter() {
            if let Some(term_info) = dictionary.get(key)? {
                add_postings(&inverted_index, &term_info, &mut documents)?;
            }
        }
        Ok(MatchedDocuments::new(documents))
    }
}
