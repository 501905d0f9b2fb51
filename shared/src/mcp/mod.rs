//! `/mcp`: the MCP endpoint. `transport` speaks HTTP and the protocol versions, `auth`
//! checks the bearer token, `protocol` holds the JSON-RPC shapes, `tools` the Alta tools.

pub mod auth;
pub mod protocol;
pub mod tools;
pub mod transport;

pub use transport::handle;
