//! The System Log `LogEvent`, read leniently.
//!
//! Okta documents many fields but guarantees only `uuid`, `published` and
//! `eventType`. Everything else is optional here, and a field of an unexpected
//! type (a number where a string was expected, an object for a list) is read as
//! absent instead of failing the event: an alert with one detail missing is far
//! better than no alert. Unknown fields are ignored.

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// One Okta System Log event.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    /// Unique id of the event; the key for de-duplication.
    pub uuid: String,
    /// When the event happened (RFC 3339), as Okta wrote it.
    pub published: String,
    /// System Log event type, such as `user.mfa.factor.reset_all`.
    pub event_type: String,
    /// Okta's human-readable summary.
    #[serde(default, deserialize_with = "lenient_text")]
    pub display_message: Option<String>,
    /// Who performed the action.
    #[serde(default, deserialize_with = "lenient")]
    pub actor: Option<Actor>,
    /// The client the action came from.
    #[serde(default, deserialize_with = "lenient")]
    pub client: Option<Client>,
    /// Result of the action.
    #[serde(default, deserialize_with = "lenient")]
    pub outcome: Option<Outcome>,
    /// The objects acted on, in no stable order.
    #[serde(default, deserialize_with = "lenient")]
    pub target: Option<Vec<Target>>,
    /// The Okta request or job the event belongs to.
    #[serde(default, deserialize_with = "lenient")]
    pub transaction: Option<Transaction>,
    /// Network facts about the client address.
    #[serde(default, deserialize_with = "lenient")]
    pub security_context: Option<SecurityContext>,
}

/// The principal that performed an action.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// Okta id of the principal.
    #[serde(default, deserialize_with = "lenient_text")]
    pub id: Option<String>,
    /// Kind of principal: `User`, `SystemPrincipal`, `PublicClientApp`, ….
    #[serde(default, rename = "type", deserialize_with = "lenient_text")]
    pub kind: Option<String>,
    /// Login or other stable name.
    #[serde(default, deserialize_with = "lenient_text")]
    pub alternate_id: Option<String>,
    /// Name for people.
    #[serde(default, deserialize_with = "lenient_text")]
    pub display_name: Option<String>,
}

/// One object an event acted on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// Okta id of the object.
    #[serde(default, deserialize_with = "lenient_text")]
    pub id: Option<String>,
    /// Kind of object: `User`, `AuthenticatorEnrollment`, `AppInstance`, ….
    #[serde(default, rename = "type", deserialize_with = "lenient_text")]
    pub kind: Option<String>,
    /// Login or other stable name.
    #[serde(default, deserialize_with = "lenient_text")]
    pub alternate_id: Option<String>,
    /// Name for people.
    #[serde(default, deserialize_with = "lenient_text")]
    pub display_name: Option<String>,
}

/// The client an action came from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    /// Browser or library that made the request.
    #[serde(default, deserialize_with = "lenient")]
    pub user_agent: Option<UserAgent>,
    /// Okta network zone name; Okta writes `null` or the string `"null"` for none.
    #[serde(default, deserialize_with = "lenient_text")]
    pub zone: Option<String>,
    /// OAuth client id, when an app made the request.
    #[serde(default, deserialize_with = "lenient_text")]
    pub id: Option<String>,
    /// Client IP address.
    #[serde(default, deserialize_with = "lenient_text")]
    pub ip_address: Option<String>,
    /// Where the address is.
    #[serde(default, deserialize_with = "lenient")]
    pub geographical_context: Option<GeographicalContext>,
}

/// The user agent of a client.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAgent {
    /// The `User-Agent` header as sent.
    #[serde(default, deserialize_with = "lenient_text")]
    pub raw_user_agent: Option<String>,
}

/// Location of a client address.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeographicalContext {
    /// City name.
    #[serde(default, deserialize_with = "lenient_text")]
    pub city: Option<String>,
    /// State or region name.
    #[serde(default, deserialize_with = "lenient_text")]
    pub state: Option<String>,
    /// Country name.
    #[serde(default, deserialize_with = "lenient_text")]
    pub country: Option<String>,
}

/// Result of an action.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// `SUCCESS`, `FAILURE`, ….
    #[serde(default, deserialize_with = "lenient_text")]
    pub result: Option<String>,
    /// Okta's reason, often absent.
    #[serde(default, deserialize_with = "lenient_text")]
    pub reason: Option<String>,
}

/// The Okta request or job an event belongs to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    /// Transaction id; events of one admin action share it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub id: Option<String>,
    /// `WEB` or `JOB`.
    #[serde(default, rename = "type", deserialize_with = "lenient_text")]
    pub kind: Option<String>,
    /// Free-form details, such as `requestApiTokenId`.
    #[serde(default, deserialize_with = "lenient")]
    pub detail: Option<Map<String, Value>>,
}

