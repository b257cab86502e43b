'use strict';
// Driven by DstackSdkInteropTest: reads a JSON array of requests from the file in argv[2] and prints one
// JSON line per request ({"id":..., ...} or {"id":..., "error":...}). Only pure helpers; no network.
const fs = require('fs');
const path = require('path');
const sdk = require('@phala/dstack-sdk');
const { encryptEnvVars } = require('@phala/dstack-sdk/encrypt-env-vars');
const { x25519 } = require('@noble/curves/ed25519');

const hex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

async function decrypt(keyHex, ctHex) {
  // The SDK has no decrypt helper: this is the inverse of its encryptEnvVars, built from the same
  // primitives it uses (noble x25519, WebCrypto AES-GCM, raw shared secret as the key, no AAD).
  const ct = hex(ctHex);
  const shared = x25519.getSharedSecret(hex(keyHex), ct.slice(0, 32));
  const key = await crypto.subtle.importKey('raw', new Uint8Array(shared), { name: 'AES-GCM', length: 256 },
    false, ['decrypt']);
  const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: ct.slice(32, 44) }, key, ct.slice(44));
  return new TextDecoder('utf-8', { fatal: true }).decode(pt);
}

async function run(r) {
  switch (r.op) {
    case 'version': {
      const main = require.resolve('@phala/dstack-sdk');
      const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(main), '..', 'package.json'), 'utf8'));
      return { version: pkg.version, node: process.version };
    }
    case 'encrypt':
      return { ciphertext: await encryptEnvVars(r.env, r.publicKey), plaintext: JSON.stringify({ env: r.env }) };
    case 'decrypt':
      return { plaintext: await decrypt(r.key, r.ciphertext) };
    case 'verify': {
      const opts = r.maxAgeSeconds === undefined ? undefined : { maxAgeSeconds: r.maxAgeSeconds };
      return { signer: sdk.verifyEnvEncryptPublicKey(hex(r.publicKey), hex(r.signature), r.appId,
        BigInt(r.timestamp), opts) };
    }
    case 'verifyLegacy':
      return { signer: sdk.verifyEnvEncryptPublicKeyLegacy(hex(r.publicKey), hex(r.signature), r.appId) };
    case 'composeHash':
      return { hash: sdk.getComposeHash(JSON.parse(r.json), !!r.normalize) };
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
