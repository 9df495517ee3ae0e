//! `korid` subcommands run as an operator runs them.

use kori::app::{Daemon, DaemonConfig, StoreLocation};
use kori::clock::Clock;
use kori::config::Config;
use kori::outbox::{MessageId, NewMessage};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Regression: `messages show` built its timeout outside the runtime and panicked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_show_asks_the_running_daemon() {
    let dir = std::env::temp_dir().join(format!("kori-cli-{}", MessageId::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("admin");
    std::fs::write(&token, "cli-test-admin-token-12345\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config_path = dir.join("kori.toml");
    let port = free_port();
    std::fs::write(
        &config_path,
        format!(
            "[store]\npath = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n[[token]]\nname = \"admin\"\nfile = \"admin\"\nscope = \"admin\"\n",
            dir.join("store").display()
        ),
    )
    .unwrap();
    let config = Config::load(&config_path).unwrap();
    let mut daemon_config = DaemonConfig::from_config(&config);
    daemon_config.store = StoreLocation::Temporary;
    let daemon = Daemon::start(daemon_config, Clock::system()).await.unwrap();
    let id = MessageId::generate();
    let message =
        NewMessage::text("admin", "Kori", "+358401234567", "shown by the CLI").into_message(id, 0);
    daemon.outbox().accept(vec![message], None).await.unwrap();

    let bin = env!("CARGO_BIN_EXE_korid");
    let args = [
        "messages".to_owned(),
        "show".to_owned(),
        id.to_string(),
        "--config".to_owned(),
        config_path.display().to_string(),
    ];
    let out = tokio::task::spawn_blocking(move || Command::new(bin).args(args).output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["id"], id.to_string());
    assert_eq!(shown["to"], "+358401234567");
    daemon.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
