//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, RFC 7521 §4.2): a client
//! whose metadata document publishes public keys proves itself at the token and revocation
//! endpoints with a short-lived JWT signed by one of them.
//!
//! Only asymmetric algorithms are accepted (RS256 and ES256): never `none`, never HMAC, so a
//! public key can never be used as a shared secret. The `jti` of each assertion is used
//! once (the caller records it until the assertion expires).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::Value;

use crate::jwt::LEEWAY_SECONDS;

/// RFC 7523 §2.2: the one `client_assertion_type` this server accepts.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The algorithms a client may sign with, as metadata advertises them.
pub const SIGNING_ALGS: [&str; 2] = ["RS256", "ES256"];
/// An assertion may expire at most this far ahead: it is a proof for one request, and its
/// `jti` is remembered until it expires.
pub const MAX_LIFETIME: Duration = Duration::from_secs(600);
/// RSA keys shorter than this are refused (NIST SP 800-131A).
const MIN_RSA_MODULUS_BYTES: usize = 256;
const MAX_KEYS: usize = 20;
const MAX_JTI_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("client_assertion is not a well-formed JWT")]
    Malformed,
    #[error("client_assertion must name the client as both iss and sub")]
    IssuerIsNotSubject,
    #[error("client_assertion is signed with {0}; use RS256 or ES256")]
    AlgorithmNotAllowed(String),
    #[error("client_assertion is signed with {used}, but the client declared {declared}")]
    AlgorithmNotDeclared { used: String, declared: String },
    #[error("client_assertion names a key the client does not publish")]
    UnknownKey,
    #[error("client_assertion's signature does not verify")]
    BadSignature,
    #[error("client_assertion's iss and sub must be the client_id")]
    WrongClient,
    #[error("client_assertion's aud must be this server's issuer or token endpoint")]
    WrongAudience,
    #[error("client_assertion has expired")]
    Expired,
    #[error("client_assertion must have an exp at most {} seconds ahead", MAX_LIFETIME.as_secs())]
    TooLong,
    #[error("client_assertion is not valid yet")]
    NotYetValid,
    #[error("client_assertion must carry a jti (at most {MAX_JTI_CHARS} characters)")]
    MissingJti,
    #[error("client_assertion has been used already; sign a new one for each request")]
    Replayed,
}

/// The `iss` an assertion claims, read before anything is verified: only to find the
/// client whose keys verify it. `iss` and `sub` must agree (RFC 7523 §3).
pub fn claimed_client_id(assertion: &str) -> Result<String, AssertionError> {
    let payload = assertion
        .split('.')
        .nth(1)
        .ok_or(AssertionError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| AssertionError::Malformed)?;
    let claims: Value = serde_json::from_slice(&bytes).map_err(|_| AssertionError::Malformed)?;
    let iss = claims.get("iss").and_then(Value::as_str);
    let sub = claims.get("sub").and_then(Value::as_str);
    match (iss, sub) {
        (Some(iss), Some(sub)) if iss == sub && !iss.is_empty() => Ok(iss.to_owned()),
        _ => Err(AssertionError::IssuerIsNotSubject),
    }
}

/// One public key a client may sign assertions with.
#[derive(Clone)]
struct ClientKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// Why a JWT's signature did not verify with a key set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("it is not a well-formed JWT")]
    Malformed,
    #[error("it is signed with {0}; only RS256 and ES256 are accepted")]
    AlgorithmNotAllowed(String),
    #[error("it names a key that is not published")]
    UnknownKey,
    #[error("its signature does not verify")]
    BadSignature,
}

/// A client's signing keys, from its `jwks` (or the document at its `jwks_uri`); also an
/// OpenID provider's, from its `jwks_uri`.
#[derive(Clone, Default)]
pub struct ClientKeys {
    keys: Vec<ClientKey>,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|k| (&k.kid, k.alg)).collect();
        f.debug_struct("ClientKeys").field("keys", &kids).finish()
    }
}

