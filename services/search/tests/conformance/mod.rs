//! The conformance suite every [`SearchIndex`] must pass: each case fills a fresh,
//! empty index through `apply` and `commit` and asks it questions through
//! `search`, as the projection and the routes do. `every_conformance_case!` lists
//! the cases and expands to one test per case for a backend, given an async
//! function that makes a fresh [`TestIndex`].
//!
//! The contract the cases hold a backend to (`search::index`):
//!
//! - a query term scores the best of its matches over the document's fields:
//!   field weight (name 4, e-mail 3, title 2, company 2, location 1) × match
//!   factor (exact 3, prefix 2, fuzzy 1); fuzzy allows no edit up to 2
//!   characters, 1 edit for 3 to 5, 2 from 6, a transposition counting as one;
//! - a document scores the sum over the query's terms, and must match every term
//!   and every filter term (a filter adds nothing to the score); no terms: every
//!   visible document passing the filters, score 0;
//! - a score depends on the document and the query only, and equal scores are
//!   ordered by `DocumentKey::sort_value` ascending, so a cursor keeps its place
//!   while documents come and go;
//! - a viewer sees their own contacts and every profile, nothing else, whatever
//!   the terms, filters and cursor;
//! - changes are visible after `commit` only; an upsert replaces the document of
//!   the same key.
//!
//! Names in the cases: `me` asks, `other` is another owner, `stranger` has
//! nothing in the index.

#![allow(dead_code)] // each test binary uses a different part

use std::{any::Any, collections::HashSet};

use search::{
    document::{Document, DocumentKey, Field, Subject},
    index::{Change, Filter, Hit, Page, Position, SearchIndex, SearchQuery, Total},
    text,
};
use uuid::Uuid;

// ---------------------------------------------------------------------------
// The index under test and the helpers of the cases
// ---------------------------------------------------------------------------

/// An index under test, with whatever it needs kept until the case ends (a
/// directory, a server's lease).
pub struct TestIndex<I> {
    pub backend: I,
    /// Whether the backend promises exact totals: every `Total` it returns then
    /// has `exact` set and the true count.
    pub exact_totals: bool,
    _held: Box<dyn Any + Send + Sync>,
}

impl<I: SearchIndex> TestIndex<I> {
    /// `backend`, keeping `held` until the case ends; its totals may be lower
    /// bounds when it says so.
    pub fn new(backend: I, held: impl Any + Send + Sync) -> Self {
        Self {
            backend,
            exact_totals: false,
            _held: Box::new(held),
        }
    }

    /// The backend promises exact totals, and the cases check it keeps that promise.
    pub fn with_exact_totals(self) -> Self {
        Self {
            exact_totals: true,
            ..self
        }
    }
}

/// Hits per page unless a case says otherwise: more than any small case has.
pub const LIMIT: usize = 100;

/// A contact of `owner_id` named `full_name`, with nothing else.
pub fn contact(owner_id: Uuid, full_name: &str) -> Document {
    Document {
        subject: Subject::Contact {
            contact_id: Uuid::now_v7(),
            owner_id,
        },
        full_name: full_name.to_owned(),
        other_names: Vec::new(),
        emails: Vec::new(),
        company: None,
        title: None,
        location: None,
    }
}

/// The profile of a new user named `full_name`, with nothing else.
pub fn profile(full_name: &str) -> Document {
    Document {
        subject: Subject::Profile {
            user_id: Uuid::now_v7(),
        },
        ..contact(Uuid::nil(), full_name)
    }
}

/// The rest of a document, set one field at a time.
pub trait WithFields: Sized {
    fn with_other_name(self, name: &str) -> Self;
    fn with_email(self, email: &str) -> Self;
    fn with_company(self, company: &str) -> Self;
    fn with_title(self, title: &str) -> Self;
    fn with_location(self, location: &str) -> Self;
}

impl WithFields for Document {
    fn with_other_name(mut self, name: &str) -> Self {
        self.other_names.push(name.to_owned());
        self
    }

    fn with_email(mut self, email: &str) -> Self {
        self.emails.push(email.to_owned());
        self
    }

    fn with_company(self, company: &str) -> Self {
        Self {
            company: Some(company.to_owned()),
            ..self
        }
    }

    fn with_title(self, title: &str) -> Self {
        Self {
            title: Some(title.to_owned()),
            ..self
        }
    }

    fn with_location(self, location: &str) -> Self {
        Self {
            location: Some(location.to_owned()),
            ..self
        }
    }
}

pub fn key(document: &Document) -> DocumentKey {
    document.subject.key()
}

pub fn contact_id(document: &Document) -> Uuid {
    match document.subject {
        Subject::Contact { contact_id, .. } => contact_id,
        Subject::Profile { .. } => panic!("{} is a profile", document.full_name),
    }
}

/// `keys` in ranking order among equal scores.
pub fn sorted(mut keys: Vec<DocumentKey>) -> Vec<DocumentKey> {
    keys.sort_by_key(DocumentKey::sort_value);
    keys
}

/// The folded terms of `text`, as the routes make them.
pub fn terms(text: &str) -> Vec<String> {
    text::terms(text)
        .into_iter()
        .map(|term| term.text)
        .collect()
}

/// A filter on `field` requiring the folded terms of `text`.
pub fn filter(field: Field, text: &str) -> Filter {
    Filter {
        field,
        terms: terms(text),
    }
}

/// The first page of `viewer_id`'s search for `text`, no filters.
pub fn query(viewer_id: Uuid, text: &str) -> SearchQuery {
    SearchQuery {
        viewer_id,
        terms: terms(text),
        filters: Vec::new(),
        limit: LIMIT,
        after: None,
    }
}

/// Applies `changes`, without committing.
pub async fn apply<I: SearchIndex>(index: &TestIndex<I>, changes: Vec<Change>) {
    index
        .backend
        .apply(changes)
        .await
        .expect("the changes apply");
}

pub async fn commit<I: SearchIndex>(index: &TestIndex<I>) {
    index.backend.commit().await.expect("the index commits");
}

/// Upserts `documents` and commits.
pub async fn put<'a, I: SearchIndex>(
    index: &TestIndex<I>,
    documents: impl IntoIterator<Item = &'a Document>,
) {
    let changes = documents.into_iter().cloned().map(Change::Upsert).collect();
    apply(index, changes).await;
    commit(index).await;
}

/// Applies one change and commits.
pub async fn change<I: SearchIndex>(index: &TestIndex<I>, change: Change) {
    apply(index, vec![change]).await;
    commit(index).await;
}

pub async fn run<I: SearchIndex>(index: &TestIndex<I>, query: SearchQuery) -> Page {
    index
        .backend
        .search(query.clone())
        .await
        .unwrap_or_else(|error| panic!("search {query:?}: {error}"))
}

/// The first page of `viewer_id`'s search for `text` (folded as the routes fold it).
pub async fn search<I: SearchIndex>(index: &TestIndex<I>, viewer_id: Uuid, text: &str) -> Page {
    run(index, query(viewer_id, text)).await
}

