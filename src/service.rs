//! The running service: the hook listener, the delivery worker and the
//! System Log back-fill, wired together from the settings, and their orderly
//! stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::backfill::Backfill;
use crate::config::Settings;
use crate::delivery::{ChannelPacer, Destination, RetryPolicy, Worker};
use crate::http::{self, GuardedListener, HookState};
use crate::metrics::Metrics;
use crate::okta::{AdminConsole, OktaApi};
use crate::slack::SlackClient;
use crate::store::Store;

/// Most connections open at once on the admin listener.
const ADMIN_CONNECTIONS: usize = 64;

/// How long requests in flight may take to finish once a stop is asked for.
const REQUEST_GRACE: Duration = Duration::from_secs(3);

/// How long the worker may take to finish its attempt after the listener
/// stops; what it has not sent stays in the store for the next start.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound, not yet serving, service.
#[derive(Debug)]
pub struct Service {
    listener: TcpListener,
    router: axum::Router,
    admin_listener: TcpListener,
    admin_router: axum::Router,
    worker: WorkerTask,
    backfill: Option<AbortOnDrop<()>>,
    store: Store,
    max_connections: usize,
    read_timeout: Duration,
}

/// The worker's task, stopped when the service is stopped or dropped.
#[derive(Debug)]
struct WorkerTask {
    handle: AbortOnDrop<()>,
    stop: watch::Sender<bool>,
}

impl Service {
    /// Opens the store, binds the hook listener and starts the delivery worker.
    pub async fn start(settings: &Settings) -> anyhow::Result<Self> {
        let destination = destination(settings)?;
        let store = Store::open_for_service(&settings.store.path).with_context(|| {
            format!("cannot open the store at {}", settings.store.path.display())
        })?;

        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            hook_path = %settings.server.hook_path,
            event_types = %settings.okta.event_types.join(","),
            destination = %match &destination {
                Destination::Slack { channel, .. } => format!("Slack channel {channel} at {}", settings.slack.api_url),
                Destination::Stdout { .. } => "standard output".to_owned(),
            },
            hook_secrets = settings.okta.auth_secrets.len(),
            "Starting okta-mfa-notifier."
        );
        log_backlog(&store, "Opened the store.").await;
        let metrics = Arc::new(Metrics::new());
        let worker_alive = Arc::new(AtomicBool::new(false));

        let state = HookState::new(settings, store.clone(), Arc::clone(&metrics))?;
        let router = http::router(
            &settings.server.hook_path,
            state,
            Duration::from_secs(settings.server.request_timeout_secs),
        );
        let listener = TcpListener::bind(settings.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
        let service_store = store.clone();
        let admin_router = admin::router(AdminState {
            store: store.clone(),
            metrics: Arc::clone(&metrics),
            worker_alive: Arc::clone(&worker_alive),
        });
        let admin_listener = TcpListener::bind(settings.admin.listen)
            .await
            .with_context(|| {
                format!("cannot listen on {} (admin.listen)", settings.admin.listen)
            })?;

        let backfill_metrics = Arc::clone(&metrics);
        let worker = Worker::new(
            store,
            destination,
            settings
                .okta
                .org_url
                .as_deref()
                .and_then(AdminConsole::from_org_url),
            ChannelPacer::new(
                settings.delivery.messages_per_second,
                settings.delivery.burst,
            ),
            RetryPolicy::new(
                Duration::from_millis(settings.delivery.retry_initial_ms),
                Duration::from_secs(settings.delivery.retry_max_secs),
            ),
            metrics,
        );
        let worker = worker.with_okta_api(okta_api(settings)?);
        let (stop, stopped) = watch::channel(false);
        let backfill = match Backfill::of(settings, Arc::clone(&backfill_metrics))? {
            Some(backfill) if settings.okta.backfill_interval_secs > 0 => {
                let interval = Duration::from_secs(settings.okta.backfill_interval_secs);
                tracing::info!(
                    interval_secs = interval.as_secs(),
                    "Reading the Okta System Log for events the hook misses."
                );
                Some(AbortOnDrop(tokio::spawn(backfill.supervise(
                    service_store.clone(),
                    interval,
                    stopped.clone(),
                ))))
            }
            Some(_) => {
                tracing::info!(
                    "okta.backfill_interval_secs is 0: the System Log is read only by `okta-mfa-notifier backfill`."
                );
                None
            }
            None => None,
        };
        let handle = tokio::spawn(worker.supervise(stopped, worker_alive));
        Ok(Self {
            listener,
            router,
            admin_listener,
            admin_router,
            worker: WorkerTask {
                handle: AbortOnDrop(handle),
                stop,
            },
            backfill,
            store: service_store,
            max_connections: settings.server.max_connections,
            read_timeout: Duration::from_secs(settings.server.request_timeout_secs),
        })
    }

