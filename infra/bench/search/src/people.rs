//! The generated address books: `owners` users with `contacts_per_owner` contacts
//! each, drawn from a seed so that one seed and shape always give the same people.
//!
//! Names come from pools of given and family names of several languages, some with
//! their accents (`Zoë`, `Núñez`, `Łukasiewicz`), drawn with a skew towards the
//! head of each pool ([`skewed`]): as in real address books, many people share a
//! first or a last name, and a few names are very common. Companies, titles and
//! locations come from pools too (a location is `City, Country`); e-mail addresses
//! are made from the name (`jose.garcia@gmail.com`, `josegarcia42@outlook.com`,
//! `jgarcia@acme.com` at the employer's domain). Not every contact has every field.
//!
//! A contact is kept as indices into the pools (a few bytes each), so 1,000,000 of
//! them take tens of MB; its text is made when its event is written. The ids
//! (owners, contacts) are not part of this: each run makes fresh ones, as the
//! services would.

use std::collections::HashMap;

use chrono::NaiveDate;

/// Share of contacts (in percent) with a company.
pub const COMPANY_PERCENT: u8 = 85;
/// Share of contacts (in percent) with a job title.
pub const TITLE_PERCENT: u8 = 80;
/// Share of contacts (in percent) with a location.
pub const LOCATION_PERCENT: u8 = 60;
/// Share of contacts (in percent) with an e-mail address.
pub const EMAIL_PERCENT: u8 = 90;
/// Share of contacts (in percent) with a phone number.
pub const PHONE_PERCENT: u8 = 20;
/// Share of contacts (in percent) with a profile URL.
pub const PROFILE_URL_PERCENT: u8 = 50;

/// Given names, the most common first (see [`skewed`]).
pub const FIRST_NAMES: &[&str] = &[
    "Maria",
    "John",
    "David",
    "Anna",
    "Michael",
    "Laura",
    "José",
    "Sarah",
    "Thomas",
    "Emma",
    "James",
    "Julia",
    "Daniel",
    "Sophie",
    "Peter",
    "Léa",
    "Robert",
    "Elena",
    "Mark",
    "Chloé",
    "Paul",
    "Olivia",
    "Andrew",
    "Lucía",
    "Chris",
    "Katarzyna",
    "Jonathan",
    "Sofia",
    "Jonas",
    "Hannah",
    "Mohammed",
    "Fatima",
    "Wei",
    "Priya",
    "Hiroshi",
    "Yuki",
    "Ahmed",
    "Aisha",
    "Lucas",
    "Isabella",
    "Mateo",
    "Camille",
    "François",
    "Zoë",
    "Björn",
    "Søren",
    "João",
    "Émilie",
    "Jürgen",
    "Małgorzata",
    "Ayşe",
    "Siobhán",
    "Zoltán",
    "Renée",
    "Kateřina",
    "Inès",
    "Raphaël",
    "Dmitri",
    "Oluwaseun",
    "Liam",
    "Noah",
    "Ethan",
    "Mia",
    "Charlotte",
    "Amelia",
    "Benjamin",
    "Samuel",
    "Nora",
    "Ingrid",
    "Lars",
    "Matteo",
    "Giulia",
    "Alessandro",
    "Francesca",
    "Pablo",
    "Carmen",
    "Javier",
    "Marta",
    "Tomasz",
    "Agnieszka",
    "Pieter",
    "Anouk",
    "Sven",
    "Astrid",
    "Aleksandr",
    "Olga",
    "Mehmet",
    "Elif",
    "Arjun",
    "Ananya",
    "Chen",
    "Mei",
    "Kenji",
    "Sakura",
    "Kwame",
    "Amara",
    "Diego",
    "Valentina",
    "Gabriel",
    "Beatriz",
    "Rafael",
    "Ana María",
    "Jean-Baptiste",
    "Mary Ann",
    "Håkon",
    "Dagný",
    "Ólafur",
    "Guðrún",
    "Jiří",
    "Tereza",
    "Bogdan",
    "Ioana",
    "Nikolaos",
    "Eleni",
    "Tiago",
    "Leonor",
    "Seán",
    "Aoife",
    "Malik",
    "Zainab",
];

