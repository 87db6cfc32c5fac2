//! The service's own account of a phase, from its `/metrics` (Prometheus text, as
//! `six-kit` renders it) read before and after: how many consumer transactions
//! (each one index commit) the projection took, how many events each held and how
//! long each took; and how long the service itself spent per search.

use anyhow::Context;

/// One reading of `/metrics`: every sample, by name and labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Scrape {
    /// Reads `GET <url>`.
    pub async fn read(client: &reqwest::Client, url: &str) -> anyhow::Result<Self> {
        let text = client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("GET {url}"))?
            .text()
            .await
            .context("read the metrics")?;
        Ok(Self::parse(&text))
    }

    /// The samples of a text in Prometheus's exposition format (comments and lines
    /// it cannot read are skipped).
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(parse_sample)
            .collect();
        Self { samples }
    }

    /// The sum of the samples named `name` that carry every label of `labels`
    /// (0 when there is none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|sample| sample.name == name)
            .filter(|sample| {
                labels.iter().all(|(key, value)| {
                    sample
                        .labels
                        .iter()
                        .any(|(have_key, have_value)| have_key == key && have_value == value)
                })
            })
            .map(|sample| sample.value)
            .sum()
    }
}

/// `name{key="value",...} value` or `name value`.
fn parse_sample(line: &str) -> Option<Sample> {
    let line = line.trim();
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, Vec::new()),
        Some((name, rest)) => {
            let inside = rest.strip_suffix('}')?;
            let labels = inside
                .split(',')
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key.to_owned(), value.trim_matches('"').to_owned()))
                })
                .collect();
            (name, labels)
        }
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// What the consumer did between two scrapes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Consumer {
    /// Consumer transactions (batches of deliveries), each ending with one index
    /// commit.
    pub transactions: f64,
    /// Deliveries in them.
    pub deliveries: f64,
    /// Seconds spent in handler transactions, all together (they overlap).
    pub handler_seconds: f64,
    /// Handler transactions timed (a batch that failed and was applied one event at
    /// a time counts once per attempt).
    pub handler_runs: f64,
}

impl Consumer {
    /// Between `before` and `after`.
    pub fn between(before: &Scrape, after: &Scrape) -> Self {
        let delta = |name: &str| after.sum(name, &[]) - before.sum(name, &[]);
        Self {
            transactions: delta("bus_consumer_batch_size_count"),
            deliveries: delta("bus_consumer_batch_size_sum"),
            handler_seconds: delta("bus_handler_duration_seconds_sum"),
            handler_runs: delta("bus_handler_duration_seconds_count"),
        }
    }

    /// Mean deliveries per transaction.
    pub fn mean_batch(&self) -> f64 {
        if self.transactions > 0.0 {
            self.deliveries / self.transactions
        } else {
            0.0
        }
    }

    /// Mean time of one handler transaction, in seconds.
    pub fn mean_handler_seconds(&self) -> f64 {
        if self.handler_runs > 0.0 {
            self.handler_seconds / self.handler_runs
        } else {
            0.0
        }
    }
}

/// The searches the service answered between two scrapes, by its own clock.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Searches {
    /// Requests to `/v1/search` answered.
    pub requests: f64,
    /// Their time in the service, all together, in seconds.
    pub seconds: f64,
}

/// The route label of the search endpoint.
const SEARCH_ROUTE: (&str, &str) = ("route", "/v1/search");

impl Searches {
    /// Between `before` and `after`.
    pub fn between(before: &Scrape, after: &Scrape) -> Self {
        let delta =
            |name: &str| after.sum(name, &[SEARCH_ROUTE]) - before.sum(name, &[SEARCH_ROUTE]);
        Self {
            requests: delta("http_request_duration_seconds_count"),
            seconds: delta("http_request_duration_seconds_sum"),
        }
    }

    /// Mean time in the service per search, in seconds.
    pub fn mean_seconds(&self) -> f64 {
        if self.requests > 0.0 {
            self.seconds / self.requests
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# TYPE bus_consumer_batch_size histogram
bus_consumer_batch_size_bucket{le=\"1\"} 3
bus_consumer_batch_size_sum 120
bus_consumer_batch_size_count 10
bus_handler_duration_seconds_sum 2.5
bus_handler_duration_seconds_count 10
http_request_duration_seconds_sum{method=\"GET\",route=\"/v1/search\",status=\"200\"} 1.5
http_request_duration_seconds_count{method=\"GET\",route=\"/v1/search\",status=\"200\"} 300
http_request_duration_seconds_sum{method=\"GET\",route=\"/v1/search\",status=\"422\"} 0.5
http_request_duration_seconds_count{method=\"GET\",route=\"/v1/search\",status=\"422\"} 100
http_request_duration_seconds_count{method=\"GET\",route=\"/readyz\",status=\"200\"} 7
";

    #[test]
    fn samples_are_summed_over_the_series_with_the_asked_labels() {
        let scrape = Scrape::parse(TEXT);

        assert_eq!(scrape.sum("bus_consumer_batch_size_sum", &[]), 120.0);
        assert_eq!(
            scrape.sum("http_request_duration_seconds_count", &[SEARCH_ROUTE]),
            400.0
        );
        assert_eq!(
            scrape.sum("http_request_duration_seconds_count", &[]),
            407.0
        );
        assert_eq!(scrape.sum("missing", &[]), 0.0);
    }

    #[test]
    fn a_phase_is_the_difference_of_two_scrapes() {
        let before = Scrape::default();
        let after = Scrape::parse(TEXT);

        let consumer = Consumer::between(&before, &after);
        let searches = Searches::between(&before, &after);

        assert_eq!(consumer.mean_batch(), 12.0);
        assert_eq!(consumer.mean_handler_seconds(), 0.25);
        assert_eq!(searches.requests, 400.0);
        assert_eq!(searches.mean_seconds(), 0.005);
    }
}
