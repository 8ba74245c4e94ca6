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

#[tokio::test]
async fn a_huge_retry_after_neither_crashes_nor_holds_the_channel() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(429).insert_header("retry-after", "18446744073709551615"),
        )
        .up_to_n_times(1)
        .mount(&slack)
        .await;
    crate::helpers::mount_slack_ok(&slack).await;
    let app = spawn(crate::helpers::Options {
        slack_server: Some(std::sync::Arc::new(slack)),
        slack_ok: false,
        ..Default::default()
    })
    .await;
    let first = reset_event("limited-1", ("00uL1", "l1@example.com", "L1"));
    let second = reset_event("limited-2", ("00uL2", "l2@example.com", "L2"));
    assert_eq!(
        app.post_delivery(delivery(vec![first, second]))
            .await
            .status(),
        200
    );

    // The wait is capped at delivery.retry_max_secs (1 s in tests).
    app.wait_delivered("limited-1").await;
    let all = app.wait_delivered("limited-2").await;
    assert_eq!(all.len(), 3, "the limited call, then each alert once");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("okta_mfa_notifier_alerts_retried_total 1\n"),
        "the retry was scheduled, not lost to a crash:\n{metrics}"
    );
}

#[tokio::test]
async fn the_bot_token_never_follows_a_redirect() {
    use wiremock::{MockServer, ResponseTemplate};

    let elsewhere = MockServer::start().await;
    crate::helpers::mount_slack_ok(&elsewhere).await;
    let app = crate::helpers::spawn_with_slack_answer(
        ResponseTemplate::new(307)
            .insert_header("location", format!("{}/chat.postMessage", elsewhere.uri())),
    )
    .await;
    assert_eq!(
        app.post_delivery(crate::helpers::example("01-admin-reset-all.json"))
            .await
            .status(),
        200
    );
    let store = okta_mfa_notifier::store::Store::open(&app.store_path).expect("store");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.dead_letters().await.expect("read").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        elsewhere
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "the token went elsewhere"
    );
    let letters = store.dead_letters().await.expect("read");
    assert!(
        letters[0].error.contains("redirected"),
        "{}",
        letters[0].error
    );
}

