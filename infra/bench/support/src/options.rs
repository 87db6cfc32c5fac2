//! Command-line options of a benchmark: `--flag value` (or `--flag=value`), else
//! the `BENCH_*` variable of the same name, else the benchmark's default. Each
//! benchmark lists its options as [`OptionSpec`]s and reads them with [`Options`];
//! its tests build command lines and read the outcome with [`testing`].

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
            if matches!(word.as_str(), "-h" | "--help" | "help") {
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

/// For the benchmarks' tests of their settings.
pub mod testing {
    use std::fmt::Debug;

    use super::Request;

    /// `words` as the arguments of a command line (without the program name).
    pub fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    /// The settings a parse asks to run with; panics (failing the test) on an
    /// error or a request for help.
    pub fn run<S: Debug>(request: Result<Request<S>, String>) -> S {
        match request {
            Ok(Request::Run(settings)) => settings,
            other => panic!("expected settings, got {other:?}"),
        }
    }
}
