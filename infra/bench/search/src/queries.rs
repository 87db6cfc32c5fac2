//! The searches: `GET /v1/search` with each viewer's real bearer token, each viewer
//! searching their own address book, from `concurrency` clients that each send
//! their next search as soon as the previous one is answered (a closed loop).
//!
//! The mix ([`plan`]) is drawn from the seed, a quarter of each [`Kind`]; every
//! search is made from one contact of the viewer's book (its source), as a user
//! looking for that person would type it:
//!
//! - **full name**: the name as the book has it, accents included (`José Núñez
//!   García`);
//! - **typo**: the name's terms typed without accents, one of them (of 3 letters or
//!   more) with one edit, or with one or two if it has 6 letters or more, within
//!   what the service forgives for the typed term's length ([`allowed_edits`]);
//! - **prefix**: the first 2–4 letters of the given or family name (`jo`, `garc`);
//! - **filtered**: `company=` alone, `location=` (the city) alone, or the given name
//!   with `company=`, a third each.
//!
//! Each answer is read whole; its total and whether the source is on the first page
//! are kept. [`check_owners`] asks, for every owner, how many of their contacts
//! work at one company, and compares with the books.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use bytes::Bytes;
use serde::Deserialize;
use six_bench_support::{
    cpu::{CpuUsage, ServiceProcess, Tracker},
    latency::Latencies,
};
use six_kit::testing::TestIssuer;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::{
    events::Ids,
    metrics::{Scrape, Searches},
    people::{AddressBooks, Contact, terms},
};

/// Deadline of one search.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the CPU counters are read.
const CPU_READ_EVERY: Duration = Duration::from_millis(100);

/// What a search is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    FullName,
    Typo,
    Prefix,
    Filtered,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 4] = [Kind::FullName, Kind::Typo, Kind::Prefix, Kind::Filtered];

    /// The kind's name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Kind::FullName => "full name",
            Kind::Typo => "typo",
            Kind::Prefix => "prefix",
            Kind::Filtered => "filtered",
        }
    }
}

/// One search: who asks, with what parameters, made from which contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The asking owner.
    pub viewer: usize,
    pub kind: Kind,
    /// Query parameters (`q`, `company`, `location`).
    pub params: Vec<(&'static str, String)>,
    /// The contact of the viewer's book it was made from.
    pub source: usize,
}

