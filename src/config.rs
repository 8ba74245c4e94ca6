//! Configuration: the settings the service runs with, and where they come from.
//!
//! Sources, lowest to highest precedence: the built-in defaults below, the TOML
//! file given by `--config` or `OKTA_MFA_NOTIFIER_CONFIG`, and environment
//! variables named `OKTA_MFA_NOTIFIER__<SECTION>__<KEY>`. A secret key `K` may be
//! given as `K_file` instead: a path whose contents are the secret. Everything is
//! read and checked once, at start; an unknown key or an invalid value stops the
//! start with a message that names the key.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use axum::http::HeaderName;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "OKTA_MFA_NOTIFIER";

/// Every setting of the service, checked and with secrets resolved.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The public listener that Okta calls.
    #[serde(default)]
    pub server: ServerSettings,
    /// The private listener for probes and metrics.
    #[serde(default)]
    pub admin: AdminSettings,
    /// How Okta deliveries are authenticated and which events raise alerts.
    #[serde(default)]
    pub okta: OktaSettings,
    /// Where alerts are posted.
    #[serde(default)]
    pub slack: SlackSettings,
    /// The embedded database.
    #[serde(default)]
    pub store: StoreSettings,
    /// How long delivery keeps trying.
    #[serde(default)]
    pub delivery: DeliverySettings,
    /// Log output.
    #[serde(default)]
    pub log: LogSettings,
}

/// The public listener that Okta calls.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address and port the event hook listens on.
    pub listen: SocketAddr,
    /// Path of the event hook; the same path with a trailing slash also works.
    pub hook_path: String,
    /// Largest accepted request body in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Seconds a request may take, body included, before it gets 408; a
    /// connection that sends nothing for this long is closed.
    pub request_timeout_secs: u64,
    /// Most connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            hook_path: "/okta/event-hook".to_owned(),
            max_body_bytes: 8 * 1024 * 1024,
            request_timeout_secs: 10,
            max_connections: 1024,
        }
    }
}

/// The private listener for `/healthz`, `/readyz` and `/metrics`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Address and port of the admin listener; never the public one.
    pub listen: SocketAddr,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
        }
    }
}

/// How Okta deliveries are authenticated and which events raise alerts.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OktaSettings {
    /// Name of the request header that carries the shared secret.
    pub auth_header: String,
    /// Accepted secret values; more than one lets a secret be rotated.
    #[serde(serialize_with = "redact_all", deserialize_with = "secret_list")]
    pub auth_secrets: Vec<SecretString>,
    /// File with one accepted secret per line, instead of `auth_secrets`.
    pub auth_secrets_file: Option<PathBuf>,
    /// Accept deliveries without any secret; must be set on purpose.
    pub allow_unauthenticated: bool,
    /// Base URL of the Okta org, such as `https://acme.okta.com`; enables Admin Console links.
    pub org_url: Option<String>,
    /// Okta API token (`SSWS` token, or `Bearer …` for OAuth).
    #[serde(serialize_with = "redact_option")]
    pub api_token: Option<SecretString>,
    /// File holding the Okta API token, instead of `api_token`.
    pub api_token_file: Option<PathBuf>,
    /// System Log event types that raise alerts.
    #[serde(deserialize_with = "list")]
    pub event_types: Vec<String>,
    /// Seconds to gather the `user.mfa.factor.deactivate` events of one user
    /// that share no transaction into one alert; also how long a fold waits
    /// for the rest of its events before it is sent.
    pub deactivation_window_secs: u64,
    /// Alert when users remove one of their own factors (routine, so off).
    pub alert_self_service_removals: bool,
    /// Seconds between two readings of the System Log for events the hook
    /// missed (needs `api_token` and `org_url`); 0 turns the periodic
    /// reading off, leaving only the `backfill` command.
    pub backfill_interval_secs: u64,
    /// Seconds of System Log read again before the point already reconciled,
    /// for events Okta writes late; their uuids make re-reading harmless.
    pub backfill_margin_secs: u64,
    /// Seconds one System Log request may take (Okta stops a query at 30).
    pub backfill_timeout_secs: u64,
}

