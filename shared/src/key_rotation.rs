//! Rotation of the signing-key secret, in Secrets Manager's four steps (createSecret,
//! setSecret, testSecret, finishSecret). Each rotation adds a fresh key that signs from
//! then on; a superseded key stays published until every token it signed has expired.
//! setSecret publishes the pending set's public half in the public-keys secret (what
//! discovery and revoke read), before finishSecret makes the new private set current.

use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde::Deserialize;
use thiserror::Error;

use crate::keys::{KeyError, KeySet};

/// The event Secrets Manager sends to a rotation function.
#[derive(Debug, Clone, Deserialize)]
pub struct RotationEvent {
    #[serde(rename = "SecretId")]
    pub secret_id: String,
    #[serde(rename = "ClientRequestToken")]
    pub token: String,
    #[serde(rename = "Step")]
    pub step: String,
}

#[derive(Debug, Error)]
pub enum RotationError {
    #[error("Secrets Manager call failed: {0}")]
    SecretsManager(String),
    #[error("rotation is not enabled for this secret")]
    NotEnabled,
    #[error("version {0} is not staged for rotation")]
    UnknownVersion(String),
    #[error("unknown rotation step `{0}`")]
    UnknownStep(String),
    #[error("ALTA_PUBLIC_KEYS_SECRET_ID is not set: the rotation could not publish its keys")]
    NoPublicKeysSecret,
    #[error(transparent)]
    Keys(#[from] KeyError),
}

fn sm_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    err: aws_sdk_secretsmanager::error::SdkError<E, R>,
) -> RotationError {
    RotationError::SecretsManager(DisplayErrorContext(err).to_string())
}

/// When a new key may sign and how long a superseded one stays published: both derived
/// from the settings (`Config::key_activation`, `Config::key_retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySchedule {
    pub activation: Duration,
    pub retention: Duration,
}

impl KeySchedule {
    pub fn of(config: &crate::Config) -> Self {
        Self {
            activation: config.key_activation(),
            retention: config.key_retention(),
        }
    }
}

/// The next key set after `current` (a key set, or `{"keys":[]}` for a fresh stack); its
/// new key signs once the schedule's activation has passed.
pub fn next_key_set(
    current: Option<&str>,
    now: u64,
    schedule: KeySchedule,
) -> Result<KeySet, KeyError> {
    match current.map(KeySet::from_secret_json) {
        Some(Ok(keys)) => keys.rotated(now, schedule.activation, schedule.retention),
        // A fresh stack's secret holds no key yet: the first rotation makes one.
        None | Some(Err(KeyError::Empty)) => KeySet::generate(now),
        Some(Err(err)) => Err(err),
    }
}

async fn describe(
    client: &Client,
    event: &RotationEvent,
) -> Result<aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput, RotationError>
{
    client
        .describe_secret()
        .secret_id(&event.secret_id)
        .send()
        .await
        .map_err(sm_error)
}

/// Where a rotation writes: the public-keys secret, and when the new key may sign.
#[derive(Debug, Clone)]
pub struct RotationTarget {
    pub public_keys_secret_id: String,
    pub schedule: KeySchedule,
}

impl RotationTarget {
    /// A rotation function without the public-keys secret fails its cold start: it
    /// could never publish the keys it makes.
    pub fn from_config(config: &crate::Config) -> Result<Self, RotationError> {
        match &config.public_keys {
            crate::config::KeySecret::SecretsManager { secret_id } => Ok(Self {
                public_keys_secret_id: secret_id.clone(),
                schedule: KeySchedule::of(config),
            }),
            _ => Err(RotationError::NoPublicKeysSecret),
        }
    }
}

