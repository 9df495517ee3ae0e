//! Key layout and record encoding: the only place that builds or reads a key.
//!
//! Integers in keys are big-endian so that byte order is numeric order; times (`i64`) have
//! their sign bit flipped first so that negative times sort before positive ones. See the
//! module docs of `store` for the trees.

use super::StoreError;
use crate::outbox::{MessageId, MessageState, UnixMillis};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Tree names, as on disk.
pub(crate) mod tree {
    pub(crate) const MESSAGES: &str = "messages";
    pub(crate) const DUE: &str = "due";
    pub(crate) const RECEIPT_WAIT: &str = "receipt_wait";
    pub(crate) const CARRIER_KEYS: &str = "carrier_keys";
    pub(crate) const IDEMPOTENCY: &str = "idempotency";
    pub(crate) const IDEMPOTENCY_AGE: &str = "idempotency_age";
    pub(crate) const CALLBACKS: &str = "callbacks";
    pub(crate) const COUNTERS: &str = "counters";
    pub(crate) const META: &str = "meta";
    /// The journal tree of schema version 2 (now files, see `journal`); also the name errors
    /// about the journal give.
    pub(crate) const JOURNAL: &str = "journal";
    /// Every tree, in the order `backup` copies them.
    pub(crate) const ALL: [&str; 9] = [
        MESSAGES,
        DUE,
        RECEIPT_WAIT,
        CARRIER_KEYS,
        IDEMPOTENCY,
        IDEMPOTENCY_AGE,
        CALLBACKS,
        COUNTERS,
        META,
    ];
}

/// The version byte in front of every record value. A new record shape gets a new version and
/// `decode` learns to read both (or a schema migration rewrites the records).
const RECORD_VERSION: u8 = 1;

/// `RECORD_VERSION` then the postcard bytes of `value`.
pub(crate) fn encode<T: Serialize>(tree: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    // Room for a typical message record, so that it is written without growing.
    let mut out = Vec::with_capacity(384);
    out.push(RECORD_VERSION);
    postcard::to_extend(value, out).map_err(|e| StoreError::Encoding {
        tree,
        detail: e.to_string(),
    })
}

/// The record `encode` wrote.
pub(crate) fn decode<T: DeserializeOwned>(
    tree: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, body)) => {
            postcard::from_bytes(body).map_err(|e| StoreError::Encoding {
                tree,
                detail: e.to_string(),
            })
        }
        Some((v, _)) => Err(StoreError::Encoding {
            tree,
            detail: format!("unknown record version {v}"),
        }),
        None => Err(StoreError::Encoding {
            tree,
            detail: "empty record".into(),
        }),
    }
}

/// A time as 8 octets that sort like the time.
pub(crate) fn time_key(t: UnixMillis) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

