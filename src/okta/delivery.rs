//! The event-hook envelope: one POST body from Okta, holding a batch of events.
//!
//! Parsing happens in two steps. The envelope is checked first and its events
//! are kept as raw JSON; each event is then read on its own, so an event that
//! cannot be understood is reported with its position and the others go on.

use std::borrow::Cow;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::LogEvent;

/// The `eventType` of every Okta event-hook envelope.
pub const ENVELOPE_EVENT_TYPE: &str = "com.okta.event_hook";

/// A parsed event-hook body whose events are not read yet.
#[derive(Debug)]
pub struct Delivery<'a> {
    /// Okta's id for this delivery (not for the events in it).
    pub event_id: Option<String>,
    events: Vec<&'a RawValue>,
}

/// Why a body is not an Okta event-hook delivery.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The body is not JSON at all.
    #[error("body is not valid JSON ({})", reason(.0))]
    Syntax(serde_json::Error),
    /// The body is JSON but not an event-hook envelope.
    #[error("body is not an Okta event hook delivery: {0}")]
    Shape(String),
}

/// What one event of a batch turned out to be.
#[derive(Debug)]
pub enum EventSlot {
    /// An event of a type asked for.
    Wanted(Box<LogEvent>),
    /// An event of another type.
    Ignored,
    /// An event that cannot be read; `reason` says why.
    Unreadable {
        /// What was wrong with it.
        reason: String,
    },
}

#[derive(Deserialize)]
struct EnvelopeWire<'a> {
    #[serde(rename = "eventType", default)]
    event_type: Option<Cow<'a, str>>,
    #[serde(rename = "eventId", default)]
    event_id: Option<String>,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct DataWire<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// The envelope read in one pass, for the common case of a well-formed
/// body; anything it cannot take is read again the careful way, which says
/// what is wrong.
struct FastEnvelope<'a> {
    event_type: Option<Cow<'a, str>>,
    event_id: Option<String>,
    events: Vec<&'a RawValue>,
}

impl<'de> Deserialize<'de> for FastEnvelope<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FastEnvelopeVisitor)
    }
}

struct FastEnvelopeVisitor;

impl<'de> Visitor<'de> for FastEnvelopeVisitor {
    type Value = FastEnvelope<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an event hook envelope")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut event_type, mut event_id, mut events) = (None, None, None);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "eventType" if event_type.is_none() => event_type = Some(map.next_value()?),
                "eventId" if event_id.is_none() => event_id = Some(map.next_value()?),
                "data" if events.is_none() => {
                    events = Some(map.next_value::<FastData<'de>>()?.0);
                }
                "eventType" | "eventId" | "data" => {
                    return Err(de::Error::custom("duplicate field"));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(FastEnvelope {
            event_type: event_type.flatten(),
            event_id: event_id.flatten(),
            events: events.ok_or_else(|| de::Error::missing_field("data"))?,
        })
    }
}

/// `data` read in the same pass: an object with an `events` list.
struct FastData<'a>(Vec<&'a RawValue>);

impl<'de> Deserialize<'de> for FastData<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FastDataVisitor)
    }
}

struct FastDataVisitor;

impl<'de> Visitor<'de> for FastDataVisitor {
    type Value = FastData<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object with events")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut events = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "events" {
                if events.is_some() {
                    return Err(de::Error::duplicate_field("events"));
                }
                events = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        events
            .map(FastData)
            .ok_or_else(|| de::Error::missing_field("events"))
    }
}

/// Finds an event's `eventType` and stops there: the rest of an event of a
/// type not asked for is never read. `found` holds the type once read.
struct EventTypeSeed<'s, 'de> {
    found: &'s mut Option<Cow<'de, str>>,
}

impl<'de> Visitor<'de> for EventTypeSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an event with an eventType string")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "eventType" {
                *self.found = Some(map.next_value()?);
                return Ok(());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::missing_field("eventType"))
    }
}