/// The members of a private JWK (RFC 7518 §6.2.2, §6.3.2, §6.4.1): a document carrying
/// any of them has published a secret.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl ClientKeys {
    /// A JWK Set (RFC 7517 §5) of public keys. RSA and P-256 signing keys are kept; keys
    /// for other uses or curves are skipped; any private or symmetric key refuses the set.
    pub fn parse(set: &Value) -> Result<Self, String> {
        let list = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("a JWK Set is an object with a keys array")?;
        if list.len() > MAX_KEYS {
            return Err(format!("a JWK Set of at most {MAX_KEYS} keys"));
        }
        let mut keys = Vec::new();
        for jwk in list {
            let Value::Object(jwk) = jwk else {
                return Err("each key is a JSON object".into());
            };
            if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
                return Err("it contains a private or symmetric key".into());
            }
            let text = |name: &str| jwk.get(name).and_then(Value::as_str);
            if text("use").is_some_and(|u| u != "sig") {
                continue;
            }
            let (alg, key) = match (text("kty"), text("crv")) {
                (Some("RSA"), _) => {
                    let (Some(n), Some(e)) = (text("n"), text("e")) else {
                        return Err("an RSA key needs n and e".into());
                    };
                    let modulus = URL_SAFE_NO_PAD
                        .decode(n)
                        .map_err(|_| "an RSA key's n is not base64url")?;
                    let significant = modulus.iter().skip_while(|b| **b == 0).count();
                    if significant < MIN_RSA_MODULUS_BYTES {
                        return Err("RSA keys must be at least 2048 bits".into());
                    }
                    let key = DecodingKey::from_rsa_components(n, e)
                        .map_err(|_| "an RSA key is malformed")?;
                    (Algorithm::RS256, key)
                }
                (Some("EC"), Some("P-256")) => {
                    let (Some(x), Some(y)) = (text("x"), text("y")) else {
                        return Err("an EC key needs x and y".into());
                    };
                    let key = DecodingKey::from_ec_components(x, y)
                        .map_err(|_| "an EC key is malformed")?;
                    (Algorithm::ES256, key)
                }
                _ => continue,
            };
            if text("alg").is_some_and(|a| a != alg_name(alg)) {
                continue;
            }
            keys.push(ClientKey {
                kid: text("kid").map(str::to_owned),
                alg,
                key,
            });
        }
        if keys.is_empty() {
            return Err("it holds no RS256 or ES256 signing key".into());
        }
        Ok(Self { keys })
    }

    /// The key an assertion's header points to: by `kid`, or the only key of its family
    /// when the header names none.
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&ClientKey> {
        let mut family = self.keys.iter().filter(|k| k.alg == alg);
        match kid {
            Some(kid) => family.find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let first = family.next();
                family.next().is_none().then_some(first).flatten()
            }
        }
    }

    /// `token`'s claims, once its signature verifies with the key its header names (RS256 or
    /// ES256 only: `alg: none` does not even parse, and HS*, PS*, EdDSA … are refused by name
    /// before any key is looked at). Every claim is left for the caller to check, against
    /// its own clock.
    pub fn verified_claims<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<T, SignatureError> {
        let header = decode_header(token).map_err(|_| SignatureError::Malformed)?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(SignatureError::AlgorithmNotAllowed(format!(
                "{:?}",
                header.alg
            )));
        }
        let key = self
            .find(header.kid.as_deref(), header.alg)
            .ok_or(SignatureError::UnknownKey)?;
        let mut validation = Validation::new(key.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        decode::<T>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => SignatureError::BadSignature,
                _ => SignatureError::Malformed,
            })
    }

    /// Whether these keys include the one `assertion`'s header names: a client that
    /// rotated its keys is fetched again when they do not.
    pub fn knows_key_of(&self, assertion: &str) -> bool {
        match decode_header(assertion) {
            Ok(header) => self.find(header.kid.as_deref(), header.alg).is_some(),
            Err(_) => true,
        }
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        _ => "ES256",
    }
}

/// `token_endpoint_auth_signing_alg` of a document, if it names one we accept.
pub fn parse_signing_alg(raw: &str) -> Option<Algorithm> {
    match raw {
        "RS256" => Some(Algorithm::RS256),
        "ES256" => Some(Algorithm::ES256),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    aud: Value,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    jti: Option<String>,
}

/// What an assertion must satisfy besides its signature.
pub struct Expected<'a> {
    pub client_id: &'a str,
    /// Any one of these is an acceptable `aud`.
    pub audiences: &'a [String],
    /// The algorithm the client declared (`token_endpoint_auth_signing_alg`), if any.
    pub declared_alg: Option<Algorithm>,
    pub now: u64,
}

/// A verified assertion: its `jti` is for the caller to use once, until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub jti: String,
    pub exp: u64,
}

