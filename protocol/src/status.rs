//! `command_status` (SMPP 3.4 §5.1.3): the error codes of Table 5-2, as an open enum.
//!
//! Owns the names and meanings of the codes. A code the spec does not list (a vendor's) stays a
//! number in [`CommandStatus::Other`] and travels to logs and the API as such, never as a decode
//! error. Used by the codec, the session (retry decisions) and the outbox (error reporting).

use std::fmt;

macro_rules! command_status {
    ($( $(#[$doc:meta])* $variant:ident = $value:literal, $name:literal; )*) => {
        /// SMPP 3.4 `command_status`. `From<u32>` never puts a listed code in `Other`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CommandStatus {
            $( $(#[$doc])* $variant, )*
            /// A code not in SMPP 3.4 Table 5-2 (reserved, or vendor-specific 0x400–0x4FF).
            Other(u32),
        }

        impl From<u32> for CommandStatus {
            fn from(value: u32) -> Self {
                match value {
                    $( $value => Self::$variant, )*
                    other => Self::Other(other),
                }
            }
        }

        impl From<CommandStatus> for u32 {
            fn from(value: CommandStatus) -> u32 {
                match value {
                    $( CommandStatus::$variant => $value, )*
                    CommandStatus::Other(other) => other,
                }
            }
        }

        impl CommandStatus {
            /// The spec's symbolic name (`ESME_RTHROTTLED`), or `None` for an unlisted code.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$variant => Some($name), )*
                    Self::Other(_) => None,
                }
            }
        }
    };
}

command_status! {
    /// No error.
    Ok = 0x0000_0000, "ESME_ROK";
    /// Message length is invalid.
    InvalidMessageLength = 0x0000_0001, "ESME_RINVMSGLEN";
    /// Command length is invalid.
    InvalidCommandLength = 0x0000_0002, "ESME_RINVCMDLEN";
    /// Invalid command ID.
    InvalidCommandId = 0x0000_0003, "ESME_RINVCMDID";
    /// Incorrect bind status for the given command.
    IncorrectBindStatus = 0x0000_0004, "ESME_RINVBNDSTS";
    /// ESME already in bound state.
    AlreadyBound = 0x0000_0005, "ESME_RALYBND";
    /// Invalid priority flag.
    InvalidPriorityFlag = 0x0000_0006, "ESME_RINVPRTFLG";
    /// Invalid registered delivery flag.
    InvalidRegisteredDeliveryFlag = 0x0000_0007, "ESME_RINVREGDLVFLG";
    /// System error.
    SystemError = 0x0000_0008, "ESME_RSYSERR";
    /// Invalid source address.
    InvalidSourceAddress = 0x0000_000A, "ESME_RINVSRCADR";
    /// Invalid destination address.
    InvalidDestinationAddress = 0x0000_000B, "ESME_RINVDSTADR";
    /// Message ID is invalid.
    InvalidMessageId = 0x0000_000C, "ESME_RINVMSGID";
    /// Bind failed.
    BindFailed = 0x0000_000D, "ESME_RBINDFAIL";
    /// Invalid password.
    InvalidPassword = 0x0000_000E, "ESME_RINVPASWD";
    /// Invalid system ID.
    InvalidSystemId = 0x0000_000F, "ESME_RINVSYSID";
    /// cancel_sm failed.
    CancelFailed = 0x0000_0011, "ESME_RCANCELFAIL";
    /// replace_sm failed.
    ReplaceFailed = 0x0000_0013, "ESME_RREPLACEFAIL";
    /// Message queue full.
    MessageQueueFull = 0x0000_0014, "ESME_RMSGQFUL";
    /// Invalid service type.
    InvalidServiceType = 0x0000_0015, "ESME_RINVSERTYP";
    /// Invalid number of destinations.
    InvalidNumberOfDestinations = 0x0000_0033, "ESME_RINVNUMDESTS";
    /// Invalid distribution list name.
    InvalidDistributionListName = 0x0000_0034, "ESME_RINVDLNAME";
    /// Destination flag is invalid (submit_multi).
    InvalidDestinationFlag = 0x0000_0040, "ESME_RINVDESTFLAG";
    /// Invalid "submit with replace" request.
    InvalidSubmitWithReplace = 0x0000_0042, "ESME_RINVSUBREP";
    /// Invalid esm_class field data.
    InvalidEsmClass = 0x0000_0043, "ESME_RINVESMCLASS";
    /// Cannot submit to distribution list.
    CannotSubmitToDistributionList = 0x0000_0044, "ESME_RCNTSUBDL";
    /// submit_sm or submit_multi failed.
    SubmitFailed = 0x0000_0045, "ESME_RSUBMITFAIL";
    /// Invalid source address TON.
    InvalidSourceTon = 0x0000_0048, "ESME_RINVSRCTON";
    /// Invalid source address NPI.
    InvalidSourceNpi = 0x0000_0049, "ESME_RINVSRCNPI";
    /// Invalid destination address TON.
    InvalidDestinationTon = 0x0000_0050, "ESME_RINVDSTTON";
    /// Invalid destination address NPI.
    InvalidDestinationNpi = 0x0000_0051, "ESME_RINVDSTNPI";
    /// Invalid system_type field.
    InvalidSystemType = 0x0000_0053, "ESME_RINVSYSTYP";
    /// Invalid replace_if_present flag.
    InvalidReplaceIfPresentFlag = 0x0000_0054, "ESME_RINVREPFLAG";
    /// Invalid number of messages.
    InvalidNumberOfMessages = 0x0000_0055, "ESME_RINVNUMMSGS";
    /// Throttling error (ESME has exceeded allowed message limits).
    Throttled = 0x0000_0058, "ESME_RTHROTTLED";
    /// Invalid scheduled delivery time.
    InvalidScheduledDeliveryTime = 0x0000_0061, "ESME_RINVSCHED";
    /// Invalid message validity period (expiry time).
    InvalidExpiry = 0x0000_0062, "ESME_RINVEXPIRY";
    /// Predefined message invalid or not found.
    InvalidDefaultMessageId = 0x0000_0063, "ESME_RINVDFTMSGID";
    /// ESME receiver temporary application error.
    ReceiverTemporaryError = 0x0000_0064, "ESME_RX_T_APPN";
    /// ESME receiver permanent application error.
    ReceiverPermanentError = 0x0000_0065, "ESME_RX_P_APPN";
    /// ESME receiver reject message error.
    ReceiverRejectError = 0x0000_0066, "ESME_RX_R_APPN";
    /// query_sm request failed.
    QueryFailed = 0x0000_0067, "ESME_RQUERYFAIL";
    /// Error in the optional part of the PDU body.
    InvalidOptionalParameterStream = 0x0000_00C0, "ESME_RINVOPTPARSTREAM";
    /// Optional parameter not allowed.
    OptionalParameterNotAllowed = 0x0000_00C1, "ESME_ROPTPARNOTALLWD";
    /// Invalid parameter length.
    InvalidParameterLength = 0x0000_00C2, "ESME_RINVPARLEN";
    /// Expected optional parameter missing.
    MissingOptionalParameter = 0x0000_00C3, "ESME_RMISSINGOPTPARAM";
    /// Invalid optional parameter value.
    InvalidOptionalParameterValue = 0x0000_00C4, "ESME_RINVOPTPARAMVAL";
    /// Delivery failure (data_sm_resp).
    DeliveryFailure = 0x0000_00FE, "ESME_RDELIVERYFAILURE";
    /// Unknown error.
    UnknownError = 0x0000_00FF, "ESME_RUNKNOWNERR";
}

impl CommandStatus {
    /// True for `ESME_ROK`.
    pub fn is_ok(self) -> bool {
        self == Self::Ok
    }

    /// The code as on the wire.
    pub fn code(self) -> u32 {
        u32::from(self)
    }
}

// The enum comes out of a macro, which cannot mark one variant `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for CommandStatus {
    fn default() -> Self {
        Self::Ok
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#010x})", self.code()),
            None => write!(f, "{:#010x}", self.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn u32_round_trips_and_known_codes_never_land_in_other(code in any::<u32>()) {
            let status = CommandStatus::from(code);
            prop_assert_eq!(u32::from(status), code);
            if let CommandStatus::Other(v) = status {
                prop_assert_eq!(CommandStatus::from(v), status);
                prop_assert!(status.name().is_none());
            }
        }
    }

    #[test]
    fn every_listed_code_has_its_name() {
        for code in 0..0x200u32 {
            let status = CommandStatus::from(code);
            assert_eq!(
                status.name().is_some(),
                !matches!(status, CommandStatus::Other(_))
            );
        }
        assert_eq!(CommandStatus::from(0x58).name(), Some("ESME_RTHROTTLED"));
        assert_eq!(
            CommandStatus::from(0x0400).to_string(),
            "0x00000400",
            "a vendor code prints as a number"
        );
    }
}
