//! What the stores keep for the authorization server: registered clients, and each
//! grant's codes, refresh tokens and record (with the revocation keys that end it). Below
//! both the stores and the OAuth handlers, as `alta` is for Alta's data. A record's serde
//! shape is how it is stored (the DynamoDB store writes it through `serde_dynamo`): a
//! renamed field is a migration.

pub mod client;
pub mod grant;
pub mod ids;
