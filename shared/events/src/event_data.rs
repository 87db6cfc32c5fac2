use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A typed event payload: the `data` of one event type of the catalog.
///
/// Implementing it is what makes a struct an event: [`Envelope::new`](crate::Envelope::new)
/// takes the envelope's `type`, `source` and `subject` from here.
pub trait EventData: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// The CloudEvents `type`, e.g. `auth.user.registered.v1`; also the routing key.
    /// Ends in `.vN`: a published version is never changed in place.
    const TYPE: &'static str;

    /// The CloudEvents `source`: the producing service, e.g. `/six-degrees/auth`.
    const SOURCE: &'static str;

    /// The CloudEvents `subject`: the id of the entity the event is about (a user, an
    /// import...). Events with the same subject are published in order.
    fn subject(&self) -> Option<String>;
}
