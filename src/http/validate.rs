//! From a request body to an outbox [`Message`]: every check a message passes before it is
//! accepted.
//!
//! Owns the send request's shape and its rules (E.164 mobile number, text encoding and
//! segment count, sender, validity, schedule). Must not touch: the outbox's storage. Called by
//! the message routes, once per message (a batch entry fails alone).

use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};
use kori_smpp::segment::{SplitMethod, SplitOptions, count_segments};
use kori_smpp::text::{Encoding, EncodingChoice, TextError, choose};
use phonenumber::Type;
use serde::Deserialize;

use super::error::ApiError;
use crate::outbox::{Message, MessageId, MessageState, Part, TextEncoding, UnixMillis};

/// `validity` when none is given.
pub const DEFAULT_VALIDITY: SignedDuration = SignedDuration::from_hours(48);
/// Longest `validity` accepted: most SMSCs cap relative validity near three days, and a
/// reminder older than that is stale anyway.
pub const MAX_VALIDITY: SignedDuration = SignedDuration::from_hours(72);
/// Furthest ahead `send_at` may be.
pub const MAX_SCHEDULE_AHEAD: SignedDuration = SignedDuration::from_hours(30 * 24);
/// Longest `reference`, in characters.
pub const MAX_REFERENCE_CHARS: usize = 256;
/// Longest `callback_url`, in bytes.
pub const MAX_CALLBACK_URL: usize = 2048;
/// Longest `to` looked at (E.164 is at most 15 digits; room for spaces and dashes).
const MAX_PHONE_INPUT: usize = 64;
/// Highest `priority`.
pub const MAX_PRIORITY: u8 = 3;

/// The body of `POST /v1/messages`, and each entry of a batch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendRequest {
    to: String,
    text: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    receipt: Option<bool>,
    #[serde(default)]
    callback_url: Option<String>,
    #[serde(default)]
    validity: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    send_at: Option<String>,
    #[serde(default)]
    priority: Option<u8>,
}

/// The settings the checks need.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) default_region: phonenumber::country::Id,
    pub(crate) default_from: Option<String>,
    pub(crate) max_segments: usize,
}

fn invalid(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidField {
        field: field.to_owned(),
        detail: detail.into(),
    }
}

/// Checks `req` and builds the message to store, queued, owned by `owner`.
pub(crate) fn build(
    req: SendRequest,
    owner: &str,
    rules: &Rules,
    carriers: &[String],
    now: Timestamp,
) -> Result<Message, ApiError> {
    let to = mobile_number(&req.to, rules.default_region)?;
    let choice = match &req.encoding {
        None => EncodingChoice::Auto,
        Some(s) => s
            .parse::<EncodingChoice>()
            .map_err(|e| invalid("encoding", e.to_string()))?,
    };
    let (encoding, segments) = encode_plan(&req.text, choice, rules.max_segments)?;
    let from = match req.from.or_else(|| rules.default_from.clone()) {
        Some(from) => sender(from)?,
        None => return Err(invalid("from", "no sender given and none configured")),
    };
    if let Some(c) = &req.carrier {
        if !carriers.iter().any(|known| known == c) {
            return Err(ApiError::UnknownCarrier(c.clone()));
        }
    }
    if let Some(url) = &req.callback_url {
        callback_url(url)?;
    }
    let validity = match &req.validity {
        None => DEFAULT_VALIDITY,
        Some(s) => validity(s)?,
    };
    let send_at = req
        .send_at
        .as_deref()
        .map(|s| send_at(s, now))
        .transpose()?;
    if let Some(reference) = &req.reference {
        if reference.chars().count() > MAX_REFERENCE_CHARS {
            return Err(invalid(
                "reference",
                format!("at most {MAX_REFERENCE_CHARS} characters"),
            ));
        }
    }
    let priority = req.priority.unwrap_or(0);
    if priority > MAX_PRIORITY {
        return Err(invalid(
            "priority",
            format!("must be 0 to {MAX_PRIORITY}, got {priority}"),
        ));
    }

    let created_at = now.as_millisecond();
    let due_at = send_at.map_or(created_at, |t| t.max(created_at));
    Ok(Message {
        id: MessageId::generate(),
        owner: owner.to_owned(),
        to,
        from,
        text: req.text,
        encoding,
        carrier: req.carrier,
        routed_to: None,
        state: MessageState::Queued,
        parts: vec![Part::pending(); segments],
        attempts: 0,
        receipt: req.receipt.unwrap_or(true),
        callback_url: req.callback_url,
        reference: req.reference,
        priority,
        created_at,
        send_at,
        // Validity runs from when the message is due, not from when it was posted.
        valid_until: due_at.saturating_add(validity.as_millis().try_into().unwrap_or(i64::MAX)),
        due_at,
        submitted_at: None,
        done_at: None,
        error: None,
    })
}

