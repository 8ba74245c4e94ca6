//! Starting the service for a test, and talking to it and to the Slack stand-in.

use std::net::SocketAddr;
use std::time::Duration;

use okta_mfa_notifier::config::Settings;
use okta_mfa_notifier::service::Service;
use serde_json::{Value, json};
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

/// The service under test and its Slack stand-in.
pub struct TestApp {
    /// Where the hook listens.
    pub address: SocketAddr,
    /// The Slack stand-in.
    pub slack: MockServer,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    flushes: usize,
}

/// Starts the service with Slack answering `ok` to every message.
pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

/// Starts the service with `extra` TOML appended to the okta section.
pub async fn spawn_app_with(extra: &str) -> TestApp {
    let slack = MockServer::start().await;
    spawn_app_on(slack, extra, true).await
}

/// Starts the service against an existing Slack stand-in.
pub async fn spawn_app_on(slack: MockServer, extra: &str, slack_ok: bool) -> TestApp {
    if slack_ok {
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .and(header(
                "authorization",
                format!("Bearer {BOT_TOKEN}").as_str(),
            ))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({"ok": true, "channel": CHANNEL, "ts": "1760000000.000100"}),
                ),
            )
            .mount(&slack)
            .await;
    }
    let settings = Settings::from_toml(&format!(
        r#"
        [server]
        listen = "127.0.0.1:0"
        max_body_bytes = 65536
        [admin]
        listen = "127.0.0.1:0"
        [okta]
        auth_secrets = ["{SECRET}", "{OLD_SECRET}"]
        org_url = "https://example.okta.com"
        {extra}
        [slack]
        bot_token = "{BOT_TOKEN}"
        channel = "{CHANNEL}"
        api_url = "{}"
        "#,
        slack.uri()
    ))
    .expect("test settings");

    let service = Service::start(&settings).await.expect("service starts");
    let address = service.local_addr().expect("bound");
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(service.run_until(async move {
        let _ = stop.await;
    }));
    TestApp {
        address,
        slack,
        http: reqwest::Client::new(),
        shutdown: Some(shutdown),
        task: Some(task),
        flushes: 0,
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

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
