//! Rendering an alert as a Slack message.
//!
//! Okta strings are untrusted: a display name such as `<!channel>` would ping a
//! whole channel and `<https://evil.example|Okta>` would show a disguised link.
//! So every Okta-derived string goes through [`escape`] (`&`, `<`, `>` become
//! entities), and is cut to a length budget first, so that the header (150
//! chars), each section (3,000), each field (2,000) and the whole `text`
//! (40,000) stay under Slack's limits whatever Okta sends. The header carries no
//! Okta text but the event type, which goes through [`escape`] too, and links
//! are built from configuration, never from events.

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::alert::{ActorKind, Alert, Person};
use crate::okta::AdminConsole;
use crate::text::is_deceptive;

/// Slack's limit for a header block's text.
pub const HEADER_LIMIT: usize = 150;
/// Slack's limit for a section's text.
pub const SECTION_LIMIT: usize = 3_000;
/// Slack's limit for one section field.
pub const FIELD_LIMIT: usize = 2_000;
/// Slack's limit for the message `text`.
pub const TEXT_LIMIT: usize = 40_000;
/// Slack's limit on blocks per message.
pub const BLOCKS_LIMIT: usize = 50;

/// Budget, in characters before escaping, for a name, login or id.
const NAME_BUDGET: usize = 150;
/// Budget for longer free text: user agents, reasons, summaries.
const LONG_BUDGET: usize = 500;

/// The JSON body of one `chat.postMessage` call.
#[derive(Debug, Clone, Serialize)]
pub struct PostMessage {
    /// Channel ID.
    pub channel: String,
    /// Plain fallback: notifications and screen readers show this.
    pub text: String,
    /// Block Kit layout; empty for a text-only message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Value>,
    /// Never unfurl links.
    pub unfurl_links: bool,
    /// Never unfurl media.
    pub unfurl_media: bool,
}

impl PostMessage {
    /// The same message without blocks, for when Slack refuses the layout.
    pub fn text_only(&self) -> Self {
        Self {
            blocks: Vec::new(),
            ..self.clone()
        }
    }
}

/// Escapes `&`, `<` and `>` so that Slack shows text literally.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `text` to at most `max` characters, marking a cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Like [`truncate`], for text already escaped: a cut never leaves part of an
/// `&amp;`, `&lt;` or `&gt;` entity behind.
fn truncate_escaped(text: &str, max: usize) -> String {
    let mut out = truncate(text, max);
    if !out.ends_with('…') || text.chars().count() <= max {
        return out;
    }
    out.pop();
    if let Some(amp) = out.rfind('&') {
        let tail = &out[amp + 1..];
        if ["amp;", "lt;", "gt;"]
            .iter()
            .any(|e| e.starts_with(tail) && tail.len() < e.len())
        {
            out.truncate(amp);
        }
    }
    out.push('…');
    out
}

/// Cuts `text` to `budget` characters, blanks characters that could disguise
/// it, then escapes it.
fn untrusted(text: &str, budget: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if is_deceptive(c) { ' ' } else { c })
        .collect();
    escape(&truncate(cleaned.trim(), budget))
}

/// Renders `alert` for `channel`, with Admin Console links when `console` is set.
pub fn render(alert: &Alert, channel: &str, console: Option<&AdminConsole>) -> PostMessage {
    let facts = Facts::of(alert, console);

    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {"type": "plain_text", "text": truncate_escaped(&facts.headline, HEADER_LIMIT), "emoji": true}
        }),
        section(&facts.summary),
        json!({
            "type": "section",
            "fields": facts.fields.iter()
                .map(|(label, value)| json!({
                    "type": "mrkdwn",
                    "text": truncate_escaped(&format!("*{label}*\n{value}"), FIELD_LIMIT),
                    "verbatim": true,
                }))
                .collect::<Vec<_>>(),
        }),
    ];
    if !facts.links.is_empty() {
        let links: Vec<String> = facts
            .links
            .iter()
            .map(|(label, url)| format!("<{url}|{label}>"))
            .collect();
        blocks.push(section(&links.join("  ·  ")));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": truncate_escaped(&facts.context, SECTION_LIMIT),
            "verbatim": true,
        }],
    }));
    blocks.truncate(BLOCKS_LIMIT);

    PostMessage {
        channel: channel.to_owned(),
        text: truncate_escaped(&facts.fallback_text(), TEXT_LIMIT),
        blocks,
        unfurl_links: false,
        unfurl_media: false,
    }
}