/// Every page of `query`, each resuming after the last hit of the one before.
pub async fn walk<I: SearchIndex>(index: &TestIndex<I>, query: SearchQuery) -> Vec<Page> {
    let mut pages: Vec<Page> = Vec::new();
    let mut after = query.after;
    loop {
        assert!(pages.len() < 10_000, "the pages of {query:?} never end");
        let page = run(
            index,
            SearchQuery {
                after,
                ..query.clone()
            },
        )
        .await;
        let more = page.more;
        after = page.hits.last().map(|hit| hit.position);
        pages.push(page);
        if !more {
            return pages;
        }
        assert!(after.is_some(), "a page without hits says more follow");
    }
}

pub fn hits(pages: &[Page]) -> Vec<&Hit> {
    pages.iter().flat_map(|page| &page.hits).collect()
}

pub fn names(page: &Page) -> Vec<&str> {
    page.hits
        .iter()
        .map(|hit| hit.document.full_name.as_str())
        .collect()
}

pub fn keys(page: &Page) -> Vec<DocumentKey> {
    page.hits.iter().map(|hit| key(&hit.document)).collect()
}

/// Names and scores, for failure messages.
pub fn ranked(page: &Page) -> Vec<(&str, f32)> {
    page.hits
        .iter()
        .map(|hit| (hit.document.full_name.as_str(), hit.position.score))
        .collect()
}

/// Checks `total` says `expected`: exactly when the backend promises exact
/// totals or says this one is; otherwise as a lower bound.
pub fn assert_total<I>(index: &TestIndex<I>, total: Total, expected: u64, context: &str) {
    if index.exact_totals {
        assert_eq!(
            total,
            Total {
                value: expected,
                exact: true
            },
            "{context}"
        );
    } else if total.exact {
        assert_eq!(total.value, expected, "{context}");
    } else {
        assert!(total.value <= expected, "{context}: {total:?}");
    }
}

/// Checks no hit of `page` is a contact `viewer_id` does not own.
pub fn assert_only_visible_to(viewer_id: Uuid, page: &Page, context: &str) {
    for hit in &page.hits {
        if let Subject::Contact { owner_id, .. } = hit.document.subject {
            assert_eq!(
                owner_id, viewer_id,
                "{context}: another owner's contact {:?} was shown",
                hit.document
            );
        }
    }
}

/// Checks each hit ranks strictly after the one before.
pub fn assert_ranking_order(hits: &[&Hit], context: &str) {
    for pair in hits.windows(2) {
        assert!(
            pair[0].position.cmp_rank(&pair[1].position).is_lt(),
            "{context}: {:?} is shown before {:?}",
            pair[0].position,
            pair[1].position
        );
    }
}

// ---------------------------------------------------------------------------
// The list of cases
// ---------------------------------------------------------------------------

/// Every conformance case as a test on the backend `$make` makes, with the
/// attributes given before it. The one list of cases: each backend's test file
/// invokes this.
#[macro_export]
macro_rules! every_conformance_case {
    ($(#[$attribute:meta])* $make:path) => {
        six_testkit::conformance_tests!($(#[$attribute])* $make => conformance;
            ranking_sums_each_terms_best_field_weight_times_match_factor,
            another_owners_contact_is_not_found_by_its_exact_name,
            query_syntax_typed_in_the_text_reveals_no_other_owners_contact,
            unfolded_query_syntax_in_terms_and_filters_reveals_no_other_owners_contact,
            a_filter_on_another_owners_company_reveals_nothing,
            a_cursor_made_from_another_owners_document_reveals_nothing,
            totals_never_count_another_owners_contacts,
            profiles_are_visible_to_every_viewer,
            the_same_upsert_applied_twice_leaves_one_document,
            the_same_batch_applied_twice_leaves_one_document_per_key,
            an_upsert_with_changed_fields_replaces_the_old_values,
            a_contact_and_a_profile_with_the_same_id_are_two_documents,
            an_upsert_moving_a_contact_to_another_owner_hides_it_from_the_first,
            delete_contact_removes_only_that_contact,
            delete_profile_removes_only_that_profile,
            delete_contacts_of_removes_every_contact_of_that_owner_and_nothing_else,
            deleting_a_missing_document_changes_nothing,
            changes_in_one_batch_apply_in_order,
            changes_are_invisible_until_committed,
            pages_walk_every_match_once_in_ranking_order,
            pagination_is_stable_while_documents_are_added_and_removed,
            a_score_does_not_depend_on_other_documents,
            the_total_counts_every_match_on_every_page,
            a_company_filter_keeps_only_documents_whose_company_has_the_term,
            every_filter_term_and_every_filter_must_match,
            a_filter_adds_nothing_to_the_score,
            filters_without_terms_return_every_visible_match_with_score_zero,
            equal_scores_are_ordered_by_key_ascending,
            an_owner_with_2000_similar_contacts_gets_bounded_pages_and_exact_totals,
        );
    };
}

// ---------------------------------------------------------------------------
// Relevance
// ---------------------------------------------------------------------------

/// One search of the relevance table, on documents of its own owner.
struct Relevance {
    query: &'static str,
    /// The rule of the ranking the row shows.
    shows: &'static str,
    /// The owner's contacts, losers first (so that a backend ranking by key alone
    /// fails).
    contacts: fn(Uuid) -> Vec<Document>,
    /// Every hit, in order, with its score.
    expected: &'static [(&'static str, f32)],
}

