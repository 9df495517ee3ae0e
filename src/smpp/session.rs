//! The session actor: one bind to one SMSC, from connect to unbind, reconnecting as needed.
//!
//! Owns the socket halves, the window, sequence numbers, keep-alive, the bind's pause after a
//! throttling answer, and the answers to what the SMSC sends (receipts, MO, enquire_link,
//! unbind, malformed PDUs). Must not touch: storage, routing. Called only through its
//! carrier: `Carrier::start` spawns it, jobs reach it through the carrier's queue.
//!
//! Every `select!` arm is cancel-safe (framed reads, channel receives, timers); writes happen
//! in the handlers, PDUs are `feed`-ed and flushed once per turn of the loop.

use super::carrier::{Job, Shared};
use super::connect::{Backoff, Connection, codec_error, connect_and_bind};
use super::error::SessionError;
use super::window::{Sequence, Window};
use super::{BindKind, Delivery, Event, MoMessage, ReceiptAck, SegmentOutcome};
use crate::dlr;
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use kori_smpp::receipt::Receipt;
use kori_smpp::segment::Part;
use kori_smpp::{
    Command, CommandStatus, DataSm, DeliverSm, EsmClass, Frame, Pdu, SmResp, SmppCodec, SubmitSm,
    TlvList, error_response,
};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How long a stopping bind waits for `unbind_resp`.
const UNBIND_TIMEOUT: Duration = Duration::from_secs(5);

/// A request in the window.
enum Pending {
    Submit(Job),
    EnquireLink,
    Unbind,
}

/// Whether the connected loop goes on.
enum Flow {
    Continue,
    /// The unbind was answered (or its answer waited for long enough): close.
    Unbound,
}

/// How a connected spell ended.
enum End {
    /// Kori is stopping; the bind was closed in order.
    Shutdown,
    /// The connection was lost; reconnect.
    Lost(SessionError),
}

/// How a `deliver_sm` (or `data_sm`) is answered.
enum DeliverAnswer {
    /// At once, with this status.
    Now(CommandStatus),
    /// A receipt: once the outbox has recorded it (see [`ReceiptAck`]).
    Later(oneshot::Receiver<CommandStatus>),
}

/// A receipt's answer being waited for: resolves to the `deliver_sm`'s sequence number, the
/// status to answer with, and whether it was a `data_sm`.
struct AwaitAck {
    seq: u32,
    data_sm: bool,
    answer: oneshot::Receiver<CommandStatus>,
}

impl Future for AwaitAck {
    type Output = (u32, CommandStatus, bool);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (seq, data_sm) = (self.seq, self.data_sm);
        Pin::new(&mut self.answer).poll(cx).map(|answer| {
            // Dropped unanswered: not recorded, so the SMSC must deliver it again.
            let status = answer.unwrap_or(CommandStatus::ReceiverTemporaryError);
            (seq, status, data_sm)
        })
    }
}

type Reader = FramedRead<OwnedReadHalf, SmppCodec>;
type Writer = FramedWrite<OwnedWriteHalf, SmppCodec>;

/// One bind.
pub(crate) struct Session {
    shared: Arc<Shared>,
    bind: usize,
    kind: BindKind,
    cancel: CancellationToken,
    /// Jobs this bind took and will send next; a segment to retry goes to the front.
    ready: VecDeque<Job>,
    /// No submit before this instant (after ESME_RTHROTTLED / ESME_RMSGQFUL).
    paused_until: Option<Instant>,
    /// The next pause after a throttling answer.
    throttle_pause: Duration,
}

impl Session {
    pub(crate) fn new(
        shared: Arc<Shared>,
        bind: usize,
        kind: BindKind,
        cancel: CancellationToken,
    ) -> Self {
        let throttle_pause = shared.config.throttle_pause;
        Self {
            shared,
            bind,
            kind,
            cancel,
            ready: VecDeque::new(),
            paused_until: None,
            throttle_pause,
        }
    }

    fn carrier(&self) -> &super::CarrierName {
        &self.shared.config.name
    }

