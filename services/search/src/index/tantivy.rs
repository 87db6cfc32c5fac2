//! The local backend: an embedded tantivy index in a directory of its own.
//!
//! One process writes the directory (tantivy locks it), so this backend serves one
//! instance of the service; production runs Elasticsearch. Changes go to the
//! writer as they are applied and become durable and visible at `commit`, which
//! the projection calls before acknowledging its events. Searched terms are
//! indexed under their document's scope ([`scoped`]), so a search reads only the
//! terms its viewer may see.

mod documents;
mod keys;
mod merges;
mod scoped;

use std::{
    collections::{BinaryHeap, HashSet},
    path::Path,
    sync::{Arc, Mutex, PoisonError},
};

use ::tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentOrdinal,
    SegmentReader, TantivyDocument, Term,
    collector::{Collector, Count, SegmentCollector},
    columnar::Column,
    directory::MmapDirectory,
    query::{BooleanQuery, ConstScoreQuery, DisjunctionMaxQuery, Occur, Query, TermQuery},
    schema::{
        FAST, Field as IndexField, INDEXED, IndexRecordOption, STORED, STRING, Schema, Value,
    },
    tokenizer::TextAnalyzer,
};

use self::{
    keys::KeysQuery,
    scoped::{Scope, ScopedTermQuery, TermMatcher},
};
use super::{
    Change, Filter, Hit, IndexError, Page, Position, SearchIndex, SearchQuery, Total, match_factor,
};
use crate::{
    document::{Document, DocumentKey, EVERYONE, Field},
    text::{self, Match},
};

/// Threads the writer indexes documents on. One makes one segment per commit,
/// where each thread would make its own: with two, each owner's terms were split
/// across twice the segments and merged back later, and indexing cost 63-69 µs of
/// CPU per document against 51-55 with one (`infra/bench/search`).
const INDEXING_THREADS: usize = 1;

/// The most documents a merge puts in one segment ([`merges`]): with merges of
/// ~540,000 the process peaked at 410-430 MB, over its 300 MB target.
const MAX_MERGED_DOCS: u32 = 150_000;

/// The embedded index.
#[derive(Clone)]
pub struct TantivyIndex {
    reader: IndexReader,
    writer: Arc<Mutex<IndexWriter>>,
    fields: Fields,
}

/// The index's fields.
#[derive(Clone, Copy)]
struct Fields {
    /// `c:<contact id>` or `p:<user id>`: what an upsert replaces.
    key: IndexField,
    /// The key's sort value ([`DocumentKey::sort_value`]), for the tie-break.
    id_high: IndexField,
    id_low: IndexField,
    kind: IndexField,
    /// The owner's id, or [`EVERYONE`].
    visible_to: IndexField,
    /// The document as JSON, returned by searches.
    source: IndexField,
    /// The searched fields' terms under the document's scope
    /// ([`scoped::scoped_term`]), in [`Field::ALL`] order.
    searched: [IndexField; 5],
}

impl Fields {
    fn schema() -> (Schema, Fields) {
        let mut schema = Schema::builder();
        let fields = Fields {
            key: schema.add_text_field("key", STRING),
            id_high: schema.add_u64_field("id_high", FAST),
            id_low: schema.add_u64_field("id_low", FAST),
            kind: schema.add_u64_field("kind", FAST),
            visible_to: schema.add_text_field("visible_to", STRING),
            source: schema.add_bytes_field("source", STORED),
            searched: Field::ALL.map(|field| schema.add_bytes_field(field.name(), INDEXED)),
        };
        (schema.build(), fields)
    }

    fn searched(&self, field: Field) -> IndexField {
        // `Field::ALL` lists the variants in declaration order.
        self.searched[field as usize]
    }
}

