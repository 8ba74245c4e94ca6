//! Exactly one Slack message per reset event, across redeliveries, Slack
//! failures, restarts and crashes; pacing; dead letters; store failures.

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{CHANNEL, Options, delivery, example, mount_slack_ok, spawn};

/// A Slack stand-in that plays a script of answers, then answers `ok`, and
/// records when each request arrived.
#[derive(Clone, Default)]
struct ScriptedSlack {
    answers: Arc<Mutex<VecDeque<ResponseTemplate>>>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl ScriptedSlack {
    async fn start(answers: Vec<ResponseTemplate>) -> (Arc<MockServer>, Self) {
        let server = MockServer::start().await;
        let script = Self {
            answers: Arc::new(Mutex::new(answers.into())),
            ..Self::default()
        };
        script.mount(&server).await;
        (Arc::new(server), script)
    }

    async fn mount(&self, server: &MockServer) {
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(self.clone())
            .mount(server)
            .await;
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().expect("lock").clone()
    }
}

impl Respond for ScriptedSlack {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.arrivals.lock().expect("lock").push(Instant::now());
        self.answers
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or_else(ok_answer)
    }
}

/// The event uuid in `01-admin-reset-all.json`.
const ADMIN_RESET: &str = "aab7b6f0-1ea8-553e-89c6-e82b9d6c2851";

fn ok_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channel": CHANNEL, "ts": "1.1"}))
}

fn ok_false(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": code}))
}

fn scripted(server: &Arc<MockServer>) -> Options {
    Options {
        slack_server: Some(Arc::clone(server)),
        slack_ok: false,
        ..Options::default()
    }
}

#[tokio::test]
async fn a_redelivery_even_after_a_restart_gives_one_message() {
    let mut app = spawn(Options::default()).await;
    let body = example("01-admin-reset-all.json");
    assert_eq!(app.post_delivery(body.clone()).await.status(), 200);
    assert_eq!(app.post_delivery(body.clone()).await.status(), 200);
    assert_eq!(app.slack_messages().await.len(), 1);
    app.stop().await;

    let mut again = spawn(Options {
        slack_server: Some(app.slack.clone()),
        slack_ok: false,
        store_path: Some(app.store_path.clone()),
        ..Options::default()
    })
    .await;
    assert_eq!(
        again.post_delivery(body).await.status(),
        200,
        "already stored counts as stored"
    );
    assert_eq!(
        again.slack_messages().await.len(),
        1,
        "still one message in all"
    );
}

#[tokio::test]
async fn a_429_is_waited_out_as_slack_asks() {
    let (server, slack) = ScriptedSlack::start(vec![
        ResponseTemplate::new(429).insert_header("retry-after", "2"),
    ])
    .await;
    // Retry-After is honoured up to delivery.retry_max_secs.
    let app = spawn(Options {
        delivery: "retry_initial_ms = 100\nretry_max_secs = 5\nmessages_per_second = 50.0".into(),
        ..scripted(&server)
    })
    .await;
    let response = app.post_delivery(example("01-admin-reset-all.json")).await;
    assert_eq!(response.status(), 200);

    let messages = app.wait_delivered(ADMIN_RESET).await;
    assert_eq!(messages.len(), 2, "the limited call and its retry");
    assert_eq!(messages[0], messages[1]);
    let arrivals = slack.arrivals();
    let waited = arrivals[1] - arrivals[0];
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
}

#[tokio::test]
async fn transient_failures_are_retried_until_one_message_gets_through() {
    let slow = ok_answer().set_delay(Duration::from_secs(3));
    let failures = [
        ("HTTP 500", ResponseTemplate::new(500)),
        ("internal_error", ok_false("internal_error")),
        ("timeout", slow),
        ("503 twice", ResponseTemplate::new(503)),
    ];
    for (name, failure) in failures {
        let (server, _) = ScriptedSlack::start(vec![failure.clone(), failure]).await;
        let app = spawn(scripted(&server)).await;
        let response = app.post_delivery(example("01-admin-reset-all.json")).await;
        assert_eq!(response.status(), 200);
        let messages = app.wait_delivered(ADMIN_RESET).await;
        assert_eq!(messages.len(), 3, "{name}: two failures, then the delivery");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            app.slack_bodies().await.len(),
            3,
            "{name}: nothing after the delivery"
        );
    }
}

