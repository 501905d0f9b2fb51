//! The demo data of DESIGN.md, seeded by the local server (never by a deployed stack).

use crate::alta::{Campaign, CampaignMode, CampaignStats, CampaignStatus, Email, Inbox};
use crate::directory::{Account, Membership, Role, User};
use crate::password::PasswordHash;
use crate::secret::SecretString;
use crate::store::{AltaStore, DirectoryStore, StoreError};

pub const ACME: &str = "acct_acme";
pub const GLOBEX: &str = "acct_globex";
pub const ACME_SALES_INBOX: &str = "inbox_acme_sales";
pub const ACME_SUPPORT_INBOX: &str = "inbox_acme_support";
pub const GLOBEX_INBOX: &str = "inbox_globex_main";

pub const DEMO_USER: &str = "user_demo";
pub const MANAGER_USER: &str = "user_manager";
pub const VIEWER_USER: &str = "user_viewer";

/// Accounts, users and memberships: `demo@` (Admin of Acme, Member of Globex), `manager@`
/// (Manager of Acme, sales inbox only), `viewer@` (Viewer of Acme, no inboxes). Seeding
/// twice changes nothing.
pub async fn seed_directory(
    directory: &dyn DirectoryStore,
    password: &str,
    now: u64,
) -> Result<(), StoreError> {
    let hash = PasswordHash::create(&SecretString::new(password)).map_err(StoreError::Corrupt)?;
    for (id, name, offset) in [(ACME, "Acme Corp", 0), (GLOBEX, "Globex", 1)] {
        directory
            .put_account(&Account {
                account_id: id.into(),
                name: name.into(),
                created_at: now + offset,
            })
            .await?;
    }
    for (user_id, email, name) in [
        (DEMO_USER, "demo@alta.local", "Dana Demo"),
        (MANAGER_USER, "manager@alta.local", "Morgan Manager"),
        (VIEWER_USER, "viewer@alta.local", "Val Viewer"),
    ] {
        let user = User {
            user_id: user_id.into(),
            email: email.into(),
            name: name.into(),
            password_hash: hash.clone(),
            created_at: now,
        };
        match directory.create_user(&user).await {
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(err) => return Err(err),
        }
    }
    let memberships = [
        (DEMO_USER, ACME, Role::Admin, vec![], 0),
        (DEMO_USER, GLOBEX, Role::Member, vec![GLOBEX_INBOX], 1),
        (MANAGER_USER, ACME, Role::Manager, vec![ACME_SALES_INBOX], 0),
        (VIEWER_USER, ACME, Role::Viewer, vec![], 0),
    ];
    for (user_id, account_id, role, inboxes, offset) in memberships {
        directory
            .put_membership(&Membership {
                user_id: user_id.into(),
                account_id: account_id.into(),
                role,
                inbox_grants: inboxes.into_iter().map(str::to_owned).collect(),
                created_at: now + offset,
            })
            .await?;
    }
    Ok(())
}

