//! An Identity Assertion JWT Authorization Grant (ID-JAG), as the enterprise-managed
//! authorization extension of MCP presents it at `/token` with the RFC 7523 jwt-bearer
//! grant (draft-ietf-oauth-identity-assertion-authz-grant): the company's identity
//! provider vouches that a person may use an app at Alta. Validated in full before anything
//! is issued: `typ` `oauth-id-jag+jwt` (RFC 8725: no other JWT can stand in for it), the
//! signature with the provider's published keys (RS256 or ES256 only), `iss` the
//! provider's issuer, `aud` Alta's issuer, `resource` Alta's MCP resource, `client_id` the
//! client that authenticated, `exp` in the future and at most 5 minutes after `iat`, a
//! `jti` (spent once per issuer by the caller), and a `sub`.

use jsonwebtoken::decode_header;
use serde::Deserialize;
use serde_json::Value;

use super::id_token::Identity;
use crate::clients::assertion::{ClientKeys, SignatureError};
use crate::jwt::LEEWAY_SECONDS;

pub const ID_JAG_TYPE: &str = "oauth-id-jag+jwt";
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const ID_JAG_PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
/// An ID-JAG is short-lived: at most this long between `iat` and `exp`.
pub const MAX_LIFETIME_SECONDS: u64 = 300;
const MAX_JTI_CHARS: usize = 256;
const MAX_ASSERTION_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdJagError {
    #[error("the assertion is not an ID-JAG (typ must be oauth-id-jag+jwt)")]
    Type,
    #[error("the assertion is not a well-formed JWT")]
    Malformed,
    #[error("the assertion's issuer is not a trusted identity provider")]
    UntrustedIssuer,
    #[error("the assertion's signature could not be verified: {0}")]
    Signature(#[from] SignatureError),
    #[error("the assertion was issued by another issuer")]
    Issuer,
    #[error("the assertion is meant for another authorization server (aud)")]
    Audience,
    #[error("the assertion names no resource, or another one")]
    Resource,
    #[error("the assertion was issued to another client")]
    ClientId,
    #[error("the assertion has expired")]
    Expired,
    #[error("the assertion lives longer than 5 minutes")]
    Lifetime,
    #[error("the assertion was issued in the future")]
    IssuedAt,
    #[error("the assertion has no usable jti")]
    Jti,
    #[error("the assertion was used already")]
    Replayed,
    #[error("the assertion names no subject")]
    Subject,
}

/// What the grant must be for.
pub struct Expected<'a> {
    pub issuer: &'a str,
    /// Alta's issuer (`<BASE>`).
    pub audience: &'a str,
    /// Alta's MCP resource (`<BASE>/mcp`).
    pub resource: &'a str,
    pub client_id: &'a str,
    pub now: u64,
}

/// A validated ID-JAG: who, for which client, until when, with which scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdJag {
    pub identity: Identity,
    pub jti: String,
    pub exp: u64,
    /// The scopes the provider allows (`None`: it names none).
    pub scope: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    aud: Value,
    client_id: Option<String>,
    resource: Option<String>,
    exp: Option<u64>,
    iat: Option<u64>,
    jti: Option<String>,
    scope: Option<String>,
    email: Option<String>,
    #[serde(default)]
    email_verified: Value,
    tid: Option<String>,
    hd: Option<String>,
}

#[derive(Deserialize)]
struct IssuerOnly {
    iss: Option<String>,
}

/// The issuer an assertion claims, read before anything is verified: only to find the
/// provider whose keys verify it. Refuses anything that is not an ID-JAG by its header.
pub fn claimed_issuer(assertion: &str) -> Result<String, IdJagError> {
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(IdJagError::Malformed);
    }
    let header = decode_header(assertion).map_err(|_| IdJagError::Malformed)?;
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(ID_JAG_TYPE))
    {
        return Err(IdJagError::Type);
    }
    use base64::Engine as _;
    let payload = assertion.split('.').nth(1).ok_or(IdJagError::Malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| IdJagError::Malformed)?;
    let claims: IssuerOnly = serde_json::from_slice(&bytes).map_err(|_| IdJagError::Malformed)?;
    claims.iss.ok_or(IdJagError::Issuer)
}

