//! One CSV record in, one normalised contact or the list of what is wrong with it
//! out.
//!
//! A row is refused as a whole when any of its cells is wrong: a wrong cell count,
//! a cell longer than the limit, bytes that were not text in the file's encoding,
//! an e-mail, phone, URL or date the normalisers refuse, or nothing to show the
//! contact by (no name, company or e-mail address). Every problem of the row is reported, each with its
//! column, so one pass over the rejects report is enough to fix the file. Keeping
//! a row with its bad cells dropped would import a contact that silently lacks
//! what the file said.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use six_events::importer::ImportedContact;
use uuid::Uuid;

use crate::{
    formats::{ColumnMap, Field},
    normalise::{
        date::{self, DateOrder},
        email, name,
        phone::{self, Region},
        text, url,
    },
};

/// The text the decoder puts where the file's bytes were not text.
const REPLACEMENT: char = '\u{fffd}';

/// How rows are read, beyond the column map.
#[derive(Debug, Clone, Copy)]
pub struct RowRules {
    /// Country of phone numbers written without a country code.
    pub default_region: Option<Region>,
    /// Order of day and month in all-numeric dates.
    pub date_order: DateOrder,
    /// Longest cell, in characters.
    pub max_field_chars: usize,
}

/// One thing wrong with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The header of the column at fault; `None` for the row as a whole.
    pub column: Option<String>,
    /// Stable machine code, e.g. `invalid_email`.
    pub code: &'static str,
    /// What is wrong, for people.
    pub reason: String,
}

/// A contact as read from one row, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFields {
    /// Never empty: the name, else the company (a business in an address book),
    /// else the first e-mail address.
    pub full_name: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Normalised, no duplicates, in file order.
    pub emails: Vec<String>,
    /// E.164, no duplicates, in file order.
    pub phones: Vec<String>,
    /// Employer.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Where the contact lives or works.
    pub location: Option<String>,
    /// Canonical profile URL.
    pub profile_url: Option<String>,
    /// When the owner connected with the contact.
    pub connected_on: Option<NaiveDate>,
}

impl ContactFields {
    /// The contact as the `contacts.imported` event carries it, under `contact_id`.
    pub fn into_imported(self, contact_id: Uuid) -> ImportedContact {
        ImportedContact {
            contact_id,
            full_name: self.full_name,
            first_name: self.first_name,
            last_name: self.last_name,
            emails: self.emails,
            phones: self.phones,
            company: self.company,
            title: self.title,
            location: self.location,
            profile_url: self.profile_url,
            connected_on: self.connected_on,
        }
    }

    /// What makes another row the same contact for the same owner: each e-mail
    /// (`email:…`) and the profile URL (`url:…`); a contact with neither is
    /// identified by everything it holds (`row:` and a SHA-256), so only an
    /// identical row is its duplicate.
    pub fn identities(&self) -> Vec<String> {
        let mut identities: Vec<String> = self
            .emails
            .iter()
            .map(|address| format!("email:{address}"))
            .chain(self.profile_url.iter().map(|url| format!("url:{url}")))
            .collect();
        if identities.is_empty() {
            identities.push(format!("row:{}", self.digest()));
        }
        identities
    }

    fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        let optional = |value: &Option<String>| value.clone().unwrap_or_default();
        for part in [
            self.full_name.clone(),
            optional(&self.first_name),
            optional(&self.last_name),
            self.phones.join(","),
            optional(&self.company),
            optional(&self.title),
            optional(&self.location),
            self.connected_on
                .map(|date| date.to_string())
                .unwrap_or_default(),
        ] {
            hasher.update(part.as_bytes());
            // A separator no cleaned text contains, so parts cannot run together.
            hasher.update([0]);
        }
        hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// Reads `cells` (one CSV record) with `map`.
pub fn read_row(
    cells: &[&str],
    map: &ColumnMap,
    rules: &RowRules,
) -> Result<ContactFields, Vec<RowProblem>> {
    if cells.len() != map.header.len() {
        return Err(vec![RowProblem {
            column: None,
            code: "wrong_cell_count",
            reason: format!(
                "the row has {} cells where the header has {}",
                cells.len(),
                map.header.len()
            ),
        }]);
    }
    let mut row = Reader {
        cells,
        map,
        rules,
        problems: Vec::new(),
    };
    let first_name = row.single(Field::FirstName);
    let middle_name = row.single(Field::MiddleName);
    let last_name = row.single(Field::LastName);
    let whole_name = row.single(Field::FullName);
    let emails = row.many(
        Field::Email,
        |cell| email::split_list(cell).map(str::to_owned).collect(),
        email::normalise,
    );
    let phones = row.many(
        Field::Phone,
        |cell| phone::split_list(cell).map(str::to_owned).collect(),
        |raw| phone::normalise(raw, rules.default_region),
    );
    let company = row.single(Field::Company);
    let title = row.single(Field::Title);
    let location = row.single(Field::Location);
    let profile_url = row.parsed(Field::ProfileUrl, url::profile_url);
    let connected_on = row.parsed(Field::ConnectedOn, |raw| {
        date::connected_on(raw, rules.date_order)
    });
    let full_name = name::full_name(
        first_name.as_deref(),
        middle_name.as_deref(),
        last_name.as_deref(),
        whole_name.as_deref(),
    )
    .or_else(|| company.clone())
    .or_else(|| emails.first().cloned());
    let Some(full_name) = full_name.filter(|_| row.problems.is_empty()) else {
        if row.problems.is_empty() {
            row.problems.push(RowProblem {
                column: None,
                code: "no_name",
                reason: "the row has no name, company or e-mail address to show it by".to_owned(),
            });
        }
        return Err(row.problems);
    };
    Ok(ContactFields {
        full_name,
        first_name,
        last_name,
        emails,
        phones,
        company,
        title,
        location,
        profile_url,
        connected_on,
    })
}

/// Reads the cells of one row, collecting every problem.
struct Reader<'a> {
    cells: &'a [&'a str],
    map: &'a ColumnMap,
    rules: &'a RowRules,
    problems: Vec<RowProblem>,
}

impl Reader<'_> {
    /// The cleaned, non-empty values of the columns of `field`, each checked for
    /// length and undecodable bytes, with the column they came from.
    fn values(&mut self, field: Field) -> Vec<(usize, String)> {
        let mut values = Vec::new();
        for column in self.map.columns_of(field) {
            let Some(value) = text::clean(self.cells[column]) else {
                continue;
            };
            let chars = value.chars().count();
            if chars > self.rules.max_field_chars {
                self.problem(
                    column,
                    "field_too_long",
                    format!(
                        "{chars} characters, more than the limit of {}",
                        self.rules.max_field_chars
                    ),
                );
            } else if value.contains(REPLACEMENT) {
                self.problem(
                    column,
                    "not_text",
                    "holds bytes that are not text in the file's encoding".to_owned(),
                );
            } else {
                values.push((column, value));
            }
        }
        values
    }

    /// The first value of a single-valued field.
    fn single(&mut self, field: Field) -> Option<String> {
        self.values(field)
            .into_iter()
            .next()
            .map(|(_, value)| value)
    }

    /// A single-valued field through `parse`.
    fn parsed<T>(
        &mut self,
        field: Field,
        parse: impl Fn(&str) -> Result<T, crate::normalise::Invalid>,
    ) -> Option<T> {
        let (column, value) = self.values(field).into_iter().next()?;
        match parse(&value) {
            Ok(parsed) => Some(parsed),
            Err(invalid) => {
                self.problem(column, invalid.code(), invalid.to_string());
                None
            }
        }
    }

    /// Every value of a multi-valued field (several columns, several values per
    /// cell), normalised, without duplicates, in file order.
    fn many(
        &mut self,
        field: Field,
        split: impl Fn(&str) -> Vec<String>,
        normalise: impl Fn(&str) -> Result<String, crate::normalise::Invalid>,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (column, cell) in self.values(field) {
            for raw in split(&cell) {
                match normalise(&raw) {
                    Ok(value) if !out.contains(&value) => out.push(value),
                    Ok(_) => {}
                    Err(invalid) => self.problem(column, invalid.code(), invalid.to_string()),
                }
            }
        }
        out
    }

    fn problem(&mut self, column: usize, code: &'static str, reason: String) {
        self.problems.push(RowProblem {
            column: Some(self.map.header[column].clone()),
            code,
            reason,
        });
    }
}

#[cfg(test)]
mod tests {
    use six_events::importer::ImportFormat;

    use super::*;
    use crate::formats::{Requested, recognise};

    const RULES: RowRules = RowRules {
        default_region: None,
        date_order: DateOrder::MonthFirst,
        max_field_chars: 100,
    };

    fn linkedin() -> ColumnMap {
        let header = [
            "First Name",
            "Last Name",
            "URL",
            "Email Address",
            "Company",
            "Position",
            "Connected On",
        ];
        let map = recognise(&header, &Requested::Detect).unwrap().unwrap();
        assert_eq!(map.format, ImportFormat::Linkedin);
        map
    }

