//! The alert: what one selected Okta event means, in the words of the domain.
//!
//! An [`Alert`] holds only facts taken from the event (who was reset, who did
//! it, from where, when, with what outcome). It knows nothing of Slack; the
//! `slack` module decides how it looks. It is serialisable so that it can wait
//! in the outbox exactly as it was built.

use serde::{Deserialize, Serialize};

use crate::okta::LogEvent;
use crate::okta::event::Actor;

/// Okta's system principal, as it appears in `actor.alternateId`.
const OKTA_SYSTEM_LOGIN: &str = "system@okta.com";

/// One alert, made from one Okta System Log event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Okta's event id; one alert per id.
    pub event_uuid: String,
    /// System Log event type.
    pub event_type: String,
    /// When the event happened, as Okta wrote it (RFC 3339).
    pub published: String,
    /// Okta's one-line summary of the event.
    pub display_message: Option<String>,
    /// The user the event is about; `None` when the event names no user.
    pub user: Option<Person>,
    /// Who performed the action.
    pub actor: ActorSummary,
    /// Where the request came from.
    pub source: Source,
    /// `SUCCESS`, `FAILURE`, …, when known.
    pub outcome: Option<String>,
    /// Okta's reason for the outcome.
    pub outcome_reason: Option<String>,
    /// Okta transaction id, shared by the events of one admin action.
    pub transaction_id: Option<String>,
    /// A test alert from `send-test`, not an Okta event.
    #[serde(default)]
    pub test: bool,
    /// For factor deactivations: the factors removed, one per event folded
    /// into this alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub factors_removed: Vec<String>,
    /// A fold's follow-up: more factors removed after its first alert.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follow_up: bool,
    /// What Okta says the user still has, when it could be asked (filled at
    /// delivery time, never stored).
    #[serde(default, skip)]
    pub factors_remaining: Option<Vec<String>>,
    /// Set when the event was found in the System Log, not delivered by
    /// the hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<Recovery>,
}

/// How an alert came back from the System Log after the hook missed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// When the event was found (RFC 3339, UTC).
    pub found_at: String,
    /// Seconds from the event to its finding, when its time can be read.
    pub late_secs: Option<u64>,
}

/// The event type of one factor (or authenticator enrollment) removed.
pub const FACTOR_DEACTIVATED: &str = "user.mfa.factor.deactivate";

/// A user or other principal as Okta names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Okta id.
    pub id: Option<String>,
    /// Login (`alternateId`).
    pub login: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
}

/// What kind of principal performed the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// Another user, usually a help-desk or super admin.
    Admin,
    /// The affected user themself.
    SelfService,
    /// Okta's own system principal.
    OktaSystem,
    /// An API token or an OAuth app.
    ApiClient,
    /// The event did not say.
    Unknown,
}

/// Who performed the action, classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorSummary {
    /// What kind of principal it was.
    pub kind: ActorKind,
    /// The principal as Okta names it.
    pub principal: Person,
    /// Okta `type` of the principal (`User`, `PublicClientApp`, …).
    pub okta_type: Option<String>,
    /// The API token used, when Okta recorded one.
    pub api_token_id: Option<String>,
    /// The OAuth client the request came through, when any.
    pub client_app_id: Option<String>,
}

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Client IP address.
    pub ip: Option<String>,
    /// City, region and country, as far as known.
    pub location: Option<String>,
    /// Okta network zone.
    pub zone: Option<String>,
    /// Organisation owning the address.
    pub network: Option<String>,
    /// Whether Okta saw the address as a proxy or anonymiser.
    pub is_proxy: Option<bool>,
    /// Raw user agent.
    pub user_agent: Option<String>,
}

impl Alert {
    /// The alert for one event.
    pub fn from_event(event: &LogEvent) -> Self {
        let user = event.target_user().map(|t| Person {
            id: t.id.clone(),
            login: t.alternate_id.clone(),
            display_name: t.display_name.clone(),
        });
        let outcome = event.outcome.as_ref();
        Self {
            event_uuid: event.uuid.clone(),
            event_type: event.event_type.clone(),
            published: event.published.clone(),
            display_message: event.display_message.clone(),
            actor: ActorSummary::of(event, user.as_ref()),
            user,
            source: Source::of(event),
            outcome: outcome.and_then(|o| o.result.clone()),
            outcome_reason: outcome.and_then(|o| o.reason.clone()),
            transaction_id: event
                .transaction
                .as_ref()
                .and_then(|t| t.id.clone())
                .filter(|id| !id.is_empty() && id != "unknown"),
            test: false,
            factors_removed: if event.event_type == FACTOR_DEACTIVATED {
                vec![factor_removed(event)]
            } else {
                Vec::new()
            },
            follow_up: false,
            factors_remaining: None,
            recovered: None,
        }
    }

