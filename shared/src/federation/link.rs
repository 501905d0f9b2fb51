//! Who a provider's sign-in is at Alta. A subject already linked is that user, whatever
//! its email says now. The first time, the ID token's email links it to the Alta user
//! with that email, only if the provider vouches for the email: `email_verified` true and,
//! when the record names `domains`, an email in one of them. Microsoft Entra ID sends no
//! `email_verified`: its email links only when the record names `domains` and a `tenant`
//! the token's `tid` equals (a multi-tenant Entra app's email claim proves nothing). Google
//! verifies the email of a consumer account made with any address: for Google with
//! `domains`, the token's `hd` (the Workspace domain) must be one of them too.

use super::id_token::Identity;
use super::provider::{IdentityProvider, email_domain};
use crate::directory::normalize_email;

/// RFC 5321: an address is at most 254 octets (and a longer one is no store key).
const MAX_EMAIL_LEN: usize = 254;

/// Why an identity cannot be linked by its email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unlinkable {
    #[error("the identity provider sent no email")]
    NoEmail,
    #[error("the identity provider has not verified this email")]
    Unverified,
    #[error("the email is outside the identity provider's domains")]
    OutsideDomains,
    #[error("the sign-in came from another tenant")]
    OtherTenant,
    #[error("no Alta user has this email")]
    NoUser,
    #[error("the sign-in was linked to another Alta user at the same moment; try again")]
    LinkedElsewhere,
}

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// The email (normalised) an unlinked identity may be linked by.
pub fn email_to_link(
    provider: &IdentityProvider,
    identity: &Identity,
) -> Result<String, Unlinkable> {
    let email = identity
        .email
        .as_deref()
        .map(normalize_email)
        .filter(|e| e.contains('@') && e.len() <= MAX_EMAIL_LEN)
        .ok_or(Unlinkable::NoEmail)?;
    if let Some(tenant) = &provider.tenant
        && identity.tenant.as_deref() != Some(tenant.as_str())
    {
        return Err(Unlinkable::OtherTenant);
    }
    let vouched = match identity.email_verified {
        Some(verified) => verified,
        // Entra ID: its own tenant's domains stand in for verification.
        None => provider.tenant.is_some() && !provider.domains.is_empty(),
    };
    if !vouched {
        return Err(Unlinkable::Unverified);
    }
    let in_domains = email_domain(&email).is_some_and(|d| provider.domains.iter().any(|x| x == d));
    if !provider.domains.is_empty() && !in_domains {
        return Err(Unlinkable::OutsideDomains);
    }
    let workspace = |hd: &String| provider.domains.contains(hd);
    if provider.issuer == GOOGLE_ISSUER
        && !provider.domains.is_empty()
        && !identity.hosted_domain.as_ref().is_some_and(workspace)
    {
        return Err(Unlinkable::OutsideDomains);
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(domains: &[&str], tenant: Option<&str>) -> IdentityProvider {
        IdentityProvider {
            id: "p".into(),
            display_name: "P".into(),
            issuer: "https://p.example".into(),
            client_id: "c".into(),
            scopes: "openid email".into(),
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            button: false,
            id_jag: false,
            tenant: tenant.map(str::to_owned),
        }
    }

    fn identity(email: Option<&str>, verified: Option<bool>, tid: Option<&str>) -> Identity {
        Identity {
            issuer: "https://p.example".into(),
            subject: "s".into(),
            email: email.map(str::to_owned),
            email_verified: verified,
            tenant: tid.map(str::to_owned),
            hosted_domain: None,
        }
    }

    #[test]
    fn a_verified_email_links_within_the_domains() {
        let open = provider(&[], None);
        let globex = provider(&["globex.example"], None);
        let sso = identity(Some(" SSO@Globex.example"), Some(true), None);
        assert_eq!(email_to_link(&open, &sso).unwrap(), "sso@globex.example");
        assert_eq!(email_to_link(&globex, &sso).unwrap(), "sso@globex.example");
        let elsewhere = identity(Some("someone@elsewhere.example"), Some(true), None);
        assert_eq!(
            email_to_link(&open, &elsewhere).unwrap(),
            "someone@elsewhere.example"
        );
        assert_eq!(
            email_to_link(&globex, &elsewhere),
            Err(Unlinkable::OutsideDomains)
        );
        let unverified = identity(Some("sso@globex.example"), Some(false), None);
        assert_eq!(
            email_to_link(&globex, &unverified),
            Err(Unlinkable::Unverified)
        );
        let silent = identity(Some("sso@globex.example"), None, None);
        assert_eq!(email_to_link(&globex, &silent), Err(Unlinkable::Unverified));
        assert_eq!(
            email_to_link(&open, &identity(None, Some(true), None)),
            Err(Unlinkable::NoEmail)
        );
        let long = format!("{}@globex.example", "a".repeat(250));
        assert_eq!(
            email_to_link(&open, &identity(Some(&long), Some(true), None)),
            Err(Unlinkable::NoEmail)
        );
    }

    #[test]
    fn google_with_domains_links_workspace_accounts_only() {
        let workspace = IdentityProvider {
            issuer: GOOGLE_ISSUER.into(),
            ..provider(&["globex.example"], None)
        };
        let consumer = identity(Some("sso@globex.example"), Some(true), None);
        assert_eq!(
            email_to_link(&workspace, &consumer),
            Err(Unlinkable::OutsideDomains),
            "a consumer account made with a work address"
        );
        let member = Identity {
            hosted_domain: Some("globex.example".into()),
            ..consumer.clone()
        };
        assert_eq!(
            email_to_link(&workspace, &member).unwrap(),
            "sso@globex.example"
        );
        let open_google = IdentityProvider {
            issuer: GOOGLE_ISSUER.into(),
            ..provider(&[], None)
        };
        assert!(email_to_link(&open_google, &consumer).is_ok());
    }

    #[test]
    fn entra_links_by_tenant_and_domain_only() {
        let entra = provider(&["globex.example"], Some("tid-1"));
        let ok = identity(Some("sso@globex.example"), None, Some("tid-1"));
        assert_eq!(email_to_link(&entra, &ok).unwrap(), "sso@globex.example");
        let other_tenant = identity(Some("sso@globex.example"), None, Some("tid-2"));
        assert_eq!(
            email_to_link(&entra, &other_tenant),
            Err(Unlinkable::OtherTenant)
        );
        let no_tenant = identity(Some("sso@globex.example"), None, None);
        assert_eq!(
            email_to_link(&entra, &no_tenant),
            Err(Unlinkable::OtherTenant)
        );
        let tenant_without_domains = provider(&[], Some("tid-1"));
        assert_eq!(
            email_to_link(&tenant_without_domains, &ok),
            Err(Unlinkable::Unverified),
            "any email of the tenant proves nothing without domains"
        );
        let outside = identity(Some("x@elsewhere.example"), None, Some("tid-1"));
        assert_eq!(
            email_to_link(&entra, &outside),
            Err(Unlinkable::OutsideDomains)
        );
    }
}
