//! The PDU bodies of SMPP 3.4 §4, one struct per layout, each with its nom parser and writer.
//!
//! Owns field order and field limits. Mandatory fields are parsed with nom's `complete`
//! parsers (the frame is whole by the time a body is read); the optional part is a TLV list.
//! Used by [`crate::pdu`], which picks the body by `command_id`.

use crate::error::{BodyError, EncodeError};
use crate::octets::{
    Address, AddressRange, DistributionListName, LongAddress, MessageId, Password, ServiceType,
    SmppTime, SystemId, SystemType,
};
use crate::status::CommandStatus;
use crate::tlv::{Tlv, parse_tlvs, tlvs_len, tlvs_len_checked, write_tlvs};
use crate::types::{DataCoding, EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton};
use crate::wire::{
    Out, PResult, Source, c_octet, check_short_message, end_of_body, short_message, u8_field,
    u32_field,
};
use bytes::Bytes;
use nom::Parser;

/// How a body is read, measured and written.
pub(crate) trait Body: Sized {
    /// Parses a whole body (`i` ends where the PDU ends).
    fn parse<'a, S: Source>(i: &'a [u8], src: &S) -> PResult<'a, Self>;
    /// Octets of the mandatory part.
    fn fixed_len(&self) -> usize;
    /// The optional part.
    fn tlvs(&self) -> &[Tlv] {
        &[]
    }
    /// Refuses mandatory values that do not fit their length fields.
    fn check_fixed(&self) -> Result<(), EncodeError> {
        Ok(())
    }
    /// Writes the body; [`Body::checked_len`] has passed.
    fn write(&self, dst: &mut Out<'_>);

    /// Octets [`Body::write`] will write.
    fn encoded_len(&self) -> usize {
        self.fixed_len() + tlvs_len(self.tlvs())
    }
    /// [`Body::encoded_len`], refusing values that do not fit their length fields.
    fn checked_len(&self) -> Result<usize, EncodeError> {
        self.check_fixed()?;
        Ok(self.fixed_len() + tlvs_len_checked(self.tlvs())?)
    }
}

fn ton_npi<'a>(
    prefix: &'static str,
) -> impl Parser<&'a [u8], Output = (Ton, Npi), Error = BodyError> {
    let (ton, npi) = match prefix {
        "source" => ("source_addr_ton", "source_addr_npi"),
        "dest" => ("dest_addr_ton", "dest_addr_npi"),
        "esme" => ("esme_addr_ton", "esme_addr_npi"),
        _ => ("addr_ton", "addr_npi"),
    };
    (u8_field(ton), u8_field(npi)).map(|(t, n)| (Ton(t), Npi(n)))
}

fn tlvs_then_end<'a, S: Source>(i: &'a [u8], src: &S, body_len: usize) -> PResult<'a, Vec<Tlv>> {
    parse_tlvs(i, src, body_len)
}

fn no_more(i: &[u8]) -> PResult<'_, ()> {
    end_of_body(i).map(|()| (i, ())).map_err(nom::Err::Error)
}

/// `bind_transmitter`, `bind_receiver`, `bind_transceiver` (§4.1.1, §4.1.3, §4.1.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bind {
    /// Identifies the ESME to the SMSC.
    pub system_id: SystemId,
    /// Authenticates the ESME.
    pub password: Password,
    /// The type of ESME (often empty, some carriers require a value).
    pub system_type: SystemType,
    /// SMPP version the ESME speaks (0x34).
    pub interface_version: InterfaceVersion,
    /// TON of `address_range`.
    pub addr_ton: Ton,
    /// NPI of `address_range`.
    pub addr_npi: Npi,
    /// Addresses served by this ESME (receiver binds), often empty.
    pub address_range: AddressRange,
}

impl Body for Bind {
    fn parse<'a, S: Source>(i: &'a [u8], _: &S) -> PResult<'a, Self> {
        let (
            i,
            (
                system_id,
                password,
                system_type,
                interface_version,
                (addr_ton, addr_npi),
                address_range,
            ),
        ) = (
            c_octet("system_id"),
            c_octet("password"),
            c_octet("system_type"),
            u8_field("interface_version"),
            ton_npi("addr"),
            c_octet("address_range"),
        )
            .parse(i)?;
        let (i, ()) = no_more(i)?;
        Ok((
            i,
            Self {
                system_id,
                password,
                system_type,
                interface_version: InterfaceVersion(interface_version),
                addr_ton,
                addr_npi,
                address_range,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        self.system_id.encoded_len()
            + self.password.encoded_len()
            + self.system_type.encoded_len()
            + 3
            + self.address_range.encoded_len()
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.system_id);
        dst.c_octet(&self.password);
        dst.c_octet(&self.system_type);
        dst.u8(self.interface_version.0);
        dst.u8(self.addr_ton.0);
        dst.u8(self.addr_npi.0);
        dst.c_octet(&self.address_range);
    }
}

