//! The `chat.postMessage` call and what its failures mean.
//!
//! Slack reports most failures as HTTP 200 with `{"ok":false,"error":…}`, so
//! the body is always read. Every failure is sorted into a [`SlackError`]
//! whose variant tells the caller whether to try again and, when not, what the
//! operator has to fix.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::PostMessage;

/// A Slack Web API client for one bot token.
#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    endpoint: Url,
    token: SecretString,
}

/// Where Slack put a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// Channel ID the message is in.
    pub channel: String,
    /// Message timestamp; with the channel, the message's identity.
    pub ts: String,
}

/// Why a message was not posted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SlackError {
    /// HTTP 429 or `ratelimited`: wait, then try again.
    #[error("Slack rate-limited the call")]
    RateLimited {
        /// How long Slack asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// Slack or the network failed in a way that may pass.
    #[error("Slack is unavailable: {0}")]
    Transient(String),
    /// Slack refused the message's content; a simpler message may pass.
    #[error("Slack rejected the message content: {code}")]
    InvalidPayload {
        /// Slack's error code.
        code: String,
    },
    /// Slack refused the call for a reason only the operator can fix.
    #[error("Slack refused the call: {code}")]
    Permanent {
        /// Slack's error code.
        code: String,
    },
}

impl SlackError {
    /// Whether the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient(_))
    }

    /// What the operator must do about this failure.
    pub fn remedy(&self) -> &'static str {
        let code = match self {
            Self::RateLimited { .. } | Self::Transient(_) => return "none; it is retried",
            Self::InvalidPayload { .. } => return "report the alert; Slack refused its layout",
            Self::Permanent { code } => code.as_str(),
        };
        match code {
            "not_authed"
            | "invalid_auth"
            | "token_revoked"
            | "token_expired"
            | "account_inactive"
            | "not_allowed_token_type" => {
                "set slack.bot_token to a valid bot token (xoxb-…) of an installed app"
            }
            "missing_scope" | "no_permission" | "access_denied" => {
                "add the chat:write scope to the Slack app and reinstall it"
            }
            "channel_not_found" => {
                "set slack.channel to an existing channel ID (C…); for a private channel, invite the bot"
            }
            "not_in_channel" => {
                "invite the bot to the channel, or add the chat:write.public scope for public channels"
            }
            "is_archived" => "unarchive the channel or set slack.channel to another channel",
            code if code.starts_with("redirected") => {
                "set slack.api_url to the Slack Web API base URL, https://slack.com/api; it must not redirect"
            }
            "unknown_method" | "HTTP 404 Not Found" => {
                "set slack.api_url to the Slack Web API base URL, https://slack.com/api"
            }
            crate::delivery::RENDER_FAILED => {
                "report this event: its content could not be rendered; the alert text is in the store"
            }
            _ => "check the Slack app, its token and the channel",
        }
    }
}

#[derive(Deserialize)]
struct SlackResponse {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    ts: Option<String>,
}

impl SlackClient {
    /// A client for the Web API at `api_url` (such as `https://slack.com/api`);
    /// a call slower than `timeout` counts as a transient failure.
    pub fn new(api_url: &str, token: SecretString, timeout: Duration) -> anyhow::Result<Self> {
        let mut endpoint = Url::parse(api_url)?;
        if !endpoint.path().ends_with('/') {
            let path = format!("{}/", endpoint.path());
            endpoint.set_path(&path);
        }
        let endpoint = endpoint.join("chat.postMessage")?;
        // No redirects: the token must only ever go to slack.api_url.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("okta-mfa-notifier/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            endpoint,
            token,
        })
    }

    /// Posts one message.
    pub async fn post_message(&self, message: &PostMessage) -> Result<Posted, SlackError> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .bearer_auth(self.token.expose_secret())
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            )
            .json(message)
            .send()
            .await
            .map_err(|e| SlackError::Transient(describe(e)))?;

        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SlackError::RateLimited {
                retry_after: retry_after(response.headers()),
            });
        }
        if status.is_server_error() {
            return Err(SlackError::Transient(format!("HTTP {status}")));
        }
        if status.is_redirection() {
            return Err(SlackError::Permanent {
                code: format!("redirected (HTTP {})", status.as_u16()),
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| SlackError::Transient(describe(e)))?;
        let Ok(answer) = serde_json::from_slice::<SlackResponse>(&body) else {
            return Err(SlackError::Transient(format!(
                "HTTP {status} without a Slack answer"
            )));
        };
        if answer.ok {
            return Ok(Posted {
                channel: answer
                    .channel
                    .map(|c| plain(&c))
                    .unwrap_or_else(|| message.channel.clone()),
                ts: answer.ts.map(|ts| plain(&ts)).unwrap_or_default(),
            });
        }
        Err(classify(
            answer
                .error
                .map(|code| plain(&code))
                .unwrap_or_else(|| format!("HTTP {status}")),
        ))
    }
}

/// Sorts an `ok:false` error code.
pub fn classify(code: String) -> SlackError {
    match code.as_str() {
        "ratelimited" | "rate_limited" => SlackError::RateLimited { retry_after: None },
        "service_unavailable"
        | "internal_error"
        | "fatal_error"
        | "request_timeout"
        | "team_added_to_org"
        | "org_login_required" => SlackError::Transient(code),
        "invalid_blocks"
        | "invalid_blocks_format"
        | "msg_blocks_too_long"
        | "no_text"
        | "invalid_arg_name"
        | "invalid_array_arg"
        | "invalid_charset"
        | "invalid_form_data"
        | "invalid_post_type"
        | "missing_post_type"
        | "markdown_text_conflict" => SlackError::InvalidPayload { code },
        _ => SlackError::Permanent { code },
    }
}

/// A value from Slack's answer, kept to what channel ids, timestamps and
/// error codes are made of, so that it can be logged and printed safely.
fn plain(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(80)
        .collect()
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// A network error in a few words, without the URL's query or any header.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        e.without_url().to_string()
    }
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_sorted() {
        assert!(classify("internal_error".into()).is_transient());
        assert!(classify("ratelimited".into()).is_transient());
        assert!(matches!(
            classify("invalid_blocks".into()),
            SlackError::InvalidPayload { .. }
        ));
        assert!(matches!(
            classify("not_in_channel".into()),
            SlackError::Permanent { .. }
        ));
        assert!(matches!(
            classify("something_new".into()),
            SlackError::Permanent { .. }
        ));
        assert!(
            classify("not_in_channel".into())
                .remedy()
                .contains("invite the bot")
        );
        assert!(
            classify("missing_scope".into())
                .remedy()
                .contains("chat:write")
        );
    }
}
