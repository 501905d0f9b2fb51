use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::page;
use super::{Acting, Declaration, READ, ToolFailure, ToolOutput, ToolSpec, WRITE, handler, tool};
use crate::alta::{Campaign, CampaignAction, CampaignStatus, Transition};
use crate::deps::Deps;
use crate::rbac::Permission;
use crate::scope::Scope;
use crate::store::StoreError;

pub(super) fn declarations() -> Vec<ToolSpec> {
    vec![
        tool::<ListCampaignsArguments, CampaignList>(Declaration {
            name: "list_campaigns",
            title: "List campaigns",
            description: "Campaigns of the account, oldest first, optionally by status. Paginated: pass next_cursor back as cursor.",
            scope: Some(Scope::CampaignsRead),
            permission: Some(Permission::ReadCampaign),
            hints: READ,
            handler: handler!(list_campaigns),
        }),
        tool::<CampaignArguments, CampaignView>(Declaration {
            name: "get_campaign",
            title: "Get campaign",
            description: "One campaign by id, with its status, mode and sending statistics.",
            scope: Some(Scope::CampaignsRead),
            permission: Some(Permission::ReadCampaign),
            hints: READ,
            handler: handler!(get_campaign),
        }),
        tool::<CampaignArguments, CampaignChange>(Declaration {
            name: "pause_campaign",
            title: "Pause campaign",
            description: "Pause an active campaign so it stops sending. Pausing a paused campaign changes nothing; draft and completed campaigns cannot be paused.",
            scope: Some(Scope::CampaignsWrite),
            permission: Some(Permission::EditCampaign),
            hints: WRITE,
            handler: handler!(pause_campaign),
        }),
        tool::<CampaignArguments, CampaignChange>(Declaration {
            name: "resume_campaign",
            title: "Resume campaign",
            description: "Resume a paused campaign so it sends again. Resuming an active campaign changes nothing; draft and completed campaigns cannot be resumed.",
            scope: Some(Scope::CampaignsWrite),
            permission: Some(Permission::EditCampaign),
            hints: WRITE,
            handler: handler!(resume_campaign),
        }),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCampaignsArguments {
    /// Only campaigns in this status.
    #[serde(default)]
    pub status: Option<CampaignStatus>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignArguments {
    /// The campaign's id, as list_campaigns returns it.
    #[serde(deserialize_with = "super::bounded_id")]
    #[schemars(length(min = 1, max = super::MAX_ID_CHARS))]
    pub campaign_id: String,
}

/// A campaign as the tools show it.
pub type CampaignView = Campaign;

#[derive(Debug, Serialize, JsonSchema)]
pub struct CampaignList {
    pub campaigns: Vec<Campaign>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CampaignChange {
    #[serde(flatten)]
    pub campaign: Campaign,
    /// False when the campaign was already in the asked-for state.
    pub changed: bool,
}

fn line(c: &Campaign) -> String {
    format!(
        "- {} [{}] {} ({}, sent {}, opened {}, replied {})",
        c.name,
        c.id,
        c.status.as_str(),
        c.mode.as_str(),
        c.stats.sent,
        c.stats.opened,
        c.stats.replied
    )
}

async fn list_campaigns(
    deps: &Deps,
    acting: &Acting,
    args: ListCampaignsArguments,
) -> Result<ToolOutput, ToolFailure> {
    let account_id = acting.account_id();
    let query = format!("campaigns:{}", args.status.map_or("", |s| s.as_str()));
    let request = page::request(account_id, &query, args.cursor.as_deref(), args.limit)?;
    let found = deps
        .alta
        .campaign_page(
            account_id,
            args.status,
            request.after.as_deref(),
            request.limit,
        )
        .await?;
    let next_cursor = found
        .next
        .map(|position| page::cursor(account_id, &query, &position));
    let page = found.items;
    let mut text = format!("{} campaign(s) in {}:\n", page.len(), acting.account.name);
    text.push_str(&page.iter().map(line).collect::<Vec<_>>().join("\n"));
    if next_cursor.is_some() {
        text.push_str("\nMore campaigns: call again with next_cursor.");
    }
    ToolOutput::of(
        &CampaignList {
            campaigns: page,
            next_cursor,
        },
        text,
    )
}

async fn find(deps: &Deps, acting: &Acting, id: &str) -> Result<Campaign, ToolFailure> {
    deps.alta
        .campaign(acting.account_id(), id)
        .await?
        .ok_or_else(|| ToolFailure::NotFound(format!("Campaign {id}")))
}

async fn get_campaign(
    deps: &Deps,
    acting: &Acting,
    args: CampaignArguments,
) -> Result<ToolOutput, ToolFailure> {
    let campaign = find(deps, acting, &args.campaign_id).await?;
    let text = line(&campaign);
    ToolOutput::of(&campaign, text)
}

async fn pause_campaign(
    deps: &Deps,
    acting: &Acting,
    args: CampaignArguments,
) -> Result<ToolOutput, ToolFailure> {
    change_campaign(deps, acting, args, CampaignAction::Pause).await
}

async fn resume_campaign(
    deps: &Deps,
    acting: &Acting,
    args: CampaignArguments,
) -> Result<ToolOutput, ToolFailure> {
    change_campaign(deps, acting, args, CampaignAction::Resume).await
}

/// Pause or resume, by the state machine of `CampaignAction`. The usual case (pausing an
/// active campaign, resuming a paused one) is one conditional write and no read; only when
/// its condition fails is the campaign read, to say why (already so, refused, not found)
/// or, if someone else changed it meanwhile, to decide again. A concurrent change is never
/// overwritten.
async fn change_campaign(
    deps: &Deps,
    acting: &Acting,
    args: CampaignArguments,
    action: CampaignAction,
) -> Result<ToolOutput, ToolFailure> {
    let verb = action.target().as_str();
    let changed = |campaign: Campaign| {
        let text = format!("Campaign {} is now {verb}.", campaign.name);
        ToolOutput::of(
            &CampaignChange {
                campaign,
                changed: true,
            },
            text,
        )
    };
    let update = |from, to| {
        deps.alta.update_campaign_status(
            acting.account_id(),
            &args.campaign_id,
            from,
            to,
            deps.clock.now(),
        )
    };
    let expected = match action {
        CampaignAction::Pause => CampaignStatus::Active,
        CampaignAction::Resume => CampaignStatus::Paused,
    };
    match update(expected, action.target()).await {
        Ok(updated) => return changed(updated),
        Err(StoreError::Conflict) => {}
        Err(err) => return Err(err.into()),
    }
    let campaign = find(deps, acting, &args.campaign_id).await?;
    match action.transition(campaign.status) {
        Transition::Refused(why) => Err(ToolFailure::Refused(why)),
        Transition::Unchanged => {
            let text = format!(
                "Campaign {} was already {verb}; nothing changed.",
                campaign.name
            );
            ToolOutput::of(
                &CampaignChange {
                    campaign,
                    changed: false,
                },
                text,
            )
        }
        // Changed back by someone else between the write and the read: once more.
        Transition::Change { from, to } => match update(from, to).await {
            Ok(updated) => changed(updated),
            Err(StoreError::Conflict) => Err(ToolFailure::Refused(
                "the campaign changed while it was being updated; try again".into(),
            )),
            Err(err) => Err(err.into()),
        },
    }
}
