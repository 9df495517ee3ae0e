//! What the interop tests share: finding the other implementations installed in
//! `tests/interop` (by `.ci/run`), or a reason not to run.

use std::path::PathBuf;
use std::process::Stdio;

/// `tests/interop`, when `interpreter` runs and `installed` (a path under `tests/interop`)
/// is there. Otherwise says why and gives `None` (the test then returns) — except under CI,
/// where the interop test must run, so a missing install fails it with `install`, the
/// command that fixes it.
pub(crate) fn installed_or_skip(
    interpreter: &str,
    installed: &str,
    install: &str,
) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let runs = std::process::Command::new(interpreter)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if runs && dir.join(installed).exists() {
        return Some(dir);
    }
    let missing = if runs {
        format!("tests/interop/{installed} is missing")
    } else {
        format!("{interpreter} is not on PATH")
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "the interop test must run under CI, but {missing} (`{install}`)"
    );
    eprintln!("skipping: {missing} (run `{install}`; CI does)");
    None
}
