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
        "every receipt matched its submit",
        "part 1/3",
        "UCS-2 (data_coding 0x08)",
        "a number the SMSC refuses: rejected (ESME_RINVDSTADR",
        "a handset that is switched off: undeliverable",
        "long message (3 segments): delivered",
        "1 unbind answered",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}