/// `to` as E.164 with `+`, if it is a valid number that can receive SMS.
fn mobile_number(input: &str, region: phonenumber::country::Id) -> Result<String, ApiError> {
    if input.trim().is_empty() {
        return Err(ApiError::InvalidPhone("to is empty".into()));
    }
    if input.len() > MAX_PHONE_INPUT {
        return Err(ApiError::InvalidPhone(
            "to is too long for a phone number".into(),
        ));
    }
    let number = phonenumber::parse(Some(region), input)
        .map_err(|e| ApiError::InvalidPhone(format!("not a phone number: {e}")))?;
    // The type is `Unknown` exactly when `is_valid` is false (both look the number up in the
    // same metadata); asking once halves the pattern matching per number.
    match super::phone::number_type(&number) {
        Type::Mobile | Type::FixedLineOrMobile => {}
        Type::Unknown => {
            return Err(ApiError::InvalidPhone(
                "not a valid number for its country (wrong length or prefix)".into(),
            ));
        }
        other => {
            return Err(ApiError::InvalidPhone(format!(
                "a {} number cannot receive SMS; a mobile number is required",
                type_name(other)
            )));
        }
    }
    Ok(super::phone::e164(&number))
}

fn type_name(t: Type) -> &'static str {
    match t {
        Type::FixedLine => "fixed-line",
        Type::TollFree => "toll-free",
        Type::PremiumRate => "premium-rate",
        Type::SharedCost => "shared-cost",
        Type::PersonalNumber => "personal",
        Type::Voip => "VoIP",
        Type::Pager => "pager",
        Type::Uan => "UAN",
        Type::Voicemail => "voicemail",
        _ => "non-mobile",
    }
}

/// The encoding for `text` and the segments it needs (8-bit concatenation UDH).
fn encode_plan(
    text: &str,
    choice: EncodingChoice,
    max_segments: usize,
) -> Result<(TextEncoding, usize), ApiError> {
    if text.is_empty() {
        return Err(ApiError::EmptyText);
    }
    let encoding = choose(text, choice).map_err(|e| invalid("text", e.to_string()))?;
    let stored = match encoding {
        Encoding::Gsm7 => TextEncoding::Gsm7,
        Encoding::Latin1 => TextEncoding::Latin1,
        Encoding::Ucs2 => TextEncoding::Ucs2,
        other => return Err(invalid("encoding", format!("{other} is not offered"))),
    };
    let segments = match count_segments(text, encoding, SplitMethod::Udh8, &SplitOptions::default())
    {
        Ok(n) => n,
        Err(TextError::TooManySegments { needed }) => needed,
        Err(e) => return Err(invalid("text", e.to_string())),
    };
    if segments > max_segments {
        return Err(ApiError::TextTooLong {
            segments,
            max: max_segments,
        });
    }
    Ok((stored, segments))
}

/// A sender: a number of up to 15 digits (optionally with `+`), or up to 11 printable ASCII
/// characters (the alphanumeric sender ID limit of TS 23.040).
fn sender(from: String) -> Result<String, ApiError> {
    let digits = from.strip_prefix('+').unwrap_or(&from);
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let ok = if numeric {
        digits.len() <= 15
    } else {
        (1..=11).contains(&from.len()) && from.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
    };
    if ok && !from.trim().is_empty() {
        Ok(from)
    } else {
        Err(invalid(
            "from",
            "must be up to 15 digits or up to 11 printable ASCII characters",
        ))
    }
}

fn callback_url(url: &str) -> Result<(), ApiError> {
    let bad = || invalid("callback_url", "must be an absolute http or https URL");
    if url.len() > MAX_CALLBACK_URL {
        return Err(invalid(
            "callback_url",
            format!("at most {MAX_CALLBACK_URL} bytes"),
        ));
    }
    let uri = axum::http::Uri::from_str(url).map_err(|_| bad())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(()),
        _ => Err(bad()),
    }
}

fn validity(s: &str) -> Result<SignedDuration, ApiError> {
    let d = SignedDuration::from_str(s).map_err(|_| {
        invalid(
            "validity",
            format!("not a duration: {s:?}; write e.g. \"90m\" or \"2h\""),
        )
    })?;
    if d <= SignedDuration::ZERO || d > MAX_VALIDITY {
        return Err(invalid(
            "validity",
            format!("must be more than 0 and at most {MAX_VALIDITY:#}"),
        ));
    }
    Ok(d)
}

