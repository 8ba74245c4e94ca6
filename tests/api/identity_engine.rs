//! Identity Engine resets arrive as one `user.mfa.factor.deactivate` per
//! factor: they are folded into one alert per user and admin action.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Options, TestApp, delivery, example, spawn};

/// The fold of the burst in `05-oie-authenticator-reset-burst.json`.
const BURST_FOLD: &str =
    "fold:00u7trg7Tb3Lm9Qz0e4:00u1adm1nQx7Kp2Wv0e4:w3LAAAu3Yt9Re6Wq0Mn4Bv8Cx2Zk";
/// The admin of the burst.
const ADMIN: &str = "00u1adm1nQx7Kp2Wv0e4";

const FACTORS: [&str; 5] = [
    "SIGNED_NONCE",
    "OKTA_VERIFY_PUSH",
    "OKTA_SOFT_TOKEN",
    "FIDO_WEBAUTHN",
    "SMS_FACTOR",
];

fn watching_deactivations(extra: &str) -> Options {
    Options {
        okta: format!(
            "event_types = [\"user.mfa.factor.reset_all\", \"user.mfa.factor.deactivate\"]\n\
             deactivation_window_secs = 1\n{extra}"
        ),
        ..Options::default()
    }
}

fn burst_events() -> Vec<Value> {
    let body: Value =
        serde_json::from_str(&example("05-oie-authenticator-reset-burst.json")).expect("json");
    body["data"]["events"].as_array().expect("events").clone()
}

/// The burst, moved to another user and transaction.
fn burst_of(user_id: &str, login: &str, transaction: &str) -> Vec<Value> {
    burst_events()
        .into_iter()
        .enumerate()
        .map(|(i, mut event)| {
            event["uuid"] = json!(format!("{transaction}-{i}"));
            event["target"][0]["id"] = json!(user_id);
            event["target"][0]["alternateId"] = json!(login);
            event["target"][0]["displayName"] = json!(login);
            event["transaction"]["id"] = json!(transaction);
            event
        })
        .collect()
}

fn texts(app_messages: &[Value]) -> Vec<String> {
    app_messages
        .iter()
        .map(|m| m["text"].as_str().expect("text").to_owned())
        .collect()
}

/// Messages after the fold `key` is delivered and a little more time passed.
async fn settled(app: &TestApp, key: &str) -> Vec<String> {
    app.wait_delivered(key).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    texts(&app.slack_bodies().await)
}

#[tokio::test]
async fn a_burst_of_deactivations_gives_one_alert() {
    let app = spawn(watching_deactivations("")).await;
    let response = app
        .post_delivery(example("05-oie-authenticator-reset-burst.json"))
        .await;
    assert_eq!(response.status(), 200);

    let texts = settled(&app, BURST_FOLD).await;
    assert_eq!(texts.len(), 1, "{texts:#?}");
    let text = &texts[0];
    assert!(
        text.contains("Tomás Berg") && text.contains("tomas.berg@example.com"),
        "{text}"
    );
    assert!(
        text.contains("had 5 MFA factors removed by *Amara Lindqvist*"),
        "{text}"
    );
    for factor in FACTORS {
        assert!(text.contains(factor), "{factor} missing:\n{text}");
    }
    assert!(
        text.contains("Okta transaction: w3LAAAu3Yt9Re6Wq0Mn4Bv8Cx2Zk"),
        "{text}"
    );
}

#[tokio::test]
async fn a_burst_split_shuffled_and_redelivered_still_gives_one_alert() {
    let app = spawn(watching_deactivations("")).await;
    let events = burst_events();
    let first = vec![events[3].clone(), events[1].clone()];
    let second = vec![events[4].clone(), events[0].clone(), events[2].clone()];
    assert_eq!(
        app.post_delivery(delivery(first.clone())).await.status(),
        200
    );
    assert_eq!(app.post_delivery(delivery(second)).await.status(), 200);
    assert_eq!(app.post_delivery(delivery(first)).await.status(), 200);

    let texts = settled(&app, BURST_FOLD).await;
    assert_eq!(texts.len(), 1, "{texts:#?}");
    for factor in FACTORS {
        assert!(texts[0].contains(factor), "{factor} missing:\n{}", texts[0]);
    }

    // Okta redelivers the whole burst after the alert went out.
    let again = app
        .post_delivery(example("05-oie-authenticator-reset-burst.json"))
        .await;
    assert_eq!(again.status(), 200);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(app.slack_bodies().await.len(), 1, "still one alert");
}

