//! Delivery receipts: the text of SMPP 3.4 Appendix B, the receipt TLVs, and message-id
//! matching.
//!
//! Owns: reading a receipt from plain values (the `receipted_message_id`, `message_state` and
//! `network_error_code` TLV values and the `short_message` / `message_payload` bytes), the rule
//! that chooses between TLV and text, and message-id normalisation. Must not touch: PDU types
//! beyond reading a `deliver_sm`'s fields in [`Receipt::from_deliver_sm`]; storage, time, logging.
//! Called by Kori's receipt matcher (`kori::dlr`) with the fields of each `deliver_sm` /
//! `data_sm` whose `esm_class` marks a receipt, and by the simulator to write receipts.
//!
//! Choice of fields, in [`receipt_from_parts`]:
//! * id: the `receipted_message_id` TLV (SMPP 3.4 §5.3.2.12) if present and not empty, else the
//!   text's `id:`. The TLV is the structured field and, where both exist and differ (Jasmin's
//!   tests carry TLV `70BA8A69` with text `id:1891273321`, the same number in hex and decimal),
//!   it is the one in the `submit_sm_resp` rendering.
//! * state: the `message_state` TLV (§5.3.2.35) when it is one of the eight SMPP 3.4 states, else
//!   the text's `stat:` when recognised, else a vendor `message_state` value as `Other`.
//! * error: the `network_error_code` TLV (§5.3.2.31) if present, else the text's `err:`.

use crate::body::DeliverSm;
pub use crate::tlv::NetworkErrorCode;
use crate::tlv::TlvList;

mod id;
mod state;
mod text;

pub use id::{IdFormat, MatchKeys, NormalizedId, match_keys, normalize};
pub use state::{MessageState, Stat};
pub use text::{ErrCode, ReceiptDate, TextReceipt};

/// Why a set of fields is not a usable receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Nothing receipt-like at all.
    #[error(
        "not a delivery receipt: no receipted_message_id, message_state or network_error_code \
         TLV, and the text has no id: or stat: field"
    )]
    NotAReceipt,
    /// Receipt fields, but no message id to match.
    #[error(
        "delivery receipt without a message id: no receipted_message_id TLV and no id: field \
         in the text"
    )]
    NoMessageId,
    /// A message id, but no state.
    #[error(
        "delivery receipt for message id {message_id:?} has no state: no message_state TLV and \
         no stat: field in the text"
    )]
    NoState {
        /// The message id as sent.
        message_id: String,
    },
    /// The only state given is a `stat:` word we do not know.
    #[error(
        "delivery receipt for message id {message_id:?} has stat:{stat:?}, which is not an SMPP \
         3.4 state or a known variant; ask the carrier what it means"
    )]
    UnrecognisedStat {
        /// The message id as sent.
        message_id: String,
        /// The `stat:` word as sent.
        stat: String,
    },
}

/// Where a receipt field came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldSource {
    /// An optional parameter (TLV) of the PDU.
    Tlv,
    /// The Appendix B text in `short_message` or `message_payload`.
    Text,
}

/// Which fields [`receipt_from_parts`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptSource {
    /// Source of [`Receipt::message_id`].
    pub id: FieldSource,
    /// Source of [`Receipt::state`].
    pub state: FieldSource,
    /// Source of [`Receipt::error`], if there is one.
    pub error: Option<FieldSource>,
}

/// The error reported with a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeliveryError {
    /// From the `network_error_code` TLV.
    Network(NetworkErrorCode),
    /// From the text's `err:` field (often `000`: no error).
    Text(ErrCode),
}

/// A delivery receipt, combined from TLVs and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The message id as sent: invalid UTF-8 replaced, surrounding whitespace and NULs removed.
    pub message_id: String,
    /// `normalize(message_id, IdFormat::Auto)`, for storage and logs. To find the submit, use
    /// [`Receipt::match_keys`] with the carrier's receipt id format.
    pub normalized_id: NormalizedId,
    /// The message state.
    pub state: MessageState,
    /// The error reported, if any (`err:000` is kept as reported).
    pub error: Option<DeliveryError>,
    /// The text receipt, when the text parsed as one (also when the TLVs sufficed).
    pub text: Option<TextReceipt>,
    /// Which fields were used.
    pub source: ReceiptSource,
}

impl Receipt {
    /// Whether no further receipt is expected for the message ([`MessageState::is_final`]).
    pub fn is_final(&self) -> bool {
        self.state.is_final()
    }

    /// The keys to look up the submit under: [`match_keys`] of `message_id` in format `fmt`.
    pub fn match_keys(&self, fmt: IdFormat) -> MatchKeys {
        match_keys(self.message_id.as_bytes(), fmt)
    }
}

