//! Checking a person's email and password, for the consent page and the connections page
//! alike: throttled per email and source together, per email (a higher ceiling) and per
//! source address, counted before any password is hashed, and as slow for an unknown email
//! as for a wrong password. Failures keyed by email alone would let anyone lock a person
//! out from anywhere by guessing wrong five times; keyed by the pair, a guesser locks only
//! themselves out, while the per-email ceiling still stops a spread-out guessing of one
//! account's password. An address the person has signed in from before is exempt from
//! the per-email ceiling, so that a guesser spread over many addresses cannot lock the
//! owner out of their usual one either.

use http::StatusCode;
use lambda_http::Request;

use crate::deps::Deps;
use crate::digest::sha256_hex;
use crate::directory::{Account, Membership, PASSWORD_IDP, User};
use crate::http as h;
use crate::metrics::Measurement;
use crate::password::PasswordHash;
use crate::store::StoreError;

/// Failed sign-ins allowed for one email from one source address within the window.
pub const MAX_SIGN_IN_FAILURES: u32 = 5;
/// Failed sign-ins allowed for one email from all addresses together within the window.
pub const MAX_SIGN_IN_FAILURES_PER_EMAIL: u32 = 50;
/// How long an (email, source) pair that signed in stays known.
pub const KNOWN_PAIR_SECONDS: u64 = 30 * 24 * 3600;
/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address at most 254.
pub const MAX_EMAIL_LEN: usize = 254;
/// Failed sign-ins from one source address per window, whatever the emails: high enough
/// for an office behind one address, low enough to stop spraying passwords across emails.
pub const MAX_SIGN_IN_FAILURES_PER_ADDRESS: u32 = 100;
pub const SIGN_IN_FAILURE_WINDOW_SECONDS: u64 = 15 * 60;

