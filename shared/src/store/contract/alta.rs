//! The store contract of Alta data: items, pages, status changes.

use super::*;

pub(super) async fn alta_data_reads_back_in_order_within_its_account(store: Arc<dyn Stores>) {
    crate::demo::seed_alta_data(store.as_ref(), 1_800_000_000)
        .await
        .unwrap();
    let campaigns = store.campaigns(crate::demo::ACME).await.unwrap();
    let ids: Vec<_> = campaigns.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "camp_acme_q4_outreach",
            "camp_acme_renewals",
            "camp_acme_webinar",
            "camp_acme_launch",
            "camp_acme_partners"
        ]
    );
    let emails = store.emails(crate::demo::ACME).await.unwrap();
    assert_eq!(emails.first().unwrap().id, "email_acme_1", "newest first");
    assert!(
        emails
            .windows(2)
            .all(|w| w[0].received_at >= w[1].received_at)
    );
    let one = store
        .email(crate::demo::ACME, "email_acme_3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.campaign_id.as_deref(), Some("camp_acme_renewals"));
    assert_eq!(
        store
            .email(crate::demo::GLOBEX, "email_acme_3")
            .await
            .unwrap(),
        None,
        "another account's id"
    );
    assert_eq!(
        store
            .campaign(crate::demo::GLOBEX, "camp_acme_renewals")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.inboxes(crate::demo::GLOBEX).await.unwrap().len(), 1);
    assert_eq!(
        store
            .campaign(crate::demo::ACME, "camp_acme_renewals")
            .await
            .unwrap()
            .unwrap(),
        campaigns[1]
    );
}

pub(super) fn paged_campaign(id: &str, created_at: u64, status: CampaignStatus) -> Campaign {
    Campaign {
        id: id.into(),
        account_id: "acct-p".into(),
        name: format!("Campaign {id}"),
        status,
        mode: CampaignMode::Autopilot,
        inbox_id: "in-1".into(),
        stats: CampaignStats {
            sent: 1,
            opened: 0,
            replied: 0,
        },
        created_at,
        updated_at: created_at,
    }
}

pub(super) fn paged_email(
    id: &str,
    received_at: u64,
    inbox: &str,
    campaign: Option<&str>,
) -> Email {
    Email {
        id: id.into(),
        account_id: "acct-p".into(),
        inbox_id: inbox.into(),
        campaign_id: campaign.map(str::to_owned),
        subject: format!("Subject {id}"),
        from: format!("sender-{id}@example.com"),
        to: "team@example.com".into(),
        received_at,
        body: format!("Body of {id}. {} NEEDLE-FAR-AWAY", "filler ".repeat(40)),
    }
}

/// Walks a list page by page, `limit` at a time: the ids in order.
pub(super) async fn walk<T, F, Fut>(
    limit: usize,
    mut page: F,
    id: impl Fn(&T) -> String,
) -> Vec<String>
where
    F: FnMut(Option<String>, usize) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
{
    let mut ids = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let found = page(after.clone(), limit).await.unwrap();
        assert!(found.items.len() <= limit);
        ids.extend(found.items.iter().map(&id));
        match found.next {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
    panic!("the list did not end");
}

pub(super) async fn list_pages_walk_each_list_once_in_order(store: Arc<dyn Stores>) {
    use CampaignStatus::{Active, Paused};
    for (id, at, status) in [
        ("c5", 105, Active),
        ("c1", 101, Paused),
        ("c3", 103, Active),
        ("c0", 100, Active),
        ("c4", 103, Paused),
        ("c2", 102, Active),
        ("c6", 106, Active),
    ] {
        store
            .put_campaign(&paged_campaign(id, at, status))
            .await
            .unwrap();
    }
    // Another account's campaign never shows.
    store
        .put_campaign(&Campaign {
            account_id: "acct-other".into(),
            ..paged_campaign("c9", 99, Active)
        })
        .await
        .unwrap();
    let all = walk(
        3,
        |after, limit| {
            let store = store.clone();
            async move {
                store
                    .campaign_page("acct-p", None, after.as_deref(), limit)
                    .await
            }
        },
        |c: &Campaign| c.id.clone(),
    )
    .await;
    assert_eq!(
        all,
        ["c0", "c1", "c2", "c3", "c4", "c5", "c6"],
        "oldest first, ties by id"
    );
    let active = walk(
        2,
        |after, limit| {
            let store = store.clone();
            async move {
                store
                    .campaign_page("acct-p", Some(Active), after.as_deref(), limit)
                    .await
            }
        },
        |c: &Campaign| c.id.clone(),
    )
    .await;
    assert_eq!(active, ["c0", "c2", "c3", "c5", "c6"]);
    let exact = store.campaign_page("acct-p", None, None, 7).await.unwrap();
    assert_eq!(
        (exact.items.len(), exact.next),
        (7, None),
        "no next page after the last"
    );

    for (id, at) in [("in-2", 50), ("in-1", 50), ("in-3", 40)] {
        store
            .put_inbox(&Inbox {
                id: id.into(),
                account_id: "acct-p".into(),
                name: id.into(),
                address: format!("{id}@example.com"),
                created_at: at,
            })
            .await
            .unwrap();
    }
    let inboxes = store.inbox_page("acct-p", None, None, 10).await.unwrap();
    let ids: Vec<&str> = inboxes.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["in-3", "in-1", "in-2"]);
    let only: Vec<String> = vec!["in-2".into(), "in-3".into()];
    let granted = store
        .inbox_page("acct-p", Some(&only), None, 1)
        .await
        .unwrap();
    assert_eq!(granted.items[0].id, "in-3");
    let rest = store
        .inbox_page("acct-p", Some(&only), granted.next.as_deref(), 1)
        .await
        .unwrap();
    assert_eq!((rest.items[0].id.as_str(), rest.next), ("in-2", None));
    assert!(store.inbox("acct-p", "in-1").await.unwrap().is_some());
    assert!(store.inbox("acct-other", "in-1").await.unwrap().is_none());
}