/// `bind_*_resp` (§4.1.2, §4.1.4, §4.1.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp {
    /// Identifies the SMSC.
    pub system_id: SystemId,
    /// Optional parameters (`sc_interface_version`).
    pub tlvs: Vec<Tlv>,
}

impl Body for BindResp {
    fn parse<'a, S: Source>(i: &'a [u8], src: &S) -> PResult<'a, Self> {
        let body_len = i.len();
        let (i, system_id) = c_octet("system_id").parse(i)?;
        let (i, tlvs) = tlvs_then_end(i, src, body_len)?;
        Ok((i, Self { system_id, tlvs }))
    }

    fn fixed_len(&self) -> usize {
        self.system_id.encoded_len()
    }

    fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.system_id);
        write_tlvs(dst, &self.tlvs);
    }
}

/// `outbind` (§4.1.7): the SMSC asks the ESME to bind as receiver.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbind {
    /// Identifies the SMSC.
    pub system_id: SystemId,
    /// Authenticates the SMSC.
    pub password: Password,
}

impl Body for Outbind {
    fn parse<'a, S: Source>(i: &'a [u8], _: &S) -> PResult<'a, Self> {
        let (i, (system_id, password)) = (c_octet("system_id"), c_octet("password")).parse(i)?;
        let (i, ()) = no_more(i)?;
        Ok((
            i,
            Self {
                system_id,
                password,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        self.system_id.encoded_len() + self.password.encoded_len()
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.system_id);
        dst.c_octet(&self.password);
    }
}

/// `submit_sm` (§4.4.1) and, with the same layout, `deliver_sm` (§4.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitSm {
    /// SMS application service (often empty).
    pub service_type: ServiceType,
    /// TON of the sender.
    pub source_addr_ton: Ton,
    /// NPI of the sender.
    pub source_addr_npi: Npi,
    /// The sender: number, short code or alphanumeric name.
    pub source_addr: Address,
    /// TON of the recipient.
    pub dest_addr_ton: Ton,
    /// NPI of the recipient.
    pub dest_addr_npi: Npi,
    /// The recipient.
    pub destination_addr: Address,
    /// Messaging mode, message type, UDHI.
    pub esm_class: EsmClass,
    /// GSM TP-Protocol-Identifier.
    pub protocol_id: u8,
    /// Priority level (0–3).
    pub priority_flag: u8,
    /// Empty for immediate delivery, else absolute or relative time (§7.1).
    pub schedule_delivery_time: SmppTime,
    /// Empty for the SMSC default, else absolute or relative time (§7.1).
    pub validity_period: SmppTime,
    /// Whether a delivery receipt is requested.
    pub registered_delivery: RegisteredDelivery,
    /// Replace a previous message with the same source, destination and service type.
    pub replace_if_present_flag: u8,
    /// Encoding of `short_message`.
    pub data_coding: DataCoding,
    /// Index of a canned message (0 when unused).
    pub sm_default_msg_id: u8,
    /// Up to 254 octets of user data (empty when `message_payload` carries it).
    pub short_message: Bytes,
    /// Optional parameters in wire order.
    pub tlvs: Vec<Tlv>,
}

/// `deliver_sm` shares `submit_sm`'s layout (§4.6.1): SMSC → ESME messages and receipts.
pub type DeliverSm = SubmitSm;

