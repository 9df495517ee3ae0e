//! Configuration: the TOML file, read in two steps (style.md §6).
//!
//! Owns the file's shape and its validation. [`RawConfig`] mirrors the TOML with
//! `deny_unknown_fields` on every struct (no `#[serde(flatten)]`, no enum variants with data:
//! `deny_unknown_fields` does nothing through them, serde issue 2294). Every value an operator
//! types is kept as a string or a wide integer there, so that [`Config::from_raw`] can judge it
//! and name its key path. [`Config::from_raw`] turns it into types that cannot hold a bad value
//! and reports every problem at once:
//!
//! ```text
//! config error: carrier[1].window: must be 1..=1024, got 0
//! config error: token[0].file: `/etc/kori/tokens/admin` has group or other permission bits set (mode 0644); run `chmod 600 /etc/kori/tokens/admin`
//! ```
//!
//! Durations are strings read by [`parse_duration`] (jiff's friendly format: `"90s"`, `"2h"`,
//! `"1h 30m"`, `"7d"`); sizes by [`parse_size`] (`"1MiB"`). Secrets live in files named by
//! `*_file` keys and are read by [`read_secret`]. Relative paths are relative to the directory
//! of the config file.
//!
//! Must not touch: sockets, the store, the runtime. Called by `app` (`korid check-config`, and
//! the daemon's start); the settings it produces are handed to each part by `app`.

use crate::smpp::{BindMode, CarrierConfig, Delivery};
use kori_smpp::receipt::IdFormat;
use kori_smpp::segment::SplitMethod;
use kori_smpp::text::EncodingChoice;
use kori_smpp::{Npi, Ton};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::{NonZeroU8, NonZeroU32};
use std::ops::RangeInclusive;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A password or token: its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

// ---------------------------------------------------------------------------------------------
// Defaults (design.md "Configuration sketch", "HTTP API", "SMPP sessions", "Messages").

/// `[store] path`: the sled directory (systemd's `StateDirectory=kori`).
pub const DEFAULT_STORE_PATH: &str = "/var/lib/kori";
/// `[store] flush_every`: the group-commit window. None by default: everything that arrives
/// while a flush runs already shares the next one (docs/configuration.md has the figures).
pub const DEFAULT_FLUSH_EVERY: Duration = Duration::ZERO;
/// `[http] listen`.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8787";
/// `[http] max_body`: larger bodies get 413.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;
/// `[http] high_water`: messages not yet terminal above which intake answers 503.
pub const DEFAULT_HIGH_WATER: u64 = 1_000_000;
/// `[http] request_timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// `[metrics] listen`.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9187";
/// `[[carrier]] port`: the port IANA lists for SMPP.
pub const DEFAULT_SMPP_PORT: u16 = 2775;
/// `[[carrier]] receipt_timeout`: a submitted message without a receipt is `unknown` after it.
pub const DEFAULT_RECEIPT_TIMEOUT: Duration = Duration::from_secs(48 * 3600);
/// Largest `[[carrier]] window`.
pub const MAX_WINDOW: u32 = 1024;
/// Shortest bearer token accepted from a `token_file` (characters).
pub const MIN_TOKEN_LEN: usize = 16;

// SMPP 3.4 §5.2: C-octet strings, the maximum includes the terminating NUL.
const MAX_SYSTEM_ID: usize = 15;
const MAX_PASSWORD: usize = 8;
const MAX_SYSTEM_TYPE: usize = 12;
const MAX_ADDRESS_RANGE: usize = 40;

// ---------------------------------------------------------------------------------------------
// Step one: the TOML as written.

/// The config file as written. Every key is optional here; [`Config::from_raw`] says which
/// are required and what each may hold.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[store]`.
    pub store: Option<RawStore>,
    /// `[http]`.
    pub http: Option<RawHttp>,
    /// `[metrics]`.
    pub metrics: Option<RawMetrics>,
    /// `[telemetry]`.
    pub telemetry: Option<RawTelemetry>,
    /// `[[token]]`.
    #[serde(default)]
    pub token: Vec<RawToken>,
    /// `[[carrier]]`.
    #[serde(default)]
    pub carrier: Vec<RawCarrier>,
    /// `[[shop]]`.
    #[serde(default)]
    pub shop: Vec<RawShop>,
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// Directory of the sled database.
    pub path: Option<String>,
    /// Group-commit window (duration).
    pub flush_every: Option<String>,
    /// Delete the store when korid exits (demos and tests).
    pub temporary: Option<bool>,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// Socket address to listen on.
    pub listen: Option<String>,
    /// Base URL of the public click links.
    pub public_base_url: Option<String>,
    /// Largest request body (size).
    pub max_body: Option<String>,
    /// Messages not yet terminal above which intake answers 503.
    pub high_water: Option<i64>,
    /// Longest a request may take (duration).
    pub request_timeout: Option<String>,
    /// File holding the key that signs delivery callbacks.
    pub callback_secret_file: Option<String>,
    /// PEM file of CAs trusted for `https://` callback URLs besides the system's roots.
    pub callback_ca_file: Option<String>,
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Socket address of the Prometheus endpoint.
    pub listen: Option<String>,
}

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    /// Show phone numbers whole in logs.
    pub full_numbers: Option<bool>,
    /// `"text"` or `"json"`.
    pub log_format: Option<String>,
}

/// `[[token]]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    /// Name, in logs.
    pub name: Option<String>,
    /// File holding the bearer token.
    pub file: Option<String>,
    /// `"admin"` or `"shop"`.
    pub scope: Option<String>,
    /// The shop id, when `scope = "shop"`.
    pub shop: Option<String>,
}

/// `[[carrier]]` (design.md "SMPP sessions").
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // each key is described in config/kori.example.toml
pub struct RawCarrier {
    pub name: Option<String>,
    pub host: Option<String>,
    pub port: Option<i64>,
    pub system_id: Option<String>,
    pub password_file: Option<String>,
    pub system_type: Option<String>,
    pub address_range: Option<String>,
    pub bind: Option<String>,
    pub sessions: Option<i64>,
    pub window: Option<i64>,
    pub tps: Option<i64>,
    pub adaptive_tps: Option<bool>,
    pub enquire_link: Option<String>,
    pub response_timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub reconnect_initial: Option<String>,
    pub reconnect_max: Option<String>,
    pub throttle_pause: Option<String>,
    pub throttle_pause_max: Option<String>,
    pub source_ton: Option<toml::Value>,
    pub source_npi: Option<toml::Value>,
    pub default_encoding: Option<String>,
    pub gsm7_packed: Option<bool>,
    pub split: Option<String>,
    pub dlr_id: Option<String>,
    pub delivery: Option<String>,
    pub max_resends: Option<i64>,
    pub prefixes: Option<Vec<String>>,
    pub priority: Option<i64>,
    pub failover_after: Option<String>,
    pub multipart_receipts: Option<String>,
    pub receipt_timeout: Option<String>,
    pub tls: Option<bool>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
}

/// `[[shop]]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // each key is described in config/kori.example.toml
pub struct RawShop {
    pub id: Option<String>,
    pub name: Option<String>,
    pub token_file: Option<String>,
    pub sender: Option<String>,
    pub default_region: Option<String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
    pub shopify_secret_file: Option<String>,
    pub woocommerce_secret_file: Option<String>,
    #[serde(default)]
    pub step: Vec<RawStep>,
}

