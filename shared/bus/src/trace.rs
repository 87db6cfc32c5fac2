//! W3C trace context and correlation id carried from an HTTP request or a consumed
//! event into the events published while handling it.

use std::fmt;

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// The trace and correlation of the work the current task is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    sampled: bool,
    /// Identifies the whole chain of work (request id, or the first event's id).
    pub correlation_id: String,
}

impl TraceContext {
    /// A new trace, with `correlation_id` naming the chain of work it starts.
    pub fn new_root(correlation_id: impl Into<String>) -> Self {
        let mut trace_id = [0u8; 16];
        fastrand::fill(&mut trace_id);
        trace_id[0] |= 1; // an all-zero trace id is invalid
        Self {
            trace_id,
            span_id: random_span_id(),
            sampled: true,
            correlation_id: correlation_id.into(),
        }
    }

    /// Continues the trace of a `traceparent` header value with a new span, or starts a
    /// new trace when the value is missing or malformed.
    pub fn continue_from(traceparent: Option<&str>, correlation_id: impl Into<String>) -> Self {
        let correlation_id = correlation_id.into();
        match traceparent.and_then(parse_traceparent) {
            Some((trace_id, sampled)) => Self {
                trace_id,
                span_id: random_span_id(),
                sampled,
                correlation_id,
            },
            None => Self::new_root(correlation_id),
        }
    }

    /// The `traceparent` value naming this context's span as the parent.
    pub fn traceparent(&self) -> String {
        self.to_string()
    }

    /// The trace id as 32 lowercase hex digits, for log fields.
    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// Runs `future` with this context as the current one.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    /// The context of the current task, if it runs inside [`TraceContext::scope`].
    pub fn current() -> Option<TraceContext> {
        CURRENT.try_with(Clone::clone).ok()
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = if self.sampled { "01" } else { "00" };
        write!(
            f,
            "00-{}-{}-{flags}",
            hex(&self.trace_id),
            hex(&self.span_id)
        )
    }
}

fn random_span_id() -> [u8; 8] {
    let mut span_id = [0u8; 8];
    fastrand::fill(&mut span_id);
    span_id[0] |= 1;
    span_id
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses `version-traceid-parentid-flags` (version `00`, lowercase hex) into the
/// trace id and the sampled flag; anything malformed or all-zero gives `None`.
fn parse_traceparent(value: &str) -> Option<([u8; 16], bool)> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00"
        || parts.next().is_some()
        || trace.len() != 32
        || parent.len() != 16
        || flags.len() != 2
    {
        return None;
    }
    let trace_id: [u8; 16] = decode_hex(trace)?.try_into().ok()?;
    let parent_id = decode_hex(parent)?;
    let flags = decode_hex(flags)?;
    if trace_id.iter().all(|b| *b == 0) || parent_id.iter().all(|b| *b == 0) {
        return None;
    }
    Some((trace_id, flags[0] & 1 == 1))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuing_a_valid_traceparent_keeps_the_trace_id_and_makes_a_new_span() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = TraceContext::continue_from(Some(incoming), "req-1");
        assert_eq!(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(
            context
                .traceparent()
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
        assert_ne!(context.traceparent(), incoming);
        assert!(context.traceparent().ends_with("-01"));
    }

    #[test]
    fn malformed_traceparents_start_a_new_trace() {
        for bad in [
            "",
            "garbage",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            let context = TraceContext::continue_from(Some(bad), "req");
            assert_ne!(
                context.trace_id(),
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "{bad}"
            );
            assert!(parse_traceparent(&context.traceparent()).is_some(), "{bad}");
        }
    }

    #[test]
    fn generated_traceparents_parse_back() {
        let context = TraceContext::new_root("c");
        let (trace_id, sampled) = parse_traceparent(&context.traceparent()).unwrap();
        assert_eq!(trace_id, context.trace_id);
        assert!(sampled);
    }

    #[tokio::test]
    async fn the_current_context_is_visible_inside_its_scope_only() {
        let context = TraceContext::new_root("corr");
        let seen = context
            .clone()
            .scope(async { TraceContext::current() })
            .await;
        assert_eq!(seen, Some(context));
        assert_eq!(TraceContext::current(), None);
    }
}
