//! One client connection of the simulator: an actor that owns the socket halves, the bind
//! state, the pending deliveries and their timers.
//!
//! Owns the SMSC side of SMPP 3.4 for one connection: bind states, every answer, the fault
//! knobs as they apply to a submit (see the order in `sim`'s module documentation), receipt
//! scheduling and redelivery. Must not touch: other connections (they meet only through
//! `state::Shared`: the bind registry and the mailboxes). Spawned by `sim::accept_loop`.
//!
//! The hot path is lean on purpose, since one bind into this simulator is Kori's throughput
//! benchmark: a read batch is decoded and answered frame by frame into the write buffer
//! (`feed`), and flushed once when no whole frame is left to read; a submit allocates nothing
//! here unless it asks for a receipt or someone subscribed to events. Timers are one `Sleep`
//! re-armed to the earliest of a FIFO of delayed responses and a heap of due deliveries, not
//! a task per receipt.

use super::events::{BindKind, SimEvent, Submitted};
use super::receipt;
use super::state::{Delivery, Mailbox, Shared, bump, format_id};
use super::{DropMode, Faults};
use futures_util::{SinkExt, StreamExt};
use kori_smpp::segment::parse_udh;
use kori_smpp::{
    Bind, BindResp, CodecError, Command, CommandStatus, DEFAULT_MAX_PDU_LEN, DataSm, Frame, Pdu,
    SmResp, SmppCodec, SubmitSm, Tlv, TlvList, error_response, frame_len,
};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::{Instant, Sleep};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

/// Frames answered before the write buffer is flushed even if more are readable, so a client
/// that never pauses still sees answers and timers still run.
const MAX_BATCH: usize = 256;

/// How long a shutting-down simulator waits for `unbind_resp`.
const UNBIND_GRACE: Duration = Duration::from_secs(1);

/// After cancellation, how long a connection may take (e.g. blocked writing to a client that
/// does not read) before it is dropped without ceremony.
const HARD_STOP: Duration = Duration::from_secs(2);

/// A deliver_sm is written at most this many times (first try and redeliveries after
/// temporary errors), then dropped, as an SMSC's validity period would.
const MAX_DELIVERY_ATTEMPTS: u32 = 10;

type Reader = FramedRead<OwnedReadHalf, SmppCodec>;
type Writer = FramedWrite<OwnedWriteHalf, SmppCodec>;

/// Why a connection ended.
#[derive(Debug)]
enum End {
    PeerClosed,
    Unbound,
    Dropped,
    Shutdown,
    Codec(CodecError),
}

/// Whether the loop goes on after a PDU.
enum Flow {
    Continue,
    Close(End),
}

/// A delivery due at `due`; `order` keeps equal deadlines first-in, first-out.
struct Scheduled {
    due: Instant,
    order: u64,
    delivery: Delivery,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.order).cmp(&(other.due, other.order))
    }
}

/// A submit_sm_resp held back by `response_delay`.
struct DelayedResp {
    due: Instant,
    resp: Command,
    /// `drop_after` AfterAnswer: close once this is written.
    close_after: bool,
}

struct Bound {
    kind: BindKind,
    system_id: String,
}

