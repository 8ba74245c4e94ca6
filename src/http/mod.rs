//! HTTP: the public event-hook endpoint that Okta calls.
//!
//! `GET {hook_path}` answers Okta's one-time verification; `POST {hook_path}`
//! takes a delivery. Both check the shared secret first. A POST is answered
//! 200 as soon as its alerts are in the outbox; it never waits for Slack.

mod auth;
mod error;
mod hook;
mod listener;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::Store;

pub use auth::HookAuth;
pub use error::HookError;
pub use listener::GuardedListener;

/// Header Okta sets on its verification request.
pub const VERIFICATION_HEADER: &str = "x-okta-verification-challenge";

/// What the hook handlers share.
#[derive(Debug, Clone)]
pub struct HookState {
    inner: Arc<HookContext>,
}

#[derive(Debug)]
struct HookContext {
    auth: HookAuth,
    rules: crate::selection::Rules,
    max_body_bytes: usize,
    timing: crate::store::Timing,
    store: Store,
    metrics: Arc<Metrics>,
}

impl HookState {
    /// State for the hook described by `settings`, storing alerts in `store`.
    pub fn new(settings: &Settings, store: Store, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(HookContext {
                auth: HookAuth::new(&settings.okta.auth_header, &settings.okta.auth_secrets)?,
                rules: crate::selection::Rules::of(&settings.okta),
                max_body_bytes: settings.server.max_body_bytes,
                timing: crate::store::Timing::of(settings),
                store,
                metrics,
            }),
        })
    }
}

/// The public router: the hook at `hook_path`, with and without a trailing
/// slash; a request slower than `timeout`, body included, gets 408.
pub fn router(hook_path: &str, state: HookState, timeout: std::time::Duration) -> Router {
    let bare = hook_path.trim_end_matches('/');
    let bare = if bare.is_empty() { "/" } else { bare };
    let hook = get(hook::verify)
        .post(hook::receive)
        .fallback(hook::method_not_allowed);
    let mut router = Router::new().route(bare, hook.clone());
    if bare != "/" {
        router = router.route(&format!("{bare}/"), hook);
    }
    let router = router
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ));
    with_request_ids(router)
}

/// Gives every request an `x-request-id` (kept when the caller sent one),
/// returns it in the answer, and opens a `request` span carrying it, so that
/// every log line of a request names it.
pub fn with_request_ids(router: Router) -> Router {
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG))
                .make_span_with(|request: &axum::http::Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // Header values read as text and URI paths hold no control
                    // characters, so both can be logged as they are.
                    tracing::info_span!(
                        "request",
                        request_id = %id,
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_unusable_request_id))
}

/// Removes a caller's `x-request-id` that is long or holds anything but
/// letters, digits and `-_.:`, so that a fresh one is made instead: it is
/// logged on every line of the request and echoed in the answer.
async fn drop_unusable_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let usable = request.headers().get("x-request-id").is_none_or(|id| {
        (1..=64).contains(&id.len())
            && id
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    });
    if !usable {
        request.headers_mut().remove("x-request-id");
    }
    request
}
