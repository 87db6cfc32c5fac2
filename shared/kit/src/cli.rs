//! The command line every service binary gets:
//!
//! ```text
//! <service> [serve]                    run the service (default)
//! <service> migrate                    apply migrations and exit (for a Kubernetes Job)
//! <service> parked list [--limit N]    show parked messages (default 20)
//! <service> parked replay [--id ID]    send parked messages back to the service queue
//! <service> parked purge               delete every parked message
//! ```
//!
//! and the service's own commands ([`Service::commands`], [`OwnCommand`]).
//!
//! Exit codes: 0 success, 1 failure at run time, 2 bad usage or configuration.

use std::{error::Error, pin::Pin, process::ExitCode};

use crate::{
    config::{CommonConfig, Env},
    db, memory,
    service::{self, Service},
    telemetry,
};

/// A command of a service's own, next to the kit's: `<service> <name> [words]`.
pub struct OwnCommand<Settings> {
    /// The word that names it, e.g. `reindex`.
    pub name: &'static str,
    /// What follows the binary's name, for `help`, e.g. `reindex [--url URL]`.
    pub usage: &'static str,
    /// Runs it with the words after its name, once the configuration was read.
    pub run: fn(Vec<String>, CommonConfig, Settings) -> CommandFuture,
}

/// What [`OwnCommand::run`] returns.
pub type CommandFuture = Pin<Box<dyn Future<Output = Result<(), CommandError>> + Send>>;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Its words were wrong (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// It failed while running (exit code 1).
    #[error(transparent)]
    Failed(#[from] Box<dyn Error + Send + Sync>),
}

impl CommandError {
    /// A run-time failure, from any error (for `map_err`).
    pub fn failed(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::Failed(error.into())
    }
}

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Serve,
    Migrate,
    ParkedList {
        limit: usize,
    },
    ParkedReplay {
        id: Option<String>,
    },
    ParkedPurge,
    /// The service's own command `name`, with the words after it.
    Own {
        name: String,
        args: Vec<String>,
    },
    Help,
}

const KIT_USAGE: &str =
    "serve | migrate | parked list [--limit N] | parked replay [--id ID] | parked purge | help";

/// The usage line, with the usage of the service's own commands.
fn usage(own_usages: &[&str]) -> String {
    let mut usage = format!("usage: <service> [{KIT_USAGE}");
    for own_usage in own_usages {
        usage.push_str(" | ");
        usage.push_str(own_usage);
    }
    usage.push(']');
    usage
}

/// Parses `args`; `own` names the service's own commands.
fn parse(args: &[String], own: &[&str]) -> Result<Command, String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["serve"] => Ok(Command::Serve),
        ["migrate"] => Ok(Command::Migrate),
        ["parked", "list"] => Ok(Command::ParkedList { limit: 20 }),
        ["parked", "list", "--limit", n] => n
            .parse()
            .map(|limit| Command::ParkedList { limit })
            .map_err(|_| format!("--limit expects a number, got `{n}`")),
        ["parked", "replay"] => Ok(Command::ParkedReplay { id: None }),
        ["parked", "replay", "--id", id] => Ok(Command::ParkedReplay {
            id: Some((*id).to_owned()),
        }),
        ["parked", "purge"] => Ok(Command::ParkedPurge),
        ["help" | "--help" | "-h"] => Ok(Command::Help),
        [name, rest @ ..] if own.contains(name) => Ok(Command::Own {
            name: (*name).to_owned(),
            args: rest.iter().map(|word| (*word).to_owned()).collect(),
        }),
        _ => Err(format!("unknown command `{}`", words.join(" "))),
    }
}

