//! Starting the service for a test, and talking to it and to the Slack stand-in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use okta_mfa_notifier::config::Settings;
use okta_mfa_notifier::service::Service;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The secret Okta is configured with.
pub const SECRET: &str = "hook-secret-current";
/// The secret being rotated out, still accepted.
pub const OLD_SECRET: &str = "hook-secret-previous";
/// The bot token the Slack stand-in expects.
pub const BOT_TOKEN: &str = "xoxb-test-token";
/// The channel alerts go to.
pub const CHANNEL: &str = "C0TESTCHAN";

/// Reads one of the shipped example deliveries.
pub fn example(name: &str) -> String {
    let path = format!("{}/examples/okta/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A delivery wrapping `events`.
pub fn delivery(events: Vec<Value>) -> String {
    json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://example.okta.com/api/v1/eventHooks/whoTest",
        "eventId": "d0000000-0000-4000-8000-000000000000",
        "eventTime": "2026-10-24T08:42:19.871Z",
        "contentType": "application/json",
        "data": {"events": events}
    })
    .to_string()
}

/// A reset-all event of `user` (id, login, name) by an admin.
pub fn reset_event(uuid: &str, user: (&str, &str, &str)) -> Value {
    json!({
        "uuid": uuid,
        "published": "2026-10-24T08:42:17.305Z",
        "eventType": "user.mfa.factor.reset_all",
        "version": "0",
        "displayMessage": "Reset all factors for user",
        "severity": "INFO",
        "actor": {"id": "00uAdmin0000000000x1", "type": "User",
                  "alternateId": "helpdesk@example.com", "displayName": "Help Desk"},
        "client": {"ipAddress": "203.0.113.9", "zone": "null",
                   "geographicalContext": {"city": "Porto", "country": "Portugal"}},
        "outcome": {"result": "SUCCESS", "reason": null},
        "target": [{"id": user.0, "type": "User", "alternateId": user.1, "displayName": user.2}],
        "transaction": {"type": "WEB", "id": format!("tx-{uuid}"), "detail": {}}
    })
}

/// `count` reset events of one user, with uuids `{prefix}-0`, `{prefix}-1`, ….
pub fn reset_events(prefix: &str, count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            reset_event(
                &format!("{prefix}-{i}"),
                ("00uMany", "many@example.com", "Many"),
            )
        })
        .collect()
}

/// The service under test and its Slack stand-in.
pub struct TestApp {
    /// Where the hook listens.
    pub address: SocketAddr,
    /// Where the admin listener listens.
    pub admin_address: SocketAddr,
    /// The Slack stand-in, shared with later instances in restart tests.
    pub slack: Arc<MockServer>,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    /// The store file.
    pub store_path: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    flushes: usize,
    _store_dir: Option<TempDir>,
}

/// How to start a test service; `Default` gives a Slack that answers `ok`.
pub struct Options {
    /// Extra TOML lines for the `[server]` section; without a
    /// `max_body_bytes` of their own, the body limit is 64 KiB.
    pub server: String,
    /// Extra TOML lines for the `[okta]` section.
    pub okta: String,
    /// Extra TOML lines for the `[delivery]` section.
    pub delivery: String,
    /// Extra TOML lines for the `[slack]` section.
    pub slack: String,
    /// Slack API base URL; the stand-in's when `None`.
    pub slack_api_url: Option<String>,
    /// Okta org URL.
    pub org_url: String,
    /// Store file to use; a fresh temporary one when `None`.
    pub store_path: Option<PathBuf>,
    /// Slack stand-in to use; a new one when `None`.
    pub slack_server: Option<Arc<MockServer>>,
    /// Whether to mount a Slack mock that answers `ok` to everything.
    pub slack_ok: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            server: String::new(),
            okta: String::new(),
            delivery:
                "retry_initial_ms = 100\nretry_max_secs = 1\nmessages_per_second = 50.0\nburst = 50"
                    .into(),
            slack: "timeout_secs = 1".into(),
            slack_api_url: None,
            org_url: "https://example.okta.com".into(),
            store_path: None,
            slack_server: None,
            slack_ok: true,
        }
    }
}