struct Conn {
    id: u64,
    shared: Arc<Shared>,
    writer: Writer,
    faults: Arc<Faults>,
    faults_generation: u64,
    bound: Option<Bound>,
    /// The receipt mailbox of the bound system_id, for receiver-capable binds.
    mailbox: Option<Arc<Mailbox>>,
    submits: u64,
    silent: bool,
    malformed_sent: bool,
    next_seq: u32,
    next_order: u64,
    delayed: VecDeque<DelayedResp>,
    deliveries: BinaryHeap<Reverse<Scheduled>>,
    /// deliver_sm written, waiting for deliver_sm_resp, by sequence number.
    awaiting: HashMap<u32, Delivery>,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

/// Serves one connection until the client goes, a fault closes it or the simulator stops.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    socket: TcpStream,
    id: u64,
    cancel: CancellationToken,
) {
    let (read, write) = socket.into_split();
    let mut reader = FramedRead::new(read, SmppCodec::default());
    // The generation first: a change between the two reads is picked up at the first PDU.
    let faults_generation = shared.faults_generation();
    let faults = shared.faults();
    let mut conn = Conn {
        id,
        writer: FramedWrite::new(write, SmppCodec::default()),
        faults,
        faults_generation,
        bound: None,
        mailbox: None,
        submits: 0,
        silent: false,
        malformed_sent: false,
        next_seq: 0,
        next_order: 0,
        delayed: VecDeque::new(),
        deliveries: BinaryHeap::new(),
        awaiting: HashMap::new(),
        sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
        armed: None,
        shared,
    };
    if conn.shared.observed() {
        conn.shared.emit(SimEvent::Connected { connection: id });
    }
    let end = tokio::select! {
        end = conn.run(&mut reader, &cancel) => end,
        () = async {
            cancel.cancelled().await;
            tokio::time::sleep(HARD_STOP).await;
        } => End::Shutdown,
    };
    match &end {
        End::Codec(e) => tracing::info!(connection = id, error = %e, "sim connection failed"),
        end => tracing::debug!(connection = id, ?end, "sim connection closed"),
    }
    conn.finish();
}

impl Conn {
    async fn run(&mut self, reader: &mut Reader, cancel: &CancellationToken) -> End {
        loop {
            self.arm_timer();
            let timers_live = self.armed.is_some() && !self.silent;
            let mailbox_live = self.mailbox.is_some() && !self.silent;
            let step = tokio::select! {
                biased;
                () = cancel.cancelled() => return self.unbind_and_close(reader).await,
                item = reader.next() => self.on_read(item, reader).await,
                () = self.sleep.as_mut(), if timers_live => self.on_timers().await,
                () = notified(&self.mailbox), if mailbox_live => self.on_mailbox().await,
            };
            match step {
                Ok(Flow::Continue) => {}
                Ok(Flow::Close(end)) => return end,
                Err(e) => return End::Codec(e),
            }
        }
    }

    /// Handles `first` and every further frame already readable (up to [`MAX_BATCH`]), then
    /// flushes once.
    async fn on_read(
        &mut self,
        first: Option<Result<Frame, CodecError>>,
        reader: &mut Reader,
    ) -> Result<Flow, CodecError> {
        // Knobs changed by `Sim::set_faults` apply from the next PDU read after the call.
        if let Some(faults) = self.shared.faults_if_changed(&mut self.faults_generation) {
            self.faults = faults;
        }
        let mut item = first;
        let mut handled = 0;
        loop {
            let flow = match item {
                None => Flow::Close(End::PeerClosed),
                Some(Err(e)) => {
                    // An undecodable header: the stream is out of step (design.md).
                    tracing::info!(connection = self.id, error = %e, "sim: closing on a bad header");
                    Flow::Close(End::Codec(e))
                }
                Some(Ok(frame)) => self.on_frame(frame).await?,
            };
            if let Flow::Close(end) = flow {
                self.flush().await?;
                return Ok(Flow::Close(end));
            }
            handled += 1;
            if handled == MAX_BATCH {
                break;
            }
            // Only frames already in the read buffer: the socket is read again by the
            // loop's `select!`, after this batch's answers are flushed.
            match frame_len(reader.read_buffer(), DEFAULT_MAX_PDU_LEN) {
                Ok(Some(_)) => item = reader.next().await,
                Ok(None) | Err(_) => break,
            }
        }
        self.flush().await?;
        Ok(Flow::Continue)
    }

