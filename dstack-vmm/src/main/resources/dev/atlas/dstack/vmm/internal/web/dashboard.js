"use strict";
// The atlas dstack VMM dashboard. Plain JavaScript, no libraries, no external resources. Everything goes through the
// VMM's own endpoints: POST prpc/<Method>?json (the Vmm pRPC service) and GET logs. Untrusted strings reach the DOM
// only through textContent / attributes, never as HTML.

// ---------------------------------------------------------------------------------------------------------------
// Byte helpers
// ---------------------------------------------------------------------------------------------------------------
const Hex = {
  decode(s) {
    if (typeof s !== "string") throw new Error("hex: not a string");
    if (s.startsWith("0x") || s.startsWith("0X")) s = s.slice(2);
    if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error("hex: not an even-length hex string");
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
    return out;
  },
  encode(b) {
    let s = "";
    for (const x of b) s += x.toString(16).padStart(2, "0");
    return s;
  },
};

function concatBytes(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function bytesToBigInt(b) {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function bigIntToBytes(v, len) {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Keccak-256 (the original Keccak padding 0x01, as Ethereum and dstack's KMS use; not SHA3-256's 0x06)
// ---------------------------------------------------------------------------------------------------------------
const Keccak = (() => {
  const MASK = (1n << 64n) - 1n;
  const RC = [];
  { // round constants from the LFSR x^8 + x^6 + x^5 + x^4 + 1
    let r = 1;
    for (let i = 0; i < 24; i++) {
      let c = 0n;
      for (let j = 0; j < 7; j++) {
        if (r & 1) c |= 1n << BigInt((1 << j) - 1);
        r = (r & 0x80) ? ((r << 1) ^ 0x71) & 0xff : (r << 1) & 0xff;
      }
      RC.push(c);
    }
  }
  const ROT = []; // rotation offsets and pi positions, from the (x, y) -> (y, 2x + 3y) walk
  const PI = [];
  { let x = 1, y = 0;
    for (let t = 0; t < 24; t++) {
      ROT.push(BigInt(((t + 1) * (t + 2) / 2) % 64));
      [x, y] = [y, (2 * x + 3 * y) % 5];
      PI.push(x + 5 * y);
    }
  }
  const rotl = (v, n) => n === 0n ? v : ((v << n) | (v >> (64n - n))) & MASK;
  function f(s) {
    for (let round = 0; round < 24; round++) {
      const c = [];
      for (let x = 0; x < 5; x++) c.push(s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20]);
      for (let x = 0; x < 5; x++) {
        const d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1n);
        for (let y = 0; y < 25; y += 5) s[x + y] ^= d;
      }
      let cur = s[1];
      for (let t = 0; t < 24; t++) {
        const j = PI[t];
        const tmp = s[j];
        s[j] = rotl(cur, ROT[t]);
        cur = tmp;
      }
      for (let y = 0; y < 25; y += 5) {
        const row = s.slice(y, y + 5);
        for (let x = 0; x < 5; x++) s[y + x] = row[x] ^ ((~row[(x + 1) % 5] & MASK) & row[(x + 2) % 5]);
      }
      s[0] ^= RC[round];
    }
  }
  function hash256(msg) {
    const rate = 136;
    const padded = new Uint8Array((Math.floor(msg.length / rate) + 1) * rate);
    padded.set(msg);
    padded[msg.length] ^= 0x01;
    padded[padded.length - 1] ^= 0x80;
    const s = new Array(25).fill(0n);
    for (let off = 0; off < padded.length; off += rate) {
      for (let i = 0; i < rate / 8; i++) {
        let lane = 0n;
        for (let b = 7; b >= 0; b--) lane = (lane << 8n) | BigInt(padded[off + i * 8 + b]);
        s[i] ^= lane;
      }
      f(s);
    }
    const out = new Uint8Array(32);
    for (let i = 0; i < 4; i++) {
      let lane = s[i];
      for (let b = 0; b < 8; b++) { out[i * 8 + b] = Number(lane & 0xffn); lane >>= 8n; }
    }
    return out;
  }
  return { hash256 };
})();

// ---------------------------------------------------------------------------------------------------------------
// secp256k1 public-key recovery from a 65-byte r || s || recid signature (dstack's KMS signatures, §2.5)
// ---------------------------------------------------------------------------------------------------------------
const Secp256k1 = (() => {
  const P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const G = [0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
             0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n];
  const mod = (a, m) => { const r = a % m; return r < 0n ? r + m : r; };
  function pow(b, e, m) {
    let r = 1n; b = mod(b, m);
    while (e > 0n) { if (e & 1n) r = r * b % m; b = b * b % m; e >>= 1n; }
    return r;
  }
  const inv = (a, m) => pow(a, m - 2n, m); // both moduli are prime
  // Jacobian points [X, Y, Z]; Z = 0 is the point at infinity.
  const INF = [0n, 1n, 0n];
  function dbl(p) {
    const [X, Y, Z] = p;
    if (Z === 0n || Y === 0n) return INF;
    const YY = Y * Y % P;
    const S = 4n * X * YY % P;
    const M = 3n * X * X % P;
    const X3 = mod(M * M - 2n * S, P);
    const Y3 = mod(M * (S - X3) - 8n * YY * YY, P);
    const Z3 = 2n * Y * Z % P;
    return [X3, Y3, Z3];
  }
  function add(p, q) {
    if (p[2] === 0n) return q;
    if (q[2] === 0n) return p;
    const Z1Z1 = p[2] * p[2] % P, Z2Z2 = q[2] * q[2] % P;
    const U1 = p[0] * Z2Z2 % P, U2 = q[0] * Z1Z1 % P;
    const S1 = p[1] * q[2] % P * Z2Z2 % P, S2 = q[1] * p[2] % P * Z1Z1 % P;
    if (U1 === U2) return S1 === S2 ? dbl(p) : INF;
    const H = mod(U2 - U1, P), R = mod(S2 - S1, P);
    const HH = H * H % P, HHH = H * HH % P, V = U1 * HH % P;
    const X3 = mod(R * R - HHH - 2n * V, P);
    const Y3 = mod(R * (V - X3) - S1 * HHH, P);
    const Z3 = p[2] * q[2] % P * H % P;
    return [X3, Y3, Z3];
  }
  function mul(p, k) {
    let r = INF;
    for (let i = BigInt(k.toString(2).length) - 1n; i >= 0n; i--) {
      r = dbl(r);
      if ((k >> i) & 1n) r = add(r, p);
    }
    return r;
  }
  function affine(p) {
    if (p[2] === 0n) return null;
    const zi = inv(p[2], P), zi2 = zi * zi % P;
    return [p[0] * zi2 % P, p[1] * zi2 % P * zi % P];
  }
  /** The compressed (33-byte) public key that signed hash32, or throws. */
  function recover(hash32, sig65) {
    if (hash32.length !== 32) throw new Error("hash is not 32 bytes");
    if (sig65.length !== 65) throw new Error("signature is not 65 bytes");
    const r = bytesToBigInt(sig65.slice(0, 32));
    const s = bytesToBigInt(sig65.slice(32, 64));
    const v = sig65[64];
    if (v > 1) throw new Error("recovery id " + v + " is not 0 or 1");
    if (r <= 0n || r >= N || s <= 0n || s >= N) throw new Error("r or s out of range");
    const x = r; // recid 0/1: R.x = r (r + n would exceed p only with recid 2/3, which dstack never emits)
    const alpha = (x * x % P * x + 7n) % P;
    let y = pow(alpha, (P + 1n) / 4n, P);
    if (y * y % P !== alpha) throw new Error("r is not the x of a curve point");
    if ((y & 1n) !== BigInt(v)) y = P - y;
    const e = mod(bytesToBigInt(hash32), N);
    const ri = inv(r, N);
    const u1 = mod(-e * ri, N), u2 = s * ri % N;
    const q = affine(add(mul([G[0], G[1], 1n], u1), mul([x, y, 1n], u2)));
    if (q === null) throw new Error("recovered the point at infinity");
    return concatBytes(Uint8Array.of((q[1] & 1n) ? 3 : 2), bigIntToBytes(q[0], 32));
  }
  return { recover };
})();

// ---------------------------------------------------------------------------------------------------------------
// The env key check (§2.5) and the env encryption (§2.12)
// ---------------------------------------------------------------------------------------------------------------
const EnvKey = {
  PREFIX: new TextEncoder().encode("dstack-env-encrypt-pubkey:"),
  MAX_AGE_SECONDS: 300,
  MAX_FUTURE_SECONDS: 60,

  /**
   * Checks GetAppEnvEncryptPubKey's answer for appId (20 bytes) and returns {publicKey, signer (compressed hex),
   * version}, or throws naming what failed. When signature_v1 and timestamp are present they decide (the timestamp
   * within 300 s in the past / 60 s in the future of nowSeconds), as dstack-ra's KmsSignatures.verifyEnvPublicKey
   * does; vmm-cli.py instead falls back to the legacy signature when signature_v1 fails, which would let a replayed
   * stale answer through. Only an answer without signature_v1 uses the legacy signature.
   */
  verify(response, appId, nowSeconds) {
    if (appId.length !== 20) throw new Error("app id is " + appId.length + " bytes, expected 20");
    const publicKey = Hex.decode(response.public_key || "");
    if (publicKey.length !== 32) throw new Error("GetAppEnvEncryptPubKey: public_key is " + publicKey.length + " bytes, expected 32");
    if (response.signature_v1 && response.timestamp !== undefined && response.timestamp !== null) {
      const ts = BigInt(response.timestamp);
      const now = BigInt(Math.floor(nowSeconds));
      if (ts + BigInt(this.MAX_AGE_SECONDS) < now) throw new Error("signature_v1: timestamp " + ts + " is older than " + this.MAX_AGE_SECONDS + " s (now " + now + ")");
      if (ts > now + BigInt(this.MAX_FUTURE_SECONDS)) throw new Error("signature_v1: timestamp " + ts + " is more than " + this.MAX_FUTURE_SECONDS + " s in the future (now " + now + ")");
      const msg = concatBytes(this.PREFIX, appId, bigIntToBytes(ts, 8), publicKey);
      const signer = Secp256k1.recover(Keccak.hash256(msg), Hex.decode(response.signature_v1));
      return { publicKey, signer: Hex.encode(signer), version: "signature_v1" };
    }
    if (response.signature) {
      const msg = concatBytes(this.PREFIX, appId, publicKey);
      const signer = Secp256k1.recover(Keccak.hash256(msg), Hex.decode(response.signature));
      return { publicKey, signer: Hex.encode(signer), version: "signature (legacy, no timestamp)" };
    }
    throw new Error("GetAppEnvEncryptPubKey: the response carries no signature");
  },

  /** eph_pub(32) || iv(12) || AES-256-GCM(key = raw X25519 secret, no KDF, no AAD)(plaintext) || tag(16). */
  async encrypt(env, recipientPublicKey) {
    if (!globalThis.crypto || !crypto.subtle) {
      throw new Error("Web Crypto is unavailable: this page is not a secure context (open the VMM over https:// or http://localhost, e.g. through an SSH tunnel)");
    }
    const plaintext = new TextEncoder().encode(JSON.stringify({ env }));
    const eph = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
    const peer = await crypto.subtle.importKey("raw", recipientPublicKey, { name: "X25519" }, false, []);
    const shared = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: peer }, eph.privateKey, 256));
    if (shared.every((b) => b === 0)) throw new Error("the KMS env key is a low-order point");
    const aes = await crypto.subtle.importKey("raw", shared, { name: "AES-GCM" }, false, ["encrypt"]);
    shared.fill(0);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aes, plaintext));
    plaintext.fill(0);
    const ephPub = new Uint8Array(await crypto.subtle.exportKey("raw", eph.publicKey));
    return concatBytes(ephPub, iv, ct);
  },
};

