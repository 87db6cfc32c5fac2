//! Errors of the bus, with enough context for an operator to act on.

/// A failed bus operation.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker refused an operation or the connection broke.
    #[error("broker operation `{operation}` failed: {source}")]
    Broker {
        /// What was being done, e.g. `declare queue`.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: lapin::Error,
    },
    /// The AMQP URL cannot be parsed.
    #[error("AMQP_URL is not a valid AMQP URL: {reason}")]
    InvalidUrl {
        /// What the parser refused.
        reason: String,
    },
    /// The broker did not answer within the operation timeout.
    #[error("broker operation `{operation}` got no answer within {timeout_ms} ms")]
    Timeout {
        /// What was being done.
        operation: &'static str,
        /// The deadline that passed.
        timeout_ms: u128,
    },
    /// The broker negatively acknowledged a publish (e.g. a full queue with `reject-publish`).
    #[error("broker refused to accept a message published for `{operation}`")]
    Nacked {
        /// What was being published.
        operation: &'static str,
    },
    /// A database statement of the outbox or inbox failed.
    #[error("database operation `{operation}` failed: {source}")]
    Database {
        /// What was being done.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The broker cancelled the consumer (e.g. its queue was deleted).
    #[error("the broker cancelled the consumer")]
    ConsumerCancelled,
    /// An event could not be serialised into its envelope.
    #[error("event could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

impl BusError {
    /// Adapter for `map_err` that names the broker operation.
    pub(crate) fn broker(operation: &'static str) -> impl FnOnce(lapin::Error) -> BusError {
        move |source| BusError::Broker { operation, source }
    }

    /// Adapter for `map_err` that names the database operation.
    pub(crate) fn database(operation: &'static str) -> impl FnOnce(sqlx::Error) -> BusError {
        move |source| BusError::Database { operation, source }
    }

    /// Whether the error means the broker connection or channel must be rebuilt.
    pub fn needs_reconnect(&self) -> bool {
        matches!(
            self,
            BusError::Broker { .. } | BusError::Timeout { .. } | BusError::ConsumerCancelled
        )
    }
}

/// Runs a broker operation with a deadline.
pub(crate) async fn with_timeout<T>(
    timeout: std::time::Duration,
    operation: &'static str,
    future: impl Future<Output = Result<T, lapin::Error>>,
) -> Result<T, BusError> {
    match tokio::time::timeout(timeout, future).await {
        Ok(result) => result.map_err(BusError::broker(operation)),
        Err(_) => Err(BusError::Timeout {
            operation,
            timeout_ms: timeout.as_millis(),
        }),
    }
}