impl TantivyIndex {
    /// Opens the index in `path`, creating it when the directory is empty. Fails
    /// when another process has it open for writing.
    pub fn open(path: &Path, writer_memory_bytes: usize) -> Result<Self, IndexError> {
        std::fs::create_dir_all(path).map_err(::tantivy::TantivyError::from)?;
        let directory = MmapDirectory::open(path).map_err(::tantivy::TantivyError::from)?;
        let (schema, fields) = Fields::schema();
        let index = Index::open_or_create(directory, schema).map_err(|error| match error {
            ::tantivy::TantivyError::SchemaError(_) => {
                IndexError::Tantivy(::tantivy::TantivyError::SchemaError(format!(
                    "{} holds an index written by a version of search whose fields differ; \
                     remove that directory, start the service (it creates the index empty) \
                     and run `search reindex` to rebuild it from the importer's contacts",
                    path.display()
                )))
            }
            other => other.into(),
        })?;
        let writer = index.writer_with_num_threads(INDEXING_THREADS, writer_memory_bytes)?;
        writer.set_merge_policy(Box::new(merges::CappedMerges::new(MAX_MERGED_DOCS)));
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            reader,
            writer: Arc::new(Mutex::new(writer)),
            fields,
        })
    }

    fn key_term(&self, key: DocumentKey) -> Term {
        Term::from_field_text(self.fields.key, &key.stored_id())
    }

    /// The document as indexed; `analyzer` is [`text::analyzer`], reused across a
    /// batch.
    fn index_document(
        &self,
        document: &Document,
        analyzer: &mut TextAnalyzer,
    ) -> Result<TantivyDocument, IndexError> {
        let fields = &self.fields;
        let key = document.subject.key();
        let (id, kind) = key.sort_value();
        let mut indexed = TantivyDocument::default();
        indexed.add_text(fields.key, key.stored_id());
        indexed.add_u64(fields.id_high, (id >> 64) as u64);
        indexed.add_u64(fields.id_low, id as u64);
        indexed.add_u64(fields.kind, u64::from(kind));
        indexed.add_text(fields.visible_to, document.subject.visible_to());
        let scope = Scope::of(&document.subject);
        for field in Field::ALL {
            for value in document.values(field) {
                scoped::add_terms(
                    &mut indexed,
                    fields.searched(field),
                    &scope,
                    analyzer,
                    value,
                );
            }
        }
        let source =
            serde_json::to_vec(document).map_err(|error| IndexError::Stored(error.to_string()))?;
        indexed.add_bytes(fields.source, &source);
        Ok(indexed)
    }

    fn apply_now(&self, changes: Vec<Change>) -> Result<(), IndexError> {
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut analyzer = text::analyzer();
        let mut upserts = Vec::new();
        for change in changes {
            let deleted = match change {
                Change::Upsert(document) => {
                    upserts.push(document);
                    continue;
                }
                Change::DeleteContact { contact_id } => {
                    self.key_term(DocumentKey::Contact(contact_id))
                }
                Change::DeleteProfile { user_id } => self.key_term(DocumentKey::Profile(user_id)),
                Change::DeleteContactsOf { owner_id } => {
                    Term::from_field_text(self.fields.visible_to, &owner_id.to_string())
                }
            };
            // The upserts before the delete first, so that it removes what they add.
            self.upsert_all(&writer, std::mem::take(&mut upserts), &mut analyzer)?;
            writer.delete_term(deleted);
        }
        self.upsert_all(&writer, upserts, &mut analyzer)
    }

    /// Replaces the documents of a run of upserts, the last of each key winning as
    /// if they were applied one by one: one delete of every key ([`keys`]), then
    /// the additions.
    fn upsert_all(
        &self,
        writer: &IndexWriter,
        upserts: Vec<Document>,
        analyzer: &mut TextAnalyzer,
    ) -> Result<(), IndexError> {
        if upserts.is_empty() {
            return Ok(());
        }
        let mut keys = HashSet::with_capacity(upserts.len());
        let mut last_of_each_key: Vec<Document> = upserts
            .into_iter()
            .rev()
            .filter(|document| keys.insert(document.subject.key()))
            .collect();
        last_of_each_key.reverse();
        writer.delete_query(Box::new(KeysQuery::new(
            self.fields.key,
            keys.iter().map(DocumentKey::stored_id),
        )))?;
        for document in &last_of_each_key {
            writer.add_document(self.index_document(document, analyzer)?)?;
        }
        Ok(())
    }

    fn commit_now(&self) -> Result<(), IndexError> {
        self.writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .commit()?;
        self.reader.reload()?;
        // The commit freed the segment writers' buffers, and the batch's documents
        // are gone: without this the process would keep its indexing peak.
        six_kit::memory::release_freed();
        Ok(())
    }

    /// The query: the viewer's scope and the filters (scoring nothing), and each
    /// term's best match (see the ranking in [`super`]).
    fn query(&self, query: &SearchQuery) -> BooleanQuery {
        let fields = &self.fields;
        let visible = |value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(fields.visible_to, value),
                IndexRecordOption::Basic,
            ))
        };
        // The searched fields' terms are scoped too; this clause finds the
        // documents of a query without terms or filters.
        let scope = BooleanQuery::new(vec![
            (Occur::Should, visible(&query.viewer_id.to_string())),
            (Occur::Should, visible(EVERYONE)),
        ]);
        let scopes = Scope::visible_to(query.viewer_id);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            Box::new(ConstScoreQuery::new(Box::new(scope), 0.0)),
        )];
        for Filter { field, terms } in &query.filters {
            for term in terms {
                let required = ScopedTermQuery::new(
                    fields.searched(*field),
                    Arc::clone(&scopes),
                    TermMatcher::exact(term),
                );
                clauses.push((
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(Box::new(required), 0.0)),
                ));
            }
        }
        for term in &query.terms {
            clauses.push((Occur::Must, Box::new(self.best_match(&scopes, term))));
        }
        BooleanQuery::new(clauses)
    }

    /// Scores the best match of one query term over every field and match kind,
    /// among the terms of `scopes`.
    fn best_match(&self, scopes: &Arc<[Scope]>, term: &str) -> DisjunctionMaxQuery {
        let matchers: Vec<(Match, Arc<TermMatcher>)> = Match::ALL
            .into_iter()
            .filter_map(|kind| Some((kind, TermMatcher::new(term, kind)?)))
            .collect();
        let mut disjuncts: Vec<Box<dyn Query>> = Vec::new();
        for field in Field::ALL {
            for (kind, matcher) in &matchers {
                let kind = *kind;
                let matching = ScopedTermQuery::new(
                    self.fields.searched(field),
                    Arc::clone(scopes),
                    Arc::clone(matcher),
                );
                disjuncts.push(Box::new(ConstScoreQuery::new(
                    Box::new(matching),
                    field.weight() * match_factor(kind),
                )));
            }
        }
        DisjunctionMaxQuery::new(disjuncts)
    }

    fn search_now(&self, query: &SearchQuery) -> Result<Page, IndexError> {
        let searcher = self.reader.searcher();
        let collector = RankCollector {
            limit: query.limit,
            after: query.after,
            fields: self.fields,
        };
        let (total, mut ranked) = searcher.search(&self.query(query), &(Count, collector))?;
        let more = ranked.len() > query.limit;
        ranked.truncate(query.limit);
        let mut hits = Vec::with_capacity(ranked.len());
        for Ranked { position, address } in ranked {
            let stored: TantivyDocument = searcher.doc(address)?;
            let source = stored
                .get_first(self.fields.source)
                .and_then(|value| value.as_bytes())
                .ok_or_else(|| IndexError::Stored("document without source".to_owned()))?;
            let document = serde_json::from_slice(source)
                .map_err(|error| IndexError::Stored(error.to_string()))?;
            hits.push(Hit { document, position });
        }
        Ok(Page {
            hits,
            more,
            total: Total {
                value: total as u64,
                exact: true,
            },
        })
    }
}

