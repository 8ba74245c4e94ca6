//! Back-fill from the System Log: events the hook missed are alerted once,
//! marked as recovered; everything else is left alone. Okta's API is stood
//! in by wiremock.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use okta_mfa_notifier::okta::syslog::okta_time;
use okta_mfa_notifier::store::Store;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use crate::helpers::{Options, delivery, example, reset_event, spawn};

const TOKEN: &str = "okta-api-test-token";
const USER: (&str, &str, &str) = ("00uMissed00000000001", "missed@example.com", "Missed User");

/// Settings that read the System Log at `okta`, every second unless `extra`
/// says otherwise.
fn backfilling(okta: &MockServer, extra: &str) -> Options {
    let interval = if extra.contains("backfill_interval_secs") {
        ""
    } else {
        "backfill_interval_secs = 1"
    };
    Options {
        org_url: okta.uri(),
        okta: format!("api_token = \"{TOKEN}\"\n{interval}\n{extra}"),
        ..Options::default()
    }
}

/// A System Log request with the token.
fn logs() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/api/v1/logs"))
        .and(header("authorization", format!("SSWS {TOKEN}").as_str()))
}

/// A page of `events` with room left in the rate limit.
fn page(events: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(events)
        .insert_header("x-rate-limit-limit", "60")
        .insert_header("x-rate-limit-remaining", "59")
        .insert_header(
            "x-rate-limit-reset",
            now_secs().saturating_add(60).to_string(),
        )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The System Log requests Okta's stand-in received.
async fn log_requests(okta: &MockServer) -> Vec<Request> {
    okta.received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == "/api/v1/logs")
        .collect()
}

/// Waits until the stand-in has had at least `count` System Log requests.
async fn wait_for_log_requests(okta: &MockServer, count: usize) -> Vec<Request> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let requests = log_requests(okta).await;
        if requests.len() >= count {
            return requests;
        }
        assert!(
            Instant::now() < deadline,
            "only {} System Log requests",
            requests.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn query(request: &Request, key: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The messages that name `uuid`.
fn about(messages: &[Value], uuid: &str) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m.to_string().contains(uuid))
        .cloned()
        .collect()
}

fn metric(samples: &HashMap<String, f64>, name: &str) -> f64 {
    samples
        .get(&format!("okta_mfa_notifier_{name}"))
        .copied()
        .unwrap_or(0.0)
}

#[tokio::test]
async fn an_event_the_hook_missed_is_alerted_once_as_recovered() {
    let okta = MockServer::start().await;
    let unreadable = json!({"uuid": 7, "published": "2026-10-24T08:42:17Z",
        "eventType": "user.mfa.factor.reset_all"});
    logs()
        .respond_with(page(vec![reset_event("missed-1", USER), unreadable]))
        .mount(&okta)
        .await;
    let mut app = spawn(backfilling(&okta, "")).await;

    app.wait_delivered("missed-1").await;
    let requests = wait_for_log_requests(&okta, 3).await;
    let messages = app.slack_messages().await;
    let recovered = about(&messages, "missed-1");
    assert_eq!(recovered.len(), 1, "read three times, alerted once");
    let text = recovered[0]["text"].as_str().expect("text");
    assert!(
        text.contains("Recovered from the System Log")
            && text.contains("days after it happened")
            && text.contains("Missed User"),
        "{text}"
    );
    assert!(
        recovered[0]["blocks"][0]["text"]["text"]
            .as_str()
            .is_some_and(|h| h.ends_with("(recovered)")),
        "{recovered:#?}"
    );

    let first = &requests[0];
    assert_eq!(
        query(first, "filter").as_deref(),
        Some("eventType eq \"user.mfa.factor.reset_all\" or eventType eq \"event_hook.delivery\"")
    );
    assert_eq!(query(first, "sortOrder").as_deref(), Some("ASCENDING"));
    assert_eq!(query(first, "limit").as_deref(), Some("1000"));
    let until = query(first, "until").expect("until");
    let since = query(first, "since").expect("since");
    assert!(since < until && until < okta_time(SystemTime::now().into()));

    let samples = app.metrics().await;
    assert_eq!(metric(&samples, "alerts_recovered_total"), 1.0);
    assert!(metric(&samples, "backfill_runs_total{result=\"ok\"}") >= 2.0);
    assert!(metric(&samples, "backfill_reconciled_until_seconds") > 0.0);
    assert!(
        metric(&samples, "events_unreadable_total") >= 1.0,
        "an event the System Log gave that cannot be read is counted"
    );
}

