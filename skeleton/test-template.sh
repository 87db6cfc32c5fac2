#!/usr/bin/env bash
# Generates a service from this template into a temporary directory, then checks
# that it is formatted, lint-free, and that its tests pass. Needs the local stack
# (infra/local/stack up) and cargo-generate (installed here if missing).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/six-degrees/target}
cargo_generate_version=0.23.7

if ! cargo generate --version 2>/dev/null | grep -q "$cargo_generate_version"; then
  echo "installing cargo-generate $cargo_generate_version (newer releases need a newer rustc)" >&2
  cargo install --locked "cargo-generate@$cargo_generate_version"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo generate --path "$repo/skeleton" --name template-check --destination "$work" \
  --vcs none --silent --define shared_path="$repo/shared"
service="$work/template-check"

cd "$service"
# The template ships the lock file every service starts from; it must still be current.
cargo metadata --locked --format-version 1 >/dev/null
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
echo "skeleton: generated service builds, is clean, and passes its tests"