async function sha256(bytes) {
  if (!globalThis.crypto || !crypto.subtle) throw new Error("Web Crypto is unavailable (not a secure context)");
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** The default app id of a compose: hex(SHA-256(compose bytes))[0..40], as the VMM and vmm-cli.py compute it. */
async function defaultAppId(composeText) {
  return Hex.encode(await sha256(new TextEncoder().encode(composeText))).slice(0, 40);
}

/** The app URL as the VMM builds it: https://<instance_id>-<agent_port>.<base_domain>[:<port> unless 443]. */
function appUrl(instanceId, gateway) {
  if (!instanceId || !gateway || !gateway.base_domain) return null;
  const port = gateway.port || 443;
  return "https://" + instanceId + "-" + (gateway.agent_port || 0) + "." + gateway.base_domain + (port === 443 ? "" : ":" + port);
}

/** "[tcp|udp:][addr:]host:vm" → PortMapping (vmm-cli.py's forms plus a bare "host:vm" that means tcp). */
function parsePort(line) {
  const parts = line.trim().split(":");
  let protocol = "tcp", address = "127.0.0.1", host, vm;
  if (parts.length === 2) [host, vm] = parts;
  else if (parts.length === 3) [protocol, host, vm] = parts;
  else if (parts.length === 4) [protocol, address, host, vm] = parts;
  else throw new Error("port mapping '" + line + "': expected [proto:][address:]host_port:vm_port");
  if (protocol !== "tcp" && protocol !== "udp") throw new Error("port mapping '" + line + "': protocol must be tcp or udp");
  const num = (s, what) => {
    if (!/^[0-9]{1,5}$/.test(s) || +s < 1 || +s > 65535) throw new Error("port mapping '" + line + "': " + what + " must be 1..65535");
    return +s;
  };
  return { protocol, host_address: address, host_port: num(host, "host port"), vm_port: num(vm, "vm port") };
}

// ---------------------------------------------------------------------------------------------------------------
// Talking to the VMM
// ---------------------------------------------------------------------------------------------------------------
const Api = {
  token: null,

  headers(json) {
    const h = {};
    if (json) h["Content-Type"] = "application/json";
    if (this.token) h["Authorization"] = "Bearer " + this.token;
    return h;
  },

  async call(method, body) {
    const r = await fetch("prpc/" + method + "?json", {
      method: "POST", headers: this.headers(true), body: JSON.stringify(body || {}),
      credentials: "same-origin", cache: "no-store",
    });
    const text = await r.text();
    if (r.status === 401) throw new AuthError(method + ": the VMM asks for an admin token (401)");
    let data;
    try { data = text ? JSON.parse(text) : {}; } catch (e) { data = { error: text }; }
    if (!r.ok) throw new Error(method + ": " + (data && data.error ? data.error : "HTTP " + r.status));
    return data;
  },

  async logs(id, channel, lines) {
    const q = new URLSearchParams({ id, follow: "false", ansi: "false", lines: String(lines) });
    if (channel) q.set("ch", channel);
    if (this.token) q.set("token", this.token); // GET: the query token of §0.3 (the VMM strips it before routing)
    const r = await fetch("logs?" + q.toString(), { credentials: "same-origin", cache: "no-store" });
    const text = await r.text();
    if (r.status === 401) throw new AuthError("logs: the VMM asks for an admin token (401)");
    if (!r.ok) throw new Error("logs: " + text);
    return text;
  },
};

class AuthError extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------------------------------------------
const $ = (id) => document.getElementById(id);
const state = { meta: null, vms: [], logsFor: null, removeArmed: null, busy: false, lastDeployed: null };

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function say(text, kind) {
  const m = $("message");
  m.textContent = text || "";
  m.className = kind || "";
}

function fail(e) {
  say(e && e.message ? e.message : String(e), "error");
  if (e instanceof AuthError) $("token").focus();
}

async function refresh() {
  try {
    const r = await Api.call("Status", {});
    state.vms = r.vms || [];
    renderVms();
  } catch (e) {
    fail(e);
  }
}

function renderVms() {
  const body = $("vms").tBodies[0];
  body.replaceChildren();
  $("vm-empty").hidden = state.vms.length !== 0;
  const gateway = state.meta && state.meta.gateway;
  for (const vm of state.vms) {
    const cfg = vm.configuration || {};
    const url = vm.app_url || null;
    const boot = el("td", {});
    if (vm.boot_progress) boot.append(el("div", { class: "boot-progress", text: vm.boot_progress }));
    if (vm.boot_error) boot.append(el("div", { class: "boot-error", text: vm.boot_error }));
    if (vm.shutdown_progress) boot.append(el("div", { class: "shutdown-progress", text: vm.shutdown_progress }));
    const app = el("td", {});
    if (url) app.append(el("a", { class: "app-url", href: url, target: "_blank", rel: "noopener noreferrer", text: url }));
    else if (vm.instance_id && gateway && gateway.base_domain) {
      const u = appUrl(vm.instance_id, gateway);
      app.append(el("span", { class: "app-url-guess", title: "computed here from GetMeta; the VMM reported no app_url (gateway disabled?)", text: u }));
    }
    if (vm.app_id) app.append(el("div", { class: "hint", text: "app " + vm.app_id }));
    if (vm.instance_id) app.append(el("div", { class: "hint", text: "instance " + vm.instance_id }));
    const ports = (cfg.ports || []).map((p) => p.protocol + ":" + (p.host_address || "") + ":" + p.host_port + "→" + p.vm_port).join(", ");
    const actions = el("td", { class: "actions" });
    const act = (label, fn) => actions.append(el("button", { type: "button", "data-action": label, onclick: fn, text: label }));
    const running = vm.status === "running" || vm.status === "booting";
    const stopping = vm.status === "stopping";
    if (!running && !stopping) act("start", () => vmAction("StartVm", vm, "started"));
    if (running) act("shutdown", () => vmAction("ShutdownVm", vm, "shutting down"));
    if (running || stopping) act("stop", () => vmAction("StopVm", vm, "stopped"));
    act("logs", () => openLogs(vm));
    if (state.removeArmed === vm.id) act("confirm remove", () => vmAction("RemoveVm", vm, "removed"));
    else act("remove", () => { state.removeArmed = vm.id; renderVms(); });
    body.append(el("tr", { "data-id": vm.id, "data-status": vm.status || "" },
      el("td", { class: "name", text: vm.name || "" }),
      el("td", { class: "id", text: vm.id || "" }),
      el("td", { class: "status status-" + (vm.status || "unknown"), text: (vm.status || "") + (vm.uptime ? " (" + vm.uptime + ")" : "") }),
      boot, app,
      el("td", { text: (cfg.vcpu || 0) + " vCPU, " + (cfg.memory || 0) + " MB, " + (cfg.disk_size || 0) + " GB" + (cfg.image ? ", " + cfg.image : "") + (ports ? "; " + ports : "") }),
      actions));
  }
}

async function vmAction(method, vm, done) {
  state.removeArmed = null;
  try {
    await Api.call(method, { id: vm.id });
    say((vm.name || vm.id) + " " + done, "ok");
    if (method === "RemoveVm" && state.logsFor === vm.id) closeLogs();
  } catch (e) {
    fail(e);
  }
  await refresh();
}

async function openLogs(vm) {
  state.logsFor = vm.id;
  $("logs-name").textContent = vm.name || vm.id;
  $("logs-section").hidden = false;
  await loadLogs();
}

async function loadLogs() {
  if (!state.logsFor) return;
  try {
    $("logs").textContent = await Api.logs(state.logsFor, $("logs-channel").value, 500);
  } catch (e) {
    fail(e);
  }
}

function closeLogs() {
  state.logsFor = null;
  $("logs-section").hidden = true;
  $("logs").textContent = "";
}

function addEnvRow(key, value) {
  const row = el("div", { class: "env-row" },
    el("input", { class: "env-key", placeholder: "KEY", size: "20" }),
    el("input", { class: "env-value", placeholder: "value", type: "password", size: "40", autocomplete: "off" }),
    el("button", { type: "button", text: "×", onclick: () => row.remove() }));
  row.querySelector(".env-key").value = key || "";
  row.querySelector(".env-value").value = value || "";
  $("d-env").append(row);
  return row;
}

function collectEnv() {
  const env = [];
  const seen = new Set();
  for (const row of $("d-env").querySelectorAll(".env-row")) {
    const key = row.querySelector(".env-key").value.trim();
    const value = row.querySelector(".env-value").value;
    if (!key && !value) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error("env: '" + key + "' is not a valid variable name");
    if (seen.has(key)) throw new Error("env: " + key + " appears twice");
    seen.add(key);
    env.push({ key, value });
  }
  return env;
}

function lines(id) {
  return $(id).value.split("\n").map((s) => s.trim()).filter((s) => s.length > 0);
}

function trustedSigners() {
  return lines("d-signers").map((s) => Hex.encode(Hex.decode(s)));
}

async function composeChanged() {
  const text = $("d-compose").value;
  const info = $("d-compose-info");
  if (!text.trim()) { info.textContent = ""; return; }
  try {
    const c = JSON.parse(text);
    const hash = Hex.encode(await sha256(new TextEncoder().encode(text)));
    info.textContent = "compose hash " + hash + ", default app id " + hash.slice(0, 40)
      + (c.kms_enabled ? "" : " — kms_enabled is false: an encrypted env cannot be used");
  } catch (e) {
    info.textContent = "not JSON: " + e.message;
  }
}

/** Deploys from the form; returns the new VM id. Plaintext env values never leave this function unencrypted. */
async function deploy() {
  const compose = $("d-compose").value;
  let parsed;
  try { parsed = JSON.parse(compose); } catch (e) { throw new Error("app-compose.json is not JSON: " + e.message); }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("app-compose.json is not a JSON object");
  const ports = lines("d-ports").map(parsePort);
  const env = collectEnv();
  let appId = $("d-app-id").value.trim().toLowerCase();
  if (appId.startsWith("0x")) appId = appId.slice(2);
  if (appId && !/^[0-9a-f]{40}$/.test(appId)) throw new Error("app id must be 40 hex digits");
  const effectiveAppId = appId || await defaultAppId(compose);
  const request = {
    name: $("d-name").value.trim(),
    image: $("d-image").value,
    compose_file: compose,
    vcpu: +$("d-vcpu").value,
    memory: +$("d-memory").value,
    disk_size: +$("d-disk").value,
    ports,
    user_config: $("d-user-config").value,
    stopped: $("d-stopped").checked,
  };
  if (appId) request.app_id = appId;
  const kms = lines("d-kms-urls"), gws = lines("d-gateway-urls");
  if (kms.length) request.kms_urls = kms;
  if (gws.length) request.gateway_urls = gws;
  if (env.length) {
    if (!parsed.kms_enabled) throw new Error("env: the compose has kms_enabled = false, so the VM could not decrypt its env");
    const allowed = Array.isArray(parsed.allowed_envs) ? parsed.allowed_envs : [];
    const notAllowed = env.map((e) => e.key).filter((k) => !allowed.includes(k));
    if (notAllowed.length) throw new Error("env: " + notAllowed.join(", ") + " not in the compose's allowed_envs (the guest would drop them)");
    const answer = await Api.call("GetAppEnvEncryptPubKey", { app_id: effectiveAppId });
    const checked = EnvKey.verify(answer, Hex.decode(effectiveAppId), Date.now() / 1000);
    const trusted = trustedSigners();
    $("d-signer").textContent = "KMS env key signed by " + checked.signer + " (" + checked.version + ")";
    if (!trusted.includes(checked.signer)) {
      throw new Error("env: the KMS env key is signed by " + checked.signer + ", which is not in the trusted KMS signers; add it there if it is your KMS");
    }
    request.encrypted_env = Hex.encode(await EnvKey.encrypt(env, checked.publicKey));
  }
  const r = await Api.call("CreateVm", request);
  return r.id;
}

async function loadMeta() {
  try {
    const [meta, images] = await Promise.all([Api.call("GetMeta", {}), Api.call("ListImages", {})]);
    state.meta = meta;
    const sel = $("d-image");
    sel.replaceChildren();
    for (const img of images.images || []) {
      sel.append(el("option", { value: img.name, text: img.name + (img.version ? " (" + img.version + ")" : "") + (img.is_dev ? " [dev]" : "") }));
    }
    const res = meta.resources || {};
    if (res.max_allocable_vcpu) $("d-vcpu").max = String(res.max_allocable_vcpu);
    if (res.max_allocable_memory_in_mb) $("d-memory").max = String(res.max_allocable_memory_in_mb);
    try {
      const v = await Api.call("Version", {});
      $("version").textContent = "version " + (v.version || "?") + (v.rev ? " (" + v.rev + ")" : "");
    } catch (e) { /* Version is optional */ }
    return true;
  } catch (e) {
    fail(e);
    return false;
  }
}

async function start() {
  // ?token= (the GET form of §0.3) is taken once and removed from the address bar and history.
  const params = new URLSearchParams(location.search);
  const t = params.get("token");
  if (t) {
    sessionStorage.setItem("dstack-vmm-token", t);
    params.delete("token");
    const q = params.toString();
    history.replaceState(null, "", location.pathname + (q ? "?" + q : "") + location.hash);
  }
  Api.token = sessionStorage.getItem("dstack-vmm-token");
  const stored = localStorage.getItem("dstack-vmm-trusted-kms-signers");
  if (stored) $("d-signers").value = stored;

  $("token-save").addEventListener("click", async () => {
    Api.token = $("token").value || null;
    if (Api.token) sessionStorage.setItem("dstack-vmm-token", Api.token);
    else sessionStorage.removeItem("dstack-vmm-token");
    $("token").value = "";
    say("", "");
    if (await loadMeta()) await refresh();
  });
  $("refresh").addEventListener("click", refresh);
  $("logs-refresh").addEventListener("click", loadLogs);
  $("logs-channel").addEventListener("change", loadLogs);
  $("logs-close").addEventListener("click", closeLogs);
  $("d-env-add").addEventListener("click", () => addEnvRow());
  $("d-compose").addEventListener("input", composeChanged);
  $("d-signers").addEventListener("change", () => localStorage.setItem("dstack-vmm-trusted-kms-signers", $("d-signers").value));
  $("d-compose-file").addEventListener("change", async (ev) => {
    const f = ev.target.files && ev.target.files[0];
    if (!f) return;
    if (f.size > 10 * 1024 * 1024) { fail(new Error("app-compose.json larger than 10 MiB")); return; }
    $("d-compose").value = await f.text();
    await composeChanged();
  });
  $("deploy").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (state.busy) return;
    state.busy = true;
    $("d-submit").disabled = true;
    try {
      say("deploying…", "");
      const id = await deploy();
      state.lastDeployed = id;
      say("deployed " + id, "ok");
      for (const v of $("d-env").querySelectorAll(".env-value")) v.value = "";
    } catch (e) {
      fail(e);
    } finally {
      state.busy = false;
      $("d-submit").disabled = false;
      await refresh();
    }
  });
  addEnvRow();
  if (await loadMeta()) await refresh();
  setInterval(() => { if (!state.busy) refresh(); }, 2000);
  document.body.dataset.ready = "true";
}

// Exposed for tests and for the curious in the console.
window.dstackVmm = { Hex, Keccak, Secp256k1, EnvKey, appUrl, parsePort, defaultAppId, deploy, refresh, addEnvRow, state };

document.addEventListener("DOMContentLoaded", start);
