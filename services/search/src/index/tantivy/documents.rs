//! Queries that match a set of documents in each segment, all with one score:
//! each says how it finds a segment's documents ([`DocumentsQuery`]), and tantivy
//! runs them through one weight ([`DocumentsWeight`]). The scoped terms of a
//! search ([`super::scoped`]) and the keys an upsert replaces ([`super::keys`])
//! are two.

use std::io;

use ::tantivy::{
    DocId, DocSet, InvertedIndexReader, Score, SegmentReader, TERMINATED, TantivyError,
    postings::TermInfo,
    query::{ConstScorer, Explanation, Scorer, Weight},
    schema::IndexRecordOption,
};

/// A query that matches a set of documents in each segment, all with one score.
pub trait DocumentsQuery: Send + Sync + 'static {
    /// The query's name in explanations.
    const NAME: &'static str;

    /// The segment's matching documents.
    fn documents(&self, reader: &SegmentReader) -> ::tantivy::Result<MatchedDocuments>;
}

/// A [`DocumentsQuery`] as tantivy runs it on each segment: it scores nothing, so
/// it needs nothing more than the query.
pub struct DocumentsWeight<Q>(pub Q);

impl<Q: DocumentsQuery> Weight for DocumentsWeight<Q> {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> ::tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ConstScorer::new(self.0.documents(reader)?, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> ::tantivy::Result<Explanation> {
        if self.0.documents(reader)?.contains(doc) {
            Ok(Explanation::new(Q::NAME, 1.0))
        } else {
            Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )))
        }
    }
}

/// Adds the documents of a term's postings to `documents`.
pub fn add_postings(
    inverted_index: &InvertedIndexReader,
    term_info: &TermInfo,
    documents: &mut Vec<DocId>,
) -> io::Result<()> {
    let mut postings =
        inverted_index.read_block_postings_from_terminfo(term_info, IndexRecordOption::Basic)?;
    while !postings.docs().is_empty() {
        documents.extend_from_slice(postings.docs());
        postings.advance();
    }
    Ok(())
}

/// A segment's matching documents, strictly increasing, as a [`DocSet`].
pub struct MatchedDocuments {
    documents: Vec<DocId>,
    at: usize,
}

impl MatchedDocuments {
    /// `documents` in any order, repeats allowed.
    pub fn new(mut documents: Vec<DocId>) -> Self {
        documents.sort_unstable();
        documents.dedup();
        Self { documents, at: 0 }
    }

    pub fn contains(&self, doc: DocId) -> bool {
        self.documents.binary_search(&doc).is_ok()
    }
}

impl DocSet for MatchedDocuments {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.documents.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.at += self.documents[self.at..].partition_point(|&doc| doc < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.documents.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        u32::try_from(self.documents.len()).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matched_documents_advance_and_seek_in_order() {
        let mut documents = MatchedDocuments {
            documents: vec![2, 5, 9, 14],
            at: 0,
        };
        assert_eq!(documents.doc(), 2);
        assert_eq!(documents.seek(5), 5, "a target present");
        assert_eq!(documents.seek(6), 9, "the next one after a target absent");
        assert_eq!(documents.advance(), 14);
        assert_eq!(documents.advance(), TERMINATED);
        assert_eq!(documents.advance(), TERMINATED);
        assert_eq!(documents.seek(100), TERMINATED);
    }
}