impl SearchIndex for TantivyIndex {
    async fn apply(&self, changes: Vec<Change>) -> Result<(), IndexError> {
        let index = self.clone();
        tokio::task::spawn_blocking(move || index.apply_now(changes)).await?
    }

    async fn commit(&self) -> Result<(), IndexError> {
        let index = self.clone();
        tokio::task::spawn_blocking(move || index.commit_now()).await?
    }

    async fn search(&self, query: SearchQuery) -> Result<Page, IndexError> {
        let index = self.clone();
        tokio::task::spawn_blocking(move || index.search_now(&query)).await?
    }
}

/// A hit's place in the ranking; greater is worse, so a max-heap holds the worst
/// kept hit on top.
struct Ranked {
    position: Position,
    address: DocAddress,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.position.cmp_rank(&other.position)
    }
}

/// Collects the best `limit + 1` hits ranked after `after` (one more than asked,
/// to know whether another page follows).
struct RankCollector {
    limit: usize,
    after: Option<Position>,
    fields: Fields,
}

struct RankSegmentCollector {
    segment: SegmentOrdinal,
    keep: usize,
    after: Option<Position>,
    id_high: Column<u64>,
    id_low: Column<u64>,
    kind: Column<u64>,
    best: BinaryHeap<Ranked>,
}