pub(super) async fn email_pages_continue_where_they_stopped_while_mail_arrives(
    store: Arc<dyn Stores>,
) {
    for (id, at, inbox, campaign) in [
        ("e1", 1001, "in-1", Some("c1")),
        ("e2", 1002, "in-2", None),
        ("e3", 1003, "in-1", None),
        ("e4", 1004, "in-1", Some("c1")),
        ("e5", 1005, "in-2", Some("c1")),
        ("e6", 1005, "in-1", None),
        ("e7", 1007, "in-1", None),
    ] {
        store
            .put_email(&paged_email(id, at, inbox, campaign))
            .await
            .unwrap();
    }
    let all = EmailFilter::default();
    let first = store.email_page("acct-p", &all, None, 3).await.unwrap();
    let ids: Vec<&str> = first.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["e7", "e6", "e5"],
        "newest first, ties by id descending"
    );
    assert!(first.items[0].snippet.starts_with("Body of e7."));
    assert!(
        !first.items[0].snippet.contains("NEEDLE"),
        "a snippet, not the body"
    );
    // New mail arrives between pages: the next page continues after e5, neither
    // repeating nor skipping anything.
    store
        .put_email(&paged_email("e8", 2000, "in-1", None))
        .await
        .unwrap();
    let mut rest = Vec::new();
    let mut after = first.next.clone();
    while let Some(position) = after {
        let page = store
            .email_page("acct-p", &all, Some(&position), 3)
            .await
            .unwrap();
        rest.extend(page.items.iter().map(|e| e.id.clone()));
        after = page.next;
    }
    assert_eq!(rest, ["e4", "e3", "e2", "e1"]);
    let fresh = store.email_page("acct-p", &all, None, 1).await.unwrap();
    assert_eq!(
        fresh.items[0].id, "e8",
        "a fresh first page has the new mail"
    );

    let ids = |filter: EmailFilter| {
        let store = store.clone();
        async move {
            walk(
                2,
                |after, limit| {
                    let (store, filter) = (store.clone(), filter.clone());
                    async move {
                        store
                            .email_page("acct-p", &filter, after.as_deref(), limit)
                            .await
                    }
                },
                |e: &EmailSummary| e.id.clone(),
            )
            .await
        }
    };
    let inbox = |id: &str| EmailFilter {
        inbox_id: Some(id.into()),
        ..EmailFilter::default()
    };
    assert_eq!(ids(inbox("in-2")).await, ["e5", "e2"]);
    let campaign = EmailFilter {
        campaign_id: Some("c1".into()),
        ..EmailFilter::default()
    };
    assert_eq!(ids(campaign.clone()).await, ["e5", "e4", "e1"]);
    assert_eq!(
        ids(EmailFilter {
            inbox_id: Some("in-1".into()),
            ..campaign.clone()
        })
        .await,
        ["e4", "e1"]
    );
    let readable = |inboxes: &[&str]| EmailFilter {
        readable: Some(inboxes.iter().map(|s| (*s).to_owned()).collect()),
        ..EmailFilter::default()
    };
    assert_eq!(ids(readable(&["in-2"])).await, ["e5", "e2"]);
    assert_eq!(
        ids(EmailFilter {
            campaign_id: Some("c1".into()),
            ..readable(&["in-2"])
        })
        .await,
        ["e5"]
    );
    assert_eq!(ids(readable(&[])).await, Vec::<String>::new());
    let text = |q: &str| EmailFilter {
        text: Some(q.into()),
        ..EmailFilter::default()
    };
    assert_eq!(ids(text("subject e3")).await, ["e3"]);
    assert_eq!(ids(text("sender-e2@")).await, ["e2"]);
    assert_eq!(
        ids(text("body of e4")).await,
        ["e4"],
        "the snippet is searched"
    );
    assert_eq!(
        ids(text("needle-far-away")).await,
        Vec::<String>::new(),
        "the body beyond the snippet is not"
    );
    // The full email, body included, is one read by id.
    let one = store.email("acct-p", "e4").await.unwrap().unwrap();
    assert!(one.body.contains("NEEDLE-FAR-AWAY"));
    // Another account sees none of it.
    let other = store
        .email_page("acct-other", &all, None, 10)
        .await
        .unwrap();
    assert!(other.items.is_empty());
}

pub(super) async fn campaign_status_changes_only_from_the_expected_status(store: Arc<dyn Stores>) {
    crate::demo::seed_alta_data(store.as_ref(), 1_800_000_000)
        .await
        .unwrap();
    let acme = crate::demo::ACME;
    let paused = store
        .update_campaign_status(
            acme,
            "camp_acme_q4_outreach",
            CampaignStatus::Active,
            CampaignStatus::Paused,
            1_800_000_100,
        )
        .await
        .unwrap();
    assert_eq!(paused.status, CampaignStatus::Paused);
    assert_eq!(paused.updated_at, 1_800_000_100);
    assert_eq!(
        store
            .update_campaign_status(
                acme,
                "camp_acme_q4_outreach",
                CampaignStatus::Active,
                CampaignStatus::Paused,
                1
            )
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store
            .update_campaign_status(
                acme,
                "nope",
                CampaignStatus::Active,
                CampaignStatus::Paused,
                1
            )
            .await,
        Err(StoreError::Conflict)
    );
    let stored = store
        .campaign(acme, "camp_acme_q4_outreach")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, CampaignStatus::Paused);
}
