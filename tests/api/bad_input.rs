//! Bad input gets a clear status, and the service keeps working afterwards.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{SECRET, TestApp, delivery, example, reset_event, spawn_app};

async fn post_raw(app: &TestApp, content_type: Option<&str>, body: &str) -> (u16, String) {
    let mut request = app
        .http
        .post(app.url("/okta/event-hook"))
        .header("authorization", SECRET)
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn each_bad_body_gets_its_status_and_the_service_goes_on() {
    let mut app = spawn_app().await;
    let good = example("01-admin-reset-all.json");
    let cases: &[(Option<&str>, &str, u16)] = &[
        (None, &good, 415),
        (Some("text/plain"), &good, 415),
        (Some("application/x-www-form-urlencoded"), &good, 415),
        (Some("application/json"), "{\"data\": {\"events\": [", 400),
        (Some("application/json"), "not json at all", 400),
        (Some("application/json"), "", 400),
        (Some("application/json"), "[]", 400),
        (Some("application/json"), "{\"hello\": \"world\"}", 400),
        (Some("application/json"), "{\"data\": null}", 400),
        (Some("application/json"), "{\"data\": {\"events\": 3}}", 400),
        (
            Some("application/json"),
            "{\"data\": {\"events\": []}}",
            200,
        ),
        (Some("Application/JSON; charset=UTF-8"), &good, 200),
    ];
    for (content_type, body, expected) in cases {
        let (status, reason) = post_raw(&app, *content_type, body).await;
        assert_eq!(status, *expected, "{content_type:?} {:.40}: {reason}", body);
        if status >= 400 {
            assert!(!reason.trim().is_empty(), "a 4xx says why");
        }
    }
    assert_eq!(
        app.slack_messages().await.len(),
        1,
        "only the good delivery alerts"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let mut app = spawn_app().await;
    let padding = "x".repeat(70_000);
    let mut event = reset_event("too-big", ("00uBig", "big@example.com", "Big"));
    event["padding"] = serde_json::Value::String(padding);
    let (status, _) = post_raw(&app, Some("application/json"), &delivery(vec![event])).await;
    assert_eq!(status, 413);
    assert!(app.slack_messages().await.is_empty());
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_with_413() {
    let mut app = spawn_app().await;
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    let head = format!(
        "POST /okta/event-hook HTTP/1.1\r\nHost: test\r\nAuthorization: {SECRET}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
    for _ in 0..8 {
        // The server may answer and stop reading before the last chunk.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0; 64];
    let read = stream.read(&mut answer).await.expect("answer");
    let status_line = String::from_utf8_lossy(&answer[..read]);
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");

    assert_eq!(
        app.post_delivery(example("01-admin-reset-all.json"))
            .await
            .status(),
        200,
        "the service still takes deliveries"
    );
    assert_eq!(app.slack_messages().await.len(), 1);
}

#[tokio::test]
async fn other_methods_and_paths_are_refused() {
    let app = spawn_app().await;
    let put = app
        .http
        .put(app.url("/okta/event-hook"))
        .header("authorization", SECRET)
        .send()
        .await
        .expect("sent");
    assert_eq!(put.status(), 405);
    let elsewhere = app
        .http
        .post(app.url("/okta/other"))
        .header("authorization", SECRET)
        .send()
        .await
        .expect("sent");
    assert_eq!(elsewhere.status(), 404);
}
