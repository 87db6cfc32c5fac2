//! The benchmark's input: a LinkedIn `Connections.csv` as LinkedIn exports it (a
//! `Notes:` preamble, a blank line, the header, then one row per connection),
//! written to disk row by row, never held in memory.
//!
//! Rows are realistic and deterministic (the same seed and row count give the same
//! bytes): names from several languages with their accents (a few with an emoji),
//! a unique profile URL per row (a few with a percent-encoded accented slug, as
//! LinkedIn writes them), an e-mail address on about one row in four, companies and
//! positions of which some hold a comma or quotes and are quoted, and a
//! `Connected On` date such as `21 Nov 2023`. Every row is one the importer should
//! accept: no duplicates, nothing malformed.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

/// The notes lines LinkedIn puts before the header (record, then a blank line).
pub const PREAMBLE: &str = "Notes:\n\"When exporting your connection data, you may notice that some of the \
email addresses are missing. You will only see email addresses for connections who have allowed \
their connections to see or download their email address using this setting \
https://www.linkedin.com/psettings/privacy/email. You can learn more here \
https://www.linkedin.com/help/linkedin/answer/261\"\n\n";

/// LinkedIn's header row.
pub const HEADER: &str = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n";

/// Columns of a row (of the header).
pub const COLUMNS: usize = 7;

const FIRST_NAMES: &[&str] = &[
    "Zoë",
    "José",
    "François",
    "Léa",
    "Björn",
    "Søren",
    "João",
    "Émilie",
    "Chloé",
    "Jürgen",
    "Małgorzata",
    "Ayşe",
    "Siobhán",
    "Zoltán",
    "Renée",
    "Kateřina",
    "Ólafur",
    "Inès",
    "Raphaël",
    "Dmitri",
    "Hiroshi",
    "Priya",
    "Wei",
    "Fatima",
    "Oluwaseun",
    "Liam",
    "Emma",
    "Noah",
    "Olivia",
    "Lucas",
    "Sofia",
    "Mateo",
    "Isabella",
    "Ethan",
    "Mia",
    "James",
    "Charlotte",
    "Ana María",
    "Jean-Baptiste",
    "Mary Ann",
];

const LAST_NAMES: &[&str] = &[
    "Müller",
    "Núñez García",
    "Lefèvre",
    "Chen",
    "Dubois",
    "Østergaard",
    "Kowalski",
    "O'Brien",
    "van der Berg",
    "Smith",
    "García",
    "Rodríguez",
    "Nakamura",
    "Schröder",
    "Petrović",
    "Ślusarczyk",
    "Fernández",
    "Johansson",
    "Nguyễn",
    "Kim",
    "Rossi",
    "Hernández",
    "Papadopoulos",
    "Öztürk",
    "De la Cruz",
    "Łukasiewicz",
    "Ó Súilleabháin",
    "Jones",
    "Williams",
    "Brown",
    "Taylor",
    "Dupont",
    "Moreau",
    "Okafor",
    "Singh",
    "Yılmaz",
];

const EMOJI: &[&str] = &["🚀", "🌍", "✨"];

/// Companies; the ones with a comma are quoted when written.
const COMPANIES: &[&str] = &[
    "Acme, Inc.",
    "Smith, Jones & Partners LLP",
    "Helvetia Robotics AG",
    "Société Générale",
    "Globex Corporation",
    "Initech",
    "Umbrella Health",
    "Stark Industries",
    "Wayne Enterprises, Ltd.",
    "Müller & Söhne GmbH",
    "Rocket Labs",
    "Northwind Traders",
    "Contoso",
    "Fabrikam, Inc.",
    "Banco Santander",
    "Deutsche Bahn",
    "Nordea",
    "Tata Consultancy Services",
    "Université de Montréal",
    "Freelance",
    "Self-employed",
    "Crédit Agricole",
    "Zürich Versicherung",
    "Ørsted",
];

/// Positions; some hold a comma or quotes.
const POSITIONS: &[&str] = &[
    "Senior Product Manager",
    "Head of Sales",
    "Software Engineer",
    "Senior Software Engineer",
    "Analyste \"Risques\" Crédit",
    "Founder & CEO",
    "Data Scientist",
    "VP, Engineering",
    "Recruiter",
    "Directeur Général",
    "Staff Engineer",
    "Consultant",
    "Marketing Manager",
    "Chief Financial Officer",
    "Ingeniera de Datos",
    "Projektleiter",
    "Account Executive, EMEA",
    "UX Designer",
    "Customer Success Manager",
    "PhD Candidate",
];

const MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.fr",
    "example.org",
    "web.de",
    "proton.me",
    "icloud.com",
];