    /// Binds, serves, reconnects with backoff, until cancelled.
    pub(crate) async fn run(mut self) {
        let config = &self.shared.config;
        let mut backoff = Backoff::new(config.reconnect_initial, config.reconnect_max);
        loop {
            let connected = tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                result = connect_and_bind(&self.shared.config, self.kind) => result,
            };
            match connected {
                Ok(conn) => {
                    backoff.reset();
                    info!(carrier = %self.carrier(), bind = self.bind, kind = ?self.kind, "bound");
                    self.shared.bind_changed(self.kind, true);
                    self.emit_status(Event::BindUp {
                        carrier: self.carrier().clone(),
                        bind: self.bind,
                        kind: self.kind,
                    });
                    let end = Connected::new(&mut self, conn).serve().await;
                    self.shared.bind_changed(self.kind, false);
                    match end {
                        End::Shutdown => break,
                        End::Lost(e) => {
                            warn!(carrier = %self.carrier(), bind = self.bind, error = %e, "bind lost");
                            self.emit_status(Event::BindDown {
                                carrier: self.carrier().clone(),
                                bind: self.bind,
                                reason: e.to_string(),
                            });
                        }
                    }
                }
                Err(e) => {
                    warn!(carrier = %self.carrier(), bind = self.bind, error = %e, "bind failed");
                    self.emit_status(Event::BindFailed {
                        carrier: self.carrier().clone(),
                        bind: self.bind,
                        reason: e.to_string(),
                    });
                }
            }
            // Jobs this bind took go back to the queue for the other binds.
            self.requeue_ready();
            let delay = backoff.next_delay();
            debug!(carrier = %self.carrier(), bind = self.bind, ?delay, "reconnecting after backoff");
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                () = sleep(delay) => {}
            }
            if self.kind.submits() && self.shared.down_too_long() {
                self.fail_over_queued();
            }
        }
        self.stop_queue();
    }

    /// Bind changes are news, not work: dropped if the event channel is full.
    fn emit_status(&self, event: Event) {
        if let Event::BindFailed { reason, .. } | Event::BindDown { reason, .. } = &event {
            self.shared.note_error(reason);
        }
        let _ = self.shared.events.try_send(event);
    }

    fn requeue_ready(&mut self) {
        for job in self.ready.drain(..) {
            if let Err(e) = self.shared.jobs_tx.try_send(job) {
                e.into_inner().abandon("carrier stopping");
            }
        }
    }

    /// Every bind has been down longer than `failover_after`: messages not yet started that
    /// the router can send elsewhere are given back.
    fn fail_over_queued(&mut self) {
        let waiting = self.shared.jobs_rx.len();
        for _ in 0..waiting {
            let Ok(job) = self.shared.jobs_rx.try_recv() else {
                break;
            };
            if job.may_fail_over && job.untouched() {
                job.abandon("every bind of the carrier has been down longer than failover_after");
            } else if let Err(e) = self.shared.jobs_tx.try_send(job) {
                e.into_inner().abandon("carrier stopping");
            }
        }
    }

    /// Kori is stopping: nothing more will be sent; queued messages are told so.
    fn stop_queue(&mut self) {
        self.shared.jobs_tx.close();
        for job in self.ready.drain(..) {
            job.abandon("Kori is stopping");
        }
        while let Ok(job) = self.shared.jobs_rx.try_recv() {
            job.abandon("Kori is stopping");
        }
    }

    /// A segment whose response never came: sent again under at-least-once (up to
    /// `max_resends`), else its outcome is unknown. `here` says whether this bind is still up.
    fn fate_unknown(&mut self, mut job: Job, here: bool) {
        let config = &self.shared.config;
        if config.delivery == Delivery::AtLeastOnce && job.resends < config.max_resends {
            job.resends += 1;
            if here {
                self.ready.push_front(job);
            } else if let Err(e) = self.shared.jobs_tx.try_send(job) {
                e.into_inner().abandon("carrier stopping");
            }
        } else {
            job.record(SegmentOutcome::FateUnknown);
            job.finish();
        }
    }
}