/// Campaigns in each status, two Acme inboxes with email, and a little of Globex.
pub async fn seed_alta_data(alta: &dyn AltaStore, now: u64) -> Result<(), StoreError> {
    let inboxes = [
        (
            ACME,
            ACME_SALES_INBOX,
            "Acme Sales",
            "sales@acme.example",
            0,
        ),
        (
            ACME,
            ACME_SUPPORT_INBOX,
            "Acme Support",
            "support@acme.example",
            1,
        ),
        (
            GLOBEX,
            GLOBEX_INBOX,
            "Globex Outreach",
            "hello@globex.example",
            0,
        ),
    ];
    for (account, id, name, address, offset) in inboxes {
        alta.put_inbox(&Inbox {
            id: id.into(),
            account_id: account.into(),
            name: name.into(),
            address: address.into(),
            created_at: now - 90 * DAY + offset,
        })
        .await?;
    }
    use CampaignMode::*;
    use CampaignStatus::*;
    let campaigns = [
        (
            ACME,
            "camp_acme_q4_outreach",
            "Q4 enterprise outreach",
            Active,
            Autopilot,
            ACME_SALES_INBOX,
            (1240, 610, 87),
            0,
        ),
        (
            ACME,
            "camp_acme_renewals",
            "Renewal reminders",
            Paused,
            Copilot,
            ACME_SALES_INBOX,
            (320, 201, 44),
            1,
        ),
        (
            ACME,
            "camp_acme_webinar",
            "Spring webinar invite",
            Draft,
            Autopilot,
            ACME_SUPPORT_INBOX,
            (0, 0, 0),
            2,
        ),
        (
            ACME,
            "camp_acme_launch",
            "Product launch 2026",
            Completed,
            Copilot,
            ACME_SALES_INBOX,
            (5000, 2950, 410),
            3,
        ),
        (
            ACME,
            "camp_acme_partners",
            "Partner newsletter",
            Active,
            Copilot,
            ACME_SUPPORT_INBOX,
            (80, 52, 9),
            4,
        ),
        (
            GLOBEX,
            "camp_globex_intro",
            "Globex intro sequence",
            Active,
            Autopilot,
            GLOBEX_INBOX,
            (150, 70, 12),
            0,
        ),
    ];
    for (account, id, name, status, mode, inbox, (sent, opened, replied), offset) in campaigns {
        alta.put_campaign(&Campaign {
            id: id.into(),
            account_id: account.into(),
            name: name.into(),
            status,
            mode,
            inbox_id: inbox.into(),
            stats: CampaignStats {
                sent,
                opened,
                replied,
            },
            created_at: now - 60 * DAY + offset * DAY,
            updated_at: now - 60 * DAY + offset * DAY,
        })
        .await?;
    }
    let emails = [
        (
            ACME,
            "email_acme_1",
            ACME_SALES_INBOX,
            Some("camp_acme_q4_outreach"),
            "Re: Q4 pricing for 500 seats",
            "jordan@initech.example",
            "sales@acme.example",
            1,
            "Thanks for the deck. Could you send pricing for 500 seats with annual billing?",
        ),
        (
            ACME,
            "email_acme_2",
            ACME_SALES_INBOX,
            Some("camp_acme_q4_outreach"),
            "Re: Intro call next week",
            "priya@umbrella.example",
            "sales@acme.example",
            2,
            "Tuesday at 10am works. Please include our security lead.",
        ),
        (
            ACME,
            "email_acme_3",
            ACME_SALES_INBOX,
            Some("camp_acme_renewals"),
            "Renewal question",
            "sam@hooli.example",
            "sales@acme.example",
            3,
            "Can we move our renewal date to January?",
        ),
        (
            ACME,
            "email_acme_4",
            ACME_SUPPORT_INBOX,
            None,
            "Cannot export report",
            "lee@vandelay.example",
            "support@acme.example",
            4,
            "The CSV export of the campaign report fails with a timeout.",
        ),
        (
            ACME,
            "email_acme_5",
            ACME_SUPPORT_INBOX,
            Some("camp_acme_partners"),
            "Re: Partner newsletter",
            "kim@wonka.example",
            "support@acme.example",
            5,
            "Please add our marketing team to the partner newsletter.",
        ),
        (
            GLOBEX,
            "email_globex_1",
            GLOBEX_INBOX,
            Some("camp_globex_intro"),
            "Re: Globex intro",
            "alex@cyberdyne.example",
            "hello@globex.example",
            1,
            "Interested. What does onboarding look like?",
        ),
    ];
    for (account, id, inbox, campaign, subject, from, to, hours_ago, body) in emails {
        alta.put_email(&Email {
            id: id.into(),
            account_id: account.into(),
            inbox_id: inbox.into(),
            campaign_id: campaign.map(str::to_owned),
            subject: subject.into(),
            from: from.into(),
            to: to.into(),
            received_at: now - hours_ago * 3600,
            body: body.into(),
        })
        .await?;
    }
    Ok(())
}

const DAY: u64 = 24 * 3600;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn demo_admin_belongs_to_acme_first() {
        let store = MemoryStore::new();
        seed_directory(&store, "alta-demo", 1000).await.unwrap();
        seed_directory(&store, "alta-demo", 2000).await.unwrap();
        let user = store
            .user_by_email("demo@alta.local")
            .await
            .unwrap()
            .unwrap();
        assert!(user.password_hash.verify("alta-demo"));
        let memberships = store.memberships(&user.user_id).await.unwrap();
        assert_eq!(memberships.len(), 2);
        assert_eq!(memberships[0].account_id, ACME);
        assert_eq!(memberships[0].role, Role::Admin);
        let manager = store.memberships(MANAGER_USER).await.unwrap();
        assert_eq!(manager[0].inbox_grants, [ACME_SALES_INBOX]);
    }

    #[tokio::test]
    async fn acme_has_a_campaign_in_each_status_and_two_inboxes_with_email() {
        let store = MemoryStore::new();
        seed_alta_data(&store, 1_800_000_000).await.unwrap();
        let statuses: std::collections::HashSet<_> = store
            .campaigns(ACME)
            .await
            .unwrap()
            .iter()
            .map(|c| c.status)
            .collect();
        assert_eq!(statuses.len(), 4);
        let inboxes = store.inboxes(ACME).await.unwrap();
        assert_eq!(inboxes.len(), 2);
        let emails = store.emails(ACME).await.unwrap();
        for inbox in inboxes {
            assert!(emails.iter().any(|e| e.inbox_id == inbox.id));
        }
    }
}