#[tokio::test]
async fn two_users_get_two_alerts() {
    let app = spawn(watching_deactivations("")).await;
    let mut events = burst_of("00uUserOne0000000001", "one@example.com", "txOne");
    events.extend(burst_of("00uUserTwo0000000002", "two@example.com", "txTwo"));
    assert_eq!(app.post_delivery(delivery(events)).await.status(), 200);

    app.wait_delivered("fold:00uUserOne0000000001:00u1adm1nQx7Kp2Wv0e4:txOne")
        .await;
    let texts = settled(&app, "fold:00uUserTwo0000000002:00u1adm1nQx7Kp2Wv0e4:txTwo").await;
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(texts.iter().any(|t| t.contains("one@example.com")));
    assert!(texts.iter().any(|t| t.contains("two@example.com")));
}

#[tokio::test]
async fn deactivations_without_a_transaction_fold_within_the_window() {
    let app = spawn(watching_deactivations("")).await;
    let events: Vec<Value> = burst_events()
        .into_iter()
        .map(|mut event| {
            event["transaction"] = Value::Null;
            event
        })
        .collect();
    assert_eq!(app.post_delivery(delivery(events)).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let texts = texts(&app.slack_bodies().await);
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert!(
        texts[0].contains("had 5 MFA factors removed"),
        "{}",
        texts[0]
    );
}

#[tokio::test]
async fn a_user_removing_their_own_factor_alerts_only_when_asked() {
    // 03 holds a reset of one user and a self-service removal by another.
    let mut quiet = spawn(watching_deactivations("")).await;
    let messages = quiet.deliver(example("03-mixed-batch.json")).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let all = texts(&quiet.slack_messages().await);
    assert_eq!(messages.len(), 1);
    assert_eq!(all.len(), 1, "only the reset: {all:#?}");

    let loud = spawn(watching_deactivations("alert_self_service_removals = true")).await;
    assert_eq!(
        loud.post_delivery(example("03-mixed-batch.json"))
            .await
            .status(),
        200
    );
    let texts = settled(
        &loud,
        "fold:00u3sel3Nh5Rt8Xy0e4:00u3sel3Nh5Rt8Xy0e4:q1GAAAz9Lk5Jh2Gf6Ds0Ap4Oi8Uf",
    )
    .await;
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("had an MFA factor removed by the user themself"))
    );
}

#[tokio::test]
async fn a_reset_all_is_not_held_back_by_a_fold() {
    let app = spawn(Options {
        okta: "event_types = [\"user.mfa.factor.reset_all\", \"user.mfa.factor.deactivate\"]\n\
               deactivation_window_secs = 3"
            .into(),
        ..Options::default()
    })
    .await;
    let mut events = burst_events();
    let reset: Value = serde_json::from_str(&example("01-admin-reset-all.json")).expect("json");
    events.push(reset["data"]["events"][0].clone());
    let posted = Instant::now();
    assert_eq!(app.post_delivery(delivery(events)).await.status(), 200);

    app.wait_delivered("aab7b6f0-1ea8-553e-89c6-e82b9d6c2851")
        .await;
    assert!(
        posted.elapsed() < Duration::from_secs(2),
        "the reset went out at once"
    );
    assert_eq!(
        app.slack_bodies().await.len(),
        1,
        "the fold is still gathering"
    );
    let texts = settled(&app, BURST_FOLD).await;
    assert_eq!(texts.len(), 2);
}

/// An Okta API stand-in answering the factors of the burst's user.
async fn okta_answering(template: ResponseTemplate) -> MockServer {
    let okta = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/00u7trg7Tb3Lm9Qz0e4/factors"))
        .and(header("authorization", "SSWS okta-api-test-token"))
        .respond_with(template)
        .mount(&okta)
        .await;
    okta
}

async fn burst_alert_with(okta: &MockServer) -> String {
    let app = spawn(Options {
        org_url: okta.uri(),
        ..watching_deactivations("api_token = \"okta-api-test-token\"")
    })
    .await;
    let response = app
        .post_delivery(example("05-oie-authenticator-reset-burst.json"))
        .await;
    assert_eq!(response.status(), 200);
    let texts = settled(&app, BURST_FOLD).await;
    assert_eq!(texts.len(), 1, "{texts:#?}");
    texts[0].clone()
}

