//! `cargo xtask bench`'s async section: spawn's async driver against
//! `tokio::process` and `async-process` (spawn/benches/async_peers.rs, with
//! the `tokio` feature), its tables appended to BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Runs the async peers benchmark (`--smoke`: once, at small sizes) and
/// appends its tables to `doc`.
pub fn run(root: &Path, smoke: bool, doc: &mut String) -> Result<(), String> {
    let mut args = vec![
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
    if smoke {
        args.push("--smoke");
    }
    println!("==> bench: cargo {}", args.join(" "));
    let t = Instant::now();
    let out = Command::new("cargo")
        .args(&args)
        .current_dir(root)
        .output()
        .map_err(|e| format!("step `bench`: cannot run cargo: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "step `bench`: spawn/async_peers failed ({})\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    println!(
        "    spawn/async_peers: ok ({:.1}s)",
        t.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        doc,
        "\n# Async: spawn on tokio against tokio::process and async-process\n\nCommand: `cargo bench -p spawn --features tokio --bench async_peers`\n"
    );
    doc.push_str(&text);
    Ok(())
}
