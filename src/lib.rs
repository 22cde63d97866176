//! failforward: a self-hosted tool with which teams practise intelligent failure.
//!
//! See ARCHITECTURE.md for the map. In short: `domain` holds the rules (no IO), `service` the use
//! cases, `store` the SQL for SQLite and PostgreSQL, `http` the web pages and the JSON API, and
//! `cli` the command line. The three front doors call `service`; only `service` calls `store`.

pub mod app;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod http;
pub mod oidc;
pub mod private_files;
pub mod service;
pub mod store;
pub mod telemetry;
