//! The System Log API (`GET /api/v1/logs`), read page by page.
//!
//! A query is bounded (`since` and `until`), sorted oldest first and filtered
//! on event types; Okta then answers in pages of at most 1,000 events and
//! names the next page in a `Link: <…>; rel="next"` header, until the last
//! page, which has none. A next link is followed only when it points at the
//! same org and path: the API token is never sent anywhere else. Each page
//! carries Okta's rate-limit headers for the caller to honour.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{HeaderMap, LINK};
use serde::Deserialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::OktaApi;
use crate::text::Untrusted;

/// The path of the System Log API.
const LOGS_PATH: &str = "/api/v1/logs";
/// Events per page; Okta's maximum.
const PAGE_SIZE: &str = "1000";
/// The largest page read; 1,000 events of a few kilobytes each fit many
/// times over.
const MAX_PAGE_BYTES: usize = 64 << 20;
/// The most of Okta's error summary kept in an error.
const SUMMARY_BUDGET: usize = 200;

/// The event Okta writes when it could not deliver an event hook.
pub const HOOK_DELIVERY_FAILED: &str = "event_hook.delivery";

/// A client for one org's System Log.
#[derive(Debug, Clone)]
pub struct SystemLog {
    api: OktaApi,
    timeout: Duration,
}

/// One page of events, as Okta sent it.
#[derive(Debug)]
pub struct LogPage {
    /// The JSON array of events.
    pub body: Bytes,
    /// The next page, when there is one.
    pub next: Option<Url>,
    /// Whether Okta named a next page outside this org's System Log, which
    /// is not followed.
    pub foreign_next: bool,
    /// What Okta said about the rate limit.
    pub rate: RateLimit,
}

/// Okta's rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests left in the current window (`X-Rate-Limit-Remaining`).
    pub remaining: Option<u64>,
    /// When the window resets, in Unix seconds (`X-Rate-Limit-Reset`).
    pub reset: Option<u64>,
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SystemLogError {
    /// Okta answered 429: too many requests for now.
    #[error("Okta's rate limit is reached")]
    RateLimited(RateLimit),
    /// The request failed or timed out.
    #[error("the System Log request failed: {0}")]
    Request(String),
    /// Okta answered with an error status.
    #[error("Okta answered HTTP {status}: {summary}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// Okta's error code and summary, cleaned for logs.
        summary: String,
    },
    /// A next link pointed outside the org's System Log.
    #[error("Okta's next link does not point at this org's System Log; not followed")]
    ForeignLink,
    /// A next link cannot be read, or leads back to a page already read.
    #[error("Okta's next link {0}")]
    BadLink(&'static str),
    /// The page is not a JSON list of events.
    #[error("a System Log page is not a list of events: {0}")]
    Body(String),
}

impl SystemLogError {
    /// Whether trying again later may help: rate limits, timeouts, Okta's
    /// own failures. Bad tokens, missing permissions and refused queries
    /// need an operator.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited(_) | Self::Request(_) => true,
            Self::Status { status, .. } => *status >= 500,
            Self::ForeignLink | Self::BadLink(_) | Self::Body(_) => false,
        }
    }
}

#[derive(Deserialize)]
struct OktaErrorBody {
    #[serde(rename = "errorCode", default)]
    code: Option<String>,
    #[serde(rename = "errorSummary", default)]
    summary: Option<String>,
}

impl SystemLog {
    /// A System Log reader using `api`'s org and token; each request may
    /// take `timeout`.
    pub fn new(api: OktaApi, timeout: Duration) -> Self {
        Self { api, timeout }
    }

    /// The first page of the events of `event_types` published in
    /// `[since, until)`, oldest first.
    pub fn first_page(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
        event_types: &[String],
    ) -> Url {
        let mut url = self.api.base().clone();
        url.set_path(LOGS_PATH);
        url.set_query(None);
        url.query_pairs_mut()
            .append_pair("since", &okta_time(since))
            .append_pair("until", &okta_time(until))
            .append_pair("filter", &filter(event_types))
            .append_pair("limit", PAGE_SIZE)
            .append_pair("sortOrder", "ASCENDING");
        url
    }

    /// Whether `url` is a page of this org's System Log, safe to send the
    /// token to.
    pub fn is_own_page(&self, url: &Url) -> bool {
        let base = self.api.base();
        url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
            && url.path() == LOGS_PATH
            && url.username().is_empty()
            && url.password().is_none()
    }