#[tokio::test]
async fn okta_says_whether_any_factor_remains() {
    let none_left = okta_answering(ResponseTemplate::new(200).set_body_json(json!([]))).await;
    let text = burst_alert_with(&none_left).await;
    assert!(text.contains("Okta reports no MFA factor left"), "{text}");
    assert!(text.contains("Still enrolled: none"), "{text}");
    let lookups = none_left
        .received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .filter(|r| r.url.path().ends_with("/factors"))
        .count();
    assert_eq!(lookups, 1);

    let some_left = okta_answering(ResponseTemplate::new(200).set_body_json(json!([
        {"id": "sms1", "factorType": "sms", "provider": "OKTA", "status": "ACTIVE"},
        {"id": "old1", "factorType": "question", "provider": "OKTA", "status": "PENDING_ACTIVATION"}
    ])))
    .await;
    let text = burst_alert_with(&some_left).await;
    assert!(text.contains("Still enrolled: sms (OKTA)"), "{text}");
    assert!(
        !text.contains("question"),
        "only active factors count: {text}"
    );
}

#[tokio::test]
async fn an_okta_api_failure_lets_the_alert_through_unchanged() {
    let failing = okta_answering(ResponseTemplate::new(500)).await;
    let slow = okta_answering(
        ResponseTemplate::new(200)
            .set_body_json(json!([]))
            .set_delay(Duration::from_secs(5)),
    )
    .await;
    for okta in [&failing, &slow] {
        let text = burst_alert_with(okta).await;
        assert!(text.contains("had 5 MFA factors removed"), "{text}");
        assert!(!text.contains("Still enrolled"), "{text}");
        assert!(!text.contains("no MFA factor left"), "{text}");
    }
}

#[tokio::test]
async fn removals_by_two_actors_without_a_transaction_are_two_alerts() {
    let app = spawn(watching_deactivations("")).await;
    let events: Vec<Value> = burst_events()
        .into_iter()
        .enumerate()
        .map(|(i, mut event)| {
            event["transaction"] = Value::Null;
            if i >= 3 {
                event["actor"]["id"] = json!("00uOtherAdmin0000001");
                event["actor"]["alternateId"] = json!("mallory@example.com");
                event["actor"]["displayName"] = json!("Mallory");
            }
            event
        })
        .collect();
    assert_eq!(app.post_delivery(delivery(events)).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let texts = texts(&app.slack_bodies().await);
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("had 3 MFA factors removed by *Amara Lindqvist*"))
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("had 2 MFA factors removed by *Mallory*"))
    );
}

#[tokio::test]
async fn factors_of_the_same_kind_count_once_each() {
    let app = spawn(watching_deactivations("")).await;
    let mut events = burst_events();
    let mut second_key = events[3].clone();
    second_key["uuid"] = json!("second-security-key");
    second_key["target"][1]["id"] = json!("fwfSecondKey0000001");
    events.push(second_key);
    assert_eq!(app.post_delivery(delivery(events)).await.status(), 200);
    let texts = settled(&app, BURST_FOLD).await;
    assert!(
        texts[0].contains("had 6 MFA factors removed"),
        "{}",
        texts[0]
    );
}

#[tokio::test]
async fn events_that_come_while_or_after_the_alert_is_sent_follow_up() {
    // The Okta API holds the send for a while; events arriving meanwhile,
    // and after the alert went out, must not be lost.
    let okta = okta_answering(
        ResponseTemplate::new(200)
            .set_body_json(json!([]))
            .set_delay(Duration::from_millis(1_500)),
    )
    .await;
    let app = spawn(Options {
        org_url: okta.uri(),
        ..watching_deactivations("api_token = \"okta-api-test-token\"")
    })
    .await;
    let events = burst_events();
    assert_eq!(
        app.post_delivery(delivery(events[..2].to_vec()))
            .await
            .status(),
        200
    );
    // The fold is due after 1 s; its send then waits 1.5 s for Okta.
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    assert_eq!(
        app.post_delivery(delivery(events[2..4].to_vec()))
            .await
            .status(),
        200
    );
    app.wait_delivered(BURST_FOLD).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.post_delivery(delivery(events[4..].to_vec()))
            .await
            .status(),
        200
    );

    tokio::time::sleep(Duration::from_millis(6_000)).await;
    let all = texts(&app.slack_bodies().await).join("\n---\n");
    for factor in FACTORS {
        // Each alert names its factors twice: in its summary and its field.
        let named = format!("({factor})");
        assert_eq!(
            all.matches(&named).count(),
            2,
            "{factor} in one alert only:\n{all}"
        );
    }
    assert!(
        all.contains("more MFA factor"),
        "a follow-up says more were removed:\n{all}"
    );
    let _ = ADMIN;
}
