//! The opaque `cursor` of a next page: the last hit's place in the ranking and a
//! fingerprint of the query it belongs to.
//!
//! A cursor only says where to resume; the viewer's scope is part of every query,
//! so a cursor forged or taken from someone else shows nothing more. It stays
//! valid while the index changes: scores depend on the document and the query only
//! (`crate::index`), so resuming after the last hit neither repeats nor skips a
//! document that was there all along.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::{
    document::DocumentKey,
    index::{Filter, Position},
};

/// Bytes of a decoded cursor: score (4), id (16), kind (1), fingerprint (8).
const CURSOR_BYTES: usize = 29;

/// Why a cursor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is not one this service issued")]
    Malformed,
    #[error("the cursor belongs to another query; send the same q and filters, or drop the cursor")]
    OtherQuery,
}

/// A stable fingerprint of a query's terms and filters (FNV-1a, 64 bits: the same
/// across builds and instances, unlike the standard library's hasher).
pub fn fingerprint(terms: &[String], filters: &[Filter]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator no term contains, so ["ab"] and ["a", "b"] differ.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    };
    for term in terms {
        feed(term.as_bytes());
    }
    for filter in filters {
        feed(filter.field.name().as_bytes());
        for term in &filter.terms {
            feed(term.as_bytes());
        }
    }
    hash
}

/// The cursor resuming after `position` in the query of `fingerprint`.
pub fn encode(position: Position, fingerprint: u64) -> String {
    let (id, kind) = position.key.sort_value();
    let mut bytes = Vec::with_capacity(CURSOR_BYTES);
    bytes.extend_from_slice(&position.score.to_bits().to_be_bytes());
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.push(kind);
    bytes.extend_from_slice(&fingerprint.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The place a cursor resumes after, if it was issued for the query of
/// `fingerprint`.
pub fn decode(cursor: &str, fingerprint: u64) -> Result<Position, CursorError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| CursorError::Malformed)?;
    let bytes: [u8; CURSOR_BYTES] = bytes.try_into().map_err(|_| CursorError::Malformed)?;
    let (score, rest) = bytes.split_at(4);
    let (id, rest) = rest.split_at(16);
    let (kind, issued_for) = rest.split_at(1);
    let score = f32::from_bits(u32::from_be_bytes(
        score.try_into().map_err(|_| CursorError::Malformed)?,
    ));
    let id = u128::from_be_bytes(id.try_into().map_err(|_| CursorError::Malformed)?);
    let key = DocumentKey::from_sort_value(id, kind[0]).ok_or(CursorError::Malformed)?;
    if !score.is_finite() {
        return Err(CursorError::Malformed);
    }
    let issued_for = u64::from_be_bytes(issued_for.try_into().map_err(|_| CursorError::Malformed)?);
    if issued_for != fingerprint {
        return Err(CursorError::OtherQuery);
    }
    Ok(Position { score, key })
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::document::Field;

    #[test]
    fn a_cursor_decodes_to_the_position_it_encodes() {
        let position = Position {
            score: 14.0,
            key: DocumentKey::Profile(Uuid::now_v7()),
        };
        let cursor = encode(position, 7);
        assert_eq!(decode(&cursor, 7), Ok(position));
    }

    #[test]
    fn a_cursor_of_another_query_is_refused() {
        let terms = vec!["ann".to_owned()];
        let filters = vec![Filter {
            field: Field::Company,
            terms: vec!["acme".to_owned()],
        }];
        let position = Position {
            score: 1.0,
            key: DocumentKey::Contact(Uuid::now_v7()),
        };
        let cursor = encode(position, fingerprint(&terms, &filters));
        assert_eq!(
            decode(&cursor, fingerprint(&terms, &[])),
            Err(CursorError::OtherQuery)
        );
        assert_ne!(
            fingerprint(&["ab".to_owned()], &[]),
            fingerprint(&["a".to_owned(), "b".to_owned()], &[])
        );
    }

    #[test]
    fn garbage_is_a_malformed_cursor() {
        for cursor in [
            "",
            "abc",
            "!!!!",
            &URL_SAFE_NO_PAD.encode([0_u8; CURSOR_BYTES + 1]),
        ] {
            assert_eq!(decode(cursor, 0), Err(CursorError::Malformed), "{cursor}");
        }
        let mut unknown_kind = [0_u8; CURSOR_BYTES];
        unknown_kind[20] = 9;
        assert_eq!(
            decode(&URL_SAFE_NO_PAD.encode(unknown_kind), 0),
            Err(CursorError::Malformed)
        );
    }
}
