//! Fuzz target `render`: an alert made of arbitrary strings, rendered as a
//! Slack message, which must stay within Slack's limits and carry no live
//! Slack markup built from those strings (see `check_message`).
//!
//! Unlike the `delivery` target, every field is free here, the event type
//! included, and so are the fields only the store and the delivery worker
//! fill (folded factor lists, what Okta says is left, recovery). Strings can
//! be repeated many times over, so that short inputs reach every length
//! budget.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use okta_mfa_notifier::alert::{ActorKind, ActorSummary, Alert, Person, Recovery, Source};
use okta_mfa_notifier::slack::message;
use okta_mfa_notifier_fuzz::{CHANNEL, check_message, console};

/// The most characters one repeated string may grow to.
const MAX_REPEATED: usize = 100_000;

/// A string from the input, repeated up to [`MAX_REPEATED`] characters.
struct Text(String);

impl<'a> Arbitrary<'a> for Text {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let piece = String::arbitrary(u)?;
        // Rarely, so that most inputs stay cheap to render.
        let times = match u8::arbitrary(u)? {
            0..=247 => 1,
            n => usize::from(n - 247) * 2_000,
        };
        let times = times
            .min(MAX_REPEATED / piece.chars().count().max(1))
            .max(1);
        Ok(Self(piece.repeat(times)))
    }
}

/// Shows a long string by its start and length, so that a crash report
/// stays readable.
impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let chars = self.0.chars().count();
        if chars <= 80 {
            return write!(f, "{:?}", self.0);
        }
        let start: String = self.0.chars().take(80).collect();
        write!(f, "{start:?}… ({chars} chars)")
    }
}

/// Event types that take different paths in rendering, or any other.
#[derive(Debug, Arbitrary)]
enum EventType {
    ResetAll,
    Deactivate,
    Other(Text),
}

#[derive(Debug, Arbitrary)]
struct PersonInput {
    id: Option<Text>,
    login: Option<Text>,
    display_name: Option<Text>,
}

#[derive(Debug, Arbitrary)]
enum Kind {
    Admin,
    SelfService,
    OktaSystem,
    ApiClient,
    Unknown,
}

#[derive(Debug, Arbitrary)]
struct Input {
    event_uuid: Text,
    event_type: EventType,
    published: Text,
    display_message: Option<Text>,
    user: Option<PersonInput>,
    actor_kind: Kind,
    principal: PersonInput,
    okta_type: Option<Text>,
    api_token_id: Option<Text>,
    client_app_id: Option<Text>,
    ip: Option<Text>,
    location: Option<Text>,
    zone: Option<Text>,
    network: Option<Text>,
    is_proxy: Option<bool>,
    user_agent: Option<Text>,
    outcome: Option<Text>,
    outcome_reason: Option<Text>,
    transaction_id: Option<Text>,
    test: bool,
    factors_removed: Vec<String>,
    follow_up: bool,
    factors_remaining: Option<Vec<String>>,
    recovered: Option<(Text, Option<u64>)>,
    with_console: bool,
}

fn text(t: Option<Text>) -> Option<String> {
    t.map(|t| t.0)
}

fn person(p: PersonInput) -> Person {
    Person {
        id: text(p.id),
        login: text(p.login),
        display_name: text(p.display_name),
    }
}

impl Input {
    fn alert(self) -> (Alert, bool) {
        let alert = Alert {
            event_uuid: self.event_uuid.0,
            event_type: match self.event_type {
                EventType::ResetAll => "user.mfa.factor.reset_all".to_owned(),
                EventType::Deactivate => "user.mfa.factor.deactivate".to_owned(),
                EventType::Other(t) => t.0,
            },
            published: self.published.0,
            display_message: text(self.display_message),
            user: self.user.map(person),
            actor: ActorSummary {
                kind: match self.actor_kind {
                    Kind::Admin => ActorKind::Admin,
                    Kind::SelfService => ActorKind::SelfService,
                    Kind::OktaSystem => ActorKind::OktaSystem,
                    Kind::ApiClient => ActorKind::ApiClient,
                    Kind::Unknown => ActorKind::Unknown,
                },
                principal: person(self.principal),
                okta_type: text(self.okta_type),
                api_token_id: text(self.api_token_id),
                client_app_id: text(self.client_app_id),
            },
            source: Source {
                ip: text(self.ip),
                location: text(self.location),
                zone: text(self.zone),
                network: text(self.network),
                is_proxy: self.is_proxy,
                user_agent: text(self.user_agent),
            },
            outcome: text(self.outcome),
            outcome_reason: text(self.outcome_reason),
            transaction_id: text(self.transaction_id),
            test: self.test,
            factors_removed: self.factors_removed,
            follow_up: self.follow_up,
            factors_remaining: self.factors_remaining,
            recovered: self.recovered.map(|(found_at, late_secs)| Recovery {
                found_at: found_at.0,
                late_secs,
            }),
        };
        (alert, self.with_console)
    }
}

fuzz_target!(|input: Input| {
    let (alert, with_console) = input.alert();
    let console = with_console.then(console);
    check_message(&message::render(&alert, CHANNEL, console.as_ref()));
});