impl Receipt {
    /// Reads the receipt in a `deliver_sm` (or a `data_sm`'s fields copied into one): the
    /// receipt TLVs, and the text from `short_message`, or from `message_payload` when
    /// `short_message` is empty.
    ///
    /// # Errors
    /// As [`receipt_from_parts`].
    pub fn from_deliver_sm(sm: &DeliverSm) -> Result<Receipt, ReceiptError> {
        let text = if sm.short_message.is_empty() {
            sm.tlvs.message_payload().map(|p| p.as_ref())
        } else {
            Some(sm.short_message.as_ref())
        };
        receipt_from_parts(
            sm.tlvs.receipted_message_id(),
            sm.tlvs.message_state(),
            sm.tlvs.network_error_code(),
            text,
        )
    }
}

/// Builds a receipt from the values of a `deliver_sm` / `data_sm` (see the module documentation
/// for which field wins).
///
/// `receipted_message_id` is the TLV value, with or without its terminating NUL; `text` is the
/// `short_message` (or `message_payload` when `short_message` is empty). A text that is not a
/// receipt is ignored when the TLVs are enough.
///
/// # Errors
/// [`ReceiptError::NotAReceipt`] if no receipt TLV is given and the text is not a receipt;
/// [`ReceiptError::NoMessageId`], [`ReceiptError::NoState`] or
/// [`ReceiptError::UnrecognisedStat`] when a part is missing or unreadable.
pub fn receipt_from_parts(
    receipted_message_id: Option<&[u8]>,
    message_state: Option<u8>,
    network_error_code: Option<NetworkErrorCode>,
    text: Option<&[u8]>,
) -> Result<Receipt, ReceiptError> {
    let text = text.and_then(|t| TextReceipt::parse(t).ok());
    let tlv_id = receipted_message_id
        .map(trim_bytes)
        .filter(|id| !id.is_empty())
        .map(|id| String::from_utf8_lossy(id).into_owned());
    let text_id = text.as_ref().and_then(|t| t.id.as_deref()).map(str::trim);
    let (message_id, id_source) = match (tlv_id, text_id) {
        (Some(id), _) => (id, FieldSource::Tlv),
        (None, Some(id)) if !id.is_empty() => (id.to_owned(), FieldSource::Text),
        _ if text.is_none()
            && receipted_message_id.is_none()
            && message_state.is_none()
            && network_error_code.is_none() =>
        {
            return Err(ReceiptError::NotAReceipt);
        }
        _ => return Err(ReceiptError::NoMessageId),
    };

    let tlv_state = message_state.map(MessageState::from);
    let stat = text.as_ref().and_then(|t| t.stat.as_ref());
    let (state, state_source) = match (tlv_state, stat.and_then(Stat::state)) {
        (Some(s), _) if s.is_known() => (s, FieldSource::Tlv),
        (_, Some(s)) => (s, FieldSource::Text),
        (Some(s), None) => (s, FieldSource::Tlv),
        (None, None) => {
            return Err(match stat {
                Some(stat) => ReceiptError::UnrecognisedStat {
                    message_id,
                    stat: stat.raw().to_owned(),
                },
                None => ReceiptError::NoState { message_id },
            });
        }
    };

    let (error, error_source) = match (
        network_error_code,
        text.as_ref().and_then(|t| t.err.as_ref()),
    ) {
        (Some(code), _) => match ascii_digits(code) {
            Some(text) => (
                Some(DeliveryError::Text(ErrCode::new(text))),
                Some(FieldSource::Tlv),
            ),
            None => (Some(DeliveryError::Network(code)), Some(FieldSource::Tlv)),
        },
        (None, Some(e)) => (
            Some(DeliveryError::Text(e.clone())),
            Some(FieldSource::Text),
        ),
        (None, None) => (None, None),
    };

    Ok(Receipt {
        normalized_id: normalize(message_id.as_bytes(), IdFormat::Auto),
        message_id,
        state,
        error,
        text,
        source: ReceiptSource {
            id: id_source,
            state: state_source,
            error: error_source,
        },
    })
}

/// Some SMSCs write the text receipt's `err:` digits into the `network_error_code` TLV
/// (`"000"` as three ASCII octets, seen in Jasmin's receipt test data). Real network types
/// are 1–8, so three ASCII digits cannot be a genuine code: read them as the text error.
fn ascii_digits(code: NetworkErrorCode) -> Option<String> {
    let [hi, lo] = code.error_code.to_be_bytes();
    let octets = [code.network_type, hi, lo];
    octets
        .iter()
        .all(u8::is_ascii_digit)
        .then(|| octets.iter().map(|&b| char::from(b)).collect())
}

/// Whitespace for receipts: ASCII space, tab, CR, LF, and NUL (C-string terminators and
/// padding some SMSCs leave in `short_message` and `receipted_message_id`).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0)
}

/// `b` without leading and trailing [`is_space`] bytes.
fn trim_bytes(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| !is_space(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| !is_space(c))
        .map_or(start, |i| i + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_bytes_handles_all_space_and_empty() {
        assert_eq!(trim_bytes(b""), b"");
        assert_eq!(trim_bytes(b" \0\r\n"), b"");
        assert_eq!(trim_bytes(b"\0 a b\0\0"), b"a b");
    }
}
