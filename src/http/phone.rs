//! The type of a parsed phone number (mobile, fixed line, …) from phonenumber's metadata,
//! with the metadata's patterns compiled once per thread.
//!
//! phonenumber answers the same question (`PhoneNumber::number_type`), but each of the up to
//! a dozen pattern matches per number takes its global regex cache's lock and looks the
//! pattern up by its source text in an LRU of 100 patterns (recompiling when more regions
//! than that are in use). Intake asks once per message, so this module keeps its own compiled
//! patterns per thread, keyed by where the pattern lives in phonenumber's static metadata, and
//! follows phonenumber's own steps exactly (`validator::source_for`, `validator::number_type`,
//! `Descriptor::is_match`); a test compares the two over every region's example numbers.

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use phonenumber::{PhoneNumber, Type};
use regex::{Regex, RegexBuilder};
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// Compiled patterns by the address of their `CachedRegex` in the static metadata.
    static COMPILED: RefCell<HashMap<usize, Option<Regex>>> = RefCell::new(HashMap::new());
}

/// `number` in E.164 with `+`: what phonenumber's formatter writes in `Mode::E164` (`+`,
/// the country code, the national number with its leading zeros), without the formatter's
/// search for a national format pattern, which E.164 does not use. For a number whose type
/// is known (its country has metadata), as intake's are.
pub(crate) fn e164(number: &PhoneNumber) -> String {
    format!("+{}{}", number.code().value(), number.national())
}

/// Whether a pattern of the metadata matches `value` at its start, as phonenumber's matches
/// do (`find`, then a match starting at 0). The pattern is compiled anchored at the start:
/// the leftmost match starts at 0 exactly when some match does, and an anchored search stops
/// at the first position. `at` is where the pattern lives in the static metadata (its cache
/// key), `source` its text.
fn matches_at_start<P: ?Sized>(at: &'static P, source: &str, value: &str) -> bool {
    let key = std::ptr::from_ref(at).cast::<u8>() as usize;
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        let regex = compiled
            .entry(key)
            // As phonenumber builds them: the metadata's patterns are laid out over lines.
            .or_insert_with(|| {
                // The closing parenthesis on a line of its own, in case the pattern ends in a
                // `#` comment (whitespace-insensitive mode).
                RegexBuilder::new(&format!("\\A(?:{source}\n)"))
                    .ignore_whitespace(true)
                    .build()
                    .ok()
            });
        match regex {
            Some(regex) => regex.is_match(value),
            // The metadata's patterns all compile; one that did not would not match in
            // phonenumber either.
            None => false,
        }
    })
}

/// `Descriptor::is_match`: a possible length, then the pattern.
fn is_match(descriptor: Option<&'static Descriptor>, value: &str) -> bool {
    let Some(d) = descriptor else {
        return false;
    };
    let lengths = d.possible_length();
    if !lengths.is_empty() && !lengths.contains(&(value.len() as u16)) {
        return false;
    }
    let pattern = d.national_number();
    matches_at_start(pattern, pattern.as_str(), value)
}

/// `validator::number_type`.
fn type_in(meta: &'static Metadata, value: &str) -> Type {
    let d = meta.descriptors();
    if !is_match(Some(d.general()), value) {
        return Type::Unknown;
    }
    let ordered = [
        (d.premium_rate(), Type::PremiumRate),
        (d.toll_free(), Type::TollFree),
        (d.shared_cost(), Type::SharedCost),
        (d.voip(), Type::Voip),
        (d.personal_number(), Type::PersonalNumber),
        (d.pager(), Type::Pager),
        (d.uan(), Type::Uan),
        (d.voicemail(), Type::Voicemail),
    ];
    for (descriptor, kind) in ordered {
        if is_match(descriptor, value) {
            return kind;
        }
    }
    if is_match(d.fixed_line(), value) {
        let same_pattern = d.fixed_line().map(|f| f.national_number().as_str())
            == d.mobile().map(|m| m.national_number().as_str());
        if same_pattern || is_match(d.mobile(), value) {
            return Type::FixedLineOrMobile;
        }
        return Type::FixedLine;
    }
    if is_match(d.mobile(), value) {
        return Type::Mobile;
    }
    Type::Unknown
}

/// `validator::source_for` and the metadata it names.
fn metadata_for(code: u16, national: &str) -> Option<&'static Metadata> {
    let regions = DATABASE.region(&code)?;
    if let [only] = regions.as_slice() {
        return if *only == "001" {
            DATABASE.by_code(&code)?.into_iter().next()
        } else {
            DATABASE.by_id(*only)
        };
    }
    for region in regions {
        let Some(meta) = DATABASE.by_id(region) else {
            continue;
        };
        match meta.leading_digits() {
            Some(pattern) => {
                if matches_at_start(pattern, pattern.as_str(), national) {
                    return Some(meta);
                }
            }
            None => {
                if type_in(meta, national) != Type::Unknown {
                    return Some(meta);
                }
            }
        }
    }
    None
}

/// The type of `number`: what `number.number_type(&DATABASE)` says.
pub(crate) fn number_type(number: &PhoneNumber) -> Type {
    let national = number.national().value().to_string();
    match metadata_for(number.code().value(), &national) {
        Some(meta) => type_in(meta, &national),
        None => Type::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example number of every region and type in the metadata, and some numbers that
    /// are not: the same type as phonenumber's own lookup, and the same E.164 as its
    /// formatter (Italian numbers keep their leading zero).
    #[test]
    fn agrees_with_phonenumber_on_every_example() {
        let mut checked = 0;
        for code in 1..1000u16 {
            let Some(regions) = DATABASE.region(&code) else {
                continue;
            };
            for region in regions {
                let Some(meta) = DATABASE.by_id(region) else {
                    continue;
                };
                let d = meta.descriptors();
                let descriptors = [
                    Some(d.general()),
                    d.fixed_line(),
                    d.mobile(),
                    d.toll_free(),
                    d.premium_rate(),
                    d.shared_cost(),
                    d.personal_number(),
                    d.voip(),
                    d.pager(),
                    d.uan(),
                    d.voicemail(),
                ];
                for example in descriptors
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.example())
                {
                    for national in [
                        example.to_owned(),
                        format!("{example}9"),
                        example[1..].to_owned(),
                    ] {
                        let Ok(number) = phonenumber::parse(None, format!("+{code}{national}"))
                        else {
                            continue;
                        };
                        let kind = number_type(&number);
                        assert_eq!(
                            kind,
                            number.number_type(&DATABASE),
                            "+{code} {national} ({region})"
                        );
                        if kind != Type::Unknown {
                            assert_eq!(
                                e164(&number),
                                number.format().mode(phonenumber::Mode::E164).to_string(),
                                "+{code} {national} ({region})"
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 2_000, "only {checked} numbers checked");
    }
}
