//! The store tests, written once and run against every implementation: the in-memory
//! store always, DynamoDB when `ALTA_TEST_DYNAMODB_ENDPOINT` names one (the test script
//! starts dynalite and runs these with `--include-ignored`).

use std::sync::Arc;

use super::Stores;
use super::dynamo::{DynamoStore, tables};
use super::memory::MemoryStore;
use crate::alta::listing::{EmailFilter, EmailSummary, Page};
use crate::alta::{Campaign, CampaignMode, CampaignStats, CampaignStatus, Email, Inbox};
use crate::config::TableNames;
use crate::directory::{Account, IdentityLink, Membership, Role, User};
use crate::federation::provider::IdentityProvider;
use crate::password::PasswordHash;
use crate::pkce::CodeChallenge;
use crate::records::client::{
    ApplicationType, ClientSecretHash, GrantType, RegisteredClient, TokenEndpointAuthMethod,
};
use crate::records::grant::{
    AuthorizationCodeRecord, GrantRecord, RedeemedCode, RefreshTokenRecord, TokenHash,
};
use crate::records::ids::FamilyId;
use crate::redirect_uri::RedirectUri;
use crate::scope::ScopeSet;
use crate::store::StoreError;

mod clients;
use clients::*;
mod directory;
use directory::*;
mod codes;
use codes::*;
mod refresh_tokens;
use refresh_tokens::*;
mod revocations;
use revocations::*;
mod alta;
use alta::*;

pub(crate) async fn dynamo_store_for_tests() -> DynamoStore {
    let endpoint = std::env::var("ALTA_TEST_DYNAMODB_ENDPOINT").expect(
        "ALTA_TEST_DYNAMODB_ENDPOINT must name a DynamoDB endpoint (scripts/test starts dynalite)",
    );
    let sdk = crate::aws::sdk_config(true).await;
    let client = crate::aws::dynamodb_client(&sdk, Some(&endpoint));
    let prefix = format!(
        "t{}-",
        crate::random::token(6)
            .to_ascii_lowercase()
            .replace(['-', '_'], "x")
    );
    let names = TableNames {
        clients: format!("{prefix}clients"),
        authorization_codes: format!("{prefix}authorization-codes"),
        refresh_tokens: format!("{prefix}refresh-tokens"),
        revocations: format!("{prefix}revocations"),
        directory: format!("{prefix}directory"),
        alta_data: format!("{prefix}alta-data"),
    };
    tables::ensure_tables(&client, &names)
        .await
        .expect("create test tables");
    DynamoStore::new(client, names)
}

macro_rules! store_contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let store: std::sync::Arc<dyn super::Stores> = std::sync::Arc::new(super::MemoryStore::new());
                    super::$name(store).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                #[ignore = "needs DynamoDB at ALTA_TEST_DYNAMODB_ENDPOINT; scripts/test runs it"]
                async fn $name() {
                    let store: std::sync::Arc<dyn super::Stores> = std::sync::Arc::new(super::dynamo_store_for_tests().await);
                    super::$name(store).await;
                }
            )*
        }
    };
}

store_contract!(
    registered_client_reads_back_unchanged,
    second_registration_with_the_same_id_conflicts,
    unknown_client_is_none,
    client_is_gone_once_expired,
    extending_pushes_expiry_forward_but_never_back,
    extending_does_not_resurrect_an_expired_client,
    extending_an_unknown_client_is_harmless,
    user_reads_back_by_email,
    second_user_with_the_same_email_conflicts,
    memberships_come_oldest_first_and_keep_their_creation_time,
    an_accounts_members_come_with_their_emails_oldest_first,
    a_removed_membership_is_gone_and_removing_again_is_harmless,
    account_reads_back,
    a_person_without_a_password_reads_back,
    identity_providers_are_listed_replaced_and_removed,
    an_identity_link_is_made_once,
    sign_in_failures_count_within_a_window_and_reset_after,
    code_is_taken_exactly_once,
    expired_code_cannot_be_taken,
    twenty_concurrent_takes_yield_one_code,
    redeemed_code_remembers_what_it_issued,
    refresh_token_reads_back_and_rotates_once,
    a_rotated_token_is_retried_at_most_the_limit_within_its_grace,
    a_used_successor_ends_the_grace,
    concurrent_retries_cannot_pass_the_limit,
    a_persons_grants_are_listed_touched_replaced_and_removed,
    revocation_lasts_until_its_expiry_and_is_never_shortened,
    a_single_use_key_is_used_once_until_it_expires,
    any_revoked_checks_several_keys_at_once,
    alta_data_reads_back_in_order_within_its_account,
    list_pages_walk_each_list_once_in_order,
    email_pages_continue_where_they_stopped_while_mail_arrives,
    campaign_status_changes_only_from_the_expected_status,
);
