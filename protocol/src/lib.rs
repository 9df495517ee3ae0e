//! `kori-smpp`: the SMPP 3.4 wire format as plain data, with no I/O, no clock and no logging.
//!
//! Owns: PDU framing and the two-stage decoder (header, then body), every SMPP 3.4 PDU and TLV,
//! text encodings (GSM 03.38, Latin-1, IA5, UCS-2), segmentation and reassembly of long messages,
//! and the parsing of delivery receipts. Must not touch: sockets, tasks, time, storage.
//! Called by Kori's SMPP sessions (`kori::smpp`), its receipt matcher (`kori::dlr`) and its
//! HTTP intake (segment counts before a message is accepted).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod body;
mod error;
#[cfg(feature = "codec")]
mod framed;
mod header;
mod octets;
mod pdu;
mod status;
mod tlv;
mod types;
mod wire;

pub use body::{
    AlertNotification, Bind, BindResp, CancelSm, DataSm, DeliverSm, DestAddress, Outbind, QuerySm,
    QuerySmResp, ReplaceSm, SmResp, SubmitMulti, SubmitMultiResp, SubmitSm, UnsuccessSme,
};
pub use error::{BodyError, EncodeError};
#[cfg(feature = "codec")]
pub use framed::{CodecError, SmppCodec};
pub use header::{CommandId, DEFAULT_MAX_PDU_LEN, HEADER_LEN, Header, HeaderError, frame_len};
pub use octets::{
    Address, AddressRange, COctetString, DistributionListName, LongAddress, MessageId, Password,
    ServiceType, SmppTime, StringError, SystemId, SystemType, TlvString,
};
pub use pdu::{Command, Frame, Pdu, decode, decode_shared, encode, encode_to_vec, error_response};
pub use status::CommandStatus;
pub use tlv::{NetworkErrorCode, Tlv, TlvList, TlvTag};
pub use types::{DataCoding, EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton};
pub mod receipt;
pub mod segment;
pub mod text;
