//! What the stores keep for the authorization server: registered clients, and each
//! grant's codes, refresh tokens and record (with the revocation keys that end it). Below
//! both the stores and the OAuth handlers, as `alta` is for Alta's data.

pub mod client;
pub mod grant;
pub mod ids;
