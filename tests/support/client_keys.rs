//! A `private_key_jwt` client's side: real RSA-2048 and EC P-256 key pairs, their public
//! JWKs, and client assertions (RFC 7523 §3) signed with them.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub struct ClientKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    /// The public key, as the client publishes it.
    pub jwk: Value,
}

impl ClientKey {
    pub fn rsa(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = pair.public_key();
        let jwk = json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        });
        let pkcs8 = pair.as_der().unwrap();
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(pkcs1_of(pkcs8.as_ref())),
            jwk,
        }
    }

    pub fn ec(kid: &str) -> Self {
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
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
        }
    }

    /// Signs `claims` with this key, naming it by `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.encoding).unwrap()
    }

    /// A fresh assertion for `client_id`, for the server whose token endpoint is `aud`.
    pub fn assertion(&self, client_id: &str, aud: &str) -> String {
        self.sign(&assertion_claims(client_id, aud))
    }
}

/// RFC 7523 §3's claims: a two-minute lifetime and a new `jti`.
pub fn assertion_claims(client_id: &str, aud: &str) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": now, "exp": now + 120, "jti": alta_shared::random::token(16),
    })
}

pub fn jwks(keys: &[&ClientKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}

/// jsonwebtoken signs RSA with a PKCS#1 key; aws-lc-rs writes PKCS#8, which wraps that
/// key in an OCTET STRING after the rsaEncryption algorithm identifier.
fn pkcs1_of(pkcs8: &[u8]) -> &[u8] {
    const RSA_ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let at = pkcs8
        .windows(RSA_ALGORITHM.len())
        .position(|w| w == RSA_ALGORITHM)
        .expect("an RSA PKCS#8 key")
        + RSA_ALGORITHM.len();
    // OCTET STRING with a long-form length: 0x04, 0x8n, then n length bytes.
    assert_eq!(pkcs8[at], 0x04);
    let length_bytes = usize::from(pkcs8[at + 1] & 0x7f);
    &pkcs8[at + 2 + length_bytes..]
}
