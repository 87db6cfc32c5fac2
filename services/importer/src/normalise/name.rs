//! Display names.
//!
//! Names are kept as written: no change of case (`McDonald`, `van der Berg`,
//! `DE LA CRUZ` would all be damaged by title-casing) and no reordering (many
//! people write the family name first). There is deliberately no splitting of a
//! full name into first and last: `Mary Ann van der Berg` or `山田太郎` cannot be
//! split reliably, and `ImportedContact` only needs the parts the file has.

/// The name to display: `full` when the file has one, else the given parts
/// joined by single spaces in the order first, middle, last. `None` when
/// everything is missing or empty, so the caller can fall back (to an e-mail
/// address, say) or refuse the row.
///
/// The parts are expected to have been through [`super::text::clean`]; the
/// output then has no leading, trailing or doubled white space either.
/// Idempotent: passing the output back as `full` returns it unchanged.
pub fn full_name(
    first: Option<&str>,
    middle: Option<&str>,
    last: Option<&str>,
    full: Option<&str>,
) -> Option<String> {
    if let Some(full) = full.filter(|full| !full.is_empty()) {
        return Some(full.to_owned());
    }
    let parts: Vec<&str> = [first, middle, last]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_display_names() {
        let cases: &[([Option<&str>; 4], Option<&str>)] = &[
            ([Some("Jane"), None, Some("Doe"), None], Some("Jane Doe")),
            (
                [Some("Jane"), Some("Q."), Some("Doe"), None],
                Some("Jane Q. Doe"),
            ),
            (
                [Some("Jane"), None, Some("Doe"), Some("Dr Jane Doe")],
                Some("Dr Jane Doe"),
            ),
            ([Some("Jane"), None, None, None], Some("Jane")),
            ([None, None, Some("Doe"), None], Some("Doe")),
            (
                [Some("Jane"), Some(""), Some("Doe"), Some("")],
                Some("Jane Doe"),
            ),
            ([None, None, None, Some("山田 太郎")], Some("山田 太郎")),
            (
                [Some("mary ann"), None, Some("VAN DER BERG"), None],
                Some("mary ann VAN DER BERG"),
            ),
            ([None, None, None, None], None),
            ([Some(""), Some(""), Some(""), Some("")], None),
        ];
        for ([first, middle, last, full], expected) in cases {
            assert_eq!(
                full_name(*first, *middle, *last, *full).as_deref(),
                *expected,
                "full_name({first:?}, {middle:?}, {last:?}, {full:?})"
            );
        }
    }
}
