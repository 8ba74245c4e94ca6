//! Authentication of Okta's requests by the shared secret in a header.
//!
//! Okta signs nothing: each request carries a static secret in a configured
//! header. It is compared in constant time with every accepted value (so that
//! a secret can be rotated), and all values are always compared, so timing
//! tells nothing about which one matched or how much of it did.

use axum::http::{HeaderMap, HeaderName};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// Checks the secret header of incoming requests.
#[derive(Debug)]
pub struct HookAuth {
    header: HeaderName,
    secrets: Vec<SecretString>,
}

impl HookAuth {
    /// Accepts requests whose `header` holds one of `secrets`; any request when
    /// `secrets` is empty.
    pub fn new(header: &str, secrets: &[SecretString]) -> anyhow::Result<Self> {
        Ok(Self {
            header: HeaderName::from_bytes(header.as_bytes())?,
            secrets: secrets.to_vec(),
        })
    }

    /// Whether a request with these headers may go on.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if self.secrets.is_empty() {
            return true;
        }
        let Some(given) = headers.get(&self.header) else {
            return false;
        };
        let given = given.as_bytes();
        self.secrets
            .iter()
            .fold(subtle::Choice::from(0), |matched, secret| {
                matched | secret.expose_secret().as_bytes().ct_eq(given)
            })
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
        headers
    }

    #[test]
    fn any_configured_secret_is_accepted() {
        let auth = HookAuth::new(
            "X-Okta-Secret",
            &[SecretString::from("new"), SecretString::from("old")],
        )
        .expect("auth");
        assert!(auth.allows(&headers("x-okta-secret", "new")));
        assert!(auth.allows(&headers("x-okta-secret", "old")));
        assert!(!auth.allows(&headers("x-okta-secret", "ol")));
        assert!(!auth.allows(&headers("x-okta-secret", "older")));
        assert!(!auth.allows(&headers("authorization", "new")));
        assert!(!auth.allows(&HeaderMap::new()));
    }

    #[test]
    fn no_secrets_means_no_check() {
        let auth = HookAuth::new("Authorization", &[]).expect("auth");
        assert!(auth.allows(&HeaderMap::new()));
    }
}
