//! Request ids: one per request, logged on each of its lines and returned in
//! `x-request-id`.
//!
//! A caller's own id is kept when it is short and plain. Fresh ids are a
//! prefix drawn once per process and a counter: unique across restarts for
//! all practical purposes, and made without a system call per request (a
//! random UUID per request costs one).

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header that carries the id, both ways.
pub const HEADER: &str = "x-request-id";

/// The longest caller id that is kept.
const MAX_CALLER_ID: usize = 64;

/// Makes `<process prefix>-<counter>` ids, such as `5f0c2a9be41d7730-17`.
#[derive(Debug, Clone)]
pub struct ProcessCounter {
    prefix: u64,
    next: Arc<AtomicU64>,
}

impl ProcessCounter {
    /// A counter with a prefix of its own, drawn from the randomly keyed
    /// hasher of the standard library.
    pub fn new() -> Self {
        Self {
            prefix: RandomState::new().hash_one(std::process::id()),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl Default for ProcessCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl MakeRequestId for ProcessCounter {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::try_from(format!("{:016x}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Removes a caller's id that is long or holds anything but letters, digits
/// and `-_.:`, so that a fresh one is made instead: the id is logged on every
/// line of the request and echoed in the answer.
pub fn drop_unusable<B>(mut request: Request<B>) -> Request<B> {
    let usable = request.headers().get(HEADER).is_none_or(|id| {
        (1..=MAX_CALLER_ID).contains(&id.len())
            && id
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    });
    if !usable {
        request.headers_mut().remove(HEADER);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(counter: &mut ProcessCounter) -> String {
        let request = Request::new(());
        let id = counter.make_request_id(&request).expect("an id");
        id.header_value().to_str().expect("ascii").to_owned()
    }

    #[test]
    fn fresh_ids_share_the_process_prefix_and_never_repeat() {
        let mut counter = ProcessCounter::new();
        let mut clone = counter.clone();
        let (a, b, c) = (fresh(&mut counter), fresh(&mut clone), fresh(&mut counter));
        assert_eq!(a.split('-').next(), c.split('-').next());
        assert!(a != b && b != c && a != c, "{a} {b} {c}");
        assert_ne!(
            a.split('-').next(),
            fresh(&mut ProcessCounter::new()).split('-').next(),
            "another process draws another prefix"
        );
    }

    #[test]
    fn only_short_plain_caller_ids_are_kept() {
        for (id, kept) in [
            ("okta-trace-42", true),
            ("a.b:c_d", true),
            ("a b", false),
            ("x".repeat(65).as_str(), false),
            ("", false),
        ] {
            let request = Request::builder()
                .header(HEADER, id)
                .body(())
                .expect("request");
            assert_eq!(
                drop_unusable(request).headers().contains_key(HEADER),
                kept,
                "{id:?}"
            );
        }
    }
}