/// Each row's owner sees only their own contacts, so the rows share one index and
/// cannot disturb each other. Scores are worked out in `shows`.
fn relevance_table() -> Vec<Relevance> {
    vec![
        Relevance {
            query: "jon smth",
            shows: "one edit per term up to 5 letters: jon~john name 4×1 + smth~smith name \
                    4×1 = 8; smth~smith in the company 2×1 gives John Doe 4+2 = 6; jon is 2 \
                    edits from jane, so Jane Smith misses a term",
            contacts: |owner| {
                vec![
                    contact(owner, "Jane Smith"),
                    contact(owner, "John Doe").with_company("Smith & Co"),
                    contact(owner, "John Smith"),
                ]
            },
            expected: &[("John Smith", 8.0), ("John Doe", 6.0)],
        },
        Relevance {
            query: "smi",
            shows: "field weight: a prefix of the name 4×2 = 8 before the same prefix of the \
                    company 2×2 = 4",
            contacts: |owner| {
                vec![
                    contact(owner, "Bob Jones").with_company("Smithson Ltd"),
                    contact(owner, "Ann Smith"),
                ]
            },
            expected: &[("Ann Smith", 8.0), ("Bob Jones", 4.0)],
        },
        Relevance {
            query: "smith",
            shows: "match factor: exact 4×3 = 12, prefix 4×2 = 8, one edit 4×1 = 4",
            contacts: |owner| {
                vec![
                    contact(owner, "Ann Smyth"),
                    contact(owner, "Ann Smithson"),
                    contact(owner, "Ann Smith"),
                ]
            },
            expected: &[
                ("Ann Smith", 12.0),
                ("Ann Smithson", 8.0),
                ("Ann Smyth", 4.0),
            ],
        },
        Relevance {
            query: "jose",
            shows: "accents of the document are folded: jose = José, 12",
            contacts: |owner| {
                vec![
                    contact(owner, "Maria Lopez"),
                    contact(owner, "José Álvarez"),
                ]
            },
            expected: &[("José Álvarez", 12.0)],
        },
        Relevance {
            query: "ALVAREZ",
            shows: "case is folded: alvarez = Álvarez, 12",
            contacts: |owner| {
                vec![
                    contact(owner, "Maria Lopez"),
                    contact(owner, "José Álvarez"),
                ]
            },
            expected: &[("José Álvarez", 12.0)],
        },
        Relevance {
            query: "Álvarez",
            shows: "accents of the query are folded too: alvarez = ALVAREZ, 12",
            contacts: |owner| vec![contact(owner, "JOSE ALVAREZ")],
            expected: &[("JOSE ALVAREZ", 12.0)],
        },
        Relevance {
            query: "katherine",
            shows: "two edits from 6 letters: katherine~catherine (1 edit) 4×1 = 4; kathryn is \
                    3 edits away",
            contacts: |owner| {
                vec![
                    contact(owner, "Kathryn Cole"),
                    contact(owner, "Catherine Lee"),
                ]
            },
            expected: &[("Catherine Lee", 4.0)],
        },
        Relevance {
            query: "karen",
            shows: "one edit up to 5 letters: karen~karin 4×1 = 4; caryn is 2 edits away",
            contacts: |owner| vec![contact(owner, "Caryn Holt"), contact(owner, "Karin Holt")],
            expected: &[("Karin Holt", 4.0)],
        },
        Relevance {
            query: "markus",
            shows: "two edits from 6 letters: markus~marcos (2 edits) 4×1 = 4; margaux is 3 \
                    edits away",
            contacts: |owner| {
                vec![
                    contact(owner, "Margaux Diaz"),
                    contact(owner, "Marcos Diaz"),
                ]
            },
            expected: &[("Marcos Diaz", 4.0)],
        },
        Relevance {
            query: "jhon",
            shows: "a transposition is one edit: jhon~john 4×1 = 4; joan is 2 edits away",
            contacts: |owner| vec![contact(owner, "Joan Doe"), contact(owner, "John Doe")],
            expected: &[("John Doe", 4.0)],
        },
        Relevance {
            query: "jo",
            shows: "no edit up to 2 letters: jo = Jo 12, jo… = Joe 8, ja is not jo",
            contacts: |owner| {
                vec![
                    contact(owner, "Ja Li"),
                    contact(owner, "Joe Li"),
                    contact(owner, "Jo Li"),
                ]
            },
            expected: &[("Jo Li", 12.0), ("Joe Li", 8.0)],
        },
        Relevance {
            query: "ann.lee@acme.io",
            shows: "an address is its terms: ann 12 + lee 12 + acme e-mail 3×3 + io e-mail 3×3 \
                    = 42; Annie Leeds has prefixes of the name 8 + 8 + 9 + 9 = 34; the globex \
                    Ann Lee misses acme and io",
            contacts: |owner| {
                vec![
                    contact(owner, "Ann Lee").with_email("ann.lee@globex.com"),
                    contact(owner, "Annie Leeds").with_email("annie.leeds@acme.io"),
                    contact(owner, "Ann Lee").with_email("ann.lee@acme.io"),
                ]
            },
            expected: &[("Ann Lee", 42.0), ("Annie Leeds", 34.0)],
        },
        Relevance {
            query: "engineer",
            shows: "the title is searched: exact 2×3 = 6, prefix 2×2 = 4",
            contacts: |owner| {
                vec![
                    contact(owner, "Fay Ross").with_title("Accountant"),
                    contact(owner, "Di Park").with_title("Engineering Manager"),
                    contact(owner, "Bo Chen").with_title("Staff Engineer"),
                ]
            },
            expected: &[("Bo Chen", 6.0), ("Di Park", 4.0)],
        },
        Relevance {
            query: "lisbon",
            shows: "the location is searched, least of all: exact 1×3 = 3 comes after a typo \
                    in the name lisbon~lisboa 4×1 = 4",
            contacts: |owner| {
                vec![
                    contact(owner, "Gil Sousa").with_location("Lisbon, Portugal"),
                    contact(owner, "Ana Lisboa"),
                ]
            },
            expected: &[("Ana Lisboa", 4.0), ("Gil Sousa", 3.0)],
        },
        Relevance {
            query: "ann acme",
            shows: "every term must match, each in its best field: ann name 12 + acme company \
                    2×3 = 18; Ann Ng has no acme",
            contacts: |owner| {
                vec![
                    contact(owner, "Ann Ng").with_company("Globex"),
                    contact(owner, "Ann Lee").with_company("Acme"),
                ]
            },
            expected: &[("Ann Lee", 18.0)],
        },
        Relevance {
            query: "smith",
            shows: "a term scores its best field only: name 12, not name 12 + e-mail 9",
            contacts: |owner| vec![contact(owner, "Kim Smith").with_email("smith@example.org")],
            expected: &[("Kim Smith", 12.0)],
        },
        Relevance {
            query: "samuel",
            shows: "other names are the name: samuel = other name Samuel, 12",
            contacts: |owner| {
                vec![
                    contact(owner, "Sam Hill")
                        .with_other_name("Samuel")
                        .with_other_name("Hill"),
                ]
            },
            expected: &[("Sam Hill", 12.0)],
        },
        Relevance {
            query: "acme",
            shows: "a term scores its best field and match together: a prefix of the name \
                    4×2 = 8 beats the exact company 2×3 = 6",
            contacts: |owner| {
                vec![
                    contact(owner, "Bo Acmeson").with_company("Acme"),
                    contact(owner, "Cy Acme"),
                ]
            },
            expected: &[("Cy Acme", 12.0), ("Bo Acmeson", 8.0)],
        },
        Relevance {
            query: "ИВАН петорв",
            shows: "other scripts are lowercased and edited by character: иван 12 + \
                    петорв~петров (a transposition) 4×1 = 16",
            contacts: |owner| vec![contact(owner, "Иван Петров")],
            expected: &[("Иван Петров", 16.0)],
        },
        Relevance {
            query: "王小名",
            shows: "a term without separators is one term, edited by character: 王小名~王小明 \
                    (3 characters, 1 edit) 4×1 = 4; 王大卫 is 2 edits away",
            contacts: |owner| vec![contact(owner, "王大卫"), contact(owner, "王小明")],
            expected: &[("王小明", 4.0)],
        },
    ]
}