#[tokio::test]
async fn an_unreachable_slack_is_retried_until_it_is_back() {
    let reserved = TcpListener::bind("127.0.0.1:0").expect("port");
    let address = reserved.local_addr().expect("addr");
    drop(reserved);

    let dir = tempfile::tempdir().expect("dir");
    let placeholder = Arc::new(MockServer::start().await);
    let app = spawn(Options {
        slack_api_url: Some(format!("http://{address}")),
        store_path: Some(dir.path().join("store.db")),
        ..scripted(&placeholder)
    })
    .await;
    assert_eq!(
        app.post_delivery(example("01-admin-reset-all.json"))
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(700)).await;

    let listener = TcpListener::bind(address).expect("Slack comes back on the same port");
    let slack = MockServer::builder().listener(listener).start().await;
    mount_slack_ok(&slack).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while slack
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the alert never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(slack.received_requests().await.unwrap_or_default().len(), 1);
}

#[tokio::test]
async fn permanent_errors_become_dead_letters_that_can_be_sent_again() {
    for code in ["channel_not_found", "invalid_auth", "not_in_channel"] {
        let (server, _) = ScriptedSlack::start(vec![ok_false(code)]).await;
        let app = spawn(scripted(&server)).await;
        assert_eq!(
            app.post_delivery(example("01-admin-reset-all.json"))
                .await
                .status(),
            200
        );

        let listed = wait_for_dead_letter(&app.store_path).await;
        assert!(
            listed.contains("aab7b6f0-1ea8-553e-89c6-e82b9d6c2851"),
            "{code}: {listed}"
        );
        assert!(listed.contains(code), "{code}: {listed}");
        assert!(
            listed.contains("tomas.berg@example.com"),
            "{code}: {listed}"
        );
        let id = listed
            .lines()
            .nth(1)
            .and_then(|row| row.split('\t').next())
            .expect("an id")
            .to_owned();

        let retried = cli(&app.store_path, &["dead-letters", "retry", &id]);
        assert!(retried.status.success(), "{code}: {retried:?}");
        let messages = app.wait_delivered(ADMIN_RESET).await;
        assert_eq!(
            messages.len(),
            2,
            "{code}: the refused call, then the retry"
        );
        assert!(cli_stdout(&app.store_path, &["dead-letters", "list"]).is_empty());
    }
}