    #[test]
    fn a_linkedin_row_is_normalised() {
        let cells = [
            " José ",
            "García  López",
            "https://uk.linkedin.com/in/Jose-Garcia/?trk=x",
            "",
            "Acme, Inc.",
            "CTO",
            "21 Nov 2023",
        ];

        let contact = read_row(&cells, &linkedin(), &RULES).unwrap();

        assert_eq!(contact.full_name, "José García López");
        assert_eq!(contact.first_name.as_deref(), Some("José"));
        assert_eq!(contact.company.as_deref(), Some("Acme, Inc."));
        assert_eq!(
            contact.profile_url.as_deref(),
            Some("https://www.linkedin.com/in/jose-garcia")
        );
        assert_eq!(contact.connected_on, NaiveDate::from_ymd_opt(2023, 11, 21));
        assert_eq!(
            contact.identities(),
            ["url:https://www.linkedin.com/in/jose-garcia"]
        );
    }

    #[test]
    fn every_problem_of_a_row_is_reported_with_its_column() {
        let cells = [
            "Ada",
            "",
            "ftp://example.org",
            "not-an-address",
            "",
            "",
            "yesterday",
        ];

        let problems = read_row(&cells, &linkedin(), &RULES).unwrap_err();

        let found: Vec<(Option<&str>, &str)> = problems
            .iter()
            .map(|problem| (problem.column.as_deref(), problem.code))
            .collect();
        assert_eq!(
            found,
            [
                (Some("Email Address"), "invalid_email"),
                (Some("URL"), "invalid_url"),
                (Some("Connected On"), "invalid_date"),
            ]
        );
    }

    #[test]
    fn a_row_of_the_wrong_length_is_refused_as_a_whole() {
        let problems = read_row(&["Ada", "Lovelace"], &linkedin(), &RULES).unwrap_err();

        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code, "wrong_cell_count");
        assert_eq!(problems[0].column, None);
    }

    #[test]
    fn a_row_without_a_name_is_shown_by_its_company_or_email_or_refused() {
        let with_company = ["", "", "", "ada@example.org", "Acme", "", ""];
        let with_email = ["", "", "", "ADA@Example.org", "", "", ""];
        let with_nothing = ["", "", "", "", "", "", "07 Mar 2020"];

        let business = read_row(&with_company, &linkedin(), &RULES).unwrap();
        let contact = read_row(&with_email, &linkedin(), &RULES).unwrap();
        let problems = read_row(&with_nothing, &linkedin(), &RULES).unwrap_err();

        assert_eq!(business.full_name, "Acme");
        assert_eq!(contact.full_name, "ada@example.org");
        assert_eq!(problems[0].code, "no_name");
    }

    #[test]
    fn overlong_and_undecodable_cells_are_refused() {
        let long = "x".repeat(101);
        let cells = [long.as_str(), "Lovelace\u{fffd}", "", "", "", "", ""];

        let problems = read_row(&cells, &linkedin(), &RULES).unwrap_err();

        let codes: Vec<&str> = problems.iter().map(|problem| problem.code).collect();
        assert_eq!(codes, ["field_too_long", "not_text"]);
    }

    #[test]
    fn several_emails_and_phones_are_kept_once_each_in_file_order() {
        let header = [
            "First Name",
            "Last Name",
            "E-mail Address",
            "E-mail 2 Address",
            "Mobile Phone",
            "Business Phone",
        ];
        let map = recognise(&header, &Requested::Detect).unwrap().unwrap();
        let cells = [
            "Ada",
            "Lovelace",
            "ada@example.org",
            "ADA@example.org; ada@work.example",
            "+44 7911 123456",
            "+44 (0)7911 123456",
        ];

        let contact = read_row(&cells, &map, &RULES).unwrap();

        assert_eq!(contact.emails, ["ada@example.org", "ada@work.example"]);
        assert_eq!(contact.phones, ["+447911123456"]);
        assert_eq!(
            contact.identities(),
            ["email:ada@example.org", "email:ada@work.example"]
        );
    }

    #[test]
    fn a_contact_without_email_or_url_is_identified_by_its_content() {
        let header = ["First Name", "Last Name", "E-mail Address", "Company"];
        let map = recognise(&header, &Requested::Detect).unwrap().unwrap();

        let one = read_row(&["Ada", "Lovelace", "", "Acme"], &map, &RULES).unwrap();
        let same = read_row(&[" Ada", "Lovelace ", "", "Acme"], &map, &RULES).unwrap();
        let other = read_row(&["Ada", "Lovelace", "", "Initech"], &map, &RULES).unwrap();

        assert_eq!(one.identities(), same.identities());
        assert_ne!(one.identities(), other.identities());
        assert!(one.identities()[0].starts_with("row:"));
    }
}