#[tokio::test]
async fn an_event_that_came_by_hook_first_is_not_alerted_again() {
    let okta = MockServer::start().await;
    logs().respond_with(page(vec![])).mount(&okta).await;
    let mut app = spawn(backfilling(&okta, "")).await;
    let first = app
        .deliver(delivery(vec![reset_event("both-ways-1", USER)]))
        .await;
    assert_eq!(about(&first, "both-ways-1").len(), 1);

    logs()
        .respond_with(page(vec![reset_event("both-ways-1", USER)]))
        .with_priority(1)
        .mount(&okta)
        .await;
    let seen = log_requests(&okta).await.len();
    wait_for_log_requests(&okta, seen + 2).await;

    let messages = app.slack_messages().await;
    let alerts = about(&messages, "both-ways-1");
    assert_eq!(alerts.len(), 1, "{messages:#?}");
    assert!(!alerts[0].to_string().contains("Recovered"));
    assert_eq!(metric(&app.metrics().await, "alerts_recovered_total"), 0.0);
}

#[tokio::test]
async fn an_event_found_in_the_system_log_first_is_not_alerted_again_by_the_hook() {
    let okta = MockServer::start().await;
    logs()
        .respond_with(page(vec![reset_event("late-hook-1", USER)]))
        .mount(&okta)
        .await;
    let mut app = spawn(backfilling(&okta, "")).await;
    app.wait_delivered("late-hook-1").await;

    let messages = app
        .deliver(delivery(vec![reset_event("late-hook-1", USER)]))
        .await;
    let alerts = about(&messages, "late-hook-1");
    assert_eq!(alerts.len(), 1, "{messages:#?}");
    assert!(alerts[0].to_string().contains("Recovered"));
}

#[tokio::test]
async fn factor_removals_the_hook_missed_join_the_same_alerts() {
    let burst: Value =
        serde_json::from_str(&example("05-oie-authenticator-reset-burst.json")).expect("json");
    let events = burst["data"]["events"].as_array().expect("events").clone();
    let okta = MockServer::start().await;
    logs().respond_with(page(events.clone())).mount(&okta).await;
    let app = spawn(backfilling(
        &okta,
        "event_types = [\"user.mfa.factor.reset_all\", \"user.mfa.factor.deactivate\"]\n\
         deactivation_window_secs = 1",
    ))
    .await;
    let response = app.post_delivery(delivery(events[..2].to_vec())).await;
    assert_eq!(response.status(), 200);

    let seen = log_requests(&okta).await.len();
    wait_for_log_requests(&okta, seen + 3).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let bodies = app.slack_bodies().await;
    let removed: Vec<String> = bodies
        .iter()
        .filter_map(|m| m["text"].as_str())
        .flat_map(|text| text.lines())
        .filter_map(|line| line.strip_prefix("Factors removed: "))
        .flat_map(|list| list.split(", "))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        removed.len(),
        5,
        "each of the five factors is listed once: {removed:#?}"
    );
    for factor in [
        "SIGNED_NONCE",
        "OKTA_VERIFY_PUSH",
        "OKTA_SOFT_TOKEN",
        "FIDO_WEBAUTHN",
        "SMS_FACTOR",
    ] {
        assert_eq!(
            removed.iter().filter(|f| f.contains(factor)).count(),
            1,
            "{factor}: {removed:#?}"
        );
    }
}