/// Why a sign-in did not succeed.
#[derive(Debug)]
pub enum Refusal {
    /// Shown on the form again, with this status.
    Retry(StatusCode, &'static str),
    /// The store failed: the service-unavailable page.
    Unavailable(String),
}

/// One line and one metric per sign-in, however it went: what the dashboard and the saved
/// queries read. `email_key` is the SHA-256 of the normalized email (hex): its first 16
/// characters let an operator find a person's sign-ins without logging their email.
pub(crate) fn record_sign_in(
    deps: &Deps,
    req: &Request,
    method: &str,
    outcome: &str,
    email_key: Option<&str>,
) {
    let email_hash = email_key.map_or("", |key| &key[..key.len().min(16)]);
    let source = h::source_address(req);
    tracing::info!(
        method,
        outcome,
        email_hash,
        source = source.as_deref().unwrap_or(""),
        "sign-in"
    );
    deps.metrics.record(Measurement::SignIn { method, outcome });
}

/// The person with this email and password, or why not. `email` is normalized already.
pub async fn sign_in(
    req: &Request,
    deps: &Deps,
    email: &str,
    password: String,
) -> Result<User, Refusal> {
    if email.is_empty() || password.is_empty() {
        return Err(Refusal::Retry(
            StatusCode::OK,
            "Enter your email and password.",
        ));
    }
    // Never a store key longer than any real address (DynamoDB refuses long keys).
    if email.len() > MAX_EMAIL_LEN {
        return Err(Refusal::Retry(
            StatusCode::BAD_REQUEST,
            "That is not an email address: it is too long.",
        ));
    }
    let unavailable = |err: StoreError| match err {
        StoreError::Rejected(_) => Refusal::Retry(
            StatusCode::BAD_REQUEST,
            "Something in the form is too long.",
        ),
        err => Refusal::Unavailable(err.to_string()),
    };
    let now = deps.clock.now();
    let window_ends_at = now + SIGN_IN_FAILURE_WINDOW_SECONDS;
    let source = h::source_address_key(req);
    let pair = sha256_hex(format!("{email}\n{}", source.as_deref().unwrap_or_default()).as_bytes());
    let pair_key = format!("pair-{pair}");
    let known_key = format!("known-{pair}");
    let email_key = sha256_hex(email.as_bytes());
    // Only what looks like an address is hashed into the log: a password typed into the
    // email field must not end up there, even hashed.
    let logged_email_key = email.contains('@').then_some(email_key.as_str());
    let address_key = source.map(|key| format!("ip-{key}"));
    let known = deps
        .directory
        .sign_in_failures(&known_key, now)
        .await
        .map_err(unavailable)?
        > 0;
    // Count first, atomically, and refuse before any password is hashed: parallel attempts
    // each take a place in the count, so at most the limit of them is ever verified. The
    // address first, so that an address past its limit adds nothing to anyone's email.
    let too_many_for_email =
        "Too many failed sign-ins for this email. Wait 15 minutes and try again.";
    let limits = address_key
        .as_deref()
        .map(|key| {
            (
                key,
                MAX_SIGN_IN_FAILURES_PER_ADDRESS,
                "Too many failed sign-ins from your network. Wait 15 minutes and try again.",
            )
        })
        .into_iter()
        .chain([(pair_key.as_str(), MAX_SIGN_IN_FAILURES, too_many_for_email)])
        .chain((!known).then_some((
            email_key.as_str(),
            MAX_SIGN_IN_FAILURES_PER_EMAIL,
            too_many_for_email,
        )));
    for (key, limit, message) in limits {
        let count = deps
            .directory
            .count_sign_in_attempt(key, now, window_ends_at)
            .await
            .map_err(unavailable)?;
        if count > limit {
            record_sign_in(deps, req, PASSWORD_IDP, "locked", logged_email_key);
            return Err(Refusal::Retry(StatusCode::TOO_MANY_REQUESTS, message));
        }
    }
    let user = deps
        .directory
        .user_by_email(email)
        .await
        .map_err(unavailable)?;
    // Hashing blocks for tens of milliseconds and ~19 MiB: keep it off the async workers,
    // a few at a time. An unknown email costs the same as a wrong password (no enumeration
    // by timing).
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let verified = {
        let _slot = deps.password_checks.acquire().await;
        tokio::task::spawn_blocking(move || match hash {
            Some(hash) => hash.verify(&password),
            None => PasswordHash::verify_decoy(&password),
        })
        .await
        .unwrap_or(false)
    };
    let user = match (verified, user) {
        (true, Some(user)) => user,
        _ => {
            // Already counted, for the email and the address.
            record_sign_in(deps, req, PASSWORD_IDP, "failed", logged_email_key);
            return Err(Refusal::Retry(StatusCode::OK, "Invalid email or password."));
        }
    };
    record_sign_in(deps, req, PASSWORD_IDP, "succeeded", logged_email_key);
    deps.directory
        .clear_sign_in_failures(&pair_key)
        .await
        .map_err(unavailable)?;
    if !known {
        deps.directory
            .count_sign_in_attempt(&known_key, now, now + KNOWN_PAIR_SECONDS)
            .await
            .map_err(unavailable)?;
    }
    // A success is not a failure, for the email (when counted) or the address.
    let counted_email = (!known).then_some(&email_key);
    for key in counted_email.into_iter().chain(&address_key) {
        deps.directory
            .forgive_sign_in_attempt(key, now)
            .await
            .map_err(unavailable)?;
    }
    Ok(user)
}

/// The accounts a person can act in, with their membership, oldest membership first.
pub async fn accessible_accounts(
    deps: &Deps,
    user_id: &str,
) -> Result<Vec<(Membership, Account)>, StoreError> {
    let mut accounts = Vec::new();
    for membership in deps.directory.memberships(user_id).await? {
        if let Some(account) = deps.directory.account(&membership.account_id).await? {
            accounts.push((membership, account));
        }
    }
    Ok(accounts)
}
