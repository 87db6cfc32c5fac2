//! Terms indexed under their document's scope, and the query that reads only the
//! viewer's scopes.
//!
//! Every searched term is indexed as the document's scope followed by the term
//! ([`scoped_term`]): `1` and the owner's 16 id bytes for a contact, `0` for a
//! profile everyone sees. A scope is never a prefix of another, so the terms of
//! one scope are one subtree of a segment's term dictionary. [`ScopedTermQuery`]
//! walks only the subtrees of the viewer's scopes: prefix and typo matching cost
//! what the viewer can see, not what the whole index holds, and a term of another
//! owner cannot match at all, whatever the query term is.

use std::{
    io,
    sync::{Arc, OnceLock},
};

use ::tantivy::{
    SegmentReader, TantivyDocument,
    postings::TermInfo,
    query::{EnableScoring, Query, Weight},
    schema::Field as IndexField,
    termdict::TermDictionary,
    tokenizer::TextAnalyzer,
};
use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy_fst::Automaton;
use uuid::Uuid;

use super::documents::{DocumentsQuery, DocumentsWeight, MatchedDocuments, add_postings};
use crate::{
    document::Subject,
    text::{self, Match},
};

/// The scope of everything everyone sees (discoverable profiles).
const EVERYONE_SCOPE: [u8; 1] = [0];

/// Tag of an owner's scope, followed by the owner's id.
const OWNER_SCOPE_TAG: u8 = 1;

/// A scope's bytes: who may see the terms indexed under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(Vec<u8>);

impl Scope {
    /// The scope `subject`'s document is indexed under.
    pub fn of(subject: &Subject) -> Self {
        match *subject {
            Subject::Contact { owner_id, .. } => Self::owned_by(owner_id),
            Subject::Profile { .. } => Self(EVERYONE_SCOPE.to_vec()),
        }
    }

    /// The scopes `viewer_id` searches: their own contacts, then everyone's.
    pub fn visible_to(viewer_id: Uuid) -> Arc<[Scope]> {
        Arc::new([Self::owned_by(viewer_id), Self(EVERYONE_SCOPE.to_vec())])
    }

    /// The first key after every term of this scope: the scope with its last
    /// byte that can be raised raised, and what follows cut. `None` when every
    /// byte is 255 (no key is greater).
    fn end(&self) -> Option<Vec<u8>> {
        let mut end = self.0.clone();
        while let Some(last) = end.pop() {
            if last < u8::MAX {
                end.push(last + 1);
                return Some(end);
            }
        }
        None
    }

    fn owned_by(owner_id: Uuid) -> Self {
        let mut bytes = Vec::with_capacity(17);
        bytes.push(OWNER_SCOPE_TAG);
        bytes.extend_from_slice(owner_id.as_bytes());
        Self(bytes)
    }
}

/// The indexed form of `term` under `scope`.
fn scoped_term(scope: &Scope, term: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(scope.0.len() + term.len());
    bytes.extend_from_slice(&scope.0);
    bytes.extend_from_slice(term.as_bytes());
    bytes
}

/// Adds the terms of `value` to `field` of `document`, each under `scope`.
pub fn add_terms(
    document: &mut TantivyDocument,
    field: IndexField,
    scope: &Scope,
    analyzer: &mut TextAnalyzer,
    value: &str,
) {
    let mut term = scope.0.clone();
    text::each_term(analyzer, value, |text| {
        term.truncate(scope.0.len());
        term.extend_from_slice(text.as_bytes());
        document.add_bytes(field, &term);
    });
}

/// How a query term matches indexed terms (after their scope): exactly, as
/// their prefix, or within the edits its length allows
/// ([`text::allowed_edits`]). Built once per term and kind, shared by the
/// clauses of every field.
pub enum TermMatcher {
    Exact(String),
    Automaton(DFA),
}

impl TermMatcher {
    /// The matcher of `term` exactly.
    pub fn exact(term: &str) -> Arc<Self> {
        Arc::new(Self::Exact(term.to_owned()))
    }

