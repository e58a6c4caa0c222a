//! The migrations are compiled into the binaries (`embed_migrations!` in `src/db/mod.rs`):
//! a new or changed migration must rebuild this crate, which Cargo cannot see by itself.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
