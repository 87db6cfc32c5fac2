//! What a benchmark runs with: command-line options, else `BENCH_*` variables,
//! else the defaults. [`Options`] reads them for any benchmark of the crate from a
//! table of [`OptionSpec`]s; [`Settings`] are those of `token-verify`
//! (`session-load` has its own, in [`crate::session::settings`]).

use std::{collections::HashMap, fmt::Display, str::FromStr};

/// One option: its command-line flag, its variable, and what it means.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// `--name`.
    pub flag: &'static str,
    /// `BENCH_NAME`.
    pub variable: &'static str,
    /// One line for `--help`, default in parentheses.
    pub help: &'static str,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request<S> {
    /// Run with these settings.
    Run(S),
    /// Print the usage.
    Help,
}

/// The raw values given, by flag: variables first, options over them.
#[derive(Debug, Default)]
pub struct Options {
    values: HashMap<&'static str, String>,
}

impl Options {
    /// Reads `args` (without the program name) over the variables of `env` named in
    /// `specs`; `None` when help was asked for.
    pub fn read(
        specs: &[OptionSpec],
        args: &[String],
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Option<Self>, String> {
        let mut values = HashMap::new();
        for (name, value) in env {
            if let Some(spec) = specs.iter().find(|spec| spec.variable == name) {
                values.insert(spec.flag, value);
            }
        }
        let mut words = args.iter();
        while let Some(word) = words.next() {
            if matches!(word.as_str(), "-h" | "--help") {
                return Ok(None);
            }
            let (flag, inline) = match word.split_once('=') {
                Some((flag, value)) => (flag, Some(value.to_owned())),
                None => (word.as_str(), None),
            };
            let Some(spec) = specs.iter().find(|spec| spec.flag == flag) else {
                return Err(format!("unknown option `{flag}`"));
            };
            let value = match inline {
                Some(value) => value,
                None => words
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))?,
            };
            values.insert(spec.flag, value);
        }
        Ok(Some(Self { values }))
    }

    /// The value of `flag` parsed, or `None` when neither it nor its variable was given.
    pub fn get<T: FromStr>(&self, flag: &str) -> Result<Option<T>, String>
    where
        T::Err: Display,
    {
        self.values
            .get(flag)
            .map(|text| {
                text.trim()
                    .parse()
                    .map_err(|error| format!("{flag} `{text}`: {error}"))
            })
            .transpose()
    }

    /// The value of `flag` parsed, else `default`.
    pub fn get_or<T: FromStr>(&self, flag: &str, default: T) -> Result<T, String>
    where
        T::Err: Display,
    {
        Ok(self.get(flag)?.unwrap_or(default))
    }

    /// A whole number greater than zero, else `default`.
    pub fn count(&self, flag: &str, default: usize) -> Result<usize, String> {
        match self.values.get(flag) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(count) if count > 0 => Ok(count),
                _ => Err(format!(
                    "{flag} must be a positive whole number, got `{text}`"
                )),
            },
        }
    }
}

/// The `--help` text of `program`: `summary`, then one line per option.
pub fn usage_of(program: &str, summary: &str, specs: &[OptionSpec]) -> String {
    let mut text = format!(
        "usage: {program} [OPTION VALUE]...\n\n{summary}\n\n\
         options (or the BENCH_* variable of the same name; the option wins):\n"
    );
    for spec in specs {
        text.push_str(&format!(
            "  {:<24} {:<28} {}\n",
            spec.flag, spec.variable, spec.help
        ));
    }
    text
}

/// The settings of `token-verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Distinct tokens minted before timing; each round verifies all of them.
    pub tokens: usize,
    /// Timed rounds per phase (the median is reported).
    pub rounds: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tokens: 20_000,
            rounds: 5,
        }
    }
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        flag: "--tokens",
        variable: "BENCH_TOKENS",
        help: "distinct tokens verified per round (20000)",
    },
    OptionSpec {
        flag: "--rounds",
        variable: "BENCH_ROUNDS",
        help: "timed rounds per phase, median reported (5)",
    },
];

/// The `--help` text of `token-verify`.
pub fn usage() -> String {
    usage_of(
        "token-verify",
        "Verifications per second on one core (one thread, warm key cache).",
        OPTIONS,
    )
}

impl Settings {
    /// Reads `args` (without the program name) over the `BENCH_*` variables of `env`.
    pub fn parse(
        args: &[String],
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Request<Self>, String> {
        let Some(options) = Options::read(OPTIONS, args, env)? else {
            return Ok(Request::Help);
        };
        let defaults = Settings::default();
        Ok(Request::Run(Settings {
            tokens: options.count("--tokens", defaults.tokens)?,
            rounds: options.count("--rounds", defaults.rounds)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn options_override_variables_which_override_defaults() {
        let env = [
            ("BENCH_TOKENS".to_owned(), "10".to_owned()),
            ("BENCH_ROUNDS".to_owned(), "2".to_owned()),
        ];

        let parsed = Settings::parse(&args(&["--rounds=3"]), env).unwrap();

        assert_eq!(
            parsed,
            Request::Run(Settings {
                tokens: 10,
                rounds: 3
            })
        );
    }

    #[test]
    fn zero_tokens_is_refused() {
        assert!(Settings::parse(&args(&["--tokens", "0"]), []).is_err());
    }

    #[test]
    fn an_unknown_option_is_refused_and_help_wins_over_the_rest() {
        assert!(Settings::parse(&args(&["--token", "5"]), []).is_err());
        assert_eq!(
            Settings::parse(&args(&["--rounds", "2", "--help"]), []).unwrap(),
            Request::Help
        );
    }
}
