//! Signing people in through the OpenID provider their account uses (OIDC federation):
//! Alta MCP is the relying party, and issues only its own tokens. `provider` holds the
//! records, `registry` what a container knows of them (records and client secrets),
//! `upstream` the discovery, authorization URL and code exchange, `id_token` the
//! validation of what a provider's token endpoint answers (OpenID Connect Core §3.1.3.7),
//! `link` who that is at Alta, and `id_jag` the identity assertion grants of
//! enterprise-managed authorization.

pub mod id_jag;
pub mod id_token;
pub mod link;
pub mod provider;
pub mod registry;
pub mod upstream;

/// A real P-256 key pair for the tests of tokens providers sign: the signing key and its
/// public JWK.
#[cfg(test)]
pub(crate) fn test_key(kid: &str) -> (jsonwebtoken::EncodingKey, serde_json::Value) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    (jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
}
