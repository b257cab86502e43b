// Times @phala/dcap-qvl's verify() on one quote + collateral, in-process, after a warm-up.
// Usage: node dcap-js-bench.js QUOTE COLLATERAL_JSON NOW_SECS [RUNS]
'use strict';
const fs = require('fs');
const { verify } = require('@phala/dcap-qvl');

const [quotePath, collPath, nowArg, runsArg] = process.argv.slice(2);
const quote = fs.readFileSync(quotePath);
const collateral = JSON.parse(fs.readFileSync(collPath, 'utf8'));
const now = Number(nowArg);
const runs = Number(runsArg || 300);

const first = verify(quote, collateral, now);
for (let i = 0; i < 50; i++) verify(quote, collateral, now);
const times = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  verify(quote, collateral, now);
  times.push(Number(process.hrtime.bigint() - t0) / 1000);
}
times.sort((a, b) => a - b);
const pct = (p) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)];
console.log(JSON.stringify({ status: first.status, runs, median_us: pct(50), p90_us: pct(90) }));
