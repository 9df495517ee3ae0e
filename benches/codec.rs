//! Codec throughput, Kori's `kori-smpp` side by side with the published Rust SMPP stacks
//! `rusmpp` (owned and zero-copy borrowed APIs) and `smpp34`, on the same bytes in one run:
//! decode and encode of a `submit_sm` and of a `deliver_sm` receipt, and a 3-part UCS-2 text
//! split into `submit_sm`s.
//!
//! Run with `cargo bench --bench codec`. Every path gets the same input; where a library can
//! only decode from its own buffer type (rusmpp owned takes a `BytesMut`) or only encode by
//! consuming the PDU (smpp34), the buffer copy or clone is done in criterion's untimed setup,
//! and a second row shows the cost including it where that is what a caller pays.
#![allow(clippy::unwrap_used, missing_docs)]

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kori::smpp_proto::segment::{SplitMethod, SplitOptions, split};
use kori::smpp_proto::text::Encoding;
use kori::smpp_proto::{
    Address, Command, DataCoding, EsmClass, Npi, Pdu, RegisteredDelivery, SubmitSm, Tlv, TlvString,
    Ton, decode, decode_shared, encode,
};
use std::hint::black_box;

const RECEIPT_TEXT: &[u8] =
    b"id:1715004 sub:001 dlvrd:001 submit date:2611271105 done date:2611271106 stat:DELIVRD err:000 text:Hei Aino, ostoskor";

fn submit_sm() -> Command {
    Command::new(
        1,
        Pdu::SubmitSm(SubmitSm {
            source_addr_ton: Ton::ALPHANUMERIC,
            source_addr: Address::new(b"DemoShop").unwrap(),
            dest_addr_ton: Ton::INTERNATIONAL,
            dest_addr_npi: Npi::ISDN,
            destination_addr: Address::new(b"358401234567").unwrap(),
            registered_delivery: RegisteredDelivery::ON_FINAL,
            data_coding: DataCoding::DEFAULT,
            short_message: Bytes::from_static(
                b"Hei Aino, ostoskorisi odottaa: https://shop.example/k/c/8fK2a Reply STOP to opt out",
            ),
            ..SubmitSm::default()
        }),
    )
}

fn receipt() -> Command {
    Command::new(
        7,
        Pdu::DeliverSm(SubmitSm {
            source_addr_ton: Ton::INTERNATIONAL,
            source_addr_npi: Npi::ISDN,
            source_addr: Address::new(b"358401234567").unwrap(),
            destination_addr: Address::new(b"DemoShop").unwrap(),
            esm_class: EsmClass::DELIVERY_RECEIPT,
            short_message: Bytes::from_static(RECEIPT_TEXT),
            tlvs: vec![
                Tlv::ReceiptedMessageId(TlvString::new(b"1A2B3C")),
                Tlv::MessageState(2),
            ],
            ..SubmitSm::default()
        }),
    )
}

fn rusmpp_owned(wire: &[u8]) -> rusmpp::Command {
    use rusmpp::decode::DecodeWithLength;
    rusmpp::Command::decode(&mut BytesMut::from(&wire[4..]), wire.len() - 4)
        .unwrap()
        .0
}

