//! Integration tests: the real app over HTTP and the real binary, on SQLite and PostgreSQL.

mod helpers;

mod anonymity;
mod browser;
mod cli;
mod culture;
mod experiments;
mod export;
mod foundation;
mod hardening;
mod isolation;
mod lint;
mod loops;
mod review;
mod search;
mod store;