/// Network facts about a client address.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    /// Organisation owning the autonomous system of the address.
    #[serde(default, deserialize_with = "lenient_text")]
    pub as_org: Option<String>,
    /// Whether Okta saw the address as a proxy or anonymiser.
    #[serde(default, deserialize_with = "lenient")]
    pub is_proxy: Option<bool>,
}

impl LogEvent {
    /// The first target of type `User`, wherever it sits in the list.
    pub fn target_user(&self) -> Option<&Target> {
        self.target
            .as_deref()?
            .iter()
            .find(|t| t.kind.as_deref() == Some("User"))
    }

    /// Id of the API token the request used, when Okta recorded one.
    pub fn api_token_id(&self) -> Option<&str> {
        self.transaction
            .as_ref()?
            .detail
            .as_ref()?
            .get("requestApiTokenId")?
            .as_str()
    }
}

impl Client {
    /// The network zone, with Okta's `"null"` spelling read as none.
    pub fn zone(&self) -> Option<&str> {
        self.zone
            .as_deref()
            .filter(|z| !z.is_empty() && *z != "null")
    }
}

/// Reads a value as `T`, or as `None` when it is `null` or of another shape.
///
/// The value is kept as its JSON text and read again as `T`, which cannot
/// fail the event around it.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    Ok(serde_json::from_str(raw.get()).ok())
}

/// Reads a string, or `None` for `null` or a value of any other type,
/// without keeping the value.
fn lenient_text<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(TextOrNothing)
}

/// The visitor of [`lenient_text`].
struct TextOrNothing;

impl<'de> Visitor<'de> for TextOrNothing {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_core_fields_are_required() {
        let event: LogEvent = serde_json::from_str(
            r#"{"uuid":"u1","published":"2026-01-01T00:00:00Z","eventType":"x"}"#,
        )
        .expect("parses");
        assert!(event.actor.is_none() && event.target_user().is_none());

        let missing_uuid = serde_json::from_str::<LogEvent>(
            r#"{"published":"2026-01-01T00:00:00Z","eventType":"x"}"#,
        );
        assert!(missing_uuid.is_err());
    }

    #[test]
    fn odd_field_types_are_read_as_unknown() {
        let event: LogEvent = serde_json::from_str(
            r#"{"uuid":"u1","published":"p","eventType":"x","version":0,
                "actor":{"id":7,"displayName":["a"],"alternateId":"a@example.com"},
                "client":{"zone":"null","ipAddress":"192.0.2.1",
                          "geographicalContext":{"postalCode":10013,"city":"Paris"}},
                "target":{"not":"a list"},
                "securityContext":{"isProxy":"false"},
                "transaction":{"id":"t","detail":null},
                "someFutureField":{"a":1}}"#,
        )
        .expect("parses");
        let actor = event.actor.as_ref().expect("actor");
        assert_eq!(actor.id, None);
        assert_eq!(actor.display_name, None);
        assert_eq!(actor.alternate_id.as_deref(), Some("a@example.com"));
        let client = event.client.as_ref().expect("client");
        assert_eq!(client.zone(), None);
        assert_eq!(
            client
                .geographical_context
                .as_ref()
                .and_then(|g| g.city.as_deref()),
            Some("Paris")
        );
        assert!(event.target.is_none());
        assert_eq!(event.security_context.and_then(|s| s.is_proxy), None);
    }

    #[test]
    fn a_part_with_a_repeated_key_is_unknown_rather_than_guessed() {
        let event: LogEvent = serde_json::from_str(
            r#"{"uuid":"u1","published":"p","eventType":"x",
                "actor":{"id":"00u1","id":"00u2","displayName":"Either"},
                "client":{"ipAddress":{"nested":["a",{"b":null}]},"zone":"Office"}}"#,
        )
        .expect("parses");
        assert!(event.actor.is_none(), "{:?}", event.actor);
        let client = event.client.expect("client");
        assert_eq!(client.ip_address, None);
        assert_eq!(client.zone(), Some("Office"));
    }

    #[test]
    fn the_user_target_is_found_in_any_position() {
        let event: LogEvent = serde_json::from_str(
            r#"{"uuid":"u1","published":"p","eventType":"x","target":[
                {"id":"app","type":"AppInstance"},
                {"id":"00u1","type":"User","alternateId":"a@example.com"},
                {"id":"enr","type":"AuthenticatorEnrollment"}]}"#,
        )
        .expect("parses");
        assert_eq!(
            event.target_user().and_then(|t| t.id.as_deref()),
            Some("00u1")
        );
    }
}