/// Family names, the most common first (see [`skewed`]).
pub const LAST_NAMES: &[&str] = &[
    "Smith",
    "Müller",
    "García",
    "Johnson",
    "Martin",
    "Schmidt",
    "Rossi",
    "Williams",
    "Brown",
    "Fernández",
    "Dubois",
    "Jones",
    "Kowalski",
    "Schneider",
    "López",
    "Taylor",
    "Bernard",
    "Fischer",
    "Chen",
    "Wang",
    "Kim",
    "Nguyễn",
    "Singh",
    "Kumar",
    "Nakamura",
    "Tanaka",
    "Rodríguez",
    "Martínez",
    "Hernández",
    "González",
    "Pérez",
    "Sánchez",
    "Silva",
    "Santos",
    "Costa",
    "Ferreira",
    "Lefèvre",
    "Moreau",
    "Girard",
    "Dupont",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Schröder",
    "Schäfer",
    "Köhler",
    "Jensen",
    "Nielsen",
    "Hansen",
    "Østergaard",
    "Johansson",
    "Andersson",
    "Nilsson",
    "Virtanen",
    "Nowak",
    "Wiśniewski",
    "Wójcik",
    "Łukasiewicz",
    "Ślusarczyk",
    "Novák",
    "Dvořák",
    "Horváth",
    "Nagy",
    "Popescu",
    "Petrović",
    "Jovanović",
    "Papadopoulos",
    "Öztürk",
    "Yılmaz",
    "Kaya",
    "Demir",
    "O'Brien",
    "Murphy",
    "Kelly",
    "Ó Súilleabháin",
    "MacDonald",
    "Campbell",
    "Stewart",
    "van der Berg",
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "De la Cruz",
    "Núñez García",
    "Ramírez",
    "Torres",
    "Flores",
    "Romano",
    "Colombo",
    "Ricci",
    "Esposito",
    "Bianchi",
    "Ivanov",
    "Smirnov",
    "Kuznetsov",
    "Popov",
    "Sokolov",
    "Okafor",
    "Adeyemi",
    "Mensah",
    "Owusu",
    "Patel",
    "Shah",
    "Gupta",
    "Sharma",
    "Iyer",
    "Khan",
    "Ali",
    "Hussain",
    "Haddad",
    "Sato",
    "Suzuki",
    "Takahashi",
    "Watanabe",
    "Park",
    "Lee",
    "Choi",
    "Liu",
    "Zhang",
    "Li",
    "Huang",
    "Zhao",
    "Anderson",
    "Thomas",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Allen",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
];