    /// Marks the alert as found in the System Log at `found`, saying how
    /// long after the event that was.
    pub fn mark_recovered(&mut self, found: time::OffsetDateTime) {
        let late_secs = time::OffsetDateTime::parse(
            &self.published,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
        .map(|published| (found - published).whole_seconds().max(0).unsigned_abs());
        self.recovered = Some(Recovery {
            found_at: found
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            late_secs,
        });
    }

    /// Whether this alert is about factors removed one by one, which are
    /// folded into one alert per user and admin action.
    pub fn is_factor_removal(&self) -> bool {
        self.event_type == FACTOR_DEACTIVATED
    }

    /// A clearly marked test alert, for checking the path to Slack.
    pub fn test_alert() -> Self {
        let now = time::OffsetDateTime::now_utc();
        let published = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Self {
            event_uuid: format!("send-test-{}", now.unix_timestamp()),
            event_type: "user.mfa.factor.reset_all".to_owned(),
            published,
            display_message: Some("Test alert sent by okta-mfa-notifier send-test".to_owned()),
            user: Some(Person {
                id: None,
                login: Some("test.user@example.com".to_owned()),
                display_name: Some("Test User".to_owned()),
            }),
            actor: ActorSummary {
                kind: ActorKind::Admin,
                principal: Person {
                    id: None,
                    login: Some("okta-mfa-notifier send-test".to_owned()),
                    display_name: Some("An operator".to_owned()),
                },
                okta_type: Some("User".to_owned()),
                api_token_id: None,
                client_app_id: None,
            },
            source: Source {
                ip: Some("192.0.2.1".to_owned()),
                ..Source::default()
            },
            outcome: Some("SUCCESS".to_owned()),
            outcome_reason: None,
            transaction_id: None,
            test: true,
            factors_removed: Vec::new(),
            follow_up: false,
            factors_remaining: None,
            recovered: None,
        }
    }

    /// Whether Okta reported the action as done.
    pub fn succeeded(&self) -> bool {
        self.outcome.as_deref().is_none_or(|o| o == "SUCCESS")
    }
}

impl ActorSummary {
    fn of(event: &LogEvent, user: Option<&Person>) -> Self {
        let actor = event.actor.clone().unwrap_or_default();
        let api_token_id = event.api_token_id().map(str::to_owned);
        let client_app_id = event.client.as_ref().and_then(|c| c.id.clone());
        Self {
            kind: classify(&actor, user, api_token_id.is_some()),
            principal: Person {
                id: actor.id,
                login: actor.alternate_id,
                display_name: actor.display_name,
            },
            okta_type: actor.kind,
            api_token_id,
            client_app_id,
        }
    }
}

/// The factor a deactivation removed, as Okta names it: the enrollment's name
/// and the internal factor type from `outcome.reason` ("User reset
/// OKTA_SOFT_TOKEN factor"), as far as the event has them.
fn factor_removed(event: &LogEvent) -> String {
    let outcome = event.outcome.as_ref();
    let kind = outcome
        .and_then(|o| o.reason.as_deref())
        .and_then(|r| r.strip_prefix("User reset "))
        .and_then(|r| r.strip_suffix(" factor"))
        .map(str::to_owned);
    let failed = outcome
        .and_then(|o| o.result.as_deref())
        .filter(|result| *result != "SUCCESS");
    let name = event
        .target
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|t| t.kind.as_deref() == Some("AuthenticatorEnrollment"))
        .and_then(|t| t.display_name.clone());
    let factor = match (name, kind) {
        (Some(name), Some(kind)) => format!("{name} ({kind})"),
        (Some(name), None) => name,
        (None, Some(kind)) => kind,
        (None, None) => "a factor Okta did not name".to_owned(),
    };
    match failed {
        Some(result) => format!("{factor}, not removed: {result}"),
        None => factor,
    }
}

