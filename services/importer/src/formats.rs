//! Which export a file is, told from its header row, and which column holds which
//! field.
//!
//! LinkedIn's `Connections.csv` starts with a few lines of notes before its header,
//! so the header is looked for among the first [`MAX_PREAMBLE_RECORDS`] records;
//! the other formats start with it. A header is recognised by the columns only
//! its format has (compared trimmed and case-insensitively):
//!
//! | format | recognised by |
//! | --- | --- |
//! | LinkedIn | `First Name`, `Last Name`, `URL` and `Connected On` |
//! | Google | an `E-mail 1 - Value` column, or `Given Name` with `Family Name` |
//! | Outlook | `E-mail Address` with `First Name` and `Last Name` |
//!
//! With a column mapping (generic CSV), the first record is the header and each
//! mapped column must be in it. Columns a format does not use are ignored.

use std::collections::HashMap;

use serde::Deserialize;
use six_events::importer::ImportFormat;

/// Records before the header that may be notes (LinkedIn has 2–4).
pub const MAX_PREAMBLE_RECORDS: usize = 10;

/// A field of a contact that a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Given name.
    FirstName,
    /// Middle name(s), part of the full name only.
    MiddleName,
    /// Family name.
    LastName,
    /// The whole name, when the file has it in one column.
    FullName,
    /// One or several e-mail addresses.
    Email,
    /// One or several phone numbers.
    Phone,
    /// Employer.
    Company,
    /// Job title.
    Title,
    /// Where the contact lives or works.
    Location,
    /// A profile URL (LinkedIn or other).
    ProfileUrl,
    /// When the owner connected with the contact.
    ConnectedOn,
}

/// How the columns of a file map to fields, once its header is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    /// The format the header was recognised as (or `Generic` for a mapping).
    pub format: ImportFormat,
    /// The header cells as read, for naming columns in rejects.
    pub header: Vec<String>,
    /// For each column index, the field it holds (`None`: ignored).
    pub fields: Vec<Option<Field>>,
}

impl ColumnMap {
    /// The columns holding `field`, in file order.
    pub fn columns_of(&self, field: Field) -> impl Iterator<Item = usize> + '_ {
        self.fields
            .iter()
            .enumerate()
            .filter(move |(_, held)| **held == Some(field))
            .map(|(column, _)| column)
    }
}

/// Why no header could be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// No record among the first ones is a header of a known format.
    #[error(
        "no header row of a LinkedIn, Google or Outlook export was found in the first {MAX_PREAMBLE_RECORDS} rows; choose the format or give a column mapping"
    )]
    UnknownFormat,
    /// A mapped column is not in the header.
    #[error("the column mapping names `{0}`, which is not in the header row")]
    MappedColumnMissing(String),
    /// A mapping that maps nothing to a name.
    #[error("the column mapping must map a column to first_name, last_name or full_name")]
    MappingWithoutName,
}

/// What the caller asked the file to be read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// Tell the format from the header.
    Detect,
    /// This format; its header is still looked for (LinkedIn's notes).
    Format(ImportFormat),
    /// A generic CSV with this mapping: column name → field.
    Mapping(HashMap<String, Field>),
}

/// Looks at one record: `Ok(Some(map))` when it is the header, `Ok(None)` when it
/// may be preamble (keep looking), `Err` when it can never work. The caller gives
/// up with [`HeaderError::UnknownFormat`] after [`MAX_PREAMBLE_RECORDS`].
pub fn recognise(record: &[&str], requested: &Requested) -> Result<Option<ColumnMap>, HeaderError> {
    let header: Vec<String> = record.iter().map(|cell| cell.trim().to_owned()).collect();
    let keys: Vec<String> = header.iter().map(|cell| key(cell)).collect();
    match requested {
        Requested::Mapping(mapping) => generic(header, &keys, mapping).map(Some),
        Requested::Detect => Ok(detect(&keys).map(|format| known(format, header, &keys))),
        Requested::Format(format) => {
            if detect(&keys) == Some(*format) {
                Ok(Some(known(*format, header, &keys)))
            } else {
                Ok(None)
            }
        }
    }
}