const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Data rows (header and notes excluded).
    pub rows: u64,
    /// Size of the file.
    pub bytes: u64,
    /// Rows with an e-mail address.
    pub with_email: u64,
}

/// Writes `rows` connections to `path` (created or truncated), in LinkedIn's
/// layout, from `seed`.
pub fn write_connections(path: &Path, rows: u64, seed: u64) -> std::io::Result<Generated> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut random = SplitMix64(seed);
    let mut written = Counting::new(&mut out);
    written.write_all(PREAMBLE.as_bytes())?;
    written.write_all(HEADER.as_bytes())?;
    let mut line = String::with_capacity(256);
    let mut with_email = 0;
    for index in 0..rows {
        line.clear();
        if connection(index, &mut random, &mut line) {
            with_email += 1;
        }
        written.write_all(line.as_bytes())?;
    }
    let bytes = written.count;
    out.flush()?;
    Ok(Generated {
        rows,
        bytes,
        with_email,
    })
}

/// Appends the `index`-th row (with its newline) to `line`; true when it has an
/// e-mail address.
fn connection(index: u64, random: &mut SplitMix64, line: &mut String) -> bool {
    let mut first = random.pick(FIRST_NAMES).to_owned();
    let last = random.pick(LAST_NAMES);
    if random.one_in(200) {
        first.push(' ');
        first.push_str(random.pick(EMOJI));
    }
    let slug = format!("{}-{}", ascii_slug(&first), ascii_slug(last));
    // LinkedIn writes a slug with accents percent-encoded; a few profiles have one.
    let url = if random.one_in(20) {
        format!(
            "https://www.linkedin.com/in/{}-{index}",
            percent_encoded(&format!("{}-{}", first.to_lowercase(), last.to_lowercase()))
        )
    } else {
        format!("https://www.linkedin.com/in/{slug}-{index}")
    };
    let has_email = random.one_in(4);
    let email = if has_email {
        format!(
            "{}.{index}@{}",
            slug.replace('-', "."),
            random.pick(MAIL_DOMAINS)
        )
    } else {
        String::new()
    };
    let company = if random.one_in(20) {
        ""
    } else {
        random.pick(COMPANIES)
    };
    let position = if random.one_in(20) {
        ""
    } else {
        random.pick(POSITIONS)
    };
    let day = 1 + random.below(28);
    let month = random.pick(MONTHS);
    let year = 2005 + random.below(21);
    for (column, cell) in [
        first.as_str(),
        last,
        &url,
        &email,
        company,
        position,
        &format!("{day:02} {month} {year}"),
    ]
    .into_iter()
    .enumerate()
    {
        if column > 0 {
            line.push(',');
        }
        push_cell(line, cell);
    }
    line.push('\n');
    has_email
}

/// `cell` as RFC 4180 wants it: quoted (quotes doubled) when it holds a comma, a
/// quote or a line break.
fn push_cell(line: &mut String, cell: &str) {
    if cell.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&cell.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(cell);
    }
}

/// A URL slug of a name: lowercase ASCII letters and digits, accents dropped, other
/// characters as single hyphens.
fn ascii_slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for character in name.chars().flat_map(char::to_lowercase) {
        let ascii = match character {
            'a'..='z' | '0'..='9' => Some(character),
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => Some('a'),
            'ç' => Some('c'),
            'è' | 'é' | 'ê' | 'ë' | 'ễ' => Some('e'),
            'ì' | 'í' | 'î' | 'ï' | 'ı' => Some('i'),
            'ñ' => Some('n'),
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' | 'ø' => Some('o'),
            'ù' | 'ú' | 'û' | 'ü' => Some('u'),
            'ł' => Some('l'),
            'ś' | 'ş' => Some('s'),
            'ř' => Some('r'),
            'ğ' => Some('g'),
            'ý' => Some('y'),
            _ => None,
        };
        match ascii {
            Some(letter) => slug.push(letter),
            None if !slug.is_empty() && !slug.ends_with('-') => slug.push('-'),
            None => {}
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// `text` with spaces as hyphens and every byte outside `A-Z a-z 0-9 - . _ ~`
/// percent-encoded (upper-case hex), as LinkedIn writes an accented slug.
fn percent_encoded(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 2);
    for byte in text.replace(' ', "-").bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Copies `source` (a file [`write_connections`] wrote) to `target` without the
/// notes lines, so that it starts with the header: what `\copy ... HEADER` and
/// pgloader's `skip header = 1` expect. Returns the bytes written.
pub fn without_preamble(source: &Path, target: &Path) -> std::io::Result<u64> {
    let mut input = std::io::BufReader::with_capacity(1 << 20, File::open(source)?);
    let mut skipped = vec![0; PREAMBLE.len()];
    std::io::Read::read_exact(&mut input, &mut skipped)?;
    if skipped != PREAMBLE.as_bytes() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} does not start with the notes lines", source.display()),
        ));
    }
    let mut output = BufWriter::with_capacity(1 << 20, File::create(target)?);
    let bytes = std::io::copy(&mut input, &mut output)?;
    output.flush()?;
    Ok(bytes)
}

