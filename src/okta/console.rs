//! Links into the Okta Admin Console, built from `okta.org_url`.
//!
//! The Admin Console lives on the org's domain with `-admin` added to its first
//! label (`acme.okta.com` → `acme-admin.okta.com`). Links are built only from
//! the configured URL and plain Okta ids, never from URLs found in events.

use reqwest::Url;

/// Okta's own domains, whose first label takes the `-admin` suffix.
const OKTA_DOMAINS: &[&str] = &[
    "okta.com",
    "oktapreview.com",
    "okta-emea.com",
    "okta-gov.com",
    "okta.mil",
    "trexcloud.com",
];

/// Builds Admin Console URLs for one org.
#[derive(Debug, Clone)]
pub struct AdminConsole {
    base: Url,
}

impl AdminConsole {
    /// The console of the org at `org_url`; `None` when it is not a URL.
    pub fn from_org_url(org_url: &str) -> Option<Self> {
        let mut base = Url::parse(org_url).ok()?;
        let host = base.host_str()?.to_ascii_lowercase();
        if let Some((label, domain)) = host.split_once('.')
            && OKTA_DOMAINS.contains(&domain)
            && !label.ends_with("-admin")
        {
            base.set_host(Some(&format!("{label}-admin.{domain}")))
                .ok()?;
        }
        base.set_path("/");
        base.set_query(None);
        base.set_fragment(None);
        Some(Self { base })
    }

    /// The user's profile page; `None` when the id is not an Okta id.
    pub fn user_url(&self, user_id: &str) -> Option<String> {
        if !is_plain_id(user_id) {
            return None;
        }
        let mut url = self.base.clone();
        url.set_path(&format!("/admin/user/profile/view/{user_id}"));
        Some(url.to_string())
    }

    /// The System Log, searched for one event; `None` when the uuid is not
    /// an Okta event id.
    pub fn system_log_url(&self, event_uuid: &str) -> Option<String> {
        if !is_plain_id(event_uuid) {
            return None;
        }
        let mut url = self.base.clone();
        url.set_path("/report/system_log_2");
        url.query_pairs_mut().append_pair("search", event_uuid);
        Some(url.to_string())
    }
}

/// Okta ids and event uuids: short, and only letters, digits, `-` and `_`.
fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_domains_get_the_admin_host() {
        let console = AdminConsole::from_org_url("https://acme.okta.com/").expect("url");
        assert_eq!(
            console.user_url("00u1").as_deref(),
            Some("https://acme-admin.okta.com/admin/user/profile/view/00u1")
        );
        assert_eq!(
            console.system_log_url("3c9e-41").as_deref(),
            Some("https://acme-admin.okta.com/report/system_log_2?search=3c9e-41")
        );
        let preview =
            AdminConsole::from_org_url("https://dev-1-admin.oktapreview.com").expect("url");
        let link = preview.user_url("x").expect("link");
        assert!(link.starts_with("https://dev-1-admin.oktapreview.com/"));
    }

    #[test]
    fn other_domains_are_kept_and_odd_ids_get_no_link() {
        let console = AdminConsole::from_org_url("https://login.example.com/x?y").expect("url");
        assert_eq!(
            console.user_url("00u9").as_deref(),
            Some("https://login.example.com/admin/user/profile/view/00u9")
        );
        assert_eq!(console.user_url("a/b?c|<d>"), None);
        assert_eq!(console.user_url(""), None);
        assert_eq!(console.system_log_url("a&b|<c>"), None);
        assert_eq!(console.system_log_url(&"a".repeat(3_000)), None);
    }
}