    async fn on_frame(&mut self, frame: Frame) -> Result<Flow, CodecError> {
        if self.silent {
            return Ok(Flow::Continue);
        }
        let header = frame.header;
        let pdu = match frame.body {
            Ok(pdu) => pdu,
            Err(e) => {
                tracing::debug!(connection = self.id, error = %e, "sim: body did not decode");
                if let Some(answer) = error_response(&header, e.status()) {
                    self.writer.feed(answer).await?;
                }
                return Ok(Flow::Continue);
            }
        };
        let seq = header.sequence_number;
        match pdu {
            Pdu::BindTransmitter(b) => self.on_bind(BindKind::Transmitter, &b, seq).await?,
            Pdu::BindReceiver(b) => self.on_bind(BindKind::Receiver, &b, seq).await?,
            Pdu::BindTransceiver(b) => self.on_bind(BindKind::Transceiver, &b, seq).await?,
            Pdu::SubmitSm(sm) => return self.on_submit(seq, sm).await,
            Pdu::EnquireLink => {
                bump(&self.shared.stats.enquire_links);
                if self.shared.observed() {
                    self.shared.emit(SimEvent::EnquireLink {
                        connection: self.id,
                    });
                }
                if !self.faults.ignore_enquire_link {
                    self.writer
                        .feed(Command::new(seq, Pdu::EnquireLinkResp))
                        .await?;
                }
            }
            Pdu::Unbind if self.bound.is_some() => {
                bump(&self.shared.stats.unbinds);
                self.writer.feed(Command::new(seq, Pdu::UnbindResp)).await?;
                if self.shared.observed() {
                    self.shared.emit(SimEvent::Unbound {
                        connection: self.id,
                    });
                }
                return Ok(Flow::Close(End::Unbound));
            }
            Pdu::DataSm(d) if self.can_transmit() => self.on_data_sm(seq, &d).await?,
            Pdu::DeliverSmResp(_) => self.on_deliver_resp(seq, header.command_status),
            Pdu::GenericNack => {
                bump(&self.shared.stats.generic_nacks_received);
                if self.shared.observed() {
                    self.shared.emit(SimEvent::GenericNackReceived {
                        connection: self.id,
                        seq,
                        status: header.command_status,
                    });
                }
                // The client could not read what we sent; a retry would fare no better.
                self.awaiting.remove(&seq);
            }
            Pdu::Other { .. } => {
                self.writer
                    .feed(Command::with_status(
                        CommandStatus::InvalidCommandId,
                        seq,
                        Pdu::GenericNack,
                    ))
                    .await?;
            }
            // Responses to nothing we track (enquire_link_resp, a stray unbind_resp): ignore.
            pdu if pdu.command_id().is_response() => {}
            pdu => {
                // A request not valid in this state (before a bind, data_sm on a receiver,
                // deliver_sm from a client) or one this simulator does not serve (query_sm,
                // cancel_sm, replace_sm, submit_multi).
                let status = match pdu {
                    _ if self.bound.is_none() => CommandStatus::IncorrectBindStatus,
                    Pdu::DataSm(_) | Pdu::Unbind => CommandStatus::IncorrectBindStatus,
                    Pdu::QuerySm(_) => CommandStatus::QueryFailed,
                    Pdu::CancelSm(_) => CommandStatus::CancelFailed,
                    Pdu::ReplaceSm(_) => CommandStatus::ReplaceFailed,
                    Pdu::SubmitMulti(_) => CommandStatus::SubmitFailed,
                    _ => CommandStatus::InvalidCommandId,
                };
                if let Some(answer) = error_response(&header, status) {
                    self.writer.feed(answer).await?;
                }
            }
        }
        Ok(Flow::Continue)
    }

    async fn flush(&mut self) -> Result<(), CodecError> {
        SinkExt::<Command>::flush(&mut self.writer).await
    }

    fn can_transmit(&self) -> bool {
        self.bound.as_ref().is_some_and(|b| b.kind.can_transmit())
    }