/// `[[shop.step]]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // each key is described in config/kori.example.toml
pub struct RawStep {
    pub after: Option<String>,
    pub template: Option<String>,
    pub fallback: Option<String>,
    pub segments: Option<i64>,
    pub discount: Option<RawDiscount>,
    #[serde(default)]
    pub variants: Vec<RawVariant>,
}

/// `discount = { static = "BACK10" }`, `{ pool = "name" }` or
/// `{ generate = "BACK-{6}", expires = "48h" }`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawDiscount {
    #[serde(rename = "static")]
    pub static_code: Option<String>,
    pub pool: Option<String>,
    pub generate: Option<String>,
    pub expires: Option<String>,
}

/// One entry of a step's `variants`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawVariant {
    pub name: Option<String>,
    pub weight: Option<i64>,
    pub template: Option<String>,
    pub after: Option<String>,
}

impl RawConfig {
    /// Reads the TOML text: a syntax error, or every type error and unknown key with its path.
    pub fn parse(text: &str) -> Result<Self, ConfigErrors> {
        let parsed = parse_raw(text);
        if parsed.problems.is_empty() {
            Ok(parsed.raw)
        } else {
            Err(ConfigErrors::new(parsed.problems))
        }
    }
}

/// What [`parse_raw`] made of the text: the sections that deserialized, the problems of those
/// that did not, and their key paths (so validation stays quiet about them).
struct ParsedRaw {
    raw: RawConfig,
    problems: Vec<ConfigProblem>,
    failed: Vec<String>,
}

/// Deserializes each section and each array element on its own, so that one run reports the
/// type errors and unknown keys of all of them rather than only the first.
fn parse_raw(text: &str) -> ParsedRaw {
    let mut out = ParsedRaw {
        raw: RawConfig::default(),
        problems: Vec::new(),
        failed: Vec::new(),
    };
    let table = match toml::from_str::<toml::Table>(text) {
        Ok(table) => table,
        Err(e) => {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            out.problems.push(ConfigProblem::Syntax {
                line,
                column,
                message: e.message().to_owned(),
            });
            return out;
        }
    };
    for (key, value) in table {
        // Keep this list in step with `RawConfig`'s fields (a unit test checks it).
        match key.as_str() {
            "store" => out.raw.store = section(&mut out, &key, value),
            "http" => out.raw.http = section(&mut out, &key, value),
            "metrics" => out.raw.metrics = section(&mut out, &key, value),
            "telemetry" => out.raw.telemetry = section(&mut out, &key, value),
            "token" => {
                out.raw.token = array(&mut out, &key, value, |name| RawToken {
                    name,
                    ..RawToken::default()
                })
            }
            "carrier" => {
                out.raw.carrier = array(&mut out, &key, value, |name| RawCarrier {
                    name,
                    ..RawCarrier::default()
                })
            }
            "shop" => {
                out.raw.shop = array(&mut out, &key, value, |id| RawShop {
                    id,
                    ..RawShop::default()
                })
            }
            _ => out.problems.push(ConfigProblem::key(
                key,
                "unknown key; the top level takes: [store], [http], [metrics], [telemetry], \
                 [[token]], [[carrier]], [[shop]]",
            )),
        }
    }
    out
}

fn section<T: for<'de> Deserialize<'de>>(
    out: &mut ParsedRaw,
    key: &str,
    value: toml::Value,
) -> Option<T> {
    if !value.is_table() {
        out.problems.push(ConfigProblem::key(
            key,
            format!("must be a table ([{key}])"),
        ));
        out.failed.push(key.to_owned());
        return None;
    }
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            out.problems.push(serde_problem(key, &e));
            out.failed.push(key.to_owned());
            None
        }
    }
}

/// An array of tables. An element that fails is replaced by a stand-in that keeps only its
/// name (`name`, or `id` for shops: `salvage` builds it), so that the indexes of the others stay
/// as written and references to it (duplicate names, a token's shop) are still checked; its
/// path is remembered as failed.
fn array<T: for<'de> Deserialize<'de> + Default>(
    out: &mut ParsedRaw,
    key: &str,
    value: toml::Value,
    salvage: fn(Option<String>) -> T,
) -> Vec<T> {
    let toml::Value::Array(items) = value else {
        out.problems.push(ConfigProblem::key(
            key,
            format!("must be an array of tables ([[{key}]])"),
        ));
        out.failed.push(key.to_owned());
        return Vec::new();
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{key}[{i}]");
            if !item.is_table() {
                out.problems.push(ConfigProblem::key(
                    &at,
                    format!("must be a table ([[{key}]])"),
                ));
                out.failed.push(at);
                return T::default();
            }
            let name_key = if key == "shop" { "id" } else { "name" };
            let name = item
                .get(name_key)
                .and_then(toml::Value::as_str)
                .map(str::to_owned);
            match serde_path_to_error::deserialize::<_, T>(item) {
                Ok(v) => v,
                Err(e) => {
                    out.problems.push(serde_problem(&at, &e));
                    out.failed.push(at);
                    salvage(name)
                }
            }
        })
        .collect()
}

/// A serde error as a problem at `prefix` + the path serde_path_to_error tracked; an unknown
/// field gets a plain message with the keys the table takes (and the likely one, if close).
fn serde_problem(prefix: &str, e: &serde_path_to_error::Error<toml::de::Error>) -> ConfigProblem {
    let inner = e.path().to_string();
    let key = if inner == "." || inner.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}.{inner}")
    };
    // serde's words for TOML's types.
    let message = e
        .inner()
        .message()
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array");
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return ConfigProblem::key(key, message);
    };
    let mut names = rest.split('`').skip(1).skip(1).step_by(2);
    let unknown = rest.split('`').next().unwrap_or_default();
    let expected: Vec<&str> = names.by_ref().collect();
    let close = expected
        .iter()
        .filter(|name| edit_distance(name, unknown) <= 2)
        .min_by_key(|name| edit_distance(name, unknown));
    let message = match close {
        Some(name) => format!("unknown key; did you mean `{name}`?"),
        None if expected.is_empty() => "unknown key".to_owned(),
        None => format!("unknown key; this table takes: {}", expected.join(", ")),
    };
    ConfigProblem::key(key, message)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = here;
        }
    }
    row[b.len()]
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

// ---------------------------------------------------------------------------------------------
// Problems.

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    /// The file could not be read.
    #[error("{}: cannot read the config file: {reason}", path.display())]
    Unreadable {
        /// The config file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is not valid TOML.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What the TOML parser says.
        message: String,
    },
    /// A key holds something it may not.
    #[error("{key}: {message}")]
    Key {
        /// Its path, like `carrier[1].window`.
        key: String,
        /// What is wrong and, where it helps, how to fix it.
        message: String,
    },
}