/// Edits the service forgives in a typed term of this many letters (`docs/search.md`,
/// "Terms and matching"): none up to 2, one up to 5, two from 6.
pub fn allowed_edits(term: &str) -> u8 {
    match term.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// `count` searches drawn from `seed`.
pub fn plan(books: &AddressBooks, count: usize, seed: u64) -> Vec<Planned> {
    let mut random = fastrand::Rng::with_seed(seed);
    (0..count)
        .map(|_| {
            let viewer = random.usize(0..books.owners());
            let kind = Kind::ALL[random.usize(0..Kind::ALL.len())];
            draw(books, viewer, kind, &mut random)
        })
        .collect()
}

/// One search of `kind` by `viewer`; a kind the drawn contact cannot make (a typo of
/// a name without a term of 3 letters, a filter without a company or location in the
/// whole book) falls back to the full name.
fn draw(books: &AddressBooks, viewer: usize, kind: Kind, random: &mut fastrand::Rng) -> Planned {
    let book = books.contacts(viewer);
    let mut source = random.usize(0..book.len());
    let contact = book[source];
    let name_terms = terms(&contact.full_name());
    let params = match kind {
        Kind::FullName => None,
        Kind::Typo => typo_query(&name_terms, random).map(|q| vec![("q", q)]),
        Kind::Prefix => prefix_query(&name_terms, random).map(|q| vec![("q", q)]),
        Kind::Filtered => {
            let variant = random.u8(0..3);
            let wanted = |contact: &Contact| match variant {
                1 => contact.city().is_some(),
                _ => contact.company().is_some(),
            };
            let candidates: Vec<usize> = (0..book.len()).filter(|i| wanted(&book[*i])).collect();
            (!candidates.is_empty()).then(|| {
                source = candidates[random.usize(0..candidates.len())];
                let contact = book[source];
                let company = contact.company().unwrap_or_default().to_owned();
                match variant {
                    0 => vec![("company", company)],
                    1 => vec![("location", contact.city().unwrap_or_default().to_owned())],
                    _ => vec![("q", contact.first_name().to_owned()), ("company", company)],
                }
            })
        }
    };
    match params {
        Some(params) => Planned {
            viewer,
            kind,
            params,
            source,
        },
        None => Planned {
            viewer,
            kind: Kind::FullName,
            params: vec![("q", book[source].full_name())],
            source,
        },
    }
}

/// The name's terms with one of those of 3 letters or more mistyped; `None` when
/// there is none.
fn typo_query(name_terms: &[String], random: &mut fastrand::Rng) -> Option<String> {
    let long: Vec<usize> = (0..name_terms.len())
        .filter(|i| name_terms[*i].len() >= 3)
        .collect();
    let chosen = *long.get(random.usize(0..long.len().max(1)))?;
    let mistyped = typo(&name_terms[chosen], random)?;
    let mut typed = name_terms.to_vec();
    typed[chosen] = mistyped;
    Some(typed.join(" "))
}

/// `term` (lowercase ASCII) with one edit, or one or two from 6 letters: a letter
/// replaced, dropped, added, or two neighbours swapped. The result differs from
/// `term` and is still forgiven its edits ([`allowed_edits`] of the result);
/// `None` for terms of 2 letters or less.
pub fn typo(term: &str, random: &mut fastrand::Rng) -> Option<String> {
    let edits = match term.chars().count() {
        0..=2 => return None,
        3..=5 => 1,
        _ => random.u8(1..=2),
    };
    for _ in 0..20 {
        let mut letters: Vec<char> = term.chars().collect();
        for _ in 0..edits {
            edit(&mut letters, random);
        }
        let typed: String = letters.into_iter().collect();
        let distance = edit_distance(term, &typed);
        if distance > 0 && distance <= usize::from(allowed_edits(&typed)) {
            return Some(typed);
        }
    }
    None
}

/// Edits between `a` and `b` as the service's fuzzy match counts them: insertions,
/// deletions, substitutions, and swaps of two neighbours that are not edited again
/// (the "optimal string alignment" distance; two edits can make a pair that only
/// the unrestricted distance counts as two, such as `ab` → `ba` → `bca`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0_usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

fn edit(letters: &mut Vec<char>, random: &mut fastrand::Rng) {
    let at = random.usize(0..letters.len());
    match random.u8(0..4) {
        0 => {
            let mut replacement = random.lowercase();
            while replacement == letters[at] {
                replacement = random.lowercase();
            }
            letters[at] = replacement;
        }
        1 if letters.len() > 1 => {
            letters.remove(at);
        }
        2 => letters.insert(at, random.lowercase()),
        _ if letters.len() > 1 => {
            let at = at.min(letters.len() - 2);
            letters.swap(at, at + 1);
        }
        _ => letters.insert(at, random.lowercase()),
    }
}

/// The first 2–4 letters of one of the name's terms of 2 letters or more.
fn prefix_query(name_terms: &[String], random: &mut fastrand::Rng) -> Option<String> {
    let usable: Vec<&String> = name_terms.iter().filter(|term| term.len() >= 2).collect();
    let term = usable.get(random.usize(0..usable.len().max(1)))?;
    let letters = random.usize(2..=4).min(term.len());
    Some(term.chars().take(letters).collect())
}

/// One timed search.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub kind: Kind,
    /// Send to the whole answer read.
    pub latency: Duration,
    /// The answer's total.
    pub total: u64,
    /// Whether the source contact is on the first page.
    pub found: bool,
}

/// What the search phase measured.
#[derive(Debug, Clone)]
pub struct QueryFigures {
    /// Clients at once.
    pub concurrency: usize,
    /// Searches sent before timing.
    pub warmup: usize,
    /// First timed send → last answer.
    pub elapsed: Duration,
    /// Every timed search.
    pub queries: Vec<Timed>,
    /// Where the CPU went while timing.
    pub cpu: CpuUsage,
    /// The service's own clock for the timed searches.
    pub in_service: Searches,
}

