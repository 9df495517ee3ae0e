//! Making a bind: TCP connect, the bind request and response, and the backoff between tries.
//!
//! Owns the reconnect schedule (1 s doubling to 60 s, with jitter, so binds that drop together
//! do not return together) and the bind handshake. Must not touch: the window or submits.
//! Called by the session actor before it enters its connected loop.

use super::error::SessionError;
use super::{BindKind, CarrierConfig};
use futures_util::{SinkExt, StreamExt};
use kori_smpp::{
    AddressRange, Bind, Command, CommandStatus, InterfaceVersion, Password, Pdu, SmppCodec,
    SystemId, SystemType,
};
use rand::Rng;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// The reconnect delays of one bind.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            next: initial,
        }
    }

    /// The next delay: the current step with "equal jitter" (between half and all of it),
    /// then the step doubles up to the maximum.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        equal_jitter(step)
    }

    /// After a bind that worked.
    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// "Equal jitter": a delay between half and all of `step`, at random, so that what failed
/// together (binds that dropped, callbacks to a receiver that went down) does not all try
/// again at the same moment.
pub(crate) fn equal_jitter(step: Duration) -> Duration {
    let half = step / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
    half + Duration::from_millis(jitter)
}

/// A bound connection.
pub(crate) type Connection = Framed<TcpStream, SmppCodec>;

/// Connects and binds; the sequence number 1 is used for the bind.
pub(crate) async fn connect_and_bind(
    config: &CarrierConfig,
    kind: BindKind,
) -> Result<Connection, SessionError> {
    let carrier = config.name.clone();
    let addr = format!("{}:{}", config.host, config.port);
    let stream = match tokio::time::timeout(config.connect_timeout, TcpStream::connect(&addr)).await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(source)) => {
            return Err(SessionError::Connect {
                carrier,
                addr,
                source,
            });
        }
        Err(_) => {
            return Err(SessionError::Connect {
                carrier,
                addr,
                source: std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
            });
        }
    };
    stream.set_nodelay(true).ok();
    let mut conn = Framed::new(stream, SmppCodec::new(config.max_pdu_len));
    let bad = |field: &str, e: kori_smpp::StringError| SessionError::Config {
        carrier: config.name.clone(),
        detail: format!("{field}: {e}"),
    };
    let bind = Bind {
        system_id: SystemId::new(config.system_id.as_bytes()).map_err(|e| bad("system_id", e))?,
        password: Password::new(config.password.expose().as_bytes())
            .map_err(|e| bad("password", e))?,
        system_type: SystemType::new(config.system_type.as_bytes())
            .map_err(|e| bad("system_type", e))?,
        interface_version: InterfaceVersion::V34,
        addr_ton: Default::default(),
        addr_npi: Default::default(),
        address_range: AddressRange::new(config.address_range.as_bytes())
            .map_err(|e| bad("address_range", e))?,
    };
    let pdu = match kind {
        BindKind::Transceiver => Pdu::BindTransceiver(bind),
        BindKind::Transmitter => Pdu::BindTransmitter(bind),
        BindKind::Receiver => Pdu::BindReceiver(bind),
    };
    conn.send(Command::new(1, pdu))
        .await
        .map_err(|e| codec_error(config, e))?;
    let answer = tokio::time::timeout(config.response_timeout, async {
        loop {
            match conn.next().await {
                None => {
                    return Err(SessionError::ClosedByPeer {
                        carrier: config.name.clone(),
                    });
                }
                Some(Err(e)) => return Err(codec_error(config, e)),
                Some(Ok(frame))
                    if frame.header.sequence_number == 1
                        && frame.header.command_id.is_response() =>
                {
                    return Ok(frame.header.command_status);
                }
                // Anything else before the bind response (an early enquire_link) is ignored.
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .map_err(|_| SessionError::BindTimeout {
        carrier: config.name.clone(),
        timeout: config.response_timeout,
    })??;
    if answer != CommandStatus::Ok {
        return Err(SessionError::BindRefused {
            carrier: config.name.clone(),
            status: answer,
        });
    }
    Ok(conn)
}

/// Maps a framing error to the session's error.
pub(crate) fn codec_error(config: &CarrierConfig, e: kori_smpp::CodecError) -> SessionError {
    let carrier = config.name.clone();
    match e {
        kori_smpp::CodecError::Io(source) => SessionError::Io { carrier, source },
        kori_smpp::CodecError::Header(h) => SessionError::Framing {
            carrier,
            detail: h.to_string(),
        },
        kori_smpp::CodecError::Encode(source) => SessionError::Encode { carrier, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut steps = Vec::new();
        for _ in 0..9 {
            steps.push(b.next_delay());
        }
        let caps = [1, 2, 4, 8, 16, 32, 60, 60, 60];
        for (d, cap) in steps.iter().zip(caps) {
            let cap = Duration::from_secs(cap);
            assert!(
                *d >= cap / 2 && *d <= cap,
                "{d:?} not within [{:?}, {cap:?}]",
                cap / 2
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
