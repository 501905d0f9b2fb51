//! State carried by Alta's own pages between a GET and its POSTs: signed (HS256, the
//! form key: `keys::FormKey`) into a hidden form field that lives 10 minutes, and bound to a nonce
//! cookie, so that a field lifted from one browser is useless in another (CSRF included:
//! another site can post the field only with a cookie it cannot read or set).

use std::sync::Arc;

use http::HeaderValue;
use jsonwebtoken::{Algorithm, Header, Validation, decode, decode_header, encode};
use lambda_http::Request;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::BaseUrl;
use crate::deps::Deps;
use crate::http::{BodyError, Params};
use crate::keys::{FormKey, KeyError};
use crate::secret::SecretString;

pub const FORM_LIFETIME_SECONDS: u64 = 600;
/// The pages' forms are a signed field and a few short values.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// What every signed form's claims carry.
pub trait FormClaims: Serialize + DeserializeOwned {
    /// The JWT `typ`: one per kind of form, so that one cannot stand in for another.
    const TYPE: &'static str;
    fn iat(&self) -> u64;
    /// Equal to the nonce cookie.
    fn nonce(&self) -> &str;
}

pub fn sign<T: FormClaims>(key: &FormKey, claims: &T) -> Result<String, String> {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(T::TYPE.into());
    header.kid = Some(key.kid().to_owned());
    encode(&header, claims, key.encoding_key()).map_err(|e| e.to_string())
}

/// The claims, if the field was signed here for `audience`, is unexpired, and matches the
/// cookie.
pub fn verify<T: FormClaims>(
    key: &FormKey,
    base: &BaseUrl,
    audience: &str,
    field: &str,
    cookie_nonce: Option<&str>,
) -> Option<T> {
    verify_unbound::<T>(key, base, audience, field).filter(|claims| binds(claims, cookie_nonce))
}

/// The claims if the field was signed here for `audience` and is unexpired, before its
/// nonce is held against a cookie (`binds`): for state whose cookie depends on what it says.
pub fn verify_unbound<T: FormClaims>(
    key: &FormKey,
    base: &BaseUrl,
    audience: &str,
    field: &str,
) -> Option<T> {
    let header = decode_header(field).ok()?;
    if header.alg != Algorithm::HS256
        || header.typ.as_deref() != Some(T::TYPE)
        || header.kid.as_deref() != Some(key.kid())
    {
        return None;
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_issuer(&[base.issuer()]);
    validation.set_audience(&[audience]);
    decode::<T>(field, key.decoding_key(), &validation)
        .ok()
        .map(|data| data.claims)
}

/// Whether the claims' nonce is the cookie's (compared in constant time).
pub fn binds<T: FormClaims>(claims: &T, cookie_nonce: Option<&str>) -> bool {
    let nonce = SecretString::new(claims.nonce().to_owned());
    cookie_nonce.is_some_and(|c| nonce.constant_time_eq(c))
}

/// A signed form posted back, verified.
pub struct Posted<T> {
    pub params: Params,
    /// The signed field as posted: a page shown again carries it unchanged.
    pub field: String,
    /// The key that verified it, which also signs what the page shows next.
    pub keys: Arc<FormKey>,
    pub claims: T,
}

/// Why a posted form was not read.
pub enum Unread {
    /// Not a form body at all.
    Malformed(BodyError),
    /// The form key could not be read: worth retrying.
    Unavailable(KeyError),
    /// Expired, lifted from another browser, tampered with, or not signed here.
    Invalid,
}

/// The form posted to a page: its parameters and its signed field `field_name`, verified
/// for `audience` against the page's nonce cookie.
pub async fn read_posted<T: FormClaims>(
    req: &Request,
    deps: &Deps,
    field_name: &str,
    audience: &str,
    cookie: &NonceCookie,
) -> Result<Posted<T>, Unread> {
    let params = Params::from_form(req, MAX_FORM_BYTES).map_err(Unread::Malformed)?;
    let field = params
        .single(field_name)
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_owned();
    let keys = deps
        .form_keys
        .with_kid(crate::jwt::key_id(&field).as_deref())
        .await
        .map_err(Unread::Unavailable)?;
    let base = &deps.config.base_url;
    let claims = verify(&keys, base, audience, &field, cookie.read(req)).ok_or(Unread::Invalid)?;
    Ok(Posted {
        params,
        field,
        keys,
        claims,
    })
}

/// The consent page's nonce cookie (`/authorize`), which an upstream sign-in for it is
/// bound to as well.
pub fn consent_cookie(base: &BaseUrl) -> NonceCookie {
    NonceCookie::new(base, "alta_authz", "__Host-alta_authz")
}

/// The connected-apps page's path and nonce cookie.
pub const CONNECTIONS_PATH: &str = "/connections";

pub fn connections_cookie(base: &BaseUrl) -> NonceCookie {
    NonceCookie::new(base, "alta_connections", "__Host-alta_connections")
}

/// A form's nonce cookie. Over https it is a `__Host-` cookie (Secure, Path=/, no Domain).
pub struct NonceCookie {
    name: &'static str,
}

impl NonceCookie {
    /// `plain` is the cookie's name over http (local runs); over https it gets `__Host-`.
    pub fn new(base: &BaseUrl, plain: &'static str, host_prefixed: &'static str) -> Self {
        let https = base.issuer().starts_with("https://");
        Self {
            name: if https { host_prefixed } else { plain },
        }
    }

    fn secure(&self) -> bool {
        self.name.starts_with("__Host-")
    }

    /// A `Set-Cookie` value: `value` for `max_age` seconds (0 clears it).
    pub fn set(&self, value: &str, max_age: u64) -> Option<HeaderValue> {
        let secure = if self.secure() { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.name
        ))
        .ok()
    }

    pub fn read<'a>(&self, req: &'a Request) -> Option<&'a str> {
        req.headers()
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == self.name)
            .map(|(_, v)| v)
    }
}