fn send_at(s: &str, now: Timestamp) -> Result<UnixMillis, ApiError> {
    let t = Timestamp::from_str(s).map_err(|_| {
        invalid(
            "send_at",
            "must be an RFC 3339 time with an offset, e.g. 2025-01-31T18:00:00+02:00",
        )
    })?;
    if t.duration_since(now) > MAX_SCHEDULE_AHEAD {
        return Err(invalid(
            "send_at",
            format!("at most {MAX_SCHEDULE_AHEAD:#} ahead"),
        ));
    }
    Ok(t.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            default_region: phonenumber::country::Id::FI,
            default_from: Some("Kori".into()),
            max_segments: 10,
        }
    }

    fn request(to: &str, text: &str) -> SendRequest {
        SendRequest {
            to: to.into(),
            text: text.into(),
            from: None,
            carrier: None,
            receipt: None,
            callback_url: None,
            validity: None,
            encoding: None,
            reference: None,
            send_at: None,
            priority: None,
        }
    }

    fn slug(r: Result<Message, ApiError>) -> &'static str {
        r.map(|_| "ok").unwrap_or_else(|e| e.kind().1)
    }

    #[test]
    fn national_mobile_number_becomes_e164() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let m = build(request("040 123 4567", "hei"), "shop", &rules(), &[], now).unwrap();
        assert_eq!(m.to, "+358401234567");
        assert_eq!(m.encoding, TextEncoding::Gsm7);
        assert_eq!(m.segments(), 1);
        assert_eq!(m.state, MessageState::Queued);
        assert!(m.receipt);
        assert_eq!(m.valid_until - m.due_at, 48 * 3_600_000);
    }

    #[test]
    fn numbers_that_cannot_take_sms_are_refused() {
        let now = Timestamp::now();
        for to in ["+3581", "+35891234567", "", "hello", &"9".repeat(100)] {
            assert_eq!(
                slug(build(request(to, "x"), "s", &rules(), &[], now)),
                "invalid-phone",
                "{to}"
            );
        }
    }

    #[test]
    fn text_rules() {
        let now = Timestamp::now();
        let r = rules();
        assert_eq!(
            slug(build(request("+358401234567", ""), "s", &r, &[], now)),
            "empty-text"
        );
        let long = "a".repeat(10_000);
        match build(request("+358401234567", &long), "s", &r, &[], now) {
            Err(ApiError::TextTooLong { segments, max }) => {
                assert_eq!((segments, max), (66, 10));
            }
            other => panic!("{other:?}"),
        }
        let m = build(request("+358401234567", "Привет"), "s", &r, &[], now).unwrap();
        assert_eq!(m.encoding, TextEncoding::Ucs2);
        let mut gsm = request("+358401234567", "Привет");
        gsm.encoding = Some("gsm7".into());
        assert_eq!(slug(build(gsm, "s", &r, &[], now)), "invalid-field");
    }

    #[test]
    fn optional_field_rules() {
        let now = Timestamp::now();
        let r = rules();
        let with = |f: &dyn Fn(&mut SendRequest)| {
            let mut req = request("+358401234567", "hi");
            f(&mut req);
            build(req, "s", &r, &["telia".into()], now).map_err(|e| e.field().map(str::to_owned))
        };
        assert_eq!(
            with(&|q| q.validity = Some("73h".into()))
                .unwrap_err()
                .as_deref(),
            Some("validity")
        );
        assert_eq!(
            with(&|q| q.validity = Some("soon".into()))
                .unwrap_err()
                .as_deref(),
            Some("validity")
        );
        assert!(with(&|q| q.validity = Some("90m".into())).is_ok());
        assert_eq!(
            with(&|q| q.priority = Some(4)).unwrap_err().as_deref(),
            Some("priority")
        );
        assert_eq!(
            with(&|q| q.carrier = Some("elisa".into()))
                .unwrap_err()
                .as_deref(),
            Some("carrier")
        );
        assert!(with(&|q| q.carrier = Some("telia".into())).is_ok());
        assert_eq!(
            with(&|q| q.from = Some("TwelveLetter".into()))
                .unwrap_err()
                .as_deref(),
            Some("from")
        );
        assert!(with(&|q| q.from = Some("+358401234567".into())).is_ok());
        assert_eq!(
            with(&|q| q.callback_url = Some("ftp://x/".into()))
                .unwrap_err()
                .as_deref(),
            Some("callback_url")
        );
        assert!(with(&|q| q.callback_url = Some("https://shop.example/cb".into())).is_ok());
        assert_eq!(
            with(&|q| q.send_at = Some("tomorrow".into()))
                .unwrap_err()
                .as_deref(),
            Some("send_at")
        );
        assert_eq!(
            with(&|q| q.encoding = Some("utf8".into()))
                .unwrap_err()
                .as_deref(),
            Some("encoding")
        );
        let later = with(&|q| q.send_at = Some("2999-01-01T00:00:00Z".into()));
        assert_eq!(later.unwrap_err().as_deref(), Some("send_at"));
    }
}