impl QueryFigures {
    /// Latencies of the searches `keep` selects.
    pub fn latencies(&self, keep: impl Fn(&Timed) -> bool) -> Latencies {
        Latencies::new(
            self.queries
                .iter()
                .filter(|timed| keep(timed))
                .map(|timed| timed.latency)
                .collect(),
        )
    }

    /// Searches per second.
    pub fn per_second(&self) -> f64 {
        self.queries.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// Of the searches of `kind`: how many, the mean total, and the share (in
    /// percent) with the source on the first page.
    pub fn answers(&self, kind: Kind) -> (usize, f64, f64) {
        let of_kind: Vec<&Timed> = self.queries.iter().filter(|t| t.kind == kind).collect();
        if of_kind.is_empty() {
            return (0, 0.0, 0.0);
        }
        let count = of_kind.len() as f64;
        let mean_total = of_kind.iter().map(|t| t.total as f64).sum::<f64>() / count;
        let found = of_kind.iter().filter(|t| t.found).count() as f64 * 100.0 / count;
        (of_kind.len(), mean_total, found)
    }
}

/// Where the searches go and with what tokens.
pub struct Target {
    client: reqwest::Client,
    url: String,
    /// A token per owner, minted before the clock starts.
    tokens: Vec<String>,
}

impl Target {
    /// Searches at `url` (`.../v1/search`) for the owners of `ids`, with tokens of
    /// `issuer`, from up to `concurrency` connections.
    pub fn new(
        url: String,
        books: &AddressBooks,
        ids: &Ids,
        issuer: &TestIssuer,
        concurrency: usize,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(QUERY_TIMEOUT)
                .pool_max_idle_per_host(concurrency)
                .build()?,
            url,
            tokens: (0..books.owners())
                .map(|owner| issuer.user_token(ids.owner(owner)))
                .collect(),
        })
    }

    /// The HTTP client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

#[derive(Deserialize)]
struct SearchBody {
    hits: Vec<HitBody>,
    total: TotalBody,
}

#[derive(Deserialize)]
struct HitBody {
    contact_id: Option<Uuid>,
}

#[derive(Deserialize)]
struct TotalBody {
    value: u64,
}

/// Sends `warmup` untimed searches, then `queries` timed ones, from `concurrency`
/// clients.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    target: &Arc<Target>,
    metrics_url: &str,
    service_pid: u32,
    books: &AddressBooks,
    ids: &Arc<Ids>,
    queries: usize,
    warmup: usize,
    concurrency: usize,
) -> anyhow::Result<QueryFigures> {
    let seed = books.shape().seed;
    let warmup_plan = plan(books, warmup, seed.wrapping_add(1));
    let timed_plan = plan(books, queries, seed.wrapping_add(2));
    load(target, ids, warmup_plan, concurrency)
        .await
        .context("warm-up searches")?;
    let before = Scrape::read(target.client(), metrics_url).await?;
    let cpu = Tracker::start_with_process(
        CPU_READ_EVERY,
        ServiceProcess {
            pid: service_pid,
            service: "search",
        },
    );
    let started = Instant::now();
    let timed = load(target, ids, timed_plan, concurrency).await?;
    let elapsed = started.elapsed();
    let cpu = cpu.finish();
    let after = Scrape::read(target.client(), metrics_url).await?;
    Ok(QueryFigures {
        concurrency,
        warmup,
        elapsed,
        queries: timed,
        cpu,
        in_service: Searches::between(&before, &after),
    })
}