impl ConfigProblem {
    fn key(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Key {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The key path the problem is about, if it is about one.
    pub fn key_path(&self) -> Option<&str> {
        match self {
            Self::Key { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Every problem found in a config file; `Display` writes one `config error: …` line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    problems: Vec<ConfigProblem>,
}

impl ConfigErrors {
    fn new(problems: Vec<ConfigProblem>) -> Self {
        Self { problems }
    }

    /// The problems, in the order of the file.
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, problem) in self.problems.iter().enumerate() {
            if n > 0 {
                f.write_str("\n")?;
            }
            write!(f, "config error: {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

// ---------------------------------------------------------------------------------------------
// Step two: validated settings.

/// Whether secret files are read while validating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretLoading {
    /// Read every `*_file` secret, check its permissions and length (`korid check-config`,
    /// the daemon).
    Load,
    /// Do not touch secret files; their [`Secret`]s are empty. For checking a config written
    /// for another machine (the shipped examples).
    Skip,
}

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[store]`.
    pub store: StoreConfig,
    /// `[http]`.
    pub http: HttpConfig,
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// `[telemetry]`.
    pub telemetry: TelemetryConfig,
    /// `[[token]]`, with their secrets.
    pub tokens: Vec<Token>,
    /// `[[carrier]]`, in file order (the router's order).
    pub carriers: Vec<CarrierSettings>,
    /// `[[shop]]`.
    pub shops: Vec<Shop>,
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Directory of the sled database.
    pub path: PathBuf,
    /// Group-commit window: requests arriving within it share one flush.
    pub flush_every: Duration,
    /// Delete the store when korid exits.
    pub temporary: bool,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// Base of the public `/c/{token}` links, without a trailing `/`.
    pub public_base_url: Option<String>,
    /// Largest request body; larger ones get 413.
    pub max_body: usize,
    /// Messages not yet terminal above which intake answers 503 `overloaded`.
    pub high_water: u64,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// The key that signs delivery callbacks (`Kori-Signature`); without it they go unsigned.
    pub callback_secret: Option<Secret>,
    /// CAs trusted for `https://` callback URLs besides the system's roots.
    pub callback_cas: crate::client::TrustedCas,
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Where the Prometheus endpoint listens.
    pub listen: SocketAddr,
}

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TelemetryConfig {
    /// Show phone numbers whole in logs (masked by default).
    pub full_numbers: bool,
    /// Log line format.
    pub log_format: LogFormat,
}

/// `[telemetry] log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (journald adds the time).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// A bearer token of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Its name, for logs.
    pub name: String,
    /// The token (empty under [`SecretLoading::Skip`]).
    pub secret: Secret,
    /// What it may do.
    pub scope: TokenScope,
}

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    /// Everything.
    Admin,
    /// Act for one shop (its id).
    Shop(String),
}

/// Which receipts decide a multipart message's final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultipartReceipts {
    /// Delivered when every segment is; undeliverable if any segment is (design.md).
    #[default]
    All,
    /// The first segment's receipt decides (SMSCs that receipt only the first part).
    First,
    /// The last segment's receipt decides.
    Last,
    /// Delivered as soon as any segment is.
    Any,
}

/// One `[[carrier]]`: the session settings plus what the outbox needs to know about it.
#[derive(Debug, Clone)]
pub struct CarrierSettings {
    smpp: CarrierConfig,
    /// `source_ton`: `None` picks it from the sender ([`crate::smpp::source_ton_npi`]).
    pub source_ton: Option<Ton>,
    /// `source_npi`: `None` picks it from the sender.
    pub source_npi: Option<Npi>,
    /// Which receipts decide a multipart message.
    pub multipart_receipts: MultipartReceipts,
    /// A submitted message without a receipt after this long is `unknown`.
    pub receipt_timeout: Duration,
    /// Learn the carrier's real limit from ESME_RTHROTTLED answers (not yet acted on).
    pub adaptive_tps: bool,
}

impl CarrierSettings {
    /// The carrier's name.
    pub fn name(&self) -> &str {
        &self.smpp.name
    }

    /// The settings of its SMPP sessions.
    pub fn smpp(&self) -> CarrierConfig {
        self.smpp.clone()
    }

    /// The settings of its SMPP sessions, borrowed.
    pub fn smpp_ref(&self) -> &CarrierConfig {
        &self.smpp
    }
}

/// One `[[shop]]`.
#[derive(Debug, Clone)]
pub struct Shop {
    /// Id, in URLs and the store (`/v1/webhooks/shopify/{id}`).
    pub id: String,
    /// Display name (`{{ shop }}` in templates).
    pub name: String,
    /// The shop's bearer token (empty under [`SecretLoading::Skip`]).
    pub token: Secret,
    /// Sender (alphanumeric, short code or number).
    pub sender: String,
    /// ISO 3166-1 alpha-2 region for numbers written without a country code.
    pub default_region: String,
    /// The shop's time zone, the last fallback for quiet hours.
    pub time_zone: jiff::tz::TimeZone,
    /// Locale of templates for customers without one (`en`, `fi`, `pt-BR`).
    pub locale: String,
    /// Shopify webhook secret, if the shop uses Shopify.
    pub shopify_secret: Option<Secret>,
    /// WooCommerce webhook secret, if the shop uses WooCommerce.
    pub woocommerce_secret: Option<Secret>,
    /// The reminder sequence, in order of `after` (empty: the recovery engine's default).
    pub steps: Vec<Step>,
}

/// One `[[shop.step]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Time after abandonment.
    pub after: Duration,
    /// minijinja template of the reminder.
    pub template: String,
    /// Used when `template` renders longer than `segments`.
    pub fallback: Option<String>,
    /// Segment budget.
    pub segments: NonZeroU8,
    /// Discount code handed out with this step.
    pub discount: Option<Discount>,
    /// A/B variants (empty: none).
    pub variants: Vec<Variant>,
}

/// A step's discount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discount {
    /// Where the code comes from.
    pub source: DiscountSource,
    /// How long a code is valid (`{{ discount_expires }}`).
    pub expires: Option<Duration>,
}

/// Where a discount code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscountSource {
    /// The same code for everyone.
    Static(String),
    /// Codes from a named pool, each handed out once.
    Pool(String),
    /// Generated from a pattern; `{6}` stands for six random characters.
    Generate(String),
}

/// One A/B variant of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Name, in stats.
    pub name: String,
    /// Relative weight.
    pub weight: NonZeroU32,
    /// Template, if it differs from the step's.
    pub template: Option<String>,
    /// Timing, if it differs from the step's.
    pub after: Option<Duration>,
}

impl Config {
    /// Settings that are read and checked but have no effect in this release, one sentence
    /// each: `korid check-config` prints them and `korid run` logs them, so that nobody takes
    /// a setting for working that is not.
    pub fn not_in_effect_yet(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.shops.is_empty() {
            notes.push(format!(
                "[[shop]]: {} shop(s) checked, but cart recovery is not implemented yet; no \
                 reminders are sent",
                self.shops.len()
            ));
        }
        if self.http.public_base_url.is_some() {
            notes.push(
                "[http] public_base_url: tracked cart links come with cart recovery; unused yet"
                    .to_owned(),
            );
        }
        if self.telemetry.full_numbers {
            notes.push(
                "[telemetry] full_numbers: has no effect yet; phone numbers stay masked in logs"
                    .to_owned(),
            );
        }
        notes
    }