impl Body for SubmitSm {
    fn parse<'a, S: Source>(i: &'a [u8], src: &S) -> PResult<'a, Self> {
        let body_len = i.len();
        let (
            i,
            (
                service_type,
                (source_addr_ton, source_addr_npi),
                source_addr,
                (dest_addr_ton, dest_addr_npi),
                destination_addr,
            ),
        ) = (
            c_octet("service_type"),
            ton_npi("source"),
            c_octet("source_addr"),
            ton_npi("dest"),
            c_octet("destination_addr"),
        )
            .parse(i)?;
        let (i, (esm_class, protocol_id, priority_flag, schedule_delivery_time, validity_period)) =
            (
                u8_field("esm_class"),
                u8_field("protocol_id"),
                u8_field("priority_flag"),
                c_octet("schedule_delivery_time"),
                c_octet("validity_period"),
            )
                .parse(i)?;
        let (
            i,
            (
                registered_delivery,
                replace_if_present_flag,
                data_coding,
                sm_default_msg_id,
                short_message,
            ),
        ) = (
            u8_field("registered_delivery"),
            u8_field("replace_if_present_flag"),
            u8_field("data_coding"),
            u8_field("sm_default_msg_id"),
            short_message(src),
        )
            .parse(i)?;
        let (i, tlvs) = tlvs_then_end(i, src, body_len)?;
        Ok((
            i,
            Self {
                service_type,
                source_addr_ton,
                source_addr_npi,
                source_addr,
                dest_addr_ton,
                dest_addr_npi,
                destination_addr,
                esm_class: EsmClass(esm_class),
                protocol_id,
                priority_flag,
                schedule_delivery_time,
                validity_period,
                registered_delivery: RegisteredDelivery(registered_delivery),
                replace_if_present_flag,
                data_coding: DataCoding(data_coding),
                sm_default_msg_id,
                short_message,
                tlvs,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        self.service_type.encoded_len()
            + 2
            + self.source_addr.encoded_len()
            + 2
            + self.destination_addr.encoded_len()
            + 3
            + self.schedule_delivery_time.encoded_len()
            + self.validity_period.encoded_len()
            + 5
            + self.short_message.len()
    }

    fn check_fixed(&self) -> Result<(), EncodeError> {
        check_short_message(&self.short_message)
    }

    fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.service_type);
        dst.u8(self.source_addr_ton.0);
        dst.u8(self.source_addr_npi.0);
        dst.c_octet(&self.source_addr);
        dst.u8(self.dest_addr_ton.0);
        dst.u8(self.dest_addr_npi.0);
        dst.c_octet(&self.destination_addr);
        dst.u8(self.esm_class.0);
        dst.u8(self.protocol_id);
        dst.u8(self.priority_flag);
        dst.c_octet(&self.schedule_delivery_time);
        dst.c_octet(&self.validity_period);
        dst.u8(self.registered_delivery.0);
        dst.u8(self.replace_if_present_flag);
        dst.u8(self.data_coding.0);
        dst.u8(self.sm_default_msg_id);
        dst.short_message(&self.short_message);
        write_tlvs(dst, &self.tlvs);
    }
}

/// `submit_sm_resp` (§4.4.2), `deliver_sm_resp` (§4.6.2, `message_id` unused and empty) and
/// `data_sm_resp` (§4.7.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmResp {
    /// The SMSC's id for the message; the key receipts are matched on.
    pub message_id: MessageId,
    /// Optional parameters (`data_sm_resp`; SMPP 5.0 peers send them in the others too).
    pub tlvs: Vec<Tlv>,
}

impl Body for SmResp {
    fn parse<'a, S: Source>(i: &'a [u8], src: &S) -> PResult<'a, Self> {
        let body_len = i.len();
        let (i, message_id) = c_octet("message_id").parse(i)?;
        let (i, tlvs) = tlvs_then_end(i, src, body_len)?;
        Ok((i, Self { message_id, tlvs }))
    }

    fn fixed_len(&self) -> usize {
        self.message_id.encoded_len()
    }

    fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.message_id);
        write_tlvs(dst, &self.tlvs);
    }
}

/// One destination of a `submit_multi` (§4.5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestAddress {
    /// `dest_flag` 1: an SME address.
    Sme {
        /// TON of the address.
        ton: Ton,
        /// NPI of the address.
        npi: Npi,
        /// The address.
        address: Address,
    },
    /// `dest_flag` 2: a distribution list held by the SMSC.
    DistributionList(DistributionListName),
}

impl DestAddress {
    fn encoded_len(&self) -> usize {
        match self {
            Self::Sme { address, .. } => 3 + address.encoded_len(),
            Self::DistributionList(name) => 1 + name.encoded_len(),
        }
    }

    fn write(&self, dst: &mut Out<'_>) {
        match self {
            Self::Sme { ton, npi, address } => {
                dst.u8(1);
                dst.u8(ton.0);
                dst.u8(npi.0);
                dst.c_octet(address);
            }
            Self::DistributionList(name) => {
                dst.u8(2);
                dst.c_octet(name);
            }
        }
    }