/// Employers, each with the domain its people's work addresses use.
pub const COMPANIES: &[(&str, &str)] = &[
    ("Acme, Inc.", "acme.com"),
    ("Globex Corporation", "globex.com"),
    ("Initech", "initech.com"),
    ("Umbrella Health", "umbrella-health.com"),
    ("Stark Industries", "stark.com"),
    ("Wayne Enterprises", "wayne.com"),
    ("Helvetia Robotics AG", "helvetia-robotics.ch"),
    ("Société Générale", "socgen.com"),
    ("Müller & Söhne GmbH", "mueller-soehne.de"),
    ("Northwind Traders", "northwind.com"),
    ("Contoso", "contoso.com"),
    ("Fabrikam, Inc.", "fabrikam.com"),
    ("Banco Santander", "santander.com"),
    ("Deutsche Bahn", "deutschebahn.com"),
    ("Nordea", "nordea.com"),
    ("Tata Consultancy Services", "tcs.com"),
    ("Université de Montréal", "umontreal.ca"),
    ("Crédit Agricole", "credit-agricole.fr"),
    ("Zürich Versicherung", "zurich.ch"),
    ("Ørsted", "orsted.com"),
    ("Rocket Labs", "rocketlabs.io"),
    ("Blue Harbor Capital", "blueharbor.com"),
    ("Greenfield Analytics", "greenfield.ai"),
    ("Lumen Software", "lumen.dev"),
    ("Atlas Logistics", "atlas-logistics.com"),
    ("Pioneer Biotech", "pioneerbio.com"),
    ("Nimbus Cloud", "nimbus.cloud"),
    ("Vertex Consulting", "vertex-consulting.com"),
    ("Orion Energy", "orion-energy.com"),
    ("Sakura Electronics", "sakura-elec.jp"),
    ("Mahindra Tech", "mahindratech.in"),
    ("Lagos Fintech", "lagosfintech.ng"),
    ("São Paulo Bank", "spbank.com.br"),
    ("Kraków Games", "krakowgames.pl"),
    ("Nordic Design Studio", "nordicdesign.se"),
    ("Alpine Outdoor", "alpine-outdoor.at"),
    ("Cedar Health", "cedarhealth.org"),
    ("Maple Insurance", "mapleins.ca"),
    ("Harbor Freight Lines", "harborfreight.com"),
    ("Quantum Leap Labs", "quantumleap.io"),
    ("Silverline Media", "silverline.tv"),
    ("Redwood Partners", "redwoodpartners.com"),
    ("Iberia Renewables", "iberia-renewables.es"),
    ("Baltic Shipping", "balticshipping.lt"),
    ("Olympus Pharma", "olympuspharma.gr"),
    ("Sunrise Hospitality", "sunrise-hotels.com"),
    ("Freelance", "gmail.com"),
    ("Self-employed", "gmail.com"),
    ("Ministry of Health", "health.gov"),
    ("City Hospital", "cityhospital.org"),
];

/// Job titles (also profiles' headlines).
pub const TITLES: &[&str] = &[
    "Software Engineer",
    "Senior Software Engineer",
    "Product Manager",
    "Senior Product Manager",
    "Data Scientist",
    "Data Engineer",
    "Head of Sales",
    "Account Executive",
    "Recruiter",
    "Talent Acquisition Partner",
    "Chief Executive Officer",
    "Chief Financial Officer",
    "Founder",
    "Co-founder & CTO",
    "UX Designer",
    "Marketing Manager",
    "Consultant",
    "Senior Consultant",
    "Project Manager",
    "Customer Success Manager",
    "Operations Manager",
    "HR Business Partner",
    "Financial Analyst",
    "Investment Banker",
    "Nurse",
    "Physician",
    "Teacher",
    "Professor",
    "PhD Candidate",
    "Lawyer",
    "Architect",
    "Directeur Général",
    "Ingeniera de Datos",
    "Projektleiter",
    "Staff Engineer",
    "Engineering Manager",
    "VP, Engineering",
    "Sales Director",
    "Office Manager",
    "Student",
];

/// Locations as address books write them: `City, Country`.
pub const LOCATIONS: &[&str] = &[
    "London, United Kingdom",
    "New York, United States",
    "Berlin, Germany",
    "Paris, France",
    "San Francisco, United States",
    "Madrid, Spain",
    "Toronto, Canada",
    "Amsterdam, Netherlands",
    "München, Germany",
    "Zürich, Switzerland",
    "São Paulo, Brazil",
    "Montréal, Canada",
    "Kraków, Poland",
    "Warsaw, Poland",
    "Stockholm, Sweden",
    "København, Denmark",
    "Oslo, Norway",
    "Helsinki, Finland",
    "Dublin, Ireland",
    "Lisbon, Portugal",
    "Barcelona, Spain",
    "Milan, Italy",
    "Rome, Italy",
    "Vienna, Austria",
    "Prague, Czechia",
    "Budapest, Hungary",
    "Bucharest, Romania",
    "Athens, Greece",
    "Istanbul, Türkiye",
    "Tel Aviv, Israel",
    "Dubai, United Arab Emirates",
    "Lagos, Nigeria",
    "Nairobi, Kenya",
    "Cape Town, South Africa",
    "Bengaluru, India",
    "Mumbai, India",
    "Singapore, Singapore",
    "Tokyo, Japan",
    "Seoul, South Korea",
    "Shanghai, China",
    "Sydney, Australia",
    "Auckland, New Zealand",
    "Mexico City, Mexico",
    "Buenos Aires, Argentina",
    "Bogotá, Colombia",
    "Chicago, United States",
    "Boston, United States",
    "Austin, United States",
    "Seattle, United States",
    "Düsseldorf, Germany",
];

