//! Properties of alert rendering over arbitrary Okta strings: whatever Okta
//! sends, the Slack request carries no live mention or link built from it,
//! every Slack limit holds, and the text fallback still names the user.

use okta_mfa_notifier::alert::{ActorKind, ActorSummary, Alert, Person, Source};
use okta_mfa_notifier::okta::AdminConsole;
use okta_mfa_notifier::slack::message::{
    self, BLOCKS_LIMIT, FIELD_LIMIT, HEADER_LIMIT, SECTION_LIMIT, TEXT_LIMIT,
};
use proptest::prelude::*;
use serde_json::Value;

/// Strings an attacker who controls Okta profile fields might choose.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("<!channel>".to_owned()),
        Just("<!here>".to_owned()),
        Just("<!everyone>".to_owned()),
        Just("<@U024BE7LH>".to_owned()),
        Just("<#C0123|general>".to_owned()),
        Just("<!subteam^S123|team>".to_owned()),
        Just("<https://evil.example|Okta>".to_owned()),
        Just("&amp;&lt;&gt;&".to_owned()),
        Just("\u{202e}\u{2028}\u{200b}\u{feff}".to_owned()),
        Just("🚨👩🏽‍💻".to_owned()),
        Just("عربي עברית".to_owned()),
        "[\\x00-\\x1f\\x7f]{1,4}",
        any::<String>(),
        "[<>&|!@#a-z]{1,20}",
    ];
    prop::collection::vec(pieces, 0..8).prop_map(|parts| parts.concat())
}

fn huge_or_hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => hostile(),
        1 => (hostile(), 1usize..2_000).prop_map(|(s, n)| s.repeat(n.min(50_000 / (s.len() + 1) + 1))),
    ]
}

fn alert(
    name: String,
    login: String,
    actor: String,
    agent: String,
    reason: String,
    factors: Vec<String>,
) -> Alert {
    Alert {
        event_uuid: "3f1a2b3c-0000-4000-8000-000000000001".into(),
        event_type: if factors.is_empty() {
            "user.mfa.factor.reset_all".into()
        } else {
            "user.mfa.factor.deactivate".into()
        },
        published: "2026-10-24T08:42:17.305Z".into(),
        display_message: Some(reason.clone()),
        user: Some(Person {
            id: Some("00uTarget".into()),
            login: Some(login),
            display_name: Some(name),
        }),
        actor: ActorSummary {
            kind: ActorKind::Admin,
            principal: Person {
                id: Some("00uActor".into()),
                login: Some(actor.clone()),
                display_name: Some(actor),
            },
            okta_type: Some("User".into()),
            api_token_id: None,
            client_app_id: None,
        },
        source: Source {
            ip: Some(reason.clone()),
            location: Some(reason.clone()),
            user_agent: Some(agent),
            ..Source::default()
        },
        outcome: Some("FAILURE".into()),
        outcome_reason: Some(reason),
        transaction_id: Some("tx".into()),
        test: false,
        factors_removed: factors,
        follow_up: false,
        factors_remaining: None,
        recovered: None,
    }
}

/// Every mrkdwn or plain text in the blocks, with the limit that applies.
fn texts_with_limits(blocks: &[Value]) -> Vec<(String, usize)> {
    let mut texts = Vec::new();
    for block in blocks {
        let limit = if block["type"] == "header" {
            HEADER_LIMIT
        } else {
            SECTION_LIMIT
        };
        if let Some(text) = block.pointer("/text/text").and_then(Value::as_str) {
            texts.push((text.to_owned(), limit));
        }
        for field in block["fields"].as_array().into_iter().flatten() {
            texts.push((
                field["text"].as_str().unwrap_or_default().to_owned(),
                FIELD_LIMIT,
            ));
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            texts.push((
                element["text"].as_str().unwrap_or_default().to_owned(),
                SECTION_LIMIT,
            ));
        }
    }
    texts
}

/// Slack control sequences in `text` other than the links we build.
fn live_sequences(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let tail = &rest[start..];
        if !tail.starts_with("<https://example-admin.okta.com/") {
            found.push(tail.chars().take(30).collect());
        }
        rest = &rest[start + 1..];
    }
    found
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn okta_strings_never_become_slack_markup_or_break_limits(
        name in huge_or_hostile(),
        login in hostile(),
        actor in hostile(),
        agent in huge_or_hostile(),
        reason in huge_or_hostile(),
        factors in prop::collection::vec(hostile(), 0..40),
    ) {
        let console = AdminConsole::from_org_url("https://example.okta.com");
        let alert = alert(name, login.clone(), actor, agent, reason, factors);
        let request = message::render(&alert, "C0123", console.as_ref());

        prop_assert!(request.blocks.len() <= BLOCKS_LIMIT);
        prop_assert!(request.text.chars().count() <= TEXT_LIMIT);
        for (text, limit) in texts_with_limits(&request.blocks) {
            prop_assert!(text.chars().count() <= limit, "{} > {limit}", text.chars().count());
            let live = live_sequences(&text);
            prop_assert!(live.is_empty(), "live markup in blocks: {live:?}");
        }
        let live = live_sequences(&request.text);
        prop_assert!(live.is_empty(), "live markup in text: {live:?}");
        prop_assert!(!request.text.chars().any(|c| c.is_control() && c != '\n'));

        // The fallback still names the user: the start of the login, escaped.
        let shown: String = login
            .chars()
            .map(|c| if okta_mfa_notifier::text::is_deceptive(c) { ' ' } else { c })
            .collect();
        let start: String = shown.trim().chars().take(5).collect();
        let start = message::escape(&start);
        if !start.is_empty() {
            prop_assert!(request.text.contains(&start), "login {start:?} missing");
        }
    }
}
