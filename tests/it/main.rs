//! Integration tests: the real app over HTTP and the real binary, on SQLite and PostgreSQL.

mod helpers;

mod alerts;
mod anonymity;
mod anonymity_adversary;
mod anonymity_logs;
mod anonymity_pages;
mod architecture;
mod browser;
mod browser_axe;
mod browser_board;
mod browser_csp;
mod cli;
mod clock;
mod contract;
mod culture;
mod events;
mod experiments;
mod export;
mod figures;
mod foundation;
mod fuzzed_imports;
mod hardening;
mod held;
mod imports;
mod integrations;
mod isolation;
mod lint;
mod loops;
mod recurrence;
mod review;
mod review_board;
mod search;
mod store;
mod webhooks;
mod work;