    fn parse(i: &[u8]) -> PResult<'_, Self> {
        let (i, flag) = u8_field("dest_flag").parse(i)?;
        match flag {
            1 => {
                let (i, ((ton, npi), address)) =
                    (ton_npi("dest"), c_octet("destination_addr")).parse(i)?;
                Ok((i, Self::Sme { ton, npi, address }))
            }
            2 => {
                let (i, name) = c_octet("dl_name").parse(i)?;
                Ok((i, Self::DistributionList(name)))
            }
            other => Err(nom::Err::Error(BodyError::InvalidDestFlag(other))),
        }
    }
}

/// `submit_multi` (§4.5.1): one message to up to 254 destinations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMulti {
    /// SMS application service.
    pub service_type: ServiceType,
    /// TON of the sender.
    pub source_addr_ton: Ton,
    /// NPI of the sender.
    pub source_addr_npi: Npi,
    /// The sender.
    pub source_addr: Address,
    /// Destinations, SME addresses or distribution lists (at most 254).
    pub dest_addresses: Vec<DestAddress>,
    /// Messaging mode, message type, UDHI.
    pub esm_class: EsmClass,
    /// GSM TP-Protocol-Identifier.
    pub protocol_id: u8,
    /// Priority level.
    pub priority_flag: u8,
    /// Scheduled delivery time (§7.1) or empty.
    pub schedule_delivery_time: SmppTime,
    /// Validity period (§7.1) or empty.
    pub validity_period: SmppTime,
    /// Whether a delivery receipt is requested.
    pub registered_delivery: RegisteredDelivery,
    /// Replace-if-present flag.
    pub replace_if_present_flag: u8,
    /// Encoding of `short_message`.
    pub data_coding: DataCoding,
    /// Canned message index.
    pub sm_default_msg_id: u8,
    /// Up to 254 octets of user data.
    pub short_message: Bytes,
    /// Optional parameters.
    pub tlvs: Vec<Tlv>,
}

/// Most destinations `number_of_dests` may announce (§4.5.1).
///
/// The fields after the destinations repeat `submit_sm`'s, spelled out again on purpose: a
/// shared parser returning them as one value measured about 15% slower decoding (one more move
/// of the fields per PDU).
const MAX_DESTS: usize = 254;

impl Body for SubmitMulti {
    fn parse<'a, S: Source>(i: &'a [u8], src: &S) -> PResult<'a, Self> {
        let body_len = i.len();
        let (i, (service_type, (source_addr_ton, source_addr_npi), source_addr, number_of_dests)) =
            (
                c_octet("service_type"),
                ton_npi("source"),
                c_octet("source_addr"),
                u8_field("number_of_dests"),
            )
                .parse(i)?;
        let mut dest_addresses = Vec::with_capacity(usize::from(number_of_dests));
        let mut i = i;
        for _ in 0..number_of_dests {
            let (rest, dest) = DestAddress::parse(i)?;
            dest_addresses.push(dest);
            i = rest;
        }
        let (i, (esm_class, protocol_id, priority_flag, schedule_delivery_time, validity_period)) =
            (
                u8_field("esm_class"),
                u8_field("protocol_id"),
                u8_field("priority_flag"),
                c_octet("schedule_delivery_time"),
                c_octet("validity_period"),
            )
                .parse(i)?;
        let (
            i,
            (
                registered_delivery,
                replace_if_present_flag,
                data_coding,
                sm_default_msg_id,
                short_message,
            ),
        ) = (
            u8_field("registered_delivery"),
            u8_field("replace_if_present_flag"),
            u8_field("data_coding"),
            u8_field("sm_default_msg_id"),
            short_message(src),
        )
            .parse(i)?;
        let (i, tlvs) = tlvs_then_end(i, src, body_len)?;
        Ok((
            i,
            Self {
                service_type,
                source_addr_ton,
                source_addr_npi,
                source_addr,
                dest_addresses,
                esm_class: EsmClass(esm_class),
                protocol_id,
                priority_flag,
                schedule_delivery_time,
                validity_period,
                registered_delivery: RegisteredDelivery(registered_delivery),
                replace_if_present_flag,
                data_coding: DataCoding(data_coding),
                sm_default_msg_id,
                short_message,
                tlvs,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        self.service_type.encoded_len()
            + 2
            + self.source_addr.encoded_len()
            + 1
            + self
                .dest_addresses
                .iter()
                .map(DestAddress::encoded_len)
                .sum::<usize>()
            + 3
            + self.schedule_delivery_time.encoded_len()
            + self.validity_period.encoded_len()
            + 5
            + self.short_message.len()
    }

    fn check_fixed(&self) -> Result<(), EncodeError> {
        if self.dest_addresses.len() > MAX_DESTS {
            return Err(EncodeError::TooManyEntries {
                field: "dest_address",
                len: self.dest_addresses.len(),
                max: MAX_DESTS,
            });
        }
        check_short_message(&self.short_message)
    }

    fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.service_type);
        dst.u8(self.source_addr_ton.0);
        dst.u8(self.source_addr_npi.0);
        dst.c_octet(&self.source_addr);
        dst.u8(self.dest_addresses.len() as u8);
        for dest in &self.dest_addresses {
            dest.write(dst);
        }
        dst.u8(self.esm_class.0);
        dst.u8(self.protocol_id);
        dst.u8(self.priority_flag);
        dst.c_octet(&self.schedule_delivery_time);
        dst.c_octet(&self.validity_period);
        dst.u8(self.registered_delivery.0);
        dst.u8(self.replace_if_present_flag);
        dst.u8(self.data_coding.0);
        dst.u8(self.sm_default_msg_id);
        dst.short_message(&self.short_message);
        write_tlvs(dst, &self.tlvs);
    }
}

