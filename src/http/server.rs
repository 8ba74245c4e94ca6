//! Serving HTTP/1.1 on a [`GuardedListener`], with a deadline for headers.
//!
//! `axum::serve` gives hyper no timer, so hyper's header read timeout is off
//! there: a client that sends its headers a byte at a time, each byte just
//! inside the listener's read timeout, could hold a connection for ever.
//! Here each connection gets hyper's HTTP/1.1 server with a timer, so the
//! headers of a request must all arrive within the header timeout, or the
//! connection is closed. The body is bounded by the router's request timeout.
//! Only HTTP/1.1 is served: Okta and the probes speak nothing else.

use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;

use super::GuardedListener;

/// Serves `router` until `shutdown` completes; then stops accepting, lets
/// each connection finish the request it is on, and returns once every
/// connection is closed.
pub async fn serve(
    mut listener: GuardedListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let stop_requested = async {
                // A dropped sender means the server is gone: stop as well.
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            let closed = tokio::select! {
                closed = connection.as_mut() => closed,
                () = stop_requested => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = closed {
                tracing::debug!(%error, "Closed a connection on an error.");
            }
        });
    }
    let _ = stop.send(true);
    listener.until_idle().await;
}