impl Default for OktaSettings {
    fn default() -> Self {
        Self {
            auth_header: "Authorization".to_owned(),
            auth_secrets: Vec::new(),
            auth_secrets_file: None,
            allow_unauthenticated: false,
            org_url: None,
            api_token: None,
            api_token_file: None,
            event_types: vec!["user.mfa.factor.reset_all".to_owned()],
            deactivation_window_secs: 5,
            alert_self_service_removals: false,
            backfill_interval_secs: 300,
            backfill_margin_secs: 600,
            backfill_timeout_secs: 30,
        }
    }
}

/// Where alerts are posted.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackSettings {
    /// Bot token (`xoxb-…`); without it alerts are printed to standard output.
    #[serde(serialize_with = "redact_option")]
    pub bot_token: Option<SecretString>,
    /// File holding the bot token, instead of `bot_token`.
    pub bot_token_file: Option<PathBuf>,
    /// Channel ID (`C…`) the alerts go to; required with a bot token.
    pub channel: Option<String>,
    /// Base URL of the Slack Web API.
    pub api_url: String,
    /// Seconds one `chat.postMessage` call may take before it counts as failed.
    pub timeout_secs: u64,
}

impl Default for SlackSettings {
    fn default() -> Self {
        Self {
            bot_token: None,
            bot_token_file: None,
            channel: None,
            api_url: "https://slack.com/api".to_owned(),
            timeout_secs: 10,
        }
    }
}

/// The embedded database.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Path of the database file.
    pub path: PathBuf,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data/okta-mfa-notifier.db"),
        }
    }
}

/// How delivery paces messages and retries failures.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// Seconds after which an undelivered alert becomes a dead letter.
    pub max_age_secs: u64,
    /// Steady rate of messages to one channel (Slack allows about one per second).
    pub messages_per_second: f64,
    /// Messages that may go to one channel at once before the rate applies.
    pub burst: u32,
    /// Delay before the first retry, in milliseconds; it doubles up to `retry_max_secs`.
    pub retry_initial_ms: u64,
    /// Longest delay between two retries, in seconds.
    pub retry_max_secs: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            max_age_secs: 86_400,
            messages_per_second: 1.0,
            burst: 3,
            retry_initial_ms: 1_000,
            retry_max_secs: 300,
        }
    }
}

impl DeliverySettings {
    /// `max_age_secs` as a duration.
    pub fn max_age(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.max_age_secs)
    }
}

/// Log output.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

