//! Attacks found by trying to break the service, each kept as a regression
//! test: they crashed the worker, forged log lines, flooded the log, or were
//! accepted although they are not Okta deliveries.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::{RunningBinary, delivery, reset_event, spawn};

#[tokio::test]
async fn a_time_out_of_utc_range_neither_crashes_nor_loses_the_alert() {
    let mut app = spawn(Default::default()).await;
    let mut event = reset_event("far-future", ("00uY10k", "y10k@example.com", "Y Ten K"));
    event["published"] = json!("9999-12-31T23:59:59-01:00");
    assert_eq!(app.post_delivery(delivery(vec![event])).await.status(), 200);

    let messages = app.slack_messages().await;
    assert_eq!(
        messages.len(),
        1,
        "the alert is delivered, and the worker lives on"
    );
    assert!(
        messages[0]["text"]
            .as_str()
            .expect("text")
            .contains("9999-12-31T23:59:59-01:00")
    );
}

#[tokio::test]
async fn structs_in_array_form_are_not_deliveries() {
    let app = spawn(Default::default()).await;
    for body in [
        r#"[null,null,[[{"uuid":"a","published":"p","eventType":"user.mfa.factor.reset_all"}]]]"#,
        r#"["com.okta.event_hook","id",{"events":[]}]"#,
        r#"{"data":[[{"uuid":"a","published":"p","eventType":"user.mfa.factor.reset_all"}]]}"#,
    ] {
        assert_eq!(app.post_delivery(body).await.status(), 400, "{body}");
    }
}

#[tokio::test]
async fn a_bad_request_is_answered_without_echoing_the_body() {
    let app = spawn(Default::default()).await;
    let filler = "A".repeat(60_000);
    let response = app.post_delivery(format!(r#"{{"data":"{filler}"}}"#)).await;
    assert_eq!(response.status(), 400);
    let reason = response.text().await.expect("body");
    assert!(reason.len() < 200, "{} bytes", reason.len());
}

#[tokio::test]
async fn okta_strings_cannot_forge_log_lines_or_flood_the_log() {
    let mut service = RunningBinary::start(&[]).await;
    let forged = "x\n2026-12-03T00:00:00.000000Z ERROR okta_mfa_notifier: FORGED LINE\u{1b}[31m";
    let response = service
        .post(delivery(vec![reset_event(
            forged,
            ("00uF", "f@example.com", "F"),
        )]))
        .await;
    assert_eq!(response.status(), 200);

    let junk: Vec<_> = (0..20_000).map(|_| json!(1)).collect();
    assert_eq!(service.post(delivery(junk)).await.status(), 200);

    tokio::time::sleep(Duration::from_millis(500)).await;
    service.terminate(Duration::from_secs(10)).await;
    let logs = service.remaining_stderr().await;
    assert!(
        !logs
            .iter()
            .any(|l| l.starts_with("2026-12-03T00:00:00.000000Z")),
        "a log line was forged: {logs:#?}"
    );
    assert!(
        !logs.iter().any(|l| l.contains('\u{1b}')),
        "raw escape codes reached the log"
    );
    assert!(
        logs.len() < 100,
        "{} log lines for two deliveries",
        logs.len()
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_cannot_hold_up_a_stop() {
    let mut service = RunningBinary::start(&[]).await;
    let mut slow = TcpStream::connect(("127.0.0.1", service.port))
        .await
        .expect("connect");
    slow.write_all(b"POST /okta/event-hook HTTP/1.1\r\nHost: x\r\nAuthorization: example-secret-change-me\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .expect("partial request");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let exit = service.terminate(Duration::from_secs(10)).await;
    assert!(exit.success(), "{exit}");
    drop(slow);
}
