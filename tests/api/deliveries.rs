//! Real deliveries: every example shape, batches, and hostile strings.

use serde_json::{Value, json};

use crate::helpers::{CHANNEL, delivery, example, reset_event, spawn_app};

fn text(message: &Value) -> &str {
    message["text"].as_str().expect("text fallback")
}

fn uuids(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            m["blocks"]
                .to_string()
                .split("Okta event*\\n")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("uuid field")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn an_admin_reset_gives_one_complete_alert() {
    let mut app = spawn_app().await;
    let response = app.post_delivery(example("01-admin-reset-all.json")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.expect("body"),
        "",
        "Okta wants an empty answer"
    );

    let messages = app.slack_messages().await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message["channel"], CHANNEL);
    assert_eq!(message["unfurl_links"], false);
    assert_eq!(message["unfurl_media"], false);
    assert_eq!(message["blocks"][0]["type"], "header");
    assert_eq!(
        message["blocks"][0]["text"]["text"],
        ":rotating_light: All MFA factors reset"
    );
    for needle in [
        "had all MFA factors reset by",
        "Tomás Berg",
        "tomas.berg@example.com",
        "Amara Lindqvist",
        "amara.lindqvist@example.com",
        "an admin",
        "2026-10-24T08:42:17Z",
        "203.0.113.51 (Porto, Norte, Portugal)",
        "SUCCESS",
        "aab7b6f0-1ea8-553e-89c6-e82b9d6c2851",
        "https://example-admin.okta.com/admin/user/profile/view/00u7trg7Tb3Lm9Qz0e4",
    ] {
        assert!(
            text(message).contains(needle),
            "{needle} missing:\n{}",
            text(message)
        );
    }
    assert_eq!(uuids(&messages), ["aab7b6f0-1ea8-553e-89c6-e82b9d6c2851"]);
}

#[tokio::test]
async fn a_self_reset_names_the_user_themself() {
    let mut app = spawn_app().await;
    let messages = app.deliver(example("02-self-reset-all.json")).await;
    assert_eq!(messages.len(), 1);
    let text = text(&messages[0]);
    assert!(text.contains("Noor Haddad"), "{text}");
    assert!(
        text.contains("by the user themself through OAuth app 0oa"),
        "{text}"
    );
    assert!(text.contains("2001:db8:77:5::3"), "{text}");
}

#[tokio::test]
async fn a_mixed_batch_alerts_only_on_the_reset() {
    let mut app = spawn_app().await;
    let messages = app.deliver(example("03-mixed-batch.json")).await;
    assert_eq!(messages.len(), 1);
    let text = text(&messages[0]);
    assert!(text.contains("Tomás Berg"), "{text}");
    assert!(
        text.contains("an API client using API token 00T9tok9Zq1Ws3Er0e4"),
        "{text}"
    );
    assert!(text.contains("Ticket Sync Service"), "{text}");
    assert!(text.contains("proxy"), "{text}");
}

#[tokio::test]
async fn unusual_shapes_still_give_every_alert() {
    let mut app = spawn_app().await;
    let messages = app.deliver(example("04-unusual-shapes.json")).await;
    assert_eq!(messages.len(), 3, "three resets in the batch");

    let system = text(&messages[0]);
    assert!(system.contains("kofi.mensah@example.org"), "{system}");
    assert!(
        system.contains("Okta itself (system principal)"),
        "{system}"
    );
    assert!(system.contains("unknown address"), "{system}");

    let failed = text(&messages[1]);
    assert!(
        failed.contains("the target of an attempt to reset all MFA factors"),
        "{failed}"
    );
    assert!(
        failed.contains("FAILURE: User is not enrolled in any factor"),
        "{failed}"
    );
    assert!(failed.contains("lena.novak@example.org"), "{failed}");

    let third = text(&messages[2]);
    assert!(third.contains("arjun.mehta@example.org"), "{third}");
    assert!(third.contains("an admin"), "{third}");
}

#[tokio::test]
async fn identity_engine_deactivations_are_not_selected_by_default() {
    let mut app = spawn_app().await;
    let response = app
        .post_delivery(example("05-oie-authenticator-reset-burst.json"))
        .await;
    assert_eq!(response.status(), 200);
    assert!(app.slack_messages().await.is_empty());
}

#[tokio::test]
async fn the_watched_event_types_are_configurable() {
    let mut app = crate::helpers::spawn_app_with(
        r#"event_types = ["user.mfa.factor.reset_all", "user.mfa.factor.activate"]"#,
    )
    .await;
    let messages = app.deliver(example("03-mixed-batch.json")).await;
    assert_eq!(messages.len(), 2, "the reset and the factor enrolment");
    assert!(
        text(&messages[1]).contains("*Tomás Berg* (tomas.berg@example.com) was the target of Okta event user.mfa.factor.activate by the user themself"),
        "{}",
        text(&messages[1])
    );
}