    /// Reads, parses and validates the config file at `path`, loading every secret file.
    /// Relative paths in it are relative to its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::new(vec![ConfigProblem::Unreadable {
                path: path.to_owned(),
                reason: e.to_string(),
            }])
        })?;
        let base_dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        Self::parse_str(&text, base_dir, SecretLoading::Load)
    }

    /// Parses and validates TOML text; relative paths are taken from `base_dir`.
    pub fn parse_str(
        text: &str,
        base_dir: &Path,
        secrets: SecretLoading,
    ) -> Result<Self, ConfigErrors> {
        let parsed = parse_raw(text);
        let mut problems = parsed.problems;
        if problems
            .iter()
            .any(|p| matches!(p, ConfigProblem::Syntax { .. }))
        {
            return Err(ConfigErrors::new(problems));
        }
        match Self::from_raw(parsed.raw, base_dir, secrets) {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(ConfigErrors::new(problems)),
            Err(errors) => {
                // Stay quiet about the parts that did not deserialize: their defaults would
                // only add "missing" noise.
                let quiet = |p: &ConfigProblem| {
                    p.key_path().is_some_and(|key| {
                        parsed.failed.iter().any(|f| {
                            key.strip_prefix(f.as_str())
                                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
                        })
                    })
                };
                problems.extend(errors.problems.into_iter().filter(|p| !quiet(p)));
                Err(ConfigErrors::new(problems))
            }
        }
    }

    /// Validates `raw`; every problem is reported, each with its key path.
    pub fn from_raw(
        raw: RawConfig,
        base_dir: &Path,
        secrets: SecretLoading,
    ) -> Result<Self, ConfigErrors> {
        let mut c = Checker {
            problems: Vec::new(),
            base_dir,
            secrets,
        };
        let store = c.store(raw.store.unwrap_or_default());
        let http = c.http(raw.http.unwrap_or_default(), !raw.shop.is_empty());
        let metrics = MetricsConfig {
            listen: c.socket_addr(
                "metrics.listen",
                raw.metrics.unwrap_or_default().listen.as_deref(),
                DEFAULT_METRICS_LISTEN,
            ),
        };
        let telemetry = c.telemetry(raw.telemetry.unwrap_or_default());
        let carriers = c.carriers(raw.carrier);
        let shops = c.shops(raw.shop);
        let tokens = c.tokens(raw.token, &shops);
        c.unique_tokens(&tokens, &shops);
        if c.problems.is_empty() {
            Ok(Self {
                store,
                http,
                metrics,
                telemetry,
                tokens,
                carriers,
                shops,
            })
        } else {
            Err(ConfigErrors::new(c.problems))
        }
    }

    /// The carrier settings as the SMPP layer takes them, in file order.
    pub fn smpp_carriers(&self) -> Vec<CarrierConfig> {
        self.carriers.iter().map(CarrierSettings::smpp).collect()
    }
}

/// Reads, parses and validates the config file at `path`, secrets included; see
/// [`Config::load`].
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    Config::load(path)
}

// ---------------------------------------------------------------------------------------------
// The helpers every value goes through.

/// Reads a duration in jiff's friendly format (`"90s"`, `"2h"`, `"1h 30m"`, `"7d"`; days and
/// weeks are 24 h and 7 × 24 h) or ISO 8601 (`"PT1H"`). Negative durations, months and years
/// are refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let wrong = || format!("must be a duration like \"90s\", \"2h\" or \"1h 30m\", got {text:?}");
    let span: jiff::Span = text.trim().parse().map_err(|_| wrong())?;
    if span.get_months() != 0 || span.get_years() != 0 {
        return Err(format!(
            "months and years have no fixed length; use days or hours, got {text:?}"
        ));
    }
    let signed = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|_| wrong())?;
    Duration::try_from(signed).map_err(|_| format!("must not be negative, got {text:?}"))
}

/// A duration the way [`parse_duration`] reads them (`"1h 30m"`).
pub fn show(d: Duration) -> String {
    jiff::fmt::friendly::SpanPrinter::new().unsigned_duration_to_string(&d)
}

/// Reads a size: a whole number with an optional unit, `B`, `KiB`, `MiB`, `GiB` (powers of
/// 1024) or `kB`, `MB`, `GB` (powers of 1000); `"1MiB"`, `"512 KiB"`, `"65536"`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let wrong =
        || format!("must be a size like \"1MiB\", \"512KiB\" or \"65536\" (bytes), got {text:?}");
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number.parse().map_err(|_| wrong())?;
    let unit: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(wrong()),
    };
    number
        .checked_mul(unit)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("is too large, got {text:?}"))
}

