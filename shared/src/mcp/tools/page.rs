//! Opaque cursors for list tools: an offset bound to the query it belongs to, so that a
//! cursor reused with other filters is refused instead of silently skipping results.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::ToolFailure;

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;

fn fingerprint(query: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(query.as_bytes())[..6])
}

/// One page of `items`, and the cursor of the next page if there is one.
pub fn paginate<T>(
    items: Vec<T>,
    query: &str,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<(Vec<T>, Option<String>), ToolFailure> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT as u32).contains(&n) => n as usize,
        Some(n) => {
            return Err(ToolFailure::InvalidArguments(format!(
                "limit must be between 1 and {MAX_LIMIT}, not {n}"
            )));
        }
    };
    let offset = match cursor {
        None => 0,
        Some(cursor) => decode(cursor, query).ok_or_else(|| {
            ToolFailure::InvalidArguments(
                "cursor is invalid or belongs to another query; start again without it".into(),
            )
        })?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let next = (offset + page.len() < total).then(|| encode(offset + page.len(), query));
    Ok((page, next))
}

fn encode(offset: usize, query: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{}:{offset}", fingerprint(query)))
}

fn decode(cursor: &str, query: &str) -> Option<usize> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let mut parts = raw.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(fp), Some(offset)) if fp == fingerprint(query) => offset.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_the_whole_list_once() {
        let items: Vec<u32> = (0..7).collect();
        let (first, next) = paginate(items.clone(), "q", None, Some(3)).unwrap();
        assert_eq!(first, [0, 1, 2]);
        let (second, next) = paginate(items.clone(), "q", next.as_deref(), Some(3)).unwrap();
        assert_eq!(second, [3, 4, 5]);
        let (third, next) = paginate(items, "q", next.as_deref(), Some(3)).unwrap();
        assert_eq!(third, [6]);
        assert_eq!(next, None);
    }

    #[test]
    fn cursor_of_another_query_or_garbage_is_refused() {
        let (_, next) =
            paginate((0..5).collect::<Vec<_>>(), "status=active", None, Some(2)).unwrap();
        assert!(
            paginate(
                (0..5).collect::<Vec<_>>(),
                "status=paused",
                next.as_deref(),
                Some(2)
            )
            .is_err()
        );
        assert!(paginate((0..5).collect::<Vec<_>>(), "q", Some("garbage"), None).is_err());
    }

    #[test]
    fn limit_is_bounded() {
        assert!(paginate(vec![1], "q", None, Some(0)).is_err());
        assert!(paginate(vec![1], "q", None, Some(101)).is_err());
        assert!(paginate(vec![1], "q", None, Some(100)).is_ok());
    }
}
