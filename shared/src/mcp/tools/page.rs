//! Opaque cursors for list tools. A cursor names a position in one list (the last item
//! a page showed, `alta::listing`) and is bound to the account and the query it was made
//! for: one reused with other filters, in another account, or changed by hand is refused,
//! and the store rebuilds the key it starts from out of the caller's own account and
//! query, so no cursor can reach outside them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::ToolFailure;
use crate::alta::listing::position_id;

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;
const VERSION: &str = "v2";

/// A list's page size and where it starts.
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<String>,
}

/// What binds a cursor: the account and the list's canonical query.
fn fingerprint(account_id: &str, query: &str, position: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [VERSION, account_id, query, position] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(&hasher.finalize()[..12])
}

/// Cursors name a position of at most an id and a timestamp.
const MAX_CURSOR_LEN: usize = 1024;

/// Reads `limit` and `cursor` for a list in `account_id` whose filters are `query`.
pub fn request(
    account_id: &str,
    query: &str,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<PageRequest, ToolFailure> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT as u32).contains(&n) => n as usize,
        Some(n) => {
            return Err(ToolFailure::InvalidArguments(format!(
                "limit must be between 1 and {MAX_LIMIT}, not {n}"
            )));
        }
    };
    let after = match cursor {
        None => None,
        // Longer than any cursor this server makes: never decoded into a store key.
        Some(cursor) if cursor.len() > MAX_CURSOR_LEN => {
            return Err(ToolFailure::InvalidArguments(
                "cursor is invalid; start again without it".into(),
            ));
        }
        Some(cursor) => Some(decode(account_id, query, cursor).ok_or_else(|| {
            ToolFailure::InvalidArguments(
                "cursor is invalid or belongs to another query; start again without it".into(),
            )
        })?),
    };
    Ok(PageRequest { limit, after })
}

/// The cursor of the page after `position`.
pub fn cursor(account_id: &str, query: &str, position: &str) -> String {
    let check = fingerprint(account_id, query, position);
    URL_SAFE_NO_PAD.encode(format!("{VERSION}:{check}:{position}"))
}

fn decode(account_id: &str, query: &str, cursor: &str) -> Option<String> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let mut parts = raw.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(check), Some(position))
            if position_id(position).is_some()
                && check == fingerprint(account_id, query, position) =>
        {
            Some(position.to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "1795910400#camp_1";

    #[test]
    fn a_cursor_reads_back_for_its_account_and_query_only() {
        let c = cursor("acct_1", "campaigns:active", AT);
        let back = request("acct_1", "campaigns:active", Some(&c), Some(10)).unwrap();
        assert_eq!((back.limit, back.after.as_deref()), (10, Some(AT)));
        for (account, query) in [
            ("acct_1", "campaigns:paused"),
            ("acct_2", "campaigns:active"),
        ] {
            assert!(
                request(account, query, Some(&c), None).is_err(),
                "{account} {query}"
            );
        }
    }

    #[test]
    fn a_changed_cursor_is_refused() {
        let forged = URL_SAFE_NO_PAD.encode(format!("{VERSION}:AAAAAAAAAAAAAAAA:{AT}"));
        assert!(request("acct_1", "q", Some(&forged), None).is_err());
        let c = cursor("acct_1", "q", AT);
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(&c).unwrap()).unwrap();
        let moved = URL_SAFE_NO_PAD.encode(raw.replace("camp_1", "camp_2"));
        assert!(request("acct_1", "q", Some(&moved), None).is_err());
        assert!(request("acct_1", "q", Some("garbage"), None).is_err());
        assert!(request("acct_1", "q", Some(""), None).is_err());
    }

    #[test]
    fn limit_is_bounded() {
        assert!(request("a", "q", None, Some(0)).is_err());
        assert!(request("a", "q", None, Some(101)).is_err());
        assert_eq!(request("a", "q", None, Some(100)).unwrap().limit, 100);
        assert_eq!(request("a", "q", None, None).unwrap().limit, DEFAULT_LIMIT);
    }
}