/// The ranking contract, row by row: which documents a query finds, in which
/// order, with which score.
pub async fn ranking_sums_each_terms_best_field_weight_times_match_factor<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let table = relevance_table();
    let owners: Vec<Uuid> = table.iter().map(|_| Uuid::now_v7()).collect();
    let documents: Vec<Document> = table
        .iter()
        .zip(&owners)
        .flat_map(|(row, owner)| (row.contacts)(*owner))
        .collect();
    put(index, &documents).await;

    let mut failures = Vec::new();
    for (row, owner) in table.iter().zip(&owners) {
        let page = search(index, *owner, row.query).await;

        let got = ranked(&page);
        if got != row.expected {
            failures.push(format!(
                "{:?} ({}): expected {:?}, got {got:?}",
                row.query, row.shows, row.expected
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// Scope: a viewer sees their own contacts and every profile, nothing else
// ---------------------------------------------------------------------------

/// What the scope cases index: a contact of `other` that `me` must never see, one
/// of `me`'s own and a profile.
struct Scope {
    me: Uuid,
    other: Uuid,
    /// `other`'s contact Zed Quinlan, of Zircon, zed@zircon.io, in Oslo.
    hidden: Document,
    /// `me`'s contact Ann Lee.
    mine: Document,
    /// The profile of Pat Public.
    public: Document,
}

async fn scope<I: SearchIndex>(index: &TestIndex<I>) -> Scope {
    let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
    let scope = Scope {
        me,
        other,
        hidden: contact(other, "Zed Quinlan")
            .with_email("zed@zircon.io")
            .with_company("Zircon")
            .with_title("Everyone's Favourite")
            .with_location("Oslo"),
        mine: contact(me, "Ann Lee").with_company("Acme"),
        public: profile("Pat Public"),
    };
    put(index, [&scope.hidden, &scope.mine, &scope.public]).await;
    scope
}

pub async fn another_owners_contact_is_not_found_by_its_exact_name<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let Scope {
        me, other, hidden, ..
    } = scope(index).await;

    let theirs = search(index, other, "Zed Quinlan").await;
    let mine = search(index, me, "Zed Quinlan").await;

    assert_eq!(keys(&theirs), [key(&hidden)], "the owner finds it");
    assert!(mine.hits.is_empty(), "{:?}", mine.hits);
    assert!(!mine.more);
    assert_total(
        index,
        mine.total,
        0,
        "nothing of another owner's is counted",
    );
}

/// Text that would be query syntax in a query language is plain text: its terms are
/// searched within the viewer's scope like any other.
pub async fn query_syntax_typed_in_the_text_reveals_no_other_owners_contact<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let Scope {
        me, other, hidden, ..
    } = scope(index).await;
    let hidden_id = contact_id(&hidden);
    let inputs = [
        "*".to_owned(),
        "*:*".to_owned(),
        "zed*".to_owned(),
        "zed~2".to_owned(),
        format!("owner_id:{other}"),
        format!("owner_id:\"{other}\" OR zed"),
        format!("visible_to:{other}"),
        "visible_to:everyone".to_owned(),
        "everyone".to_owned(),
        format!("{other}"),
        format!("c:{hidden_id}"),
        "\" OR \"".to_owned(),
        "zed\" OR \"ann".to_owned(),
        "zed OR ann".to_owned(),
        "zed || ann".to_owned(),
        "+zed -ann".to_owned(),
        "(".to_owned(),
        "(zed".to_owned(),
        "\\".to_owned(),
        "zed\\".to_owned(),
        "[* TO *]".to_owned(),
        "{}".to_owned(),
        "' OR 1=1 --".to_owned(),
        "company:zircon".to_owned(),
        "zed@zircon.io".to_owned(),
    ];

    for input in &inputs {
        let page = search(index, me, input).await;

        let context = format!("searching {input:?}");
        assert_only_visible_to(me, &page, &context);
        assert!(
            page.total.value <= 2,
            "{context}: {:?} counts more than my contact and the profile",
            page.total
        );
    }
}

/// Terms and filter terms that were never folded (a caller skipping
/// `text::terms`) still search within the viewer's scope; a backend may refuse
/// them, never widen the scope.
pub async fn unfolded_query_syntax_in_terms_and_filters_reveals_no_other_owners_contact<
    I: SearchIndex,
>(
    index: &TestIndex<I>,
) {
    let Scope {
        me, other, hidden, ..
    } = scope(index).await;
    let hidden_id = contact_id(&hidden);
    let raw_terms = [
        String::new(),
        " ".to_owned(),
        "*".to_owned(),
        "*:*".to_owned(),
        "z*".to_owned(),
        "Zed".to_owned(),
        "zed~".to_owned(),
        other.to_string(),
        format!("owner_id:{other}"),
        format!("visible_to:{other}"),
        format!("c:{hidden_id}"),
        format!("zed OR owner_id:{other}"),
        "\" OR \"".to_owned(),
        "(".to_owned(),
        "\\".to_owned(),
        "zed@zircon.io".to_owned(),
    ];

    for raw in &raw_terms {
        let searches = [
            SearchQuery {
                terms: vec![raw.clone()],
                ..query(me, "")
            },
            SearchQuery {
                filters: vec![Filter {
                    field: Field::Company,
                    terms: vec![raw.clone()],
                }],
                ..query(me, "")
            },
        ];
        for query in searches {
            let context = format!("{query:?}");
            let Ok(page) = index.backend.search(query).await else {
                continue; // refused: nothing shown
            };
            assert_only_visible_to(me, &page, &context);
            assert!(page.total.value <= 2, "{context}: {:?}", page.total);
        }
    }
}

pub async fn a_filter_on_another_owners_company_reveals_nothing<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let Scope {
        me, other, hidden, ..
    } = scope(index).await;
    let by_company = |viewer_id, text| SearchQuery {
        filters: vec![filter(Field::Company, "Zircon")],
        ..query(viewer_id, text)
    };

    let theirs = run(index, by_company(other, "")).await;
    let filtered = run(index, by_company(me, "")).await;
    let filtered_and_named = run(index, by_company(me, "zed")).await;

    assert_eq!(keys(&theirs), [key(&hidden)], "the owner finds it");
    for page in [filtered, filtered_and_named] {
        assert!(page.hits.is_empty(), "{:?}", page.hits);
        assert_total(index, page.total, 0, "the filtered total");
    }
}

/// A cursor only says where to resume: made of another owner's key and any score
/// (huge, infinite, not a number, exact), it shows the viewer's own hits after it
/// and nothing else.
pub async fn a_cursor_made_from_another_owners_document_reveals_nothing<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let Scope {
        me, other, hidden, ..
    } = scope(index).await;
    let mine = contact(me, "Zed Marsh");
    put(index, [&mine]).await;
    let scores = [
        f32::MAX,
        f32::INFINITY,
        f32::NAN,
        1e30,
        12.0,
        0.0,
        -1.0,
        f32::NEG_INFINITY,
    ];
    let cursor_keys = [
        key(&hidden),
        DocumentKey::Contact(Uuid::nil()),
        DocumentKey::Contact(Uuid::max()),
        DocumentKey::Profile(other),
    ];

    for score in scores {
        for cursor_key in cursor_keys {
            let after = Position {
                score,
                key: cursor_key,
            };
            let page = run(
                index,
                SearchQuery {
                    after: Some(after),
                    ..query(me, "zed")
                },
            )
            .await;

            let context = format!("after {after:?}");
            assert_only_visible_to(me, &page, &context);
            assert!(
                keys(&page).iter().all(|shown| *shown == key(&mine)),
                "{context}: {:?}",
                page.hits
            );
            assert_total(index, page.total, 1, &context);
        }
    }
}

