//! Test support: finds `tshark` and writes TCP payloads into a classic pcap file for it to
//! read. Used by `protocol/tests/wireshark.rs` (one PDU per segment) and by the daemon's
//! `tests/it/wireshark_session.rs` (a recorded session, both directions).
//!
//! Link type Ethernet; the ESME is 10.0.0.1:40000, the SMSC 10.0.0.2:2775. Each payload is one
//! TCP segment (PSH|ACK) with contiguous sequence numbers per direction and the other
//! direction's next sequence number as its ACK; no handshake, TCP checksums left zero
//! (unverified by default).
// Shared by two test crates, each of which uses part of it.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// The `tshark` to run, or `None` (after saying so on stderr) when it is not installed on a
/// developer machine. With `CI` set a missing tshark is a failure, so CI cannot skip silently.
pub fn tshark_or_skip() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tshark"))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => {
            panic!("tshark not found on PATH but CI is set: CI must install it (see .ci/run)")
        }
        None => {
            eprintln!("skipping: tshark not installed (CI installs it)");
            None
        }
    }
}

/// The ESME's port in the capture.
pub const ESME_PORT: u16 = 40_000;
/// The SMSC's port in the capture (SMPP's registered port).
pub const SMSC_PORT: u16 = 2775;

/// Which way a payload went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// ESME to SMSC.
    ToSmsc,
    /// SMSC to ESME.
    ToEsme,
}

/// The capture of `segments`, in order.
pub fn write<'a>(segments: impl IntoIterator<Item = (Direction, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes()); // magic, microseconds
    out.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65_535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET

    let esme = ([10, 0, 0, 1], ESME_PORT, [0x02, 0, 0, 0, 0, 0x01]);
    let smsc = ([10, 0, 0, 2], SMSC_PORT, [0x02, 0, 0, 0, 0, 0x02]);
    // Next sequence number of each side.
    let (mut esme_seq, mut smsc_seq): (u32, u32) = (1_000, 500_000);
    for (n, (direction, payload)) in segments.into_iter().enumerate() {
        let (from, to, seq, ack) = match direction {
            Direction::ToSmsc => (esme, smsc, &mut esme_seq, smsc_seq),
            Direction::ToEsme => (smsc, esme, &mut smsc_seq, esme_seq),
        };
        let mut frame = Vec::with_capacity(54 + payload.len());
        // Ethernet II.
        frame.extend_from_slice(&to.2);
        frame.extend_from_slice(&from.2);
        frame.extend_from_slice(&0x0800u16.to_be_bytes());
        // IPv4, no options.
        let total = u16::try_from(20 + 20 + payload.len()).expect("a segment fits an IPv4 packet");
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[4..6].copy_from_slice(&(n as u16).to_be_bytes());
        ip[6] = 0x40; // don't fragment
        ip[8] = 64; // TTL
        ip[9] = 6; // TCP
        ip[12..16].copy_from_slice(&from.0);
        ip[16..20].copy_from_slice(&to.0);
        let checksum = ipv4_checksum(&ip);
        ip[10..12].copy_from_slice(&checksum.to_be_bytes());
        frame.extend_from_slice(&ip);
        // TCP, no options, PSH|ACK.
        frame.extend_from_slice(&from.1.to_be_bytes());
        frame.extend_from_slice(&to.1.to_be_bytes());
        frame.extend_from_slice(&seq.to_be_bytes());
        frame.extend_from_slice(&ack.to_be_bytes());
        frame.push(5 << 4); // data offset
        frame.push(0x18); // PSH|ACK
        frame.extend_from_slice(&65_535u16.to_be_bytes()); // window
        frame.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
        frame.extend_from_slice(payload);
        *seq = seq.wrapping_add(u32::try_from(payload.len()).expect("a segment is small"));

        let len = u32::try_from(frame.len()).expect("a frame is small");
        let (secs, micros) = (n / 1_000, n % 1_000);
        out.extend_from_slice(&(1_700_000_000 + secs as u32).to_le_bytes()); // ts_sec
        out.extend_from_slice(&(micros as u32 * 1_000).to_le_bytes()); // ts_usec
        out.extend_from_slice(&len.to_le_bytes()); // incl_len
        out.extend_from_slice(&len.to_le_bytes()); // orig_len
        out.extend_from_slice(&frame);
    }
    out
}

fn ipv4_checksum(header: &[u8; 20]) -> u16 {
    let sum: u32 = header
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let folded = (sum & 0xFFFF) + (sum >> 16);
    !((folded & 0xFFFF) + (folded >> 16)) as u16
}
