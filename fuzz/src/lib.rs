//! Checks shared by the fuzz targets: what every rendered Slack message must
//! satisfy, whatever Okta sent.
//!
//! The same properties as `tests/rendering_properties.rs`: every Slack limit
//! holds, and no Slack control sequence (`<!…>`, `<@…>`, `<#…>`, `<http…>`)
//! appears except the Admin Console links built from configuration.

use okta_mfa_notifier::okta::AdminConsole;
use okta_mfa_notifier::slack::message::{
    BLOCKS_LIMIT, FIELD_LIMIT, HEADER_LIMIT, PostMessage, SECTION_LIMIT, TEXT_LIMIT,
};
use serde_json::Value;

/// The org URL the targets configure; its console links are the only `<…>`
/// sequences a message may carry.
pub const ORG_URL: &str = "https://acme.okta.com";

/// The start of every link built from [`ORG_URL`].
pub const CONSOLE_LINK: &str = "<https://acme-admin.okta.com/";

/// The Slack channel the targets render for.
pub const CHANNEL: &str = "C0123ABCD";

/// The console of [`ORG_URL`].
pub fn console() -> AdminConsole {
    AdminConsole::from_org_url(ORG_URL).expect("the fuzz org URL is a URL")
}

/// Every text a message shows, with the character limit Slack applies to it.
fn texts_with_limits(message: &PostMessage) -> Vec<(&str, usize, &'static str)> {
    let mut texts = vec![(message.text.as_str(), TEXT_LIMIT, "text")];
    for block in &message.blocks {
        let (limit, kind) = if block["type"] == "header" {
            (HEADER_LIMIT, "header")
        } else {
            (SECTION_LIMIT, "section")
        };
        if let Some(text) = block.pointer("/text/text") {
            texts.push((as_text(text), limit, kind));
        }
        for field in block["fields"].as_array().into_iter().flatten() {
            texts.push((as_text(&field["text"]), FIELD_LIMIT, "field"));
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            texts.push((as_text(&element["text"]), SECTION_LIMIT, "context"));
        }
    }
    texts
}

/// The first characters of `text`, for a readable failure message.
fn start(text: &str) -> String {
    text.chars().take(60).collect()
}

fn as_text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a text that is not a string: {value}"))
}

/// Panics, saying which, when `message` breaks a Slack limit or carries a
/// Slack control sequence other than a console link.
pub fn check_message(message: &PostMessage) {
    assert_eq!(message.channel, CHANNEL);
    assert!(
        message.blocks.len() <= BLOCKS_LIMIT,
        "{} blocks",
        message.blocks.len()
    );
    assert!(!message.unfurl_links && !message.unfurl_media);
    for (text, limit, kind) in texts_with_limits(message) {
        let chars = text.chars().count();
        assert!(chars <= limit, "{kind} text of {chars} chars > {limit}");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "control character in {kind} text {:?}",
            start(text)
        );
        for (at, _) in text.match_indices('<') {
            let tail = &text[at..];
            assert!(
                tail.starts_with(CONSOLE_LINK),
                "live Slack markup in {kind} text: {:?}",
                start(tail)
            );
        }
    }
    let body = serde_json::to_string(message).expect("a message serialises");
    assert!(!body.contains("\\u0000"), "NUL reached Slack");
    let text_only = message.text_only();
    assert!(text_only.blocks.is_empty());
    assert_eq!(text_only.text, message.text);
}