    /// The matcher of `term` as `kind`; `None` for a fuzzy match of a term too
    /// short to allow an edit.
    pub fn new(term: &str, kind: Match) -> Option<Arc<Self>> {
        // Building a builder is the expensive part: one per number of edits
        // (`allowed_edits` allows at most 2).
        static BUILDERS: [OnceLock<LevenshteinAutomatonBuilder>; 3] =
            [const { OnceLock::new() }; 3];
        let builder = |edits: u8| {
            BUILDERS[usize::from(edits)]
                .get_or_init(|| LevenshteinAutomatonBuilder::new(edits, true))
        };
        let matcher = match kind {
            Match::Exact => return Some(Self::exact(term)),
            Match::Prefix => Self::Automaton(builder(0).build_prefix_dfa(term)),
            Match::Fuzzy => match text::allowed_edits(term) {
                0 => return None,
                edits => Self::Automaton(builder(edits).build_dfa(term)),
            },
        };
        Some(Arc::new(matcher))
    }
}

/// Documents with a term in `field`, under one of `scopes`, that `matcher`
/// accepts. Scores nothing: wrap it to give matches their weight.
#[derive(Clone)]
pub struct ScopedTermQuery {
    field: IndexField,
    scopes: Arc<[Scope]>,
    matcher: Arc<TermMatcher>,
}

impl ScopedTermQuery {
    pub fn new(field: IndexField, scopes: Arc<[Scope]>, matcher: Arc<TermMatcher>) -> Self {
        Self {
            field,
            scopes,
            matcher,
        }
    }
}

impl std::fmt::Debug for ScopedTermQuery {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let matcher = match &*self.matcher {
            TermMatcher::Exact(term) => term.as_str(),
            TermMatcher::Automaton(_) => "(automaton)",
        };
        formatter
            .debug_struct("ScopedTermQuery")
            .field("field", &self.field)
            .field("scopes", &self.scopes)
            .field("matcher", &matcher)
            .finish()
    }
}

impl Query for ScopedTermQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> ::tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(DocumentsWeight(self.clone())))
    }
}

impl DocumentsQuery for ScopedTermQuery {
    const NAME: &'static str = "ScopedTermQuery";

    /// The segment's documents with a matching term.
    fn documents(&self, reader: &SegmentReader) -> ::tantivy::Result<MatchedDocuments> {
        let ScopedTermQuery {
            field,
            scopes,
            matcher,
        } = self;
        let inverted_index = reader.inverted_index(*field)?;
        let dictionary = inverted_index.terms();
        let mut documents = Vec::new();
        let mut add =
            |term_info: &TermInfo| add_postings(&inverted_index, term_info, &mut documents);
        for scope in scopes.iter() {
            match &**matcher {
                TermMatcher::Exact(term) => {
                    if let Some(term_info) = dictionary.get(scoped_term(scope, term))? {
                        add(&term_info)?;
                    }
                }
                TermMatcher::Automaton(dfa) => {
                    let mut terms = matching_terms(dictionary, scope, dfa)?;
                    while terms.advance() {
                        add(terms.value())?;
                    }
                }
            }
        }
        Ok(MatchedDocuments::new(documents))
    }
}

/// The terms of `scope` the automaton accepts. The walk starts at the scope's
/// first term and ends after its last, instead of trying every other scope's
/// branch on the way.
fn matching_terms<'a>(
    dictionary: &'a TermDictionary,
    scope: &'a Scope,
    dfa: &'a DFA,
) -> io::Result<::tantivy::termdict::TermStreamer<'a, InScope<'a>, ::tantivy::termdict::WithoutKeys>>
{
    let terms = dictionary
        .search(InScope { scope, dfa })
        .without_keys()
        .ge(&scope.0);
    match scope.end() {
        Some(end) => terms.lt(end).into_stream(),
        None => terms.into_stream(),
    }
}

/// Accepts the terms of `scope` whose rest the Levenshtein automaton accepts.
/// [`matching_terms`] bounds the walk to the scope's range already; checking the
/// scope's bytes here too means no bound can let another scope's term match.
struct InScope<'a> {
    scope: &'a Scope,
    dfa: &'a DFA,
}

