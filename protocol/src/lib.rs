//! `kori-smpp`: the SMPP 3.4 wire format as plain data, with no I/O, no clock and no logging.
//!
//! Owns: PDU framing and the two-stage decoder (header, then body), every SMPP 3.4 PDU and TLV,
//! text encodings (GSM 03.38, Latin-1, IA5, UCS-2), segmentation and reassembly of long messages,
//! and the parsing of delivery receipts. Must not touch: sockets, tasks, time, storage.
//! Called by Kori's SMPP sessions (`kori::smpp`), its receipt matcher (`kori::dlr`) and its
//! HTTP intake (segment counts before a message is accepted).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod segment;
pub mod text;
