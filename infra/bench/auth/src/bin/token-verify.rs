//! Verifications per second on one core: `six_kit::auth::TokenVerifier` with a warm
//! key cache over distinct pre-minted tokens, each seen for the first time (its
//! cache of verified tokens off) and seen before (every token in that cache), next
//! to `jsonwebtoken::decode` and the bare signature checks. Needs no server.
//! `--help` lists the settings.

use std::process::ExitCode;

use anyhow::Context;
use six_bench_auth::{
    phases, report,
    settings::{self, Settings},
    tokens,
};
use six_bench_support::cli;
use six_kit::{auth::TokenVerifier, testing::TestIssuer};

fn main() -> ExitCode {
    let settings = match cli::settings("token-verify", Settings::parse, settings::usage) {
        Ok(settings) => settings,
        Err(exit) => return exit,
    };
    // One thread: the timed loops, the issuer serving the key set once, and the
    // verifier's idle refresh task all share it, so every figure is one core's.
    cli::run(
        "token-verify",
        tokio::runtime::Builder::new_current_thread(),
        run(settings),
    )
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let issuer = TestIssuer::start().await;
    let mut first_sight = issuer.auth_config();
    first_sight.verified_token_cache_entries = 0;
    let first_sight = TokenVerifier::start(first_sight)
        .await
        .context("start the verifier without a cache of verified tokens")?;
    let mut seen_before = issuer.auth_config();
    seen_before.verified_token_cache_entries = settings.tokens;
    let seen_before = TokenVerifier::start(seen_before)
        .await
        .context("start the verifier with a cache of every token")?;
    let issuer_tokens = tokens::issuer_tokens(&issuer, settings.tokens);
    let local = tokens::local_tokens(&issuer, settings.tokens).context("mint local tokens")?;
    anyhow::ensure!(
        issuer.jwks_fetches() == 2,
        "the verifiers did not fetch the key set at start"
    );

    report::header(&settings, issuer_tokens.first().map_or(0, String::len));
    let floor = phases::signature_floor(&local, settings.rounds).context("signature floor")?;
    report::phase("ed25519-dalek verify (key decoded once)", &floor);
    let decode =
        phases::jsonwebtoken_decode(&local, issuer.issuer(), issuer.audience(), settings.rounds)
            .context("jsonwebtoken::decode")?;
    report::phase("jsonwebtoken::decode + validation", &decode);
    let verify = phases::token_verifier(&first_sight, &issuer_tokens, settings.rounds, false)
        .await
        .context("TokenVerifier::verify, first sight")?;
    report::phase("TokenVerifier::verify, first sight", &verify);
    let repeat = phases::token_verifier(&seen_before, &issuer_tokens, settings.rounds, true)
        .await
        .context("TokenVerifier::verify, seen before")?;
    report::phase("TokenVerifier::verify, seen before", &repeat);
    anyhow::ensure!(
        issuer.jwks_fetches() == 2,
        "the key set was fetched while timing: the key cache was not warm"
    );
    report::summary(&verify, &repeat, &floor);
    Ok(())
}
