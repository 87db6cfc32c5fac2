//! The settings of `token-verify`, read with `six_bench_support::options`
//! (`session-load` has its own, in [`crate::session::settings`]).

use six_bench_support::options::{OptionSpec, Options, Request, usage_of};

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
    use six_bench_support::options::testing::args;

    use super::*;

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
