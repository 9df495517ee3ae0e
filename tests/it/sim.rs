//! The SMSC simulator (`kori::sim`) driven by a raw SMPP client written here: a `Framed`
//! TcpStream with `SmppCodec`, so these tests pin the simulator's wire behaviour without Kori's
//! sessions in the way.

use futures_util::{SinkExt, StreamExt};
use kori::sim::{
    BindKind, DropMode, Faults, IdStyle, ReceiptOutcome, ReceiptStyle, Sim, SimConfig, SimEvent,
};
use kori_smpp::receipt::{IdFormat, MessageState, Receipt, TextReceipt, match_keys, normalize};
use kori_smpp::segment::{Part, Reassembler};
use kori_smpp::{
    Address, Bind, Command, CommandStatus, DataCoding, DeliverSm, Frame, Npi, Pdu,
    RegisteredDelivery, SmResp, SmppCodec, SubmitSm, Tlv, TlvList, Ton, error_response,
};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_util::codec::Framed;

/// Guard against hangs only; paused time makes it instant when nothing else can happen.
const GUARD: Duration = Duration::from_secs(120);

struct Client {
    io: Framed<TcpStream, SmppCodec>,
    seq: u32,
}

impl Client {
    async fn connect(sim: &Sim) -> Client {
        let stream = TcpStream::connect(sim.addr()).await.unwrap();
        // Without it, a PDU sent after one the simulator does not answer waits for the
        // delayed ACK (40 ms of real time), and paused time jumps past every guard meanwhile.
        stream.set_nodelay(true).unwrap();
        Client {
            io: Framed::new(stream, SmppCodec::default()),
            seq: 0,
        }
    }

    async fn send(&mut self, pdu: Pdu) -> u32 {
        self.seq += 1;
        self.io.send(Command::new(self.seq, pdu)).await.unwrap();
        self.seq
    }

    async fn answer(&mut self, cmd: Command) {
        self.io.send(cmd).await.unwrap();
    }

    /// The next frame; panics on end of stream.
    async fn frame(&mut self) -> Frame {
        timeout(GUARD, self.io.next())
            .await
            .expect("a PDU within the guard")
            .expect("the connection is open")
            .unwrap()
    }

    async fn command(&mut self) -> Command {
        self.frame().await.into_command().unwrap()
    }

    /// True when the simulator closed the connection (nothing more is read).
    async fn closed(&mut self) -> bool {
        matches!(
            timeout(GUARD, self.io.next()).await,
            Ok(None | Some(Err(_)))
        )
    }

    /// True when nothing arrives for `wait` (paused time jumps there when all is idle).
    async fn quiet_for(&mut self, wait: Duration) -> bool {
        timeout(wait, self.io.next()).await.is_err()
    }

    async fn bind(&mut self, kind: BindKind, system_id: &str, password: &str) -> Command {
        let bind = Bind {
            system_id: system_id.try_into().unwrap(),
            password: password.try_into().unwrap(),
            ..Bind::default()
        };
        let pdu = match kind {
            BindKind::Transmitter => Pdu::BindTransmitter(bind),
            BindKind::Receiver => Pdu::BindReceiver(bind),
            BindKind::Transceiver => Pdu::BindTransceiver(bind),
        };
        let seq = self.send(pdu).await;
        let resp = self.command().await;
        assert_eq!(resp.sequence_number, seq);
        resp
    }

    async fn bound(sim: &Sim, kind: BindKind) -> Client {
        let mut c = Client::connect(sim).await;
        let resp = c.bind(kind, "kori", "secret").await;
        assert_eq!(resp.status, CommandStatus::Ok);
        c
    }

    async fn send_submit(&mut self, to: &str, text: &str, rd: u8) -> u32 {
        self.send(Pdu::SubmitSm(submit_sm(to, text, rd))).await
    }

    /// Submits and returns (status, message id) of the response.
    async fn submit(&mut self, to: &str, text: &str, rd: u8) -> (CommandStatus, String) {
        let seq = self.send_submit(to, text, rd).await;
        let resp = self.command().await;
        assert_eq!(resp.sequence_number, seq);
        let Pdu::SubmitSmResp(body) = resp.pdu else {
            panic!("expected submit_sm_resp, got {:?}", resp.pdu)
        };
        (resp.status, body.message_id.to_string())
    }