#[tokio::test]
async fn every_page_is_read_by_following_next_links() {
    let okta = MockServer::start().await;
    let next = |after: &str| {
        format!(
            "<{}/api/v1/logs?after={after}&limit=1000>; rel=\"next\"",
            okta.uri()
        )
    };
    let this = format!("<{}/api/v1/logs?limit=1000>; rel=\"self\"", okta.uri());
    logs()
        .and(query_param_is_missing("after"))
        .respond_with(
            page(vec![reset_event("page-1", USER)])
                .append_header("link", this.as_str())
                .append_header("link", next("p2").as_str()),
        )
        .mount(&okta)
        .await;
    logs()
        .and(query_param("after", "p2"))
        .respond_with(
            page(vec![reset_event("page-2", USER)])
                .append_header("link", "</api/v1/logs?after=p3&limit=1000>; rel=\"next\""),
        )
        .mount(&okta)
        .await;
    logs()
        .and(query_param("after", "p3"))
        .respond_with(page(vec![reset_event("page-3", USER)]))
        .mount(&okta)
        .await;
    let app = spawn(backfilling(&okta, "backfill_interval_secs = 300")).await;

    for uuid in ["page-1", "page-2", "page-3"] {
        app.wait_delivered(uuid).await;
    }
    let requests = log_requests(&okta).await;
    let afters: Vec<Option<String>> = requests.iter().map(|r| query(r, "after")).collect();
    assert_eq!(
        afters,
        [None, Some("p2".to_owned()), Some("p3".to_owned())],
        "one reading, three pages"
    );
    let bodies = app.slack_bodies().await;
    for uuid in ["page-1", "page-2", "page-3"] {
        assert_eq!(about(&bodies, uuid).len(), 1, "{uuid}");
    }
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let okta = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(page(vec![]))
        .mount(&elsewhere)
        .await;
    logs()
        .respond_with(
            page(vec![reset_event("before-the-link", USER)]).append_header(
                "link",
                format!("<{}/api/v1/logs?after=x>; rel=\"next\"", elsewhere.uri()).as_str(),
            ),
        )
        .mount(&okta)
        .await;
    let app = spawn(backfilling(&okta, "")).await;

    app.wait_delivered("before-the-link").await;
    wait_for_log_requests(&okta, 2).await;
    assert!(
        elsewhere
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "the token never leaves the org"
    );
    assert!(
        metric(
            &app.metrics().await,
            "backfill_runs_total{result=\"failed\"}"
        ) >= 1.0
    );
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_until_its_reset() {
    let okta = MockServer::start().await;
    let calls: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = Arc::clone(&calls);
    let reset = now_secs() + 2;
    logs()
        .respond_with(move |_: &Request| {
            let mut seen = seen.lock().expect("lock");
            seen.push(Instant::now());
            if seen.len() == 1 {
                ResponseTemplate::new(429)
                    .insert_header("x-rate-limit-remaining", "0")
                    .insert_header("x-rate-limit-reset", reset.to_string())
                    .set_body_json(json!({"errorCode": "E0000047",
                        "errorSummary": "API call exceeded rate limit due to too many requests."}))
            } else {
                page(vec![reset_event("after-the-wait", USER)])
            }
        })
        .mount(&okta)
        .await;
    let app = spawn(backfilling(&okta, "backfill_interval_secs = 300")).await;

    app.wait_delivered("after-the-wait").await;
    let calls = calls.lock().expect("lock").clone();
    assert_eq!(calls.len(), 2, "the same reading tried again once");
    let waited = calls[1] - calls[0];
    assert!(
        waited >= Duration::from_millis(900),
        "asked again after {waited:?}, before the reset"
    );
    assert_eq!(
        metric(&app.metrics().await, "backfill_runs_total{result=\"ok\"}"),
        1.0
    );
}

#[tokio::test]
async fn okta_failures_are_retried_later_and_never_hold_up_the_hook() {
    let okta = MockServer::start().await;
    let calls: Arc<Mutex<usize>> = Arc::default();
    let seen = Arc::clone(&calls);
    logs()
        .respond_with(move |_: &Request| {
            let mut calls = seen.lock().expect("lock");
            *calls += 1;
            match *calls {
                1 => ResponseTemplate::new(500).set_body_json(
                    json!({"errorCode": "E0000009", "errorSummary": "Internal Server Error"}),
                ),
                2 => page(vec![reset_event("too-slow", USER)]).set_delay(Duration::from_secs(4)),
                _ => page(vec![reset_event("finally-read", USER)]),
            }
        })
        .mount(&okta)
        .await;
    let mut app = spawn(backfilling(&okta, "backfill_timeout_secs = 2")).await;

    // Okta fails, then hangs; the hook's alert goes out meanwhile.
    let messages = app
        .deliver(delivery(vec![reset_event("by-hook", USER)]))
        .await;
    assert_eq!(about(&messages, "by-hook").len(), 1);
    let store = Store::open(&app.store_path).expect("store");
    assert!(
        store
            .delivered_record("finally-read")
            .await
            .expect("read")
            .is_none(),
        "the System Log was not read yet when the hook's alert went out"
    );

    app.wait_delivered("finally-read").await;
    let samples = app.metrics().await;
    assert_eq!(
        metric(&samples, "backfill_runs_total{result=\"failed\"}"),
        2.0,
        "a 500 and a timeout"
    );
    let bodies = app.slack_bodies().await;
    assert_eq!(about(&bodies, "finally-read").len(), 1);
    assert!(
        about(&bodies, "too-slow").is_empty(),
        "a page that timed out is not taken"
    );
}

#[tokio::test]
async fn hook_delivery_failures_are_counted_once() {
    let failure = json!({
        "uuid": "hook-failed-1",
        "published": "2026-10-24T08:42:21.000Z",
        "eventType": "event_hook.delivery",
        "displayMessage": "Event hook delivery failed",
        "actor": {"id": "0oa1hook", "type": "PublicClientApp", "alternateId": "Okta", "displayName": "Okta"},
        "outcome": {"result": "FAILURE", "reason": "Read timed out\nforged log line"},
        "target": [{"id": "who1hook", "type": "EventHook", "displayName": "MFA alerts"}]
    });
    let okta = MockServer::start().await;
    logs()
        .respond_with(page(vec![failure, reset_event("with-the-failure", USER)]))
        .mount(&okta)
        .await;
    let mut app = spawn(backfilling(&okta, "")).await;

    app.wait_delivered("with-the-failure").await;
    let seen = log_requests(&okta).await.len();
    wait_for_log_requests(&okta, seen + 2).await;
    assert_eq!(
        metric(&app.metrics().await, "okta_hook_delivery_failures_total"),
        1.0
    );
    let messages = app.slack_messages().await;
    assert!(about(&messages, "hook-failed-1").is_empty(), "not an alert");
}

/// A store directory that outlives the services started on it.
fn store_in(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("store.db")
}

async fn position(path: &Path) -> okta_mfa_notifier::store::LogPosition {
    Store::open(path)
        .expect("store")
        .log_position()
        .await
        .expect("read")
        .expect("a position")
}

#[tokio::test]
async fn a_restart_goes_on_from_the_stored_position() {
    let dir = tempfile::tempdir().expect("dir");
    let okta = MockServer::start().await;
    logs().respond_with(page(vec![])).mount(&okta).await;
    let options = || Options {
        store_path: Some(store_in(&dir)),
        ..backfilling(
            &okta,
            "backfill_interval_secs = 300\nbackfill_margin_secs = 120",
        )
    };

    let mut first = spawn(options()).await;
    let requests = wait_for_log_requests(&okta, 1).await;
    first.stop().await;
    let stored = position(&store_in(&dir)).await;
    let until = stored.reconciled_until.expect("reconciled");
    assert_eq!(query(&requests[0], "until"), Some(okta_time(until.into())));

    let _second = spawn(options()).await;
    let requests = wait_for_log_requests(&okta, 2).await;
    assert_eq!(
        query(&requests[1], "since"),
        Some(okta_time((until - Duration::from_secs(120)).into())),
        "the margin before where the last reading ended"
    );
}

#[tokio::test]
async fn a_reading_cut_short_resumes_from_its_cursor_after_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let okta = MockServer::start().await;
    let next = format!(
        "<{}/api/v1/logs?after=p2&limit=1000>; rel=\"next\"",
        okta.uri()
    );
    logs()
        .and(query_param_is_missing("after"))
        .respond_with(
            page(vec![reset_event("first-page", USER)]).append_header("link", next.as_str()),
        )
        .mount(&okta)
        .await;
    logs()
        .and(query_param("after", "p2"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&okta)
        .await;
    let options = || Options {
        store_path: Some(store_in(&dir)),
        ..backfilling(&okta, "backfill_interval_secs = 300")
    };

    let mut first = spawn(options()).await;
    first.wait_delivered("first-page").await;
    wait_for_log_requests(&okta, 2).await;
    first.stop().await;
    let stored = position(&store_in(&dir)).await;
    assert!(
        stored
            .cursor
            .as_deref()
            .is_some_and(|c| c.contains("after=p2")),
        "{stored:?}"
    );

    logs()
        .and(query_param("after", "p2"))
        .respond_with(page(vec![reset_event("second-page", USER)]))
        .with_priority(1)
        .mount(&okta)
        .await;
    let second = spawn(Options {
        slack_server: Some(Arc::clone(&first.slack)),
        slack_ok: false,
        ..options()
    })
    .await;
    second.wait_delivered("second-page").await;
    let requests = log_requests(&okta).await;
    assert_eq!(
        query(&requests[2], "after").as_deref(),
        Some("p2"),
        "the restart goes on from the cursor, not from a new range"
    );
    let bodies = second.slack_bodies().await;
    assert_eq!(about(&bodies, "first-page").len(), 1);
    assert_eq!(about(&bodies, "second-page").len(), 1);
    let done = position(&store_in(&dir)).await;
    assert!(
        done.cursor.is_none() && done.reconciled_until.is_some(),
        "{done:?}"
    );
}

/// Runs `okta-mfa-notifier backfill` (or another command) against `okta`.
fn cli(okta: &MockServer, store: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_okta-mfa-notifier"))
        .args(args)
        .env_remove("OKTA_MFA_NOTIFIER_CONFIG")
        .env("OKTA_MFA_NOTIFIER__OKTA__ALLOW_UNAUTHENTICATED", "true")
        .env("OKTA_MFA_NOTIFIER__OKTA__ORG_URL", okta.uri())
        .env("OKTA_MFA_NOTIFIER__OKTA__API_TOKEN", TOKEN)
        .env(
            "OKTA_MFA_NOTIFIER__OKTA__EVENT_TYPES",
            "user.mfa.factor.reset_all,user.mfa.factor.deactivate",
        )
        .env("OKTA_MFA_NOTIFIER__STORE__PATH", store)
        .output()
        .expect("the binary runs")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_backfill_command_names_only_the_setting_that_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_okta-mfa-notifier"))
        .args(["backfill", "--since", "2026-10-24T00:00:00Z", "--dry-run"])
        .env_remove("OKTA_MFA_NOTIFIER_CONFIG")
        .env("OKTA_MFA_NOTIFIER__OKTA__ALLOW_UNAUTHENTICATED", "true")
        .env(
            "OKTA_MFA_NOTIFIER__OKTA__ORG_URL",
            "https://example.okta.com",
        )
        .env("OKTA_MFA_NOTIFIER__STORE__PATH", store_in(&dir))
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let said = stderr(&output);
    assert!(said.contains("set okta.api_token"), "{said}");
    assert!(!said.contains("okta.org_url"), "the org URL is set: {said}");
}

const SINCE: &str = "2026-10-24T00:00:00Z";
const UNTIL: &str = "2026-10-25T00:00:00Z";

#[tokio::test]
async fn the_backfill_command_reads_a_range_once() {
    let okta = MockServer::start().await;
    logs()
        .respond_with(page(vec![reset_event("from-the-command", USER)]))
        .mount(&okta)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let store = store_in(&dir);
    let range = ["--since", SINCE, "--until", UNTIL];

    let dry = cli(
        &okta,
        &store,
        &[&["backfill", "--dry-run"][..], &range].concat(),
    );
    assert!(dry.status.success(), "{dry:?}");
    let printed: Vec<Value> = String::from_utf8_lossy(&dry.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one request per line"))
        .collect();
    assert_eq!(printed.len(), 1);
    assert!(
        printed[0]
            .to_string()
            .contains("Recovered from the System Log")
    );
    assert!(
        stderr(&dry).contains("1 would be alerted, 0 already known"),
        "{dry:?}"
    );
    assert!(!store.exists(), "a dry run creates no store");

    let stored = cli(&okta, &store, &[&["backfill"][..], &range].concat());
    assert!(stored.status.success(), "{stored:?}");
    assert!(
        stderr(&stored).contains("1 stored for delivery, 0 already known"),
        "{stored:?}"
    );
    let again = cli(&okta, &store, &[&["backfill"][..], &range].concat());
    assert!(
        stderr(&again).contains("0 stored for delivery, 1 already known"),
        "{again:?}"
    );

    let request = &log_requests(&okta).await[0];
    assert_eq!(
        query(request, "since").as_deref(),
        Some("2026-10-24T00:00:00.000Z")
    );
    assert_eq!(
        query(request, "until").as_deref(),
        Some("2026-10-25T00:00:00.000Z")
    );
    assert!(
        Store::open(&store)
            .expect("store")
            .log_position()
            .await
            .expect("read")
            .is_none(),
        "the command leaves the service's position alone"
    );
}

#[tokio::test]
async fn the_backfill_command_says_what_went_wrong() {
    let okta = MockServer::start().await;
    logs()
        .and(query_param("since", "2026-10-24T00:00:00.000Z"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&okta)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/logs"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errorCode": "E0000011",
            "errorSummary": format!("Invalid token provided: SSWS {TOKEN}")
        })))
        .with_priority(10)
        .mount(&okta)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let store = store_in(&dir);

    let failing = cli(
        &okta,
        &store,
        &["backfill", "--since", SINCE, "--until", UNTIL],
    );
    assert_eq!(
        failing.status.code(),
        Some(75),
        "worth trying later: {failing:?}"
    );
    assert!(stderr(&failing).contains("HTTP 500"), "{failing:?}");

    let refused = cli(
        &okta,
        &store,
        &[
            "backfill",
            "--since",
            "2026-10-23T00:00:00Z",
            "--until",
            UNTIL,
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        stderr(&refused).contains("E0000011: Invalid token provided"),
        "{refused:?}"
    );
    assert!(
        !stderr(&refused).contains(TOKEN),
        "a token Okta's answer quotes is not printed: {refused:?}"
    );

    let backwards = cli(
        &okta,
        &store,
        &["backfill", "--since", UNTIL, "--until", SINCE],
    );
    assert!(!backwards.status.success());
    assert!(
        stderr(&backwards).contains("--since must be earlier"),
        "{backwards:?}"
    );

    let not_a_time = cli(&okta, &store, &["backfill", "--since", "yesterday"]);
    assert!(!not_a_time.status.success());
    assert!(stderr(&not_a_time).contains("RFC 3339"), "{not_a_time:?}");

    let without_token = std::process::Command::new(env!("CARGO_BIN_EXE_okta-mfa-notifier"))
        .args(["backfill", "--since", SINCE])
        .env_remove("OKTA_MFA_NOTIFIER_CONFIG")
        .env("OKTA_MFA_NOTIFIER__OKTA__ALLOW_UNAUTHENTICATED", "true")
        .env("OKTA_MFA_NOTIFIER__STORE__PATH", &store)
        .output()
        .expect("runs");
    assert!(!without_token.status.success());
    assert!(
        stderr(&without_token).contains("okta.api_token"),
        "{without_token:?}"
    );
}

