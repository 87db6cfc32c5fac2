//! How text becomes terms, and when a query term matches a document term: the one
//! definition used to index, to query and to highlight, whatever the backend.
//!
//! - Terms are the runs of letters and digits, lowercased and folded to ASCII
//!   ("José" → `jose`, "Ångström" → `angstrom`); everything else separates terms,
//!   so query syntax characters (`"`, `*`, `:`, `(`…) are plain separators.
//! - A query term matches a document term exactly, as its prefix (search as you
//!   type), or within an edit distance that grows with its length
//!   ([`allowed_edits`]); a transposition counts as one edit.

use serde::Serialize;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, TokenStream,
};

/// Terms longer than this many bytes are dropped (they are never names, and bound
/// the index's dictionary).
const MAX_TERM_BYTES: usize = 64;

/// The analyser: letters-and-digits runs, lowercased, folded to ASCII.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TERM_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Calls `visit` with each term of `text`, in order, through `analyzer` (one of
/// [`analyzer`], reused across many texts).
pub fn each_term(analyzer: &mut TextAnalyzer, text: &str, mut visit: impl FnMut(&str)) {
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        visit(&token.text);
    }
}

/// One term of a text, with where it lies in the text (bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// The terms of `text`, in order.
pub fn terms(text: &str) -> Vec<Term> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut terms = Vec::new();
    while let Some(token) = stream.next() {
        terms.push(Term {
            text: token.text.clone(),
            start: token.offset_from,
            end: token.offset_to,
        });
    }
    terms
}

/// Edits a query term may be away from a document term, by its length in
/// characters: none up to 2, one up to 5, two from 6 (as Elasticsearch's `AUTO`).
pub fn allowed_edits(term: &str) -> u8 {
    match term.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// How well a query term matches a document term, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    Exact,
    Prefix,
    Fuzzy,
}

impl Match {
    /// Every kind, best first.
    pub const ALL: [Match; 3] = [Match::Exact, Match::Prefix, Match::Fuzzy];
}

/// The best way `query_term` matches `document_term`, if it does.
pub fn matches(query_term: &str, document_term: &str) -> Option<Match> {
    if query_term == document_term {
        return Some(Match::Exact);
    }
    if document_term.starts_with(query_term) {
        return Some(Match::Prefix);
    }
    let allowed = allowed_edits(query_term);
    (allowed > 0 && edit_distance(query_term, document_term, allowed) <= allowed)
        .then_some(Match::Fuzzy)
}