    async fn on_bind(&mut self, kind: BindKind, bind: &Bind, seq: u32) -> Result<(), CodecError> {
        let presented = bind.system_id.to_string_lossy().into_owned();
        let status = if self.bound.is_some() {
            CommandStatus::AlreadyBound
        } else if let Some(status) = self.faults.reject_binds {
            status
        } else {
            match &self.shared.config.credentials {
                Some((system_id, _)) if bind.system_id.as_bytes() != system_id.as_bytes() => {
                    CommandStatus::InvalidSystemId
                }
                Some((_, password)) if bind.password.as_bytes() != password.as_bytes() => {
                    CommandStatus::InvalidPassword
                }
                _ => CommandStatus::Ok,
            }
        };
        let body = if status.is_ok() {
            BindResp {
                system_id: self.shared.system_id,
                // SMPP 3.4 §4.1.2: the SMSC's interface version.
                tlvs: vec![Tlv::ScInterfaceVersion(0x34)],
            }
        } else {
            BindResp::default()
        };
        let pdu = match kind {
            BindKind::Transmitter => Pdu::BindTransmitterResp(body),
            BindKind::Receiver => Pdu::BindReceiverResp(body),
            BindKind::Transceiver => Pdu::BindTransceiverResp(body),
        };
        self.writer
            .feed(Command::with_status(status, seq, pdu))
            .await?;
        if !status.is_ok() {
            if status != CommandStatus::AlreadyBound {
                bump(&self.shared.stats.bind_refusals);
            }
            tracing::debug!(connection = self.id, %status, "sim: bind refused");
            if self.shared.observed() {
                self.shared.emit(SimEvent::BindRefused {
                    connection: self.id,
                    system_id: presented,
                    status,
                });
            }
            return Ok(());
        }
        bump(&self.shared.stats.binds);
        self.shared.register_bind(self.id, kind, presented.clone());
        if kind.can_receive() {
            self.mailbox = Some(self.shared.mailbox(&presented));
        }
        if self.shared.observed() {
            self.shared.emit(SimEvent::Bound {
                connection: self.id,
                kind,
                system_id: presented.clone(),
            });
        }
        self.bound = Some(Bound {
            kind,
            system_id: presented,
        });
        // Receipts held for this system_id go out now (the response is ahead of them).
        if self.mailbox.is_some() {
            self.on_mailbox().await?;
        }
        Ok(())
    }

    async fn on_submit(&mut self, seq: u32, sm: SubmitSm) -> Result<Flow, CodecError> {
        if !self.can_transmit() {
            self.writer
                .feed(Command::with_status(
                    CommandStatus::IncorrectBindStatus,
                    seq,
                    Pdu::SubmitSmResp(SmResp::default()),
                ))
                .await?;
            return Ok(Flow::Continue);
        }
        self.submits += 1;
        let n = self.submits;
        bump(&self.shared.stats.submits_received);
        if self.faults.silent_after.is_some_and(|k| n > k) {
            tracing::debug!(connection = self.id, n, "sim: silent from now on");
            self.silent = true;
            self.report_submit(seq, &sm, "", CommandStatus::Ok, false);
            return Ok(Flow::Continue);
        }
        let drop_now = self
            .faults
            .drop_after
            .filter(|(k, _)| *k == n)
            .map(|(_, m)| m);
        if drop_now == Some(DropMode::BeforeAnswer) {
            self.report_submit(seq, &sm, "", CommandStatus::Ok, false);
            return Ok(Flow::Close(End::Dropped));
        }
        let now = Instant::now();
        let status = self.decide(n, &sm, now);
        let message_id = if status.is_ok() {
            let number = self.shared.next_message_number();
            let id = format_id(number, self.shared.config.message_ids);
            self.schedule_receipt(&sm, number, &id, now);
            id
        } else {
            Default::default()
        };
        if self.shared.observed() {
            let id = message_id.to_string_lossy();
            self.report_submit(seq, &sm, &id, status, true);
        }
        let resp = Command::with_status(
            status,
            seq,
            Pdu::SubmitSmResp(SmResp {
                message_id,
                tlvs: Vec::new(),
            }),
        );
        let close_after = drop_now == Some(DropMode::AfterAnswer);
        let mut flow = Flow::Continue;
        match self.faults.response_delay {
            Some(delay) => self.delayed.push_back(DelayedResp {
                due: now + delay,
                resp,
                close_after,
            }),
            None => {
                self.writer.feed(resp).await?;
                if close_after {
                    flow = Flow::Close(End::Dropped);
                }
            }
        }
        if self.faults.malformed_after == Some(n) && !self.malformed_sent {
            self.malformed_sent = true;
            let seq = self.next_seq();
            self.writer.feed(receipt::malformed(seq)).await?;
            bump(&self.shared.stats.malformed_sent);
            if self.shared.observed() {
                self.shared.emit(SimEvent::MalformedSent {
                    connection: self.id,
                    seq,
                });
            }
        }
        Ok(flow)
    }