/// Sends every planned search from `concurrency` clients, each taking the next as
/// soon as its previous search is answered; the first failure stops them all.
async fn load(
    target: &Arc<Target>,
    ids: &Arc<Ids>,
    planned: Vec<Planned>,
    concurrency: usize,
) -> anyhow::Result<Vec<Timed>> {
    let planned: Arc<[Planned]> = planned.into();
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = JoinSet::new();
    for _ in 0..concurrency.min(planned.len()) {
        let (target, ids, planned, next) = (
            Arc::clone(target),
            Arc::clone(ids),
            Arc::clone(&planned),
            Arc::clone(&next),
        );
        clients.spawn(async move {
            let mut timed = Vec::new();
            while let Some(search) = planned.get(next.fetch_add(1, Ordering::Relaxed)) {
                let sent = Instant::now();
                let body = ask(&target, search.viewer, &search.params)
                    .await
                    .with_context(|| {
                        format!("owner {} searching {:?}", search.viewer, search.params)
                    })?;
                let latency = sent.elapsed();
                let answer: SearchBody = serde_json::from_slice(&body).with_context(|| {
                    format!("not a search answer: {}", String::from_utf8_lossy(&body))
                })?;
                let source_id = ids.contact(search.viewer, search.source);
                timed.push(Timed {
                    kind: search.kind,
                    latency,
                    total: answer.total.value,
                    found: answer
                        .hits
                        .iter()
                        .any(|hit| hit.contact_id == Some(source_id)),
                });
            }
            anyhow::Ok(timed)
        });
    }
    let mut timed = Vec::with_capacity(planned.len());
    // Dropping `clients` on an error aborts the others.
    while let Some(finished) = clients.join_next().await {
        timed.extend(finished.context("a client panicked")??);
    }
    Ok(timed)
}