/// Reads a secret file: refused if any group or other permission bit is set (the message names
/// the file and the `chmod` that fixes it) or if it is empty; one trailing newline (`\n` or
/// `\r\n`) is dropped.
pub fn read_secret(path: &Path) -> Result<Secret, String> {
    let shown = path.display();
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read secret file `{shown}`: {e}"))?;
    if !meta.is_file() {
        return Err(format!("`{shown}` is not a regular file"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "`{shown}` has group or other permission bits set (mode {mode:04o}); run \
             `chmod 600 {shown}` (and make korid's user its owner)"
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read secret file `{shown}`: {e}"))?;
    let value = text.strip_suffix('\n').unwrap_or(&text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(format!("secret file `{shown}` is empty"));
    }
    Ok(Secret::new(value))
}

/// Collects problems while each part is validated; each helper returns a usable value (the
/// default) when the input is bad, so that validation goes on and finds the next problem.
struct Checker<'a> {
    problems: Vec<ConfigProblem>,
    base_dir: &'a Path,
    secrets: SecretLoading,
}

impl Checker<'_> {
    fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(ConfigProblem::key(key, message));
    }

    fn required<'v>(&mut self, key: &str, value: Option<&'v str>, what: &str) -> Option<&'v str> {
        match value {
            Some(v) if !v.trim().is_empty() => Some(v),
            Some(_) => {
                self.problem(key, format!("must not be empty ({what})"));
                None
            }
            None => {
                self.problem(key, format!("missing ({what})"));
                None
            }
        }
    }

    fn duration(&mut self, key: &str, value: Option<&str>, default: Duration) -> Duration {
        let Some(text) = value else { return default };
        parse_duration(text).unwrap_or_else(|message| {
            self.problem(key, message);
            default
        })
    }

    /// A duration that must be longer than zero.
    fn positive_duration(&mut self, key: &str, value: Option<&str>, default: Duration) -> Duration {
        let d = self.duration(key, value, default);
        if d.is_zero() {
            self.problem(key, "must be longer than 0s");
            return default;
        }
        d
    }

    fn int(
        &mut self,
        key: &str,
        value: Option<i64>,
        range: RangeInclusive<i64>,
        default: i64,
    ) -> i64 {
        let Some(v) = value else { return default };
        if range.contains(&v) {
            return v;
        }
        let (lo, hi) = (*range.start(), *range.end());
        if hi == i64::MAX {
            self.problem(key, format!("must be at least {lo}, got {v}"));
        } else {
            self.problem(key, format!("must be {lo}..={hi}, got {v}"));
        }
        default
    }

    fn u32(
        &mut self,
        key: &str,
        value: Option<i64>,
        range: RangeInclusive<u32>,
        default: u32,
    ) -> u32 {
        let range = i64::from(*range.start())..=i64::from(*range.end());
        let v = self.int(key, value, range, i64::from(default));
        u32::try_from(v).unwrap_or(default)
    }

    fn nonzero_u32(
        &mut self,
        key: &str,
        value: Option<i64>,
        max: u32,
        default: NonZeroU32,
    ) -> NonZeroU32 {
        let v = self.u32(key, value, 1..=max, default.get());
        NonZeroU32::new(v).unwrap_or(default)
    }

    fn choice<T: Copy>(
        &mut self,
        key: &str,
        value: Option<&str>,
        options: &[(&str, T)],
        default: T,
    ) -> T {
        let Some(text) = value else { return default };
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == text) {
            return *v;
        }
        let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
        self.problem(
            key,
            format!("must be one of {}, got {text:?}", names.join(", ")),
        );
        default
    }

    fn socket_addr(&mut self, key: &str, value: Option<&str>, default: &str) -> SocketAddr {
        let fallback = || {
            default
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
        };
        let Some(text) = value else { return fallback() };
        text.parse().unwrap_or_else(|_| {
            self.problem(
                key,
                format!(
                    "must be an IP address and port like \"127.0.0.1:8787\" or \"[::1]:8787\", \
                     got {text:?}"
                ),
            );
            fallback()
        })
    }

    fn path(&self, text: &str) -> PathBuf {
        self.base_dir.join(text)
    }

    /// Loads the secret file named at `key`, unless secrets are skipped.
    fn secret(&mut self, key: &str, file: &str) -> Secret {
        let path = self.path(file);
        match self.secrets {
            SecretLoading::Skip => Secret::default(),
            SecretLoading::Load => read_secret(&path).unwrap_or_else(|message| {
                self.problem(key, message);
                Secret::default()
            }),
        }
    }

    /// A bearer token file: a secret of at least [`MIN_TOKEN_LEN`] characters.
    fn token_secret(&mut self, key: &str, file: &str) -> Secret {
        let secret = self.secret(key, file);
        let len = secret.expose().chars().count();
        if self.secrets == SecretLoading::Load && len > 0 && len < MIN_TOKEN_LEN {
            let path = self.path(file);
            self.problem(
                key,
                format!(
                    "the token in `{}` is {len} characters; use at least {MIN_TOKEN_LEN} \
                     (for example `openssl rand -hex 32 > {}`)",
                    path.display(),
                    path.display()
                ),
            );
        }
        secret
    }

    fn store(&mut self, raw: RawStore) -> StoreConfig {
        let path = match raw.path.as_deref() {
            Some(p) if p.trim().is_empty() => {
                self.problem("store.path", "must not be empty (the store's directory)");
                PathBuf::from(DEFAULT_STORE_PATH)
            }
            Some(p) => self.path(p),
            None => PathBuf::from(DEFAULT_STORE_PATH),
        };
        StoreConfig {
            path,
            flush_every: self.duration(
                "store.flush_every",
                raw.flush_every.as_deref(),
                DEFAULT_FLUSH_EVERY,
            ),
            temporary: raw.temporary.unwrap_or(false),
        }
    }

    fn http(&mut self, raw: RawHttp, has_shops: bool) -> HttpConfig {
        let listen = self.socket_addr("http.listen", raw.listen.as_deref(), DEFAULT_HTTP_LISTEN);
        let public_base_url = match raw.public_base_url.as_deref() {
            Some(url) => self.base_url("http.public_base_url", url),
            None => {
                if has_shops {
                    self.problem(
                        "http.public_base_url",
                        "missing; the shops' reminder links (/c/{token}) are built from it",
                    );
                }
                None
            }
        };
        let max_body = match raw.max_body.as_deref() {
            None => DEFAULT_MAX_BODY,
            Some(text) => match parse_size(text) {
                Ok(0) => {
                    self.problem("http.max_body", "must be larger than 0");
                    DEFAULT_MAX_BODY
                }
                Ok(n) => n,
                Err(message) => {
                    self.problem("http.max_body", message);
                    DEFAULT_MAX_BODY
                }
            },
        };
        let high_water = self.int(
            "http.high_water",
            raw.high_water,
            1..=i64::MAX,
            DEFAULT_HIGH_WATER as i64,
        );
        HttpConfig {
            listen,
            public_base_url,
            max_body,
            high_water: u64::try_from(high_water).unwrap_or(DEFAULT_HIGH_WATER),
            request_timeout: self.positive_duration(
                "http.request_timeout",
                raw.request_timeout.as_deref(),
                DEFAULT_REQUEST_TIMEOUT,
            ),
            callback_secret: raw
                .callback_secret_file
                .as_deref()
                .map(|file| self.secret("http.callback_secret_file", file)),
            callback_cas: match raw.callback_ca_file.as_deref() {
                // Read with the secrets: a check without them may run where the files are not.
                None => crate::client::TrustedCas::default(),
                Some(_) if self.secrets == SecretLoading::Skip => {
                    crate::client::TrustedCas::default()
                }
                Some(file) => {
                    let path = self.path(file);
                    crate::client::TrustedCas::from_pem_file(&path).unwrap_or_else(|e| {
                        self.problem(
                            "http.callback_ca_file",
                            format!("`{}`: {e}", path.display()),
                        );
                        crate::client::TrustedCas::default()
                    })
                }
            },
        }
    }

    fn base_url(&mut self, key: &str, url: &str) -> Option<String> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        let ok = rest.is_some_and(|rest| {
            let host = rest.split('/').next().unwrap_or("");
            !host.is_empty() && !rest.contains(['?', '#']) && !rest.chars().any(char::is_whitespace)
        });
        if !ok {
            self.problem(
                key,
                format!(
                    "must be an http:// or https:// URL without query or fragment, like \
                     \"https://shop.example/k\", got {url:?}"
                ),
            );
            return None;
        }
        Some(url.trim_end_matches('/').to_owned())
    }

    fn telemetry(&mut self, raw: RawTelemetry) -> TelemetryConfig {
        TelemetryConfig {
            full_numbers: raw.full_numbers.unwrap_or(false),
            log_format: self.choice(
                "telemetry.log_format",
                raw.log_format.as_deref(),
                &[("text", LogFormat::Text), ("json", LogFormat::Json)],
                LogFormat::Text,
            ),
        }
    }

    fn tokens(&mut self, raw: Vec<RawToken>, shops: &[Shop]) -> Vec<Token> {
        let mut tokens = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, t) in raw.into_iter().enumerate() {
            let at = format!("token[{i}]");
            let name = self.required(
                &format!("{at}.name"),
                t.name.as_deref(),
                "the token's name, in logs",
            );
            if let Some(name) = name {
                if let Some(first) = names.insert(name.to_owned(), i) {
                    self.problem(
                        format!("{at}.name"),
                        format!("{name:?} is already the name of token[{first}]"),
                    );
                }
            }
            let file = self.required(
                &format!("{at}.file"),
                t.file.as_deref(),
                "the file holding the token",
            );
            let secret = match file {
                Some(file) => self.token_secret(&format!("{at}.file"), file),
                None => Secret::default(),
            };
            #[derive(Clone, Copy)]
            enum Kind {
                Admin,
                Shop,
            }
            let kind = match t.scope.as_deref() {
                None => {
                    self.problem(format!("{at}.scope"), "missing (\"admin\" or \"shop\")");
                    None
                }
                scope => Some(self.choice(
                    &format!("{at}.scope"),
                    scope,
                    &[("admin", Kind::Admin), ("shop", Kind::Shop)],
                    Kind::Admin,
                )),
            };
            let scope = match (kind, t.shop) {
                (Some(Kind::Admin), Some(_)) => {
                    self.problem(
                        format!("{at}.shop"),
                        "only a token with scope = \"shop\" names a shop",
                    );
                    TokenScope::Admin
                }
                (Some(Kind::Admin) | None, None) => TokenScope::Admin,
                (Some(Kind::Shop), None) => {
                    self.problem(
                        format!("{at}.shop"),
                        "missing (the id of the shop this token acts for)",
                    );
                    TokenScope::Admin
                }
                (_, Some(shop)) => {
                    if !shops.iter().any(|s| s.id == shop) {
                        self.problem(format!("{at}.shop"), format!("no [[shop]] has id {shop:?}"));
                    }
                    TokenScope::Shop(shop)
                }
            };
            tokens.push(Token {
                name: name.unwrap_or_default().to_owned(),
                secret,
                scope,
            });
        }
        tokens
    }

    /// Two holders of one bearer token could not be told apart.
    fn unique_tokens(&mut self, tokens: &[Token], shops: &[Shop]) {
        let mut seen: HashMap<&str, String> = HashMap::new();
        let holders = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("token[{i}].file"), &t.secret))
            .chain(
                shops
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (format!("shop[{i}].token_file"), &s.token)),
            );
        for (key, secret) in holders {
            if secret.expose().is_empty() {
                continue;
            }
            if let Some(first) = seen.get(secret.expose()) {
                self.problem(
                    key,
                    format!("holds the same token as {first}; every token must be different"),
                );
            } else {
                seen.insert(secret.expose(), key);
            }
        }
    }

    fn carriers(&mut self, raw: Vec<RawCarrier>) -> Vec<CarrierSettings> {
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut carriers = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let at = format!("carrier[{i}]");
            let name = self.required(
                &format!("{at}.name"),
                r.name.as_deref(),
                "the carrier's name, in logs, metrics and the API",
            );
            if let Some(name) = name {
                if !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                {
                    self.problem(
                        format!("{at}.name"),
                        format!("must be ASCII letters, digits, '-', '_' or '.', got {name:?}"),
                    );
                }
                if let Some(first) = names.insert(name.to_owned(), i) {
                    self.problem(
                        format!("{at}.name"),
                        format!("{name:?} is already the name of carrier[{first}]"),
                    );
                }
            }
            let name = name.unwrap_or_default().to_owned();
            let carrier = self.carrier(&at, &name, r);
            carriers.push(carrier);
        }
        carriers
    }

    fn carrier(&mut self, at: &str, name: &str, r: RawCarrier) -> CarrierSettings {
        let k = |key: &str| format!("{at}.{key}");
        let host = self.required(
            &k("host"),
            r.host.as_deref(),
            "the SMSC's host name or address",
        );
        if let Some(host) = host {
            if host.chars().any(char::is_whitespace) {
                self.problem(k("host"), format!("must not contain spaces, got {host:?}"));
            }
        }
        let port = self.int(&k("port"), r.port, 1..=65535, i64::from(DEFAULT_SMPP_PORT));
        let mut c = CarrierConfig::new(
            name,
            host.unwrap_or_default(),
            u16::try_from(port).unwrap_or(DEFAULT_SMPP_PORT),
        );

        let system_id = self.required(
            &k("system_id"),
            r.system_id.as_deref(),
            "the account name the SMSC gave you",
        );
        c.system_id = self.c_string(
            &k("system_id"),
            system_id.unwrap_or_default(),
            MAX_SYSTEM_ID,
            "system_id",
        );
        c.system_type = self.c_string(
            &k("system_type"),
            r.system_type.as_deref().unwrap_or(""),
            MAX_SYSTEM_TYPE,
            "system_type",
        );
        c.address_range = self.c_string(
            &k("address_range"),
            r.address_range.as_deref().unwrap_or(""),
            MAX_ADDRESS_RANGE,
            "address_range",
        );
        if let Some(file) = r.password_file.as_deref() {
            let key = k("password_file");
            if file.trim().is_empty() {
                self.problem(
                    &key,
                    "must not be empty (omit the key for an empty password)",
                );
            } else {
                let secret = self.secret(&key, file);
                let len = secret.expose().len();
                if len > MAX_PASSWORD {
                    self.problem(
                        &key,
                        format!(
                            "the password in `{}` is {len} octets; SMPP 3.4 allows at most \
                             {MAX_PASSWORD} (password is a 9-octet C-string)",
                            self.path(file).display()
                        ),
                    );
                }
                c.password = secret;
            }
        }

        c.bind = self.choice(
            &k("bind"),
            r.bind.as_deref(),
            &[
                ("transceiver", BindMode::Transceiver),
                ("transmitter+receiver", BindMode::TransmitterReceiver),
                ("transmitter-receiver", BindMode::TransmitterReceiver),
            ],
            c.bind,
        );
        c.sessions = self.nonzero_u32(&k("sessions"), r.sessions, 64, c.sessions);
        c.window = self.nonzero_u32(&k("window"), r.window, MAX_WINDOW, c.window);
        c.tps = self.nonzero_u32(&k("tps"), r.tps, 1_000_000, c.tps);
        c.enquire_link = self.positive_duration(
            &k("enquire_link"),
            r.enquire_link.as_deref(),
            c.enquire_link,
        );
        c.response_timeout = self.positive_duration(
            &k("response_timeout"),
            r.response_timeout.as_deref(),
            c.response_timeout,
        );
        c.connect_timeout = self.positive_duration(
            &k("connect_timeout"),
            r.connect_timeout.as_deref(),
            c.connect_timeout,
        );
        c.reconnect_initial = self.positive_duration(
            &k("reconnect_initial"),
            r.reconnect_initial.as_deref(),
            c.reconnect_initial,
        );
        c.reconnect_max = self.positive_duration(
            &k("reconnect_max"),
            r.reconnect_max.as_deref(),
            c.reconnect_max,
        );
        if c.reconnect_max < c.reconnect_initial {
            self.problem(
                k("reconnect_max"),
                format!(
                    "must not be shorter than reconnect_initial ({})",
                    show(c.reconnect_initial)
                ),
            );
        }
        c.throttle_pause = self.positive_duration(
            &k("throttle_pause"),
            r.throttle_pause.as_deref(),
            c.throttle_pause,
        );
        c.throttle_pause_max = self.positive_duration(
            &k("throttle_pause_max"),
            r.throttle_pause_max.as_deref(),
            c.throttle_pause_max,
        );
        if c.throttle_pause_max < c.throttle_pause {
            self.problem(
                k("throttle_pause_max"),
                format!(
                    "must not be shorter than throttle_pause ({})",
                    show(c.throttle_pause)
                ),
            );
        }
        let source_ton = self
            .ton_npi(&k("source_ton"), r.source_ton.as_ref())
            .map(Ton);
        let source_npi = self
            .ton_npi(&k("source_npi"), r.source_npi.as_ref())
            .map(Npi);
        c.default_encoding = self.choice(
            &k("default_encoding"),
            r.default_encoding.as_deref(),
            &[
                ("auto", EncodingChoice::Auto),
                ("gsm7", EncodingChoice::Gsm7),
                ("latin1", EncodingChoice::Latin1),
                ("ucs2", EncodingChoice::Ucs2),
            ],
            c.default_encoding,
        );
        c.gsm7_packed = r.gsm7_packed.unwrap_or(c.gsm7_packed);
        c.split = self.choice(
            &k("split"),
            r.split.as_deref(),
            &[
                ("udh8", SplitMethod::Udh8),
                ("udh16", SplitMethod::Udh16),
                ("sar", SplitMethod::Sar),
                ("payload", SplitMethod::Payload),
            ],
            c.split,
        );
        c.dlr_id = self.choice(
            &k("dlr_id"),
            r.dlr_id.as_deref(),
            &[
                ("auto", IdFormat::Auto),
                ("hex", IdFormat::Hex),
                ("dec", IdFormat::Dec),
            ],
            c.dlr_id,
        );
        c.delivery = self.choice(
            &k("delivery"),
            r.delivery.as_deref(),
            &[
                ("at-least-once", Delivery::AtLeastOnce),
                ("at-most-once", Delivery::AtMostOnce),
            ],
            c.delivery,
        );
        c.max_resends = self.u32(&k("max_resends"), r.max_resends, 0..=100, c.max_resends);
        c.prefixes = self.prefixes(&k("prefixes"), r.prefixes.unwrap_or_default());
        c.priority = self.u32(&k("priority"), r.priority, 0..=u32::MAX, c.priority);
        c.failover_after = self.duration(
            &k("failover_after"),
            r.failover_after.as_deref(),
            c.failover_after,
        );
        let multipart_receipts = self.choice(
            &k("multipart_receipts"),
            r.multipart_receipts.as_deref(),
            &[
                ("all", MultipartReceipts::All),
                ("first", MultipartReceipts::First),
                ("last", MultipartReceipts::Last),
                ("any", MultipartReceipts::Any),
            ],
            MultipartReceipts::All,
        );
        // Only "all" is implemented by the outbox so far: refuse the others rather than
        // silently behaving as "all".
        if multipart_receipts != MultipartReceipts::All {
            self.problem(
                k("multipart_receipts"),
                "only \"all\" is supported yet (a multipart message is delivered when every part is)",
            );
        }
        if r.adaptive_tps == Some(true) {
            self.problem(
                k("adaptive_tps"),
                "learning the TPS limit from ESME_RTHROTTLED is not supported yet; set adaptive_tps = false (throttled submits still pause the bind and are sent again)",
            );
        }
        let receipt_timeout = self.positive_duration(
            &k("receipt_timeout"),
            r.receipt_timeout.as_deref(),
            DEFAULT_RECEIPT_TIMEOUT,
        );

        // TLS: the keys are read and checked so a config can be written ahead, but the
        // session's transport has no TLS yet (design.md "SMPP sessions": a later issue).
        let tls = r.tls.unwrap_or(false);
        if tls {
            self.problem(
                k("tls"),
                "TLS is not supported yet; set tls = false, or reach the SMSC through a TLS \
                 tunnel (stunnel) on localhost",
            );
        }
        for (key, value) in [
            ("ca_file", &r.ca_file),
            ("cert_file", &r.cert_file),
            ("key_file", &r.key_file),
            ("server_name", &r.server_name),
        ] {
            match value.as_deref() {
                Some(v) if v.trim().is_empty() => self.problem(k(key), "must not be empty"),
                Some(_) if !tls => self.problem(k(key), "has no effect without tls = true"),
                _ => {}
            }
        }
        if r.cert_file.is_some() != r.key_file.is_some() {
            let missing = if r.cert_file.is_some() {
                "key_file"
            } else {
                "cert_file"
            };
            self.problem(
                k(missing),
                "missing; a client certificate needs both cert_file and key_file",
            );
        }

        c.source_ton = source_ton;
        c.source_npi = source_npi;
        CarrierSettings {
            smpp: c,
            source_ton,
            source_npi,
            multipart_receipts,
            receipt_timeout,
            adaptive_tps: r.adaptive_tps.unwrap_or(false),
        }
    }

    /// An SMPP C-octet string field: at most `max` octets, ASCII.
    fn c_string(&mut self, key: &str, value: &str, max: usize, field: &str) -> String {
        if !value.is_ascii() {
            self.problem(key, format!("must be ASCII, got {value:?}"));
        } else if value.len() > max {
            self.problem(
                key,
                format!(
                    "is {} octets; SMPP 3.4 allows at most {max} for {field}, got {value:?}",
                    value.len()
                ),
            );
        }
        value.to_owned()
    }

    /// `"auto"` (`None`) or a number 0..=255.
    fn ton_npi(&mut self, key: &str, value: Option<&toml::Value>) -> Option<u8> {
        match value {
            None => None,
            Some(toml::Value::String(s)) if s == "auto" => None,
            Some(toml::Value::Integer(n)) if (0..=255).contains(n) => u8::try_from(*n).ok(),
            Some(other) => {
                self.problem(
                    key,
                    format!("must be \"auto\" or a number 0..=255, got {other}"),
                );
                None
            }
        }
    }

    fn prefixes(&mut self, key: &str, raw: Vec<String>) -> Vec<String> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, p) in raw.iter().enumerate() {
            let at = format!("{key}[{i}]");
            let digits = p.strip_prefix('+').unwrap_or("");
            if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                self.problem(
                    &at,
                    format!(
                        "must be \"+\" followed by 1 to 15 digits (an E.164 prefix such as \
                         \"+358\"), got {p:?}"
                    ),
                );
            } else if let Some(first) = seen.insert(p.clone(), i) {
                self.problem(&at, format!("{p:?} is listed twice (also at [{first}])"));
            }
        }
        raw
    }

    fn shops(&mut self, raw: Vec<RawShop>) -> Vec<Shop> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut shops = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let at = format!("shop[{i}]");
            let k = |key: &str| format!("{at}.{key}");
            let id = self.required(
                &k("id"),
                r.id.as_deref(),
                "the shop's id, in URLs and the store",
            );
            if let Some(id) = id {
                if !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    self.problem(
                        k("id"),
                        format!(
                            "must be ASCII letters, digits, '-' or '_' (it appears in URLs), \
                             got {id:?}"
                        ),
                    );
                }
                if let Some(first) = ids.insert(id.to_owned(), i) {
                    self.problem(
                        k("id"),
                        format!("{id:?} is already the id of shop[{first}]"),
                    );
                }
            }
            let name = self.required(
                &k("name"),
                r.name.as_deref(),
                "the shop's name, {{ shop }} in templates",
            );
            let token = match self.required(
                &k("token_file"),
                r.token_file.as_deref(),
                "the file holding the shop's API token",
            ) {
                Some(file) => self.token_secret(&k("token_file"), file),
                None => Secret::default(),
            };
            let sender = self.required(
                &k("sender"),
                r.sender.as_deref(),
                "the sender of the shop's reminders",
            );
            if let Some(sender) = sender {
                self.sender(&k("sender"), sender);
            }
            let region = self.required(
                &k("default_region"),
                r.default_region.as_deref(),
                "ISO 3166 country code like \"FI\" for numbers without +",
            );
            if let Some(region) = region {
                if region.len() != 2 || !region.bytes().all(|b| b.is_ascii_uppercase()) {
                    self.problem(
                        k("default_region"),
                        format!(
                            "must be an ISO 3166-1 alpha-2 code like \"FI\" or \"US\", \
                             got {region:?}"
                        ),
                    );
                }
            }
            let time_zone = self.time_zone(&k("time_zone"), r.time_zone.as_deref());
            let locale = r.locale.unwrap_or_else(|| "en".to_owned());
            if !valid_locale(&locale) {
                self.problem(
                    k("locale"),
                    format!(
                        "must be a language tag like \"fi\", \"en\" or \"pt-BR\", got {locale:?}"
                    ),
                );
            }
            let shopify_secret = r
                .shopify_secret_file
                .as_deref()
                .map(|f| self.secret(&k("shopify_secret_file"), f));
            let woocommerce_secret = r
                .woocommerce_secret_file
                .as_deref()
                .map(|f| self.secret(&k("woocommerce_secret_file"), f));
            let steps = self.steps(&at, r.step);
            shops.push(Shop {
                id: id.unwrap_or_default().to_owned(),
                name: name.unwrap_or_default().to_owned(),
                token,
                sender: sender.unwrap_or_default().to_owned(),
                default_region: region.unwrap_or_default().to_owned(),
                time_zone,
                locale,
                shopify_secret,
                woocommerce_secret,
                steps,
            });
        }
        shops
    }

    fn time_zone(&mut self, key: &str, name: Option<&str>) -> jiff::tz::TimeZone {
        let what = "an IANA time zone like \"Europe/Helsinki\"";
        let Some(name) = self.required(key, name, what) else {
            return jiff::tz::TimeZone::UTC;
        };
        jiff::tz::TimeZone::get(name).unwrap_or_else(|_| {
            self.problem(
                key,
                format!(
                    "no time zone {name:?} in the time zone database; use {what} (the \
                     database is the system's tzdata)"
                ),
            );
            jiff::tz::TimeZone::UTC
        })
    }

    /// An alphanumeric sender of at most 11 characters (GSM 03.40), or a number of at most 15
    /// digits with an optional `+`.
    fn sender(&mut self, key: &str, sender: &str) {
        let digits = sender.strip_prefix('+').unwrap_or(sender);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if digits.len() > 15 {
                self.problem(
                    key,
                    format!("a numeric sender has at most 15 digits, got {sender:?}"),
                );
            }
        } else if !sender.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            self.problem(
                key,
                format!(
                    "an alphanumeric sender is ASCII letters, digits and punctuation, \
                     got {sender:?}"
                ),
            );
        } else if sender.len() > 11 {
            self.problem(
                key,
                format!(
                    "an alphanumeric sender has at most 11 characters (GSM 03.40), got {sender:?}"
                ),
            );
        }
    }

    fn steps(&mut self, shop: &str, raw: Vec<RawStep>) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let at = format!("{shop}.step[{i}]");
            let k = |key: &str| format!("{at}.{key}");
            let after = match self.required(
                &k("after"),
                r.after.as_deref(),
                "time after abandonment, like \"1h\"",
            ) {
                Some(text) => {
                    self.positive_duration(&k("after"), Some(text), Duration::from_secs(3600))
                }
                None => Duration::ZERO,
            };
            if let Some(prev) = steps.last() {
                if after <= prev.after && !after.is_zero() {
                    self.problem(
                        k("after"),
                        format!(
                            "must be later than step[{}].after ({})",
                            i - 1,
                            show(prev.after)
                        ),
                    );
                }
            }
            let template =
                self.required(&k("template"), r.template.as_deref(), "the reminder's text");
            let fallback = r.fallback.filter(|f| {
                let empty = f.trim().is_empty();
                if empty {
                    self.problem(k("fallback"), "must not be empty (omit it for no fallback)");
                }
                !empty
            });
            let segments = self.int(&k("segments"), r.segments, 1..=255, 1);
            let discount = r.discount.and_then(|d| self.discount(&k("discount"), d));
            let variants = self.variants(&k("variants"), r.variants);
            steps.push(Step {
                after,
                template: template.unwrap_or_default().to_owned(),
                fallback,
                segments: u8::try_from(segments)
                    .ok()
                    .and_then(NonZeroU8::new)
                    .unwrap_or(NonZeroU8::MIN),
                discount,
                variants,
            });
        }
        steps
    }

    fn discount(&mut self, at: &str, r: RawDiscount) -> Option<Discount> {
        let k = |key: &str| format!("{at}.{key}");
        let expires = r.expires.as_deref().map(|e| {
            self.positive_duration(&k("expires"), Some(e), Duration::from_secs(48 * 3600))
        });
        let source = match (r.static_code, r.pool, r.generate) {
            (Some(code), None, None) => {
                if code.trim().is_empty() {
                    self.problem(k("static"), "must not be empty");
                }
                DiscountSource::Static(code)
            }
            (None, Some(pool), None) => {
                if pool.trim().is_empty() {
                    self.problem(k("pool"), "must not be empty (the name of a code pool)");
                }
                DiscountSource::Pool(pool)
            }
            (None, None, Some(pattern)) => {
                if !has_random_run(&pattern) {
                    self.problem(
                        k("generate"),
                        format!(
                            "must contain a run of random characters like {{6}} (1..=32), \
                             got {pattern:?}"
                        ),
                    );
                }
                DiscountSource::Generate(pattern)
            }
            _ => {
                self.problem(at, "must have exactly one of static, pool or generate");
                return None;
            }
        };
        Some(Discount { source, expires })
    }

    fn variants(&mut self, at: &str, raw: Vec<RawVariant>) -> Vec<Variant> {
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut variants = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let v = format!("{at}[{i}]");
            let k = |key: &str| format!("{v}.{key}");
            let name = self.required(
                &k("name"),
                r.name.as_deref(),
                "the variant's name, in stats",
            );
            if let Some(name) = name {
                if let Some(first) = names.insert(name.to_owned(), i) {
                    self.problem(
                        k("name"),
                        format!("{name:?} is already the name of {at}[{first}]"),
                    );
                }
            }
            if r.template.as_deref().is_some_and(|t| t.trim().is_empty()) {
                self.problem(
                    k("template"),
                    "must not be empty (omit it to use the step's)",
                );
            }
            let weight = self.nonzero_u32(&k("weight"), r.weight, u32::MAX, NonZeroU32::MIN);
            let after = r
                .after
                .as_deref()
                .map(|a| self.positive_duration(&k("after"), Some(a), Duration::from_secs(3600)));
            variants.push(Variant {
                name: name.unwrap_or_default().to_owned(),
                weight,
                template: r.template,
                after,
            });
        }
        variants
    }
}