    /// The status for the `n`-th submit (steps 4 of the order in `sim`'s documentation).
    fn decide(&self, n: u64, sm: &SubmitSm, now: Instant) -> CommandStatus {
        let f = &*self.faults;
        let stats = &self.shared.stats;
        let destination = sm.destination_addr.as_bytes();
        if let Some((_, status)) = f
            .reject_destinations
            .iter()
            .find(|(prefix, _)| destination.starts_with(prefix.trim_start_matches('+').as_bytes()))
        {
            bump(&stats.rejected);
            return *status;
        }
        let every = |k: Option<u32>| k.is_some_and(|k| k > 0 && n % u64::from(k) == 0);
        if every(f.throttle_every) {
            bump(&stats.throttled);
            return CommandStatus::Throttled;
        }
        if every(f.queue_full_every) {
            bump(&stats.queue_full);
            return CommandStatus::MessageQueueFull;
        }
        if let Some(tps) = f.max_tps {
            if !self.shared.take_tps_slot(tps, now) {
                bump(&stats.throttled);
                return CommandStatus::Throttled;
            }
        }
        bump(&stats.submits_accepted);
        CommandStatus::Ok
    }

    /// Queues the receipt `registered_delivery` asks for, if any.
    fn schedule_receipt(
        &mut self,
        sm: &SubmitSm,
        number: u64,
        id: &kori_smpp::MessageId,
        now: Instant,
    ) {
        let config = &self.shared.config;
        if config.receipts == super::ReceiptStyle::None {
            return;
        }
        let wanted = sm.registered_delivery.0 & 0x03;
        if wanted == 0 || wanted == 3 {
            return;
        }
        let destination = sm.destination_addr.as_bytes();
        let outcome = config
            .outcome_rules
            .iter()
            .find(|(prefix, _)| destination.starts_with(prefix.trim_start_matches('+').as_bytes()))
            .map_or(config.default_outcome, |(_, o)| *o);
        if wanted == 2 && !outcome.is_failure() {
            return;
        }
        let answered = now + self.faults.response_delay.unwrap_or_default();
        let due = answered + config.receipt_delay;
        let pdu = receipt::build(&self.shared, sm, number, id, outcome, now, due);
        let delivery = Delivery {
            pdu,
            receipt: Some((*id, outcome.state)),
            attempts: 0,
        };
        if self.mailbox.is_some() {
            self.schedule(due, delivery);
        } else if let Some(bound) = &self.bound {
            // A transmitter: the receipt goes to a receiver of the same system_id, now or
            // whenever one binds.
            self.shared
                .mailbox(&bound.system_id)
                .push_all([(due, delivery)]);
        }
    }

    fn schedule(&mut self, due: Instant, delivery: Delivery) {
        self.next_order += 1;
        self.deliveries.push(Reverse(Scheduled {
            due,
            order: self.next_order,
            delivery,
        }));
    }

    fn report_submit(
        &self,
        seq: u32,
        sm: &SubmitSm,
        message_id: &str,
        status: CommandStatus,
        answered: bool,
    ) {
        if !self.shared.observed() {
            return;
        }
        let short_message = if sm.short_message.is_empty() {
            sm.tlvs.message_payload().cloned().unwrap_or_default()
        } else {
            sm.short_message.clone()
        };
        let udh = sm
            .esm_class
            .has_udh()
            .then(|| parse_udh(&short_message).ok())
            .flatten();
        let concat = udh
            .as_ref()
            .and_then(|(u, _)| u.concat)
            .map(|c| (c.reference, c.total, c.seqnum))
            .or_else(|| sm.tlvs.sar());
        let text = kori_smpp::segment::decode_message(
            sm.data_coding.0,
            sm.esm_class.has_udh(),
            &short_message,
            false,
        )
        .ok();
        self.shared.emit(SimEvent::Submit(Arc::new(Submitted {
            connection: self.id,
            seq,
            message_id: message_id.to_owned(),
            status,
            answered,
            source: sm.source_addr.to_string_lossy().into_owned(),
            destination: sm.destination_addr.to_string_lossy().into_owned(),
            data_coding: sm.data_coding.0,
            esm_class: sm.esm_class.0,
            registered_delivery: sm.registered_delivery.0,
            concat,
            text,
            short_message,
            tlvs: sm.tlvs.clone(),
        })));
    }

