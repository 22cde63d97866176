//! `sqlx::migrate!` reads `migrations/` while compiling, and Cargo does not know it: without
//! this, a new migration file left the binary and the tests running the old list.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
