//! The flow tests, as one binary (linked once): a module per area, the fixtures they
//! share in `support`. Tests that need dynalite, moto or the emulated stack are ignored by
//! a bare `cargo test`; scripts/test starts those and runs them with `--include-ignored`.

#[macro_use]
mod support;

mod accounts;
mod admin_command;
mod clients;
mod deployed_stack;
mod discovery_and_registration;
mod docs;
mod enterprise;
mod events;
mod faults;
mod federation;
mod hostile_inputs;
mod layering;
mod mcp_protocol;
mod mcp_tools;
mod oauth_flow;
mod secrets_manager;
mod settings;
mod template;
