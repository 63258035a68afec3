//! Replays the inputs `cargo fuzz` found (tests/fixtures/fuzz-regressions/<target>/*) through
//! the same entry points the fuzz targets call (`mobilenetv3_wasm::fuzz_entry`): each must
//! return (an error or a checked, usable result), never panic.

use mobilenetv3_wasm::fuzz_entry;
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-regressions").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten().map(|e| e.path()).collect();
    files.sort();
    assert!(!files.is_empty(), "no regression inputs in {}", dir.display());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            panic!("{} panicked", f.display());
        }
    }
}

#[test]
fn safetensors() {
    replay("safetensors", fuzz_entry::safetensors);
}

#[test]
fn config() {
    replay("config", fuzz_entry::config);
}

#[test]
fn block_string() {
    replay("block_string", fuzz_entry::block_string);
}

#[test]
fn image() {
    replay("image", fuzz_entry::image);
}
