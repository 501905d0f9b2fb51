//! Signing people in through the OpenID provider their account uses (OIDC federation):
//! Alta MCP is the relying party, and issues only its own tokens. `id_token` validates
//! what a provider's token endpoint answers (OpenID Connect Core §3.1.3.7).

pub mod id_token;