#[tokio::test]
async fn dry_runs_know_factor_removals_already_folded() {
    let okta = MockServer::start().await;
    let app = spawn(Options {
        okta: "event_types = [\"user.mfa.factor.reset_all\", \"user.mfa.factor.deactivate\"]\n\
               deactivation_window_secs = 1"
            .into(),
        ..Options::default()
    })
    .await;
    let burst = example("05-oie-authenticator-reset-burst.json");
    assert_eq!(app.post_delivery(burst.clone()).await.status(), 200);

    let file = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(file.path(), &burst).expect("write");
    let dry = cli(
        &okta,
        &app.store_path,
        &["replay", "--dry-run", file.path().to_str().expect("utf-8")],
    );
    assert!(dry.status.success(), "{dry:?}");
    assert!(
        stderr(&dry).contains("0 would be alerted, 5 already known"),
        "{dry:?}"
    );
}

#[tokio::test]
async fn the_backfill_command_stops_at_a_circle_of_next_links_and_says_so() {
    let okta = MockServer::start().await;
    let link = |after: &str| format!("</api/v1/logs?after={after}>; rel=\"next\"");
    logs()
        .and(query_param_is_missing("after"))
        .respond_with(page(vec![]).append_header("link", link("a").as_str()))
        .mount(&okta)
        .await;
    logs()
        .and(query_param("after", "a"))
        .respond_with(page(vec![]).append_header("link", link("b").as_str()))
        .mount(&okta)
        .await;
    logs()
        .and(query_param("after", "b"))
        .respond_with(page(vec![]).append_header("link", link("a").as_str()))
        .mount(&okta)
        .await;
    let dir = tempfile::tempdir().expect("dir");

    let circling = cli(
        &okta,
        &store_in(&dir),
        &["backfill", "--since", SINCE, "--until", UNTIL],
    );
    assert_eq!(circling.status.code(), Some(1), "{circling:?}");
    assert!(
        stderr(&circling).contains("leads back to a page already read"),
        "{circling:?}"
    );
    assert_eq!(log_requests(&okta).await.len(), 3);

    let latest = cli(&okta, &store_in(&dir), &["backfill", "--since", SINCE]);
    let until = query(&log_requests(&okta).await[3], "until").expect("until");
    assert!(
        until <= okta_time((SystemTime::now() - Duration::from_secs(59)).into()),
        "the newest minute is left to the hook: {until} ({latest:?})"
    );
}

