//! `cargo xtask bench`'s async section: spawn's async driver against
//! `tokio::process` and `async-process` (spawn/benches/async_peers.rs, with
//! the `tokio` feature), its tables appended to BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::Path;

/// Runs the async peers benchmark (`--smoke`: once, at small sizes) and
/// appends its tables to `doc`.
pub fn run(root: &Path, smoke: bool, doc: &mut String) -> Result<(), String> {
    let args = [
        "bench",
        "--quiet",
        "--package",
        "spawn",
        "--features",
        "tokio",
        "--bench",
        "async_peers",
        "--",
    ];
    let text = crate::bench::cargo_bench(root, &args, smoke, "spawn/async_peers")?;
    let _ = writeln!(
        doc,
        "\n# Async: spawn on tokio against tokio::process and async-process\n\nCommand: `cargo bench -p spawn --features tokio --bench async_peers`\n"
    );
    doc.push_str(&text);
    Ok(())
}