/// Runs the service binary: parses the command line and the configuration, then
/// does what was asked. This is all a service's `main` calls.
pub fn main<S: Service>() -> ExitCode {
    memory::configure_allocator();
    let own = S::commands();
    let own_usage: Vec<&str> = own.iter().map(|command| command.usage).collect();
    let own_names: Vec<&str> = own.iter().map(|command| command.name).collect();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args, &own_names) {
        Ok(Command::Help) => {
            println!("{}", usage(&own_usage));
            return ExitCode::SUCCESS;
        }
        Ok(command) => command,
        Err(error) => {
            eprintln!("{}: {error}\n{}", S::NAME, usage(&own_usage));
            return ExitCode::from(2);
        }
    };
    let configs = Env::from_process()
        .and_then(|env| Ok((service::common_config::<S>(&env)?, S::settings(&env)?)));
    let (config, settings) = match configs {
        Ok(configs) => configs,
        Err(error) => {
            eprintln!("{}: configuration error: {error}", S::NAME);
            return ExitCode::from(2);
        }
    };
    let log_output = match command {
        Command::Serve => telemetry::LogOutput::Stdout,
        _ => telemetry::LogOutput::Stderr,
    };
    telemetry::init(&config.telemetry, log_output);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{}: cannot start the async runtime: {error}", S::NAME);
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute::<S>(command, own, config, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CommandError::Usage(error)) => {
            eprintln!("{}: {error}\n{}", S::NAME, usage(&own_usage));
            ExitCode::from(2)
        }
        Err(CommandError::Failed(error)) => {
            tracing::error!(error = %error, "command failed");
            eprintln!("{}: {error}", S::NAME);
            ExitCode::FAILURE
        }
    }
}

async fn execute<S: Service>(
    command: Command,
    own: Vec<OwnCommand<S::Settings>>,
    config: CommonConfig,
    settings: S::Settings,
) -> Result<(), CommandError> {
    match command {
        Command::Serve => {
            let running = service::start::<S>(config, settings)
                .await
                .map_err(CommandError::failed)?;
            let trigger = running.shutdown_trigger();
            tokio::spawn(async move {
                service::termination_signal().await;
                trigger.cancel();
            });
            running.wait().await;
        }
        Command::Migrate => {
            let pool = db::connect(&config.database, S::DATABASE_SESSION)
                .await
                .map_err(CommandError::failed)?;
            db::migrate(&pool, S::migrator())
                .await
                .map_err(CommandError::failed)?;
            pool.close().await;
        }
        Command::ParkedList { limit } => {
            let parked = six_bus::parking::list(&config.bus, limit)
                .await
                .map_err(CommandError::failed)?;
            for message in parked {
                println!(
                    "{}",
                    serde_json::to_string(&message).map_err(CommandError::failed)?
                );
            }
        }
        Command::ParkedReplay { id } => {
            let replayed = six_bus::parking::replay(&config.bus, id.as_deref())
                .await
                .map_err(CommandError::failed)?;
            println!("replayed {replayed} message(s)");
        }
        Command::ParkedPurge => {
            let purged = six_bus::parking::purge(&config.bus)
                .await
                .map_err(CommandError::failed)?;
            println!("purged {purged} message(s)");
        }
        Command::Own { name, args } => {
            let command = own
                .into_iter()
                .find(|command| command.name == name)
                .expect("parse only accepts the service's own command names");
            (command.run)(args, config, settings).await?;
        }
        Command::Help => unreachable!("help is answered before the configuration is read"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    fn parse_kit(args: &[String]) -> Result<Command, String> {
        parse(args, &[])
    }

    #[test]
    fn a_service_s_own_command_takes_the_words_after_its_name() {
        assert_eq!(
            parse(&args(&["reindex", "--url", "http://search"]), &["reindex"]),
            Ok(Command::Own {
                name: "reindex".into(),
                args: args(&["--url", "http://search"])
            })
        );
        assert!(parse(&args(&["reindex"]), &[]).is_err());
        assert_eq!(
            usage(&["reindex [--url URL]"]),
            format!("usage: <service> [{KIT_USAGE} | reindex [--url URL]]")
        );
    }

    #[test]
    fn no_arguments_means_serve() {
        assert_eq!(parse_kit(&args(&[])), Ok(Command::Serve));
    }

    #[test]
    fn parked_commands_take_their_options() {
        assert_eq!(
            parse_kit(&args(&["parked", "list", "--limit", "5"])),
            Ok(Command::ParkedList { limit: 5 })
        );
        assert_eq!(
            parse_kit(&args(&["parked", "replay", "--id", "abc"])),
            Ok(Command::ParkedReplay {
                id: Some("abc".into())
            })
        );
        assert_eq!(
            parse_kit(&args(&["parked", "purge"])),
            Ok(Command::ParkedPurge)
        );
    }

    #[test]
    fn unknown_commands_and_bad_numbers_are_refused() {
        assert!(parse_kit(&args(&["serve", "now"])).is_err());
        assert!(parse_kit(&args(&["parked", "list", "--limit", "many"])).is_err());
    }
}
