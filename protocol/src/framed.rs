//! `tokio_util::codec` adapter (feature `codec`): splits a byte stream into [`Frame`]s and
//! writes [`Command`]s.
//!
//! Owns the streaming side of framing: partial reads wait for more bytes, a whole frame is
//! always consumed (a bad body costs one PDU, not the stream), and a bad header is a stream
//! error after which the connection must close.

use crate::error::EncodeError;
use crate::header::{DEFAULT_MAX_PDU_LEN, HeaderError, frame_len};
use crate::pdu::{Command, Frame, decode_shared, encode};
use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

/// Frames SMPP PDUs on a byte stream.
#[derive(Debug, Clone, Copy)]
pub struct SmppCodec {
    max_pdu_len: u32,
}

impl SmppCodec {
    /// A codec refusing PDUs longer than `max_pdu_len` octets.
    pub fn new(max_pdu_len: u32) -> Self {
        Self { max_pdu_len }
    }
}

impl Default for SmppCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PDU_LEN)
    }
}

/// A stream-level failure: the connection cannot continue.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The header's length is out of bounds; the stream is out of step.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A command could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The transport failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Decoder for SmppCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        match frame_len(src, self.max_pdu_len)? {
            None => {
                if src.len() >= 4 {
                    // The length is known and sane: reserve for the rest of this frame once.
                    let want = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
                    src.reserve(want.saturating_sub(src.len()));
                }
                Ok(None)
            }
            Some(n) => {
                let pdu = src.split_to(n).freeze();
                Ok(Some(decode_shared(&pdu)))
            }
        }
    }
}

impl Encoder<&Command> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, cmd: &Command, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode(cmd, dst)?;
        Ok(())
    }
}

impl Encoder<Command> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, cmd: Command, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode(&cmd, dst)?;
        Ok(())
    }
}