/// Domains of personal e-mail addresses.
pub const MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "web.de",
    "gmx.net",
    "orange.fr",
    "hotmail.co.uk",
    "mail.ru",
];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Users with an address book.
    pub owners: usize,
    /// Contacts in each address book.
    pub contacts_per_owner: usize,
    /// Share of the owners (in percent) with a discoverable profile.
    pub discoverable_percent: u8,
    /// Seed of every draw.
    pub seed: u64,
}

/// How a contact's e-mail address is made from their name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Email {
    /// `first.last@<personal domain>`.
    Dotted { domain: u8 },
    /// `firstlast<number>@<personal domain>`.
    Numbered { domain: u8, number: u16 },
    /// `<initial>last@<employer's domain>` (only for contacts with a company).
    AtWork,
}

/// One contact of an address book, as indices into the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact {
    pub first: u16,
    pub last: u16,
    pub company: Option<u16>,
    pub title: Option<u16>,
    pub location: Option<u16>,
    pub email: Option<Email>,
    /// The last six digits of a UK mobile number.
    pub phone: Option<u32>,
    pub profile_url: bool,
    /// Days from 2010-01-01 to when the owner connected with them.
    pub connected_days: u16,
}

/// An owner: a user with an address book, maybe a discoverable profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub first: u16,
    pub last: u16,
    pub discoverable: bool,
    /// The profile's headline: a title and a company.
    pub headline: (u16, u16),
}

/// Every owner and their address book.
#[derive(Debug, Clone)]
pub struct AddressBooks {
    shape: Shape,
    owners: Vec<Owner>,
    /// `contacts_per_owner` contacts per owner, owner after owner.
    contacts: Vec<Contact>,
}