#[tokio::test]
async fn a_cursor_okta_refuses_is_dropped_and_new_events_still_come() {
    let okta = MockServer::start().await;
    let calls: Arc<Mutex<usize>> = Arc::default();
    let seen = Arc::clone(&calls);
    let next = format!("<{}/api/v1/logs?after=poison>; rel=\"next\"", okta.uri());
    logs()
        .and(query_param("after", "poison"))
        .respond_with(move |_: &Request| {
            let mut calls = seen.lock().expect("lock");
            *calls += 1;
            if *calls == 1 {
                ResponseTemplate::new(503)
            } else {
                ResponseTemplate::new(400).set_body_json(
                    json!({"errorCode": "E0000031", "errorSummary": "Invalid search criteria."}),
                )
            }
        })
        .mount(&okta)
        .await;
    logs()
        .and(query_param_is_missing("after"))
        .respond_with(
            page(vec![reset_event("before-poison", USER)]).append_header("link", next.as_str()),
        )
        .up_to_n_times(1)
        .mount(&okta)
        .await;
    logs()
        .and(query_param_is_missing("after"))
        .respond_with(
            page(vec![
                reset_event("before-poison", USER),
                reset_event("after-poison", USER),
            ])
            .append_header("link", next.as_str()),
        )
        .mount(&okta)
        .await;
    let app = spawn(backfilling(&okta, "")).await;

    app.wait_delivered("after-poison").await;
    let bodies = app.slack_bodies().await;
    assert_eq!(about(&bodies, "before-poison").len(), 1);
    assert_eq!(about(&bodies, "after-poison").len(), 1);
}