    /// The next deliver_sm, answered with `status`.
    async fn deliver_sm(&mut self, status: CommandStatus) -> DeliverSm {
        let cmd = self.command().await;
        let Pdu::DeliverSm(sm) = cmd.pdu else {
            panic!("expected deliver_sm, got {:?}", cmd.pdu)
        };
        self.answer(Command::with_status(
            status,
            cmd.sequence_number,
            Pdu::DeliverSmResp(SmResp::default()),
        ))
        .await;
        sm
    }
}

fn submit_sm(to: &str, text: &str, rd: u8) -> SubmitSm {
    SubmitSm {
        source_addr_ton: Ton::ALPHANUMERIC,
        source_addr: Address::new(b"DemoShop").unwrap(),
        dest_addr_ton: Ton::INTERNATIONAL,
        dest_addr_npi: Npi::ISDN,
        destination_addr: Address::new(to.as_bytes()).unwrap(),
        registered_delivery: RegisteredDelivery(rd),
        data_coding: DataCoding::DEFAULT,
        short_message: text.as_bytes().to_vec().into(),
        ..SubmitSm::default()
    }
}

fn config() -> SimConfig {
    SimConfig {
        credentials: Some(("kori".into(), "secret".into())),
        ..SimConfig::default()
    }
}

async fn start(config: SimConfig) -> Sim {
    Sim::start(config).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn bind_answers_system_id_and_interface_version() {
    let sim = start(config()).await;
    let mut c = Client::connect(&sim).await;
    let resp = c.bind(BindKind::Transceiver, "kori", "secret").await;
    assert_eq!(resp.status, CommandStatus::Ok);
    let Pdu::BindTransceiverResp(body) = resp.pdu else {
        panic!("{:?}", resp.pdu)
    };
    assert_eq!(body.system_id, "sim");
    assert_eq!(body.tlvs, vec![Tlv::ScInterfaceVersion(0x34)]);
    assert_eq!(sim.stats().binds, 1);
}

#[tokio::test(start_paused = true)]
async fn wrong_password_and_wrong_system_id_are_refused_and_the_connection_stays() {
    let sim = start(config()).await;
    let mut c = Client::connect(&sim).await;
    let resp = c.bind(BindKind::Transmitter, "kori", "wrong").await;
    assert_eq!(resp.status, CommandStatus::InvalidPassword);
    assert_eq!(resp.pdu, Pdu::BindTransmitterResp(Default::default()));
    let resp = c.bind(BindKind::Transmitter, "other", "secret").await;
    assert_eq!(resp.status, CommandStatus::InvalidSystemId);
    let resp = c.bind(BindKind::Transmitter, "kori", "secret").await;
    assert_eq!(resp.status, CommandStatus::Ok);
    assert_eq!(sim.stats().bind_refusals, 2);
}

#[tokio::test(start_paused = true)]
async fn reject_binds_answers_every_bind_with_the_status() {
    let sim = start(SimConfig {
        faults: Faults {
            reject_binds: Some(CommandStatus::BindFailed),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut c = Client::connect(&sim).await;
    let resp = c.bind(BindKind::Transceiver, "kori", "secret").await;
    assert_eq!(resp.status, CommandStatus::BindFailed);
    sim.set_faults(Faults::default());
    let resp = c.bind(BindKind::Transceiver, "kori", "secret").await;
    assert_eq!(resp.status, CommandStatus::Ok, "healed by set_faults");
}

#[tokio::test(start_paused = true)]
async fn bind_states_unknown_commands_and_bad_bodies() {
    let sim = start(config()).await;
    let mut c = Client::connect(&sim).await;
    // Before a bind: submit_sm refused, enquire_link answered.
    let (status, id) = c.submit("358401234567", "early", 0).await;
    assert_eq!(status, CommandStatus::IncorrectBindStatus);
    assert_eq!(id, "");
    c.send(Pdu::EnquireLink).await;
    assert_eq!(c.command().await.pdu, Pdu::EnquireLinkResp);
    c.bind(BindKind::Receiver, "kori", "secret").await;
    // A receiver may not submit.
    let (status, _) = c.submit("358401234567", "rx", 0).await;
    assert_eq!(status, CommandStatus::IncorrectBindStatus);
    // Bound already.
    let resp = c.bind(BindKind::Transceiver, "kori", "secret").await;
    assert_eq!(resp.status, CommandStatus::AlreadyBound);
    // An unknown command id: generic_nack ESME_RINVCMDID.
    let seq = c
        .send(Pdu::Other {
            command_id: 0x0000_0111,
            body: Default::default(),
        })
        .await;
    let nack = c.command().await;
    assert_eq!(
        (nack.pdu, nack.status, nack.sequence_number),
        (Pdu::GenericNack, CommandStatus::InvalidCommandId, seq)
    );
    // A submit_sm whose body is cut short: submit_sm_resp with the body error's status.
    let seq = c
        .send(Pdu::Other {
            command_id: 0x0000_0004,
            body: vec![0, 1, 1].into(),
        })
        .await;
    let resp = c.frame().await;
    assert_eq!(resp.header.sequence_number, seq);
    assert_eq!(
        resp.header.command_status,
        CommandStatus::InvalidCommandLength
    );
    assert!(matches!(resp.body, Ok(Pdu::SubmitSmResp(_))));
    // Still bound.
    c.send(Pdu::EnquireLink).await;
    assert_eq!(c.command().await.pdu, Pdu::EnquireLinkResp);
}

#[tokio::test(start_paused = true)]
async fn message_ids_are_unique_decimal_or_hex() {
    let sim = start(config()).await;
    let mut c = Client::bound(&sim, BindKind::Transmitter).await;
    assert_eq!(c.submit("358401234567", "a", 0).await.1, "1");
    assert_eq!(c.submit("358401234567", "b", 0).await.1, "2");
    let mut other = Client::bound(&sim, BindKind::Transmitter).await;
    assert_eq!(other.submit("358401234567", "c", 0).await.1, "3");

    let sim = start(SimConfig {
        message_ids: IdStyle::Hex,
        first_message_id: 0x1A2B3C,
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    let (status, id) = c.submit("358401234567", "a", 0).await;
    assert_eq!((status, id.as_str()), (CommandStatus::Ok, "1A2B3C"));
    assert_eq!(c.submit("358401234567", "b", 0).await.1, "1A2B3D");
    assert_eq!(sim.stats().submits_accepted, 2);
}

#[tokio::test(start_paused = true)]
async fn receipt_arrives_after_the_delay_with_tlvs_only() {
    let delay = Duration::from_secs(3);
    let sim = start(SimConfig {
        receipts: ReceiptStyle::Tlv,
        receipt_delay: delay,
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    let (_, id) = c.submit("358401234567", "hello", 1).await;
    let answered = Instant::now();
    let dlr = c.deliver_sm(CommandStatus::Ok).await;
    assert!(answered.elapsed() >= delay, "{:?}", answered.elapsed());
    assert_eq!(dlr.esm_class.0, 0x04);
    assert!(dlr.short_message.is_empty());
    assert_eq!(dlr.tlvs.receipted_message_id(), Some(id.as_bytes()));
    assert_eq!(dlr.tlvs.message_state(), Some(2));
    // Appendix B: from the recipient back to the sender.
    assert_eq!(dlr.source_addr, "358401234567");
    assert_eq!(dlr.destination_addr, "DemoShop");
    let receipt = Receipt::from_deliver_sm(&dlr).unwrap();
    assert_eq!(receipt.state, MessageState::Delivered);
}

#[tokio::test(start_paused = true)]
async fn text_receipt_id_may_be_decimal_while_the_response_was_hex() {
    let sim = start(SimConfig {
        message_ids: IdStyle::Hex,
        first_message_id: 0x1A2B3C,
        receipts: ReceiptStyle::Both,
        receipt_id_in_text: Some(IdStyle::Decimal),
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    let (_, id) = c.submit("358401234567", "Your order is ready", 1).await;
    assert_eq!(id, "1A2B3C");
    let dlr = c.deliver_sm(CommandStatus::Ok).await;
    let text = TextReceipt::parse(&dlr.short_message).unwrap();
    assert_eq!(text.id.as_deref(), Some("1715004"));
    assert_eq!(text.stat.unwrap().state(), Some(MessageState::Delivered));
    assert_eq!(text.text.as_deref(), Some("Your order is ready"));
    assert_eq!(text.err.unwrap().raw(), "000");
    assert!(text.submit_date.is_some() && text.done_date.is_some());
    // The TLV repeats the response's id; the text's id matches it when read as decimal.
    assert_eq!(dlr.tlvs.receipted_message_id(), Some(&b"1A2B3C"[..]));
    let submit_key = normalize(id.as_bytes(), IdFormat::Hex);
    assert!(match_keys(b"1715004", IdFormat::Dec).any(|k| k == submit_key));

    // Text only.
    let sim = start(SimConfig {
        receipts: ReceiptStyle::Text,
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    let (_, id) = c.submit("358401234567", "x", 1).await;
    let dlr = c.deliver_sm(CommandStatus::Ok).await;
    assert!(dlr.tlvs.is_empty());
    let receipt = Receipt::from_deliver_sm(&dlr).unwrap();
    assert_eq!(receipt.message_id, id);
}

#[tokio::test(start_paused = true)]
async fn outcome_rules_and_failure_only_receipts() {
    let sim = start(SimConfig {
        outcome_rules: vec![("35840000".into(), ReceiptOutcome::UNDELIVERABLE)],
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    // registered_delivery 2: a receipt on failure only. The delivered one sends none.
    c.submit("358401234567", "fine", 2).await;
    let (_, failed) = c.submit("358400001111", "gone", 2).await;
    let dlr = c.deliver_sm(CommandStatus::Ok).await;
    let receipt = Receipt::from_deliver_sm(&dlr).unwrap();
    assert_eq!(receipt.message_id, failed);
    assert_eq!(receipt.state, MessageState::Undeliverable);
    assert_eq!(dlr.tlvs.network_error_code().unwrap().error_code, 1);
    assert!(c.quiet_for(Duration::from_secs(60)).await);
    assert_eq!(sim.stats().receipts_sent, 1);
}

#[tokio::test(start_paused = true)]
async fn receipts_for_a_transmitter_wait_for_a_receiver_of_the_same_system_id() {
    let sim = start(SimConfig {
        receipt_delay: Duration::from_secs(2),
        ..config()
    })
    .await;
    let mut tx = Client::bound(&sim, BindKind::Transmitter).await;
    let (_, id) = tx.submit("358401234567", "held", 1).await;
    // Long past the delay, nobody to deliver to.
    assert!(tx.quiet_for(Duration::from_secs(30)).await);
    let mut rx = Client::bound(&sim, BindKind::Receiver).await;
    let dlr = rx.deliver_sm(CommandStatus::Ok).await;
    assert_eq!(dlr.tlvs.receipted_message_id(), Some(id.as_bytes()));
}

#[tokio::test(start_paused = true)]
async fn receipt_refused_with_a_temporary_error_is_delivered_again() {
    let sim = start(SimConfig {
        receipt_delay: Duration::ZERO,
        redelivery_delay: Duration::from_secs(7),
        ..config()
    })
    .await;
    let mut events = sim.subscribe();
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    let (_, id) = c.submit("358401234567", "again", 1).await;
    let first = c.deliver_sm(CommandStatus::ReceiverTemporaryError).await;
    let refused = Instant::now();
    let second = c.deliver_sm(CommandStatus::Ok).await;
    assert!(refused.elapsed() >= Duration::from_secs(7));
    assert_eq!(first, second);
    assert_eq!(second.tlvs.receipted_message_id(), Some(id.as_bytes()));
    let oks = events
        .wait_for(|e| match e {
            SimEvent::DeliverSmResp { status, .. } if status.is_ok() => Some(()),
            _ => None,
        })
        .await;
    assert!(oks.is_some());
    let stats = sim.stats();
    assert_eq!((stats.receipts_sent, stats.redeliveries), (2, 1));
    assert_eq!(stats.deliver_sm_resps, 2);
}

#[tokio::test(start_paused = true)]
async fn receipts_owed_on_a_dropped_connection_go_to_the_next_bind() {
    let sim = start(SimConfig {
        receipt_delay: Duration::from_secs(10),
        faults: Faults {
            drop_after: Some((1, DropMode::AfterAnswer)),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    let (_, id) = c.submit("358401234567", "kept", 1).await;
    assert!(c.closed().await);
    let mut again = Client::bound(&sim, BindKind::Transceiver).await;
    let dlr = again.deliver_sm(CommandStatus::Ok).await;
    assert_eq!(dlr.tlvs.receipted_message_id(), Some(id.as_bytes()));
}

/// Regression: a write that failed because the client was gone dropped the delivery being
/// written and the rest of the mailbox batch it came from. Real time: the simulator must block
/// writing to clients that do not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_being_written_when_the_client_resets_go_to_the_next_bind() {
    // ~2 KiB of deliver_sm per MO (ten parts), 12 MiB in all: the first stalled client holds
    // at most its share of buffers (the simulator's send buffer is at most 4 MiB here), so the
    // second takes a batch of more than 6 MiB from the mailbox and blocks in the middle of it.
    const MOS: usize = 6_000;
    const PARTS: usize = 10;
    let sim = start(config()).await;
    let first = stalled_receiver(&sim).await;
    let text = "Reply STOP to opt out. ".repeat(66); // 1,518 GSM characters: ten parts
    for _ in 0..MOS {
        sim.inject_mo("358401234567", "12345", &text).await.unwrap();
    }
    let second = stalled_receiver(&sim).await;
    for client in [second, first] {
        let stream = client.io.into_inner();
        stream.set_zero_linger().unwrap();
        drop(stream);
    }

    let mut next = Client::bound(&sim, BindKind::Receiver).await;
    for _ in 0..MOS * PARTS {
        let cmd = next.command().await;
        assert!(matches!(cmd.pdu, Pdu::DeliverSm(_)), "{cmd:?}");
    }
}

/// A receiver bind with a tiny receive buffer that reads nothing after its first deliver_sm.
async fn stalled_receiver(sim: &Sim) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(sim.addr()).await.unwrap();
    let mut client = Client {
        io: Framed::new(stream, SmppCodec::default()),
        seq: 0,
    };
    let resp = client.bind(BindKind::Receiver, "kori", "secret").await;
    assert_eq!(resp.status, CommandStatus::Ok);
    client
}

#[tokio::test(start_paused = true)]
async fn throttle_every_third_submit() {
    let sim = start(SimConfig {
        faults: Faults {
            throttle_every: Some(3),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transmitter).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, id) = c.submit("358401234567", "t", 1).await;
        assert_eq!(id.is_empty(), !status.is_ok());
        statuses.push(status.code());
    }
    assert_eq!(statuses, [0, 0, 0x58, 0, 0, 0x58]);
    let stats = sim.stats();
    assert_eq!((stats.throttled, stats.submits_accepted), (2, 4));
}

#[tokio::test(start_paused = true)]
async fn queue_full_and_rejected_destinations() {
    let sim = start(SimConfig {
        faults: Faults {
            queue_full_every: Some(2),
            reject_destinations: vec![("999".into(), CommandStatus::InvalidDestinationAddress)],
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transmitter).await;
    assert_eq!(c.submit("358401", "a", 0).await.0, CommandStatus::Ok);
    assert_eq!(
        c.submit("358401", "b", 0).await.0,
        CommandStatus::MessageQueueFull
    );
    assert_eq!(
        c.submit("99912", "c", 0).await.0,
        CommandStatus::InvalidDestinationAddress
    );
}

#[tokio::test(start_paused = true)]
async fn max_tps_throttles_beyond_the_sliding_second() {
    let sim = start(SimConfig {
        faults: Faults {
            max_tps: Some(5),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transmitter).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(c.submit("358401", "t", 0).await.0.code());
    }
    assert_eq!(statuses, [0, 0, 0, 0, 0, 0x58, 0x58]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(c.submit("358401", "t", 0).await.0, CommandStatus::Ok);
}

#[tokio::test(start_paused = true)]
async fn response_delay_holds_every_answer() {
    let sim = start(SimConfig {
        faults: Faults {
            response_delay: Some(Duration::from_millis(1500)),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transmitter).await;
    let sent = Instant::now();
    let first = c.send_submit("358401", "one", 0).await;
    let second = c.send_submit("358401", "two", 0).await;
    assert_eq!(c.command().await.sequence_number, first);
    assert_eq!(c.command().await.sequence_number, second);
    assert!(sent.elapsed() >= Duration::from_millis(1500));
}

#[tokio::test(start_paused = true)]
async fn drop_before_answer_closes_with_the_submit_unanswered() {
    let sim = start(SimConfig {
        faults: Faults {
            drop_after: Some((3, DropMode::BeforeAnswer)),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut events = sim.subscribe();
    let mut c = Client::bound(&sim, BindKind::Transmitter).await;
    let seqs = [
        c.send_submit("358401", "1", 0).await,
        c.send_submit("358401", "2", 0).await,
        c.send_submit("358401", "3", 0).await,
    ];
    assert_eq!(c.command().await.sequence_number, seqs[0]);
    assert_eq!(c.command().await.sequence_number, seqs[1]);
    assert!(c.closed().await, "the third is never answered");
    let third = events
        .wait_for(|e| match e {
            SimEvent::Submit(s) if s.seq == seqs[2] => Some(s.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert!(!third.answered);
    assert_eq!(sim.stats().submits_accepted, 2);
}

#[tokio::test(start_paused = true)]
async fn drop_after_answer_closes_once_the_answer_is_written() {
    let sim = start(SimConfig {
        faults: Faults {
            drop_after: Some((2, DropMode::AfterAnswer)),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transmitter).await;
    assert_eq!(c.submit("358401", "1", 0).await.0, CommandStatus::Ok);
    assert_eq!(c.submit("358401", "2", 0).await.0, CommandStatus::Ok);
    assert!(c.closed().await);
}

#[tokio::test(start_paused = true)]
async fn silent_after_answers_nothing_more() {
    let sim = start(SimConfig {
        faults: Faults {
            silent_after: Some(1),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    assert_eq!(c.submit("358401", "1", 0).await.0, CommandStatus::Ok);
    c.send_submit("358401", "2", 0).await;
    c.send(Pdu::EnquireLink).await;
    assert!(c.quiet_for(Duration::from_secs(60)).await);
}

#[tokio::test(start_paused = true)]
async fn ignore_enquire_link_leaves_the_link_check_unanswered() {
    let sim = start(SimConfig {
        faults: Faults {
            ignore_enquire_link: true,
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    c.send(Pdu::EnquireLink).await;
    assert!(c.quiet_for(Duration::from_secs(60)).await);
    assert_eq!(
        c.submit("358401", "still works", 0).await.0,
        CommandStatus::Ok
    );
    assert_eq!(sim.stats().enquire_links, 1);
}

#[tokio::test(start_paused = true)]
async fn malformed_deliver_sm_follows_the_nth_answer_and_the_bind_carries_on() {
    let sim = start(SimConfig {
        faults: Faults {
            malformed_after: Some(1),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let mut events = sim.subscribe();
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    assert_eq!(c.submit("358401", "1", 0).await.0, CommandStatus::Ok);
    let bad = c.frame().await;
    assert_eq!(bad.header.command_id, kori_smpp::CommandId::DeliverSm);
    let err = bad.body.unwrap_err();
    assert_eq!(err.status(), CommandStatus::InvalidOptionalParameterStream);
    // Answer it as a session should: the _resp with the body error's status.
    c.answer(error_response(&bad.header, err.status()).unwrap())
        .await;
    let status = events
        .wait_for(|e| match e {
            SimEvent::DeliverSmResp { status, .. } => Some(*status),
            _ => None,
        })
        .await;
    assert_eq!(status, Some(CommandStatus::InvalidOptionalParameterStream));
    assert_eq!(c.submit("358401", "2", 0).await.0, CommandStatus::Ok);
    assert_eq!(sim.stats().malformed_sent, 1);
}

#[tokio::test(start_paused = true)]
async fn mo_in_two_parts_reassembles() {
    let sim = start(config()).await;
    let mut c = Client::bound(&sim, BindKind::Receiver).await;
    let text = "Hello from the handset! ".repeat(8); // 192 GSM characters: two parts
    sim.inject_mo("+358401234567", "12345", &text)
        .await
        .unwrap();
    let mut reassembler = Reassembler::new(16, false);
    let mut whole = None;
    for _ in 0..2 {
        let sm = c.deliver_sm(CommandStatus::Ok).await;
        assert_eq!(sm.source_addr, "358401234567");
        assert_eq!(sm.esm_class.0 & 0x04, 0, "not a receipt");
        assert!(sm.esm_class.has_udh());
        whole = reassembler
            .push(
                (),
                Part {
                    data_coding: sm.data_coding.0,
                    udhi: sm.esm_class.has_udh(),
                    short_message: &sm.short_message,
                    sar: sm.tlvs.sar(),
                    now: 0,
                },
            )
            .unwrap();
    }
    let whole = whole.expect("both parts received");
    assert_eq!(whole.parts, 2);
    assert_eq!(whole.text().unwrap(), text);
    assert_eq!(sim.stats().mo_sent, 2);
}

#[tokio::test(start_paused = true)]
async fn inject_mo_needs_a_receiver() {
    let sim = start(config()).await;
    let _tx = Client::bound(&sim, BindKind::Transmitter).await;
    assert!(matches!(
        sim.inject_mo("1", "2", "x").await,
        Err(kori::sim::SimError::NoReceiver)
    ));
}

#[tokio::test(start_paused = true)]
async fn events_report_each_submit_with_its_text() {
    let sim = start(config()).await;
    let mut events = sim.subscribe();
    let mut c = Client::bound(&sim, BindKind::Transmitter).await;
    let (_, id) = c.submit("358401234567", "hello", 1).await;
    let bound = events
        .wait_for(|e| match e {
            SimEvent::Bound {
                kind, system_id, ..
            } => Some((*kind, system_id.clone())),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(bound, (BindKind::Transmitter, "kori".to_owned()));
    let s = events.next_submit().await.unwrap();
    assert_eq!(s.message_id, id);
    assert_eq!(s.text.as_deref(), Some("hello"));
    assert_eq!(s.destination, "358401234567");
    assert_eq!((s.registered_delivery, s.concat), (1, None));
    assert!(s.answered && s.status.is_ok());
}

#[tokio::test(start_paused = true)]
async fn shutdown_unbinds_every_bound_session() {
    let sim = start(config()).await;
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    let mut idle = Client::connect(&sim).await;
    let stopping = tokio::spawn(sim.shutdown());
    let unbind = c.command().await;
    assert_eq!(unbind.pdu, Pdu::Unbind);
    c.answer(Command::new(unbind.sequence_number, Pdu::UnbindResp))
        .await;
    timeout(GUARD, stopping).await.unwrap().unwrap();
    assert!(c.closed().await);
    assert!(idle.closed().await, "an unbound connection just closes");
}

#[tokio::test(start_paused = true)]
async fn client_unbind_is_answered_and_closes() {
    let sim = start(config()).await;
    let mut events = sim.subscribe();
    let mut c = Client::bound(&sim, BindKind::Transceiver).await;
    let seq = c.send(Pdu::Unbind).await;
    let resp = c.command().await;
    assert_eq!((resp.pdu, resp.sequence_number), (Pdu::UnbindResp, seq));
    assert!(c.closed().await);
    let gone = events
        .wait_for(|e| matches!(e, SimEvent::Disconnected { .. }).then_some(()))
        .await;
    assert!(gone.is_some());
    assert_eq!(sim.stats().unbinds, 1);
}
