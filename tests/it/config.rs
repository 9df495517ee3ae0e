//! The config file: the shipped examples, unknown keys in every table (as hickory-dns's
//! `test_reject_unknown_fields`), key paths of problems, secret files, `korid check-config`.

use kori::config::{Config, ConfigErrors, LogFormat, MultipartReceipts, SecretLoading, TokenScope};
use kori::smpp::{BindMode, Delivery};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn shipped_configs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "config/*.toml: {files:?}");
    files
}

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse_str(text, Path::new("/etc/kori"), SecretLoading::Skip)
}

/// The problems as `config error: …` lines.
fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

const MINIMAL_CARRIER: &str = r#"
[[carrier]]
name = "c1"
host = "smsc.example"
system_id = "kori"
"#;

#[test]
fn shipped_configs_parse_without_problems() {
    for file in shipped_configs() {
        let text = fs::read_to_string(&file).unwrap();
        if let Err(e) = Config::parse_str(&text, file.parent().unwrap(), SecretLoading::Skip) {
            panic!("{}:\n{e}", file.display());
        }
    }
}

#[test]
fn example_sets_what_it_says() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/kori.example.toml");
    let text = fs::read_to_string(&file).unwrap();
    let config = Config::parse_str(&text, file.parent().unwrap(), SecretLoading::Skip).unwrap();
    assert_eq!(config.store.path, Path::new("/var/lib/kori"));
    assert_eq!(config.store.flush_every, Duration::ZERO);
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:8787");
    assert_eq!(config.http.max_body, 1 << 20);
    assert_eq!(config.http.high_water, 1_000_000);
    assert_eq!(config.http.request_timeout, Duration::from_secs(30));
    assert!(config.http.callback_secret.is_some());
    assert_eq!(config.metrics.listen.to_string(), "127.0.0.1:9187");
    assert_eq!(config.telemetry.log_format, LogFormat::Text);
    assert_eq!(config.tokens.len(), 2);
    assert_eq!(config.tokens[1].scope, TokenScope::Shop("demo-shop".into()));

    let carrier = &config.carriers[0];
    assert_eq!(carrier.receipt_timeout, Duration::from_secs(48 * 3600));
    assert_eq!(carrier.multipart_receipts, MultipartReceipts::All);
    assert_eq!(carrier.source_ton, None);
    let smpp = carrier.smpp();
    assert_eq!(&*smpp.name, "telia-fi");
    assert_eq!((smpp.host.as_str(), smpp.port), ("smsc.example", 2775));
    assert_eq!(smpp.sessions.get(), 2);
    assert_eq!(smpp.window.get(), 64);
    assert_eq!(smpp.tps.get(), 100);
    assert_eq!(smpp.bind, BindMode::Transceiver);
    assert_eq!(smpp.delivery, Delivery::AtLeastOnce);
    assert_eq!(smpp.prefixes, ["+358"]);
    assert_eq!(smpp.enquire_link, Duration::from_secs(30));

    let shop = &config.shops[0];
    assert_eq!(shop.time_zone.iana_name(), Some("Europe/Helsinki"));
    assert_eq!(shop.steps.len(), 3);
    assert_eq!(shop.steps[1].after, Duration::from_secs(24 * 3600));
    assert_eq!(shop.steps[1].variants.len(), 2);
}

