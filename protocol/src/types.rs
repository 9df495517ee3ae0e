//! Small code sets of SMPP 3.4 §5.2 as open newtypes with named constants: TON, NPI,
//! `data_coding`, `esm_class`, `registered_delivery`, interface version.
//!
//! Owns the meaning of those octets. Any octet is a valid value (a carrier's private code
//! passes through unchanged); the constants name the ones the spec defines.

use std::fmt;

macro_rules! open_u8 {
    ($(#[$doc:meta])* $name:ident { $( $(#[$cdoc:meta])* $konst:ident = $value:literal, )* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
        pub struct $name(pub u8);

        impl $name {
            $( $(#[$cdoc])* pub const $konst: Self = Self($value); )*

            /// The constant's name, if the spec defines this value.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(stringify!($konst)), )*
                    _ => None,
                }
            }
        }

        impl From<u8> for $name {
            fn from(value: u8) -> Self {
                Self(value)
            }
        }

        impl From<$name> for u8 {
            fn from(value: $name) -> u8 {
                value.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", stringify!($name), n),
                    None => write!(f, "{}({:#04x})", stringify!($name), self.0),
                }
            }
        }
    };
}

open_u8! {
    /// Type of number (§5.2.5).
    Ton {
        /// Unknown.
        UNKNOWN = 0,
        /// International (E.164 without the `+`).
        INTERNATIONAL = 1,
        /// National.
        NATIONAL = 2,
        /// Network specific (short codes on many networks).
        NETWORK_SPECIFIC = 3,
        /// Subscriber number.
        SUBSCRIBER_NUMBER = 4,
        /// Alphanumeric sender.
        ALPHANUMERIC = 5,
        /// Abbreviated.
        ABBREVIATED = 6,
    }
}

open_u8! {
    /// Numbering plan indicator (§5.2.6).
    Npi {
        /// Unknown.
        UNKNOWN = 0,
        /// ISDN (E.163/E.164).
        ISDN = 1,
        /// Data (X.121).
        DATA = 3,
        /// Telex (F.69).
        TELEX = 4,
        /// Land mobile (E.212).
        LAND_MOBILE = 6,
        /// National.
        NATIONAL = 8,
        /// Private.
        PRIVATE = 9,
        /// ERMES.
        ERMES = 10,
        /// Internet (IP).
        INTERNET = 14,
        /// WAP client id.
        WAP_CLIENT_ID = 18,
    }
}

open_u8! {
    /// `data_coding` (§5.2.19). The text module maps these to encodings.
    DataCoding {
        /// SMSC default alphabet (GSM 03.38 on most networks).
        DEFAULT = 0x00,
        /// IA5 (CCITT T.50) / ASCII.
        IA5 = 0x01,
        /// Octet unspecified (8-bit binary).
        BINARY_2 = 0x02,
        /// Latin 1 (ISO-8859-1).
        LATIN1 = 0x03,
        /// Octet unspecified (8-bit binary).
        BINARY = 0x04,
        /// JIS (X 0208-1990).
        JIS = 0x05,
        /// Cyrillic (ISO-8859-5).
        CYRILLIC = 0x06,
        /// Latin/Hebrew (ISO-8859-8).
        HEBREW = 0x07,
        /// UCS2 (ISO/IEC-10646), big-endian.
        UCS2 = 0x08,
        /// Pictogram encoding.
        PICTOGRAM = 0x09,
        /// ISO-2022-JP (music codes).
        ISO_2022_JP = 0x0A,
        /// Extended Kanji JIS (X 0212-1990).
        KANJI_JIS = 0x0D,
        /// KS C 5601.
        KS_C_5601 = 0x0E,
    }
}

open_u8! {
    /// `esm_class` (§5.2.12): messaging mode, message type and GSM features in one octet.
    EsmClass {
        /// Default mode, default message type, no GSM features.
        DEFAULT = 0x00,
        /// Message type: SMSC delivery receipt (in `deliver_sm`).
        DELIVERY_RECEIPT = 0x04,
        /// Message type: intermediate delivery notification.
        INTERMEDIATE_NOTIFICATION = 0x20,
        /// GSM feature: UDH indicator; `short_message` starts with a user data header.
        UDHI = 0x40,
        /// GSM feature: reply path.
        REPLY_PATH = 0x80,
    }
}

impl EsmClass {
    /// Bits 5..2: the message type.
    pub fn message_type(self) -> u8 {
        self.0 & 0x3C
    }

    /// True when the message is a delivery receipt or an intermediate notification.
    pub fn is_receipt(self) -> bool {
        matches!(self.message_type(), 0x04 | 0x08 | 0x10 | 0x20)
    }

    /// True when `short_message` begins with a user data header.
    pub fn has_udh(self) -> bool {
        self.0 & 0x40 != 0
    }

    /// This value with the UDH indicator set or cleared.
    pub fn with_udh(self, udh: bool) -> Self {
        if udh {
            Self(self.0 | 0x40)
        } else {
            Self(self.0 & !0x40)
        }
    }
}

open_u8! {
    /// `registered_delivery` (§5.2.17).
    RegisteredDelivery {
        /// No SMSC delivery receipt.
        NONE = 0x00,
        /// Receipt on final outcome, success or failure.
        ON_FINAL = 0x01,
        /// Receipt on failure only.
        ON_FAILURE = 0x02,
    }
}

open_u8! {
    /// `interface_version` (§5.2.4).
    InterfaceVersion {
        /// SMPP 3.3 or earlier.
        V33 = 0x33,
        /// SMPP 3.4.
        V34 = 0x34,
        /// SMPP 5.0.
        V50 = 0x50,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_sets_keep_unknown_values() {
        assert_eq!(Ton::from(0x77).0, 0x77);
        assert_eq!(format!("{:?}", Ton::from(0x77)), "Ton(0x77)");
        assert_eq!(format!("{:?}", Ton::ALPHANUMERIC), "Ton::ALPHANUMERIC");
        assert_eq!(Npi::ISDN.name(), Some("ISDN"));
    }

    #[test]
    fn esm_class_bits() {
        assert!(EsmClass(0x04).is_receipt());
        assert!(!EsmClass(0x40).is_receipt());
        assert!(EsmClass(0x44).has_udh());
        assert_eq!(EsmClass::DEFAULT.with_udh(true), EsmClass::UDHI);
        assert_eq!(EsmClass(0x43).with_udh(false), EsmClass(0x03));
    }
}