/// A destination a `submit_multi` could not be delivered to (§4.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsuccessSme {
    /// TON of the address.
    pub dest_addr_ton: Ton,
    /// NPI of the address.
    pub dest_addr_npi: Npi,
    /// The address.
    pub destination_addr: Address,
    /// Why it failed.
    pub error_status_code: CommandStatus,
}

/// `submit_multi_resp` (§4.5.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMultiResp {
    /// The SMSC's id for the message.
    pub message_id: MessageId,
    /// Destinations that failed (at most 255).
    pub unsuccess_smes: Vec<UnsuccessSme>,
    /// Optional parameters (SMPP 5.0 peers).
    pub tlvs: Vec<Tlv>,
}

impl Body for SubmitMultiResp {
    fn parse<'a, S: Source>(i: &'a [u8], src: &S) -> PResult<'a, Self> {
        let body_len = i.len();
        let (mut i, (message_id, no_unsuccess)) =
            (c_octet("message_id"), u8_field("no_unsuccess")).parse(i)?;
        let mut unsuccess_smes = Vec::with_capacity(usize::from(no_unsuccess));
        for _ in 0..no_unsuccess {
            let (rest, ((dest_addr_ton, dest_addr_npi), destination_addr, status)) = (
                ton_npi("dest"),
                c_octet("destination_addr"),
                u32_field("error_status_code"),
            )
                .parse(i)?;
            unsuccess_smes.push(UnsuccessSme {
                dest_addr_ton,
                dest_addr_npi,
                destination_addr,
                error_status_code: CommandStatus::from(status),
            });
            i = rest;
        }
        let (i, tlvs) = tlvs_then_end(i, src, body_len)?;
        Ok((
            i,
            Self {
                message_id,
                unsuccess_smes,
                tlvs,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        self.message_id.encoded_len()
            + 1
            + self
                .unsuccess_smes
                .iter()
                .map(|u| 2 + u.destination_addr.encoded_len() + 4)
                .sum::<usize>()
    }

    fn check_fixed(&self) -> Result<(), EncodeError> {
        if self.unsuccess_smes.len() > usize::from(u8::MAX) {
            return Err(EncodeError::TooManyEntries {
                field: "unsuccess_sme",
                len: self.unsuccess_smes.len(),
                max: usize::from(u8::MAX),
            });
        }
        Ok(())
    }

    fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.message_id);
        dst.u8(self.unsuccess_smes.len() as u8);
        for u in &self.unsuccess_smes {
            dst.u8(u.dest_addr_ton.0);
            dst.u8(u.dest_addr_npi.0);
            dst.c_octet(&u.destination_addr);
            dst.u32(u.error_status_code.code());
        }
        write_tlvs(dst, &self.tlvs);
    }
}

/// `data_sm` (§4.7.1): a message with its parameters in TLVs, in either direction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSm {
    /// SMS application service.
    pub service_type: ServiceType,
    /// TON of the sender.
    pub source_addr_ton: Ton,
    /// NPI of the sender.
    pub source_addr_npi: Npi,
    /// The sender (up to 64 octets).
    pub source_addr: LongAddress,
    /// TON of the recipient.
    pub dest_addr_ton: Ton,
    /// NPI of the recipient.
    pub dest_addr_npi: Npi,
    /// The recipient (up to 64 octets).
    pub destination_addr: LongAddress,
    /// Messaging mode, message type, UDHI.
    pub esm_class: EsmClass,
    /// Whether a delivery receipt is requested.
    pub registered_delivery: RegisteredDelivery,
    /// Encoding of `message_payload`.
    pub data_coding: DataCoding,
    /// Optional parameters (`message_payload` carries the text).
    pub tlvs: Vec<Tlv>,
}

