//! The event-hook envelope: one POST body from Okta, holding a batch of events.
//!
//! Parsing happens in two steps. The envelope is checked first and its events
//! are kept as raw JSON; each event is then read on its own, so an event that
//! cannot be understood is reported with its position and the others go on.

use std::borrow::Cow;

use serde::Deserialize;
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

#[derive(Deserialize)]
struct EventHead<'a> {
    #[serde(rename = "eventType", borrow)]
    event_type: Cow<'a, str>,
}

impl<'a> Delivery<'a> {
    /// Checks that `body` is an event-hook envelope with a `data.events` list.
    pub fn parse(body: &'a [u8]) -> Result<Self, DeliveryError> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
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
    let head: EventHead = match serde_json::from_str(raw.get()) {
        Ok(head) => head,
        Err(e) => {
            return EventSlot::Unreadable {
                reason: format!("no eventType string: {}", reason(&e)),
            };
        }
    };
    if !wanted.iter().any(|w| *w == head.event_type) {
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
    fn accepts_a_leading_byte_order_mark() {
        let delivery = Delivery::parse(b"\xEF\xBB\xBF{\"data\":{\"events\":[]}}").expect("parses");
        assert!(delivery.is_empty());
    }
}
