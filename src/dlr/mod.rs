//! Receipt matching: which keys a submitted segment is indexed under and which keys a
//! receipt is looked up under, per carrier.
//!
//! Owns the rule (pure functions): the `submit_sm_resp` id is read in the carrier's `dlr_id`
//! format; a receipt's id is looked up under every candidate key of
//! `kori_smpp::receipt::match_keys` in `Auto`, best first, because carriers often render the
//! receipt's id differently from the response's (hex in the response, decimal in the text).
//! Must not touch: storage or the index itself. Called by the sessions (submit keys) and by
//! whoever keeps the index (the outbox; tests).

use kori_smpp::receipt::{IdFormat, MatchKeys, NormalizedId, Receipt, match_keys, normalize};

/// The key a submitted segment is indexed under.
pub fn submit_key(message_id: &str, dlr_id: IdFormat) -> NormalizedId {
    normalize(message_id.as_bytes(), dlr_id)
}

/// The keys to look a receipt's submit up under, best first.
pub fn receipt_keys(receipt: &Receipt) -> MatchKeys {
    match_keys(receipt.message_id.as_bytes(), IdFormat::Auto)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kori_smpp::receipt::receipt_from_parts;

    fn matches(submit: &str, dlr_id: IdFormat, receipt_id: &str) -> bool {
        let receipt = receipt_from_parts(Some(receipt_id.as_bytes()), Some(2), None, None).unwrap();
        let key = submit_key(submit, dlr_id);
        receipt_keys(&receipt).any(|k| k == key)
    }

    #[test]
    fn hex_responses_match_decimal_receipts_and_back() {
        assert!(matches("1A2B3C", IdFormat::Hex, "1715004"));
        assert!(matches("1a2b3c", IdFormat::Auto, "1715004"));
        assert!(
            matches("123456", IdFormat::Hex, "1193046"),
            "hex id without letters"
        );
        assert!(
            matches("00001715004", IdFormat::Dec, "1715004"),
            "leading zeros"
        );
        assert!(
            matches("1715004", IdFormat::Dec, "1a2b3c"),
            "decimal response, hex receipt"
        );
        assert!(
            matches("7f3c-uuid-ab", IdFormat::Auto, "7F3C-UUID-AB"),
            "case of text ids"
        );
        assert!(!matches("1A2B3C", IdFormat::Hex, "1715005"));
    }
}