fn bench_pdu(c: &mut Criterion, name: &str, cmd: &Command) {
    let mut buf = BytesMut::new();
    encode(cmd, &mut buf).unwrap();
    let wire: Bytes = buf.freeze();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));

    // Decode.
    g.bench_function("decode/kori", |b| {
        b.iter(|| black_box(decode(black_box(&wire))))
    });
    g.bench_function("decode/kori_shared", |b| {
        b.iter(|| black_box(decode_shared(black_box(&wire))))
    });
    g.bench_function("decode/rusmpp_owned", |b| {
        use rusmpp::decode::DecodeWithLength;
        b.iter_batched(
            || BytesMut::from(&wire[4..]),
            |mut src| black_box(rusmpp::Command::decode(&mut src, wire.len() - 4).unwrap()),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("decode/rusmpp_owned_from_slice", |b| {
        use rusmpp::decode::DecodeWithLength;
        b.iter(|| {
            let mut src = BytesMut::from(&black_box(&wire[..])[4..]);
            black_box(rusmpp::Command::decode(&mut src, wire.len() - 4).unwrap())
        })
    });
    g.bench_function("decode/rusmpp_borrowed", |b| {
        use rusmpp_core::decode::borrowed::DecodeWithLength;
        b.iter(|| {
            let w = black_box(&wire[..]);
            black_box(
                rusmpp_core::command::borrowed::Command::<4>::decode(&w[4..], w.len() - 4).unwrap(),
            )
        })
    });
    g.bench_function("decode/smpp34", |b| {
        b.iter(|| {
            let w = black_box(&wire[..]);
            let h = smpp34::CommandHeader::decode(w).unwrap();
            match h.command_id {
                4 => {
                    black_box(smpp34::submit_sm::decode(h, w).unwrap());
                }
                _ => {
                    black_box(smpp34::deliver_sm::decode(h, w).unwrap());
                }
            }
        })
    });

    // Encode.
    let mut dst = BytesMut::with_capacity(4096);
    g.bench_function("encode/kori", |b| {
        b.iter(|| {
            dst.clear();
            encode(black_box(cmd), &mut dst).unwrap();
            black_box(&dst);
        })
    });
    let owned = rusmpp_owned(&wire);
    g.bench_function("encode/rusmpp_owned", |b| {
        use bytes::BufMut;
        use rusmpp::encode::Length;
        b.iter(|| {
            let cmd = black_box(&owned);
            dst.clear();
            dst.reserve(4 + cmd.length());
            dst.put_u32((4 + cmd.length()) as u32);
            rusmpp::encode::owned::Encode::encode(cmd, &mut dst);
            black_box(&dst);
        })
    });
    g.bench_function("encode/rusmpp_owned_into_slice", |b| {
        use rusmpp::encode::{Encode, Length};
        let mut out = [0u8; 1024];
        b.iter(|| {
            let cmd = black_box(&owned);
            let total = 4 + cmd.length();
            out[..4].copy_from_slice(&(total as u32).to_be_bytes());
            cmd.encode(&mut out[4..total]);
            black_box(&out[..total]);
        })
    });
    let header = smpp34::CommandHeader::decode(&wire).unwrap();
    if header.command_id == 4 {
        let pdu = smpp34::submit_sm::decode(header, &wire).unwrap();
        g.bench_function("encode/smpp34", |b| {
            b.iter_batched(
                || pdu.clone(),
                |p| black_box(p.encode()),
                BatchSize::SmallInput,
            )
        });
    } else {
        let pdu = smpp34::deliver_sm::decode(header, &wire).unwrap();
        g.bench_function("encode/smpp34", |b| {
            b.iter_batched(
                || pdu.clone(),
                |p| black_box(p.encode()),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// 3 segments of UCS-2 with an 8-bit concatenation UDH (67 UTF-16 units per part). Only
/// characters of the Basic Multilingual Plane: rusmpp's UCS-2 encoder refuses an emoji
/// (`UnencodableCharacter`), while Kori sends it as a UTF-16 surrogate pair.
const UCS2_TEXT: &str = "Hei Aino ★ ostoskorisi odottaa sinua yhä: pellavapaita, villahuivi ja nahkakäsineet. \
     Käytä koodia BACK10 ja saat 10 % alennuksen koko tilauksesta sunnuntaihin asti → \
     https://shop.example/k/c/8fK2a";

fn segmentation(c: &mut Criterion) {
    let mut g = c.benchmark_group("segment_ucs2_3_parts");
    g.throughput(Throughput::Elements(1));
    let template = match submit_sm().pdu {
        Pdu::SubmitSm(sm) => sm,
        _ => unreachable!(),
    };
    let parts = split(
        UCS2_TEXT,
        Encoding::Ucs2,
        SplitMethod::Udh8,
        7,
        &SplitOptions::default(),
    )
    .unwrap();
    assert_eq!(parts.len(), 3, "the bench text must make 3 UCS-2 segments");
    g.bench_function("kori", |b| {
        b.iter(|| {
            let segments = split(
                black_box(UCS2_TEXT),
                Encoding::Ucs2,
                SplitMethod::Udh8,
                7,
                &SplitOptions::default(),
            )
            .unwrap();
            let pdus: Vec<SubmitSm> = segments
                .iter()
                .map(|seg| {
                    let mut sm = template.clone();
                    sm.set_segment(seg);
                    sm
                })
                .collect();
            black_box(pdus)
        })
    });
    let rusmpp_template = {
        use rusmpp::types::{COctetString, OctetString};
        use rusmpp::values::{EsmClass, Npi, Ton};
        use std::str::FromStr;
        rusmpp::pdus::SubmitSm::builder()
            .source_addr_ton(Ton::Alphanumeric)
            .source_addr_npi(Npi::Unknown)
            .source_addr(COctetString::from_str("DemoShop").unwrap())
            .dest_addr_ton(Ton::International)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(COctetString::from_str("358401234567").unwrap())
            .esm_class(EsmClass::from(0))
            .short_message(OctetString::empty())
            .build()
    };
    {
        use rusmpp::extra::concatenation::SubmitSmMultipartExt;
        let parts = rusmpp_template
            .clone()
            .multipart(UCS2_TEXT)
            .reference_u8(7)
            .ucs2()
            .build()
            .unwrap();
        assert_eq!(parts.len(), 3, "rusmpp makes the same 3 segments");
    }
    g.bench_function("rusmpp", |b| {
        use rusmpp::extra::concatenation::SubmitSmMultipartExt;
        b.iter_batched(
            || rusmpp_template.clone(),
            |t| {
                black_box(
                    t.multipart(black_box(UCS2_TEXT))
                        .reference_u8(7)
                        .ucs2()
                        .build()
                        .unwrap(),
                )
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn codec(c: &mut Criterion) {
    bench_pdu(c, "submit_sm", &submit_sm());
    bench_pdu(c, "deliver_sm_receipt", &receipt());
    segmentation(c);
}

criterion_group!(benches, codec);
criterion_main!(benches);
