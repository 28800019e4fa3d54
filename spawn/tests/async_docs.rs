//! The async API can be found: the README names the `tokio` feature with
//! an async example, and docs.rs builds every feature (labelling the
//! async items with it). Before, the README never named the feature and
//! the docs built as it said had no async API.

const README: &str = include_str!("../../README.md");
const MANIFEST: &str = include_str!("../Cargo.toml");

#[test]
fn the_readme_names_the_tokio_feature_with_an_example() {
    assert!(
        README.contains(r#"features = ["tokio"]"#),
        "README: no `tokio` feature"
    );
    assert!(
        README.contains(".run_async().await"),
        "README: no async example"
    );
    assert!(
        README.contains("cargo doc -p spawn --features tokio"),
        "README: its docs command leaves the async API out"
    );
}

#[test]
fn docs_rs_builds_every_feature() {
    let (_, metadata) = MANIFEST
        .split_once("[package.metadata.docs.rs]")
        .expect("spawn/Cargo.toml: no [package.metadata.docs.rs]");
    let table = metadata.split("\n[").next().unwrap_or_default();
    assert!(table.contains("all-features = true"), "{table}");
    assert!(
        table.contains(r#"rustdoc-args = ["--cfg", "docsrs"]"#),
        "{table}"
    );
}