    async fn on_data_sm(&mut self, seq: u32, _d: &DataSm) -> Result<(), CodecError> {
        bump(&self.shared.stats.data_sms);
        let number = self.shared.next_message_number();
        let message_id = format_id(number, self.shared.config.message_ids);
        self.writer
            .feed(Command::new(
                seq,
                Pdu::DataSmResp(SmResp {
                    message_id,
                    tlvs: Vec::new(),
                }),
            ))
            .await?;
        if self.shared.observed() {
            self.shared.emit(SimEvent::DataSm {
                connection: self.id,
                seq,
            });
        }
        Ok(())
    }

    fn on_deliver_resp(&mut self, seq: u32, status: CommandStatus) {
        bump(&self.shared.stats.deliver_sm_resps);
        if self.shared.observed() {
            self.shared.emit(SimEvent::DeliverSmResp {
                connection: self.id,
                seq,
                status,
            });
        }
        let Some(delivery) = self.awaiting.remove(&seq) else {
            return;
        };
        let temporary = matches!(
            status,
            CommandStatus::ReceiverTemporaryError
                | CommandStatus::MessageQueueFull
                | CommandStatus::Throttled
                | CommandStatus::SystemError
        );
        if temporary && delivery.attempts < MAX_DELIVERY_ATTEMPTS {
            bump(&self.shared.stats.redeliveries);
            let due = Instant::now() + self.shared.config.redelivery_delay;
            self.schedule(due, delivery);
        } else if !status.is_ok() {
            tracing::debug!(connection = self.id, seq, %status, "sim: deliver_sm refused; dropped");
        }
    }

    /// Writes a deliver_sm and keeps it until its response.
    async fn deliver(&mut self, mut delivery: Delivery) -> Result<(), CodecError> {
        let seq = self.next_seq();
        let cmd = Command::new(seq, Pdu::DeliverSm(std::mem::take(&mut delivery.pdu)));
        let fed = self.writer.feed(&cmd).await;
        if let Pdu::DeliverSm(pdu) = cmd.pdu {
            delivery.pdu = pdu;
        }
        if let Err(e) = fed {
            // Not written (the client is gone): kept with the unanswered ones, which the
            // connection's end hands back to the mailbox.
            self.awaiting.insert(seq, delivery);
            return Err(e);
        }
        delivery.attempts += 1;
        match &delivery.receipt {
            Some((message_id, state)) => {
                bump(&self.shared.stats.receipts_sent);
                if self.shared.observed() {
                    self.shared.emit(SimEvent::ReceiptSent {
                        connection: self.id,
                        seq,
                        message_id: message_id.to_string_lossy().into_owned(),
                        state: *state,
                    });
                }
            }
            None => {
                bump(&self.shared.stats.mo_sent);
                if self.shared.observed() {
                    self.shared.emit(SimEvent::MoSent {
                        connection: self.id,
                        seq,
                    });
                }
            }
        }
        self.awaiting.insert(seq, delivery);
        Ok(())
    }

    async fn on_timers(&mut self) -> Result<Flow, CodecError> {
        self.armed = None;
        let now = Instant::now();
        while self.delayed.front().is_some_and(|d| d.due <= now) {
            let Some(d) = self.delayed.pop_front() else {
                break;
            };
            self.writer.feed(d.resp).await?;
            if d.close_after {
                self.flush().await?;
                return Ok(Flow::Close(End::Dropped));
            }
        }
        self.deliver_due(now).await?;
        self.flush().await?;
        Ok(Flow::Continue)
    }

