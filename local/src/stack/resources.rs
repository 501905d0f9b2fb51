//! The template's resources created on the emulated services, as CloudFormation creates
//! them: generated physical names, tables, secrets, and the rotation a schedule starts.

use alta_shared::random;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::types::RotationRulesType;
use serde_json::Value;

use super::template::{Resolver, RotationSpec};
use super::{StackError, StackOptions, deploy_error};

/// Physical names as CloudFormation makes them: `<stack>-<LogicalId>-<SUFFIX>`.
pub fn physical_name(stack: &str, logical_id: &str) -> String {
    format!("{stack}-{logical_id}-{}", random_id(12).to_uppercase())
}

pub fn random_id(len: usize) -> String {
    random::token(len * 2)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(len)
        .collect()
}

/// The emulated DynamoDB and Secrets Manager, in the stack's region whatever the caller's
/// environment says: the functions run there, and Secrets Manager keeps secrets per region.
pub struct Services {
    dynamodb: aws_sdk_dynamodb::Client,
    secrets: aws_sdk_secretsmanager::Client,
}

impl Services {
    pub async fn connect(options: &StackOptions) -> Self {
        let sdk = alta_shared::aws::sdk_config(true).await;
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .region(aws_sdk_dynamodb::config::Region::new(
                    options.region.clone(),
                ))
                .endpoint_url(&options.dynamodb_endpoint)
                .build(),
        );
        // RotateSecret returns only when all four rotation steps have run: no budget.
        let secrets = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&sdk)
                .timeout_config(aws_sdk_secretsmanager::config::timeout::TimeoutConfig::disabled())
                .region(aws_sdk_secretsmanager::config::Region::new(
                    options.region.clone(),
                ))
                .endpoint_url(&options.secretsmanager_endpoint)
                .build(),
        );
        Self { dynamodb, secrets }
    }

    /// `CreateSecret` as CloudFormation names it (`<LogicalId>-<suffix>`), with its
    /// `SecretString` or, as CloudFormation does for `GenerateSecretString`, a random one of
    /// `PasswordLength` letters and digits (the only options the template uses); its ARN.
    pub async fn create_secret(&self, id: &str, properties: &Value) -> Result<String, StackError> {
        let generate = &properties["GenerateSecretString"];
        let value = match properties["SecretString"].as_str() {
            Some(value) => Some(value.to_owned()),
            None if generate.is_object() => {
                let length = generate["PasswordLength"].as_u64().unwrap_or(32) as usize;
                Some(
                    std::iter::repeat_with(|| random_id(16))
                        .flat_map(|s| s.chars().collect::<Vec<_>>())
                        .take(length)
                        .collect(),
                )
            }
            None => None,
        };
        let created = self
            .secrets
            .create_secret()
            .name(format!("{id}-{}", random_id(12)))
            .set_description(properties["Description"].as_str().map(str::to_owned))
            .set_secret_string(value)
            .send()
            .await
            .map_err(|e| deploy_error(&format!("creating secret {id}"), DisplayErrorContext(e)))?;
        Ok(created.arn().unwrap_or_default().to_owned())
    }

    pub async fn create_table(
        &self,
        id: &str,
        name: &str,
        properties: &Value,
    ) -> Result<(), StackError> {
        create_table(&self.dynamodb, name, properties)
            .await
            .map_err(|e| deploy_error(&format!("creating table {id}"), e))
    }

    pub async fn rotate_secret(
        &self,
        resolver: &Resolver,
        rotation: &RotationSpec,
    ) -> Result<(), StackError> {
        rotate_secret(&self.secrets, resolver, rotation).await
    }
}

/// `CreateTable` from the resource's properties (TTL, point-in-time recovery and
/// encryption have no effect on a local implementation and are left out).
async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    properties: &Value,
) -> Result<(), String> {
    let text = |v: &Value, field: &str| {
        v[field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{field} is missing"))
    };
    let key_schema = |v: &Value| -> Result<Vec<KeySchemaElement>, String> {
        v.as_array()
            .ok_or("KeySchema is missing")?
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(text(k, "AttributeName")?)
                    .key_type(KeyType::from(text(k, "KeyType")?.as_str()))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect()
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&properties["KeySchema"])?));
    for attribute in properties["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(attribute, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(
                    text(attribute, "AttributeType")?.as_str(),
                ))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    for index in properties["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let projection = &index["Projection"];
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(index, "IndexName")?)
                .set_key_schema(Some(key_schema(&index["KeySchema"])?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            projection["ProjectionType"].as_str().unwrap_or("ALL"),
                        ))
                        .set_non_key_attributes(projection["NonKeyAttributes"].as_array().map(
                            |a| {
                                a.iter()
                                    .filter_map(|v| v.as_str().map(str::to_owned))
                                    .collect()
                            },
                        ))
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    request
        .send()
        .await
        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
    Ok(())
}

/// What Secrets Manager does for a rotation schedule with `RotateImmediatelyOnUpdate`:
/// `RotateSecret`, which stages a new version and invokes the rotation function with
/// createSecret, setSecret, testSecret and finishSecret. The Secrets Manager emulator
/// (`scripts/moto-server`) invokes it through this stack's Invoke API.
async fn rotate_secret(
    client: &aws_sdk_secretsmanager::Client,
    resolver: &Resolver,
    rotation: &RotationSpec,
) -> Result<(), StackError> {
    let secret_arn = resolver
        .arn(&rotation.secret)
        .unwrap_or_default()
        .to_owned();
    let function_arn = resolver
        .arn(&rotation.function)
        .unwrap_or_default()
        .to_owned();
    // moto enables rotation only for a number of days; `rate(N days)` is the same rule.
    let days = rotation
        .schedule
        .as_deref()
        .and_then(|s| s.strip_prefix("rate("))
        .and_then(|s| s.strip_suffix(" days)").or_else(|| s.strip_suffix(" day)")))
        .and_then(|n| n.trim().parse::<i64>().ok())
        .unwrap_or(30);
    let token = format!(
        "{}-{}-{}-{}-{}",
        random_id(8),
        random_id(4),
        random_id(4),
        random_id(4),
        random_id(12)
    );
    client
        .rotate_secret()
        .secret_id(&secret_arn)
        .client_request_token(&token)
        .rotation_lambda_arn(&function_arn)
        .rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(days)
                .build(),
        )
        .rotate_immediately(true)
        .send()
        .await
        .map_err(|e| {
            deploy_error(
                &format!(
                    "rotating {} (is Secrets Manager scripts/moto-server, which invokes rotation functions?)",
                    rotation.secret
                ),
                DisplayErrorContext(e),
            )
        })?;
    let described = client
        .describe_secret()
        .secret_id(&secret_arn)
        .send()
        .await
        .map_err(|e| deploy_error("describing the rotated secret", DisplayErrorContext(e)))?;
    let current = described
        .version_ids_to_stages()
        .and_then(|v| v.get(&token))
        .is_some_and(|stages| stages.iter().any(|s| s == "AWSCURRENT"));
    if !current {
        return Err(StackError::Deploy(format!(
            "the rotation of {} did not finish: see the {} function's log",
            rotation.secret, rotation.function
        )));
    }
    Ok(())
}
