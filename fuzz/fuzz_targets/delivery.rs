//! Fuzz target `delivery`: arbitrary bytes as a hook request body, and as a
//! System Log page for back-fill, taken the way the service takes them.
//!
//! The body is parsed with `Delivery::parse` (the hook) and
//! `Delivery::parse_replay` (back-fill and replay); every delivery that parses
//! goes through selection under two rule sets, and every alert selected is
//! stored and read back as the outbox does (JSON), then rendered for Slack.
//! Nothing may panic, and every message must pass `check_message`.

#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use okta_mfa_notifier::alert::Alert;
use okta_mfa_notifier::okta::Delivery;
use okta_mfa_notifier::selection::{self, Rules};
use okta_mfa_notifier::slack::message;
use okta_mfa_notifier_fuzz::{CHANNEL, check_message, console};

/// The rule sets tried on each delivery: the default one, and an Identity
/// Engine one that also folds factor removals, self-service ones included.
fn rule_sets() -> [Rules; 2] {
    [
        Rules {
            event_types: vec!["user.mfa.factor.reset_all".to_owned()],
            self_service_removals: false,
        },
        Rules {
            event_types: vec![
                "user.mfa.factor.reset_all".to_owned(),
                "user.mfa.factor.deactivate".to_owned(),
                "user.mfa.factor.activate".to_owned(),
            ],
            self_service_removals: true,
        },
    ]
}

fn take(delivery: &Delivery<'_>, recovered: bool) {
    let console = console();
    for rules in rule_sets() {
        let selection = selection::select(delivery, &rules);
        assert!(
            selection.alerts.len() + selection.ignored + selection.unreadable <= delivery.len(),
            "more outcomes than events"
        );
        let mut uuids = HashSet::new();
        for mut alert in selection.alerts {
            assert!(rules.event_types.contains(&alert.event_type));
            assert!(uuids.insert(alert.event_uuid.clone()), "an alert twice");
            if recovered {
                alert.mark_recovered(time::macros::datetime!(2026-11-01 12:00 UTC));
            }
            // The outbox keeps an alert as JSON and reads it back to send it.
            let stored = serde_json::to_string(&alert).expect("an alert serialises");
            let sent: Alert = serde_json::from_str(&stored).expect("a stored alert reads back");
            assert_eq!(sent, alert, "the outbox changed the alert");
            check_message(&message::render(&sent, CHANNEL, Some(&console)));
            check_message(&message::render(&sent, CHANNEL, None));
        }
    }
}

fuzz_target!(|body: &[u8]| {
    if let Ok(delivery) = Delivery::parse(body) {
        take(&delivery, false);
    }
    if let Ok(delivery) = Delivery::parse_replay(body) {
        take(&delivery, true);
    }
});