/// One search by `viewer`, its answer read whole; anything but 200 is an error.
async fn ask(
    target: &Target,
    viewer: usize,
    params: &[(&'static str, String)],
) -> anyhow::Result<Bytes> {
    let token = target
        .tokens
        .get(viewer)
        .context("no token was minted for the viewer")?;
    let response = target
        .client
        .get(&target.url)
        .query(params)
        .bearer_auth(token)
        .send()
        .await
        .context("send")?;
    let status = response.status();
    let body = response.bytes().await.context("read the answer")?;
    anyhow::ensure!(
        status == reqwest::StatusCode::OK,
        "answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(body)
}

/// What [`check_owners`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerCheck {
    /// Owners asked.
    pub owners: usize,
    /// Owners whose count differed from the books.
    pub mismatched: usize,
    /// Documents counted, all owners together.
    pub counted: u64,
    /// Documents expected, all owners together.
    pub expected: u64,
    /// Time it took.
    pub took: Duration,
}

/// The company filter that checks `owner`'s book, and how many of the book's
/// contacts it must count: the company of their first contact with one, and every
/// contact whose company has all its terms. `None` for a book without companies.
pub fn company_check(books: &AddressBooks, owner: usize) -> Option<(&'static str, u64)> {
    let book = books.contacts(owner);
    let company = book.iter().find_map(Contact::company)?;
    let wanted = terms(company);
    let expected = book
        .iter()
        .filter_map(Contact::company)
        .filter(|other| {
            let have = terms(other);
            wanted.iter().all(|term| have.contains(term))
        })
        .count();
    Some((company, expected as u64))
}

/// Asks, for every owner, `company=<X>&limit=1` for a company of their book, from
/// `concurrency` clients, and compares each total with the books: every owner's
/// contacts must be in the index and nobody else's may be counted.
pub async fn check_owners(
    target: &Arc<Target>,
    books: &Arc<AddressBooks>,
    concurrency: usize,
) -> anyhow::Result<OwnerCheck> {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = JoinSet::new();
    for _ in 0..concurrency.min(books.owners()) {
        let (target, books, next) = (Arc::clone(target), Arc::clone(books), Arc::clone(&next));
        clients.spawn(async move {
            let mut check = OwnerCheck::default();
            loop {
                let owner = next.fetch_add(1, Ordering::Relaxed);
                if owner >= books.owners() {
                    break;
                }
                let Some((company, expected)) = company_check(&books, owner) else {
                    continue;
                };
                let params = [("company", company.to_owned()), ("limit", "1".to_owned())];
                let body = ask(&target, owner, &params)
                    .await
                    .with_context(|| format!("owner {owner} counting `{company}`"))?;
                let answer: SearchBody =
                    serde_json::from_slice(&body).context("not a search answer")?;
                check.owners += 1;
                check.counted += answer.total.value;
                check.expected += expected;
                if answer.total.value != expected {
                    check.mismatched += 1;
                }
            }
            anyhow::Ok(check)
        });
    }
    let mut total = OwnerCheck::default();
    while let Some(finished) = clients.join_next().await {
        let check = finished.context("a client panicked")??;
        total.owners += check.owners;
        total.mismatched += check.mismatched;
        total.counted += check.counted;
        total.expected += check.expected;
    }
    total.took = started.elapsed();
    Ok(total)
}

/// Share of `part` in `whole`, in percent (0 when there is nothing).
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// How many searches of each kind a plan has.
pub fn kinds(planned: &[Planned]) -> HashMap<Kind, usize> {
    let mut counts = HashMap::new();
    for search in planned {
        *counts.entry(search.kind).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::Shape;

    fn books() -> AddressBooks {
        AddressBooks::generate(Shape {
            owners: 50,
            contacts_per_owner: 100,
            discoverable_percent: 20,
            seed: 9,
        })
    }

    #[test]
    fn edits_are_counted_with_neighbour_swaps_as_one() {
        assert_eq!(edit_distance("smith", "smith"), 0);
        assert_eq!(edit_distance("smith", "smiht"), 1);
        assert_eq!(edit_distance("smith", "smth"), 1);
        assert_eq!(edit_distance("smith", "snitch"), 2);
        assert_eq!(edit_distance("ab", "bca"), 3);
    }

    #[test]
    fn the_mix_has_a_quarter_of_each_kind() {
        let planned = plan(&books(), 4_000, 1);

        let counts = kinds(&planned);

        for kind in Kind::ALL {
            let share = percent(counts.get(&kind).copied().unwrap_or(0), planned.len());
            assert!((share - 25.0).abs() < 3.0, "{kind:?}: {share} %");
        }
    }

    #[test]
    fn every_search_is_made_from_the_viewer_s_own_contact() {
        let books = books();

        for search in plan(&books, 1_000, 2) {
            let contact = books.contacts(search.viewer)[search.source];
            let (name, value) = &search.params[0];
            match search.kind {
                Kind::FullName => assert_eq!(value, &contact.full_name()),
                Kind::Prefix => {
                    assert!((2..=4).contains(&value.len()), "{value}");
                    assert!(
                        terms(&contact.full_name())
                            .iter()
                            .any(|t| t.starts_with(value))
                    );
                }
                Kind::Typo => assert_eq!(*name, "q"),
                Kind::Filtered => {
                    let filter = search.params.iter().find(|(n, _)| *n != "q").unwrap();
                    match filter.0 {
                        "company" => assert_eq!(Some(filter.1.as_str()), contact.company()),
                        _ => assert_eq!(Some(filter.1.as_str()), contact.city()),
                    }
                }
            }
        }
    }

    #[test]
    fn a_typo_stays_within_what_the_service_forgives() {
        let mut random = fastrand::Rng::with_seed(3);

        for term in ["lea", "smith", "garcia", "lukasiewicz", "kim"] {
            for _ in 0..500 {
                let typed = typo(term, &mut random).expect("long enough");
                let edits = edit_distance(term, &typed);
                assert!(edits >= 1, "{term} → {typed}");
                assert!(
                    edits <= usize::from(allowed_edits(&typed)),
                    "{term} → {typed}"
                );
            }
        }
        assert_eq!(typo("li", &mut random), None);
    }

    #[test]
    fn typo_searches_mistype_exactly_one_term_of_the_name() {
        let books = books();

        let typos: Vec<Planned> = plan(&books, 2_000, 4)
            .into_iter()
            .filter(|search| search.kind == Kind::Typo)
            .collect();

        assert!(!typos.is_empty());
        for search in typos {
            let contact = books.contacts(search.viewer)[search.source];
            let name = terms(&contact.full_name());
            let typed: Vec<&str> = search.params[0].1.split(' ').collect();
            assert_eq!(typed.len(), name.len());
            let changed = name.iter().zip(&typed).filter(|(a, b)| a != *b).count();
            assert_eq!(changed, 1, "{name:?} → {typed:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_searches() {
        let books = books();

        assert_eq!(plan(&books, 200, 5), plan(&books, 200, 5));
        assert_ne!(plan(&books, 200, 5), plan(&books, 200, 6));
    }

    #[test]
    fn a_company_check_counts_every_contact_whose_company_has_its_terms() {
        let books = books();

        for owner in 0..books.owners() {
            let (company, expected) = company_check(&books, owner).expect("companies");
            let exact = books
                .contacts(owner)
                .iter()
                .filter(|contact| contact.company() == Some(company))
                .count() as u64;
            assert!(expected >= exact.max(1));
        }
    }
}
