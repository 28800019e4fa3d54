//! `cargo xtask bench`'s async section: spawn's async driver against
//! `tokio::process` and `async-process` (spawn/benches/async_peers.rs, with
//! the `tokio` feature), its tables appended to BENCHMARKS.md: A1 to A4
//! with a fresh process per measurement, A5 the same runs repeated in one
//! process (and the many-children run both ways, at 300 children), with
//! issue 28's targets.

use std::fmt::Write as _;
use std::path::Path;

/// Runs the async peers benchmark (`--smoke`: once, at small sizes) and
/// appends its tables to `doc`.
pub fn run(root: &Path, smoke: bool, doc: &mut String) -> Result<(), String> {
    let text = crate::bench::cargo_bench(root, "spawn", Some("tokio"), "async_peers", smoke)?;
    let _ = writeln!(
        doc,
        "\n# Async: spawn on tokio against tokio::process and async-process\n\nCommand: `cargo bench -p spawn --features tokio --bench async_peers`\n"
    );
    doc.push_str(&text);
    Ok(())
}
