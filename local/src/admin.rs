//! `alta-admin`: creates accounts, users and memberships, loads accounts' Alta data,
//! manages identity providers and accounts' single sign-on, and lists and ends the apps
//! connected to an account, in a stack's DynamoDB tables (and its identity-provider secret
//! in Secrets Manager).
//!
//! It reads the same configuration as the functions (`ALTA_STORE=dynamodb`, table names,
//! `AWS_REGION`/profile or `ALTA_DYNAMODB_ENDPOINT`). A password is read from the
//! `ALTA_ADMIN_PASSWORD` environment variable or, if unset, from the first line of
//! standard input, never from the command line (which shell history and `ps` keep); so is
//! an identity provider's client secret (standard input only).

use std::io::BufRead;
use std::process::ExitCode;

use alta_local::cli::Flags;
use alta_shared::account_data::AccountData;
use alta_shared::clock::{Clock, SystemClock};
use alta_shared::config::StoreBackend;
use alta_shared::directory::{Account, Membership, Role, User, normalize_email};
use alta_shared::federation::provider::{DEFAULT_SCOPES, IdentityProvider};
use alta_shared::federation::registry::parse_secrets;
use alta_shared::oauth::operator::{self, Connection};
use alta_shared::password::PasswordHash;
use alta_shared::secret::SecretString;
use alta_shared::store::{DirectoryStore, StoreError};
use alta_shared::{Config, Deps, random};