/// Starts the service with Slack answering `ok` to every message.
pub async fn spawn_app() -> TestApp {
    spawn(Options::default()).await
}

/// Starts the service with `extra` TOML appended to the okta section.
pub async fn spawn_app_with(extra: &str) -> TestApp {
    spawn(Options {
        okta: extra.into(),
        ..Options::default()
    })
    .await
}

/// Mounts a Slack mock that answers `ok` to every message with the bot token.
pub async fn mount_slack_ok(slack: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .and(header(
            "authorization",
            format!("Bearer {BOT_TOKEN}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": CHANNEL, "ts": "1760000000.000100"})),
        )
        .mount(slack)
        .await;
}

/// Starts the service with Slack answering every message with `answer`.
pub async fn spawn_with_slack_answer(answer: ResponseTemplate) -> TestApp {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(answer)
        .mount(&slack)
        .await;
    spawn(Options {
        slack_server: Some(Arc::new(slack)),
        slack_ok: false,
        ..Options::default()
    })
    .await
}

/// Starts the service as `options` say.
pub async fn spawn(options: Options) -> TestApp {
    let slack = match options.slack_server {
        Some(slack) => slack,
        None => Arc::new(MockServer::start().await),
    };
    if options.slack_ok {
        mount_slack_ok(&slack).await;
    }
    let (store_path, store_dir) = match options.store_path {
        Some(path) => (path, None),
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            (dir.path().join("store.db"), Some(dir))
        }
    };
    let settings = Settings::from_toml(&format!(
        r#"
        [server]
        listen = "127.0.0.1:0"
        {}
        [admin]
        listen = "127.0.0.1:0"
        [okta]
        auth_secrets = ["{SECRET}", "{OLD_SECRET}"]
        org_url = "{}"
        {}
        [slack]
        bot_token = "{BOT_TOKEN}"
        channel = "{CHANNEL}"
        api_url = "{}"
        {}
        [store]
        path = "{}"
        [delivery]
        {}
        "#,
        if options.server.contains("max_body_bytes") {
            options.server
        } else {
            format!("max_body_bytes = 65536\n{}", options.server)
        },
        options.org_url,
        options.okta,
        options.slack_api_url.unwrap_or_else(|| slack.uri()),
        options.slack,
        store_path.display(),
        options.delivery,
    ))
    .expect("test settings");

    let service = Service::start(&settings).await.expect("service starts");
    let address = service.local_addr().expect("bound");
    let admin_address = service.admin_addr().expect("bound");
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(service.run_until(async move {
        let _ = stop.await;
    }));
    TestApp {
        address,
        admin_address,
        slack,
        http: reqwest::Client::new(),
        store_path,
        shutdown: Some(shutdown),
        task: Some(task),
        flushes: 0,
        _store_dir: store_dir,
    }
}

impl TestApp {
    /// URL of the hook, or of `path` on the hook's server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Posts `body` as JSON with the current secret.
    pub async fn post_delivery(&self, body: impl Into<String>) -> reqwest::Response {
        self.http
            .post(self.url("/okta/event-hook"))
            .header("authorization", SECRET)
            .header("content-type", "application/json")
            .body(body.into())
            .send()
            .await
            .expect("request sent")
    }

    /// Posts `body`, expects 200, and returns what Slack received by then.
    pub async fn deliver(&mut self, body: impl Into<String>) -> Vec<Value> {
        let response = self.post_delivery(body).await;
        assert_eq!(response.status(), 200, "delivery accepted");
        self.slack_messages().await
    }

