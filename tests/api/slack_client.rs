//! The Slack client against a stand-in: the request it sends and how it reads
//! every kind of answer.

use std::time::Duration;

use okta_mfa_notifier::slack::{PostMessage, SlackClient, SlackError};
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TIMEOUT: Duration = Duration::from_secs(1);

fn message() -> PostMessage {
    PostMessage {
        channel: "C0TESTCHAN".into(),
        text: "hello".into(),
        blocks: vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": "hello"}})],
        unfurl_links: false,
        unfurl_media: false,
    }
}

async fn answer(
    template: ResponseTemplate,
) -> Result<okta_mfa_notifier::slack::Posted, SlackError> {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(template)
        .expect(1)
        .mount(&slack)
        .await;
    let client = SlackClient::new(
        &format!("{}/api", slack.uri()),
        "xoxb-t".to_owned().into(),
        TIMEOUT,
    )
    .expect("client");
    client.post_message(&message()).await
}

#[tokio::test]
async fn the_request_carries_token_charset_and_body() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .and(header("authorization", "Bearer xoxb-t"))
        .and(header("content-type", "application/json; charset=utf-8"))
        .and(body_partial_json(json!({
            "channel": "C0TESTCHAN", "text": "hello", "unfurl_links": false, "unfurl_media": false
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": "C0TESTCHAN", "ts": "17.0001"})),
        )
        .expect(1)
        .mount(&slack)
        .await;
    let client =
        SlackClient::new(&slack.uri(), "xoxb-t".to_owned().into(), TIMEOUT).expect("client");
    let posted = client.post_message(&message()).await.expect("posted");
    assert_eq!(
        (posted.channel.as_str(), posted.ts.as_str()),
        ("C0TESTCHAN", "17.0001")
    );
}

#[tokio::test]
async fn ok_false_is_a_failure_sorted_by_its_code() {
    let ok_false =
        |code: &str| ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": code}));
    assert!(matches!(
        answer(ok_false("not_in_channel")).await,
        Err(SlackError::Permanent { code }) if code == "not_in_channel"
    ));
    assert!(matches!(
        answer(ok_false("invalid_auth")).await,
        Err(SlackError::Permanent { .. })
    ));
    assert!(matches!(
        answer(ok_false("invalid_blocks")).await,
        Err(SlackError::InvalidPayload { .. })
    ));
    assert!(matches!(answer(ok_false("internal_error")).await, Err(e) if e.is_transient()));
}

#[tokio::test]
async fn rate_limits_and_outages_are_transient() {
    let limited = answer(ResponseTemplate::new(429).insert_header("retry-after", "2")).await;
    assert!(matches!(
        limited,
        Err(SlackError::RateLimited { retry_after: Some(d) }) if d == Duration::from_secs(2)
    ));
    assert!(matches!(
        answer(ResponseTemplate::new(503)).await,
        Err(SlackError::Transient(_))
    ));
    assert!(matches!(
        answer(ResponseTemplate::new(200).set_body_string("<html>proxy error</html>")).await,
        Err(SlackError::Transient(_))
    ));
}

#[tokio::test]
async fn a_slow_slack_is_a_transient_timeout() {
    let slow = answer(
        ResponseTemplate::new(200)
            .set_body_json(json!({"ok": true, "channel": "C", "ts": "1"}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    assert!(matches!(slow, Err(SlackError::Transient(reason)) if reason.contains("timed out")));
}

#[tokio::test]
async fn an_unreachable_slack_is_transient() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = closed.local_addr().expect("addr");
    drop(closed);
    let client = SlackClient::new(
        &format!("http://{address}"),
        "xoxb-t".to_owned().into(),
        TIMEOUT,
    )
    .expect("client");
    assert!(matches!(
        client.post_message(&message()).await,
        Err(SlackError::Transient(_))
    ));
}