#[tokio::test]
async fn an_alert_accepted_before_a_crash_arrives_once_after_restart() {
    let (server, _) = ScriptedSlack::start(
        std::iter::repeat_with(|| ResponseTemplate::new(500))
            .take(1_000)
            .collect(),
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let store_path = dir.path().join("store.db");
    let app = spawn(Options {
        store_path: Some(store_path.clone()),
        ..scripted(&server)
    })
    .await;
    assert_eq!(
        app.post_delivery(example("01-admin-reset-all.json"))
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let failed_calls = server.received_requests().await.unwrap_or_default().len();
    assert!(failed_calls >= 1, "Slack was failing");
    drop(app); // no shutdown: the task is aborted where it is
    tokio::time::sleep(Duration::from_millis(100)).await;

    let slack_back = Arc::new(MockServer::start().await);
    let again = spawn(Options {
        store_path: Some(store_path),
        slack_server: Some(Arc::clone(&slack_back)),
        ..Options::default()
    })
    .await;
    again.wait_delivered(ADMIN_RESET).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = again.slack_bodies().await;
    assert_eq!(messages.len(), 1, "the alert arrives, once");
    assert!(
        messages[0]["text"]
            .as_str()
            .expect("text")
            .contains("Tomás Berg")
    );
}

#[tokio::test]
async fn a_burst_for_one_channel_is_paced_and_complete() {
    let (server, slack) = ScriptedSlack::start(Vec::new()).await;
    let mut app = spawn(Options {
        delivery: "messages_per_second = 2.0\nburst = 3".into(),
        ..scripted(&server)
    })
    .await;
    let events = crate::helpers::reset_events("burst", 10);
    assert_eq!(app.post_delivery(delivery(events)).await.status(), 200);

    let messages = app.slack_messages().await;
    let mut seen: Vec<String> = messages
        .iter()
        .map(|m| m["text"].as_str().expect("text").to_owned())
        .filter_map(|t| {
            t.split("Okta event: ")
                .nth(1)
                .map(|r| r.lines().next().unwrap_or("").to_owned())
        })
        .collect();
    seen.sort();
    let expected: Vec<String> = (0..10).map(|i| format!("burst-{i}")).collect();
    assert_eq!(seen, expected, "all ten, once each");

    // Never more than the burst plus the rate: in any window from message i
    // to message j, j - i + 1 <= 3 + 2/s * window (50 ms allowed for jitter).
    let times = slack.arrivals();
    for i in 0..times.len() {
        for j in i..times.len() {
            let window = (times[j] - times[i]).as_secs_f64() + 0.05;
            assert!(
                (j - i + 1) as f64 <= 3.0 + 2.0 * window,
                "messages {i}..={j} came within {window:.3}s"
            );
        }
    }
}

#[tokio::test]
async fn a_locked_store_gives_503_and_the_service_recovers() {
    let mut app = spawn(Options::default()).await;
    let lock = rusqlite::Connection::open(&app.store_path).expect("open");
    lock.execute_batch("BEGIN EXCLUSIVE")
        .expect("lock the store");

    let started = Instant::now();
    let refused = app.post_delivery(example("01-admin-reset-all.json")).await;
    assert_eq!(refused.status(), 503, "Okta should retry");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered within Okta's 3 s"
    );

    lock.execute_batch("ROLLBACK").expect("unlock");
    let accepted = app.post_delivery(example("01-admin-reset-all.json")).await;
    assert_eq!(accepted.status(), 200);
    assert_eq!(app.slack_messages().await.len(), 1);
}

async fn wait_for_dead_letter(store: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = cli_stdout(store, &["dead-letters", "list"]);
        if !listed.is_empty() {
            return listed;
        }
        assert!(Instant::now() < deadline, "no dead letter appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn cli(store: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_okta-mfa-notifier"))
        .args(args)
        .env("OKTA_MFA_NOTIFIER__OKTA__ALLOW_UNAUTHENTICATED", "true")
        .env("OKTA_MFA_NOTIFIER__STORE__PATH", store)
        .env_remove("OKTA_MFA_NOTIFIER_CONFIG")
        .output()
        .expect("the binary runs")
}

