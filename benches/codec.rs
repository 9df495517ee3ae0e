//! Codec throughput: decode and encode of `submit_sm` and of a `deliver_sm` receipt.
//!
//! Run with `cargo bench --bench codec`.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kori::smpp_proto::{
    Address, Command, DataCoding, EsmClass, Npi, Pdu, RegisteredDelivery, SubmitSm, Tlv, TlvString,
    Ton, decode, encode,
};
use std::hint::black_box;

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
            short_message: Bytes::from_static(b"Hei Aino, ostoskorisi odottaa: https://shop.example/k/c/8fK2a Reply STOP to opt out"),
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
            short_message: Bytes::from_static(
                b"id:1715004 sub:001 dlvrd:001 submit date:2611271105 done date:2611271106 stat:DELIVRD err:000 text:Hei Aino, ostoskor",
            ),
            tlvs: vec![
                Tlv::ReceiptedMessageId(TlvString::new(b"1A2B3C")),
                Tlv::MessageState(2),
            ],
            ..SubmitSm::default()
        }),
    )
}

fn bench_pdu(c: &mut Criterion, name: &str, cmd: &Command) {
    let mut wire = BytesMut::new();
    encode(cmd, &mut wire).unwrap();
    let wire = wire.freeze();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    group.bench_function("kori/decode", |b| {
        b.iter(|| black_box(decode(black_box(&wire))))
    });
    let mut buf = BytesMut::with_capacity(4096);
    group.bench_function("kori/encode", |b| {
        b.iter(|| {
            buf.clear();
            encode(black_box(cmd), &mut buf).unwrap();
            black_box(&buf);
        })
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    bench_pdu(c, "submit_sm", &submit_sm());
    bench_pdu(c, "deliver_sm_receipt", &receipt());
}

criterion_group!(benches, codec);
criterion_main!(benches);