/// Figures that describe the generated people, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub owners: usize,
    pub contacts: usize,
    pub discoverable: usize,
    /// Distinct full names among the contacts.
    pub distinct_full_names: usize,
    /// The most common given name, and how many contacts have it.
    pub top_first_name: (&'static str, usize),
    /// The most common family name, and how many contacts have it.
    pub top_last_name: (&'static str, usize),
    /// Contacts whose name has a letter outside ASCII.
    pub accented: usize,
    /// Mean contacts per address book that share their full name with another
    /// contact of the same book.
    pub namesakes_per_book: f64,
}

/// An index into a pool of `len`, skewed towards the head: the first eighth of the
/// pool gets a quarter of the draws (`u^1.5` of a uniform `u`), so names at the head
/// are shared by many people (the first of 120 given names by 4 %).
pub fn skewed(random: &mut fastrand::Rng, len: usize) -> usize {
    let unit = random.f64();
    ((unit.powf(1.5) * len as f64) as usize).min(len.saturating_sub(1))
}

fn pool_index(index: usize) -> u16 {
    u16::try_from(index).unwrap_or(u16::MAX)
}

fn chance(random: &mut fastrand::Rng, percent: u8) -> bool {
    random.u8(0..100) < percent
}

impl AddressBooks {
    /// Generates the address books of `shape`.
    ///
    /// # Panics
    /// When `owners` or `contacts_per_owner` is zero.
    pub fn generate(shape: Shape) -> Self {
        assert!(
            shape.owners > 0 && shape.contacts_per_owner > 0,
            "address books need owners and contacts"
        );
        let mut random = fastrand::Rng::with_seed(shape.seed);
        let owners = (0..shape.owners)
            .map(|_| Owner {
                first: pool_index(skewed(&mut random, FIRST_NAMES.len())),
                last: pool_index(skewed(&mut random, LAST_NAMES.len())),
                discoverable: chance(&mut random, shape.discoverable_percent),
                headline: (
                    pool_index(random.usize(0..TITLES.len())),
                    pool_index(random.usize(0..COMPANIES.len())),
                ),
            })
            .collect();
        let contacts = (0..shape.owners * shape.contacts_per_owner)
            .map(|_| Self::draw_contact(&mut random))
            .collect();
        Self {
            shape,
            owners,
            contacts,
        }
    }

    fn draw_contact(random: &mut fastrand::Rng) -> Contact {
        let company =
            chance(random, COMPANY_PERCENT).then(|| pool_index(random.usize(0..COMPANIES.len())));
        let email = chance(random, EMAIL_PERCENT).then(|| {
            let domain = random.u8(0..MAIL_DOMAINS.len() as u8);
            match random.u8(0..100) {
                0..40 => Email::Dotted { domain },
                40..70 => Email::Numbered {
                    domain,
                    number: random.u16(1..1_000),
                },
                _ if company.is_some() => Email::AtWork,
                _ => Email::Dotted { domain },
            }
        });
        Contact {
            first: pool_index(skewed(random, FIRST_NAMES.len())),
            last: pool_index(skewed(random, LAST_NAMES.len())),
            company,
            title: chance(random, TITLE_PERCENT).then(|| pool_index(random.usize(0..TITLES.len()))),
            location: chance(random, LOCATION_PERCENT)
                .then(|| pool_index(random.usize(0..LOCATIONS.len()))),
            email,
            phone: chance(random, PHONE_PERCENT).then(|| random.u32(0..1_000_000)),
            profile_url: chance(random, PROFILE_URL_PERCENT),
            connected_days: random.u16(0..5_800),
        }
    }

    /// The shape it was generated from.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Owners.
    pub fn owners(&self) -> usize {
        self.shape.owners
    }

    /// Contacts of every book.
    pub fn total_contacts(&self) -> usize {
        self.contacts.len()
    }

    /// `owner`'s user.
    pub fn owner(&self, owner: usize) -> &Owner {
        &self.owners[owner]
    }

    /// `owner`'s contacts, in the order of the book.
    pub fn contacts(&self, owner: usize) -> &[Contact] {
        let size = self.shape.contacts_per_owner;
        &self.contacts[owner * size..(owner + 1) * size]
    }

    /// Owners with a discoverable profile.
    pub fn discoverable(&self) -> usize {
        self.owners
            .iter()
            .filter(|owner| owner.discoverable)
            .count()
    }

    /// Figures for the report.
    pub fn stats(&self) -> Stats {
        let mut full_names: HashMap<(u16, u16), usize> = HashMap::new();
        let mut firsts = vec![0_usize; FIRST_NAMES.len()];
        let mut lasts = vec![0_usize; LAST_NAMES.len()];
        let mut accented = 0;
        for contact in &self.contacts {
            *full_names.entry((contact.first, contact.last)).or_default() += 1;
            firsts[usize::from(contact.first)] += 1;
            lasts[usize::from(contact.last)] += 1;
            if !contact.full_name().is_ascii() {
                accented += 1;
            }
        }
        let top = |counts: &[usize], pool: &[&'static str]| {
            counts
                .iter()
                .enumerate()
                .max_by_key(|(_, count)| **count)
                .map_or(("", 0), |(index, count)| (pool[index], *count))
        };
        let mut namesakes = 0;
        for owner in 0..self.owners() {
            let mut in_book: HashMap<(u16, u16), usize> = HashMap::new();
            for contact in self.contacts(owner) {
                *in_book.entry((contact.first, contact.last)).or_default() += 1;
            }
            namesakes += in_book.values().filter(|count| **count > 1).sum::<usize>();
        }
        Stats {
            owners: self.owners(),
            contacts: self.contacts.len(),
            discoverable: self.discoverable(),
            distinct_full_names: full_names.len(),
            top_first_name: top(&firsts, FIRST_NAMES),
            top_last_name: top(&lasts, LAST_NAMES),
            accented,
            namesakes_per_book: namesakes as f64 / self.owners().max(1) as f64,
        }
    }
}

impl Owner {
    /// The name the user is shown under.
    pub fn full_name(&self) -> String {
        format!(
            "{} {}",
            FIRST_NAMES[usize::from(self.first)],
            LAST_NAMES[usize::from(self.last)]
        )
    }

    /// The profile's headline: `Data Engineer at Acme, Inc.`.
    pub fn headline(&self) -> String {
        let (title, company) = self.headline;
        format!(
            "{} at {}",
            TITLES[usize::from(title)],
            COMPANIES[usize::from(company)].0
        )
    }
}

impl Contact {
    /// The given name.
    pub fn first_name(&self) -> &'static str {
        FIRST_NAMES[usize::from(self.first)]
    }

    /// The family name.
    pub fn last_name(&self) -> &'static str {
        LAST_NAMES[usize::from(self.last)]
    }

    /// The name as displayed: `José Núñez García`.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name(), self.last_name())
    }

    /// The employer.
    pub fn company(&self) -> Option<&'static str> {
        self.company
            .map(|company| COMPANIES[usize::from(company)].0)
    }

    /// The job title.
    pub fn title(&self) -> Option<&'static str> {
        self.title.map(|title| TITLES[usize::from(title)])
    }

    /// `City, Country`.
    pub fn location(&self) -> Option<&'static str> {
        self.location
            .map(|location| LOCATIONS[usize::from(location)])
    }

    /// The city of the location: what a location filter is typed as.
    pub fn city(&self) -> Option<&'static str> {
        self.location()
            .map(|location| location.split(',').next().unwrap_or(location))
    }

    /// The e-mail address, lowercase ASCII as the importer normalises it.
    pub fn email(&self) -> Option<String> {
        let first = mail_part(self.first_name());
        let last = mail_part(self.last_name());
        Some(match self.email? {
            Email::Dotted { domain } => {
                format!("{first}.{last}@{}", MAIL_DOMAINS[usize::from(domain)])
            }
            Email::Numbered { domain, number } => {
                format!(
                    "{first}{last}{number}@{}",
                    MAIL_DOMAINS[usize::from(domain)]
                )
            }
            Email::AtWork => {
                let domain = self
                    .company
                    .map_or(MAIL_DOMAINS[0], |company| COMPANIES[usize::from(company)].1);
                let initial = first.chars().next().unwrap_or('x');
                format!("{initial}{last}@{domain}")
            }
        })
    }

    /// The phone number in E.164 form.
    pub fn phone(&self) -> Option<String> {
        self.phone.map(|digits| format!("+447700{digits:06}"))
    }

    /// The date the owner connected with them.
    pub fn connected_on(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2010, 1, 1)?
            .checked_add_days(chrono::Days::new(u64::from(self.connected_days)))
    }
}