pub async fn rotate(
    client: &Client,
    event: &RotationEvent,
    now: u64,
    target: &RotationTarget,
) -> Result<(), RotationError> {
    let described = describe(client, event).await?;
    if described.rotation_enabled() != Some(true) {
        return Err(RotationError::NotEnabled);
    }
    let stages = described
        .version_ids_to_stages()
        .and_then(|v| v.get(&event.token));
    let Some(stages) = stages else {
        return Err(RotationError::UnknownVersion(event.token.clone()));
    };
    if stages.iter().any(|s| s == "AWSCURRENT") {
        tracing::info!(step = %event.step, "version already current: nothing to do");
        return Ok(());
    }
    if !stages.iter().any(|s| s == "AWSPENDING") {
        return Err(RotationError::UnknownVersion(event.token.clone()));
    }
    run_step(client, event, now, target).await
}

/// One rotation step, once `rotate` has checked that the version is staged for it.
pub async fn run_step(
    client: &Client,
    event: &RotationEvent,
    now: u64,
    target: &RotationTarget,
) -> Result<(), RotationError> {
    match event.step.as_str() {
        "createSecret" => create(client, event, now, target.schedule).await,
        "setSecret" => publish(client, event, &target.public_keys_secret_id).await,
        "testSecret" => {
            let pending = pending_value(client, event).await?.unwrap_or_default();
            KeySet::from_secret_json(&pending)?;
            Ok(())
        }
        "finishSecret" => finish(client, event).await,
        other => Err(RotationError::UnknownStep(other.to_owned())),
    }
}

async fn pending_value(
    client: &Client,
    event: &RotationEvent,
) -> Result<Option<String>, RotationError> {
    match client
        .get_secret_value()
        .secret_id(&event.secret_id)
        .version_id(&event.token)
        .version_stage("AWSPENDING")
        .send()
        .await
    {
        Ok(out) => Ok(out.secret_string().map(str::to_owned)),
        Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(err) => Err(sm_error(err)),
    }
}

async fn create(
    client: &Client,
    event: &RotationEvent,
    now: u64,
    schedule: KeySchedule,
) -> Result<(), RotationError> {
    // A retried createSecret finds its pending version already written.
    if pending_value(client, event).await?.is_some() {
        return Ok(());
    }
    let current = client
        .get_secret_value()
        .secret_id(&event.secret_id)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .map_err(sm_error)?;
    let next = next_key_set(current.secret_string(), now, schedule)?;
    client
        .put_secret_value()
        .secret_id(&event.secret_id)
        .client_request_token(&event.token)
        .secret_string(next.to_secret_json())
        .version_stages("AWSPENDING")
        .send()
        .await
        .map_err(sm_error)?;
    tracing::info!(kid = %next.newest_key().kid(), keys = next.keys().len(), signs_after_seconds = schedule.activation.as_secs(), "new signing key staged");
    Ok(())
}

/// The pending set's public keys, written where discovery and revoke read them: the new
/// key is published before it can sign (it signs only after the activation delay, and
/// only once finishSecret has made it current), and the retired ones leave with it.
async fn publish(
    client: &Client,
    event: &RotationEvent,
    public_keys_secret_id: &str,
) -> Result<(), RotationError> {
    let pending = pending_value(client, event)
        .await?
        .ok_or_else(|| RotationError::UnknownVersion(event.token.clone()))?;
    let public = KeySet::from_secret_json(&pending)?.public();
    client
        .put_secret_value()
        .secret_id(public_keys_secret_id)
        .secret_string(public.to_secret_json())
        .send()
        .await
        .map_err(sm_error)?;
    tracing::info!(keys = public.jwks().keys.len(), "public keys published");
    Ok(())
}