/// The `eventType` of one event of a batch.
///
/// The event's text was already checked as JSON when the batch was read, so
/// reading stops at the type: serde_json then reports the unread rest as an
/// error, which is no error here once the type is found. A later duplicate
/// `eventType` is not looked at; the full read of a wanted event refuses it.
fn event_type_of(raw: &RawValue) -> Result<Cow<'_, str>, serde_json::Error> {
    let mut found = None;
    let mut deserializer = serde_json::Deserializer::from_str(raw.get());
    let read = deserializer.deserialize_map(EventTypeSeed { found: &mut found });
    match (found, read) {
        (Some(event_type), _) => Ok(event_type),
        (None, Err(e)) => Err(e),
        (None, Ok(())) => Err(de::Error::missing_field("eventType")),
    }
}

impl<'a> Delivery<'a> {
    /// Checks that `body` is an event-hook envelope with a `data.events` list.
    pub fn parse(body: &'a [u8]) -> Result<Self, DeliveryError> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        // serde_json skips the values of keys it is not asked for without
        // checking their UTF-8; the careful reading checks all of the body.
        if body.trim_ascii_start().starts_with(b"{")
            && let Ok(text) = std::str::from_utf8(body)
            && let Ok(fast) = serde_json::from_str::<FastEnvelope<'a>>(text)
            && fast
                .event_type
                .as_ref()
                .is_none_or(|kind| kind == ENVELOPE_EVENT_TYPE)
        {
            return Ok(Self {
                event_id: fast.event_id,
                events: fast.events,
            });
        }
        Self::parse_carefully(body)
    }

    /// The step by step reading of [`Delivery::parse`], which tells what is
    /// wrong with a body.
    fn parse_carefully(body: &'a [u8]) -> Result<Self, DeliveryError> {
        let value: &RawValue = serde_json::from_slice(body).map_err(DeliveryError::Syntax)?;
        if !is_object(value) {
            return Err(DeliveryError::Shape("the body is not a JSON object".into()));
        }
        let envelope: EnvelopeWire<'a> =
            serde_json::from_str(value.get()).map_err(|e| DeliveryError::Shape(reason(&e)))?;
        if !is_object(envelope.data) {
            return Err(DeliveryError::Shape("data is not an object".into()));
        }
        let data: DataWire<'a> = serde_json::from_str(envelope.data.get())
            .map_err(|e| DeliveryError::Shape(format!("data: {}", reason(&e))))?;
        if let Some(kind) = &envelope.event_type
            && kind != ENVELOPE_EVENT_TYPE
        {
            return Err(DeliveryError::Shape(format!(
                "eventType is not {ENVELOPE_EVENT_TYPE}"
            )));
        }
        Ok(Self {
            event_id: envelope.event_id,
            events: data.events,
        })
    }

    /// Reads an event-hook body, or a JSON array of System Log events as the
    /// System Log API returns them.
    pub fn parse_replay(body: &'a [u8]) -> Result<Self, DeliveryError> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        if body.trim_ascii_start().starts_with(b"[") {
            let events: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| {
                if e.is_syntax() || e.is_eof() {
                    DeliveryError::Syntax(e)
                } else {
                    DeliveryError::Shape(e.to_string())
                }
            })?;
            return Ok(Self {
                event_id: None,
                events,
            });
        }
        Self::parse(body)
    }

    /// Number of events in the batch.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the batch holds no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Reads each event in order, fully only when its type is in `wanted`.
    pub fn events<'s>(
        &'s self,
        wanted: &'s [String],
    ) -> impl Iterator<Item = (usize, EventSlot)> + 's {
        self.events
            .iter()
            .enumerate()
            .map(move |(position, raw)| (position, read_event(raw, wanted)))
    }
}

fn read_event(raw: &RawValue, wanted: &[String]) -> EventSlot {
    if !is_object(raw) {
        return EventSlot::Unreadable {
            reason: "not a JSON object".into(),
        };
    }
    let event_type = match event_type_of(raw) {
        Ok(event_type) => event_type,
        Err(e) => {
            return EventSlot::Unreadable {
                reason: format!("no eventType string: {}", reason(&e)),
            };
        }
    };
    if !wanted.iter().any(|w| *w == event_type) {
        return EventSlot::Ignored;
    }
    match serde_json::from_str::<LogEvent>(raw.get()) {
        Ok(event) => EventSlot::Wanted(Box::new(event)),
        Err(e) => EventSlot::Unreadable { reason: reason(&e) },
    }
}

fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

/// A short reason that never echoes a value from the body: serde's own
/// message only when it names one of our fields, else the kind and place.
fn reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    for prefix in ["missing field `", "duplicate field `"] {
        if text.starts_with(prefix)
            && let Some(end) = text[prefix.len()..].find('`')
        {
            return text[..prefix.len() + end + 1].to_owned();
        }
    }
    let kind = match e.classify() {
        serde_json::error::Category::Data => "a value of the wrong type",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Io => "unreadable input",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted() -> Vec<String> {
        vec!["user.mfa.factor.reset_all".to_owned()]
    }

    #[test]
    fn reads_wanted_events_and_skips_the_rest() {
        let body = br#"{"eventType":"com.okta.event_hook","eventId":"d1","data":{"events":[
            {"uuid":"a","published":"p","eventType":"user.session.start"},
            {"uuid":"b","published":"p","eventType":"user.mfa.factor.reset_all"},
            {"published":"p","eventType":"user.mfa.factor.reset_all"},
            {"uuid":"c","eventType":7},
            "not an object"
        ]}}"#;
        let delivery = Delivery::parse(body).expect("envelope");
        assert_eq!(delivery.event_id.as_deref(), Some("d1"));
        let wanted = wanted();
        let slots: Vec<_> = delivery.events(&wanted).collect();
        assert!(matches!(slots[0], (0, EventSlot::Ignored)));
        assert!(matches!(&slots[1], (1, EventSlot::Wanted(e)) if e.uuid == "b"));
        assert!(
            matches!(&slots[2], (2, EventSlot::Unreadable { reason }) if reason.contains("uuid"))
        );
        assert!(matches!(slots[3], (3, EventSlot::Unreadable { .. })));
        assert!(matches!(slots[4], (4, EventSlot::Unreadable { .. })));
    }

    #[test]
    fn rejects_bodies_that_are_not_envelopes() {
        for body in [
            &b"[]"[..],
            b"{}",
            b"{\"data\":null}",
            b"{\"data\":{}}",
            b"{\"data\":{\"events\":{}}}",
            b"{\"eventType\":\"other\",\"data\":{\"events\":[]}}",
            b"\"text\"",
            br#"[null,null,{"events":[]}]"#,
            br#"{"data":[[]]}"#,
        ] {
            let err = Delivery::parse(body).expect_err(&String::from_utf8_lossy(body));
            assert!(matches!(err, DeliveryError::Shape(_)), "{err}");
        }
        assert!(matches!(
            Delivery::parse(b"{\"data\":"),
            Err(DeliveryError::Syntax(_))
        ));
    }

    #[test]
    fn replay_takes_an_envelope_or_a_bare_list_of_events() {
        let list = br#" [{"uuid":"a","published":"p","eventType":"user.mfa.factor.reset_all"}]"#;
        let delivery = Delivery::parse_replay(list).expect("list");
        assert_eq!(delivery.len(), 1);
        let envelope = br#"{"data":{"events":[]}}"#;
        assert!(
            Delivery::parse_replay(envelope)
                .expect("envelope")
                .is_empty()
        );
        assert!(Delivery::parse_replay(b"[1,").is_err());
    }

    #[test]
    fn reasons_never_echo_the_body() {
        let secretish = "SECRET-LOOKING-VALUE";
        let bodies = [
            format!(r#"{{"data":"{secretish}"}}"#),
            format!(r#"{{"data":{{"events":"{secretish}"}}}}"#),
            format!(r#"{{"eventId":5,"data":{{"events":[]}}, "x": "{secretish}"#),
        ];
        for body in &bodies {
            let err = Delivery::parse(body.as_bytes()).expect_err(body);
            assert!(!err.to_string().contains(secretish), "{err}");
        }
        let body = format!(
            r#"{{"data":{{"events":[{{"uuid":"{secretish}","published":1,"eventType":"user.mfa.factor.reset_all"}}]}}}}"#
        );
        let delivery = Delivery::parse(body.as_bytes()).expect("envelope");
        let wanted = wanted();
        let (_, slot) = delivery.events(&wanted).next().expect("one event");
        assert!(matches!(slot, EventSlot::Unreadable { reason } if !reason.contains(secretish)));
    }

    #[test]
    fn the_one_pass_reading_agrees_with_the_careful_one() {
        let bodies: [&[u8]; 16] = [
            br#"{"eventType":"com.okta.event_hook","eventId":"d1","data":{"events":[{"eventType":"x"}]}}"#,
            br#"  {"data":{"events":[]},"eventId":null,"eventType":null}"#,
            br#"{"data":{"more":[1,{"a":"b"}],"events":[1,"two",{}]},"extra":{"data":5}}"#,
            br#"{"eventId":"e\u0031","data":{"events":[]}}"#,
            br#"{"eventType":"com.okta.event_hook","eventType":"other","data":{"events":[]}}"#,
            br#"{"eventId":"a","eventId":"b","data":{"events":[]}}"#,
            br#"{"data":{"events":[]},"data":{"events":[{}]}}"#,
            br#"{"data":{"events":[],"events":[{}]}}"#,
            br#"{"eventId":5,"data":{"events":[]}}"#,
            br#"{"data":{"events":[]}} trailing"#,
            br#"{"data":{"events":[}}"#,
            br#"{"data":null}"#,
            br#"{"data":[[]]}"#,
            br#"["com.okta.event_hook","e",{"events":[]}]"#,
            b"{\"source\":\"who\xC3Test\",\"data\":{\"events\":[]}}",
            b"{\"data\":{\"more\":\"\xFF\",\"events\":[]}}",
        ];
        for body in bodies {
            let fast = Delivery::parse(body).map(|d| (d.event_id, d.events.len()));
            let careful = Delivery::parse_carefully(body).map(|d| (d.event_id, d.events.len()));
            match (&fast, &careful) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(body)),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                _ => panic!("{}: {fast:?} / {careful:?}", String::from_utf8_lossy(body)),
            }
        }
    }

    #[test]
    fn the_event_type_is_found_wherever_it_is() {
        let wanted = wanted();
        for (event, expected) in [
            (
                r#"{"eventType":"user.mfa.factor.reset_all","uuid":"u","published":"p"}"#,
                "wanted",
            ),
            (
                r#"{"uuid":"u","published":"p","actor":{"eventType":"x"},"eventType":"user.mfa.factor.reset_all"}"#,
                "wanted",
            ),
            (
                r#"{"uuid":"u","actor":{"eventType":"user.mfa.factor.reset_all"},"eventType":"x"}"#,
                "ignored",
            ),
            (
                r#"{"event\u0054ype":"user.mfa.factor.reset_all","uuid":"u","published":"p"}"#,
                "wanted",
            ),
            (
                r#"{"eventType":"user.session.start","eventType":"user.mfa.factor.reset_all"}"#,
                "ignored",
            ),
            (
                r#"{"eventType":"user.mfa.factor.reset_all","eventType":"x","uuid":"u","published":"p"}"#,
                "unreadable",
            ),
            (r#"{"eventType":7}"#, "unreadable"),
            (r#"{"eventType":null}"#, "unreadable"),
            (r#"{"uuid":"u"}"#, "unreadable"),
            (r#"{}"#, "unreadable"),
        ] {
            let body = format!(r#"{{"data":{{"events":[{event}]}}}}"#);
            let delivery = Delivery::parse(body.as_bytes()).expect("envelope");
            let (_, slot) = delivery.events(&wanted).next().expect("one event");
            let kind = match slot {
                EventSlot::Wanted(_) => "wanted",
                EventSlot::Ignored => "ignored",
                EventSlot::Unreadable { .. } => "unreadable",
            };
            assert_eq!(kind, expected, "{event}");
        }
    }

    #[test]
    fn accepts_a_leading_byte_order_mark() {
        let delivery = Delivery::parse(b"\xEF\xBB\xBF{\"data\":{\"events\":[]}}").expect("parses");
        assert!(delivery.is_empty());
    }
}
