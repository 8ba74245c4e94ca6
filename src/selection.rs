//! Selection: which events of a delivery become alerts.
//!
//! An event is selected when its type is one of `okta.event_types`. Each
//! selected event gives one alert; an event repeated inside one batch gives one.
//! Events that cannot be read are logged with their position and skipped, and
//! never cause the rest of the batch to be refused.

use std::collections::HashSet;

use crate::alert::{ActorKind, Alert};
use crate::okta::Delivery;
use crate::okta::delivery::EventSlot;
use crate::text::Untrusted;

/// Unreadable events of one delivery logged one by one; the rest are counted.
const UNREADABLE_LOGGED: usize = 10;

/// The outcome of selecting from one delivery.
#[derive(Debug, Default)]
pub struct Selection {
    /// One alert per selected event, in the order Okta sent them.
    pub alerts: Vec<Alert>,
    /// Events of other types.
    pub ignored: usize,
    /// Events that could not be read.
    pub unreadable: usize,
}

/// What makes an event alert-worthy.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Event types that raise alerts (`okta.event_types`).
    pub event_types: Vec<String>,
    /// Whether a user removing one of their own factors alerts.
    pub self_service_removals: bool,
}

impl Rules {
    /// The rules of `okta` settings.
    pub fn of(okta: &crate::config::OktaSettings) -> Self {
        Self {
            event_types: okta.event_types.clone(),
            self_service_removals: okta.alert_self_service_removals,
        }
    }

    fn wants(&self, alert: &Alert) -> bool {
        self.self_service_removals
            || !(alert.is_factor_removal() && alert.actor.kind == ActorKind::SelfService)
    }
}

/// Picks the events of the watched types out of a delivery.
pub fn select(delivery: &Delivery<'_>, rules: &Rules) -> Selection {
    let mut selection = Selection::default();
    let mut seen = HashSet::new();
    for (position, slot) in delivery.events(&rules.event_types) {
        match slot {
            EventSlot::Wanted(event) => {
                let alert = Alert::from_event(&event);
                if !rules.wants(&alert) {
                    selection.ignored += 1;
                } else if seen.insert(event.uuid.clone()) {
                    selection.alerts.push(alert);
                }
            }
            EventSlot::Ignored => selection.ignored += 1,
            EventSlot::Unreadable { reason } => {
                selection.unreadable += 1;
                if selection.unreadable <= UNREADABLE_LOGGED {
                    tracing::warn!(
                        event_id = %Untrusted(delivery.event_id.as_deref().unwrap_or("-")),
                        position,
                        error = %reason,
                        "Skipped an event that cannot be read."
                    );
                }
            }
        }
    }
    if selection.unreadable > UNREADABLE_LOGGED {
        tracing::warn!(
            event_id = %Untrusted(delivery.event_id.as_deref().unwrap_or("-")),
            skipped = selection.unreadable,
            "Skipped more events that cannot be read; only the first are logged one by one."
        );
    }
    selection
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_alert_per_selected_uuid() {
        let body = br#"{"data":{"events":[
            {"uuid":"a","published":"p","eventType":"user.mfa.factor.reset_all"},
            {"uuid":"a","published":"p","eventType":"user.mfa.factor.reset_all"},
            {"uuid":"b","published":"p","eventType":"user.mfa.factor.reset_all"},
            {"uuid":"c","published":"p","eventType":"user.session.start"},
            {"uuid":7,"published":"p","eventType":"user.mfa.factor.reset_all"}
        ]}}"#;
        let delivery = Delivery::parse(body).expect("envelope");
        let rules = Rules {
            event_types: vec!["user.mfa.factor.reset_all".to_owned()],
            self_service_removals: false,
        };
        let selection = select(&delivery, &rules);
        let uuids: Vec<_> = selection
            .alerts
            .iter()
            .map(|a| a.event_uuid.as_str())
            .collect();
        assert_eq!(uuids, ["a", "b"]);
        assert_eq!(selection.ignored, 1);
        assert_eq!(selection.unreadable, 1);
    }
}
