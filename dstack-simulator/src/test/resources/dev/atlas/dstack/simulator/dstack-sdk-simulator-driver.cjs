'use strict';
// Driven by DstackSdkSimulatorInteropTest (through atlas-testing's NodePeer): reads a JSON array of requests
// from the file in argv[2] and prints one JSON line per request ({"id":..., ...} or {"id":..., "error":...}).
// Each request names the client ("dstack": DstackClient, "tappd": the legacy TappdClient, "env": a
// DstackClient found through DSTACK_SIMULATOR_ENDPOINT) and its endpoint (a Unix socket path or an http URL);
// the SDK's answers are returned with bytes as lowercase hex, for the Java side to check with our own code.
const fs = require('fs');
const path = require('path');
const sdk = require('@phala/dstack-sdk');
const { secp256k1 } = require('@noble/curves/secp256k1');
const { ed25519 } = require('@noble/curves/ed25519');
const { sha256 } = require('@noble/hashes/sha256');

const bytes = (h) => Buffer.from(h || '', 'hex');
const hex = (b) => Buffer.from(b).toString('hex');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

// The SDK's logs go to stderr (console.warn/error), never into the JSON lines.
console.log = (...a) => process.stderr.write(a.join(' ') + '\n');

function client(r) {
  switch (r.client || 'dstack') {
    case 'dstack': return new sdk.DstackClient(r.endpoint);
    case 'tappd': return new sdk.TappdClient(r.endpoint);
    case 'env': return new sdk.DstackClient();
    default: throw new Error('unknown client ' + r.client);
  }
}

function plain(o) { // a frozen SDK answer as JSON (bytes as hex, functions dropped)
  const res = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'function') continue;
    if (v instanceof Uint8Array) res[k] = hex(v);
    else if (Array.isArray(v)) res[k] = v.map((x) => (x instanceof Uint8Array ? hex(x) : x));
    else res[k] = v;
  }
  return res;
}

async function run(r) {
  switch (r.op) {
    case 'sdkVersion': {
      const main = require.resolve('@phala/dstack-sdk');
      const dir = path.join(path.dirname(main), '..');
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      // the version the SDK's http transport puts into its User-Agent
      const m = /__version__ = "([^"]*)"/.exec(fs.readFileSync(main, 'utf8'));
      return { version: pkg.version, userAgentVersion: m ? m[1] : null, node: process.version };
    }
    case 'info': {
      const t0 = Date.now();
      const i = plain(await client(r).info());
      return { ...i, ms: Date.now() - t0 };
    }
    case 'version':
      return plain(await client(r).version());
    case 'isReachable':
      return { reachable: await client(r).isReachable() };
    case 'getQuote': {
      const q = await client(r).getQuote(bytes(r.reportData));
      return { ...plain(q), replayed: q.replayRtmrs() };
    }
    case 'attest':
      return plain(await client(r).attest(bytes(r.reportData)));
    case 'tdxQuote': {
      const q = await client(r).tdxQuote(r.data !== undefined ? r.data : bytes(r.reportData), r.hashAlgorithm);
      return { ...plain(q), replayed: q.replayRtmrs() };
    }
    case 'getKey': {
      const c = client(r);
      const k = r.algorithm === undefined ? await c.getKey(r.path, r.purpose) : await c.getKey(r.path, r.purpose, r.algorithm);
      return plain(k);
    }
    case 'getTlsKey': {
      const k = await client(r).getTlsKey(r.options || {});
      if (k.key === undefined) throw new Error('no key in the answer: ' + JSON.stringify(k));
      return { ...plain(k), der: hex(k.asUint8Array()) };
    }
    case 'deriveKey': {
      const k = await client(r).deriveKey(r.path, r.subject, r.altNames);
      if (k.key === undefined) throw new Error('no key in the answer: ' + JSON.stringify(k));
      return { ...plain(k), der: hex(k.asUint8Array()) };
    }
    case 'sign':
      return plain(await client(r).sign(r.algorithm, bytes(r.data)));
    case 'verify':
      return plain(await client(r).verify(r.algorithm, bytes(r.data), bytes(r.signature), bytes(r.publicKey)));
    case 'emitEvent':
      await client(r).emitEvent(r.event, bytes(r.payload));
      return { emitted: true };
    case 'nobleVerify': {
      // the SDK's own curve library checks a signature made elsewhere (the simulator or our Java code)
      const data = bytes(r.data);
      const sig = bytes(r.signature);
      const pub = bytes(r.publicKey);
      let valid;
      if (r.algorithm === 'ed25519') valid = ed25519.verify(sig, data, pub);
      else if (r.algorithm === 'secp256k1') valid = secp256k1.verify(sig, sha256(data), pub);
      else if (r.algorithm === 'secp256k1_prehashed') valid = secp256k1.verify(sig, data, pub);
      else throw new Error('unknown algorithm ' + r.algorithm);
      return { valid };
    }
    case 'nobleSign': {
      // a signature by the SDK's curve library, for the simulator's Verify
      const key = bytes(r.key);
      const data = bytes(r.data);
      if (r.algorithm === 'ed25519') {
        return { signature: hex(ed25519.sign(data, key)), publicKey: hex(ed25519.getPublicKey(key)) };
      }
      const digest = r.algorithm === 'secp256k1_prehashed' ? data : sha256(data);
      return { signature: hex(secp256k1.sign(digest, key).toCompactRawBytes()),
        publicKey: hex(secp256k1.getPublicKey(key, true)) };
    }
    default:
      throw new Error('unknown op ' + r.op);
  }
}

(async () => {
  const reqs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  for (const r of reqs) {
    try {
      out({ id: r.id, ...(await run(r)) });
    } catch (e) {
      out({ id: r.id, error: String((e && e.message) || e) });
    }
  }
})().catch((e) => { console.error(e); process.exit(2); });