/// A session while bound: the connection and its window.
struct Connected<'s> {
    session: &'s mut Session,
    reader: Reader,
    writer: Writer,
    window: Window<Pending>,
    sequence: Sequence,
    submits_in_flight: usize,
    /// PDUs fed to the writer since the last flush.
    unflushed: bool,
    /// When the throttle or a pause lets the next submit go.
    wake_at: Option<Instant>,
    /// When to send an enquire_link if nothing arrives before.
    idle_deadline: Instant,
    /// Set once Kori is stopping: until when in-flight responses are awaited.
    stopping_until: Option<Instant>,
    unbind_sent: bool,
    /// An enquire_link is in the window.
    enquire_link_pending: bool,
    /// Receipts waiting to be recorded before their `deliver_sm` is answered. If the
    /// connection ends first they stay unanswered, and the SMSC delivers them again.
    acks: FuturesUnordered<AwaitAck>,
}

impl<'s> Connected<'s> {
    fn new(session: &'s mut Session, conn: Connection) -> Self {
        let parts = conn.into_parts();
        let (read_half, write_half) = parts.io.into_split();
        let mut reader = FramedRead::new(read_half, parts.codec);
        reader.read_buffer_mut().extend_from_slice(&parts.read_buf);
        let writer = FramedWrite::new(write_half, parts.codec);
        let config = &session.shared.config;
        Self {
            window: Window::new(config.window.get() as usize + 2),
            idle_deadline: Instant::now() + config.enquire_link,
            session,
            reader,
            writer,
            // Sequence number 1 went to the bind.
            sequence: {
                let mut s = Sequence::new();
                s.next();
                s
            },
            submits_in_flight: 0,
            unflushed: false,
            wake_at: None,
            stopping_until: None,
            unbind_sent: false,
            enquire_link_pending: false,
            acks: FuturesUnordered::new(),
        }
    }

    fn config(&self) -> &super::CarrierConfig {
        &self.session.shared.config
    }

    async fn serve(mut self) -> End {
        let end = match self.serve_until_end().await {
            Ok(()) => End::Shutdown,
            Err(e) => End::Lost(e),
        };
        // Whatever is still in the window never got its answer on this connection.
        let lost: Vec<_> = self.window.drain().map(|(_, p)| p).collect();
        for pending in lost {
            if let Pending::Submit(job) = pending {
                if matches!(end, End::Shutdown) {
                    let mut job = job;
                    job.record(SegmentOutcome::FateUnknown);
                    job.finish();
                } else {
                    self.session.fate_unknown(job, false);
                }
            }
        }
        end
    }

    async fn serve_until_end(&mut self) -> Result<(), SessionError> {
        let window_cap = self.config().window.get() as usize;
        loop {
            self.pump().await?;
            if self.stopping_until.is_some() && !self.unbind_sent && self.submits_in_flight == 0 {
                self.send_unbind().await?;
            }
            if self.unflushed {
                self.flush().await?;
                self.unflushed = false;
            }
            let can_take = self.session.kind.submits()
                && self.stopping_until.is_none()
                && self.submits_in_flight + self.session.ready.len() < window_cap;
            let shared = self.session.shared.clone();
            let enquire_link = self.config().enquire_link;
            tokio::select! {
                biased;
                () = self.session.cancel.cancelled(), if self.stopping_until.is_none() => {
                    self.begin_shutdown();
                }
                Some((seq, status, data_sm)) = self.acks.next(), if !self.acks.is_empty() => {
                    self.answer_deliver(seq, status, data_sm).await?;
                }
                frame = self.reader.next() => match frame {
                    None => return Err(SessionError::ClosedByPeer { carrier: self.session.carrier().clone() }),
                    Some(Err(e)) => return Err(codec_error(self.config(), e)),
                    Some(Ok(frame)) => {
                        self.idle_deadline = Instant::now() + enquire_link;
                        if let Flow::Unbound = self.on_frame(frame).await? {
                            return Ok(());
                        }
                    }
                },
                Some((seq, pending)) = self.window.next_expired() => {
                    if let Flow::Unbound = self.on_timeout(seq, pending)? {
                        return Ok(());
                    }
                }
                job = shared.jobs_rx.recv(), if can_take => {
                    let Ok(job) = job else {
                        // The queue was closed: the carrier is stopping.
                        self.begin_shutdown();
                        continue;
                    };
                    {
                        self.session.ready.push_back(job);
                        // Take what else is waiting, up to the window, in the same turn.
                        while self.submits_in_flight + self.session.ready.len() < window_cap {
                            match shared.jobs_rx.try_recv() {
                                Ok(job) => self.session.ready.push_back(job),
                                Err(_) => break,
                            }
                        }
                    }
                }
                () = sleep_until(self.wake_at.unwrap_or_else(Instant::now)), if self.wake_at.is_some() => {
                    self.wake_at = None;
                }
                () = sleep_until(self.idle_deadline), if self.stopping_until.is_none() => {
                    self.idle_deadline = Instant::now() + enquire_link;
                    self.send_enquire_link().await?;
                }
                () = sleep_until(self.stopping_until.unwrap_or_else(Instant::now)), if self.stopping_until.is_some() && !self.unbind_sent => {
                    // In-flight responses waited for long enough: unbind now.
                    self.send_unbind().await?;
                }
            }
        }
    }