/// A writer that counts the bytes through it.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Counting<W> {
    fn new(inner: W) -> Self {
        Self { inner, count: 0 }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// SplitMix64: a small, fast, seedable generator; plenty for test data, and the
/// same on every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound` (`bound` > 0; the bias is negligible for small bounds).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// True once in `n` on average.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(rows: u64, seed: u64) -> (Generated, String) {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("Connections.csv");
        let generated = write_connections(&path, rows, seed).expect("the file is written");
        let text = std::fs::read_to_string(&path).expect("the file is UTF-8");
        (generated, text)
    }

    #[test]
    fn the_file_starts_like_a_linkedin_export() {
        let (_, text) = generated(3, 1);

        let lines: Vec<&str> = text.lines().collect();

        assert_eq!(lines[0], "Notes:");
        assert!(lines[1].starts_with("\"When exporting your connection data"));
        assert_eq!(lines[2], "");
        assert_eq!(
            lines[3],
            "First Name,Last Name,URL,Email Address,Company,Position,Connected On"
        );
        assert_eq!(lines.len(), 4 + 3);
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_the_size_is_counted() {
        let (first, first_text) = generated(500, 7);
        let (second, second_text) = generated(500, 7);
        let (_, other_text) = generated(500, 8);

        assert_eq!(first, second);
        assert_eq!(first_text, second_text);
        assert_ne!(first_text, other_text);
        assert_eq!(first.bytes, first_text.len() as u64);
    }

    #[test]
    fn every_row_has_seven_cells_a_unique_url_and_a_linkedin_date() {
        let (generated, text) = generated(2_000, 3);
        let mut urls = std::collections::HashSet::new();

        for line in text.lines().skip(4) {
            let cells = split_csv(line);
            assert_eq!(cells.len(), COLUMNS, "{line}");
            assert!(
                cells[2].starts_with("https://www.linkedin.com/in/"),
                "{line}"
            );
            assert!(urls.insert(cells[2].clone()), "repeated URL in {line}");
            let date: Vec<&str> = cells[6].split(' ').collect();
            assert_eq!(date.len(), 3, "{line}");
            assert!(MONTHS.contains(&date[1]), "{line}");
        }
        assert_eq!(urls.len(), 2_000);
        // About one row in four has an address.
        assert!((400..600).contains(&generated.with_email), "{generated:?}");
    }

    #[test]
    fn cells_with_commas_or_quotes_are_quoted() {
        let mut line = String::new();

        push_cell(&mut line, "Acme, Inc.");
        line.push(',');
        push_cell(&mut line, "Analyste \"Risques\"");
        line.push(',');
        push_cell(&mut line, "Initech");

        assert_eq!(line, "\"Acme, Inc.\",\"Analyste \"\"Risques\"\"\",Initech");
    }

    #[test]
    fn slugs_are_ascii_without_accents() {
        assert_eq!(ascii_slug("Núñez García"), "nunez-garcia");
        assert_eq!(ascii_slug("Zoë 🚀"), "zoe");
        assert_eq!(ascii_slug("O'Brien"), "o-brien");
        assert_eq!(percent_encoded("zoë-müller"), "zo%C3%AB-m%C3%BCller");
    }

    #[test]
    fn the_copy_without_preamble_starts_at_the_header() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let source = directory.path().join("Connections.csv");
        let target = directory.path().join("plain.csv");
        let generated = write_connections(&source, 10, 1).expect("written");

        let bytes = without_preamble(&source, &target).expect("copied");

        let text = std::fs::read_to_string(&target).expect("UTF-8");
        assert!(text.starts_with(HEADER));
        assert_eq!(bytes, generated.bytes - PREAMBLE.len() as u64);
    }

    /// The cells of one CSV line (no line breaks inside cells).
    fn split_csv(line: &str) -> Vec<String> {
        let mut cells = vec![String::new()];
        let mut quoted = false;
        let mut characters = line.chars().peekable();
        while let Some(character) = characters.next() {
            match (character, quoted) {
                ('"', true) if characters.peek() == Some(&'"') => {
                    characters.next();
                    cells.last_mut().expect("a cell").push('"');
                }
                ('"', _) => quoted = !quoted,
                (',', false) => cells.push(String::new()),
                (other, _) => cells.last_mut().expect("a cell").push(other),
            }
        }
        cells
    }
}
