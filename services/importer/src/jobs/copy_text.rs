//! Rows for `COPY ... FROM STDIN` in PostgreSQL's text format: fields separated
//! by tabs, rows by newlines, `\N` for NULL, and backslash escapes for the
//! characters that would be read as structure. Arrays are written as array
//! literals (`{"a","b"}`) and then escaped like any other text.

use std::fmt::Write as _;

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

/// A `COPY` payload being built, one row at a time.
#[derive(Debug)]
pub struct CopyText {
    data: String,
    /// Whether the next field starts a row (no tab before it).
    row_start: bool,
}

impl CopyText {
    /// An empty payload.
    pub fn new() -> Self {
        Self {
            data: String::new(),
            row_start: true,
        }
    }

    fn separate(&mut self) {
        if !self.row_start {
            self.data.push('\t');
        }
        self.row_start = false;
    }

    /// A text field.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.separate();
        escape_into(&mut self.data, value);
        self
    }

    /// A text field that may be NULL.
    pub fn optional_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    /// NULL.
    pub fn null(&mut self) -> &mut Self {
        self.separate();
        self.data.push_str("\\N");
        self
    }

    /// A UUID field.
    pub fn uuid(&mut self, value: Uuid) -> &mut Self {
        self.separate();
        // Hex digits and hyphens: nothing to escape.
        let _ = write!(self.data, "{value}");
        self
    }

    /// A date field that may be NULL (ISO 8601, which any `DateStyle` reads).
    pub fn optional_date(&mut self, value: Option<NaiveDate>) -> &mut Self {
        match value {
            Some(date) => {
                self.separate();
                // `Display` is ISO 8601 (`2024-01-31`), as `%Y-%m-%d` without
                // parsing a format string per row.
                let _ = write!(self.data, "{date}");
                self
            }
            None => self.null(),
        }
    }

    /// A `text[]` field: every element quoted, so none is read as NULL or split.
    pub fn text_array(&mut self, values: &[String]) -> &mut Self {
        let mut literal = String::from("{");
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                literal.push(',');
            }
            literal.push('"');
            push_escaped(&mut literal, value, |byte| match byte {
                b'"' => Some("\\\""),
                b'\\' => Some("\\\\"),
                _ => None,
            });
            literal.push('"');
        }
        literal.push('}');
        self.text(&literal)
    }

    /// Ends the current row.
    pub fn end_row(&mut self) {
        self.data.push('\n');
        self.row_start = true;
    }

    /// Runs `statement` (a `COPY table (columns) FROM STDIN`) with the rows;
    /// returns how many PostgreSQL stored. Nothing is sent for no rows.
    pub async fn copy_into(
        self,
        connection: &mut PgConnection,
        statement: &str,
    ) -> sqlx::Result<u64> {
        if self.data.is_empty() {
            return Ok(0);
        }
        let mut copy = connection.copy_in_raw(statement).await?;
        if let Err(error) = copy.send(self.data.into_bytes()).await {
            // Leave the connection usable: the server ends the COPY with an error.
            let _ = copy.abort(error.to_string()).await;
            return Err(error);
        }
        copy.finish().await
    }
}

/// Appends `value` with COPY's text-format escapes.
fn escape_into(out: &mut String, value: &str) {
    push_escaped(out, value, |byte| match byte {
        b'\\' => Some("\\\\"),
        b'\t' => Some("\\t"),
        b'\n' => Some("\\n"),
        b'\r' => Some("\\r"),
        _ => None,
    });
}

/// Appends `value`, with `escape(byte)` in place of each (ASCII) byte it names
/// and the runs between them copied whole: most cells have nothing to escape.
fn push_escaped(out: &mut String, value: &str, escape: impl Fn(u8) -> Option<&'static str>) {
    let mut plain_from = 0;
    for (index, byte) in value.bytes().enumerate() {
        if let Some(escaped) = escape(byte) {
            // An ASCII byte is never inside a multi-byte character: the slices
            // end on character boundaries.
            out.push_str(&value[plain_from..index]);
            out.push_str(escaped);
            plain_from = index + 1;
        }
    }
    out.push_str(&value[plain_from..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(build: impl FnOnce(&mut CopyText)) -> String {
        let mut copy = CopyText::new();
        build(&mut copy);
        copy.end_row();
        copy.data
    }

    #[test]
    fn fields_are_tab_separated_with_nulls_and_escapes() {
        let id = Uuid::nil();
        assert_eq!(
            row(|copy| {
                copy.uuid(id)
                    .text("a\tb\\c\nd\re")
                    .optional_text(None)
                    .optional_date(NaiveDate::from_ymd_opt(2024, 2, 29))
                    .optional_date(None);
            }),
            "00000000-0000-0000-0000-000000000000\ta\\tb\\\\c\\nd\\re\t\\N\t2024-02-29\t\\N\n"
        );
    }

    #[test]
    fn the_text_n_is_not_null() {
        assert_eq!(
            row(|copy| {
                copy.text("\\N");
            }),
            "\\\\N\n"
        );
    }

    #[test]
    fn arrays_quote_every_element_then_escape_for_copy() {
        assert_eq!(
            row(|copy| {
                copy.text_array(&[
                    "a@x.test".to_owned(),
                    "NULL".to_owned(),
                    "\"q\\,}".to_owned(),
                ])
                .text_array(&[]);
            }),
            // Array literal {"a@x.test","NULL","\"q\\,}"}, its backslashes doubled.
            "{\"a@x.test\",\"NULL\",\"\\\\\"q\\\\\\\\,}\"}\t{}\n"
        );
    }
}