    /// Takes everything in this bind's mailbox: due deliveries are written now, the others
    /// join the timer heap.
    async fn on_mailbox(&mut self) -> Result<Flow, CodecError> {
        let Some(mailbox) = self.mailbox.clone() else {
            return Ok(Flow::Continue);
        };
        // Into the timer heap first, all of them: if writing fails half-way, the connection's
        // end hands back what was not written (none is dropped with the failed write).
        for (due, delivery) in mailbox.take_all() {
            self.schedule(due, delivery);
        }
        self.deliver_due(Instant::now()).await?;
        self.flush().await?;
        Ok(Flow::Continue)
    }

    /// Writes every scheduled delivery due by `now`, earliest first.
    async fn deliver_due(&mut self, now: Instant) -> Result<(), CodecError> {
        while self.deliveries.peek().is_some_and(|s| s.0.due <= now) {
            let Some(Reverse(s)) = self.deliveries.pop() else {
                break;
            };
            self.deliver(s.delivery).await?;
        }
        Ok(())
    }

    /// Points the sleep at the earliest timer, resetting it only when that changed.
    fn arm_timer(&mut self) {
        let next = [
            self.delayed.front().map(|d| d.due),
            self.deliveries.peek().map(|s| s.0.due),
        ]
        .into_iter()
        .flatten()
        .min();
        if next != self.armed {
            if let Some(at) = next {
                self.sleep.as_mut().reset(at);
            }
            self.armed = next;
        }
    }

    fn next_seq(&mut self) -> u32 {
        // Sequence numbers run 1..=0x7FFFFFFF (SMPP 3.4 §5.1.4).
        self.next_seq = if self.next_seq >= 0x7FFF_FFFF {
            1
        } else {
            self.next_seq + 1
        };
        self.next_seq
    }

    /// Cancelled: `unbind` a bound client and wait briefly for `unbind_resp`.
    async fn unbind_and_close(&mut self, reader: &mut Reader) -> End {
        if self.bound.is_none() {
            return End::Shutdown;
        }
        let seq = self.next_seq();
        if self
            .writer
            .send(Command::new(seq, Pdu::Unbind))
            .await
            .is_err()
        {
            return End::Shutdown;
        }
        let _ = tokio::time::timeout(UNBIND_GRACE, async {
            while let Some(Ok(frame)) = reader.next().await {
                match frame.body {
                    Ok(Pdu::UnbindResp) => return,
                    Ok(Pdu::Unbind) => {
                        let resp = Command::new(frame.header.sequence_number, Pdu::UnbindResp);
                        let _ = self.writer.send(resp).await;
                        return;
                    }
                    _ => {}
                }
            }
        })
        .await;
        End::Shutdown
    }

    /// The connection is over: forget the bind, and hand deliveries still owed (written but
    /// unanswered first, then those not yet due) back to the mailbox for the next receiver of
    /// the same system_id, as an SMSC keeps undelivered receipts.
    fn finish(&mut self) {
        self.shared.unregister_bind(self.id);
        if let Some(bound) = &self.bound {
            let mut owed: Vec<(u32, Delivery)> = self.awaiting.drain().collect();
            owed.sort_by_key(|(seq, _)| *seq);
            let now = Instant::now();
            let later = std::mem::take(&mut self.deliveries)
                .into_sorted_vec()
                .into_iter()
                .rev()
                .map(|Reverse(s)| (s.due, s.delivery));
            let items: Vec<_> = owed
                .into_iter()
                .map(|(_, d)| (now, d))
                .chain(later)
                .collect();
            if !items.is_empty() {
                self.shared.mailbox(&bound.system_id).push_all(items);
            }
        }
        if self.shared.observed() {
            self.shared.emit(SimEvent::Disconnected {
                connection: self.id,
            });
        }
    }
}

async fn notified(mailbox: &Option<Arc<Mailbox>>) {
    match mailbox {
        Some(m) => m.notify.notified().await,
        None => std::future::pending().await,
    }
}