    /// The address the hook listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address of the admin listener.
    pub fn admin_addr(&self) -> std::io::Result<SocketAddr> {
        self.admin_listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// and stops the worker; undelivered alerts stay in the store.
    pub async fn run_until(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let address = self.local_addr()?;
        let admin_address = self.admin_addr()?;
        let (stopping, mut stop_requested) = watch::channel(false);
        let mut admin_stop = stop_requested.clone();
        let admin_listener =
            GuardedListener::new(self.admin_listener, ADMIN_CONNECTIONS, self.read_timeout);
        let admin = http::serve(
            admin_listener,
            self.admin_router,
            self.read_timeout,
            async move {
                let _ = admin_stop.wait_for(|requested| *requested).await;
            },
        );
        let mut admin = AbortOnDrop(tokio::spawn(admin));
        tracing::info!(address = %admin_address, "Serving /healthz, /readyz and /metrics.");

        tracing::info!(%address, "Listening for Okta event hooks.");
        let listener = GuardedListener::new(self.listener, self.max_connections, self.read_timeout);
        let server = http::serve(listener, self.router, self.read_timeout, async move {
            shutdown.await;
            let _ = stopping.send(true);
        });
        // In-flight requests get a grace period; a client that keeps its
        // connection open longer is cut off, so the process still stops.
        tokio::select! {
            () = server => {}
            () = async {
                let _ = stop_requested.wait_for(|requested| *requested).await;
                tokio::time::sleep(REQUEST_GRACE).await;
            } => tracing::warn!("Closed connections still open after the grace period."),
        }
        admin.0.abort();
        let _ = (&mut admin.0).await;

        tracing::info!("Stopped accepting deliveries; stopping the delivery worker.");
        let _ = self.worker.stop.send(true);
        if let Some(mut backfill) = self.backfill.take() {
            backfill.0.abort();
            let _ = (&mut backfill.0).await;
        }
        match tokio::time::timeout(DRAIN_TIMEOUT, &mut self.worker.handle.0).await {
            Ok(_) => log_backlog(&self.store, "Stopped.").await,
            Err(_) => {
                self.worker.handle.0.abort();
                let _ = (&mut self.worker.handle.0).await;
                tracing::warn!(
                    "Stopped during a Slack call; its alert stays in the store and is sent at the next start."
                );
            }
        }
        Ok(())
    }
}

/// A task that is aborted when its handle is dropped, so that a task never
/// outlives the one that started it (and never keeps the store's lock).
#[derive(Debug)]
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Logs `message` with how many alerts wait for delivery and how many are dead.
async fn log_backlog(store: &Store, message: &str) {
    match store.counts().await {
        Ok((pending, dead_letters)) => {
            tracing::info!(path = %store.path().display(), pending, dead_letters, "{message}")
        }
        Err(error) => tracing::warn!(%error, "{message} The store cannot be counted."),
    }
}

/// The Okta API client, when both `okta.api_token` and `okta.org_url` are set.
fn okta_api(settings: &Settings) -> anyhow::Result<Option<OktaApi>> {
    match (&settings.okta.api_token, &settings.okta.org_url) {
        (Some(token), Some(org_url)) => Ok(Some(OktaApi::new(org_url, token)?)),
        _ => Ok(None),
    }
}

/// Where alerts go under `settings`: Slack with a token, else standard output.
pub fn destination(settings: &Settings) -> anyhow::Result<Destination> {
    let channel = settings.slack.channel.clone().unwrap_or_default();
    match &settings.slack.bot_token {
        Some(token) => {
            let client = SlackClient::new(
                &settings.slack.api_url,
                token.expose_secret().into(),
                Duration::from_secs(settings.slack.timeout_secs),
            )?;
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
