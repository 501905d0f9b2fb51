//! `alta-admin`: creates accounts, users and memberships, and loads accounts' Alta data,
//! in a stack's DynamoDB tables.
//!
//! It reads the same configuration as the functions (`ALTA_STORE=dynamodb`, table names,
//! `AWS_REGION`/profile or `ALTA_DYNAMODB_ENDPOINT`). A password is read from the
//! `ALTA_ADMIN_PASSWORD` environment variable or, if unset, from the first line of
//! standard input, never from the command line (which shell history and `ps` keep).

use std::io::BufRead;
use std::process::ExitCode;

use alta_local::cli::Flags;
use alta_shared::account_data::AccountData;
use alta_shared::clock::{Clock, SystemClock};
use alta_shared::config::StoreBackend;
use alta_shared::directory::{Account, Membership, Role, User, normalize_email};
use alta_shared::password::PasswordHash;
use alta_shared::secret::SecretString;
use alta_shared::store::{DirectoryStore, StoreError};
use alta_shared::{Config, Deps, random};

const USAGE: &str = "usage:
  alta-admin create-account --name NAME [--id ACCOUNT_ID]
  alta-admin create-user --email EMAIL --name NAME        (password: ALTA_ADMIN_PASSWORD or stdin)
  alta-admin add-member --email EMAIL --account ACCOUNT_ID --role Owner|Admin|Manager|Member|Viewer [--inbox INBOX_ID]...
  alta-admin remove-member --email EMAIL --account ACCOUNT_ID   (the person's connected apps for that account stop working at once)
  alta-admin list-members --email EMAIL
  alta-admin load-data --account ACCOUNT_ID --file DATA.json   (inboxes, campaigns, emails; see examples/alta-data/)
  alta-admin reindex --account ACCOUNT_ID   (writes every item again with its list keys: once, after upgrading a stack from before paged lists)";

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
    let flags = Flags::parse(rest, USAGE)?;
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
            let password = read_password()?;
            let hash =
                PasswordHash::create(&password).map_err(|e| format!("hashing failed: {e}"))?;
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

fn read_password() -> Result<SecretString, String> {
    let password = match std::env::var("ALTA_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.chars().count() < 8 {
        return Err("the password must be at least 8 characters".into());
    }
    Ok(SecretString::new(password))
}