/// `name` as it appears in an e-mail address: folded, letters and digits only.
fn mail_part(name: &str) -> String {
    fold(name)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// `text` lowercased with its accents folded to ASCII (`Łukasiewicz` →
/// `lukasiewicz`), as the service's analyser folds it, for every letter the pools
/// use.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for letter in text.chars().flat_map(char::to_lowercase) {
        match letter {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => folded.push('a'),
            'æ' => folded.push_str("ae"),
            'ç' | 'ć' | 'č' => folded.push('c'),
            'ď' | 'đ' | 'ð' => folded.push('d'),
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' | 'ễ' => folded.push('e'),
            'ğ' => folded.push('g'),
            'ì' | 'í' | 'î' | 'ï' | 'ı' => folded.push('i'),
            'ł' => folded.push('l'),
            'ñ' | 'ń' | 'ň' => folded.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ő' => folded.push('o'),
            'œ' => folded.push_str("oe"),
            'ř' => folded.push('r'),
            'ś' | 'š' | 'ş' => folded.push('s'),
            'ß' => folded.push_str("ss"),
            'ț' | 'ţ' => folded.push('t'),
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => folded.push('u'),
            'ý' | 'ÿ' => folded.push('y'),
            'ź' | 'ż' | 'ž' => folded.push('z'),
            other => folded.push(other),
        }
    }
    folded
}

