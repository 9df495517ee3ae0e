//! Fuzz target: arbitrary bytes through the frame splitter and both decoders; whatever decodes
//! must re-encode, and decode again to the same command. A panic is a bug; keep its input as a
//! fixture in `protocol/tests/`.
#![no_main]

use bytes::{Bytes, BytesMut};
use kori_smpp::{Command, DEFAULT_MAX_PDU_LEN, decode, decode_shared, encode, frame_len};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some(n)) = frame_len(rest, DEFAULT_MAX_PDU_LEN) {
        let (pdu, tail) = rest.split_at(n);
        rest = tail;
        let frame = decode(pdu);
        assert_eq!(frame, decode_shared(&Bytes::copy_from_slice(pdu)));
        if let Ok(command) = frame.clone().into_command() {
            let mut out = BytesMut::new();
            if encode(&command, &mut out).is_ok() {
                let again: Command = decode(&out).into_command().expect("re-encoded PDU decodes");
                assert_eq!(again, command);
            }
        }
    }
    // A single frame regardless of its length field.
    let _ = decode(data);
});
