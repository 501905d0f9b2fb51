use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

use super::*;

const ISSUER: &str = "https://idp.example";
const CLIENT: &str = "alta-mcp";
const NONCE: &str = "n-0S6_WzA2Mj";
const NOW: u64 = 1_800_000_000;

use crate::federation::test_key as key;

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "248289761001", "aud": CLIENT, "exp": NOW + 300, "iat": NOW,
        "nonce": NONCE, "email": "Jane.Doe@Example.com", "email_verified": true,
    })
}

fn with(changes: Value) -> Value {
    let mut c = claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn sign(key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, key).unwrap()
}

fn check(token: &str, keys: &ClientKeys) -> Result<Identity, IdTokenError> {
    validate(
        token,
        keys,
        &Expected {
            issuer: ISSUER,
            client_id: CLIENT,
            nonce: NONCE,
            now: NOW,
        },
    )
}

#[test]
fn a_valid_token_says_who_signed_in() {
    let (signing, jwk) = key("k1");
    let keys = ClientKeys::parse(&json!({"keys": [jwk]})).unwrap();
    let identity = check(&sign(&signing, "k1", &claims()), &keys).unwrap();
    assert_eq!(
        identity,
        Identity {
            issuer: ISSUER.into(),
            subject: "248289761001".into(),
            email: Some("jane.doe@example.com".into()),
            email_verified: Some(true),
            tenant: None,
            hosted_domain: None,
        }
    );
    // An audience list containing us, with us as the authorized party; Entra ID's claims.
    let entra = with(
        json!({"aud": ["other", CLIENT], "azp": CLIENT, "email_verified": null, "tid": "t-1"}),
    );
    let identity = check(&sign(&signing, "k1", &entra), &keys).unwrap();
    assert_eq!(identity.email_verified, None);
    assert_eq!(identity.tenant.as_deref(), Some("t-1"));
    // Some providers send the flag as a string.
    let text = with(json!({"email_verified": "true"}));
    assert_eq!(
        check(&sign(&signing, "k1", &text), &keys)
            .unwrap()
            .email_verified,
        Some(true)
    );
}

#[test]
fn each_broken_claim_is_refused() {
    let (signing, jwk) = key("k1");
    let keys = ClientKeys::parse(&json!({"keys": [jwk]})).unwrap();
    let cases = [
        (
            with(json!({"iss": "https://evil.example"})),
            IdTokenError::Issuer,
        ),
        (with(json!({"iss": null})), IdTokenError::Issuer),
        (with(json!({"aud": "someone-else"})), IdTokenError::Audience),
        (with(json!({"aud": ["a", "b"]})), IdTokenError::Audience),
        (
            with(json!({"aud": [CLIENT, "b"], "azp": "b"})),
            IdTokenError::AuthorizedParty,
        ),
        (
            with(json!({"exp": NOW - LEEWAY_SECONDS})),
            IdTokenError::Expired,
        ),
        (with(json!({"exp": null})), IdTokenError::Expired),
        (
            with(json!({"iat": NOW + LEEWAY_SECONDS + 1})),
            IdTokenError::IssuedAt,
        ),
        (
            with(json!({"iat": NOW - MAX_AGE_SECONDS - LEEWAY_SECONDS})),
            IdTokenError::IssuedAt,
        ),
        (
            with(json!({"nonce": "another-sign-in"})),
            IdTokenError::Nonce,
        ),
        (with(json!({"nonce": null})), IdTokenError::Nonce),
        (with(json!({"sub": ""})), IdTokenError::Subject),
    ];
    for (claims, error) in cases {
        assert_eq!(
            check(&sign(&signing, "k1", &claims), &keys),
            Err(error),
            "{claims}"
        );
    }
    // Within the leeway, still good.
    let late = with(json!({"exp": NOW - LEEWAY_SECONDS + 1}));
    assert!(check(&sign(&signing, "k1", &late), &keys).is_ok());
}

#[test]
fn forged_unknown_none_and_hmac_signatures_are_refused() {
    let (signing, jwk) = key("k1");
    let (forger, _) = key("k1");
    let set = json!({"keys": [jwk]});
    let keys = ClientKeys::parse(&set).unwrap();
    let signature = |e: SignatureError| Err(IdTokenError::Signature(e));
    assert_eq!(
        check(&sign(&forger, "k1", &claims()), &keys),
        signature(SignatureError::BadSignature)
    );
    assert_eq!(
        check(&sign(&signing, "k2", &claims()), &keys),
        signature(SignatureError::UnknownKey)
    );
    // `alg: none`, unsigned.
    let body = URL_SAFE_NO_PAD.encode(claims().to_string());
    let none = format!(
        "{}.{body}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    assert!(matches!(
        check(&none, &keys),
        Err(IdTokenError::Signature(_))
    ));
    // HS256 with the published key set as the shared secret: the classic confusion.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let secret = EncodingKey::from_secret(set.to_string().as_bytes()).unwrap();
    let hmac = encode(&header, &claims(), &secret).unwrap();
    assert_eq!(
        check(&hmac, &keys),
        signature(SignatureError::AlgorithmNotAllowed("HS256".into()))
    );
    assert_eq!(
        check("not a jwt", &keys),
        signature(SignatureError::Malformed)
    );
}