/// The terms of `text` as the service makes them: runs of letters and digits,
/// folded (see `docs/search.md`, "Terms and matching").
pub fn terms(text: &str) -> Vec<String> {
    text.split(|letter: char| !letter.is_alphanumeric())
        .filter(|term| !term.is_empty())
        .map(fold)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn books(owners: usize, contacts_per_owner: usize, seed: u64) -> AddressBooks {
        AddressBooks::generate(Shape {
            owners,
            contacts_per_owner,
            discoverable_percent: 20,
            seed,
        })
    }

    #[test]
    fn the_same_seed_gives_the_same_people() {
        let first = books(20, 50, 3);
        let again = books(20, 50, 3);
        let other = books(20, 50, 4);

        assert_eq!(first.contacts, again.contacts);
        assert_eq!(first.owners, again.owners);
        assert_ne!(first.contacts, other.contacts);
    }

    #[test]
    fn every_owner_has_a_book_of_the_asked_size() {
        let books = books(7, 13, 1);

        assert_eq!(books.total_contacts(), 91);
        assert!((0..7).all(|owner| books.contacts(owner).len() == 13));
    }

    #[test]
    fn many_contacts_share_names_and_some_have_accents() {
        let books = books(200, 200, 1);

        let stats = books.stats();

        // 40,000 contacts over far fewer distinct names, a few of them common.
        assert!(stats.distinct_full_names < stats.contacts / 2, "{stats:?}");
        assert!(stats.top_first_name.1 > stats.contacts / 50, "{stats:?}");
        assert!(stats.accented > stats.contacts / 20, "{stats:?}");
        assert!(stats.accented < stats.contacts / 2, "{stats:?}");
        assert!(stats.namesakes_per_book > 0.0, "{stats:?}");
    }

    #[test]
    fn the_discoverable_share_is_about_the_asked_one() {
        let books = books(2_000, 1, 1);

        let share = books.discoverable() as f64 / 2_000.0;

        assert!((share - 0.20).abs() < 0.03, "{share}");
    }

    #[test]
    fn every_pool_entry_folds_to_ascii() {
        let pools = FIRST_NAMES
            .iter()
            .chain(LAST_NAMES)
            .chain(COMPANIES.iter().map(|(name, _)| name))
            .chain(TITLES)
            .chain(LOCATIONS);

        for entry in pools {
            assert!(fold(entry).is_ascii(), "{entry} folds to {}", fold(entry));
        }
    }

    #[test]
    fn terms_are_folded_runs_of_letters_and_digits() {
        assert_eq!(terms("Núñez García"), vec!["nunez", "garcia"]);
        assert_eq!(terms("O'Brien"), vec!["o", "brien"]);
        assert_eq!(
            terms("Müller & Söhne GmbH"),
            vec!["muller", "sohne", "gmbh"]
        );
        assert_eq!(terms("  "), Vec::<String>::new());
    }

    #[test]
    fn addresses_are_made_from_the_name_in_ascii() {
        let contact = Contact {
            first: pool_index(FIRST_NAMES.iter().position(|n| *n == "José").unwrap()),
            last: pool_index(
                LAST_NAMES
                    .iter()
                    .position(|n| *n == "Núñez García")
                    .unwrap(),
            ),
            company: Some(0),
            title: None,
            location: Some(pool_index(
                LOCATIONS.iter().position(|l| l.starts_with("São")).unwrap(),
            )),
            email: Some(Email::Numbered {
                domain: 0,
                number: 42,
            }),
            phone: Some(123),
            profile_url: false,
            connected_days: 0,
        };
        let at_work = Contact {
            email: Some(Email::AtWork),
            ..contact
        };

        assert_eq!(contact.full_name(), "José Núñez García");
        assert_eq!(contact.email().unwrap(), "josenunezgarcia42@gmail.com");
        assert_eq!(at_work.email().unwrap(), "jnunezgarcia@acme.com");
        assert_eq!(contact.city(), Some("São Paulo"));
        assert_eq!(contact.phone().unwrap(), "+447700000123");
        assert_eq!(contact.connected_on(), NaiveDate::from_ymd_opt(2010, 1, 1));
    }
}
