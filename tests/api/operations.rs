//! Operating the service: probes, metrics, JSON logs without secrets,
//! `send-test`, `healthcheck` and `check-config`.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{BOT_TOKEN, RunningBinary, SECRET, TestApp, example, mount_slack_ok, spawn};

async fn admin_get(app: &TestApp, path: &str) -> (u16, String) {
    let response = app
        .http
        .get(format!("http://{}{path}", app.admin_address))
        .send()
        .await
        .expect("admin answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

fn delta(before: &HashMap<String, f64>, after: &HashMap<String, f64>, name: &str) -> f64 {
    after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn health_and_readiness_follow_the_store() {
    let app = spawn(Default::default()).await;
    assert_eq!(admin_get(&app, "/healthz").await.0, 200);
    assert_eq!(admin_get(&app, "/readyz").await.0, 200);
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("sent")
            .status(),
        404,
        "the admin endpoints are not on the public port"
    );

    let lock = rusqlite::Connection::open(&app.store_path).expect("open");
    lock.execute_batch("BEGIN EXCLUSIVE")
        .expect("lock the store");
    let (status, reason) = admin_get(&app, "/readyz").await;
    assert_eq!(status, 503, "{reason}");
    assert!(reason.contains("store"), "{reason}");
    assert_eq!(
        admin_get(&app, "/healthz").await.0,
        200,
        "alive all the same"
    );

    lock.execute_batch("ROLLBACK").expect("unlock");
    assert_eq!(admin_get(&app, "/readyz").await.0, 200);
}

#[tokio::test]
async fn metrics_move_by_exactly_what_happened() {
    let app = spawn(Default::default()).await;
    let before = app.metrics().await;

    let admin_reset = example("01-admin-reset-all.json");
    let mixed = example("03-mixed-batch.json");
    assert_eq!(app.post_delivery(admin_reset.clone()).await.status(), 200);
    assert_eq!(app.post_delivery(admin_reset).await.status(), 200);
    assert_eq!(app.post_delivery(mixed).await.status(), 200);
    assert_eq!(app.post_delivery("{}").await.status(), 400);
    let junk = r#"{"data":{"events":[1,"not an event"]}}"#;
    assert_eq!(app.post_delivery(junk).await.status(), 200);
    let unauthorized = app
        .http
        .post(app.url("/okta/event-hook"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(unauthorized.status(), 401);
    app.wait_delivered("aab7b6f0-1ea8-553e-89c6-e82b9d6c2851")
        .await;
    app.wait_delivered("8de89b7a-dcec-5690-b68b-34110c8042cc")
        .await;

    let after = app.metrics().await;
    let expected = [
        (
            "okta_mfa_notifier_hook_requests_total{outcome=\"accepted\"}",
            4.0,
        ),
        (
            "okta_mfa_notifier_hook_requests_total{outcome=\"bad_request\"}",
            1.0,
        ),
        (
            "okta_mfa_notifier_hook_requests_total{outcome=\"unauthorized\"}",
            1.0,
        ),
        ("okta_mfa_notifier_events_received_total", 9.0),
        ("okta_mfa_notifier_alerts_stored_total", 2.0),
        ("okta_mfa_notifier_alerts_duplicate_total", 1.0),
        ("okta_mfa_notifier_alerts_delivered_total", 2.0),
        ("okta_mfa_notifier_alerts_retried_total", 0.0),
        ("okta_mfa_notifier_alerts_dead_lettered_total", 0.0),
        ("okta_mfa_notifier_events_unreadable_total", 2.0),
        (
            "okta_mfa_notifier_slack_call_seconds_count{result=\"ok\"}",
            2.0,
        ),
    ];
    for (name, moved) in expected {
        assert_eq!(delta(&before, &after, name), moved, "{name}");
    }
    assert_eq!(after.get("okta_mfa_notifier_outbox_pending"), Some(&0.0));
    assert_eq!(after.get("okta_mfa_notifier_dead_letters"), Some(&0.0));
    assert_eq!(
        after.get("okta_mfa_notifier_outbox_oldest_pending_seconds"),
        Some(&0.0)
    );
}

#[tokio::test]
async fn failures_show_in_the_metrics() {
    let app = crate::helpers::spawn_with_slack_answer(
        ResponseTemplate::new(200)
            .set_body_json(json!({"ok": false, "error": "channel_not_found"})),
    )
    .await;
    assert_eq!(
        app.post_delivery(example("01-admin-reset-all.json"))
            .await
            .status(),
        200
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = app.metrics().await;
        if now.get("okta_mfa_notifier_dead_letters") == Some(&1.0) {
            assert_eq!(now["okta_mfa_notifier_alerts_dead_lettered_total"], 1.0);
            assert_eq!(
                now["okta_mfa_notifier_slack_call_seconds_count{result=\"permanent\"}"],
                1.0
            );
            assert_eq!(now["okta_mfa_notifier_outbox_pending"], 0.0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dead letter counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn json_logs_parse_and_never_show_a_secret() {
    let slack = MockServer::start().await;
    mount_slack_ok(&slack).await;
    let api_token = "okta-api-token-value-1234";
    let mut service = RunningBinary::start(&[
        ("OKTA_MFA_NOTIFIER__LOG__FORMAT", "json"),
        ("RUST_LOG", "trace"),
        ("OKTA_MFA_NOTIFIER__OKTA__AUTH_SECRETS", SECRET),
        ("OKTA_MFA_NOTIFIER__OKTA__API_TOKEN", api_token),
        ("OKTA_MFA_NOTIFIER__SLACK__BOT_TOKEN", BOT_TOKEN),
        ("OKTA_MFA_NOTIFIER__SLACK__CHANNEL", "C0TESTCHAN"),
        ("OKTA_MFA_NOTIFIER__SLACK__API_URL", &slack.uri()),
    ])
    .await;
    let client = reqwest::Client::new();
    let hook = format!("http://127.0.0.1:{}/okta/event-hook", service.port);
    let verified = client
        .get(&hook)
        .header("authorization", SECRET)
        .header("x-okta-verification-challenge", "abc")
        .send()
        .await
        .expect("sent");
    assert_eq!(verified.status(), 200);
    assert!(verified.headers().contains_key("x-request-id"));
    let delivered = client
        .post(&hook)
        .header("authorization", SECRET)
        .header("content-type", "application/json")
        .body(example("01-admin-reset-all.json"))
        .send()
        .await
        .expect("sent");
    assert_eq!(delivered.status(), 200);
    let refused = client
        .post(&hook)
        .header("authorization", format!("{SECRET}-wrong"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 401);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while slack
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the alert never reached Slack"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let exit = service.terminate(Duration::from_secs(10)).await;
    assert!(exit.success());
    let mut lines = service.startup_logs.clone();
    lines.extend(service.remaining_stderr().await);
    assert!(lines.len() > 10, "trace level logs plenty: {}", lines.len());
    let mut request_lines = 0;
    for line in &lines {
        for secret in [SECRET, BOT_TOKEN, api_token] {
            assert!(!line.contains(secret), "a secret reached the log: {line}");
        }
        let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for key in ["timestamp", "level", "target"] {
            assert!(record.get(key).is_some(), "no {key}: {line}");
        }
        assert!(
            record.get("message").is_some() || record.get("fields").is_some(),
            "{line}"
        );
        if record.pointer("/span/request_id").is_some() {
            request_lines += 1;
        }
    }
    assert!(request_lines >= 3, "request lines carry the request id");
    assert!(lines.iter().any(|l| l.contains("Alert delivered.")));
}

#[tokio::test]
async fn send_test_reports_what_slack_said() {
    let slack = MockServer::start().await;
    mount_slack_ok(&slack).await;
    let ok = run(
        &[("OKTA_MFA_NOTIFIER__SLACK__API_URL", &slack.uri())],
        &["send-test"],
    );
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Slack accepted the test alert"));
    let sent = slack.received_requests().await.expect("recorded");
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_slice(&sent[0].body).expect("json");
    assert!(
        body["text"].as_str().expect("text").contains("TEST alert"),
        "clearly marked"
    );

    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "not_in_channel"})),
        )
        .mount(&refusing)
        .await;
    let refused = run(
        &[("OKTA_MFA_NOTIFIER__SLACK__API_URL", &refusing.uri())],
        &["send-test"],
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("not_in_channel") && said.contains("invite the bot"),
        "{said}"
    );
    assert!(
        said.contains("channel C0TESTCHAN"),
        "says where it tried: {said}"
    );
    assert_eq!(
        refused.status.code(),
        Some(1),
        "a permanent failure: fix, then retry"
    );

    let unreachable = format!("http://127.0.0.1:{}", crate::helpers::free_port());
    let later = run(
        &[("OKTA_MFA_NOTIFIER__SLACK__API_URL", &unreachable)],
        &["send-test"],
    );
    assert_eq!(
        later.status.code(),
        Some(75),
        "a transient failure: try again later"
    );
    assert!(String::from_utf8_lossy(&later.stderr).contains("can reach slack.api_url"));
}

#[tokio::test]
async fn check_config_warns_about_weak_settings() {
    let output = run(
        &[
            ("OKTA_MFA_NOTIFIER__OKTA__AUTH_SECRETS", "short"),
            ("OKTA_MFA_NOTIFIER__SLACK__BOT_TOKEN", "xoxp-user-token"),
        ],
        &["check-config"],
    );
    assert!(output.status.success(), "weak, but valid");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("shorter than 16 characters"), "{said}");
    assert!(said.contains("does not start with xoxb-"), "{said}");
    assert!(said.contains("1 hook secret(s) accepted"), "{said}");
}

#[tokio::test]
async fn healthcheck_asks_the_running_service() {
    let mut service = RunningBinary::start(&[]).await;
    let admin = format!("127.0.0.1:{}", service.admin_port);
    let healthy = run(
        &[("OKTA_MFA_NOTIFIER__ADMIN__LISTEN", &admin)],
        &["healthcheck"],
    );
    assert!(healthy.status.success(), "{healthy:?}");
    let ready = run(
        &[("OKTA_MFA_NOTIFIER__ADMIN__LISTEN", &admin)],
        &["healthcheck", "--ready"],
    );
    assert!(ready.status.success(), "{ready:?}");

    service.terminate(Duration::from_secs(10)).await;
    let gone = run(
        &[("OKTA_MFA_NOTIFIER__ADMIN__LISTEN", &admin)],
        &["healthcheck"],
    );
    assert!(!gone.status.success());
}

#[tokio::test]
async fn check_config_never_prints_a_secret() {
    let output = run(
        &[("OKTA_MFA_NOTIFIER__OKTA__API_TOKEN", "okta-api-secret-9")],
        &["check-config"],
    );
    assert!(output.status.success(), "{output:?}");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in [SECRET, BOT_TOKEN, "okta-api-secret-9"] {
        assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
    assert!(printed.contains("[redacted]"));
}

/// Runs the binary with a Slack token and channel, plus `env`.
fn run(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let store = tempfile::tempdir().expect("dir");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_okta-mfa-notifier"));
    command
        .args(args)
        .env_remove("OKTA_MFA_NOTIFIER_CONFIG")
        .env("OKTA_MFA_NOTIFIER__OKTA__AUTH_SECRETS", SECRET)
        .env("OKTA_MFA_NOTIFIER__SLACK__BOT_TOKEN", BOT_TOKEN)
        .env("OKTA_MFA_NOTIFIER__SLACK__CHANNEL", "C0TESTCHAN")
        .env("OKTA_MFA_NOTIFIER__STORE__PATH", store.path().join("s.db"));
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

#[test]
fn the_shipped_production_example_is_a_valid_configuration() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("okta_hook_secrets"),
        "a-long-random-hook-secret\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("slack_bot_token"), "xoxb-1-2-3\n").expect("write");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/production.example.toml"
    ))
    .expect("shipped");
    let text = text.replace("/run/secrets/", &format!("{}/", dir.path().display()));
    let settings = okta_mfa_notifier::config::Settings::from_toml(&text).expect("valid");
    assert_eq!(settings.slack.channel.as_deref(), Some("C0123456789"));
    assert_eq!(settings.okta.auth_secrets.len(), 1);
}