impl Body for DataSm {
    fn parse<'a, S: Source>(i: &'a [u8], src: &S) -> PResult<'a, Self> {
        let body_len = i.len();
        let (
            i,
            (
                service_type,
                (source_addr_ton, source_addr_npi),
                source_addr,
                (dest_addr_ton, dest_addr_npi),
                destination_addr,
            ),
        ) = (
            c_octet("service_type"),
            ton_npi("source"),
            c_octet("source_addr"),
            ton_npi("dest"),
            c_octet("destination_addr"),
        )
            .parse(i)?;
        let (i, (esm_class, registered_delivery, data_coding)) = (
            u8_field("esm_class"),
            u8_field("registered_delivery"),
            u8_field("data_coding"),
        )
            .parse(i)?;
        let (i, tlvs) = tlvs_then_end(i, src, body_len)?;
        Ok((
            i,
            Self {
                service_type,
                source_addr_ton,
                source_addr_npi,
                source_addr,
                dest_addr_ton,
                dest_addr_npi,
                destination_addr,
                esm_class: EsmClass(esm_class),
                registered_delivery: RegisteredDelivery(registered_delivery),
                data_coding: DataCoding(data_coding),
                tlvs,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        self.service_type.encoded_len()
            + 2
            + self.source_addr.encoded_len()
            + 2
            + self.destination_addr.encoded_len()
            + 3
    }

    fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.service_type);
        dst.u8(self.source_addr_ton.0);
        dst.u8(self.source_addr_npi.0);
        dst.c_octet(&self.source_addr);
        dst.u8(self.dest_addr_ton.0);
        dst.u8(self.dest_addr_npi.0);
        dst.c_octet(&self.destination_addr);
        dst.u8(self.esm_class.0);
        dst.u8(self.registered_delivery.0);
        dst.u8(self.data_coding.0);
        write_tlvs(dst, &self.tlvs);
    }
}

/// `query_sm` (§4.8.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySm {
    /// The SMSC's id of the message queried.
    pub message_id: MessageId,
    /// TON of the original sender.
    pub source_addr_ton: Ton,
    /// NPI of the original sender.
    pub source_addr_npi: Npi,
    /// The original sender.
    pub source_addr: Address,
}

impl Body for QuerySm {
    fn parse<'a, S: Source>(i: &'a [u8], _: &S) -> PResult<'a, Self> {
        let (i, (message_id, (source_addr_ton, source_addr_npi), source_addr)) = (
            c_octet("message_id"),
            ton_npi("source"),
            c_octet("source_addr"),
        )
            .parse(i)?;
        let (i, ()) = no_more(i)?;
        Ok((
            i,
            Self {
                message_id,
                source_addr_ton,
                source_addr_npi,
                source_addr,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        self.message_id.encoded_len() + 2 + self.source_addr.encoded_len()
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.message_id);
        dst.u8(self.source_addr_ton.0);
        dst.u8(self.source_addr_npi.0);
        dst.c_octet(&self.source_addr);
    }
}

/// `query_sm_resp` (§4.8.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySmResp {
    /// The id queried.
    pub message_id: MessageId,
    /// When the message reached its final state, or empty.
    pub final_date: SmppTime,
    /// `message_state` (§5.2.28).
    pub message_state: u8,
    /// Network error code, when the state is a failure.
    pub error_code: u8,
}

impl Body for QuerySmResp {
    fn parse<'a, S: Source>(i: &'a [u8], _: &S) -> PResult<'a, Self> {
        let (i, (message_id, final_date, message_state, error_code)) = (
            c_octet("message_id"),
            c_octet("final_date"),
            u8_field("message_state"),
            u8_field("error_code"),
        )
            .parse(i)?;
        let (i, ()) = no_more(i)?;
        Ok((
            i,
            Self {
                message_id,
                final_date,
                message_state,
                error_code,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        self.message_id.encoded_len() + self.final_date.encoded_len() + 2
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.message_id);
        dst.c_octet(&self.final_date);
        dst.u8(self.message_state);
        dst.u8(self.error_code);
    }
}

/// `cancel_sm` (§4.9.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelSm {
    /// Service type of the messages to cancel (with an empty `message_id`).
    pub service_type: ServiceType,
    /// The message to cancel, or empty to cancel by addresses.
    pub message_id: MessageId,
    /// TON of the original sender.
    pub source_addr_ton: Ton,
    /// NPI of the original sender.
    pub source_addr_npi: Npi,
    /// The original sender.
    pub source_addr: Address,
    /// TON of the recipient.
    pub dest_addr_ton: Ton,
    /// NPI of the recipient.
    pub dest_addr_npi: Npi,
    /// The recipient.
    pub destination_addr: Address,
}