#[tokio::test]
async fn shared_memory_or_lock_files_deleted_under_the_service_are_noticed() {
    for suffix in ["-shm", ".lock"] {
        let app = spawn(Default::default()).await;
        let file = format!("{}{suffix}", app.store_path.display());
        std::fs::remove_file(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let response = app
            .post_delivery(crate::helpers::example("01-admin-reset-all.json"))
            .await;
        assert_eq!(response.status(), 503, "{suffix}");
    }
}

#[tokio::test]
async fn a_caller_request_id_is_kept_only_when_it_is_short_and_plain() {
    let app = spawn(Default::default()).await;
    let send = |id: String| {
        app.http
            .get(app.url("/okta/event-hook"))
            .header("x-request-id", id)
            .send()
    };
    let kept = send("okta-trace-42".into()).await.expect("sent");
    assert_eq!(kept.headers()["x-request-id"], "okta-trace-42");
    for bad in ["x".repeat(5_000), "a b".to_owned(), "é".to_owned()] {
        let replaced = send(bad.clone()).await.expect("sent");
        let id = replaced.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert_ne!(id, bad);
        assert!(
            id.len() > 17 && id.as_bytes()[16] == b'-',
            "a fresh id: {id}"
        );
    }
}

#[tokio::test]
async fn slack_answers_are_kept_to_plain_text() {
    use wiremock::ResponseTemplate;

    let app = crate::helpers::spawn_with_slack_answer(ResponseTemplate::new(200).set_body_json(
        json!({"ok": true, "channel": "C1\nERROR forged\u{1b}[31m", "ts": "1.2\r\n"}),
    ))
    .await;
    assert_eq!(
        app.post_delivery(crate::helpers::example("01-admin-reset-all.json"))
            .await
            .status(),
        200
    );
    app.wait_delivered("aab7b6f0-1ea8-553e-89c6-e82b9d6c2851")
        .await;
    let store = okta_mfa_notifier::store::Store::open(&app.store_path).expect("store");
    let record = store
        .delivered_record("aab7b6f0-1ea8-553e-89c6-e82b9d6c2851")
        .await
        .expect("read")
        .expect("delivered");
    assert_eq!(
        (record.channel.as_str(), record.ts.as_str()),
        ("C1ERRORforged31m", "1.2")
    );
}

/// The service with a request timeout of 3 s, the least it takes.
async fn spawn_with_short_timeouts() -> crate::helpers::TestApp {
    spawn(crate::helpers::Options {
        server: "request_timeout_secs = 3".into(),
        ..Default::default()
    })
    .await
}

/// Sends `partial` to a service whose request timeout is 3 s, then waits
/// for what comes back: the bytes read (0 when closed), and how long it took.
async fn after_partial_request(partial: String) -> (std::io::Result<Vec<u8>>, Duration) {
    let app = spawn_with_short_timeouts().await;
    let mut slow = TcpStream::connect(app.address).await.expect("connect");
    slow.write_all(partial.as_bytes())
        .await
        .expect("partial request");
    let started = std::time::Instant::now();
    let mut answer = vec![0; 64];
    let read = tokio::time::timeout(
        Duration::from_secs(8),
        tokio::io::AsyncReadExt::read(&mut slow, &mut answer),
    )
    .await
    .expect("the service answers or closes in time");
    (read.map(|n| answer[..n].to_vec()), started.elapsed())
}

#[tokio::test]
async fn a_client_that_sends_its_body_slowly_is_cut_off() {
    let (read, took) = after_partial_request(format!(
        "POST /okta/event-hook HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        crate::helpers::SECRET
    ))
    .await;
    let answer = read.expect("read");
    let status_line = String::from_utf8_lossy(&answer);
    assert!(status_line.starts_with("HTTP/1.1 408"), "{status_line}");
    assert!(took >= Duration::from_secs(2), "not before the timeout");
}

#[tokio::test]
async fn a_client_that_sends_its_headers_slowly_is_disconnected() {
    let (read, took) =
        after_partial_request("POST /okta/event-hook HTTP/1.1\r\nHost: x\r\n".into()).await;
    assert!(
        matches!(&read, Ok(bytes) if bytes.is_empty()) || read.is_err(),
        "closed, not answered: {read:?}"
    );
    assert!(took >= Duration::from_secs(2), "not before the timeout");
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected() {
    let app = spawn_with_short_timeouts().await;
    let mut slow = TcpStream::connect(app.address).await.expect("connect");
    let started = std::time::Instant::now();
    // One byte a second: never silent for the read timeout, so only a
    // deadline for the headers as a whole can end it.
    let headers = b"POST /okta/event-hook HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for byte in headers {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut answer = [0; 64];
        match tokio::time::timeout(
            Duration::from_secs(1),
            tokio::io::AsyncReadExt::read(&mut slow, &mut answer),
        )
        .await
        {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => panic!("answered: {}", String::from_utf8_lossy(&answer[..n])),
        }
    }
    let took = started.elapsed();
    assert!(closed, "still open after {took:?}");
    assert!(
        (Duration::from_secs(2)..Duration::from_secs(8)).contains(&took),
        "closed at the header deadline, not {took:?}"
    );
}

#[tokio::test]
async fn a_client_that_never_reads_its_answers_is_disconnected() {
    let app = spawn_with_short_timeouts().await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let mut greedy = socket.connect(app.address).await.expect("connect");
    let requests = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1_000);
    let started = std::time::Instant::now();
    // Pipelined requests, never an answer read: once the buffers both ways
    // are full, the server can neither write nor read, and only a deadline
    // for writing frees the connection. Its close makes a write fail.
    let sending = async {
        loop {
            if greedy.write_all(requests.as_bytes()).await.is_err() {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), sending)
        .await
        .expect("the connection is closed while answers go unread");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "not before the timeout: {:?}",
        started.elapsed()
    );
    let response = app
        .http
        .get(app.url("/okta/event-hook"))
        .send()
        .await
        .expect("the service still answers");
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_their_turn() {
    let app = spawn(crate::helpers::Options {
        server: "max_connections = 2".into(),
        ..Default::default()
    })
    .await;
    let first = TcpStream::connect(app.address).await.expect("connect");
    let _second = TcpStream::connect(app.address).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let waiting = tokio::spawn({
        let http = reqwest::Client::new();
        let url = app.url("/okta/event-hook");
        async move {
            http.get(url)
                .header("x-okta-verification-challenge", "abc")
                .header("authorization", crate::helpers::SECRET)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection is not served while two are open"
    );

    drop(first);
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once a slot frees")
        .expect("task")
        .expect("answer");
    assert_eq!(status, 200);
}
