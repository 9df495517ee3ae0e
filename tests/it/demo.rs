//! `korid demo`, the README's first command, run as a user runs it.

use std::process::Command;

#[test]
fn demo_runs_and_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_korid"))
        .arg("demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("every receipt matched its submit"),
        "{stdout}"
    );
    assert!(
        stdout.contains("05 00 03"),
        "the long message shows its concatenation UDH: {stdout}"
    );
}
