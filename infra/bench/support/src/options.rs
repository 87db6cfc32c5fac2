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

/// Reads a `--phases` value: names out of `known`, comma-separated, or `all`;
/// one flag per known phase, in `known`'s order. An unknown name is refused with
/// the names known; whether none at all may be given is the benchmark's call.
pub fn phase_flags<const N: usize>(value: &str, known: [&str; N]) -> Result<[bool; N], String> {
    let mut flags = [false; N];
    for name in value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if name == "all" {
            flags = [true; N];
            continue;
        }
        match known.iter().position(|phase| *phase == name) {
            Some(index) => flags[index] = true,
            None => {
                return Err(format!(
                    "unknown phase `{name}` (expected {} or all)",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(flags)
}

/// The phases that are on, as `--phases` takes them: `login,refresh`.
pub fn phase_list<const N: usize>(flags: [bool; N], known: [&str; N]) -> String {
    known
        .into_iter()
        .zip(flags)
        .filter_map(|(name, on)| on.then_some(name))
        .collect::<Vec<_>>()
        .join(",")
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

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [&str; 3] = ["argon2", "login", "refresh"];

    #[test]
    fn phases_are_read_by_name_or_all_and_printed_back() {
        assert_eq!(
            phase_flags(" refresh,login ", KNOWN),
            Ok([false, true, true])
        );
        assert_eq!(phase_flags("all", KNOWN), Ok([true; 3]));
        assert_eq!(phase_flags(",", KNOWN), Ok([false; 3]));
        assert_eq!(phase_list([false, true, true], KNOWN), "login,refresh");
    }

    #[test]
    fn an_unknown_phase_is_refused_with_the_names_known() {
        assert_eq!(
            phase_flags("login,sms", KNOWN),
            Err("unknown phase `sms` (expected argon2, login, refresh or all)".to_owned())
        );
    }
}