impl Body for CancelSm {
    fn parse<'a, S: Source>(i: &'a [u8], _: &S) -> PResult<'a, Self> {
        let (
            i,
            (
                service_type,
                message_id,
                (source_addr_ton, source_addr_npi),
                source_addr,
                (dest_addr_ton, dest_addr_npi),
                destination_addr,
            ),
        ) = (
            c_octet("service_type"),
            c_octet("message_id"),
            ton_npi("source"),
            c_octet("source_addr"),
            ton_npi("dest"),
            c_octet("destination_addr"),
        )
            .parse(i)?;
        let (i, ()) = no_more(i)?;
        Ok((
            i,
            Self {
                service_type,
                message_id,
                source_addr_ton,
                source_addr_npi,
                source_addr,
                dest_addr_ton,
                dest_addr_npi,
                destination_addr,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        self.service_type.encoded_len()
            + self.message_id.encoded_len()
            + 2
            + self.source_addr.encoded_len()
            + 2
            + self.destination_addr.encoded_len()
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.service_type);
        dst.c_octet(&self.message_id);
        dst.u8(self.source_addr_ton.0);
        dst.u8(self.source_addr_npi.0);
        dst.c_octet(&self.source_addr);
        dst.u8(self.dest_addr_ton.0);
        dst.u8(self.dest_addr_npi.0);
        dst.c_octet(&self.destination_addr);
    }
}

/// `replace_sm` (§4.10.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplaceSm {
    /// The message to replace.
    pub message_id: MessageId,
    /// TON of the original sender.
    pub source_addr_ton: Ton,
    /// NPI of the original sender.
    pub source_addr_npi: Npi,
    /// The original sender.
    pub source_addr: Address,
    /// New scheduled delivery time or empty.
    pub schedule_delivery_time: SmppTime,
    /// New validity period or empty.
    pub validity_period: SmppTime,
    /// New receipt request.
    pub registered_delivery: RegisteredDelivery,
    /// Canned message index.
    pub sm_default_msg_id: u8,
    /// The new user data.
    pub short_message: Bytes,
}

impl Body for ReplaceSm {
    fn parse<'a, S: Source>(i: &'a [u8], src: &S) -> PResult<'a, Self> {
        let (
            i,
            (
                message_id,
                (source_addr_ton, source_addr_npi),
                source_addr,
                schedule_delivery_time,
                validity_period,
            ),
        ) = (
            c_octet("message_id"),
            ton_npi("source"),
            c_octet("source_addr"),
            c_octet("schedule_delivery_time"),
            c_octet("validity_period"),
        )
            .parse(i)?;
        let (i, (registered_delivery, sm_default_msg_id, short_message)) = (
            u8_field("registered_delivery"),
            u8_field("sm_default_msg_id"),
            short_message(src),
        )
            .parse(i)?;
        let (i, ()) = no_more(i)?;
        Ok((
            i,
            Self {
                message_id,
                source_addr_ton,
                source_addr_npi,
                source_addr,
                schedule_delivery_time,
                validity_period,
                registered_delivery: RegisteredDelivery(registered_delivery),
                sm_default_msg_id,
                short_message,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        self.message_id.encoded_len()
            + 2
            + self.source_addr.encoded_len()
            + self.schedule_delivery_time.encoded_len()
            + self.validity_period.encoded_len()
            + 3
            + self.short_message.len()
    }

    fn check_fixed(&self) -> Result<(), EncodeError> {
        check_short_message(&self.short_message)
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.c_octet(&self.message_id);
        dst.u8(self.source_addr_ton.0);
        dst.u8(self.source_addr_npi.0);
        dst.c_octet(&self.source_addr);
        dst.c_octet(&self.schedule_delivery_time);
        dst.c_octet(&self.validity_period);
        dst.u8(self.registered_delivery.0);
        dst.u8(self.sm_default_msg_id);
        dst.short_message(&self.short_message);
    }
}

/// `alert_notification` (§4.12.1): a subscriber became reachable.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertNotification {
    /// TON of the mobile that became available.
    pub source_addr_ton: Ton,
    /// NPI of the mobile.
    pub source_addr_npi: Npi,
    /// The mobile's address.
    pub source_addr: LongAddress,
    /// TON of the ESME that asked to be alerted.
    pub esme_addr_ton: Ton,
    /// NPI of the ESME.
    pub esme_addr_npi: Npi,
    /// The ESME's address.
    pub esme_addr: LongAddress,
    /// Optional parameters (`ms_availability_status`).
    pub tlvs: Vec<Tlv>,
}