pub async fn totals_never_count_another_owners_contacts<I: SearchIndex>(index: &TestIndex<I>) {
    let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
    let mut documents: Vec<Document> = (0..5)
        .map(|_| contact(other, "Zed Quinlan").with_company("Zircon"))
        .collect();
    documents.push(contact(me, "Zed Marsh").with_company("Zircon"));
    documents.push(contact(me, "Zed Marsh"));
    documents.push(profile("Zed Public"));
    put(index, &documents).await;

    let by_name = search(index, me, "zed").await;
    let by_filter = run(
        index,
        SearchQuery {
            filters: vec![filter(Field::Company, "zircon")],
            ..query(me, "")
        },
    )
    .await;
    let theirs = search(index, other, "zed").await;

    assert_total(index, by_name.total, 3, "my two contacts and the profile");
    assert_total(index, by_filter.total, 1, "my contact at zircon");
    assert_total(
        index,
        theirs.total,
        6,
        "their five contacts and the profile",
    );
}

pub async fn profiles_are_visible_to_every_viewer<I: SearchIndex>(index: &TestIndex<I>) {
    let Scope {
        me, other, public, ..
    } = scope(index).await;
    let Subject::Profile { user_id } = public.subject else {
        unreachable!("a profile")
    };
    let stranger = Uuid::now_v7();

    for viewer_id in [me, other, stranger, user_id] {
        let page = search(index, viewer_id, "pat public").await;

        assert_eq!(
            page.hits
                .iter()
                .map(|hit| &hit.document)
                .collect::<Vec<_>>(),
            [&public],
            "as {viewer_id}"
        );
    }
}

// ---------------------------------------------------------------------------
// Upserts replace by key
// ---------------------------------------------------------------------------

pub async fn the_same_upsert_applied_twice_leaves_one_document<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let me = Uuid::now_v7();
    let ann = contact(me, "Ann Lee");
    put(index, [&ann]).await;

    put(index, [&ann]).await;

    let page = search(index, me, "ann lee").await;
    assert_eq!(keys(&page), [key(&ann)]);
    assert_total(index, page.total, 1, "one document");
}

pub async fn the_same_batch_applied_twice_leaves_one_document_per_key<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let me = Uuid::now_v7();
    let batch: Vec<Document> = vec![
        contact(me, "Ann Lee"),
        contact(me, "Ann Ng"),
        profile("Ann Public"),
    ];
    let changes: Vec<Change> = batch.iter().cloned().map(Change::Upsert).collect();

    apply(index, changes.clone()).await;
    apply(index, changes.clone()).await; // redelivered before the commit
    commit(index).await;
    apply(index, changes).await; // and after
    commit(index).await;

    let page = search(index, me, "ann").await;
    assert_eq!(keys(&page), sorted(batch.iter().map(key).collect()));
    assert_total(index, page.total, 3, "one document per key");
}

pub async fn an_upsert_with_changed_fields_replaces_the_old_values<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let me = Uuid::now_v7();
    let before = contact(me, "Ann Lee")
        .with_email("ann.lee@acme.io")
        .with_company("Acme")
        .with_title("Engineer")
        .with_location("Lisbon");
    put(index, [&before]).await;
    let after = Document {
        full_name: "Ann Ng".to_owned(),
        emails: vec!["ann@globex.com".to_owned()],
        company: Some("Globex".to_owned()),
        title: Some("Designer".to_owned()),
        location: Some("Porto".to_owned()),
        ..before.clone()
    };

    put(index, [&after]).await;

    for old in ["lee", "acme", "engineer", "lisbon"] {
        let page = search(index, me, old).await;
        assert!(page.hits.is_empty(), "{old:?} still finds {:?}", page.hits);
    }
    let page = search(index, me, "ann ng globex designer porto").await;
    assert_eq!(
        page.hits
            .iter()
            .map(|hit| &hit.document)
            .collect::<Vec<_>>(),
        [&after]
    );
    let by_old_company = run(
        index,
        SearchQuery {
            filters: vec![filter(Field::Company, "acme")],
            ..query(me, "ann")
        },
    )
    .await;
    assert!(by_old_company.hits.is_empty(), "{:?}", by_old_company.hits);
}

/// A contact's key is its id alone: an upsert naming another owner replaces the
/// document, and its scope with it.
pub async fn an_upsert_moving_a_contact_to_another_owner_hides_it_from_the_first<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
    let mine = contact(me, "Kim Lee");
    put(index, [&mine]).await;
    let moved = Document {
        subject: Subject::Contact {
            contact_id: contact_id(&mine),
            owner_id: other,
        },
        ..mine.clone()
    };

    put(index, [&moved]).await;

    let my_page = search(index, me, "kim lee").await;
    let their_page = search(index, other, "kim lee").await;
    assert!(my_page.hits.is_empty(), "{:?}", my_page.hits);
    assert_total(index, my_page.total, 0, "the old owner's total");
    assert_eq!(
        their_page
            .hits
            .iter()
            .map(|hit| &hit.document)
            .collect::<Vec<_>>(),
        [&moved]
    );
}

/// A contact's key and a profile's key differ even when their ids are the same:
/// neither replaces the other, and the contact ranks first among equals (kind 0
/// before 1).
pub async fn a_contact_and_a_profile_with_the_same_id_are_two_documents<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let me = Uuid::now_v7();
    let id = Uuid::now_v7();
    let as_contact = Document {
        subject: Subject::Contact {
            contact_id: id,
            owner_id: me,
        },
        ..contact(me, "Robin Hale")
    };
    let as_profile = Document {
        subject: Subject::Profile { user_id: id },
        ..profile("Robin Hale")
    };

    put(index, [&as_profile, &as_contact]).await;

    let page = search(index, me, "robin hale").await;
    assert_eq!(
        page.hits
            .iter()
            .map(|hit| &hit.document)
            .collect::<Vec<_>>(),
        [&as_contact, &as_profile]
    );
}

// ---------------------------------------------------------------------------
// Deletions remove exactly what they name
// ---------------------------------------------------------------------------

pub async fn delete_contact_removes_only_that_contact<I: SearchIndex>(index: &TestIndex<I>) {
    let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
    let deleted = contact(me, "Kim Lee");
    let kept = contact(me, "Kim Lee");
    let theirs = contact(other, "Kim Lee");
    let public = profile("Kim Lee");
    put(index, [&deleted, &kept, &theirs, &public]).await;

    change(
        index,
        Change::DeleteContact {
            contact_id: contact_id(&deleted),
        },
    )
    .await;

    let mine = search(index, me, "kim lee").await;
    let their_page = search(index, other, "kim lee").await;
    assert_eq!(keys(&mine), sorted(vec![key(&kept), key(&public)]));
    assert_eq!(keys(&their_page), sorted(vec![key(&theirs), key(&public)]));
}

pub async fn delete_profile_removes_only_that_profile<I: SearchIndex>(index: &TestIndex<I>) {
    let me = Uuid::now_v7();
    let deleted = profile("Kim Lee");
    let Subject::Profile { user_id } = deleted.subject else {
        unreachable!("a profile")
    };
    let kept = profile("Kim Lee");
    // A contact whose id happens to be the deleted user's.
    let same_id = Document {
        subject: Subject::Contact {
            contact_id: user_id,
            owner_id: me,
        },
        ..contact(me, "Kim Lee")
    };
    let users_own = contact(user_id, "Kim Lee");
    put(index, [&deleted, &kept, &same_id, &users_own]).await;

    change(index, Change::DeleteProfile { user_id }).await;

    let mine = search(index, me, "kim lee").await;
    let users = search(index, user_id, "kim lee").await;
    assert_eq!(keys(&mine), sorted(vec![key(&kept), key(&same_id)]));
    assert_eq!(keys(&users), sorted(vec![key(&kept), key(&users_own)]));
}