/// `ll`, `lll`, optionally followed by `-` or `_` and letters or digits (`pt-BR`, `zh-Hant`).
fn valid_locale(tag: &str) -> bool {
    let mut parts = tag.split(['-', '_']);
    let lang = parts.next().unwrap_or("");
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Whether a code pattern has a `{n}` run with n in 1..=32.
fn has_random_run(pattern: &str) -> bool {
    pattern.split('{').skip(1).any(|rest| {
        rest.split_once('}')
            .and_then(|(n, _)| n.parse::<u8>().ok())
            .is_some_and(|n| (1..=32).contains(&n))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn durations_use_one_format() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2ms"), Ok(Duration::from_millis(2)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("1mo").is_err());
        assert!(parse_duration("10").is_err());
    }

    #[test]
    fn sizes_use_one_format() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert!(parse_size("1.5MiB").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn every_top_level_section_is_dispatched() {
        let text = "[store]\n[http]\n[metrics]\n[telemetry]\n[[token]]\n[[carrier]]\n[[shop]]\n";
        let whole: RawConfig = toml::from_str(text).unwrap();
        let parsed = parse_raw(text);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(parsed.raw, whole);
    }

    #[test]
    fn unknown_key_suggests_the_close_one() {
        let errors = RawConfig::parse("[[carrier]]\nname = \"a\"\nwindw = 3\n").unwrap_err();
        assert_eq!(
            errors.to_string(),
            "config error: carrier[0].windw: unknown key; did you mean `window`?"
        );
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let errors = RawConfig::parse("[store]\npath = \n").unwrap_err();
        let [ConfigProblem::Syntax { line, .. }] = errors.problems() else {
            panic!("{errors}");
        };
        assert_eq!(*line, 2);
    }

    #[test]
    fn locales_and_code_patterns() {
        assert!(valid_locale("fi") && valid_locale("pt-BR") && valid_locale("zh_Hant"));
        assert!(!valid_locale("f") && !valid_locale("english!"));
        assert!(has_random_run("BACK-{6}") && !has_random_run("BACK10") && !has_random_run("X{0}"));
    }
}
