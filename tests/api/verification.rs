//! Okta's one-time verification request, and the secret check on every request.

use serde_json::{Value, json};

use crate::helpers::{OLD_SECRET, SECRET, example, spawn_app};

#[tokio::test]
async fn verification_echoes_the_challenge_as_json() {
    let app = spawn_app().await;
    for path in ["/okta/event-hook", "/okta/event-hook/"] {
        let response = app
            .http
            .get(app.url(path))
            .header("X-Okta-Verification-Challenge", "chAll3nge-value_01")
            .header("authorization", SECRET)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"].to_str().expect("ascii"),
            "application/json"
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(body, json!({"verification": "chAll3nge-value_01"}));
    }
}

#[tokio::test]
async fn verification_without_the_header_is_a_bad_request() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/okta/event-hook"))
        .header("authorization", SECRET)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn verification_checks_the_secret() {
    let app = spawn_app().await;
    for secret in [None, Some("wrong"), Some("hook-secret-current-and-more")] {
        let mut request = app
            .http
            .get(app.url("/okta/event-hook"))
            .header("x-okta-verification-challenge", "abc");
        if let Some(secret) = secret {
            request = request.header("authorization", secret);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), 401, "{secret:?}");
        assert_eq!(response.text().await.expect("body"), "", "401 says nothing");
    }
}

#[tokio::test]
async fn deliveries_need_one_of_the_configured_secrets() {
    let mut app = spawn_app().await;
    let body = example("01-admin-reset-all.json");

    for secret in [None, Some("wrong-secret"), Some("")] {
        let mut request = app
            .http
            .post(app.url("/okta/event-hook"))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(secret) = secret {
            request = request.header("authorization", secret);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), 401, "{secret:?}");
        assert_eq!(response.text().await.expect("body"), "");
    }
    assert!(
        app.slack_messages().await.is_empty(),
        "refused deliveries alert nobody"
    );

    for secret in [SECRET, OLD_SECRET] {
        let response = app
            .http
            .post(app.url("/okta/event-hook"))
            .header("authorization", secret)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "{secret}");
    }
    assert_eq!(
        app.slack_messages().await.len(),
        1,
        "one alert for the event"
    );
}

#[tokio::test]
async fn the_secret_header_name_is_configurable() {
    let app = crate::helpers::spawn_app_with(r#"auth_header = "X-Hook-Token""#).await;
    let send = |header: &'static str| {
        app.http
            .get(app.url("/okta/event-hook"))
            .header("x-okta-verification-challenge", "abc")
            .header(header, SECRET)
            .send()
    };
    assert_eq!(send("authorization").await.expect("sent").status(), 401);
    assert_eq!(send("x-hook-token").await.expect("sent").status(), 200);
}