fn time_from(bytes: [u8; 8]) -> UnixMillis {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// `time_key(t) ++ id` for the `due` and `receipt_wait` indexes.
pub(crate) fn timed_id_key(t: UnixMillis, id: MessageId) -> [u8; 24] {
    let mut k = [0; 24];
    k[..8].copy_from_slice(&time_key(t));
    k[8..].copy_from_slice(&id.to_bytes());
    k
}

/// The time and id of a `timed_id_key`.
pub(crate) fn split_timed_id(
    tree: &'static str,
    k: &[u8],
) -> Result<(UnixMillis, MessageId), StoreError> {
    let bad = || StoreError::Encoding {
        tree,
        detail: format!("key of {} octets, expected 24", k.len()),
    };
    let k: &[u8; 24] = k.try_into().map_err(|_| bad())?;
    let (t, id) = k.split_at(8);
    Ok((
        time_from(t.try_into().map_err(|_| bad())?),
        MessageId::from_bytes(id.try_into().map_err(|_| bad())?),
    ))
}

/// The smallest key after every `timed_id_key(t, _)`: `range(..after_time(t))` is "at or before t".
pub(crate) fn after_time(t: UnixMillis) -> Vec<u8> {
    let mut k = time_key(t).to_vec();
    k.extend_from_slice(&[0xff; 17]);
    k
}

/// Message id as a key.
pub(crate) fn id_key(id: MessageId) -> [u8; 16] {
    id.to_bytes()
}

/// A message id from a key of at least 16 octets (its first 16).
pub(crate) fn id_from(tree: &'static str, k: &[u8]) -> Result<MessageId, StoreError> {
    k.get(..16)
        .and_then(|b| b.try_into().ok())
        .map(MessageId::from_bytes)
        .ok_or_else(|| StoreError::Encoding {
            tree,
            detail: format!("key of {} octets, expected at least 16", k.len()),
        })
}

/// `carrier ++ 0x00 ++ key` (carrier names never hold NUL: config validates them).
pub(crate) fn carrier_key(carrier: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(carrier.len() + 1 + key.len());
    k.extend_from_slice(carrier.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// `id ++ part (u32 big-endian)`: what a carrier key points to.
pub(crate) fn carrier_value(id: MessageId, part: usize) -> [u8; 20] {
    let mut v = [0; 20];
    v[..16].copy_from_slice(&id.to_bytes());
    v[16..].copy_from_slice(&(part as u32).to_be_bytes());
    v
}

/// The `(id, part)` of a `carrier_value`.
pub(crate) fn split_carrier_value(v: &[u8]) -> Result<(MessageId, usize), StoreError> {
    let v: &[u8; 20] = v.try_into().map_err(|_| StoreError::Encoding {
        tree: tree::CARRIER_KEYS,
        detail: format!("value of {} octets, expected 20", v.len()),
    })?;
    let mut part = [0; 4];
    part.copy_from_slice(&v[16..]);
    Ok((
        id_from(tree::CARRIER_KEYS, v)?,
        u32::from_be_bytes(part) as usize,
    ))
}

/// `len(owner) as u16 ++ owner ++ key`: the length prefix keeps `("a", "bc")` and `("ab", "c")`
/// apart whatever bytes they hold.
pub(crate) fn idempotency_key(owner: &str, key: &str) -> Vec<u8> {
    let len = u16::try_from(owner.len()).unwrap_or(u16::MAX);
    let owner = &owner.as_bytes()[..usize::from(len)];
    let mut k = Vec::with_capacity(2 + owner.len() + key.len());
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(owner);
    k.extend_from_slice(key.as_bytes());
    k
}

/// `time_key(created_at) ++ idempotency_key`: purge scans from the oldest.
pub(crate) fn idempotency_age_key(created_at: UnixMillis, idempotency_key: &[u8]) -> Vec<u8> {
    let mut k = time_key(created_at).to_vec();
    k.extend_from_slice(idempotency_key);
    k
}

/// `id ++ seq (u64 big-endian)`: a message's callbacks in order.
pub(crate) fn callback_key(id: MessageId, seq: u64) -> [u8; 24] {
    let mut k = [0; 24];
    k[..16].copy_from_slice(&id.to_bytes());
    k[16..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Counter keys in the `counters` tree.
pub(crate) const OPEN_COUNTER: &[u8] = b"open";

/// `state/<name>`: how many messages are in `state`.
pub(crate) fn state_counter(state: MessageState) -> Vec<u8> {
    format!("state/{}", state.as_str()).into_bytes()
}

/// A counter value (u64 big-endian); a malformed one reads as 0 and is rewritten.
pub(crate) fn counter_value(v: Option<&[u8]>) -> u64 {
    v.and_then(|v| v.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// The `meta` key of the schema version (u32 big-endian).
pub(crate) const SCHEMA_VERSION_KEY: &[u8] = b"schema_version";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_sort_like_numbers() {
        let times = [i64::MIN, -1_000, -1, 0, 1, 1_000, i64::MAX];
        for w in times.windows(2) {
            assert!(time_key(w[0]) < time_key(w[1]), "{} < {}", w[0], w[1]);
        }
        for t in times {
            let (back, id) = split_timed_id("t", &timed_id_key(t, MessageId(7))).unwrap();
            assert_eq!((back, id), (t, MessageId(7)));
            assert!(timed_id_key(t, MessageId(u128::MAX)).as_slice() < after_time(t).as_slice());
        }
    }

    #[test]
    fn idempotency_keys_do_not_collide_across_owners() {
        assert_ne!(idempotency_key("a", "bc"), idempotency_key("ab", "c"));
    }

    #[test]
    fn envelope_rejects_unknown_versions() {
        let bytes = encode("t", &42u32).unwrap();
        assert_eq!(decode::<u32>("t", &bytes).unwrap(), 42);
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(matches!(
            decode::<u32>("t", &other),
            Err(StoreError::Encoding { .. })
        ));
        assert!(decode::<u32>("t", &[]).is_err());
    }
}