pub async fn delete_contacts_of_removes_every_contact_of_that_owner_and_nothing_else<
    I: SearchIndex,
>(
    index: &TestIndex<I>,
) {
    let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
    let mine: Vec<Document> = (0..3).map(|_| contact(me, "Kim Lee")).collect();
    let theirs: Vec<Document> = (0..2).map(|_| contact(other, "Kim Lee")).collect();
    // My own profile, and a contact of theirs whose id is mine.
    let my_profile = Document {
        subject: Subject::Profile { user_id: me },
        ..profile("Kim Lee")
    };
    let named_like_me = Document {
        subject: Subject::Contact {
            contact_id: me,
            owner_id: other,
        },
        ..contact(other, "Kim Lee")
    };
    let mut documents = mine.clone();
    documents.extend(theirs.iter().cloned());
    documents.push(my_profile.clone());
    documents.push(named_like_me.clone());
    put(index, &documents).await;

    change(index, Change::DeleteContactsOf { owner_id: me }).await;

    let my_page = search(index, me, "kim lee").await;
    let their_page = search(index, other, "kim lee").await;
    assert_eq!(keys(&my_page), [key(&my_profile)]);
    let mut their_keys: Vec<DocumentKey> = theirs.iter().map(key).collect();
    their_keys.extend([key(&my_profile), key(&named_like_me)]);
    assert_eq!(keys(&their_page), sorted(their_keys));
}

pub async fn deleting_a_missing_document_changes_nothing<I: SearchIndex>(index: &TestIndex<I>) {
    let me = Uuid::now_v7();
    let kept = [contact(me, "Kim Lee"), profile("Kim Lee")];
    put(index, &kept).await;

    apply(
        index,
        vec![
            Change::DeleteContact {
                contact_id: Uuid::now_v7(),
            },
            Change::DeleteProfile {
                user_id: Uuid::now_v7(),
            },
            Change::DeleteContactsOf {
                owner_id: Uuid::now_v7(),
            },
            Change::DeleteProfile { user_id: me },
        ],
    )
    .await;
    commit(index).await;

    let page = search(index, me, "kim lee").await;
    assert_eq!(keys(&page), sorted(kept.iter().map(key).collect()));
}

pub async fn changes_in_one_batch_apply_in_order<I: SearchIndex>(index: &TestIndex<I>) {
    let me = Uuid::now_v7();
    let swept = contact(me, "Kim Lee");
    let deleted_last = contact(me, "Kim Lee");
    let upserted_last = contact(me, "Kim Lee");
    let renamed = contact(me, "Kim Old");
    let renamed_again = Document {
        full_name: "Kim Lee".to_owned(),
        ..renamed.clone()
    };

    apply(
        index,
        vec![
            Change::Upsert(swept),
            Change::DeleteContactsOf { owner_id: me },
            Change::Upsert(deleted_last.clone()),
            Change::DeleteContact {
                contact_id: contact_id(&deleted_last),
            },
            Change::DeleteContact {
                contact_id: contact_id(&upserted_last),
            },
            Change::Upsert(upserted_last.clone()),
            Change::Upsert(renamed),
            Change::Upsert(renamed_again.clone()),
        ],
    )
    .await;
    commit(index).await;

    let page = search(index, me, "kim").await;
    assert_eq!(
        keys(&page),
        sorted(vec![key(&upserted_last), key(&renamed_again)])
    );
    assert_eq!(
        names(&page),
        ["Kim Lee", "Kim Lee"],
        "the last upsert of a key wins"
    );
}

// ---------------------------------------------------------------------------
// Commit
// ---------------------------------------------------------------------------

pub async fn changes_are_invisible_until_committed<I: SearchIndex>(index: &TestIndex<I>) {
    let me = Uuid::now_v7();
    let committed = contact(me, "Kim Lee");
    put(index, [&committed]).await;
    let pending = contact(me, "Kim Lee");
    apply(
        index,
        vec![
            Change::Upsert(pending.clone()),
            Change::DeleteContact {
                contact_id: contact_id(&committed),
            },
        ],
    )
    .await;

    let before_commit = search(index, me, "kim").await;
    commit(index).await;
    let after_commit = search(index, me, "kim").await;

    assert_eq!(keys(&before_commit), [key(&committed)]);
    assert_total(index, before_commit.total, 1, "before the commit");
    assert_eq!(keys(&after_commit), [key(&pending)]);
    assert_total(index, after_commit.total, 1, "after the commit");
}

// ---------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------

/// Pages of 2 over 6 matches, ties straddling the page boundaries: each match once,
/// in ranking order, `more` false on the last page only (a full one).
pub async fn pages_walk_every_match_once_in_ranking_order<I: SearchIndex>(index: &TestIndex<I>) {
    let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
    // "morgan": exact name 12, prefix 8, one edit 4.
    let scored = [
        (contact(me, "Ann Morgan"), 12.0),
        (contact(me, "Ann Morgan"), 12.0),
        (profile("Dee Morgan"), 12.0),
        (contact(me, "Bo Morgans"), 8.0),
        (contact(me, "Bo Morgans"), 8.0),
        (contact(me, "Cy Morgen"), 4.0),
    ];
    let mut documents: Vec<Document> = scored
        .iter()
        .map(|(document, _)| document.clone())
        .collect();
    documents.push(contact(me, "Eve Stone"));
    documents.push(contact(other, "Zed Morgan"));
    fastrand::Rng::with_seed(7).shuffle(&mut documents);
    put(index, &documents).await;
    let mut expected: Vec<(f32, DocumentKey)> = scored
        .iter()
        .map(|(document, score)| (*score, key(document)))
        .collect();
    expected.sort_by(|left, right| {
        right
            .0
            .total_cmp(&left.0)
            .then_with(|| left.1.sort_value().cmp(&right.1.sort_value()))
    });

    let pages = walk(
        index,
        SearchQuery {
            limit: 2,
            ..query(me, "morgan")
        },
    )
    .await;

    let shown: Vec<(f32, DocumentKey)> = hits(&pages)
        .iter()
        .map(|hit| (hit.position.score, key(&hit.document)))
        .collect();
    assert_eq!(shown, expected);
    assert_eq!(
        pages.iter().map(|page| page.more).collect::<Vec<_>>(),
        [true, true, false]
    );
    for page in &pages {
        assert_eq!(page.hits.len(), 2);
        assert_total(index, page.total, 6, "every page counts every match");
    }
    for hit in hits(&pages) {
        assert_eq!(
            hit.position.key,
            key(&hit.document),
            "a hit's key is its own"
        );
    }
    let past_the_end = run(
        index,
        SearchQuery {
            limit: 2,
            after: Some(hits(&pages)[5].position),
            ..query(me, "morgan")
        },
    )
    .await;
    assert!(past_the_end.hits.is_empty(), "{:?}", past_the_end.hits);
    assert!(!past_the_end.more);
}

