"""An ESME built on the PyPI `smpplib` package, driven by tests/it/interop_smpplib.rs.

Usage: smpplib_client.py HOST PORT PLAN_JSON

PLAN_JSON: {"system_id": ..., "password": ..., "texts": [...], "mo": N}. Binds as a
transceiver, sends each text (split by smpplib itself, receipts asked for), reads until every
part is answered, every accepted part has its receipt and N mobile-originated messages have
come, then sends an enquire_link, unbinds and exits 0. Every PDU it sends or reads is printed
as one JSON line on stdout for the test to check; anything unexpected exits 1.
"""

import binascii
import json
import socket
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp

DEADLINE_SECONDS = 30


def say(**event):
    print(json.dumps(event, sort_keys=True), flush=True)


def text_of(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def main():
    host, port, plan = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    client = smpplib.client.Client(host, port, timeout=5, allow_unknown_opt_params=True)
    answers = {}
    receipts = {}
    mos = []

    def on_submit_sm_resp(pdu, **_):
        message_id = text_of(pdu.message_id)
        answers[pdu.sequence] = (pdu.status, message_id)
        say(event="submit_sm_resp", seq=pdu.sequence, status=pdu.status, message_id=message_id)

    def on_deliver_sm(pdu, **_):
        event = dict(
            event="deliver_sm",
            seq=pdu.sequence,
            esm_class=pdu.esm_class,
            data_coding=pdu.data_coding,
            source_addr=text_of(pdu.source_addr),
            destination_addr=text_of(pdu.destination_addr),
            short_message=binascii.b2a_hex(pdu.short_message or b"").decode(),
            receipted_message_id=text_of(getattr(pdu, "receipted_message_id", None)),
            message_state=getattr(pdu, "message_state", None),
        )
        say(**event)
        # esm_class bits 5–2 = 0001: an SMSC delivery receipt (SMPP 3.4 §5.2.12).
        if pdu.esm_class & 0x3C == 0x04:
            receipts[event["receipted_message_id"]] = event
        else:
            mos.append(event)
        return smpplib.consts.SMPP_ESME_ROK

    def on_error_pdu(pdu):
        say(event="error_pdu", command=pdu.command, seq=pdu.sequence, status=pdu.status)
        if pdu.command == "submit_sm_resp":
            answers[pdu.sequence] = (pdu.status, None)
        else:
            sys.exit(1)

    client.set_message_sent_handler(on_submit_sm_resp)
    client.set_message_received_handler(on_deliver_sm)
    client.set_error_pdu_handler(on_error_pdu)

    client.connect()
    # smpplib's own finalizer warns about an open socket; close it on every way out.
    import atexit

    atexit.register(client.disconnect)
    bound = client.bind_transceiver(system_id=plan["system_id"], password=plan["password"])
    say(event="bind_transceiver_resp", status=bound.status, system_id=text_of(bound.system_id))

    sent = []
    for text in plan["texts"]:
        parts, data_coding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            pdu = client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                source_addr="smpplib",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr="358401234567",
                short_message=part,
                data_coding=data_coding,
                esm_class=esm_class,
                registered_delivery=True,
            )
            sent.append(pdu.sequence)
            say(event="submit_sm", seq=pdu.sequence, data_coding=data_coding, esm_class=esm_class)

    deadline = time.monotonic() + DEADLINE_SECONDS

    def done():
        if len(answers) < len(sent) or len(mos) < plan["mo"]:
            return False
        accepted = [mid for status, mid in answers.values() if status == 0]
        return all(mid in receipts for mid in accepted)

    while not done():
        if time.monotonic() > deadline:
            say(event="gave_up", answers=len(answers), receipts=len(receipts), mos=len(mos))
            sys.exit(1)
        client.read_once()

    link = smpplib.smpp.make_pdu("enquire_link", client=client)
    client.send_pdu(link)
    while True:
        pdu = client.read_pdu()
        if pdu.command == "enquire_link_resp" and pdu.sequence == link.sequence:
            say(event="enquire_link_resp", seq=pdu.sequence, status=pdu.status)
            break
        if pdu.command == "enquire_link":
            # The SMSC's own keep-alive crossing ours: answered, as read_once would.
            answer = smpplib.smpp.make_pdu("enquire_link_resp", client=client)
            answer.sequence = pdu.sequence
            client.send_pdu(answer)
            continue
        say(event="unexpected", command=pdu.command, seq=pdu.sequence)
        sys.exit(1)

    unbound = client.unbind()
    say(event="unbind_resp", command=unbound.command, status=unbound.status)
    client.disconnect()


if __name__ == "__main__":
    try:
        main()
    except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, socket.error) as e:
        say(event="failed", error=repr(e))
        sys.exit(1)
