//! The harness keeps its promises: fresh, reachable, isolated servers that are
//! gone after the test.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use six_testkit::{RabbitMqApi, TestDatabase, TestVhost, wait_until};
use sqlx::{Connection as _, PgConnection};

const DEADLINE: Duration = Duration::from_secs(30);

async fn database_exists(name: &str) -> bool {
    let mut admin = PgConnection::connect(&six_testkit::database_admin_url())
        .await
        .unwrap();
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_test_database_is_empty_and_reachable_at_its_url() {
    // Arrange
    let database = TestDatabase::create().await;

    // Act
    let mut connection = PgConnection::connect(&database.url())
        .await
        .expect("the URL works");
    let (name, tables): (String, i64) = sqlx::query_as(
        "SELECT current_database()::text, (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();

    // Assert
    assert_eq!(name, database.name());
    assert!(name.starts_with("test_"), "{name}");
    assert_eq!(tables, 0);
}

#[tokio::test]
async fn a_test_database_is_dropped_with_its_open_connections_after_the_test() {
    // Arrange
    let database = TestDatabase::create().await;
    let name = database.name().to_owned();
    let _open = database.pool().acquire().await.unwrap();

    // Act
    drop(database);

    // Assert
    wait_until(DEADLINE, &format!("database {name} is dropped"), || async {
        !database_exists(&name).await
    })
    .await;
}

#[tokio::test]
async fn a_test_vhost_takes_amqp_connections_and_is_deleted_after_the_test() {
    // Arrange
    let vhost = TestVhost::create().await;
    let name = vhost.name().to_owned();

    // Act
    let connection = Connection::connect(&vhost.amqp_url(), ConnectionProperties::default())
        .await
        .expect("the AMQP URL works");
    let channel = connection.create_channel().await.unwrap();
    channel
        .queue_declare(
            "harness".into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("the user may declare queues");
    let queues = vhost.queues().await;
    drop(vhost);

    // Assert
    assert_eq!(
        queues
            .iter()
            .map(|queue| queue.name.as_str())
            .collect::<Vec<_>>(),
        ["harness"]
    );
    assert!(
        !RabbitMqApi::from_env().vhosts().await.contains(&name),
        "vhost {name} is still there"
    );
}