/// Walk a page, add documents before and after the cursor, delete one not yet
/// seen, commit, walk on: nothing is seen twice, everything that was there all
/// along is seen, and what is seen is in ranking order.
pub async fn pagination_is_stable_while_documents_are_added_and_removed<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let me = Uuid::now_v7();
    // "morgan": Morgan 12, Morgans 8, title Morgan Stanley 2×3 = 6, Morgen 4.
    let existing = vec![
        contact(me, "Ann Morgan"),
        contact(me, "Ann Morgan"),
        contact(me, "Ann Morgan"),
        contact(me, "Bo Morgans"),
        contact(me, "Bo Morgans"),
        contact(me, "Di Fox").with_title("Morgan Stanley"),
        contact(me, "Cy Morgen"),
        contact(me, "Cy Morgen"),
    ];
    put(index, &existing).await;
    let morgan = query(me, "morgan");
    let first = run(
        index,
        SearchQuery {
            limit: 4,
            ..morgan.clone()
        },
    )
    .await;
    assert_eq!(first.hits.len(), 4);
    assert!(first.more);
    let cursor = first.hits[3].position;
    let deleted = existing[5].clone(); // Di Fox, 6: after the cursor, not seen yet
    assert!(!keys(&first).contains(&key(&deleted)));
    let ranked_before_cursor = contact(me, "Fay Morgan"); // 12
    let ranked_after_cursor = [contact(me, "Hal Morgans"), contact(me, "Gus Morgen")]; // 8, 4
    apply(
        index,
        vec![
            Change::Upsert(ranked_before_cursor.clone()),
            Change::Upsert(ranked_after_cursor[0].clone()),
            Change::Upsert(ranked_after_cursor[1].clone()),
            Change::DeleteContact {
                contact_id: contact_id(&deleted),
            },
        ],
    )
    .await;
    commit(index).await;

    let rest = walk(
        index,
        SearchQuery {
            limit: 2,
            after: Some(cursor),
            ..morgan
        },
    )
    .await;

    let seen: Vec<&Hit> = first.hits.iter().chain(hits(&rest)).collect();
    let seen_keys: Vec<DocumentKey> = seen.iter().map(|hit| key(&hit.document)).collect();
    let distinct: HashSet<DocumentKey> = seen_keys.iter().copied().collect();
    assert_eq!(distinct.len(), seen_keys.len(), "seen twice: {seen_keys:?}");
    for document in &existing {
        if key(document) != key(&deleted) {
            assert!(
                distinct.contains(&key(document)),
                "{document:?} was there all along and never seen"
            );
        }
    }
    assert!(
        !distinct.contains(&key(&deleted)),
        "the deleted one is shown"
    );
    assert!(
        !distinct.contains(&key(&ranked_before_cursor)),
        "a document ranked before the cursor is shown after it"
    );
    assert_ranking_order(&seen, "the walk");
}

/// A score is the document's and the query's alone: no frequencies across the
/// index, so neither more similar documents nor deletions move it.
pub async fn a_score_does_not_depend_on_other_documents<I: SearchIndex>(index: &TestIndex<I>) {
    let me = Uuid::now_v7();
    let ann = contact(me, "Ann Morgan").with_company("Acme");
    put(index, [&ann]).await;
    let alone = search(index, me, "ann morgan").await;
    let crowd: Vec<Document> = (0..60)
        .map(|number| match number % 4 {
            0 => contact(me, "Ann Morgan"),
            1 => contact(me, "Ann Ann Morgan Morgan").with_company("Morgan Ann"),
            2 => contact(me, "Morgan Smith").with_email("ann@acme.io"),
            _ => profile("Ann Morganson"),
        })
        .collect();

    put(index, &crowd).await;
    let in_a_crowd = search(index, me, "ann morgan").await;
    apply(
        index,
        crowd
            .iter()
            .step_by(2)
            .filter_map(|document| match document.subject {
                Subject::Contact { contact_id, .. } => Some(Change::DeleteContact { contact_id }),
                Subject::Profile { .. } => None,
            })
            .collect(),
    )
    .await;
    commit(index).await;
    let thinned = search(index, me, "ann morgan").await;

    let score_of_ann = |page: &Page| {
        page.hits
            .iter()
            .find(|hit| key(&hit.document) == key(&ann))
            .map(|hit| hit.position.score.to_bits())
    };
    assert_eq!(score_of_ann(&alone), Some(24.0_f32.to_bits()), "12 + 12");
    assert_eq!(score_of_ann(&in_a_crowd), score_of_ann(&alone));
    assert_eq!(score_of_ann(&thinned), score_of_ann(&alone));
}

// ---------------------------------------------------------------------------
// Totals
// ---------------------------------------------------------------------------

pub async fn the_total_counts_every_match_on_every_page<I: SearchIndex>(index: &TestIndex<I>) {
    let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
    let documents = [
        contact(me, "Kim Lee"),
        contact(me, "Kim Lee"),
        contact(me, "Kimberly Ross"),
        contact(me, "Tom Kim"),
        profile("Kim Public"),
        contact(me, "Bo Chen"),
        contact(me, "Ann Ng"),
        contact(me, "Jo Li"),
        contact(other, "Kim Lee"),
        contact(other, "Kim Other"),
    ];
    put(index, &documents).await;
    let kim = SearchQuery {
        limit: 2,
        ..query(me, "kim")
    };

    let pages = walk(index, kim.clone()).await;
    let past_the_end = run(
        index,
        SearchQuery {
            after: Some(Position {
                score: f32::NEG_INFINITY,
                key: DocumentKey::Profile(Uuid::max()),
            }),
            ..kim
        },
    )
    .await;

    assert_eq!(hits(&pages).len(), 5);
    for (number, page) in pages.iter().enumerate() {
        assert_total(index, page.total, 5, &format!("page {}", number + 1));
    }
    assert!(past_the_end.hits.is_empty());
    assert_total(
        index,
        past_the_end.total,
        5,
        "the total does not depend on the cursor",
    );
}

// ---------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------

pub async fn a_company_filter_keeps_only_documents_whose_company_has_the_term<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let me = Uuid::now_v7();
    let kept = [
        contact(me, "Ann Lee").with_company("Acme Corp"),
        contact(me, "Ann Ng").with_company("ACME"),
        contact(me, "Ann Bo").with_company("The Acme-Widget Company"),
    ];
    let dropped = [
        contact(me, "Ann Cy").with_company("Acmeco"), // a prefix is not the term
        contact(me, "Ann Dee").with_company("Acne"),  // nor a typo
        contact(me, "Ann Acme").with_company("Globex"), // nor another field
        contact(me, "Ann Eve").with_email("ann@acme.io"),
        contact(me, "Ann Fox"),
    ];
    let mut documents = dropped.to_vec();
    documents.extend(kept.iter().cloned());
    put(index, &documents).await;

    let page = run(
        index,
        SearchQuery {
            filters: vec![filter(Field::Company, "acme")],
            ..query(me, "ann")
        },
    )
    .await;

    assert_eq!(keys(&page), sorted(kept.iter().map(key).collect()));
    assert_total(index, page.total, 3, "the filtered total");
}