/// A section of mrkdwn; `verbatim` stops Slack from turning bare URLs or
/// channel names found in Okta text into links (our own `<url|label>` links
/// still work).
fn section(mrkdwn: &str) -> Value {
    json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate_escaped(mrkdwn, SECTION_LIMIT), "verbatim": true},
    })
}

/// The alert's content, escaped, before it is laid out.
struct Facts {
    headline: String,
    first_line: String,
    summary: String,
    fields: Vec<(&'static str, String)>,
    links: Vec<(&'static str, String)>,
    context: String,
}

impl Facts {
    fn of(alert: &Alert, console: Option<&AdminConsole>) -> Self {
        let is_reset_all = alert.event_type == "user.mfa.factor.reset_all";
        let removal = alert.is_factor_removal();
        let none_left = alert.factors_remaining.as_ref().is_some_and(Vec::is_empty);
        let (emoji, headline) = match (is_reset_all, alert.succeeded()) {
            _ if alert.test => (
                ":test_tube:",
                "TEST alert from okta-mfa-notifier: no action needed".to_owned(),
            ),
            _ if removal && none_left => (":rotating_light:", "All MFA factors removed".to_owned()),
            _ if removal => (":rotating_light:", "MFA factors removed".to_owned()),
            (true, true) => (":rotating_light:", "All MFA factors reset".to_owned()),
            (true, false) => (":warning:", "MFA reset attempt did not succeed".to_owned()),
            (false, _) => (
                ":warning:",
                format!("Okta event {}", untrusted(&alert.event_type, NAME_BUDGET)),
            ),
        };
        let headline = match &alert.recovered {
            Some(_) => format!("{headline} (recovered)"),
            None => headline,
        };
        let user = person(alert.user.as_ref());
        let actor = actor_phrase(alert);
        let action = match (is_reset_all, alert.succeeded()) {
            _ if removal => {
                let more = if alert.follow_up { " more" } else { "" };
                match alert.factors_removed.len() {
                    1 if !alert.follow_up => "had an MFA factor removed".to_owned(),
                    n => format!(
                        "had {n}{more} MFA factor{} removed",
                        if n == 1 { "" } else { "s" }
                    ),
                }
            }
            (true, true) => "had all MFA factors reset".to_owned(),
            (true, false) => "was the target of an attempt to reset all MFA factors".to_owned(),
            (false, _) => format!(
                "was the target of Okta event {}",
                untrusted(&alert.event_type, NAME_BUDGET)
            ),
        };
        let mut summary = format!("{user} {action} by {actor}.");
        if let Some(recovery) = &alert.recovered {
            summary = format!(
                "*Recovered from the System Log:* Okta did not deliver this event through the event hook; it was found {}. {summary}",
                lateness(recovery.late_secs)
            );
        }
        if alert.test {
            summary =
                format!("*TEST alert, no action needed:* nothing happened in Okta. {summary}");
        }
        if !alert.succeeded() {
            summary.push_str(&format!(" Okta reports *{}*.", outcome(alert)));
        }
        if removal {
            summary.push_str(&format!(
                " Removed: {}.",
                factor_list(&alert.factors_removed)
            ));
            summary.push_str(match &alert.factors_remaining {
                Some(left) if left.is_empty() => " Okta reports no MFA factor left.",
                Some(_) => " Some factors remain (below).",
                None => "",
            });
        }

        let user_id = alert.user.as_ref().and_then(|u| u.id.as_deref());
        let mut fields = vec![
            ("User", user.clone()),
            ("Done by", actor.clone()),
            ("When (UTC)", when(&alert.published)),
            ("From", source(alert)),
            (
                "Outcome",
                if removal {
                    // Each factor says its own outcome; the first event's
                    // reason would speak for one factor only.
                    untrusted(alert.outcome.as_deref().unwrap_or("unknown"), NAME_BUDGET)
                } else {
                    outcome(alert)
                },
            ),
        ];
        if removal {
            fields.push(("Factors removed", factor_list(&alert.factors_removed)));
            if let Some(left) = &alert.factors_remaining {
                let left = if left.is_empty() {
                    "none".to_owned()
                } else {
                    factor_list(left)
                };
                fields.push(("Still enrolled", left));
            }
            let transaction = alert.transaction_id.as_deref().unwrap_or("none");
            fields.push(("Okta transaction", untrusted(transaction, NAME_BUDGET)));
        } else {
            fields.push(("Okta event", untrusted(&alert.event_uuid, NAME_BUDGET)));
        }
        if let Some(recovery) = &alert.recovered {
            fields.push((
                "Recovered",
                format!(
                    "found {}, {}",
                    when(&recovery.found_at),
                    lateness(recovery.late_secs)
                ),
            ));
        }
        if let Some(agent) = &alert.source.user_agent {
            fields.insert(4, ("User agent", untrusted(agent, LONG_BUDGET)));
        }

        let mut links = Vec::new();
        if let Some(console) = console {
            if let Some(url) = user_id.and_then(|id| console.user_url(id)) {
                links.push(("Open the user in the Admin Console", url));
            }
            let search = match (removal, &alert.transaction_id) {
                (true, Some(transaction)) => transaction,
                _ => &alert.event_uuid,
            };
            if let Some(url) = console.system_log_url(search) {
                links.push(("Find the event in the System Log", url));
            }
        }

        let mut context = format!(
            "Okta event type {}",
            untrusted(&alert.event_type, NAME_BUDGET)
        );
        if let Some(tx) = &alert.transaction_id {
            context.push_str(&format!(" · transaction {}", untrusted(tx, NAME_BUDGET)));
        }
        if let Some(message) = &alert.display_message {
            context.push_str(&format!(" · “{}”", untrusted(message, LONG_BUDGET)));
        }

        Self {
            headline: format!("{emoji} {headline}"),
            first_line: format!("{emoji} {summary}"),
            summary,
            fields,
            links,
            context,
        }
    }

    /// Everything the blocks say, as plain lines.
    fn fallback_text(&self) -> String {
        let mut lines = vec![self.first_line.clone()];
        lines.extend(
            self.fields
                .iter()
                .map(|(label, value)| format!("{label}: {}", value.replace('\n', ", "))),
        );
        lines.extend(
            self.links
                .iter()
                .map(|(label, url)| format!("{label}: {url}")),
        );
        lines.join("\n")
    }
}

/// How late a recovered event was found, in words.
fn lateness(late_secs: Option<u64>) -> String {
    let Some(secs) = late_secs else {
        return "an unknown time after it happened".to_owned();
    };
    let span = match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h {} min", s / 3_600, s % 3_600 / 60),
        s => format!("{} days", s / 86_400),
    };
    format!("{span} after it happened")
}

/// Factor names, escaped, as one line; long lists are cut.
fn factor_list(factors: &[String]) -> String {
    let shown: Vec<String> = factors
        .iter()
        .take(20)
        .map(|f| untrusted(f, NAME_BUDGET))
        .collect();
    let mut list = shown.join(", ");
    if factors.len() > shown.len() {
        list.push_str(&format!(" and {} more", factors.len() - shown.len()));
    }
    list
}

fn person(person: Option<&Person>) -> String {
    let Some(person) = person else {
        return "An unnamed user".to_owned();
    };
    let name = person
        .display_name
        .as_deref()
        .filter(|n| !n.trim().is_empty());
    let login = person.login.as_deref().filter(|l| !l.trim().is_empty());
    match (name, login) {
        (Some(name), Some(login)) if name != login => format!(
            "*{}* ({})",
            untrusted(name, NAME_BUDGET),
            untrusted(login, NAME_BUDGET)
        ),
        (Some(name), _) => format!("*{}*", untrusted(name, NAME_BUDGET)),
        (None, Some(login)) => format!("*{}*", untrusted(login, NAME_BUDGET)),
        (None, None) => match person.id.as_deref() {
            Some(id) => format!("user {}", untrusted(id, NAME_BUDGET)),
            None => "An unnamed user".to_owned(),
        },
    }
}

fn actor_phrase(alert: &Alert) -> String {
    let actor = &alert.actor;
    let who = person(Some(&actor.principal));
    let via = match (&actor.api_token_id, &actor.client_app_id) {
        (Some(token), _) => format!(" using API token {}", untrusted(token, NAME_BUDGET)),
        (None, Some(app)) => format!(" through OAuth app {}", untrusted(app, NAME_BUDGET)),
        (None, None) => String::new(),
    };
    match actor.kind {
        ActorKind::Admin => format!("{who}, an admin{via}"),
        ActorKind::SelfService => format!("the user themself{via}"),
        ActorKind::OktaSystem => "Okta itself (system principal)".to_owned(),
        ActorKind::ApiClient if actor.api_token_id.is_some() => {
            format!("an API client{via}, owned by {who}")
        }
        ActorKind::ApiClient => {
            let kind = actor.okta_type.as_deref().unwrap_or("app");
            format!(
                "the API client {who} ({}){via}",
                untrusted(kind, NAME_BUDGET)
            )
        }
        ActorKind::Unknown => "an actor Okta did not name".to_owned(),
    }
}

/// The event time in UTC, or Okta's text as given when it is not a time
/// that can be shown in UTC (such as the last second of year 9999 at -01:00).
fn when(published: &str) -> String {
    let iso = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::parse(published, &Rfc3339)
        .ok()
        .and_then(|at| at.checked_to_offset(time::UtcOffset::UTC))
        .and_then(|at| at.format(&iso).ok())
        .unwrap_or_else(|| untrusted(published, NAME_BUDGET))
}

fn source(alert: &Alert) -> String {
    let s = &alert.source;
    let mut out = match &s.ip {
        Some(ip) => untrusted(ip, NAME_BUDGET),
        None => "unknown address".to_owned(),
    };
    if let Some(location) = &s.location {
        out.push_str(&format!(" ({})", untrusted(location, NAME_BUDGET)));
    }
    if let Some(network) = &s.network {
        out.push_str(&format!("\nnetwork {}", untrusted(network, NAME_BUDGET)));
    }
    if s.is_proxy == Some(true) {
        out.push_str("\n*Okta flagged this address as a proxy*");
    }
    if let Some(zone) = &s.zone {
        out.push_str(&format!("\nzone {}", untrusted(zone, NAME_BUDGET)));
    }
    out
}

fn outcome(alert: &Alert) -> String {
    let mut out = untrusted(alert.outcome.as_deref().unwrap_or("unknown"), NAME_BUDGET);
    if let Some(reason) = &alert.outcome_reason {
        out.push_str(&format!(": {}", untrusted(reason, LONG_BUDGET)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{ActorSummary, Source};

    fn alert() -> Alert {
        Alert {
            event_uuid: "uuid-1".into(),
            event_type: "user.mfa.factor.reset_all".into(),
            published: "2026-09-14T10:42:17.305+02:00".into(),
            display_message: Some("Reset all factors for user".into()),
            user: Some(Person {
                id: Some("00uT".into()),
                login: Some("target@example.com".into()),
                display_name: Some("Target Person".into()),
            }),
            actor: ActorSummary {
                kind: ActorKind::Admin,
                principal: Person {
                    id: Some("00uA".into()),
                    login: Some("admin@example.com".into()),
                    display_name: Some("Admin Person".into()),
                },
                okta_type: Some("User".into()),
                api_token_id: None,
                client_app_id: None,
            },
            source: Source {
                ip: Some("192.0.2.7".into()),
                location: Some("Lyon, France".into()),
                ..Source::default()
            },
            outcome: Some("SUCCESS".into()),
            outcome_reason: None,
            transaction_id: Some("tx1".into()),
            test: false,
            factors_removed: Vec::new(),
            follow_up: false,
            factors_remaining: None,
            recovered: None,
        }
    }

    #[test]
    fn escape_turns_control_characters_into_entities() {
        assert_eq!(
            escape("<!channel> & <a|b>"),
            "&lt;!channel&gt; &amp; &lt;a|b&gt;"
        );
    }

    #[test]
    fn the_fallback_names_everything_the_blocks_do() {
        let console = AdminConsole::from_org_url("https://acme.okta.com").expect("url");
        let message = render(&alert(), "C1", Some(&console));
        for needle in [
            "had all MFA factors reset by",
            "Target Person",
            "target@example.com",
            "Admin Person",
            "admin@example.com",
            "an admin",
            "2026-09-14T08:42:17Z",
            "192.0.2.7 (Lyon, France)",
            "SUCCESS",
            "uuid-1",
            "https://acme-admin.okta.com/admin/user/profile/view/00uT",
        ] {
            assert!(
                message.text.contains(needle),
                "{needle} missing from:\n{}",
                message.text
            );
        }
        assert!(!message.unfurl_links && !message.unfurl_media);
    }

    #[test]
    fn recovered_alerts_say_so_and_how_late() {
        let mut recovered = alert();
        let found = OffsetDateTime::parse("2026-09-14T10:57:20Z", &Rfc3339).expect("time");
        recovered.mark_recovered(found);
        let message = render(&recovered, "C1", None);
        assert!(
            message.text.contains(
                "Recovered from the System Log:* Okta did not deliver this event through the event hook; \
                 it was found 2 h 15 min after it happened."
            ),
            "{}",
            message.text
        );
        assert!(
            message
                .text
                .contains("Recovered: found 2026-09-14T10:57:20Z, 2 h 15 min after it happened"),
            "{}",
            message.text
        );
        assert_eq!(
            message.blocks[0]["text"]["text"],
            ":rotating_light: All MFA factors reset (recovered)"
        );
        assert!(!render(&alert(), "C1", None).text.contains("Recovered"));

        for (secs, words) in [
            (Some(59), "59 s after"),
            (Some(3_600), "60 min after"),
            (Some(90_061), "25 h 1 min after"),
            (Some(400_000), "4 days after"),
            (None, "an unknown time after"),
        ] {
            assert!(
                lateness(secs).starts_with(words),
                "{secs:?}: {}",
                lateness(secs)
            );
        }
    }

    #[test]
    fn hostile_strings_are_escaped_and_bounded() {
        let mut hostile = alert();
        let name = format!(
            "<!channel> & <https://evil.example|Okta> {}",
            "ü".repeat(10_000)
        );
        hostile.user.as_mut().expect("user").display_name = Some(name.clone());
        hostile.source.user_agent = Some("<@U123>\u{0}\u{202e}".repeat(5_000));
        hostile.outcome_reason = Some("<!here>".repeat(5_000));
        let message = render(&hostile, "C1", None);
        let body = serde_json::to_string(&message).expect("json");
        for raw in [
            "<!channel>",
            "<https://evil",
            "<@U123>",
            "<!here>",
            "\\u0000",
        ] {
            assert!(!body.contains(raw), "{raw} reached Slack unescaped");
        }
        assert!(message.text.chars().count() <= TEXT_LIMIT);
        assert!(message.blocks.len() <= BLOCKS_LIMIT);
        for block in &message.blocks {
            if let Some(text) = block.pointer("/text/text").and_then(Value::as_str) {
                let limit = if block["type"] == "header" {
                    HEADER_LIMIT
                } else {
                    SECTION_LIMIT
                };
                assert!(text.chars().count() <= limit);
            }
            for field in block["fields"].as_array().into_iter().flatten() {
                assert!(field["text"].as_str().expect("text").chars().count() <= FIELD_LIMIT);
            }
        }
    }

    #[test]
    fn the_header_cleans_and_escapes_an_odd_event_type() {
        let mut odd = alert();
        odd.event_type = "<!channel>\u{202E}\u{0}x".to_owned();
        let message = render(&odd, "C1", None);
        assert_eq!(
            message.blocks[0]["text"]["text"],
            ":warning: Okta event &lt;!channel&gt;  x"
        );
        odd.event_type = "user.mfa.factor.activate".to_owned();
        let message = render(&odd, "C1", None);
        assert_eq!(
            message.blocks[0]["text"]["text"],
            ":warning: Okta event user.mfa.factor.activate"
        );
    }

    #[test]
    fn truncation_never_splits_an_entity() {
        let cut = untrusted(&"&".repeat(1_000), 10);
        assert_eq!(cut, format!("{}…", "&amp;".repeat(9)));
        assert_eq!(truncate_escaped("ab&amp;cd", 5), "ab…");
        assert_eq!(truncate_escaped("ab&amp;cd", 8), "ab&amp;…");
        assert_eq!(truncate_escaped("R&D&lt;x", 6), "R&D…");
        assert_eq!(truncate("R&D and more", 4), "R&D…");
    }

    #[test]
    fn times_out_of_utc_range_are_shown_as_given() {
        assert_eq!(
            when("2026-09-14T10:42:17.305+02:00"),
            "2026-09-14T08:42:17Z"
        );
        assert_eq!(
            when("9999-12-31T23:59:59-01:00"),
            "9999-12-31T23:59:59-01:00"
        );
        assert_eq!(when("<!here>"), "&lt;!here&gt;");
    }

    #[test]
    fn characters_that_disguise_text_are_blanked() {
        assert_eq!(
            untrusted("a\u{202E}gnp.exe\u{2028}b\u{200B}c", 100),
            "a gnp.exe b c"
        );
    }
}
