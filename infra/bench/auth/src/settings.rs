//! What the benchmark runs with: command-line options, else `BENCH_*` variables,
//! else the defaults.

use std::collections::HashMap;

/// The settings.
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

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Run with these settings.
    Run(Settings),
    /// Print the usage.
    Help,
}

/// The `--help` text.
pub fn usage() -> String {
    let defaults = Settings::default();
    format!(
        "usage: token-verify [--tokens N] [--rounds N]\n\
         \n\
         Verifications per second on one core (one thread, warm key cache).\n\
         \n\
         options (or the BENCH_* variable of the same name):\n  \
         --tokens N   distinct tokens verified per round (BENCH_TOKENS, default {})\n  \
         --rounds N   timed rounds per phase, median reported (BENCH_ROUNDS, default {})\n",
        defaults.tokens, defaults.rounds
    )
}

impl Settings {
    /// Reads `args` (without the program name) over the `BENCH_*` variables of `env`.
    pub fn parse(
        args: &[String],
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Request, String> {
        let env: HashMap<String, String> = env.into_iter().collect();
        let mut settings = Settings::default();
        if let Some(value) = env.get("BENCH_TOKENS") {
            settings.tokens = count("BENCH_TOKENS", value)?;
        }
        if let Some(value) = env.get("BENCH_ROUNDS") {
            settings.rounds = count("BENCH_ROUNDS", value)?;
        }
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            if name == "--help" || name == "-h" {
                return Ok(Request::Help);
            }
            let value = inline
                .or_else(|| args.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))?;
            match name {
                "--tokens" => settings.tokens = count(name, &value)?,
                "--rounds" => settings.rounds = count(name, &value)?,
                other => return Err(format!("unknown option `{other}`")),
            }
        }
        Ok(Request::Run(settings))
    }
}

fn count(name: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err(format!(
            "{name} must be a positive whole number, got `{value}`"
        )),
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
}