/// Shape of the log lines written to standard error.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per record.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Settings {
    /// Reads the file (if any) and the process environment, then checks the result.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_from(file, std::env::vars().collect())
    }

    /// Like [`Settings::load`], with the environment given as a map.
    pub fn load_from(file: Option<&Path>, env: HashMap<String, String>) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.is_file() {
                bail!("configuration file {} does not exist", path.display());
            }
            builder = builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let env = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .source(Some(env));
        let raw = builder.add_source(env).build().map_err(|e| {
            anyhow::anyhow!("cannot read the configuration: {}", without_excerpt(&e))
        })?;
        let mut settings: Settings = raw
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}", without_excerpt(&e)))?;
        settings.read_secret_files()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Parses settings from TOML text alone (no environment), then checks them.
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let mut settings: Settings = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}", without_excerpt(&e)))?;
        settings.read_secret_files()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Every secret value, for scrubbing them from anything printed.
    pub fn secret_values(&self) -> Vec<String> {
        let okta = &self.okta;
        okta.auth_secrets
            .iter()
            .chain(okta.api_token.iter())
            .chain(self.slack.bot_token.iter())
            .map(|s| s.expose_secret().to_owned())
            .collect()
    }

    /// The configuration as TOML, with every secret replaced by `[redacted]`;
    /// a secret read from a `_file` key shows only as that key.
    pub fn to_redacted_toml(&self) -> String {
        let mut value = match toml::Value::try_from(self) {
            Ok(value) => value,
            Err(e) => return format!("# cannot render: {e}\n"),
        };
        for (section, key) in [
            ("okta", "auth_secrets"),
            ("okta", "api_token"),
            ("slack", "bot_token"),
        ] {
            if let Some(table) = value.get_mut(section).and_then(toml::Value::as_table_mut)
                && table.contains_key(&format!("{key}_file"))
            {
                table.remove(key);
            }
        }
        toml::to_string_pretty(&value).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    fn read_secret_files(&mut self) -> anyhow::Result<()> {
        if let Some(path) = &self.okta.auth_secrets_file {
            if !self.okta.auth_secrets.is_empty() {
                bail!("okta.auth_secrets and okta.auth_secrets_file are both set; keep one");
            }
            let text = read_secret_file(path, "okta.auth_secrets_file")?;
            self.okta.auth_secrets = text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(SecretString::from)
                .collect();
        }
        if let Some(path) = &self.okta.api_token_file {
            if self.okta.api_token.is_some() {
                bail!("okta.api_token and okta.api_token_file are both set; keep one");
            }
            let text = read_secret_file(path, "okta.api_token_file")?;
            self.okta.api_token = Some(SecretString::from(text.trim().to_owned()));
        }
        if let Some(path) = &self.slack.bot_token_file {
            if self.slack.bot_token.is_some() {
                bail!("slack.bot_token and slack.bot_token_file are both set; keep one");
            }
            let text = read_secret_file(path, "slack.bot_token_file")?;
            self.slack.bot_token = Some(SecretString::from(text.trim().to_owned()));
        }
        Ok(())
    }

    /// Checks values that the types alone cannot; each message names its key.
    fn validate(&self) -> anyhow::Result<()> {
        let hook_path = &self.server.hook_path;
        if !hook_path.starts_with('/') || hook_path.contains(['?', '#', ' ']) {
            bail!("server.hook_path must be a URL path starting with '/', got {hook_path:?}");
        }
        if self.server.request_timeout_secs < 3 {
            bail!("server.request_timeout_secs must be at least 3: the store gets 2.5 s to answer");
        }
        if self.server.max_connections == 0 {
            bail!("server.max_connections must be at least 1");
        }
        if self.server.max_body_bytes == 0 {
            bail!("server.max_body_bytes must be greater than 0");
        }
        if self.server.listen == self.admin.listen && self.server.listen.port() != 0 {
            bail!("admin.listen must differ from server.listen: the admin port is never public");
        }

        let auth_header =
            HeaderName::from_bytes(self.okta.auth_header.as_bytes()).map_err(|_| {
                anyhow::anyhow!(
                    "okta.auth_header must be an HTTP header name, got {:?}",
                    self.okta.auth_header
                )
            })?;
        // Headers that are logged, echoed or read for another purpose must
        // never carry the secret.
        if [
            "x-request-id",
            "x-okta-verification-challenge",
            "content-type",
            "content-length",
            "host",
            "user-agent",
        ]
        .contains(&auth_header.as_str())
        {
            bail!(
                "okta.auth_header cannot be {auth_header}: that header is logged or used for something else"
            );
        }
        if self
            .okta
            .auth_secrets
            .iter()
            .any(|s| s.expose_secret().is_empty())
        {
            bail!("okta.auth_secrets must not contain an empty secret");
        }
        if self.okta.auth_secrets.is_empty() && !self.okta.allow_unauthenticated {
            bail!(
                "okta.auth_secrets is empty: set the secret Okta sends, \
                 or set okta.allow_unauthenticated = true to accept unauthenticated deliveries"
            );
        }
        if let Some(org_url) = &self.okta.org_url {
            let url = Url::parse(org_url)
                .map_err(|e| anyhow::anyhow!("okta.org_url is not a URL ({e}): {org_url:?}"))?;
            if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
                bail!("okta.org_url must be an https URL such as https://acme.okta.com");
            }
            if !url.username().is_empty()
                || url.password().is_some()
                || url.query().is_some()
                || url.fragment().is_some()
                || url.path() != "/"
            {
                bail!(
                    "okta.org_url must be the org's address alone, such as https://acme.okta.com \
                     (no user, password, path or query)"
                );
            }
        }
        if let Some(token) = &self.okta.api_token
            && token.expose_secret().is_empty()
        {
            bail!("okta.api_token is empty");
        }
        if let (Some(_), Some(org_url)) = (&self.okta.api_token, &self.okta.org_url)
            && let Ok(url) = Url::parse(org_url)
            && url.scheme() != "https"
            && !matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        {
            bail!(
                "okta.org_url must be https when okta.api_token is set: the token would travel in clear"
            );
        }
        if self.delivery.max_age_secs <= self.okta.deactivation_window_secs {
            bail!("delivery.max_age_secs must be longer than okta.deactivation_window_secs");
        }
        if self.okta.deactivation_window_secs > 300 {
            bail!("okta.deactivation_window_secs must be at most 300: alerts wait that long");
        }
        if self.okta.backfill_margin_secs > 86_400 {
            bail!("okta.backfill_margin_secs must be at most 86400 (one day)");
        }
        if !(1..=120).contains(&self.okta.backfill_timeout_secs) {
            bail!("okta.backfill_timeout_secs must be between 1 and 120");
        }
        if self.okta.event_types.is_empty() {
            bail!("okta.event_types must list at least one event type");
        }
        if let Some(bad) = self
            .okta
            .event_types
            .iter()
            .find(|t| t.is_empty() || t.contains(char::is_whitespace))
        {
            bail!("okta.event_types contains an invalid event type {bad:?}");
        }

        let api_url = Url::parse(&self.slack.api_url).map_err(|e| {
            anyhow::anyhow!("slack.api_url is not a URL ({e}): {:?}", self.slack.api_url)
        })?;
        if !matches!(api_url.scheme(), "https" | "http") {
            bail!("slack.api_url must be an http(s) URL");
        }
        match (&self.slack.bot_token, &self.slack.channel) {
            (Some(token), _) if token.expose_secret().is_empty() => {
                bail!("slack.bot_token is empty")
            }
            (Some(token), _)
                if token
                    .expose_secret()
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control()) =>
            {
                bail!("slack.bot_token contains spaces or control characters")
            }
            (Some(_), None) => bail!("slack.channel is required when slack.bot_token is set"),
            (_, Some(channel)) if channel.starts_with('#') || channel.trim().is_empty() => bail!(
                "slack.channel must be a channel ID such as C0123456789, not a name: {channel:?}"
            ),
            _ => {}
        }

        if self.slack.timeout_secs == 0 {
            bail!("slack.timeout_secs must be greater than 0");
        }
        let delivery = &self.delivery;
        if delivery.max_age_secs == 0 {
            bail!("delivery.max_age_secs must be greater than 0");
        }
        if !(delivery.messages_per_second.is_finite() && delivery.messages_per_second > 0.0) {
            bail!("delivery.messages_per_second must be a number greater than 0");
        }
        if delivery.burst == 0 {
            bail!("delivery.burst must be at least 1");
        }
        if delivery.retry_initial_ms == 0 || delivery.retry_max_secs == 0 {
            bail!("delivery.retry_initial_ms and delivery.retry_max_secs must be greater than 0");
        }
        Ok(())
    }
}

