//! The authorization request between the page and its POSTs: validated once at GET, then
//! carried as a signed form (`signed_form`): the sign-in form, and the account choice
//! after it for a person with several accounts.

use serde::{Deserialize, Serialize};

use crate::config::BaseUrl;
use crate::keys::FormKey;
use crate::oauth::signed_form::{self, FORM_LIFETIME_SECONDS, FormClaims};
use crate::pkce::CodeChallenge;
use crate::records::ids::{ClientId, UserId};
use crate::scope::ScopeSet;

pub const PENDING_LIFETIME_SECONDS: u64 = FORM_LIFETIME_SECONDS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    /// Equal to the nonce cookie.
    pub nonce: String,
    /// Its members sit beside the others in the signed claims.
    #[serde(flatten)]
    pub request: AuthorizationRequest,
    /// Set once the person has signed in and has several accounts to choose from: the
    /// account page's form carries it instead of the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in: Option<SignedIn>,
}

/// Who signed in on this form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub user_id: UserId,
    pub email: String,
    /// How: `password`, or the identity provider's id (the tokens' `idp`).
    #[serde(default = "password_idp")]
    pub idp: String,
}

fn password_idp() -> String {
    crate::directory::PASSWORD_IDP.to_owned()
}

impl FormClaims for PendingAuthorization {
    const TYPE: &'static str = "alta-authz+jwt";

    fn iat(&self) -> u64 {
        self.iat
    }

    fn nonce(&self) -> &str {
        &self.nonce
    }
}

/// The pending request's signed form is for the consent page only.
pub fn audience(base: &BaseUrl) -> String {
    base.url("/authorize")
}

pub fn sign(key: &FormKey, pending: &PendingAuthorization) -> Result<String, String> {
    signed_form::sign(key, pending)
}

/// What the authorization request asked for, once checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    /// The redirect URI as the request sent it, or the client's only one when it sent none.
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` (the token request must then repeat it).
    pub redirect_uri_sent: bool,
    pub scope: ScopeSet,
    pub resource: String,
    pub code_challenge: CodeChallenge,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl PendingAuthorization {
    /// A request awaiting sign-in, for `PENDING_LIFETIME_SECONDS` from `now`.
    pub fn new(base: &BaseUrl, now: u64, nonce: String, request: AuthorizationRequest) -> Self {
        Self {
            iss: base.issuer().to_owned(),
            aud: audience(base),
            iat: now,
            exp: now + PENDING_LIFETIME_SECONDS,
            nonce,
            request,
            signed_in: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(
        keys: &FormKey,
        base: &BaseUrl,
        field: &str,
        cookie_nonce: Option<&str>,
    ) -> Option<PendingAuthorization> {
        signed_form::verify(keys, base, &audience(base), field, cookie_nonce)
    }
    use crate::clock::{Clock, SystemClock};

    fn sample(base: &BaseUrl) -> PendingAuthorization {
        let request = AuthorizationRequest {
            client_id: ClientId::new("claude"),
            redirect_uri: "https://claude.ai/api/mcp/auth_callback".into(),
            redirect_uri_sent: true,
            scope: ScopeSet::parse("campaigns:read").unwrap(),
            resource: base.mcp_resource(),
            code_challenge: CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
                .unwrap(),
            state: Some("xyz".into()),
        };
        PendingAuthorization::new(base, SystemClock.now(), "nonce-1".into(), request)
    }

    #[test]
    fn signed_field_verifies_with_its_cookie_only() {
        let base = BaseUrl::parse("https://mcp.alta.example").unwrap();
        let keys = FormKey::generate().unwrap();
        let field = sign(&keys, &sample(&base)).unwrap();
        assert_eq!(
            verify(&keys, &base, &field, Some("nonce-1")),
            Some(sample(&base))
        );
        assert_eq!(verify(&keys, &base, &field, Some("nonce-2")), None);
        assert_eq!(verify(&keys, &base, &field, None), None);
    }

    #[test]
    fn tampered_or_foreign_fields_are_refused() {
        let base = BaseUrl::parse("https://mcp.alta.example").unwrap();
        let keys = FormKey::generate().unwrap();
        let other_keys = FormKey::generate().unwrap();
        let foreign = sign(&other_keys, &sample(&base)).unwrap();
        assert_eq!(verify(&keys, &base, &foreign, Some("nonce-1")), None);
        let field = sign(&keys, &sample(&base)).unwrap();
        let mut tampered = field.clone();
        tampered.insert(field.find('.').unwrap() + 5, 'A');
        assert_eq!(verify(&keys, &base, &tampered, Some("nonce-1")), None);
        let other_base = BaseUrl::parse("https://other.example").unwrap();
        assert_eq!(verify(&keys, &other_base, &field, Some("nonce-1")), None);
    }

    #[test]
    fn expired_field_is_refused() {
        let base = BaseUrl::parse("https://mcp.alta.example").unwrap();
        let keys = FormKey::generate().unwrap();
        let mut old = sample(&base);
        old.iat -= 2 * PENDING_LIFETIME_SECONDS;
        old.exp -= 2 * PENDING_LIFETIME_SECONDS;
        let field = sign(&keys, &old).unwrap();
        assert_eq!(verify(&keys, &base, &field, Some("nonce-1")), None);
    }
}