    /// Reads the page at `url`.
    pub async fn page(&self, url: &Url) -> Result<LogPage, SystemLogError> {
        if !self.is_own_page(url) {
            return Err(SystemLogError::ForeignLink);
        }
        let response = self
            .api
            .get(url.clone(), self.timeout)
            .send()
            .await
            .map_err(|e| {
                SystemLogError::Request(if e.is_timeout() {
                    "timed out".into()
                } else {
                    e.without_url().to_string()
                })
            })?;
        let status = response.status();
        let rate = rate_limit(response.headers());
        if status.as_u16() == 429 {
            return Err(SystemLogError::RateLimited(rate));
        }
        let next = next_link(response.headers(), url);
        let body = read_limited(response).await?;
        if !status.is_success() {
            return Err(SystemLogError::Status {
                status: status.as_u16(),
                summary: self.api.redact(&error_summary(&body)),
            });
        }
        let next = next?;
        let foreign_next = next.as_ref().is_some_and(|next| !self.is_own_page(next));
        Ok(LogPage {
            body,
            next: next.filter(|_| !foreign_next),
            foreign_next,
            rate,
        })
    }
}

/// Reads a body of at most [`MAX_PAGE_BYTES`].
async fn read_limited(mut response: reqwest::Response) -> Result<Bytes, SystemLogError> {
    let failed = |e: reqwest::Error| {
        SystemLogError::Request(if e.is_timeout() {
            "timed out".into()
        } else {
            e.without_url().to_string()
        })
    };
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_PAGE_BYTES {
            return Err(SystemLogError::Body(format!(
                "the page is larger than {} MiB",
                MAX_PAGE_BYTES >> 20
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The SCIM filter for a list of event types.
fn filter(event_types: &[String]) -> String {
    event_types
        .iter()
        .map(|t| {
            format!(
                "eventType eq \"{}\"",
                t.replace('\\', "\\\\").replace('"', "\\\"")
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A time as Okta's queries take it: UTC, to the millisecond.
pub fn okta_time(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

fn rate_limit(headers: &HeaderMap) -> RateLimit {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    RateLimit {
        remaining: number("x-rate-limit-remaining"),
        reset: number("x-rate-limit-reset"),
    }
}

/// The target of the first `rel="next"` link among all `Link` headers,
/// resolved against the page's own URL; a next link that cannot be read is
/// an error, never the end.
fn next_link(headers: &HeaderMap, page: &Url) -> Result<Option<Url>, SystemLogError> {
    let values: Vec<String> = headers
        .get_all(LINK)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let Some((target, _)) = values.iter().flat_map(|v| links(v)).find(|(_, rels)| {
        rels.split(';').any(|param| {
            let param = param.trim();
            param
                .strip_prefix("rel=")
                .map(|rel| rel.trim_matches('"'))
                .is_some_and(|rel| {
                    rel.split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
        })
    }) else {
        return Ok(None);
    };
    page.join(target.trim())
        .map(Some)
        .map_err(|_| SystemLogError::BadLink("cannot be read"))
}

/// The `<target>; params` pairs of one `Link` header value (RFC 8288).
fn links(value: &str) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|i| open + i) else {
            break;
        };
        let target = &rest[open + 1..close];
        let after = &rest[close + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        found.push((target, &after[..params_end]));
        rest = &after[params_end..];
    }
    found
}

/// Okta's `errorCode: errorSummary`, cleaned and cut for a log line.
fn error_summary(body: &[u8]) -> String {
    let Ok(error) = serde_json::from_slice::<OktaErrorBody>(body) else {
        return "no Okta error body".to_owned();
    };
    let text = match (error.code, error.summary) {
        (Some(code), Some(summary)) => format!("{code}: {summary}"),
        (Some(text), None) | (None, Some(text)) => text,
        (None, None) => return "no Okta error body".to_owned(),
    };
    let text: String = text.chars().take(SUMMARY_BUDGET).collect();
    Untrusted(&text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use secrecy::SecretString;

    fn log() -> SystemLog {
        let api = OktaApi::new(
            "https://acme.okta.com",
            &SecretString::from("token".to_owned()),
        )
        .expect("client");
        SystemLog::new(api, Duration::from_secs(30))
    }

    #[test]
    fn the_first_page_asks_for_the_watched_types_in_a_bounded_range() {
        let since = OffsetDateTime::from_unix_timestamp(1_796_000_000).expect("time");
        let until = since + time::Duration::minutes(5);
        let url = log().first_page(
            since,
            until,
            &[
                "user.mfa.factor.reset_all".into(),
                "event_hook.delivery".into(),
            ],
        );
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(url.path(), "/api/v1/logs");
        assert_eq!(
            pairs,
            [
                ("since".into(), "2026-11-30T00:53:20.000Z".into()),
                ("until".into(), "2026-11-30T00:58:20.000Z".into()),
                (
                    "filter".into(),
                    "eventType eq \"user.mfa.factor.reset_all\" or eventType eq \"event_hook.delivery\""
                        .into()
                ),
                ("limit".into(), "1000".into()),
                ("sortOrder".into(), "ASCENDING".into()),
            ]
        );
    }

    #[test]
    fn next_links_are_found_among_several_link_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            LINK,
            HeaderValue::from_static(
                "<https://acme.okta.com/api/v1/logs?since=x&limit=1000>; rel=\"self\"",
            ),
        );
        headers.append(
            LINK,
            HeaderValue::from_static(
                "<https://acme.okta.com/api/v1/logs?after=1627500044869_1&limit=1000>; rel=\"next\"",
            ),
        );
        let page = Url::parse("https://acme.okta.com/api/v1/logs?since=x").expect("url");
        let next = next_link(&headers, &page).expect("readable").expect("next");
        assert_eq!(
            next.query_pairs()
                .find(|(k, _)| k == "after")
                .map(|(_, v)| v.into_owned()),
            Some("1627500044869_1".to_owned())
        );

        let mut one_line = HeaderMap::new();
        one_line.insert(
            LINK,
            HeaderValue::from_static(
                "<https://acme.okta.com/api/v1/logs?a=1>; rel=\"self\", <https://acme.okta.com/api/v1/logs?after=2>; rel=next",
            ),
        );
        assert_eq!(
            next_link(&one_line, &page)
                .expect("readable")
                .map(|u| u.query().unwrap_or_default().to_owned()),
            Some("after=2".to_owned())
        );

        let mut relative = HeaderMap::new();
        relative.insert(
            LINK,
            HeaderValue::from_static("</api/v1/logs?after=3>; rel=\"next\""),
        );
        assert_eq!(
            next_link(&relative, &page)
                .expect("readable")
                .map(|u| u.to_string()),
            Some("https://acme.okta.com/api/v1/logs?after=3".to_owned()),
            "a relative link is resolved, not taken as the end"
        );
        let mut unreadable = HeaderMap::new();
        unreadable.insert(
            LINK,
            HeaderValue::from_static("<http://[::1>; rel=\"next\""),
        );
        assert!(next_link(&unreadable, &page).is_err());

        let mut only_self = HeaderMap::new();
        only_self.insert(
            LINK,
            HeaderValue::from_static("<https://acme.okta.com/api/v1/logs?a=1>; rel=\"self\""),
        );
        assert!(next_link(&only_self, &page).expect("readable").is_none());
        assert!(
            next_link(&HeaderMap::new(), &page)
                .expect("readable")
                .is_none()
        );
    }

    #[test]
    fn the_token_only_goes_to_the_orgs_own_system_log() {
        let log = log();
        for (url, own) in [
            ("https://acme.okta.com/api/v1/logs?after=1", true),
            ("https://acme.okta.com:443/api/v1/logs?after=1", true),
            ("https://evil.example/api/v1/logs?after=1", false),
            ("http://acme.okta.com/api/v1/logs?after=1", false),
            ("https://acme.okta.com:8443/api/v1/logs", false),
            ("https://acme.okta.com/api/v1/users", false),
            ("https://user:pw@acme.okta.com/api/v1/logs", false),
            ("https://acme.okta.com.evil.example/api/v1/logs", false),
        ] {
            let url = Url::parse(url).expect("url");
            assert_eq!(log.is_own_page(&url), own, "{url}");
        }
    }

    #[test]
    fn error_summaries_are_cleaned() {
        let body = br#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit\nforged line"}"#;
        let summary = error_summary(body);
        assert!(
            summary.starts_with("E0000047: API call exceeded"),
            "{summary}"
        );
        assert!(!summary.contains('\n'), "{summary}");
        assert_eq!(error_summary(b"<html>"), "no Okta error body");
    }

    #[test]
    fn quotes_in_event_types_cannot_break_the_filter() {
        assert_eq!(
            filter(&["a\" or eventType sw \"".into()]),
            "eventType eq \"a\\\" or eventType sw \\\"\""
        );
    }
}