/// Every table of `value`, with its key path as problems name it ("" for the root).
fn tables(value: &toml::Value, path: String, out: &mut Vec<String>) {
    match value {
        toml::Value::Table(table) => {
            out.push(path.clone());
            for (key, v) in table {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                tables(v, sub, out);
            }
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                tables(item, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The table at `path` inside `root`.
fn table_at<'a>(root: &'a mut toml::Value, path: &str) -> &'a mut toml::Table {
    let mut at = root;
    if !path.is_empty() {
        for part in path.split('.') {
            let (key, index) = match part.split_once('[') {
                Some((key, rest)) => (
                    key,
                    Some(rest.trim_end_matches(']').parse::<usize>().unwrap()),
                ),
                None => (part, None),
            };
            at = at.get_mut(key).unwrap();
            if let Some(i) = index {
                at = at.get_mut(i).unwrap();
            }
        }
    }
    at.as_table_mut().unwrap()
}

#[test]
fn unknown_key_in_any_table_is_named() {
    for file in shipped_configs() {
        let text = fs::read_to_string(&file).unwrap();
        let doc: toml::Value = toml::from_str::<toml::Table>(&text).unwrap().into();
        let mut paths = Vec::new();
        tables(&doc, String::new(), &mut paths);
        assert!(paths.len() > 5, "{paths:?}");
        for path in paths {
            let mut changed = doc.clone();
            table_at(&mut changed, &path).insert("kori_unknown".into(), toml::Value::Integer(1));
            let changed = toml::to_string(&changed).unwrap();
            let expected = if path.is_empty() {
                "kori_unknown".to_owned()
            } else {
                format!("{path}.kori_unknown")
            };
            let errors = Config::parse_str(&changed, file.parent().unwrap(), SecretLoading::Skip)
                .expect_err(&format!("{}: no error for {expected}", file.display()));
            let keys: Vec<_> = errors
                .problems()
                .iter()
                .filter_map(|p| p.key_path())
                .collect();
            assert_eq!(keys, [expected.as_str()], "{}:\n{errors}", file.display());
            assert!(errors.to_string().contains("unknown key"), "{errors}");
        }
    }
}

#[test]
fn window_out_of_range_names_the_carrier() {
    let text = format!("{MINIMAL_CARRIER}window = 0\n");
    assert_eq!(
        problems(&text),
        ["config error: carrier[0].window: must be 1..=1024, got 0"]
    );
    let text = format!(
        "{MINIMAL_CARRIER}{}window = 1025\n",
        MINIMAL_CARRIER.replace("c1", "c2")
    );
    assert_eq!(
        problems(&text),
        ["config error: carrier[1].window: must be 1..=1024, got 1025"]
    );
}

#[test]
fn duplicate_carrier_names_are_refused() {
    let text = format!("{MINIMAL_CARRIER}{MINIMAL_CARRIER}");
    assert_eq!(
        problems(&text),
        [r#"config error: carrier[1].name: "c1" is already the name of carrier[0]"#]
    );
}

#[test]
fn bad_duration_names_its_key() {
    let text = format!("{MINIMAL_CARRIER}enquire_link = \"5 parsecs\"\n");
    let lines = problems(&text);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("config error: carrier[0].enquire_link: must be a duration like"),
        "{lines:?}"
    );
    assert!(lines[0].contains("\"5 parsecs\""), "{lines:?}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
[store]
flush_every = "soon"

[http]
listen = "localhost"
max_body = "huge"

[telemetry]
log_format = "xml"

[[carrier]]
name = "c1"
host = "smsc.example"
system_id = "a-system-id-far-too-long"
window = 0
tps = 0
bind = "receiver"
split = "udh7"
delivery = "exactly-once"
prefixes = ["+358", "46", "+358"]
reconnect_initial = "2m"
reconnect_max = "1m"
source_ton = "international"
tls = true

[[carrier]]
name = "c2"
port = "2775"

[[carrier]]
host = "smsc.example"
system_id = "x"

[[token]]
name = "ops"
file = "/etc/kori/tokens/ops"
scope = "root"

[[shop]]
id = "demo shop"
name = "Demo"
token_file = "t"
sender = "AFarTooLongSender"
default_region = "Finland"
time_zone = "Mars/Olympus"

[[shop.step]]
after = "24h"
template = "b"

[[shop.step]]
after = "1h"
template = "a"
discount = { static = "X", pool = "p" }
"#;
    let lines = problems(text);
    for expected in [
        "store.flush_every: must be a duration",
        "http.listen: must be an IP address and port",
        "http.max_body: must be a size",
        r#"telemetry.log_format: must be one of "text", "json", got "xml""#,
        "carrier[0].system_id: is 24 octets; SMPP 3.4 allows at most 15",
        "carrier[0].window: must be 1..=1024, got 0",
        "carrier[0].tps: must be 1..=1000000, got 0",
        r#"carrier[0].bind: must be one of "transceiver", "transmitter+receiver""#,
        r#"carrier[0].split: must be one of "udh8", "udh16", "sar", "payload", got "udh7""#,
        "carrier[0].delivery: must be one of",
        r#"carrier[0].prefixes[1]: must be "+" followed by 1 to 15 digits"#,
        r#"carrier[0].prefixes[2]: "+358" is listed twice"#,
        "carrier[0].reconnect_max: must not be shorter than reconnect_initial",
        r#"carrier[0].source_ton: must be "auto" or a number 0..=255"#,
        "carrier[0].tls: TLS is not supported yet",
        // carrier[1] failed to deserialize: its type error is reported, its missing keys not.
        "carrier[1].port: invalid type: string",
        "carrier[2].name: missing",
        r#"token[0].scope: must be one of "admin", "shop", got "root""#,
        "shop[0].id: must be ASCII letters, digits, '-' or '_'",
        "shop[0].sender: an alphanumeric sender has at most 11 characters",
        "shop[0].default_region: must be an ISO 3166-1 alpha-2 code",
        r#"shop[0].time_zone: no time zone "Mars/Olympus""#,
        "shop[0].step[1].after: must be later than step[0].after",
        "shop[0].step[1].discount: must have exactly one of static, pool or generate",
        "http.public_base_url: missing",
    ] {
        let expected = format!("config error: {expected}");
        assert!(
            lines.iter().any(|l| l.starts_with(&expected)),
            "no line starts with {expected:?}:\n{}",
            lines.join("\n")
        );
    }
    assert!(
        !lines.iter().any(|l| l.contains("carrier[1].host")),
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 25, "{}", lines.join("\n"));
}

#[test]
fn syntax_error_gives_line_and_column() {
    let lines = problems("[store]\npath = /var/lib/kori\n");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("config error: line 2, column 8: "),
        "{lines:?}"
    );
}

/// A temporary directory with a config file and secret files of the given modes.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn file(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        let path = self.0.path().join(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

#[test]
fn secret_readable_by_others_is_refused_with_the_fix() {
    let dir = Dir::new();
    let secret = dir.file("password", "pw\n", 0o644);
    let config = dir.file(
        "kori.toml",
        &format!("{MINIMAL_CARRIER}password_file = \"password\"\n"),
        0o644,
    );
    let errors = Config::load(&config).unwrap_err().to_string();
    let shown = secret.display().to_string();
    assert!(
        errors.starts_with("config error: carrier[0].password_file: "),
        "{errors}"
    );
    assert!(errors.contains(&format!("`{shown}`")), "{errors}");
    assert!(errors.contains("mode 0644"), "{errors}");
    assert!(errors.contains(&format!("chmod 600 {shown}")), "{errors}");
}

#[test]
fn private_secret_loads_without_its_trailing_newline() {
    let dir = Dir::new();
    dir.file("password", "s3cret\n", 0o600);
    dir.file("admin", "0123456789abcdef0123\r\n", 0o600);
    dir.file("callback", "whsec-0123456789\n", 0o600);
    let config = dir.file(
        "kori.toml",
        &format!(
            "{MINIMAL_CARRIER}password_file = \"password\"\n\
             [[token]]\nname = \"admin\"\nfile = \"admin\"\nscope = \"admin\"\n\
             [http]\ncallback_secret_file = \"callback\"\n"
        ),
        0o644,
    );
    let config = Config::load(&config).unwrap();
    assert_eq!(
        config.http.callback_secret.as_ref().map(|s| s.expose()),
        Some("whsec-0123456789")
    );
    assert_eq!(config.carriers[0].smpp().password.expose(), "s3cret");
    assert_eq!(config.tokens[0].secret.expose(), "0123456789abcdef0123");
    assert_eq!(format!("{:?}", config.tokens[0].secret), "Secret(***)");
}

#[test]
fn callback_ca_file_is_read_and_a_bad_one_named() {
    let dir = Dir::new();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    dir.file("ca.pem", &ca.pem(), 0o644);
    dir.file("not-a-ca.pem", "just some text\n", 0o644);
    let good = dir.file(
        "good.toml",
        &format!("{MINIMAL_CARRIER}[http]\ncallback_ca_file = \"ca.pem\"\n"),
        0o644,
    );
    let config = Config::load(&good).unwrap();
    assert_eq!(config.http.callback_cas.len(), 1);
    for (name, file) in [("bad.toml", "not-a-ca.pem"), ("absent.toml", "absent.pem")] {
        let bad = dir.file(
            name,
            &format!("{MINIMAL_CARRIER}[http]\ncallback_ca_file = \"{file}\"\n"),
            0o644,
        );
        let errors = Config::load(&bad).unwrap_err().to_string();
        assert!(
            errors.starts_with("config error: http.callback_ca_file: `"),
            "{errors}"
        );
        assert!(errors.contains(file), "{errors}");
    }
}

#[test]
fn secret_files_are_checked_only_when_loading() {
    let dir = Dir::new();
    dir.file("password", "far-too-long-for-smpp", 0o600);
    dir.file("short", "abc", 0o600);
    let text = format!(
        "{MINIMAL_CARRIER}password_file = \"password\"\n\
         [[token]]\nname = \"a\"\nfile = \"short\"\nscope = \"admin\"\n\
         [[token]]\nname = \"b\"\nfile = \"absent\"\nscope = \"admin\"\n"
    );
    let config = dir.file("kori.toml", &text, 0o644);
    assert!(Config::parse_str(&text, dir.0.path(), SecretLoading::Skip).is_ok());
    let errors = Config::load(&config).unwrap_err().to_string();
    let lines: Vec<_> = errors.lines().collect();
    assert_eq!(lines.len(), 3, "{errors}");
    assert!(
        lines[0].starts_with("config error: carrier[0].password_file: the password in")
            && lines[0].contains("is 21 octets; SMPP 3.4 allows at most 8"),
        "{errors}"
    );
    assert!(
        lines[1].starts_with("config error: token[0].file: the token in")
            && lines[1].contains("at least 16"),
        "{errors}"
    );
    let absent = dir.0.path().join("absent").display().to_string();
    assert!(
        lines[2].starts_with(&format!(
            "config error: token[1].file: cannot read secret file `{absent}`"
        )),
        "{errors}"
    );
}

#[test]
fn check_config_exits_2_and_prints_every_problem() {
    let dir = Dir::new();
    let config = dir.file(
        "bad.toml",
        &format!("{MINIMAL_CARRIER}window = 0\ntps = -1\n{MINIMAL_CARRIER}"),
        0o644,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_korid"))
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for expected in [
        "config error: carrier[0].window: must be 1..=1024, got 0\n",
        "config error: carrier[0].tps: must be 1..=1000000, got -1\n",
        "config error: carrier[1].name: \"c1\" is already the name of carrier[0]\n",
        "3 problems",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn check_config_accepts_a_good_file() {
    let dir = Dir::new();
    dir.file("admin", "0123456789abcdef0123\n", 0o600);
    let config = dir.file(
        "good.toml",
        &format!(
            "{MINIMAL_CARRIER}\n[[token]]\nname = \"admin\"\nfile = \"admin\"\nscope = \"admin\"\n"
        ),
        0o644,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_korid"))
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "config OK: 1 carriers, 1 tokens, 0 shops\n");
}

#[test]
fn check_config_of_a_missing_file_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_korid"))
        .args(["check-config", "/nonexistent/kori.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("config error: /nonexistent/kori.toml: cannot read the config file"),
        "{stderr}"
    );
}

#[test]
fn settings_not_implemented_yet_are_refused_not_ignored() {
    let text = format!("{MINIMAL_CARRIER}multipart_receipts = \"first\"\nadaptive_tps = true\n");
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with("config error: carrier[0].multipart_receipts: only \"all\""),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("config error: carrier[0].adaptive_tps: learning the TPS limit"),
        "{found:?}"
    );
    let text = format!("{MINIMAL_CARRIER}multipart_receipts = \"all\"\nadaptive_tps = false\n");
    assert!(parse(&text).is_ok());
}

#[test]
fn an_explicit_source_ton_reaches_the_sessions() {
    let text = format!("{MINIMAL_CARRIER}source_ton = 2\nsource_npi = 8\n");
    let config = parse(&text).unwrap();
    let smpp = config.carriers[0].smpp();
    assert_eq!(smpp.source_ton, Some(kori_smpp::Ton::NATIONAL));
    assert_eq!(smpp.source_npi, Some(kori_smpp::Npi::NATIONAL));
}

#[test]
fn settings_without_effect_yet_are_named() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/kori.example.toml");
    let text = fs::read_to_string(&file).unwrap();
    let config = Config::parse_str(&text, file.parent().unwrap(), SecretLoading::Skip).unwrap();
    let notes = config.not_in_effect_yet();
    assert!(
        notes.iter().any(|n| n.starts_with("[[shop]]: 1 shop(s)")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("[http] public_base_url")),
        "{notes:?}"
    );
    let minimal =
        Config::parse_str(MINIMAL_CARRIER, Path::new("/etc/kori"), SecretLoading::Skip).unwrap();
    assert_eq!(minimal.not_in_effect_yet(), Vec::<String>::new());
}
