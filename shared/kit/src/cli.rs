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
//! Exit codes: 0 success, 1 failure at run time, 2 bad usage or configuration.

use std::process::ExitCode;

use crate::{
    config::{CommonConfig, Env},
    db, memory,
    service::{self, Service},
    telemetry,
};

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Serve,
    Migrate,
    ParkedList { limit: usize },
    ParkedReplay { id: Option<String> },
    ParkedPurge,
    Help,
}

const USAGE: &str = "usage: <service> [serve | migrate | parked list [--limit N] | parked replay [--id ID] | parked purge | help]";

fn parse(args: &[String]) -> Result<Command, String> {
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
        _ => Err(format!("unknown command `{}`", words.join(" "))),
    }
}

/// Runs the service binary: parses the command line and the configuration, then
/// does what was asked. This is all a service's `main` calls.
pub fn main<S: Service>() -> ExitCode {
    memory::cap_malloc_arenas();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(command) => command,
        Err(error) => {
            eprintln!("{}: {error}\n{USAGE}", S::NAME);
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
    match runtime.block_on(execute::<S>(command, config, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "command failed");
            eprintln!("{}: {error}", S::NAME);
            ExitCode::FAILURE
        }
    }
}

async fn execute<S: Service>(
    command: Command,
    config: CommonConfig,
    settings: S::Settings,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match command {
        Command::Serve => {
            let running = service::start::<S>(config, settings).await?;
            let trigger = running.shutdown_trigger();
            tokio::spawn(async move {
                service::termination_signal().await;
                trigger.cancel();
            });
            running.wait().await;
        }
        Command::Migrate => {
            let pool = db::connect(&config.database).await?;
            db::migrate(&pool, S::migrator()).await?;
            pool.close().await;
        }
        Command::ParkedList { limit } => {
            let parked = six_bus::parking::list(&config.bus, limit).await?;
            for message in parked {
                println!("{}", serde_json::to_string(&message)?);
            }
        }
        Command::ParkedReplay { id } => {
            let replayed = six_bus::parking::replay(&config.bus, id.as_deref()).await?;
            println!("replayed {replayed} message(s)");
        }
        Command::ParkedPurge => {
            let purged = six_bus::parking::purge(&config.bus).await?;
            println!("purged {purged} message(s)");
        }
        Command::Help => println!("{USAGE}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn no_arguments_means_serve() {
        assert_eq!(parse(&args(&[])), Ok(Command::Serve));
    }

    #[test]
    fn parked_commands_take_their_options() {
        assert_eq!(
            parse(&args(&["parked", "list", "--limit", "5"])),
            Ok(Command::ParkedList { limit: 5 })
        );
        assert_eq!(
            parse(&args(&["parked", "replay", "--id", "abc"])),
            Ok(Command::ParkedReplay {
                id: Some("abc".into())
            })
        );
        assert_eq!(parse(&args(&["parked", "purge"])), Ok(Command::ParkedPurge));
    }

    #[test]
    fn unknown_commands_and_bad_numbers_are_refused() {
        assert!(parse(&args(&["serve", "now"])).is_err());
        assert!(parse(&args(&["parked", "list", "--limit", "many"])).is_err());
    }
}