pub async fn every_filter_term_and_every_filter_must_match<I: SearchIndex>(index: &TestIndex<I>) {
    let me = Uuid::now_v7();
    let both_terms = contact(me, "Kim Lee").with_company("Acme Corp");
    let both_terms_reordered = contact(me, "Kim Ng").with_company("Corp of Acme");
    let only_acme = contact(me, "Kim Bo").with_company("Acme");
    let only_corp = contact(me, "Kim Cy").with_company("Globex Corp");
    let in_lisbon = contact(me, "Kim Dee")
        .with_company("Acme Corp")
        .with_location("Lisbon");
    put(
        index,
        [
            &both_terms,
            &both_terms_reordered,
            &only_acme,
            &only_corp,
            &in_lisbon,
        ],
    )
    .await;
    let acme_corp = filter(Field::Company, "acme corp");

    let one_filter = run(
        index,
        SearchQuery {
            filters: vec![acme_corp.clone()],
            ..query(me, "kim")
        },
    )
    .await;
    let two_filters = run(
        index,
        SearchQuery {
            filters: vec![acme_corp, filter(Field::Location, "lisbon")],
            ..query(me, "kim")
        },
    )
    .await;

    assert_eq!(
        keys(&one_filter),
        sorted(vec![
            key(&both_terms),
            key(&both_terms_reordered),
            key(&in_lisbon)
        ])
    );
    assert_eq!(keys(&two_filters), [key(&in_lisbon)]);
}

pub async fn a_filter_adds_nothing_to_the_score<I: SearchIndex>(index: &TestIndex<I>) {
    let me = Uuid::now_v7();
    let ann = contact(me, "Ann Lee")
        .with_company("Acme")
        .with_location("Lisbon");
    put(index, [&ann]).await;

    let unfiltered = search(index, me, "ann").await;
    let filtered = run(
        index,
        SearchQuery {
            filters: vec![
                filter(Field::Company, "acme"),
                filter(Field::Location, "lisbon"),
                filter(Field::Name, "lee"),
            ],
            ..query(me, "ann")
        },
    )
    .await;

    assert_eq!(ranked(&unfiltered), [("Ann Lee", 12.0)]);
    assert_eq!(ranked(&filtered), ranked(&unfiltered));
}

pub async fn filters_without_terms_return_every_visible_match_with_score_zero<I: SearchIndex>(
    index: &TestIndex<I>,
) {
    let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
    let visible = [
        contact(me, "Ann Lee").with_location("Berlin"),
        contact(me, "Bo Chen").with_location("Berlin, Germany"),
        contact(me, "Cy Park").with_location("BERLIN"),
        profile("Di Public").with_location("Berlin"),
    ];
    let mut documents = visible.to_vec();
    documents.extend([
        contact(me, "Eve Stone").with_location("Bern"),
        contact(me, "Berlin Fox").with_location("Paris"),
        contact(other, "Zed Quinlan").with_location("Berlin"),
        profile("Gus Public"),
    ]);
    fastrand::Rng::with_seed(11).shuffle(&mut documents);
    put(index, &documents).await;

    let page = run(
        index,
        SearchQuery {
            filters: vec![filter(Field::Location, "berlin")],
            ..query(me, "")
        },
    )
    .await;

    assert_eq!(keys(&page), sorted(visible.iter().map(key).collect()));
    assert!(
        page.hits.iter().all(|hit| hit.position.score == 0.0),
        "{:?}",
        ranked(&page)
    );
    assert_total(index, page.total, 4, "every visible match");
}

// ---------------------------------------------------------------------------
// Ties
// ---------------------------------------------------------------------------

/// Equal scores in `sort_value` order, whatever the order and batches they were
/// indexed in; a profile sharing a contact's id comes right after it.
pub async fn equal_scores_are_ordered_by_key_ascending<I: SearchIndex>(index: &TestIndex<I>) {
    let me = Uuid::now_v7();
    let mut documents: Vec<Document> = (0..9).map(|_| contact(me, "Sam Taylor")).collect();
    documents.push(Document {
        subject: Subject::Profile {
            user_id: contact_id(&documents[4]),
        },
        ..profile("Sam Taylor")
    });
    documents.push(profile("Sam Taylor"));
    let expected = sorted(documents.iter().map(key).collect());
    fastrand::Rng::with_seed(3).shuffle(&mut documents);

    for batch in documents.chunks(4) {
        put(index, batch).await; // a commit each, so several segments for some backends
    }
    let page = search(index, me, "sam taylor").await;

    assert_eq!(keys(&page), expected);
    assert!(page.hits.iter().all(|hit| hit.position.score == 24.0));
}

// ---------------------------------------------------------------------------
// Many documents
// ---------------------------------------------------------------------------

/// 2,000 contacts of one owner, all matching: a page holds `limit` hits, the best
/// ones; the total counts them all and nothing of another owner's; walking the
/// pages shows each once.
pub async fn an_owner_with_2000_similar_contacts_gets_bounded_pages_and_exact_totals<
    I: SearchIndex,
>(
    index: &TestIndex<I>,
) {
    let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
    // "alex morgan": Morgan 12 + 12 = 24, Morgen 12 + 4 = 16.
    let mine: Vec<Document> = (0..2000)
        .map(|number| {
            let document = contact(
                me,
                if number % 2 == 0 {
                    "Alex Morgan"
                } else {
                    "Alex Morgen"
                },
            );
            if number % 4 == 0 {
                document.with_company("Acme")
            } else {
                document
            }
        })
        .collect();
    let theirs: Vec<Document> = (0..300).map(|_| contact(other, "Alex Morgan")).collect();
    for batch in mine.chunks(500).chain(theirs.chunks(300)) {
        apply(index, batch.iter().cloned().map(Change::Upsert).collect()).await;
    }
    commit(index).await;
    let best: Vec<DocumentKey> = sorted(
        mine.iter()
            .filter(|document| document.full_name == "Alex Morgan")
            .map(key)
            .collect(),
    );

    let first = run(
        index,
        SearchQuery {
            limit: 25,
            ..query(me, "alex morgan")
        },
    )
    .await;
    let at_acme = run(
        index,
        SearchQuery {
            limit: 25,
            filters: vec![filter(Field::Company, "acme")],
            ..query(me, "")
        },
    )
    .await;
    let pages = walk(
        index,
        SearchQuery {
            limit: 250,
            ..query(me, "alex morgan")
        },
    )
    .await;

    assert_eq!(keys(&first), best[..25]);
    assert!(first.hits.iter().all(|hit| hit.position.score == 24.0));
    assert!(first.more);
    assert_total(index, first.total, 2000, "every contact of mine");
    assert_eq!(at_acme.hits.len(), 25);
    assert_total(index, at_acme.total, 500, "my contacts at acme");
    assert_eq!(pages.len(), 8);
    let walked: Vec<&Hit> = hits(&pages);
    let distinct: HashSet<DocumentKey> = walked.iter().map(|hit| key(&hit.document)).collect();
    assert_eq!(walked.len(), 2000);
    assert_eq!(distinct.len(), 2000);
    assert_ranking_order(&walked, "the walk");
    assert_only_visible_to(me, &pages[7], "the last page");
}
