//! The Okta management API, used for one question: which factors does a user
//! still have once some were removed (`GET /api/v1/users/{id}/factors`).
//!
//! The answer only adds to an alert. Any failure (no answer in time, an
//! error status, an odd body) is logged and the alert goes out without it.

use std::time::Duration;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How long the question may take; the alert waits for it.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// A client for one org's management API.
#[derive(Clone)]
pub struct OktaApi {
    http: reqwest::Client,
    base: Url,
    authorization: SecretString,
}

/// Why the question went unanswered.
#[derive(Debug, thiserror::Error)]
pub enum OktaApiError {
    /// The user id is not an Okta id, so no URL is built from it.
    #[error("not an Okta user id")]
    OddUserId,
    /// The request failed or timed out.
    #[error("Okta API request failed: {0}")]
    Request(String),
    /// Okta answered with an error status.
    #[error("Okta API answered HTTP {0}")]
    Status(u16),
    /// Okta's answer is not a list of factors.
    #[error("Okta API answer is not a list of factors")]
    Body,
}

#[derive(Deserialize)]
struct Factor {
    #[serde(rename = "factorType", default)]
    factor_type: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

impl OktaApi {
    /// A client for the org at `org_url`; `token` is an API token (sent as
    /// `SSWS …`) or an OAuth access token given as `Bearer …`.
    pub fn new(org_url: &str, token: &SecretString) -> anyhow::Result<Self> {
        let base = Url::parse(org_url)?;
        let token = token.expose_secret();
        let authorization = if token.starts_with("SSWS ") || token.starts_with("Bearer ") {
            token.to_owned()
        } else {
            format!("SSWS {token}")
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(LOOKUP_TIMEOUT)
            .user_agent(concat!("okta-mfa-notifier/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base,
            authorization: SecretString::from(authorization),
        })
    }

    /// The factors the user still has, as `TYPE (PROVIDER)`, active ones only.
    pub async fn remaining_factors(&self, user_id: &str) -> Result<Vec<String>, OktaApiError> {
        if user_id.is_empty()
            || user_id.len() > 64
            || !user_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(OktaApiError::OddUserId);
        }
        let mut url = self.base.clone();
        url.set_path(&format!("/api/v1/users/{user_id}/factors"));
        let response = self.get(url, LOOKUP_TIMEOUT).send().await.map_err(|e| {
            OktaApiError::Request(if e.is_timeout() {
                "timed out".into()
            } else {
                e.without_url().to_string()
            })
        })?;
        if !response.status().is_success() {
            return Err(OktaApiError::Status(response.status().as_u16()));
        }
        let factors: Vec<Factor> = response.json().await.map_err(|_| OktaApiError::Body)?;
        Ok(factors
            .into_iter()
            .filter(|f| f.status.as_deref().is_none_or(|s| s == "ACTIVE"))
            .map(|f| match (f.factor_type, f.provider) {
                (Some(kind), Some(provider)) => format!("{kind} ({provider})"),
                (Some(kind), None) => kind,
                (None, Some(provider)) => provider,
                (None, None) => "a factor Okta did not name".to_owned(),
            })
            .collect())
    }
}

impl OktaApi {
    /// The org's base URL.
    pub(super) fn base(&self) -> &Url {
        &self.base
    }

    /// `text` with the token, should it appear, replaced by `[redacted]`:
    /// for messages that quote what a server answered.
    pub(super) fn redact(&self, text: &str) -> String {
        let authorization = self.authorization.expose_secret();
        let token = authorization
            .split_once(' ')
            .map_or(authorization, |(_, token)| token);
        if token.is_empty() {
            return text.to_owned();
        }
        text.replace(authorization, "[redacted]")
            .replace(token, "[redacted]")
    }

    /// A GET of `url` with the token, answered as JSON within `timeout`.
    pub(super) fn get(&self, url: Url, timeout: Duration) -> reqwest::RequestBuilder {
        self.http
            .get(url)
            .timeout(timeout)
            .header("Authorization", self.authorization.expose_secret())
            .header("Accept", "application/json")
    }
}

impl std::fmt::Debug for OktaApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaApi")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}