const USAGE: &str = "usage:
  alta-admin create-account --name NAME [--id ACCOUNT_ID]
  alta-admin create-user --email EMAIL --name NAME [--no-password]   (password: ALTA_ADMIN_PASSWORD or stdin; --no-password: signs in only through an identity provider)
  alta-admin add-member --email EMAIL --account ACCOUNT_ID --role Owner|Admin|Manager|Member|Viewer [--inbox INBOX_ID]...
  alta-admin remove-member --email EMAIL --account ACCOUNT_ID   (the person's connected apps for that account stop working at once)
  alta-admin list-members --email EMAIL
  alta-admin load-data --account ACCOUNT_ID --file DATA.json   (inboxes, campaigns, emails; see examples/alta-data/)
  alta-admin reindex --account ACCOUNT_ID   (writes every item again with its list keys: once, after upgrading a stack from before paged lists)
  alta-admin identity-provider add --id ID --name NAME --issuer URL --client-id ID [--scopes SCOPES] [--domain DOMAIN]... [--button] [--id-jag] [--tenant TENANT_ID]
                                    (the client secret: first line of standard input; needs ALTA_IDENTITY_PROVIDER_SECRET_ID)
  alta-admin identity-provider list
  alta-admin identity-provider remove --id ID
  alta-admin set-account-sso --account ACCOUNT_ID --provider ID | --none   (connecting apps to the account then needs that sign-in; /mcp refuses other tokens at once)
  alta-admin connections --account ACCOUNT_ID [--json]   (every app connected to the account: who, which app, scopes, when, how they signed in)
  alta-admin disconnect --account ACCOUNT_ID --grant GRANT_ID   (ends that connection at once, as the person's own Disconnect does)";

/// The flags that take no value.
const SWITCHES: &[&str] = &["no-password", "button", "id-jag", "none", "json"];

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("alta-admin: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<String, String> {
    let (command, rest) = args.split_first().ok_or_else(|| USAGE.to_owned())?;
    let (command, rest) = match (command.as_str(), rest.split_first()) {
        ("identity-provider", Some((sub, rest))) => (format!("identity-provider {sub}"), rest),
        _ => (command.clone(), rest),
    };
    let flags = Flags::parse_with_switches(rest, SWITCHES, USAGE)?;
    let config = Config::from_lookup(|k| std::env::var(k).ok(), Some("http://127.0.0.1:3000"))
        .map_err(|e| e.to_string())?;
    if config.store == StoreBackend::Memory {
        return Err("set ALTA_STORE=dynamodb: the in-memory store would forget everything when this command exits".into());
    }
    let deps = Deps::from_config(config, false)
        .await
        .map_err(|e| e.to_string())?;
    let directory = deps.directory.as_ref();
    let now = SystemClock.now();
    let store_error = |e: StoreError| e.to_string();

    match command.as_str() {
        "connections" => {
            let account_id = flags.require("account")?;
            require_grant_tables()?;
            existing_account(directory, account_id).await?;
            let connections = operator::account_connections(&deps, account_id)
                .await
                .map_err(store_error)?;
            if flags.switch("json") {
                let rows: Vec<serde_json::Value> =
                    connections.iter().map(connection_json).collect();
                return serde_json::to_string_pretty(&rows).map_err(|e| e.to_string());
            }
            if connections.is_empty() {
                return Ok(format!("no apps are connected to {account_id}"));
            }
            Ok(connections_table(&connections))
        }
        "disconnect" => {
            let account_id = flags.require("account")?;
            let grant_id = flags.require("grant")?;
            require_grant_tables()?;
            existing_account(directory, account_id).await?;
            match operator::disconnect(&deps, account_id, grant_id)
                .await
                .map_err(store_error)?
            {
                Some(ended) => Ok(format!(
                    "disconnected {} ({}) of {}: its tokens stop working at their next use",
                    printable(&ended.grant.client_name),
                    ended.grant.client_id,
                    person(&ended)
                )),
                None => Err(format!(
                    "no live connection {grant_id} to {account_id} (alta-admin connections --account {account_id} lists them)"
                )),
            }
        }
        "create-account" => {
            let id = flags
                .get("id")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("acct_{}", random::token(9)));
            if directory.account(&id).await.map_err(store_error)?.is_some() {
                return Err(format!("account {id} already exists"));
            }
            let name = flags.require("name")?.to_owned();
            directory
                .put_account(&Account {
                    account_id: id.clone(),
                    name: name.clone(),
                    created_at: now,
                    required_idp: None,
                })
                .await
                .map_err(store_error)?;
            Ok(format!("created account {id} ({name})"))
        }
        "create-user" => {
            let email = normalize_email(flags.require("email")?);
            if !email.contains('@') {
                return Err(format!("`{email}` is not an email address"));
            }
            let hash = if flags.switch("no-password") {
                None
            } else {
                let password = read_password()?;
                Some(PasswordHash::create(&password).map_err(|e| format!("hashing failed: {e}"))?)
            };
            let user_id = format!("user_{}", random::token(12));
            let user = User {
                user_id: user_id.clone(),
                email: email.clone(),
                name: flags.require("name")?.to_owned(),
                password_hash: hash,
                created_at: now,
            };
            match directory.create_user(&user).await {
                Ok(()) => Ok(format!("created user {user_id} <{email}>")),
                Err(StoreError::Conflict) => {
                    Err(format!("a user with email {email} already exists"))
                }
                Err(err) => Err(err.to_string()),
            }
        }
        "add-member" => {
            let email = normalize_email(flags.require("email")?);
            let user = existing_user(directory, &email).await?;
            let account_id = flags.require("account")?.to_owned();
            directory
                .account(&account_id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| format!("no account {account_id}"))?;
            let role = Role::parse(flags.require("role")?)
                .ok_or_else(|| format!("unknown role\n{USAGE}"))?;
            let inboxes = flags.all("inbox");
            directory
                .put_membership(&Membership {
                    user_id: user.user_id.clone(),
                    account_id: account_id.clone(),
                    role,
                    inbox_grants: inboxes.clone(),
                    created_at: now,
                })
                .await
                .map_err(store_error)?;
            Ok(format!(
                "{email} is {role} of {account_id} (inboxes: {})",
                if inboxes.is_empty() {
                    "role default".into()
                } else {
                    inboxes.join(", ")
                }
            ))
        }
        "remove-member" => {
            let email = normalize_email(flags.require("email")?);
            let user = existing_user(directory, &email).await?;
            let account_id = flags.require("account")?;
            directory
                .remove_membership(&user.user_id, account_id)
                .await
                .map_err(store_error)?;
            Ok(format!("{email} is no longer a member of {account_id}"))
        }
        "list-members" => {
            let email = normalize_email(flags.require("email")?);
            let user = existing_user(directory, &email).await?;
            let memberships = directory
                .memberships(&user.user_id)
                .await
                .map_err(store_error)?;
            let lines: Vec<String> = memberships
                .iter()
                .map(|m| {
                    format!(
                        "{} {} inboxes=[{}]",
                        m.account_id,
                        m.role,
                        m.inbox_grants.join(",")
                    )
                })
                .collect();
            Ok(format!(
                "{} <{}>\n{}",
                user.user_id,
                user.email,
                lines.join("\n")
            ))
        }
        "reindex" => {
            let account_id = flags.require("account")?;
            let alta = deps.alta.as_ref();
            let (inboxes, campaigns, emails) = (
                alta.inboxes(account_id).await.map_err(store_error)?,
                alta.campaigns(account_id).await.map_err(store_error)?,
                alta.emails(account_id).await.map_err(store_error)?,
            );
            for inbox in &inboxes {
                alta.put_inbox(inbox).await.map_err(store_error)?;
            }
            for campaign in &campaigns {
                alta.put_campaign(campaign).await.map_err(store_error)?;
            }
            for email in &emails {
                alta.put_email(email).await.map_err(store_error)?;
            }
            Ok(format!(
                "reindexed {} inboxes, {} campaigns and {} emails of {account_id}",
                inboxes.len(),
                campaigns.len(),
                emails.len()
            ))
        }
        "load-data" => {
            let account_id = flags.require("account")?;
            directory
                .account(account_id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| format!("no account {account_id}"))?;
            let file = flags.require("file")?;
            let document =
                std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?;
            let loaded = AccountData::parse(&document)
                .map_err(|e| format!("{file}: {e}"))?
                .load(deps.alta.as_ref(), account_id)
                .await
                .map_err(|e| format!("{file}: {e}"))?;
            Ok(format!(
                "loaded {} inboxes, {} campaigns and {} emails into {account_id}",
                loaded.inboxes, loaded.campaigns, loaded.emails
            ))
        }
        "identity-provider add" => {
            let mut provider = IdentityProvider {
                id: flags.require("id")?.to_owned(),
                display_name: flags.require("name")?.to_owned(),
                issuer: flags.require("issuer")?.to_owned(),
                client_id: flags.require("client-id")?.to_owned(),
                scopes: flags.get_or("scopes", DEFAULT_SCOPES).to_owned(),
                domains: flags.all("domain"),
                button: flags.switch("button"),
                id_jag: flags.switch("id-jag"),
                tenant: flags.get("tenant").map(str::to_owned),
            };
            provider.validate(
                std::env::var("ALTA_BASE_URL")
                    .ok()
                    .and_then(|b| alta_shared::config::BaseUrl::parse(&b).ok())
                    .as_ref(),
            )?;
            // An ID-JAG names only its issuer: two providers trusted for one issuer's
            // ID-JAGs would leave which one's domains and account apply to chance.
            if provider.id_jag
                && let Some(other) = deps
                    .identities
                    .identity_providers()
                    .await
                    .map_err(store_error)?
                    .iter()
                    .find(|p| p.id != provider.id && p.id_jag && p.issuer == provider.issuer)
            {
                return Err(format!(
                    "identity provider {} already takes ID-JAGs from {}: only one provider per issuer may",
                    other.id, provider.issuer
                ));
            }
            let secret = read_line("the client secret")?;
            if secret.secret().is_empty() {
                return Err("the client secret (standard input) is empty".into());
            }
            update_provider_secrets(&deps.config, |secrets| {
                secrets.insert(provider.id.clone(), secret.secret().to_owned());
            })
            .await?;
            deps.identities
                .put_identity_provider(&provider)
                .await
                .map_err(store_error)?;
            Ok(format!(
                "identity provider {} ({}) at {}{}",
                provider.id,
                provider.display_name,
                provider.issuer,
                describe_provider(&provider)
            ))
        }
        "identity-provider list" => {
            let providers = deps
                .identities
                .identity_providers()
                .await
                .map_err(store_error)?;
            if providers.is_empty() {
                return Ok("no identity providers".into());
            }
            Ok(providers
                .iter()
                .map(|p| {
                    format!(
                        "{} ({}) issuer={} client_id={} scopes=\"{}\"{}",
                        p.id,
                        p.display_name,
                        p.issuer,
                        p.client_id,
                        p.scopes,
                        describe_provider(p)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
        "identity-provider remove" => {
            let id = flags.require("id")?.to_owned();
            deps.identities
                .remove_identity_provider(&id)
                .await
                .map_err(store_error)?;
            update_provider_secrets(&deps.config, |secrets| {
                secrets.remove(&id);
            })
            .await?;
            Ok(format!(
                "identity provider {id} removed: nobody signs in through it any more (accounts that required it still do: see set-account-sso)"
            ))
        }
        "set-account-sso" => {
            let account_id = flags.require("account")?;
            let mut account = existing_account(directory, account_id).await?;
            account.required_idp = match (flags.get("provider"), flags.switch("none")) {
                (Some(id), false) => {
                    let known = deps
                        .identities
                        .identity_providers()
                        .await
                        .map_err(store_error)?;
                    if !known.iter().any(|p| p.id == id) {
                        return Err(format!(
                            "no identity provider {id} (identity-provider list)"
                        ));
                    }
                    Some(id.to_owned())
                }
                (None, true) => None,
                _ => return Err(format!("give --provider ID or --none\n{USAGE}")),
            };
            directory.put_account(&account).await.map_err(store_error)?;
            Ok(match &account.required_idp {
                Some(id) => format!(
                    "{account_id}: connecting apps now needs signing in through {id}; tokens of other sign-ins are refused at their next tool call"
                ),
                None => format!("{account_id}: any way of signing in"),
            })
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    }
}

async fn existing_user(directory: &dyn DirectoryStore, email: &str) -> Result<User, String> {
    directory
        .user_by_email(email)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user with email {email}"))
}

async fn existing_account(
    directory: &dyn DirectoryStore,
    account_id: &str,
) -> Result<Account, String> {
    directory
        .account(account_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account {account_id}"))
}

/// The connections live in the refresh-tokens table and end in the revocations table: a
/// default name there would read (or write) a table of another stack or none. A table
/// prefix (local stores) names them all.
fn require_grant_tables() -> Result<(), String> {
    if std::env::var_os("ALTA_TABLE_PREFIX").is_some() {
        return Ok(());
    }
    for (variable, output) in [
        ("ALTA_REFRESH_TOKENS_TABLE", "RefreshTokensTableName"),
        ("ALTA_REVOCATIONS_TABLE", "RevocationsTableName"),
    ] {
        if std::env::var_os(variable).is_none() {
            return Err(format!(
                "set {variable} to the stack's {output} output (docs/operations.md, Connected apps per account)"
            ));
        }
    }
    Ok(())
}

/// What an app chose to call itself, safe on a terminal: control characters (escape
/// sequences among them) become spaces.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Whose a connection is: their email, or their user id if their user record is gone.
fn person(c: &Connection) -> String {
    c.member
        .email
        .clone()
        .unwrap_or_else(|| c.member.membership.user_id.clone())
}

/// `2026-12-03 17:05 UTC`
fn utc(unix_seconds: u64) -> String {
    let (year, month, day) = alta_shared::clock::civil_date(unix_seconds);
    let minutes = unix_seconds % 86_400 / 60;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

/// How the person signed in, and who made the grant if not the person.
fn signed_in_with(c: &Connection) -> String {
    match &c.grant.managed_by {
        Some(provider) => format!("{} (managed by {provider})", c.grant.idp),
        None => c.grant.idp.clone(),
    }
}

fn connection_json(c: &Connection) -> serde_json::Value {
    let g = &c.grant;
    serde_json::json!({
        "grant_id": g.grant_id.as_str(),
        "user_id": g.user_id.as_str(),
        "email": c.member.email,
        "role": c.member.membership.role.as_str(),
        "app": g.client_name,
        "client_id": g.client_id.as_str(),
        "redirect_host": g.redirect_host,
        "scopes": g.scope.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "connected_at": g.created_at,
        "last_used_at": g.last_used_at,
        "expires_at": g.expires_at,
        "signed_in_with": g.idp,
        "managed_by": g.managed_by,
    })
}

/// The connections as a table for people, columns aligned.
fn connections_table(connections: &[Connection]) -> String {
    let header = [
        "PERSON",
        "APP",
        "CLIENT ID",
        "REDIRECT",
        "SCOPES",
        "CONNECTED",
        "LAST USED",
        "SIGNED IN WITH",
        "GRANT",
    ];
    let rows: Vec<[String; 9]> = connections
        .iter()
        .map(|c| {
            [
                person(c),
                printable(&c.grant.client_name),
                printable(c.grant.client_id.as_str()),
                if c.grant.redirect_host.is_empty() {
                    "-".to_owned()
                } else {
                    printable(&c.grant.redirect_host)
                },
                c.grant.scope.to_string(),
                utc(c.grant.created_at),
                utc(c.grant.last_used_at),
                signed_in_with(c),
                c.grant.grant_id.to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    std::iter::once(line(header.to_vec()))
        .chain(
            rows.iter()
                .map(|r| line(r.iter().map(String::as_str).collect())),
        )
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe_provider(p: &IdentityProvider) -> String {
    let mut parts = Vec::new();
    if !p.domains.is_empty() {
        parts.push(format!("domains={}", p.domains.join(",")));
    }
    if p.button {
        parts.push("button".to_owned());
    }
    if p.id_jag {
        parts.push("id-jag".to_owned());
    }
    if let Some(tenant) = &p.tenant {
        parts.push(format!("tenant={tenant}"));
    }
    parts.iter().map(|p| format!(" {p}")).collect()
}

/// Reads the identity-provider secret, changes it, and writes it back.
async fn update_provider_secrets(
    config: &Config,
    change: impl FnOnce(&mut std::collections::BTreeMap<String, String>),
) -> Result<(), String> {
    let secret_id = config.identity_provider_secret_id.as_deref().ok_or(
        "set ALTA_IDENTITY_PROVIDER_SECRET_ID to the stack's IdentityProviderSecretArn output",
    )?;
    let endpoint = config.secretsmanager_endpoint.as_deref();
    let sdk = alta_shared::aws::sdk_config(endpoint.is_some()).await;
    let sm = alta_shared::aws::secretsmanager_client(&sdk, endpoint);
    let sm_error = |e: String| format!("Secrets Manager: {e}");
    let current = sm
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| sm_error(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string()))?;
    let mut secrets: std::collections::BTreeMap<String, String> =
        parse_secrets(current.secret_string().unwrap_or("{}"))
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(id, secret)| (id, secret.secret().to_owned()))
            .collect();
    change(&mut secrets);
    let json = serde_json::to_string(&secrets).map_err(|e| e.to_string())?;
    sm.put_secret_value()
        .secret_id(secret_id)
        .secret_string(json)
        .send()
        .await
        .map_err(|e| sm_error(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string()))?;
    Ok(())
}

/// The first line of standard input.
fn read_line(what: &str) -> Result<SecretString, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading {what} from standard input: {e}"))?;
    Ok(SecretString::new(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

fn read_password() -> Result<SecretString, String> {
    let password = match std::env::var("ALTA_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => read_line("the password")?.secret().to_owned(),
    };
    if password.chars().count() < 8 {
        return Err("the password must be at least 8 characters".into());
    }
    Ok(SecretString::new(password))
}