#[tokio::test]
async fn the_first_start_is_remembered_while_okta_fails() {
    let okta = MockServer::start().await;
    logs()
        .respond_with(ResponseTemplate::new(500))
        .mount(&okta)
        .await;
    let app = spawn(backfilling(&okta, "backfill_margin_secs = 0")).await;

    let requests = wait_for_log_requests(&okta, 3).await;
    let sinces: Vec<Option<String>> = requests.iter().map(|r| query(r, "since")).collect();
    assert!(
        sinces.iter().all(|since| since == &sinces[0]),
        "every failed first reading starts where the first did: {sinces:?}"
    );
    drop(app);
}

#[tokio::test]
async fn a_stored_position_in_the_future_is_brought_back() {
    let dir = tempfile::tempdir().expect("dir");
    let tomorrow = SystemTime::now() + Duration::from_secs(86_400);
    Store::open(&store_in(&dir))
        .expect("store")
        .save_log_position(okta_mfa_notifier::store::LogPosition {
            reconciled_until: Some(tomorrow),
            ..Default::default()
        })
        .await
        .expect("save");
    let okta = MockServer::start().await;
    logs()
        .respond_with(page(vec![reset_event("despite-the-clock", USER)]))
        .mount(&okta)
        .await;
    let app = spawn(Options {
        store_path: Some(store_in(&dir)),
        ..backfilling(&okta, "")
    })
    .await;

    app.wait_delivered("despite-the-clock").await;
    let gauge = metric(&app.metrics().await, "backfill_reconciled_until_seconds");
    assert!(gauge > 0.0 && gauge <= now_secs() as f64, "{gauge}");
}