impl Body for AlertNotification {
    fn parse<'a, S: Source>(i: &'a [u8], src: &S) -> PResult<'a, Self> {
        let body_len = i.len();
        let (
            i,
            (
                (source_addr_ton, source_addr_npi),
                source_addr,
                (esme_addr_ton, esme_addr_npi),
                esme_addr,
            ),
        ) = (
            ton_npi("source"),
            c_octet("source_addr"),
            ton_npi("esme"),
            c_octet("esme_addr"),
        )
            .parse(i)?;
        let (i, tlvs) = tlvs_then_end(i, src, body_len)?;
        Ok((
            i,
            Self {
                source_addr_ton,
                source_addr_npi,
                source_addr,
                esme_addr_ton,
                esme_addr_npi,
                esme_addr,
                tlvs,
            },
        ))
    }

    fn fixed_len(&self) -> usize {
        2 + self.source_addr.encoded_len() + 2 + self.esme_addr.encoded_len()
    }

    fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }

    fn write(&self, dst: &mut Out<'_>) {
        dst.u8(self.source_addr_ton.0);
        dst.u8(self.source_addr_npi.0);
        dst.c_octet(&self.source_addr);
        dst.u8(self.esme_addr_ton.0);
        dst.u8(self.esme_addr_npi.0);
        dst.c_octet(&self.esme_addr);
        write_tlvs(dst, &self.tlvs);
    }
}

impl SubmitSm {
    /// Puts one segment of a split message into this `submit_sm`: the octets into
    /// `short_message` (or the `message_payload` TLV), `data_coding`, the UDH indicator in
    /// `esm_class`, and the SAR TLVs when the segment has them. Addresses and flags are kept.
    pub fn set_segment(&mut self, seg: &crate::segment::Segment) {
        self.data_coding = DataCoding(seg.data_coding);
        self.esm_class = self.esm_class.with_udh(seg.udhi);
        self.tlvs.retain(|t| {
            !matches!(
                t,
                Tlv::MessagePayload(_)
                    | Tlv::SarMsgRefNum(_)
                    | Tlv::SarTotalSegments(_)
                    | Tlv::SarSegmentSeqnum(_)
            )
        });
        if seg.payload {
            self.short_message = Bytes::new();
            self.tlvs
                .push(Tlv::MessagePayload(seg.short_message.clone()));
        } else {
            self.short_message = seg.short_message.clone();
        }
        if let Some(sar) = seg.sar {
            self.tlvs.push(Tlv::SarMsgRefNum(sar.reference));
            self.tlvs.push(Tlv::SarTotalSegments(sar.total));
            self.tlvs.push(Tlv::SarSegmentSeqnum(sar.seqnum));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{SplitMethod, SplitOptions, split};
    use crate::text::Encoding;
    use crate::tlv::TlvList;

    #[test]
    fn set_segment_fills_udh_sar_and_payload() {
        let text = "x".repeat(200);
        let udh = split(
            &text,
            Encoding::Gsm7,
            SplitMethod::Udh8,
            7,
            &SplitOptions::default(),
        )
        .unwrap();
        let mut sm = SubmitSm::default();
        sm.set_segment(&udh[0]);
        assert!(sm.esm_class.has_udh());
        assert_eq!(&sm.short_message[..6], &[0x05, 0x00, 0x03, 7, 2, 1]);

        let sar = split(
            &text,
            Encoding::Gsm7,
            SplitMethod::Sar,
            0x1234,
            &SplitOptions::default(),
        )
        .unwrap();
        sm.set_segment(&sar[1]);
        assert!(!sm.esm_class.has_udh());
        assert_eq!(sm.tlvs.sar(), Some((0x1234, 2, 2)));

        let payload = split(
            &text,
            Encoding::Ucs2,
            SplitMethod::Payload,
            0,
            &SplitOptions::default(),
        )
        .unwrap();
        sm.set_segment(&payload[0]);
        assert!(sm.short_message.is_empty());
        assert_eq!(
            sm.tlvs.sar(),
            None,
            "a reused submit_sm loses the previous segment's SAR TLVs"
        );
        assert_eq!(sm.tlvs.message_payload().map(|p| p.len()), Some(400));
        assert_eq!(sm.data_coding, DataCoding::UCS2);
    }
}
