//! Compile-time diagnostics of `#[derive(PersistedModel)]`. Bless with `TRYBUILD=overwrite`.
//! Pinned to one toolchain: rustc's wording changes between releases.

#[rustversion::attr(not(stable(1.95)), ignore = "diagnostics are pinned to Rust 1.95")]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
