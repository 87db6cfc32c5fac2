//! Projections kept between runs (`--keep-projection`, `--from-projection`): the
//! projection of the full network takes minutes, the path queries one; a kept copy
//! lets the queries be measured again, against a changed graph binary, without
//! projecting again. A copy is a database of its own on the local stack, labelled
//! with the network it holds ([`Settings::network_label`](crate::settings::Settings::network_label)),
//! and stays until dropped by hand (`DROP DATABASE <name>`).

use anyhow::{Context, bail};
use six_testkit::TestDatabase;
use sqlx::PgConnection;

/// The label of database `name`, `None` when there is no such database.
async fn label_of(admin: &mut PgConnection, name: &str) -> anyhow::Result<Option<String>> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
    )
    .bind(name)
    .fetch_optional(&mut *admin)
    .await
    .with_context(|| format!("look for database {name}"))?;
    Ok(row.map(|(label,)| label.unwrap_or_default()))
}

/// Checked before the run, so that a long projection is not lost at the end: the
/// name must be free.
pub async fn check_free(admin: &mut PgConnection, name: &str) -> anyhow::Result<()> {
    if label_of(admin, name).await?.is_some() {
        bail!(
            "--keep-projection {name}: a database of that name exists; drop it \
             (DROP DATABASE \"{name}\") or choose another name"
        );
    }
    Ok(())
}

/// The kept projection `name` must exist and hold the network these settings make.
pub async fn check_matches(
    admin: &mut PgConnection,
    name: &str,
    label: &str,
) -> anyhow::Result<()> {
    match label_of(admin, name).await? {
        None => bail!(
            "--from-projection {name}: no such database; make one with --keep-projection {name}"
        ),
        Some(kept) if kept != label => bail!(
            "--from-projection {name} holds another network:\n  kept:  {kept}\n  asked: {label}\n\
             run with the kept settings, or keep a projection of these"
        ),
        Some(_) => Ok(()),
    }
}

/// Copies `database` (which nothing may use any more: its pool is closed here) to
/// `name`, labelled `label`.
pub async fn keep(
    admin: &mut PgConnection,
    database: &TestDatabase,
    name: &str,
    label: &str,
) -> anyhow::Result<()> {
    database.pool().close().await;
    let quoted = name.replace('"', "\"\"");
    let statement = format!(
        r#"CREATE DATABASE "{quoted}" TEMPLATE "{}""#,
        database.name()
    );
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&mut *admin)
        .await
        .with_context(|| format!("copy the projected database to {name}"))?;
    let statement = format!(
        r#"COMMENT ON DATABASE "{quoted}" IS '{}'"#,
        label.replace('\'', "''")
    );
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&mut *admin)
        .await
        .with_context(|| format!("label database {name}"))?;
    Ok(())
}
