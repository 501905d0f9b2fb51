//! Signing people in through the OpenID provider their account uses (OIDC federation):
//! Alta MCP is the relying party, and issues only its own tokens. `provider` holds the
//! records, `registry` what a container knows of them (records and client secrets),
//! `upstream` the discovery, authorization URL and code exchange, `id_token` the
//! validation of what a provider's token endpoint answers (OpenID Connect Core §3.1.3.7),
//! and `link` who that is at Alta.

pub mod id_token;
pub mod link;
pub mod provider;
pub mod registry;
pub mod upstream;
