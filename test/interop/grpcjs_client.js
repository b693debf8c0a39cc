#!/usr/bin/env node
// grpc-js-xds interop client: the Node.js twin of build/tern-xds-probe.
//
//   node test/interop/grpcjs_client.js --target xds:///NAME --calls N [--deadline-ms D] [--wait-ready-ms W]
//                                      [--rounds R] [--round-interval-ms I]
//
// Reads its xDS bootstrap from GRPC_XDS_BOOTSTRAP (as grpc-js-xds always does), retries one call
// until the channel works (or W ms pass), then makes N unary tern.test.Echo/Call calls and prints
// one JSON line: {"ok":N,"failed":F,"backends":{"a":900,"b":100}} (plus "last_error" when a call
// failed). With --rounds R the N calls repeat R times on the same channel, one line per round,
// I ms apart (to watch one client follow a configuration push). Exit status: 0 all calls ok, 1 some failed, 2 never ready, 64 bad usage.
// node_modules is found at $TERN_NODE_MODULES, else at the repository root.
'use strict';

const path = require('path');

const nodeModules = process.env.TERN_NODE_MODULES || path.join(__dirname, '..', '..', 'node_modules');
const load = (name) => require(path.join(nodeModules, name));
const grpc = load('@grpc/grpc-js');
const protoLoader = load('@grpc/proto-loader');
load('@grpc/grpc-js-xds').register();

function usage() {
  process.stderr.write('usage: grpcjs_client.js --target xds:///NAME --calls N ' +
                       '[--deadline-ms D] [--wait-ready-ms W] [--rounds R] [--round-interval-ms I]\n');
  process.exit(64);
}

function parseFlags(argv) {
  const flags = { target: '', calls: -1, deadlineMs: 2000, waitReadyMs: 10000, rounds: 1,
                  roundIntervalMs: 0 };
  const number = (s) => {
    if (!/^[0-9]+$/.test(s || '')) usage();
    return Number(s);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage());
    if (a === '--target') flags.target = value();
    else if (a === '--calls') flags.calls = number(value());
    else if (a === '--deadline-ms') flags.deadlineMs = number(value());
    else if (a === '--wait-ready-ms') flags.waitReadyMs = number(value());
    else if (a === '--rounds') flags.rounds = number(value());
    else if (a === '--round-interval-ms') flags.roundIntervalMs = number(value());
    else usage();
  }
  if (!flags.target || flags.calls < 0) usage();
  return flags;
}

function callOnce(client, deadlineMs) {
  return new Promise((resolve) => {
    const deadline = new Date(Date.now() + deadlineMs);
    client.Call({ message: 'probe' }, { deadline }, (err, reply) => {
      if (err) resolve({ ok: false, error: `${err.code}: ${err.details || err.message}` });
      else resolve({ ok: true, backend: reply.backend });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  const def = protoLoader.loadSync(path.join(__dirname, '..', 'proto', 'echo.proto'),
                                   { keepCase: true, defaults: true });
  const Echo = grpc.loadPackageDefinition(def).tern.test.Echo;
  const client = new Echo(flags.target, grpc.credentials.createInsecure());

  // Wait until the channel works; these attempts are not counted.
  const readyBy = Date.now() + flags.waitReadyMs;
  let lastError = '';
  let ready = false;
  for (;;) {
    const r = await callOnce(client, flags.deadlineMs);
    if (r.ok) { ready = true; break; }
    lastError = r.error;
    if (Date.now() >= readyBy) break;
    await sleep(100);
  }
  if (!ready) {
    console.log(JSON.stringify({ ok: 0, failed: flags.calls, backends: {},
                                 last_error: `never ready: ${lastError}` }));
    client.close();
    return 2;
  }

  let allOk = true;
  for (let round = 0; round < flags.rounds; round++) {
    if (round > 0 && flags.roundIntervalMs > 0) await sleep(flags.roundIntervalMs);
    lastError = '';
    let ok = 0;
    let failed = 0;
    const backends = {};
    for (let i = 0; i < flags.calls; i++) {
      const r = await callOnce(client, flags.deadlineMs);
      if (r.ok) {
        ok++;
        backends[r.backend] = (backends[r.backend] || 0) + 1;
      } else {
        failed++;
        lastError = r.error;
      }
    }
    const out = { ok, failed, backends };
    if (failed > 0) out.last_error = lastError;
    console.log(JSON.stringify(out));
    allOk = allOk && failed === 0;
  }
  client.close();
  return allOk ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`grpcjs_client: ${err && err.stack ? err.stack : err}\n`);
  process.exit(70);
});