/// Header cells are compared trimmed, lowercase, with runs of spaces as one.
fn key(cell: &str) -> String {
    cell.trim_start_matches('\u{feff}')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn has(keys: &[String], wanted: &str) -> bool {
    keys.iter().any(|key| key == wanted)
}

fn detect(keys: &[String]) -> Option<ImportFormat> {
    if ["first name", "last name", "url", "connected on"]
        .iter()
        .all(|column| has(keys, column))
    {
        Some(ImportFormat::Linkedin)
    } else if has(keys, "e-mail 1 - value") || (has(keys, "given name") && has(keys, "family name"))
    {
        Some(ImportFormat::Google)
    } else if ["e-mail address", "first name", "last name"]
        .iter()
        .all(|column| has(keys, column))
    {
        Some(ImportFormat::Outlook)
    } else {
        None
    }
}

fn known(format: ImportFormat, header: Vec<String>, keys: &[String]) -> ColumnMap {
    let field_of = match format {
        ImportFormat::Linkedin => linkedin_field,
        ImportFormat::Google => google_field,
        ImportFormat::Outlook => outlook_field,
        ImportFormat::Generic => |_: &str| None,
    };
    ColumnMap {
        format,
        fields: keys.iter().map(|key| field_of(key)).collect(),
        header,
    }
}

fn linkedin_field(key: &str) -> Option<Field> {
    Some(match key {
        "first name" => Field::FirstName,
        "last name" => Field::LastName,
        "url" => Field::ProfileUrl,
        "email address" => Field::Email,
        "company" => Field::Company,
        "position" => Field::Title,
        "connected on" => Field::ConnectedOn,
        _ => return None,
    })
}

/// Google's current export (`First Name`, `E-mail 1 - Value`, `Organization Name`,
/// `Address 1 - Formatted`...) and its older one (`Name`, `Given Name`,
/// `Organization 1 - Name`...). Numbered columns (`E-mail 2 - Value`) all count.
fn google_field(key: &str) -> Option<Field> {
    let numbered = |prefix: &str, suffix: &str| {
        key.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
    };
    Some(match key {
        "first name" | "given name" => Field::FirstName,
        "middle name" | "additional name" => Field::MiddleName,
        "last name" | "family name" => Field::LastName,
        "name" => Field::FullName,
        "organization name" => Field::Company,
        "organization title" => Field::Title,
        _ if numbered("e-mail ", " - value") => Field::Email,
        _ if numbered("phone ", " - value") => Field::Phone,
        _ if numbered("organization ", " - name") => Field::Company,
        _ if numbered("organization ", " - title") => Field::Title,
        _ if numbered("address ", " - formatted") => Field::Location,
        _ => return None,
    })
}

fn outlook_field(key: &str) -> Option<Field> {
    Some(match key {
        "first name" => Field::FirstName,
        "middle name" => Field::MiddleName,
        "last name" => Field::LastName,
        "e-mail address" | "e-mail 2 address" | "e-mail 3 address" => Field::Email,
        "mobile phone" | "business phone" | "business phone 2" | "home phone" | "home phone 2"
        | "primary phone" | "other phone" => Field::Phone,
        "company" => Field::Company,
        "job title" => Field::Title,
        "business city" | "home city" => Field::Location,
        "web page" => Field::ProfileUrl,
        _ => return None,
    })
}

fn generic(
    header: Vec<String>,
    keys: &[String],
    mapping: &HashMap<String, Field>,
) -> Result<ColumnMap, HeaderError> {
    if !mapping
        .values()
        .any(|field| matches!(field, Field::FirstName | Field::LastName | Field::FullName))
    {
        return Err(HeaderError::MappingWithoutName);
    }
    let mut fields = vec![None; header.len()];
    for (column, field) in mapping {
        let wanted = key(column);
        let index = keys
            .iter()
            .position(|key| *key == wanted)
            .ok_or_else(|| HeaderError::MappedColumnMissing(column.clone()))?;
        fields[index] = Some(*field);
    }
    Ok(ColumnMap {
        format: ImportFormat::Generic,
        header,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINKEDIN: &[&str] = &[
        "First Name",
        "Last Name",
        "URL",
        "Email Address",
        "Company",
        "Position",
        "Connected On",
    ];

    #[test]
    fn linkedin_notes_are_not_a_header_and_its_header_is() {
        let notes = ["Notes:"];
        let explanation = ["\"When exporting your connection data, you may notice...\""];

        assert_eq!(recognise(&notes, &Requested::Detect), Ok(None));
        assert_eq!(recognise(&explanation, &Requested::Detect), Ok(None));
        let map = recognise(LINKEDIN, &Requested::Detect).unwrap().unwrap();
        assert_eq!(map.format, ImportFormat::Linkedin);
        assert_eq!(map.columns_of(Field::ProfileUrl).collect::<Vec<_>>(), [2]);
        assert_eq!(map.columns_of(Field::ConnectedOn).collect::<Vec<_>>(), [6]);
    }

    #[test]
    fn google_numbered_columns_all_count() {
        let header = [
            "First Name",
            "Middle Name",
            "Last Name",
            "E-mail 1 - Label",
            "E-mail 1 - Value",
            "E-mail 2 - Value",
            "Phone 1 - Value",
            "Organization Name",
            "Organization Title",
            "Address 1 - Formatted",
        ];

        let map = recognise(&header, &Requested::Detect).unwrap().unwrap();

        assert_eq!(map.format, ImportFormat::Google);
        assert_eq!(map.columns_of(Field::Email).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(map.fields[3], None, "labels are ignored");
        assert_eq!(map.columns_of(Field::Location).collect::<Vec<_>>(), [9]);
    }

    #[test]
    fn the_older_google_export_is_recognised() {
        let header = ["Name", "Given Name", "Family Name", "Organization 1 - Name"];

        let map = recognise(&header, &Requested::Detect).unwrap().unwrap();

        assert_eq!(map.format, ImportFormat::Google);
        assert_eq!(map.columns_of(Field::Company).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn outlook_is_recognised_with_its_phones() {
        let header = [
            "First Name",
            "Middle Name",
            "Last Name",
            "Company",
            "Job Title",
            "E-mail Address",
            "E-mail 2 Address",
            "Mobile Phone",
            "Business Phone",
            "Notes",
        ];

        let map = recognise(&header, &Requested::Detect).unwrap().unwrap();

        assert_eq!(map.format, ImportFormat::Outlook);
        assert_eq!(map.columns_of(Field::Phone).collect::<Vec<_>>(), [7, 8]);
        assert_eq!(map.fields[9], None);
    }

    #[test]
    fn headers_match_whatever_their_case_spacing_or_bom() {
        let header = ["\u{feff}first name", " LAST  NAME ", "url", "Connected On"];

        let map = recognise(&header, &Requested::Detect).unwrap().unwrap();

        assert_eq!(map.format, ImportFormat::Linkedin);
        assert_eq!(map.header[1], "LAST  NAME");
    }

    #[test]
    fn a_chosen_format_skips_rows_until_its_header() {
        let outlook_header = ["First Name", "Last Name", "E-mail Address"];

        assert_eq!(
            recognise(&outlook_header, &Requested::Format(ImportFormat::Linkedin)),
            Ok(None)
        );
        assert!(
            recognise(LINKEDIN, &Requested::Format(ImportFormat::Linkedin))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_mapping_reads_the_first_row_as_its_header() {
        let mapping = HashMap::from([
            ("Full name".to_owned(), Field::FullName),
            ("mail".to_owned(), Field::Email),
        ]);

        let map = recognise(
            &["Mail", "Full Name", "Shoe size"],
            &Requested::Mapping(mapping),
        )
        .unwrap()
        .unwrap();

        assert_eq!(map.format, ImportFormat::Generic);
        assert_eq!(
            map.fields,
            [Some(Field::Email), Some(Field::FullName), None]
        );
    }

    #[test]
    fn a_mapping_naming_a_missing_column_or_no_name_is_refused() {
        let missing = HashMap::from([("Name".to_owned(), Field::FullName)]);
        let nameless = HashMap::from([("Mail".to_owned(), Field::Email)]);

        assert_eq!(
            recognise(&["Mail"], &Requested::Mapping(missing)),
            Err(HeaderError::MappedColumnMissing("Name".to_owned()))
        );
        assert_eq!(
            recognise(&["Mail"], &Requested::Mapping(nameless)),
            Err(HeaderError::MappingWithoutName)
        );
    }
}