impl Collector for RankCollector {
    type Fruit = Vec<Ranked>;
    type Child = RankSegmentCollector;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> ::tantivy::Result<RankSegmentCollector> {
        let schema = reader.schema();
        let column = |field: IndexField| reader.fast_fields().u64(schema.get_field_name(field));
        Ok(RankSegmentCollector {
            segment,
            keep: self.limit + 1,
            after: self.after,
            id_high: column(self.fields.id_high)?,
            id_low: column(self.fields.id_low)?,
            kind: column(self.fields.kind)?,
            best: BinaryHeap::with_capacity(self.limit + 2),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, segments: Vec<Vec<Ranked>>) -> ::tantivy::Result<Vec<Ranked>> {
        let mut merged: Vec<Ranked> = segments.into_iter().flatten().collect();
        merged.sort();
        merged.truncate(self.limit + 1);
        Ok(merged)
    }
}

impl SegmentCollector for RankSegmentCollector {
    type Fruit = Vec<Ranked>;

    fn collect(&mut self, doc: DocId, score: Score) {
        let (Some(high), Some(low), Some(kind)) = (
            self.id_high.first(doc),
            self.id_low.first(doc),
            self.kind.first(doc),
        ) else {
            return;
        };
        let id = (u128::from(high) << 64) | u128::from(low);
        let Some(key) = u8::try_from(kind)
            .ok()
            .and_then(|kind| DocumentKey::from_sort_value(id, kind))
        else {
            return;
        };
        let position = Position { score, key };
        if self
            .after
            .is_some_and(|after| position.cmp_rank(&after).is_le())
        {
            return;
        }
        self.best.push(Ranked {
            position,
            address: DocAddress::new(self.segment, doc),
        });
        if self.best.len() > self.keep {
            self.best.pop();
        }
    }

    fn harvest(self) -> Vec<Ranked> {
        self.best.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use ::tantivy::schema::TEXT;

    use super::*;

    #[test]
    fn a_directory_with_other_fields_is_refused_with_what_to_do() {
        let directory = tempfile::tempdir().unwrap();
        let mut other = Schema::builder();
        other.add_text_field("name", TEXT);
        Index::create_in_dir(directory.path(), other.build()).unwrap();

        let Err(error) = TantivyIndex::open(directory.path(), 15_000_000) else {
            panic!("an index of other fields was opened");
        };
        let message = error.to_string();
        assert!(
            message.contains(&directory.path().display().to_string()),
            "{message}"
        );
        assert!(message.contains("search reindex"), "{message}");
    }
}