pub fn validate(
    assertion: &str,
    keys: &ClientKeys,
    expected: &Expected<'_>,
) -> Result<IdJag, IdJagError> {
    claimed_issuer(assertion)?;
    let claims: Claims = keys.verified_claims(assertion)?;
    if claims.iss.as_deref() != Some(expected.issuer) {
        return Err(IdJagError::Issuer);
    }
    // `aud` names Alta's issuer: a string, or a list of exactly it (the draft: one
    // audience, so that a grant cannot be good at several authorization servers).
    let ours = |aud: &Value| aud.as_str() == Some(expected.audience);
    let audience_ok = match &claims.aud {
        Value::Array(list) => list.len() == 1 && ours(&list[0]),
        single => ours(single),
    };
    if !audience_ok {
        return Err(IdJagError::Audience);
    }
    if claims.resource.as_deref() != Some(expected.resource) {
        return Err(IdJagError::Resource);
    }
    if claims.client_id.as_deref() != Some(expected.client_id) {
        return Err(IdJagError::ClientId);
    }
    let now = expected.now;
    let (exp, iat) = match (claims.exp, claims.iat) {
        (Some(exp), Some(iat)) => (exp, iat),
        (None, _) => return Err(IdJagError::Expired),
        (_, None) => return Err(IdJagError::IssuedAt),
    };
    if exp.saturating_add(LEEWAY_SECONDS) <= now {
        return Err(IdJagError::Expired);
    }
    if iat > now + LEEWAY_SECONDS {
        return Err(IdJagError::IssuedAt);
    }
    if exp < iat || exp - iat > MAX_LIFETIME_SECONDS {
        return Err(IdJagError::Lifetime);
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.chars().count() <= MAX_JTI_CHARS)
        .ok_or(IdJagError::Jti)?;
    let subject = claims
        .sub
        .filter(|s| !s.is_empty())
        .ok_or(IdJagError::Subject)?;
    let email_verified = super::id_token::email_verified(&claims.email_verified);
    Ok(IdJag {
        identity: Identity {
            issuer: expected.issuer.to_owned(),
            subject,
            email: claims.email.map(|e| crate::directory::normalize_email(&e)),
            email_verified,
            tenant: claims.tid,
            hosted_domain: claims.hd.map(|d| d.to_ascii_lowercase()),
        },
        jti,
        exp,
        scope: claims.scope,
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    const IDP: &str = "https://globex.okta.com";
    const BASE: &str = "https://mcp.alta.example";
    const RESOURCE: &str = "https://mcp.alta.example/mcp";
    const CLIENT: &str = "claude";
    const NOW: u64 = 1_800_000_000;

    use crate::federation::test_key as key;

    fn claims(changes: Value) -> Value {
        let mut c = json!({
            "iss": IDP, "sub": "00u1", "aud": BASE, "client_id": CLIENT, "resource": RESOURCE,
            "jti": "jag-1", "iat": NOW, "exp": NOW + 300, "scope": "campaigns:read",
            "email": "SSO@globex.example", "email_verified": true,
        });
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    fn sign(key: &EncodingKey, typ: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        header.typ = typ.map(str::to_owned);
        encode(&header, claims, key).unwrap()
    }

    fn check(assertion: &str, keys: &ClientKeys) -> Result<IdJag, IdJagError> {
        validate(
            assertion,
            keys,
            &Expected {
                issuer: IDP,
                audience: BASE,
                resource: RESOURCE,
                client_id: CLIENT,
                now: NOW,
            },
        )
    }

    #[test]
    fn a_good_grant_names_the_person_and_the_scopes() {
        let (signing, jwk) = key("k1");
        let keys = ClientKeys::parse(&json!({"keys": [jwk]})).unwrap();
        let assertion = sign(&signing, Some(ID_JAG_TYPE), &claims(json!({})));
        assert_eq!(claimed_issuer(&assertion).unwrap(), IDP);
        let grant = check(&assertion, &keys).unwrap();
        assert_eq!(grant.identity.subject, "00u1");
        assert_eq!(grant.identity.email.as_deref(), Some("sso@globex.example"));
        assert_eq!(grant.identity.email_verified, Some(true));
        assert_eq!(grant.scope.as_deref(), Some("campaigns:read"));
        assert_eq!((grant.jti.as_str(), grant.exp), ("jag-1", NOW + 300));
        // `aud` may be a list of exactly Alta's issuer, never of several.
        let listed = sign(&signing, Some(ID_JAG_TYPE), &claims(json!({"aud": [BASE]})));
        assert!(check(&listed, &keys).is_ok());
        let several = sign(
            &signing,
            Some(ID_JAG_TYPE),
            &claims(json!({"aud": [BASE, "https://other.example"]})),
        );
        assert_eq!(check(&several, &keys), Err(IdJagError::Audience));
    }

    #[test]
    fn each_broken_claim_is_refused_with_its_reason() {
        let (signing, jwk) = key("k1");
        let keys = ClientKeys::parse(&json!({"keys": [jwk]})).unwrap();
        let cases = [
            (json!({"iss": "https://evil.example"}), IdJagError::Issuer),
            (
                json!({"aud": "https://other.example"}),
                IdJagError::Audience,
            ),
            (json!({"aud": RESOURCE}), IdJagError::Audience),
            (json!({"resource": null}), IdJagError::Resource),
            (
                json!({"resource": "https://other.example/mcp"}),
                IdJagError::Resource,
            ),
            (json!({"client_id": "cursor"}), IdJagError::ClientId),
            (json!({"client_id": null}), IdJagError::ClientId),
            (
                json!({"exp": NOW - 600, "iat": NOW - 800}),
                IdJagError::Expired,
            ),
            (json!({"exp": NOW + 3600}), IdJagError::Lifetime),
            (
                json!({"iat": NOW + 600, "exp": NOW + 800}),
                IdJagError::IssuedAt,
            ),
            (json!({"jti": null}), IdJagError::Jti),
            (json!({"jti": ""}), IdJagError::Jti),
            (json!({"sub": null}), IdJagError::Subject),
        ];
        for (change, error) in cases {
            let assertion = sign(&signing, Some(ID_JAG_TYPE), &claims(change.clone()));
            assert_eq!(check(&assertion, &keys), Err(error), "{change}");
        }
    }

    #[test]
    fn only_an_id_jag_signed_by_the_providers_keys_is_accepted() {
        let (signing, jwk) = key("k1");
        let keys = ClientKeys::parse(&json!({"keys": [jwk]})).unwrap();
        for typ in [None, Some("JWT"), Some("at+jwt")] {
            let assertion = sign(&signing, typ, &claims(json!({})));
            assert_eq!(check(&assertion, &keys), Err(IdJagError::Type), "{typ:?}");
        }
        let (other, _) = key("k1");
        let forged = sign(&other, Some(ID_JAG_TYPE), &claims(json!({})));
        assert_eq!(
            check(&forged, &keys),
            Err(IdJagError::Signature(SignatureError::BadSignature))
        );
        // `alg: none` and HMAC never verify, whatever the key.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"oauth-id-jag+jwt"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
        assert!(check(&format!("{header}.{body}."), &keys).is_err());
        let mut hmac = Header::new(Algorithm::HS256);
        hmac.typ = Some(ID_JAG_TYPE.into());
        let secret = EncodingKey::from_secret(b"the provider's JWKS").unwrap();
        let hs = encode(&hmac, &claims(json!({})), &secret).unwrap();
        assert!(matches!(
            check(&hs, &keys),
            Err(IdJagError::Signature(SignatureError::AlgorithmNotAllowed(
                _
            )))
        ));
        assert_eq!(claimed_issuer("not a jwt"), Err(IdJagError::Malformed));
    }
}