fn classify(actor: &Actor, user: Option<&Person>, via_api_token: bool) -> ActorKind {
    if actor == &Actor::default() {
        return ActorKind::Unknown;
    }
    if actor.kind.as_deref() == Some("SystemPrincipal")
        || actor.alternate_id.as_deref() == Some(OKTA_SYSTEM_LOGIN)
    {
        return ActorKind::OktaSystem;
    }
    let same_user = match (actor.id.as_deref(), user.and_then(|u| u.id.as_deref())) {
        (Some(actor_id), Some(user_id)) => actor_id == user_id,
        _ => false,
    };
    if same_user {
        return ActorKind::SelfService;
    }
    match actor.kind.as_deref() {
        Some("User") if via_api_token => ActorKind::ApiClient,
        Some("User") => ActorKind::Admin,
        Some(_) => ActorKind::ApiClient,
        None => ActorKind::Unknown,
    }
}

impl Source {
    fn of(event: &LogEvent) -> Self {
        let Some(client) = &event.client else {
            return Self::default();
        };
        let location = client.geographical_context.as_ref().and_then(|g| {
            let parts: Vec<&str> = [&g.city, &g.state, &g.country]
                .into_iter()
                .filter_map(|p| p.as_deref())
                .filter(|p| !p.is_empty())
                .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        });
        let security = event.security_context.as_ref();
        Self {
            ip: client.ip_address.clone(),
            location,
            zone: client.zone().map(str::to_owned),
            network: security.and_then(|s| s.as_org.clone()),
            is_proxy: security.and_then(|s| s.is_proxy),
            user_agent: client
                .user_agent
                .as_ref()
                .and_then(|u| u.raw_user_agent.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> LogEvent {
        serde_json::from_str(json).expect("event")
    }

    fn kind_of(actor: &str, extra: &str) -> ActorKind {
        Alert::from_event(&event(&format!(
            r#"{{"uuid":"u","published":"p","eventType":"t","actor":{actor},
                "target":[{{"id":"00uT","type":"User"}}]{extra}}}"#
        )))
        .actor
        .kind
    }

    #[test]
    fn actors_are_classified() {
        assert_eq!(
            kind_of(r#"{"id":"00uA","type":"User"}"#, ""),
            ActorKind::Admin
        );
        assert_eq!(
            kind_of(r#"{"id":"00uT","type":"User"}"#, ""),
            ActorKind::SelfService
        );
        assert_eq!(
            kind_of(
                r#"{"id":"0oa1","type":"SystemPrincipal","alternateId":"system@okta.com"}"#,
                ""
            ),
            ActorKind::OktaSystem
        );
        assert_eq!(
            kind_of(r#"{"id":"0oa1","type":"PublicClientApp"}"#, ""),
            ActorKind::ApiClient
        );
        assert_eq!(
            kind_of(
                r#"{"id":"00uA","type":"User"}"#,
                r#","transaction":{"detail":{"requestApiTokenId":"00T1"}}"#
            ),
            ActorKind::ApiClient
        );
        assert_eq!(kind_of("null", ""), ActorKind::Unknown);
    }

    #[test]
    fn self_is_judged_against_the_user_target_not_the_first() {
        let alert = Alert::from_event(&event(
            r#"{"uuid":"u","published":"p","eventType":"t",
                "actor":{"id":"00uT","type":"User"},
                "target":[{"id":"0oaApp","type":"AppInstance"},{"id":"00uT","type":"User"}]}"#,
        ));
        assert_eq!(alert.actor.kind, ActorKind::SelfService);
        assert_eq!(alert.user.and_then(|u| u.id).as_deref(), Some("00uT"));
    }

    #[test]
    fn source_joins_what_is_known() {
        let alert = Alert::from_event(&event(
            r#"{"uuid":"u","published":"p","eventType":"t","client":{"ipAddress":"192.0.2.1",
                "zone":"null","geographicalContext":{"city":"Lyon","state":null,"country":"France"}}}"#,
        ));
        assert_eq!(alert.source.ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(alert.source.location.as_deref(), Some("Lyon, France"));
        assert_eq!(alert.source.zone, None);
    }
}
