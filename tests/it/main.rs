//! Integration tests: the real app over HTTP and the real binary, on SQLite and PostgreSQL.

mod helpers;

mod anonymity;
mod anonymity_adversary;
mod anonymity_logs;
mod anonymity_pages;
mod browser;
mod browser_csp;
mod cli;
mod contract;
mod culture;
mod experiments;
mod export;
mod foundation;
mod fuzzed_imports;
mod hardening;
mod held;
mod imports;
mod isolation;
mod lint;
mod loops;
mod review;
mod search;
mod store;