    /// Writes the submits the window, the bind's pause and the carrier's throttle allow.
    async fn pump(&mut self) -> Result<(), SessionError> {
        let window_cap = self.config().window.get() as usize;
        while self.session.kind.submits()
            && self.stopping_until.is_none()
            && self.submits_in_flight < window_cap
            && !self.session.ready.is_empty()
        {
            let now = Instant::now();
            if let Some(until) = self.session.paused_until {
                if now < until {
                    self.wake_at = Some(until);
                    return Ok(());
                }
                self.session.paused_until = None;
            }
            if let Err(at) = self.session.shared.throttle.try_take() {
                self.wake_at = Some(at);
                return Ok(());
            }
            let Some(mut job) = self.session.ready.pop_front() else {
                break;
            };
            let Some(sm) = job.take_segment() else {
                job.finish();
                continue;
            };
            let seq = self.sequence.next();
            let cmd = Command::new(seq, Pdu::SubmitSm(sm));
            let written = self.writer.feed(&cmd).await;
            if let Pdu::SubmitSm(sm) = cmd.pdu {
                job.put_back(sm);
            }
            job.attempts += 1;
            let timeout = self.config().response_timeout;
            self.window.insert(seq, Pending::Submit(job), timeout);
            self.submits_in_flight += 1;
            self.unflushed = true;
            written.map_err(|e| codec_error(self.config(), e))?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SessionError> {
        SinkExt::<&Command>::flush(&mut self.writer)
            .await
            .map_err(|e| codec_error(self.config(), e))
    }

    async fn write(&mut self, cmd: Command) -> Result<(), SessionError> {
        self.unflushed = true;
        self.writer
            .feed(&cmd)
            .await
            .map_err(|e| codec_error(self.config(), e))
    }

    async fn send_enquire_link(&mut self) -> Result<(), SessionError> {
        if self.enquire_link_pending {
            return Ok(());
        }
        self.enquire_link_pending = true;
        let seq = self.sequence.next();
        let timeout = self.config().response_timeout;
        self.window.insert(seq, Pending::EnquireLink, timeout);
        self.write(Command::new(seq, Pdu::EnquireLink)).await
    }

    fn begin_shutdown(&mut self) {
        debug!(carrier = %self.session.carrier(), bind = self.session.bind, "stopping: waiting for in-flight responses");
        self.stopping_until = Some(Instant::now() + self.config().response_timeout);
        for job in self.session.ready.drain(..) {
            job.abandon("Kori is stopping");
        }
    }

    async fn send_unbind(&mut self) -> Result<(), SessionError> {
        self.unbind_sent = true;
        let seq = self.sequence.next();
        self.window.insert(seq, Pending::Unbind, UNBIND_TIMEOUT);
        self.write(Command::new(seq, Pdu::Unbind)).await?;
        self.flush().await?;
        self.unflushed = false;
        Ok(())
    }

    fn on_timeout(&mut self, seq: u32, pending: Pending) -> Result<Flow, SessionError> {
        let carrier = self.session.carrier().clone();
        match pending {
            Pending::Submit(job) => {
                self.submits_in_flight -= 1;
                warn!(%carrier, bind = self.session.bind, seq, "no submit_sm_resp in time; fate unknown");
                self.session.fate_unknown(job, true);
                // Probe the link: if it is dead, the enquire_link times out too.
                self.idle_deadline = Instant::now();
                Ok(Flow::Continue)
            }
            Pending::EnquireLink => Err(SessionError::LinkDead {
                carrier,
                timeout: self.config().response_timeout,
            }),
            Pending::Unbind => {
                warn!(%carrier, bind = self.session.bind, "no unbind_resp in time; closing anyway");
                Ok(Flow::Unbound)
            }
        }
    }

    async fn on_frame(&mut self, frame: Frame) -> Result<Flow, SessionError> {
        let header = frame.header;
        let seq = header.sequence_number;
        let pdu = match frame.body {
            Ok(pdu) => pdu,
            Err(e) => {
                warn!(carrier = %self.session.carrier(), command = %header.command_id, seq, error = %e, "malformed PDU from the SMSC");
                if let Some(answer) = error_response(&header, e.status()) {
                    self.write(answer).await?;
                }
                // A response we could not read still answers its request.
                if header.command_id.is_response() {
                    self.on_response(seq, CommandStatus::SystemError, None);
                }
                return Ok(Flow::Continue);
            }
        };
        match pdu {
            Pdu::SubmitSmResp(resp) => {
                self.on_response(seq, header.command_status, Some(resp));
            }
            Pdu::GenericNack | Pdu::EnquireLinkResp => {
                self.on_response(seq, header.command_status, None)
            }
            Pdu::UnbindResp => {
                if self.unbind_sent {
                    return Ok(Flow::Unbound);
                }
                debug!(carrier = %self.session.carrier(), seq, "unbind_resp without an unbind; dropped");
            }
            Pdu::EnquireLink => self.write(Command::new(seq, Pdu::EnquireLinkResp)).await?,
            Pdu::Unbind => {
                self.write(Command::new(seq, Pdu::UnbindResp)).await?;
                self.flush().await?;
                return Err(SessionError::UnboundByPeer {
                    carrier: self.session.carrier().clone(),
                });
            }
            Pdu::DeliverSm(sm) => match self.on_deliver(&sm) {
                DeliverAnswer::Now(status) => self.answer_deliver(seq, status, false).await?,
                DeliverAnswer::Later(answer) => self.acks.push(AwaitAck {
                    seq,
                    data_sm: false,
                    answer,
                }),
            },
            Pdu::DataSm(data) => match self.on_deliver(&data_sm_as_deliver(data)) {
                DeliverAnswer::Now(status) => self.answer_deliver(seq, status, true).await?,
                DeliverAnswer::Later(answer) => self.acks.push(AwaitAck {
                    seq,
                    data_sm: true,
                    answer,
                }),
            },
            Pdu::AlertNotification(_) | Pdu::Outbind(_) => {
                debug!(carrier = %self.session.carrier(), command = %header.command_id, "ignored");
            }
            other => {
                let id = other.command_id();
                if id.is_response() {
                    self.on_response(seq, header.command_status, None);
                } else if let Some(answer) =
                    error_response(&header, CommandStatus::InvalidCommandId)
                {
                    // A request an ESME does not serve (or an unknown command id).
                    debug!(carrier = %self.session.carrier(), command = %id, "answered ESME_RINVCMDID");
                    self.write(answer).await?;
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// A response (or generic_nack) for the request with `seq`.
    fn on_response(&mut self, seq: u32, status: CommandStatus, resp: Option<SmResp>) {
        let Some(pending) = self.window.complete(seq) else {
            debug!(carrier = %self.session.carrier(), seq, %status, "response to no pending request (late or unknown); dropped");
            return;
        };
        let Pending::Submit(mut job) = pending else {
            return;
        };
        self.submits_in_flight -= 1;
        let session = &mut *self.session;
        match status {
            CommandStatus::Ok => {
                session.throttle_pause = session.shared.config.throttle_pause;
                let message_id = resp.map(|r| r.message_id.to_string()).unwrap_or_default();
                let key = dlr::submit_key(&message_id, session.shared.config.dlr_id);
                if job.record(SegmentOutcome::Accepted { message_id, key }) {
                    job.finish();
                } else {
                    // The next segment of the same message goes next, on this bind.
                    session.ready.push_front(job);
                }
            }
            CommandStatus::Throttled | CommandStatus::MessageQueueFull => {
                let pause = session.throttle_pause;
                session.paused_until = Some(Instant::now() + pause);
                session.throttle_pause = (pause * 2).min(session.shared.config.throttle_pause_max);
                debug!(carrier = %session.shared.config.name, bind = session.bind, %status, ?pause, "SMSC asks to slow down; pausing the bind");
                session.ready.push_front(job);
            }
            status => {
                info!(carrier = %session.shared.config.name, %status, "submit rejected");
                job.record(SegmentOutcome::Rejected { status });
                job.finish();
            }
        }
    }

    /// Writes the `deliver_sm_resp` (or `data_sm_resp`) for `seq`.
    async fn answer_deliver(
        &mut self,
        seq: u32,
        status: CommandStatus,
        data_sm: bool,
    ) -> Result<(), SessionError> {
        let resp = if data_sm {
            Pdu::DataSmResp(SmResp::default())
        } else {
            Pdu::DeliverSmResp(SmResp::default())
        };
        self.write(Command::with_status(status, seq, resp)).await
    }

    /// A deliver_sm (or data_sm): a receipt or an MO part. Returns how to answer: a receipt
    /// once the outbox has recorded it, anything else at once; a temporary error when Kori
    /// cannot take it now, so the SMSC delivers it again.
    fn on_deliver(&mut self, sm: &DeliverSm) -> DeliverAnswer {
        let shared = &self.session.shared;
        let carrier = &shared.config.name;
        // Reserve room for the news first: an MO part must not enter the reassembler if its
        // message could not then be passed on.
        let Ok(permit) = shared.events.try_reserve() else {
            warn!(%carrier, "event queue full; asking the SMSC to deliver again later");
            return DeliverAnswer::Now(CommandStatus::ReceiverTemporaryError);
        };
        if sm.esm_class.is_receipt() {
            return match Receipt::from_deliver_sm(sm) {
                Ok(receipt) => {
                    let (ack, answer) = ReceiptAck::new();
                    permit.send(Event::Receipt {
                        carrier: carrier.clone(),
                        receipt: Box::new(receipt),
                        ack,
                    });
                    DeliverAnswer::Later(answer)
                }
                Err(e) => {
                    warn!(%carrier, error = %e, "unreadable delivery receipt; accepted and dropped");
                    DeliverAnswer::Now(CommandStatus::Ok)
                }
            };
        }
        let text_bytes = if sm.short_message.is_empty() {
            sm.tlvs.message_payload().cloned().unwrap_or_default()
        } else {
            sm.short_message.clone()
        };
        let key = (sm.source_addr.to_string(), sm.destination_addr.to_string());
        let now = shared.started.elapsed().as_secs();
        let part = Part {
            data_coding: sm.data_coding.0,
            udhi: sm.esm_class.has_udh(),
            short_message: &text_bytes,
            sar: sm.tlvs.sar(),
            now,
        };
        let whole = match shared.mo.lock() {
            Ok(mut mo) => {
                // Parts of a message that never completes are dropped after ten minutes.
                mo.expire(now.saturating_sub(600));
                mo.push(key.clone(), part)
            }
            Err(_) => return DeliverAnswer::Now(CommandStatus::SystemError),
        };
        match whole {
            Ok(Some(message)) => match message.text() {
                Ok(text) => permit.send(Event::Mo(MoMessage {
                    carrier: carrier.clone(),
                    from: key.0,
                    to: key.1,
                    text,
                    parts: usize::from(message.parts),
                })),
                Err(e) => warn!(%carrier, error = %e, "MO text cannot be decoded; dropped"),
            },
            Ok(None) => {}
            Err(e) => warn!(%carrier, error = %e, "MO with a malformed user data header; dropped"),
        }
        DeliverAnswer::Now(CommandStatus::Ok)
    }
}

/// A data_sm read as a deliver_sm: its text is in `message_payload`.
fn data_sm_as_deliver(data: DataSm) -> DeliverSm {
    SubmitSm {
        service_type: data.service_type,
        source_addr_ton: data.source_addr_ton,
        source_addr_npi: data.source_addr_npi,
        source_addr: kori_smpp::Address::new(data.source_addr.as_bytes()).unwrap_or_default(),
        dest_addr_ton: data.dest_addr_ton,
        dest_addr_npi: data.dest_addr_npi,
        destination_addr: kori_smpp::Address::new(data.destination_addr.as_bytes())
            .unwrap_or_default(),
        esm_class: EsmClass(data.esm_class.0),
        registered_delivery: data.registered_delivery,
        data_coding: data.data_coding,
        tlvs: data.tlvs,
        ..SubmitSm::default()
    }
}
