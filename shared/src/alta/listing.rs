//! Reading Alta data a page at a time: the order of each list, its positions (what a page
//! continues after), and what lists of email carry instead of bodies.
//!
//! A position is the item's sort value, `<time, 10 digits>#<id>`: campaigns and inboxes
//! oldest first, emails newest first. A page continues strictly after the last position it
//! showed, so items added meanwhile never shift later pages (no repeats, no skips).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Campaign, CampaignStatus, Email, Inbox};

/// The longest snippet of a body kept with an email, in characters.
pub const SNIPPET_CHARS: usize = 120;

/// One page of a list, and the position the next page starts after (none on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A list that cannot hold anything (the caller may read none of it).
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            next: None,
        }
    }
}

/// An email in a list: everything but the body, and a short snippet of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EmailSummary {
    pub id: String,
    pub inbox_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub received_at: u64,
    pub snippet: String,
}

/// Which emails a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailFilter {
    pub inbox_id: Option<String>,
    pub campaign_id: Option<String>,
    /// The inboxes the caller may read; `None` for all of them.
    pub readable: Option<Vec<String>>,
    /// Lowercase text to find in the subject, the sender or the snippet.
    pub text: Option<String>,
}

impl EmailFilter {
    pub fn matches(&self, e: &EmailSummary) -> bool {
        self.inbox_id.as_ref().is_none_or(|i| &e.inbox_id == i)
            && self
                .campaign_id
                .as_ref()
                .is_none_or(|c| e.campaign_id.as_ref() == Some(c))
            && self
                .readable
                .as_ref()
                .is_none_or(|ids| ids.contains(&e.inbox_id))
            && self
                .text
                .as_ref()
                .is_none_or(|q| search_text(e).contains(q.as_str()))
    }
}

/// What a text query searches: subject, sender and snippet, lowercased.
pub fn search_text(e: &EmailSummary) -> String {
    format!("{}\n{}\n{}", e.subject, e.from, e.snippet).to_lowercase()
}

/// The first [`SNIPPET_CHARS`] characters of a body, whitespace folded.
pub fn snippet(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

impl Email {
    pub fn summary(&self) -> EmailSummary {
        EmailSummary {
            id: self.id.clone(),
            inbox_id: self.inbox_id.clone(),
            campaign_id: self.campaign_id.clone(),
            subject: self.subject.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            received_at: self.received_at,
            snippet: snippet(&self.body),
        }
    }
}

/// `<time, 10 digits>#<id>`: sorts as (time, id).
pub fn position(time: u64, id: &str) -> String {
    format!("{time:010}#{id}")
}

/// The id a position names, if it is one.
pub fn position_id(position: &str) -> Option<&str> {
    let (time, id) = position.split_once('#')?;
    (time.len() == 10 && time.bytes().all(|b| b.is_ascii_digit()) && !id.is_empty()).then_some(id)
}

impl Campaign {
    pub fn position(&self) -> String {
        position(self.created_at, &self.id)
    }
}

impl Inbox {
    pub fn position(&self) -> String {
        position(self.created_at, &self.id)
    }
}

impl EmailSummary {
    pub fn position(&self) -> String {
        position(self.received_at, &self.id)
    }
}

/// Where a campaign list stands: all campaigns, or those in one status.
pub fn campaign_matches(c: &Campaign, status: Option<CampaignStatus>) -> bool {
    status.is_none_or(|s| c.status == s)
}

/// One page of `items` (already in list order), after `after`: what the in-memory store
/// answers, and the semantics the DynamoDB store's queries follow.
pub fn page_of<T>(
    items: Vec<T>,
    position: impl Fn(&T) -> String,
    newest_first: bool,
    after: Option<&str>,
    limit: usize,
) -> Page<T> {
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|item| match after {
            None => true,
            Some(after) if newest_first => position(item).as_str() < after,
            Some(after) => position(item).as_str() > after,
        })
        .collect();
    let next = (rest.len() > limit).then(|| position(&rest[limit - 1]));
    rest.truncate(limit);
    Page { items: rest, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_sort_by_time_then_id() {
        assert!(position(9, "b") < position(10, "a"));
        assert!(position(10, "a") < position(10, "b"));
        assert_eq!(position_id(&position(10, "camp_1")), Some("camp_1"));
        for bad in ["", "10#x", "abcdefghij#x", "0000000010#", "0000000010"] {
            assert_eq!(position_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn pages_continue_after_their_position() {
        let items: Vec<u64> = (1..=5).collect();
        let pos = |n: &u64| position(*n, "x");
        let first = page_of(items.clone(), pos, false, None, 2);
        assert_eq!(first.items, [1, 2]);
        let second = page_of(items.clone(), pos, false, first.next.as_deref(), 2);
        assert_eq!(second.items, [3, 4]);
        let last = page_of(items.clone(), pos, false, second.next.as_deref(), 2);
        assert_eq!((last.items, last.next), (vec![5], None));
        let newest: Vec<u64> = items.into_iter().rev().collect();
        let first = page_of(newest.clone(), pos, true, None, 3);
        assert_eq!(first.items, [5, 4, 3]);
        assert_eq!(
            page_of(newest, pos, true, first.next.as_deref(), 3).items,
            [2, 1]
        );
    }

    #[test]
    fn snippets_fold_whitespace_and_stop_at_the_limit() {
        assert_eq!(snippet("a\n\n  b"), "a b");
        let long = "x".repeat(SNIPPET_CHARS + 5);
        assert_eq!(snippet(&long).chars().count(), SNIPPET_CHARS + 1);
    }
}