    /// Every message Slack received so far, after the worker has caught up.
    ///
    /// Posts a marker alert and waits for it: the worker sends in order, so
    /// once the marker arrives everything posted before it has been handled.
    /// The markers are left out of the result.
    pub async fn slack_messages(&mut self) -> Vec<Value> {
        self.flushes += 1;
        let marker = format!("flush-marker-{}", self.flushes);
        let response = self
            .post_delivery(delivery(vec![reset_event(
                &marker,
                ("00uFlush000000000000", "flush@example.com", "Flush Marker"),
            )]))
            .await;
        assert_eq!(response.status(), 200, "marker accepted");

        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let bodies = self.slack_bodies().await;
            if bodies.iter().any(|b| b.to_string().contains(&marker)) {
                return bodies
                    .into_iter()
                    .filter(|b| !b.to_string().contains("flush-marker-"))
                    .collect();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "marker never reached Slack"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the store records the alert for `uuid` as delivered, then
    /// returns every message Slack received.
    pub async fn wait_delivered(&self, uuid: &str) -> Vec<Value> {
        let store = okta_mfa_notifier::store::Store::open(&self.store_path).expect("store");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while store.delivered_record(uuid).await.expect("read").is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{uuid} never delivered"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.slack_bodies().await
    }

    /// Every sample of the admin listener's `/metrics`, by its name with labels.
    pub async fn metrics(&self) -> std::collections::HashMap<String, f64> {
        let text = self.metrics_text().await;
        text.lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .filter_map(|line| {
                let (name, value) = line.rsplit_once(' ')?;
                Some((name.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    /// The admin listener's `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        let response = self
            .http
            .get(format!("http://{}/metrics", self.admin_address))
            .send()
            .await
            .expect("admin answers");
        assert_eq!(response.status(), 200);
        response.text().await.expect("metrics text")
    }

    /// Bodies of every request Slack received, markers included.
    pub async fn slack_bodies(&self) -> Vec<Value> {
        self.slack
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).expect("Slack got JSON"))
            .collect()
    }

    /// Stops the service the way SIGTERM would, and waits for it.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("task").expect("clean stop");
        }
    }
}

/// Dropping the app is the abrupt stop: the service task (and with it the
/// delivery worker) is aborted wherever it is, as a crash would.
impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    probe.local_addr().expect("addr").port()
}

/// The built binary, run as an operator would, with the example configuration
/// and a temporary store.
pub struct RunningBinary {
    /// The process.
    pub child: tokio::process::Child,
    /// The hook's port.
    pub port: u16,
    /// The admin listener's port.
    pub admin_port: u16,
    /// Lines the service wrote to standard error while starting.
    pub startup_logs: Vec<String>,
    /// The rest of standard error, read on demand.
    pub stderr: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
    _store: TempDir,
}

impl RunningBinary {
    /// Starts the binary with the example configuration and waits until it listens.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        use tokio::io::AsyncBufReadExt;

        let (port, admin_port) = (free_port(), free_port());
        let store = tempfile::tempdir().expect("temp dir");
        let root = env!("CARGO_MANIFEST_DIR");
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_okta-mfa-notifier"));
        command
            .args(["--config", &format!("{root}/config/example.toml")])
            .env(
                "OKTA_MFA_NOTIFIER__SERVER__LISTEN",
                format!("127.0.0.1:{port}"),
            )
            .env(
                "OKTA_MFA_NOTIFIER__ADMIN__LISTEN",
                format!("127.0.0.1:{admin_port}"),
            )
            .env(
                "OKTA_MFA_NOTIFIER__STORE__PATH",
                store.path().join("store.db"),
            )
            .env_remove("OKTA_MFA_NOTIFIER_CONFIG")
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the binary starts");
        let mut stderr = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut startup_logs = Vec::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), stderr.next_line())
                .await
                .expect("the service logs its start")
                .expect("stderr")
                .expect("the service is running");
            let listening = line.contains("Listening for Okta event hooks");
            startup_logs.push(line);
            if listening {
                break;
            }
        }
        Self {
            child,
            port,
            admin_port,
            startup_logs,
            stderr,
            _store: store,
        }
    }

    /// Posts `body` to the hook with the example secret.
    pub async fn post(&self, body: impl Into<String>) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/okta/event-hook", self.port))
            .header("Authorization", "example-secret-change-me")
            .header("Content-Type", "application/json")
            .body(body.into())
            .send()
            .await
            .expect("sent")
    }

    /// Sends SIGTERM and returns the exit status, failing after `limit`.
    pub async fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id().expect("pid") as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM sent");
        tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("stops in time")
            .expect("exit status")
    }

    /// Every line written to standard error until the process ended.
    pub async fn remaining_stderr(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(Some(line)) = self.stderr.next_line().await {
            lines.push(line);
        }
        lines
    }
}
