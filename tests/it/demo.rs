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
    for expected in [
        "→ 202 {\"id\"",
        "part 1/3",
        "UCS-2 (data_coding 0x08)",
        "id:1714944 stat:DELIVRD (submit id 1A2B00)",
        "long message (3 segments): delivered",
        "UCS-2 with an emoji: delivered",
        "a number the SMSC refuses: rejected (ESME_RINVDSTADR",
        "a handset that is switched off: undeliverable",
        "1 unbind answered",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}
