#!/usr/bin/env node
// A small SMSC built on the npm `smpp` package, so that Kori's carrier sessions are tested
// against an SMPP stack Kori's authors did not write (tests/it/interop_npm.rs).
//
// Usage: node smsc.js [SYSTEM_ID [PASSWORD]]   (or env SMSC_SYSTEM_ID / SMSC_PASSWORD;
//        env SMSC_RECEIPT_DELAY_MS, default 100)
//
// Listens on 127.0.0.1, port chosen by the OS, and prints `LISTENING <port>` once it does.
// Then one line per PDU it receives or answer it gets, for the test to assert on:
//   BIND <command> <system_id> OK|REJECTED <status>
//   SUBMIT <destination_addr> <part>/<parts> <JSON text>   (answered with a fresh hex id)
//   SUBMIT_RESP <hex id>
//   RECEIPT <hex id> <decimal id>                          (the deliver_sm receipt went out)
//   DELIVER_SM_RESP <hex id> <command_status>
//   ENQUIRE_LINK                                           (from the ESME, answered)
//   ENQUIRE_LINK_RESP <command_status>                     (the ESME answered ours)
//   UNBIND                                                 (answered with unbind_resp)
//   UNBIND_RESP_SENT
//   CLOSED                                                 (the connection closed)
//   OTHER <command>                                        (answered generic_nack / error)
// Exits when its standard input closes, so it never outlives the process that started it.
'use strict';

const smpp = require('smpp');

const SYSTEM_ID = process.argv[2] || process.env.SMSC_SYSTEM_ID || 'kori';
const PASSWORD = process.argv[3] || process.env.SMSC_PASSWORD || 'secret';
const RECEIPT_DELAY_MS = Number(process.env.SMSC_RECEIPT_DELAY_MS || 100);

// Message ids: a counter rendered as uppercase hex in submit_sm_resp and as decimal in the
// receipt text, as many SMSCs do. It starts where the hex has letters in it.
let nextId = 0x1a2b3c;

function log(line) {
  process.stdout.write(line + '\n');
}

// YYMMDDhhmm, as receipt texts carry their dates.
function receiptDate(d) {
  const two = (n) => String(n).padStart(2, '0');
  return (
    two(d.getUTCFullYear() % 100) +
    two(d.getUTCMonth() + 1) +
    two(d.getUTCDate()) +
    two(d.getUTCHours()) +
    two(d.getUTCMinutes())
  );
}

// "i/n" from a concatenation information element (8- or 16-bit reference), else "1/1".
function partOf(udhList) {
  for (const ie of udhList || []) {
    if (ie[0] === 0x00 && ie.length >= 5) return `${ie[4]}/${ie[3]}`;
    if (ie[0] === 0x08 && ie.length >= 6) return `${ie[5]}/${ie[4]}`;
  }
  return '1/1';
}

const server = smpp.createServer((session) => {
  let bound = false;
  const timers = new Set();

  session.on('error', (e) => log(`ERROR ${e.code || e.message}`));
  session.on('close', () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    log('CLOSED');
  });

  const onBind = (pdu) => {
    const ok = !bound && pdu.system_id === SYSTEM_ID && pdu.password === PASSWORD;
    const status = bound
      ? smpp.ESME_RALYBND
      : pdu.system_id !== SYSTEM_ID
        ? smpp.ESME_RINVSYSID
        : pdu.password !== PASSWORD
          ? smpp.ESME_RINVPASWD
          : smpp.ESME_ROK;
    log(`BIND ${pdu.command} ${pdu.system_id} ${ok ? 'OK' : 'REJECTED'} ${status}`);
    if (!ok) {
      session.send(pdu.response({ command_status: status }));
      return;
    }
    if (pdu.command !== 'bind_transceiver') {
      // This SMSC serves transceivers only.
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      return;
    }
    bound = true;
    session.send(pdu.response({ system_id: 'npm-smsc' }));
    // Our own keep-alive once, right after the bind: the ESME must answer it.
    session.enquire_link({}, (resp) => log(`ENQUIRE_LINK_RESP ${resp.command_status}`));
  };
  session.on('bind_transceiver', onBind);
  session.on('bind_transmitter', onBind);
  session.on('bind_receiver', onBind);

  session.on('submit_sm', (pdu) => {
    if (!bound) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    const sm = pdu.short_message || {};
    const text = Buffer.isBuffer(sm) ? sm.toString('latin1') : String(sm.message || '');
    log(`SUBMIT ${pdu.destination_addr} ${partOf(sm.udh)} ${JSON.stringify(text)}`);
    const id = nextId++;
    const hex = id.toString(16).toUpperCase();
    session.send(pdu.response({ message_id: hex }), () => log(`SUBMIT_RESP ${hex}`));
    if (!(pdu.registered_delivery & 0x03)) return;
    const submitted = new Date();
    const timer = setTimeout(() => {
      timers.delete(timer);
      const date = receiptDate(new Date());
      const body =
        `id:${id} sub:001 dlvrd:001 submit date:${receiptDate(submitted)} ` +
        `done date:${date} stat:DELIVRD err:000 text:${text.slice(0, 20)}`;
      session.deliver_sm(
        {
          source_addr_ton: pdu.dest_addr_ton,
          source_addr_npi: pdu.dest_addr_npi,
          source_addr: pdu.destination_addr,
          dest_addr_ton: pdu.source_addr_ton,
          dest_addr_npi: pdu.source_addr_npi,
          destination_addr: pdu.source_addr,
          esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
          data_coding: 0,
          short_message: Buffer.from(body, 'latin1'),
          receipted_message_id: hex,
          message_state: smpp.MESSAGE_STATE.DELIVERED,
        },
        (resp) => log(`DELIVER_SM_RESP ${hex} ${resp.command_status}`),
        () => log(`RECEIPT ${hex} ${id}`),
      );
    }, RECEIPT_DELAY_MS);
    timers.add(timer);
  });

  session.on('enquire_link', (pdu) => {
    log('ENQUIRE_LINK');
    session.send(pdu.response());
  });

  session.on('unbind', (pdu) => {
    log('UNBIND');
    bound = false;
    // The ESME that unbinds closes the connection once it has the answer: CLOSED shows it did.
    session.send(pdu.response(), () => log('UNBIND_RESP_SENT'));
  });

  // Anything else the ESME sends that needs an answer gets a negative one.
  session.on('pdu', (pdu) => {
    const served = [
      'bind_transceiver',
      'bind_transmitter',
      'bind_receiver',
      'submit_sm',
      'enquire_link',
      'unbind',
    ];
    if (pdu.isResponse() || served.includes(pdu.command)) return;
    log(`OTHER ${pdu.command}`);
    session.send(pdu.response({ command_status: smpp.ESME_RINVCMDID }));
  });
});

server.on('error', (e) => {
  log(`ERROR ${e.code || e.message}`);
  process.exit(1);
});

server.listen(0, '127.0.0.1', () => {
  log(`LISTENING ${server.address().port}`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