/// An error message without the lines of configuration it quotes (a TOML
/// parse error shows the offending line, which may hold a secret) and
/// without any quoted value.
fn without_excerpt(error: &dyn fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .filter(|line| {
            let trimmed = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
            !trimmed.starts_with('|') && !line.trim().is_empty()
        })
        .map(|line| match (line.find(" \""), line.rfind('"')) {
            (Some(start), Some(end)) if end > start + 1 => {
                format!("{}{}", &line[..start + 1], &line[end + 1..])
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_secret_file(path: &Path, key: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{key}: cannot read {}", path.display()))
}

/// A list given as a TOML array, or as one comma-separated string (the form
/// environment variables take). Values are kept as text, never read as
/// numbers, so a secret such as `0042` stays what it is.
fn list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Many(items) => items,
        OneOrMany::One(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

fn secret_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SecretString>, D::Error> {
    Ok(list(deserializer)?
        .into_iter()
        .map(SecretString::from)
        .collect())
}

const REDACTED: &str = "[redacted]";

fn redact_option<S: Serializer>(
    value: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => serializer.serialize_str(REDACTED),
        None => serializer.serialize_none(),
    }
}

fn redact_all<S: Serializer>(values: &[SecretString], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(values.iter().map(|_| REDACTED))
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_toml(text: &str, vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).expect("write config");
        Settings::load_from(Some(&path), env(vars))
    }

    #[test]
    fn defaults_match_the_specification() {
        let s = Settings::load_from(None, env(&[("OKTA_MFA_NOTIFIER__OKTA__AUTH_SECRETS", "s")]))
            .expect("loads");
        assert_eq!(s.server.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(s.server.hook_path, "/okta/event-hook");
        assert_eq!(s.server.max_body_bytes, 8_388_608);
        assert_eq!(s.admin.listen.to_string(), "127.0.0.1:9090");
        assert_eq!(s.okta.auth_header, "Authorization");
        assert_eq!(s.okta.event_types, ["user.mfa.factor.reset_all"]);
        assert_eq!(s.slack.api_url, "https://slack.com/api");
        assert_eq!(s.store.path, PathBuf::from("data/okta-mfa-notifier.db"));
        assert_eq!(s.delivery.max_age_secs, 86_400);
        assert_eq!(s.delivery.messages_per_second, 1.0);
        assert_eq!(s.slack.timeout_secs, 10);
        assert_eq!(s.log.format, LogFormat::Text);
    }

    #[test]
    fn environment_overrides_the_file() {
        let s = load_toml(
            "[okta]\nauth_secrets = [\"from-file\"]\n[slack]\nchannel = \"CFILE\"\n",
            &[
                ("OKTA_MFA_NOTIFIER__SLACK__CHANNEL", "CENV"),
                ("OKTA_MFA_NOTIFIER__OKTA__AUTH_SECRETS", "one,two"),
                ("OKTA_MFA_NOTIFIER__SERVER__MAX_BODY_BYTES", "1024"),
            ],
        )
        .expect("loads");
        assert_eq!(s.slack.channel.as_deref(), Some("CENV"));
        let secrets: Vec<_> = s
            .okta
            .auth_secrets
            .iter()
            .map(|s| s.expose_secret())
            .collect();
        assert_eq!(secrets, ["one", "two"]);
        assert_eq!(s.server.max_body_bytes, 1024);
    }

    #[test]
    fn secrets_that_look_like_numbers_stay_strings() {
        let s = Settings::load_from(
            None,
            env(&[
                (
                    "OKTA_MFA_NOTIFIER__OKTA__AUTH_SECRETS",
                    "12345678901234567890",
                ),
                ("OKTA_MFA_NOTIFIER__SLACK__BOT_TOKEN", "0042"),
                ("OKTA_MFA_NOTIFIER__SLACK__CHANNEL", "C1"),
                ("OKTA_MFA_NOTIFIER__OKTA__ALLOW_UNAUTHENTICATED", "false"),
            ]),
        )
        .expect("loads");
        assert_eq!(
            s.okta.auth_secrets[0].expose_secret(),
            "12345678901234567890"
        );
        assert_eq!(
            s.slack.bot_token.as_ref().map(|t| t.expose_secret()),
            Some("0042")
        );
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let err = load_toml("[server]\nlisten_addr = \"0.0.0.0:1\"\n", &[]).unwrap_err();
        assert!(format!("{err:#}").contains("listen_addr"), "{err:#}");

        let err = Settings::load_from(
            None,
            env(&[
                ("OKTA_MFA_NOTIFIER__OKTA__AUTH_SECRETS", "s"),
                ("OKTA_MFA_NOTIFIER__SLACK__CHANEL", "C1"),
            ]),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("chanel"), "{err:#}");
    }

    #[test]
    fn invalid_values_name_their_key() {
        let cases = [
            ("[server]\nlisten = \"nowhere\"\n", "listen"),
            (
                "[okta]\nauth_secrets=[\"s\"]\norg_url = \"acme\"\n",
                "okta.org_url",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\norg_url = \"https://u:p@acme.okta.com\"\n",
                "okta.org_url",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\norg_url = \"https://acme.okta.com/app?x=1\"\n",
                "okta.org_url",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\nbackfill_timeout_secs = 0\n",
                "okta.backfill_timeout_secs",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\nbackfill_margin_secs = 90000\n",
                "okta.backfill_margin_secs",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\n[slack]\nbot_token = \"x\"\n",
                "slack.channel",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\n[slack]\nchannel = \"#sec\"\n",
                "slack.channel",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\n[log]\nformat = \"xml\"\n",
                "format",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\nauth_header = \"bad header\"\n",
                "okta.auth_header",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\nevent_types = []\n",
                "okta.event_types",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\n[delivery]\nmax_age_secs = -1\n",
                "max_age_secs",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\n[delivery]\nburst = 0\n",
                "delivery.burst",
            ),
            (
                "[okta]\nauth_secrets=[\"s\"]\n[delivery]\nmessages_per_second = 0.0\n",
                "delivery.messages_per_second",
            ),
        ];
        for (text, key) in cases {
            let err = load_toml(text, &[]).expect_err(text);
            assert!(format!("{err:#}").contains(key), "{text}: {err:#}");
        }
    }

    #[test]
    fn running_without_secrets_must_be_explicit() {
        let err = Settings::load_from(None, env(&[])).unwrap_err();
        assert!(format!("{err:#}").contains("okta.allow_unauthenticated"));

        let s = Settings::load_from(
            None,
            env(&[("OKTA_MFA_NOTIFIER__OKTA__ALLOW_UNAUTHENTICATED", "true")]),
        )
        .expect("loads");
        assert!(s.okta.auth_secrets.is_empty());
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let secrets = dir.path().join("hook-secrets");
        std::fs::write(&secrets, "current\n\nprevious\n").expect("write");
        let token = dir.path().join("slack-token");
        std::fs::write(&token, "xoxb-from-file\n").expect("write");
        let s = Settings::load_from(
            None,
            env(&[
                (
                    "OKTA_MFA_NOTIFIER__OKTA__AUTH_SECRETS_FILE",
                    secrets.to_str().expect("utf8"),
                ),
                (
                    "OKTA_MFA_NOTIFIER__SLACK__BOT_TOKEN_FILE",
                    token.to_str().expect("utf8"),
                ),
                ("OKTA_MFA_NOTIFIER__SLACK__CHANNEL", "C0123"),
            ]),
        )
        .expect("loads");
        let hook: Vec<_> = s
            .okta
            .auth_secrets
            .iter()
            .map(|s| s.expose_secret())
            .collect();
        assert_eq!(hook, ["current", "previous"]);
        assert_eq!(
            s.slack.bot_token.as_ref().map(|t| t.expose_secret()),
            Some("xoxb-from-file")
        );

        let err = Settings::load_from(
            None,
            env(&[(
                "OKTA_MFA_NOTIFIER__OKTA__AUTH_SECRETS_FILE",
                "/nonexistent/secret",
            )]),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("okta.auth_secrets_file"),
            "{err:#}"
        );
    }

    #[test]
    fn errors_never_quote_a_secret() {
        let cases = [
            "[okta]\nauth_secrets = [\"hunter2-\\q\"]\n",
            "[okta]\nauth_secrets = \"hunter2-unclosed\n",
            "[okta]\nauth_secrets = [\"hunter2-typed\", 5]\n",
            "[slack]\nbot_token = [\"hunter2-list\"]\nchannel = \"C1\"\n",
        ];
        for text in cases {
            let err = load_toml(text, &[]).expect_err(text);
            assert!(!format!("{err:#}").contains("hunter2"), "{text}: {err:#}");
        }
    }

    #[test]
    fn redacted_output_hides_every_secret() {
        let s = Settings::from_toml(
            "[okta]\nauth_secrets = [\"hook-secret-1\", \"hook-secret-2\"]\n\
             api_token = \"okta-api-secret\"\n\
             [slack]\nbot_token = \"xoxb-secret\"\nchannel = \"C1\"\n",
        )
        .expect("loads");
        let shown = s.to_redacted_toml();
        for secret in [
            "hook-secret-1",
            "hook-secret-2",
            "okta-api-secret",
            "xoxb-secret",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
        }
        assert!(shown.contains("[redacted]"));
        assert!(shown.contains("C1"));
        assert!(!format!("{s:?}").contains("xoxb-secret"));
    }

    #[test]
    fn redacted_output_can_be_loaded_again_when_secrets_come_from_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let token = dir.path().join("token");
        std::fs::write(&token, "xoxb-from-file").expect("write");
        let text = format!(
            "[okta]\nallow_unauthenticated = true\n[slack]\nchannel = \"C1\"\nbot_token_file = {:?}\n",
            token.display().to_string()
        );
        let shown = Settings::from_toml(&text)
            .expect("loads")
            .to_redacted_toml();
        assert!(
            !shown.contains("xoxb-from-file") && !shown.contains("bot_token ="),
            "{shown}"
        );
        Settings::from_toml(&shown).expect("the printed configuration loads");
    }
}