#[derive(Clone)]
enum InScopeState {
    /// This many bytes of the scope read.
    Scope(usize),
    /// In the scope's terms, at this state of the automaton.
    Term(u32),
    /// Another scope.
    Outside,
}

impl Automaton for InScope<'_> {
    type State = InScopeState;

    fn start(&self) -> InScopeState {
        InScopeState::Scope(0)
    }

    fn is_match(&self, state: &InScopeState) -> bool {
        match *state {
            InScopeState::Term(term) => matches!(self.dfa.distance(term), Distance::Exact(_)),
            InScopeState::Scope(_) | InScopeState::Outside => false,
        }
    }

    fn can_match(&self, state: &InScopeState) -> bool {
        match *state {
            InScopeState::Scope(_) => true,
            InScopeState::Term(term) => term != SINK_STATE,
            InScopeState::Outside => false,
        }
    }

    fn accept(&self, state: &InScopeState, byte: u8) -> InScopeState {
        let scope = &self.scope.0;
        match *state {
            InScopeState::Scope(read) if scope[read] == byte => {
                if read + 1 == scope.len() {
                    InScopeState::Term(self.dfa.initial_state())
                } else {
                    InScopeState::Scope(read + 1)
                }
            }
            InScopeState::Term(term) => InScopeState::Term(self.dfa.transition(term, byte)),
            InScopeState::Scope(_) | InScopeState::Outside => InScopeState::Outside,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(automaton: &InScope<'_>, key: &[u8]) -> bool {
        let mut state = automaton.start();
        for &byte in key {
            if !automaton.can_match(&state) {
                return false;
            }
            state = automaton.accept(&state, byte);
        }
        automaton.is_match(&state)
    }

    #[test]
    fn only_terms_of_the_scope_match_and_only_after_the_scope() {
        let owner = Uuid::from_u128(7);
        let neighbour = Uuid::from_u128(8);
        let scope = Scope::owned_by(owner);
        let dfa = LevenshteinAutomatonBuilder::new(1, true).build_dfa("smith");
        let automaton = InScope {
            scope: &scope,
            dfa: &dfa,
        };
        assert!(accepts(&automaton, &scoped_term(&scope, "smith")));
        assert!(
            accepts(&automaton, &scoped_term(&scope, "smyth")),
            "one edit"
        );
        assert!(!accepts(&automaton, &scoped_term(&scope, "smythe")));
        assert!(
            !accepts(
                &automaton,
                &scoped_term(&Scope::owned_by(neighbour), "smith")
            ),
            "a scope one byte away"
        );
        assert!(!accepts(
            &automaton,
            &scoped_term(&Scope(EVERYONE_SCOPE.to_vec()), "smith")
        ));
        assert!(!accepts(&automaton, b"smith"), "no scope");
    }

    #[test]
    fn no_scope_is_a_prefix_of_another() {
        let everyone = Scope(EVERYONE_SCOPE.to_vec());
        let owner = Scope::owned_by(Uuid::nil());
        assert!(!owner.0.starts_with(&everyone.0));
        assert!(!everyone.0.starts_with(&owner.0));
        assert_eq!(owner.0.len(), 17, "every owner's scope has the same length");
    }

    #[test]
    fn a_scope_ends_before_the_first_key_of_the_next() {
        assert_eq!(Scope(EVERYONE_SCOPE.to_vec()).end(), Some(vec![1]));
        assert_eq!(Scope(vec![1, 7, 255, 255]).end(), Some(vec![1, 8]));
        assert_eq!(Scope(vec![255, 255]).end(), None);
        let scope = Scope::owned_by(Uuid::from_u128(7));
        let end = scope.end().unwrap();
        assert!(scoped_term(&scope, "zzzz").as_slice() < end.as_slice());
        assert!(
            scoped_term(&Scope::owned_by(Uuid::from_u128(8)), "a").as_slice() >= end.as_slice()
        );
    }
}