/// Edit distance with adjacent transpositions counted as one edit (optimal string
/// alignment), over characters; anything above `bound` is reported as `bound + 1`.
fn edit_distance(left: &str, right: &str, bound: u8) -> u8 {
    let left: Vec<char> = left.chars().collect();
    let right: Vec<char> = right.chars().collect();
    let bound = usize::from(bound);
    if left.len().abs_diff(right.len()) > bound {
        return u8::try_from(bound + 1).unwrap_or(u8::MAX);
    }
    // Three rows of the dynamic programme: two back (transpositions), previous, current.
    let mut before: Vec<usize> = vec![0; right.len() + 1];
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    let mut current: Vec<usize> = vec![0; right.len() + 1];
    for i in 1..=left.len() {
        current[0] = i;
        for j in 1..=right.len() {
            let substitution = usize::from(left[i - 1] != right[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + substitution);
            if i > 1 && j > 1 && left[i - 1] == right[j - 2] && left[i - 2] == right[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    u8::try_from(previous[right.len()].min(bound + 1)).unwrap_or(u8::MAX)
}

/// A stretch of a shown value, marked when it matched a query term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fragment {
    pub text: String,
    #[serde(rename = "match")]
    pub matched: bool,
}

/// `value` cut into fragments, the terms that match any of `query_terms` marked;
/// `None` when none matches.
pub fn highlight(value: &str, query_terms: &[String]) -> Option<Vec<Fragment>> {
    let mut fragments = Vec::new();
    let mut shown_up_to = 0;
    for term in terms(value) {
        if !query_terms
            .iter()
            .any(|query_term| matches(query_term, &term.text).is_some())
        {
            continue;
        }
        if term.start > shown_up_to {
            fragments.push(Fragment {
                text: value[shown_up_to..term.start].to_owned(),
                matched: false,
            });
        }
        fragments.push(Fragment {
            text: value[term.start..term.end].to_owned(),
            matched: true,
        });
        shown_up_to = term.end;
    }
    if fragments.is_empty() {
        return None;
    }
    if shown_up_to < value.len() {
        fragments.push(Fragment {
            text: value[shown_up_to..].to_owned(),
            matched: false,
        });
    }
    Some(fragments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(value: &str) -> Vec<String> {
        terms(value).into_iter().map(|term| term.text).collect()
    }

    #[test]
    fn terms_are_folded_lowercase_runs_of_letters_and_digits() {
        assert_eq!(texts("José  Ångström-Smith"), ["jose", "angstrom", "smith"]);
        assert_eq!(
            texts("ann.lee+x@Acme.io"),
            ["ann", "lee", "x", "acme", "io"]
        );
        assert_eq!(texts("\"a*\" OR (b:c)"), ["a", "or", "b", "c"]);
        assert!(texts("  ***  ").is_empty());
    }

    #[test]
    fn each_term_visits_the_terms_of_every_text_through_one_analyzer() {
        let mut analyzer = analyzer();
        let mut visited = Vec::new();
        for text in ["José Ångström", "ann.lee@Acme.io"] {
            each_term(&mut analyzer, text, |term| visited.push(term.to_owned()));
        }
        assert_eq!(visited, ["jose", "angstrom", "ann", "lee", "acme", "io"]);
        for text in ["José Ångström", "ann.lee@Acme.io"] {
            assert!(texts(text).iter().all(|term| visited.contains(term)));
        }
    }

    #[test]
    fn term_offsets_point_into_the_original_text() {
        let value = "Zoë Ünal";
        let terms = terms(value);
        assert_eq!(&value[terms[0].start..terms[0].end], "Zoë");
        assert_eq!(&value[terms[1].start..terms[1].end], "Ünal");
    }

    #[test]
    fn allowed_edits_grow_with_the_length_of_the_term() {
        assert_eq!(allowed_edits("jo"), 0);
        assert_eq!(allowed_edits("jon"), 1);
        assert_eq!(allowed_edits("smith"), 1);
        assert_eq!(allowed_edits("smithe"), 2);
    }

    #[test]
    fn matches_prefer_exact_then_prefix_then_fuzzy() {
        assert_eq!(matches("smith", "smith"), Some(Match::Exact));
        assert_eq!(matches("smi", "smithson"), Some(Match::Prefix));
        assert_eq!(matches("smth", "smith"), Some(Match::Fuzzy));
        assert_eq!(matches("jon", "john"), Some(Match::Fuzzy));
        assert_eq!(
            matches("jhon", "john"),
            Some(Match::Fuzzy),
            "a transposition"
        );
        assert_eq!(matches("jo", "ja"), None, "two letters allow no edit");
        assert_eq!(
            matches("smth", "smythe"),
            None,
            "two edits for a 4-letter term"
        );
        assert_eq!(matches("katherine", "catherina"), Some(Match::Fuzzy));
    }

    #[test]
    fn edit_distance_is_bounded() {
        assert_eq!(edit_distance("abc", "abc", 2), 0);
        assert_eq!(edit_distance("abcd", "acbd", 2), 1);
        assert_eq!(edit_distance("kitten", "sittin", 2), 2);
        assert_eq!(
            edit_distance("kitten", "sitting", 2),
            3,
            "three edits, reported as bound + 1"
        );
        assert_eq!(edit_distance("a", "abcdef", 2), 3);
    }

    #[test]
    fn highlights_mark_the_matching_terms_and_keep_the_rest() {
        let fragments = highlight("John Smith-Jones", &["smth".to_owned()]).unwrap();
        let shown: Vec<(&str, bool)> = fragments
            .iter()
            .map(|fragment| (fragment.text.as_str(), fragment.matched))
            .collect();
        assert_eq!(
            shown,
            [("John ", false), ("Smith", true), ("-Jones", false)]
        );
        assert_eq!(highlight("Acme", &["zeta".to_owned()]), None);
    }
}
