//! The running service: the hook listener and the delivery worker, wired
//! together from the settings, and their orderly stop.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::delivery::{self, Destination};
use crate::http::{self, HookState};
use crate::okta::AdminConsole;
use crate::slack::SlackClient;
use crate::store;

/// Most alerts the outbox holds before the hook answers 503.
const OUTBOX_CAPACITY: usize = 10_000;
/// How long the worker may take to finish after the listener stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

/// A bound, not yet running, service.
#[derive(Debug)]
pub struct Service {
    listener: TcpListener,
    router: axum::Router,
    worker: JoinHandle<()>,
}

impl Service {
    /// Binds the hook listener and starts the delivery worker.
    pub async fn start(settings: &Settings) -> anyhow::Result<Self> {
        let destination = destination(settings)?;
        let console = settings
            .okta
            .org_url
            .as_deref()
            .and_then(AdminConsole::from_org_url);

        let (outbox, receiver) = store::outbox(OUTBOX_CAPACITY);
        let state = HookState::new(settings, outbox)?;
        let router = http::router(&settings.server.hook_path, state);
        let listener = TcpListener::bind(settings.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
        let worker = tokio::spawn(delivery::run(receiver, destination, console));
        Ok(Self {
            listener,
            router,
            worker,
        })
    }

    /// The address the hook listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests and the
    /// worker finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let address = self.local_addr()?;
        tracing::info!(%address, "Listening for Okta event hooks.");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("the hook listener failed")?;

        tracing::info!("Stopped accepting deliveries; finishing queued alerts.");
        match tokio::time::timeout(DRAIN_TIMEOUT, self.worker).await {
            Ok(_) => tracing::info!("Stopped."),
            Err(_) => tracing::warn!("Stopped before every queued alert was sent."),
        }
        Ok(())
    }
}

fn destination(settings: &Settings) -> anyhow::Result<Destination> {
    let channel = settings.slack.channel.clone().unwrap_or_default();
    match &settings.slack.bot_token {
        Some(token) => {
            let client = SlackClient::new(&settings.slack.api_url, token.expose_secret().into())?;
            Ok(Destination::Slack { client, channel })
        }
        None => {
            tracing::warn!(
                "No slack.bot_token is set: alerts are printed to standard output, not sent."
            );
            Ok(Destination::Stdout { channel })
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("Received SIGINT; shutting down."),
        () = terminate => tracing::info!("Received SIGTERM; shutting down."),
    }
}