fn cli_stdout(store: &std::path::Path, args: &[&str]) -> String {
    let output = cli(store, args);
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test]
async fn replay_goes_through_the_same_de_duplication() {
    let mut app = spawn(Options::default()).await;
    assert_eq!(
        app.post_delivery(example("01-admin-reset-all.json"))
            .await
            .status(),
        200
    );
    assert_eq!(app.slack_messages().await.len(), 1);

    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/okta");
    let dry = cli(
        &app.store_path,
        &[
            "replay",
            "--dry-run",
            &format!("{examples}/04-unusual-shapes.json"),
        ],
    );
    assert!(dry.status.success(), "{dry:?}");
    let printed: Vec<serde_json::Value> = String::from_utf8_lossy(&dry.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one request per line"))
        .collect();
    assert_eq!(printed.len(), 3, "three resets would be alerted");
    assert!(String::from_utf8_lossy(&dry.stderr).contains("3 would be alerted, 0 already known"));
    assert!(
        app.slack_messages().await.len() == 1,
        "a dry run sends nothing"
    );

    let again = cli(
        &app.store_path,
        &["replay", &format!("{examples}/01-admin-reset-all.json")],
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("0 stored for delivery, 1 already known")
    );

    // A bare JSON array of System Log events, as the System Log API returns them.
    let events: serde_json::Value =
        serde_json::from_str(&example("04-unusual-shapes.json")).expect("json");
    let list = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(list.path(), events["data"]["events"].to_string()).expect("write");
    let replayed = cli(
        &app.store_path,
        &["replay", list.path().to_str().expect("utf-8")],
    );
    assert!(
        String::from_utf8_lossy(&replayed.stderr).contains("3 stored for delivery"),
        "{replayed:?}"
    );

    let messages = app.slack_messages().await;
    assert_eq!(
        messages.len(),
        4,
        "the hook's alert and the three replayed ones, once each"
    );
}

#[tokio::test]
async fn a_delivery_the_store_cannot_record_is_not_sent_again() {
    let slow_ok = ok_answer().set_delay(Duration::from_millis(600));
    let (server, slack) = ScriptedSlack::start(vec![slow_ok]).await;
    let app = spawn(scripted(&server)).await;
    assert_eq!(
        app.post_delivery(example("01-admin-reset-all.json"))
            .await
            .status(),
        200
    );

    // While Slack takes its time to answer, lock the store, so that the
    // worker cannot record the delivery once Slack has said ok.
    let deadline = Instant::now() + Duration::from_secs(10);
    while slack.arrivals().is_empty() {
        assert!(Instant::now() < deadline, "Slack was never called");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let lock = rusqlite::Connection::open(&app.store_path).expect("open");
    lock.execute_batch("BEGIN EXCLUSIVE")
        .expect("lock the store");
    tokio::time::sleep(Duration::from_secs(3)).await;
    lock.execute_batch("ROLLBACK").expect("unlock");

    app.wait_delivered(ADMIN_RESET).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.arrivals().len(), 1, "sent once, recorded late");
}

#[tokio::test]
async fn a_locked_store_answers_every_concurrent_delivery_in_time() {
    let app = Arc::new(spawn(Options::default()).await);
    let lock = rusqlite::Connection::open(&app.store_path).expect("open");
    lock.execute_batch("BEGIN EXCLUSIVE")
        .expect("lock the store");

    let requests: Vec<_> = (0..20)
        .map(|i| {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                let started = Instant::now();
                let body = delivery(vec![crate::helpers::reset_event(
                    &format!("locked-{i}"),
                    ("00uLock", "lock@example.com", "Lock"),
                )]);
                let status = app.post_delivery(body).await.status();
                (status, started.elapsed())
            })
        })
        .collect();
    for request in requests {
        let (status, took) = request.await.expect("request task");
        assert_eq!(status, 503);
        assert!(took < Duration::from_secs(3), "answered after {took:?}");
    }
    lock.execute_batch("ROLLBACK").expect("unlock");
}

#[tokio::test]
async fn a_store_file_deleted_under_the_service_is_noticed() {
    let app = spawn(Options::default()).await;
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", app.store_path.display());
        std::fs::remove_file(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let response = app.post_delivery(example("01-admin-reset-all.json")).await;
    assert_eq!(
        response.status(),
        503,
        "nothing is accepted into a deleted file"
    );
    let ready = app
        .http
        .get(format!("http://{}/readyz", app.admin_address))
        .send()
        .await
        .expect("admin answers");
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn a_second_service_on_the_same_store_refuses_to_start() {
    let app = spawn(Options::default()).await;
    let settings = okta_mfa_notifier::config::Settings::from_toml(&format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [okta]\nallow_unauthenticated = true\n[store]\npath = \"{}\"\n",
        app.store_path.display()
    ))
    .expect("settings");
    let second = okta_mfa_notifier::service::Service::start(&settings).await;
    let error = format!("{:#}", second.expect_err("the store is taken"));
    assert!(
        error.contains("another okta-mfa-notifier service is using the store"),
        "{error}"
    );
}

#[tokio::test]
async fn dead_letter_commands_need_an_existing_store() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("typo.db");
    let output = cli(&missing, &["dead-letters", "list"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no store at"));
    assert!(!missing.exists(), "no store is created by a typo");
}