async fn finish(client: &Client, event: &RotationEvent) -> Result<(), RotationError> {
    let described = describe(client, event).await?;
    let current = described
        .version_ids_to_stages()
        .into_iter()
        .flatten()
        .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
        .map(|(id, _)| id.clone());
    let mut update = client
        .update_secret_version_stage()
        .secret_id(&event.secret_id)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&event.token);
    if let Some(current) = current {
        update = update.remove_from_version_id(current);
    }
    update.send().await.map_err(sm_error)?;
    // A finished rotation leaves AWSPENDING on no version, so that the next RotateSecret
    // does not take this one for still in progress.
    client
        .update_secret_version_stage()
        .secret_id(&event.secret_id)
        .version_stage("AWSPENDING")
        .remove_from_version_id(&event.token)
        .send()
        .await
        .map_err(sm_error)?;
    tracing::info!("new signing key is current");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::{CLOCK_LEEWAY_SECONDS, TokenLifetimes, declared};

    const DAY: u64 = 24 * 3600;

    #[test]
    fn a_fresh_stack_gets_its_first_key() {
        let keys = next_key_set(Some(r#"{"keys":[]}"#), 100, SCHEDULE).unwrap();
        assert_eq!(keys.keys().len(), 1);
        assert_eq!(
            keys.signing_key(100, ACTIVATION).kid(),
            keys.newest_key().kid(),
            "it signs at once"
        );
        assert_eq!(next_key_set(None, 100, SCHEDULE).unwrap().keys().len(), 1);
    }

    #[test]
    fn rotation_adds_a_key_that_signs_after_its_activation_and_keeps_the_previous_one() {
        let first = KeySet::generate(100).unwrap();
        let first_kid = first.newest_key().kid().to_owned();
        let next = next_key_set(Some(&first.to_secret_json()), 200, SCHEDULE).unwrap();
        assert_ne!(next.newest_key().kid(), first_kid);
        assert_eq!(next.keys()[1].kid(), first_kid);
        assert_eq!(next.signing_key(200, ACTIVATION).kid(), first_kid);
        assert_eq!(
            next.signing_key(1400, ACTIVATION).kid(),
            next.newest_key().kid()
        );
    }

    const ACTIVATION: Duration = Duration::from_secs(1200);
    const SCHEDULE: KeySchedule = KeySchedule {
        activation: ACTIVATION,
        retention: Duration::from_secs(3960),
    };

    #[test]
    fn a_corrupt_secret_is_not_overwritten() {
        assert!(next_key_set(Some("not json"), 100, SCHEDULE).is_err());
    }

    #[test]
    fn event_parses_from_secrets_manager_json() {
        let event: RotationEvent = serde_json::from_str(
            r#"{"SecretId":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:alta-keys","ClientRequestToken":"t-1","Step":"createSecret"}"#,
        )
        .unwrap();
        assert_eq!(event.step, "createSecret");
    }

    /// For every allowed key cache and access-token lifetime: the last token a superseded
    /// key can sign (just before containers re-read the secret) still verifies when a
    /// rotation happens the moment before it expires.
    #[test]
    fn key_retention_outlives_every_token_a_superseded_key_signs() {
        let cache_bounds = declared("ALTA_SIGNING_KEY_CACHE_SECONDS")
            .unwrap()
            .bounds
            .unwrap();
        let access_bounds = declared("ALTA_ACCESS_TOKEN_SECONDS")
            .unwrap()
            .bounds
            .unwrap();
        for cache in [cache_bounds.0, 300, cache_bounds.1] {
            for access in [access_bounds.0, 3600, access_bounds.1] {
                let lifetimes = TokenLifetimes {
                    access,
                    refresh_idle: DAY,
                    family: DAY,
                };
                let (cache, jwks) = (Duration::from_secs(cache), Duration::from_secs(600));
                let activation = cache * 2 + jwks;
                let retention = lifetimes.key_retention(cache);
                let first = KeySet::generate(0).unwrap();
                let old = first.newest_key().kid().to_owned();
                let second = first.rotated(1_000, activation, retention).unwrap();
                // The new key activates; a container that has not re-read the secret
                // signs with the old one until `cache` later; that token lives `access`.
                let last_signed = 1_000 + activation.as_secs() + cache.as_secs();
                let expires = last_signed + access + CLOCK_LEEWAY_SECONDS;
                let third = second.rotated(expires - 1, activation, retention).unwrap();
                assert!(
                    third.verification_keys().get(&old).is_some(),
                    "cache {cache:?}, access {access}"
                );
            }
        }
    }
}