#[tokio::test]
async fn a_batch_of_resets_gives_one_alert_each() {
    let mut app = spawn_app().await;
    let users = [
        ("00uBatchA00000000001", "a@example.com", "User A"),
        ("00uBatchB00000000002", "b@example.com", "User B"),
        ("00uBatchC00000000003", "c@example.com", "User C"),
    ];
    let events = users
        .iter()
        .enumerate()
        .map(|(i, user)| reset_event(&format!("batch-{i}"), *user))
        .collect();
    assert_eq!(app.post_delivery(delivery(events)).await.status(), 200);
    let messages = app.slack_messages().await;
    assert_eq!(uuids(&messages), ["batch-0", "batch-1", "batch-2"]);
    for (message, user) in messages.iter().zip(users) {
        assert!(text(message).contains(user.1));
    }
}

#[tokio::test]
async fn one_unreadable_event_does_not_spoil_its_batch() {
    let mut app = spawn_app().await;
    let mut broken = reset_event("broken", ("00uX", "x@example.com", "X"));
    broken.as_object_mut().expect("object").remove("uuid");
    let events = vec![
        broken,
        json!("not an event"),
        reset_event("fine", ("00uY", "y@example.com", "Y")),
    ];
    assert_eq!(app.post_delivery(delivery(events)).await.status(), 200);
    assert_eq!(uuids(&app.slack_messages().await), ["fine"]);
}

#[tokio::test]
async fn hostile_names_reach_slack_only_escaped() {
    let mut app = spawn_app().await;
    let hostile = "<!channel> & <https://evil.example|Okta>";
    let mut event = reset_event("hostile", ("00uEvil", "<@U0ADMIN>@example.com", hostile));
    event["actor"]["displayName"] = json!("<!here>");
    event["client"]["userAgent"] = json!({"rawUserAgent": "<!subteam^S123|team>"});
    event["outcome"]["reason"] = json!("<#C0OTHER>");
    assert_eq!(app.post_delivery(delivery(vec![event])).await.status(), 200);

    let messages = app.slack_messages().await;
    assert_eq!(messages.len(), 1);
    let raw = app
        .slack
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .find(|body| body.contains("hostile"))
        .expect("the hostile alert");
    for live in [
        "<!channel>",
        "<https://evil",
        "<@U0ADMIN>",
        "<!here>",
        "<!subteam",
        "<#C0OTHER>",
    ] {
        assert!(
            !raw.contains(live),
            "{live} reached Slack unescaped:\n{raw}"
        );
    }
    assert!(raw.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|Okta&gt;"));
    assert!(text(&messages[0]).contains("&lt;!here&gt;"));
}

#[tokio::test]
async fn a_refused_layout_is_sent_again_as_plain_text() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    let slack = MockServer::start().await;
    let has_blocks = |r: &Request| String::from_utf8_lossy(&r.body).contains("\"blocks\"");
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .and(has_blocks)
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "invalid_blocks"})),
        )
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": CHANNEL, "ts": "1.2"})),
        )
        .mount(&slack)
        .await;
    let mut app = crate::helpers::spawn(crate::helpers::Options {
        slack_server: Some(std::sync::Arc::new(slack)),
        slack_ok: false,
        ..Default::default()
    })
    .await;

    let messages = app.deliver(example("01-admin-reset-all.json")).await;
    assert_eq!(messages.len(), 2, "the refused message and its plain retry");
    assert!(messages[0].get("blocks").is_some());
    assert!(messages[1].get("blocks").is_none());
    assert!(text(&messages[1]).contains("Tomás Berg"));
}

#[tokio::test]
async fn alerts_left_at_a_stop_are_sent_at_the_next_start() {
    let mut app = crate::helpers::spawn(crate::helpers::Options {
        delivery: "messages_per_second = 1.0\nburst = 1".into(),
        ..Default::default()
    })
    .await;
    let events = crate::helpers::reset_events("stop", 5);
    assert_eq!(app.post_delivery(delivery(events)).await.status(), 200);

    app.stop().await;
    let before_restart = uuids(&app.slack_bodies().await);
    assert!(
        before_restart.len() < 5,
        "paced at one per second, the stop came first"
    );
    assert!(
        app.http
            .get(app.url("/okta/event-hook"))
            .send()
            .await
            .is_err(),
        "the listener is closed"
    );

    let mut again = crate::helpers::spawn(crate::helpers::Options {
        slack_server: Some(app.slack.clone()),
        slack_ok: false,
        store_path: Some(app.store_path.clone()),
        ..Default::default()
    })
    .await;
    let all = uuids(&again.slack_messages().await);
    assert_eq!(all, ["stop-0", "stop-1", "stop-2", "stop-3", "stop-4"]);
}