pub fn verify(
    assertion: &str,
    keys: &ClientKeys,
    expected: &Expected<'_>,
) -> Result<VerifiedAssertion, AssertionError> {
    let header = decode_header(assertion).map_err(|_| AssertionError::Malformed)?;
    if let Some(declared) = expected.declared_alg
        && matches!(header.alg, Algorithm::RS256 | Algorithm::ES256)
        && declared != header.alg
    {
        return Err(AssertionError::AlgorithmNotDeclared {
            used: alg_name(header.alg).into(),
            declared: alg_name(declared).into(),
        });
    }
    // The signature by the key set; every claim below by hand, against the server's clock.
    let claims: AssertionClaims = keys.verified_claims(assertion).map_err(|e| match e {
        SignatureError::Malformed => AssertionError::Malformed,
        SignatureError::AlgorithmNotAllowed(alg) => AssertionError::AlgorithmNotAllowed(alg),
        SignatureError::UnknownKey => AssertionError::UnknownKey,
        SignatureError::BadSignature => AssertionError::BadSignature,
    })?;

    if claims.iss.as_deref() != Some(expected.client_id)
        || claims.sub.as_deref() != Some(expected.client_id)
    {
        return Err(AssertionError::WrongClient);
    }
    let audience_matches = |aud: &Value| {
        aud.as_str()
            .is_some_and(|a| expected.audiences.iter().any(|e| e == a))
    };
    let aud_ok = match &claims.aud {
        Value::Array(list) => list.iter().any(audience_matches),
        single => audience_matches(single),
    };
    if !aud_ok {
        return Err(AssertionError::WrongAudience);
    }
    let now = expected.now;
    let exp = claims.exp.ok_or(AssertionError::Expired)?;
    if exp + LEEWAY_SECONDS <= now {
        return Err(AssertionError::Expired);
    }
    if exp > now + MAX_LIFETIME.as_secs() + LEEWAY_SECONDS {
        return Err(AssertionError::TooLong);
    }
    if claims
        .nbf
        .into_iter()
        .chain(claims.iat)
        .any(|t| t > now + LEEWAY_SECONDS)
    {
        return Err(AssertionError::NotYetValid);
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.chars().count() <= MAX_JTI_CHARS)
        .ok_or(AssertionError::MissingJti)?;
    Ok(VerifiedAssertion {
        jti,
        exp: exp + LEEWAY_SECONDS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const CLIENT: &str = "https://chatgpt.com/oauth/client.json";
    const NOW: u64 = 1_800_000_000;

    /// A real EC P-256 key pair: (the signing key, its public JWK).
    fn ec_key(kid: &str) -> (EncodingKey, Value) {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
    }

    fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, &claims, key).unwrap()
    }

    fn claims() -> Value {
        json!({"iss": CLIENT, "sub": CLIENT, "aud": "https://mcp.alta.example/token",
               "exp": NOW + 300, "iat": NOW, "jti": "j-1"})
    }

    fn with(changes: Value) -> Value {
        let mut c = claims();
        c.as_object_mut()
            .unwrap()
            .extend(changes.as_object().unwrap().clone());
        c
    }

    fn audiences() -> Vec<String> {
        vec![
            "https://mcp.alta.example".into(),
            "https://mcp.alta.example/token".into(),
        ]
    }

    fn check(assertion: &str, keys: &ClientKeys) -> Result<VerifiedAssertion, AssertionError> {
        let audiences = audiences();
        verify(
            assertion,
            keys,
            &Expected {
                client_id: CLIENT,
                audiences: &audiences,
                declared_alg: None,
                now: NOW,
            },
        )
    }

    // RS256 with real RSA keys is proven end to end in tests/clients.rs.
    #[test]
    fn assertions_verify_by_kid_or_by_the_only_key() {
        let (ec, ec_jwk) = ec_key("e1");
        let (other, other_jwk) = ec_key("e2");
        let keys = ClientKeys::parse(&json!({"keys": [ec_jwk.clone(), other_jwk]})).unwrap();
        let by_kid = sign(Algorithm::ES256, Some("e2"), &other, claims());
        assert_eq!(
            check(&by_kid, &keys),
            Ok(VerifiedAssertion {
                jti: "j-1".into(),
                exp: NOW + 300 + LEEWAY_SECONDS
            })
        );
        assert_eq!(claimed_client_id(&by_kid).as_deref(), Ok(CLIENT));
        // Without a kid: the only key of the algorithm's family, never a guess among two.
        let no_kid = sign(Algorithm::ES256, None, &ec, claims());
        assert_eq!(check(&no_kid, &keys), Err(AssertionError::UnknownKey));
        let single = ClientKeys::parse(&json!({"keys": [ec_jwk]})).unwrap();
        assert!(check(&no_kid, &single).is_ok());
        assert!(single.knows_key_of(&no_kid) && !single.knows_key_of(&by_kid));
        // An array audience with one match is fine.
        let array = sign(
            Algorithm::ES256,
            Some("e1"),
            &ec,
            with(json!({"aud": ["https://other.example", "https://mcp.alta.example"]})),
        );
        assert!(check(&array, &keys).is_ok());
    }

    #[test]
    fn forged_expired_and_misdirected_assertions_are_refused() {
        let (ec, ec_jwk) = ec_key("e1");
        let (forger, _) = ec_key("e1");
        let keys = ClientKeys::parse(&json!({"keys": [ec_jwk]})).unwrap();
        let cases = [
            (
                sign(Algorithm::ES256, Some("e1"), &forger, claims()),
                AssertionError::BadSignature,
            ),
            (
                sign(Algorithm::ES256, Some("e2"), &ec, claims()),
                AssertionError::UnknownKey,
            ),
            (
                sign(
                    Algorithm::ES256,
                    Some("e1"),
                    &ec,
                    with(json!({"exp": NOW - 61})),
                ),
                AssertionError::Expired,
            ),
            (
                sign(
                    Algorithm::ES256,
                    Some("e1"),
                    &ec,
                    with(json!({"exp": NOW + 3600})),
                ),
                AssertionError::TooLong,
            ),
            (
                sign(
                    Algorithm::ES256,
                    Some("e1"),
                    &ec,
                    with(json!({"iat": NOW + 600})),
                ),
                AssertionError::NotYetValid,
            ),
            (
                sign(
                    Algorithm::ES256,
                    Some("e1"),
                    &ec,
                    with(json!({"aud": "https://evil.example/token"})),
                ),
                AssertionError::WrongAudience,
            ),
            (
                sign(
                    Algorithm::ES256,
                    Some("e1"),
                    &ec,
                    with(json!({"sub": "https://other.example/client.json"})),
                ),
                AssertionError::WrongClient,
            ),
            (
                sign(
                    Algorithm::ES256,
                    Some("e1"),
                    &ec,
                    with(json!({"jti": null})),
                ),
                AssertionError::MissingJti,
            ),
            (
                sign(
                    Algorithm::ES256,
                    Some("e1"),
                    &ec,
                    with(json!({"exp": null})),
                ),
                AssertionError::Expired,
            ),
        ];
        for (assertion, error) in cases {
            assert_eq!(check(&assertion, &keys), Err(error));
        }
    }

    #[test]
    fn none_and_hmac_are_refused_whatever_the_key() {
        let (_, ec_jwk) = ec_key("e1");
        let keys = ClientKeys::parse(&json!({"keys": [ec_jwk.clone()]})).unwrap();
        // HS256 keyed with the public key's text: the classic algorithm confusion.
        let hmac = sign(
            Algorithm::HS256,
            Some("e1"),
            &EncodingKey::from_secret(ec_jwk.to_string().as_bytes()).unwrap(),
            claims(),
        );
        assert_eq!(
            check(&hmac, &keys),
            Err(AssertionError::AlgorithmNotAllowed("HS256".into()))
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"e1"}"#),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        assert!(check(&none, &keys).is_err());
        assert!(check("not.a.jwt", &keys).is_err());
    }

    #[test]
    fn a_declared_algorithm_binds() {
        let (ec, ec_jwk) = ec_key("e1");
        let keys = ClientKeys::parse(&json!({"keys": [ec_jwk]})).unwrap();
        let audiences = audiences();
        let declared = |alg| Expected {
            client_id: CLIENT,
            audiences: &audiences,
            declared_alg: Some(alg),
            now: NOW,
        };
        let assertion = sign(Algorithm::ES256, Some("e1"), &ec, claims());
        assert!(verify(&assertion, &keys, &declared(Algorithm::ES256)).is_ok());
        assert_eq!(
            verify(&assertion, &keys, &declared(Algorithm::RS256)),
            Err(AssertionError::AlgorithmNotDeclared {
                used: "ES256".into(),
                declared: "RS256".into()
            })
        );
    }

    #[test]
    fn key_sets_hold_only_public_signing_keys() {
        let (_, ec_jwk) = ec_key("e1");
        let mut private = ec_jwk.clone();
        private["d"] = json!("c2VjcmV0");
        assert!(ClientKeys::parse(&json!({"keys": [private]})).is_err());
        assert!(ClientKeys::parse(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).is_err());
        let mut encryption = ec_jwk.clone();
        encryption["use"] = json!("enc");
        assert!(ClientKeys::parse(&json!({"keys": [encryption]})).is_err());
        let short_rsa =
            json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]), "e": "AQAB"});
        assert!(ClientKeys::parse(&json!({"keys": [short_rsa]})).is_err());
        assert!(ClientKeys::parse(&json!({"keys": "none"})).is_err());
        // An unusable key beside a usable one is skipped.
        let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert!(ClientKeys::parse(&json!({"keys": [okp, ec_jwk]})).is_ok());
    }

    #[test]
    fn the_claimed_client_needs_iss_equal_to_sub() {
        let (ec, _) = ec_key("e1");
        let mismatched = sign(
            Algorithm::ES256,
            None,
            &ec,
            with(json!({"sub": "someone-else"})),
        );
        assert_eq!(
            claimed_client_id(&mismatched),
            Err(AssertionError::IssuerIsNotSubject)
        );
        assert_eq!(claimed_client_id("abc"), Err(AssertionError::Malformed));
    }
}
