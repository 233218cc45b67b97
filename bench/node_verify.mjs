// Node benchmark (DESIGN §9), printed as ratios measured in one run against one local
// `keyshift serve`:
//   verify calls/s: keyshift's Client (1 and 16 in flight) vs the official `@unkey/api` SDK
//   (the version tests/compat/node pins) vs a raw keep-alive `fetch` loop posting a prebuilt
//   body (the floor of any JS HTTP client);
//   hashing 1M 48-char keys: keyshift hashKeys (array in, array out), hashKeysAsync and
//   hashKeysPacked (Buffer in, Buffer out; also timed with the join + unpack around it) vs a
//   node:crypto loop (sha256 → base64).
// Usage (bench/build/node-release.sh builds the addon in release):
//   node bench/node_verify.mjs [--seconds S] [--keys N] [--rows verify|hashing]
// `--rows` is bench/run.sh's row-producer mode (bench/rows/node_verify.sh, bench/rows/hashing.sh):
// only that part runs, the human report goes to stderr and stdout carries `ROW {json}` lines.
// The server is $KEYSHIFT_BIN, else target/release/keyshift, else target/debug/keyshift.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const PKG = join(REPO, 'bindings-node')
const require = createRequire(join(PKG, 'package.json'))
const keyshift = require('./index.js')
const { Unkey } = await import(pathToFileURL(require.resolve('@unkey/api')).href)
const unkeyVersion = require('@unkey/api/package.json').version

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const SECONDS = arg('--seconds', 3)
const KEYS = arg('--keys', 1_000_000)
const ROWS = process.argv.includes('--rows') ? process.argv[process.argv.indexOf('--rows') + 1] : null
const log = ROWS ? (...a) => console.error(...a) : (...a) => console.log(...a)

/** One bench/run.sh ROW line; the ratio is bigger-is-better. */
function row(name, variant, ours, baseline, baselineLabel, unit, better, target, note) {
  const ratio = better === 'lower' ? baseline / ours : ours / baseline
  const fields = {
    row: name, variant, ours: Math.round(ours * 10) / 10, baseline: Math.round(baseline * 10) / 10,
    baseline_label: baselineLabel, unit, better, ratio: Math.round(ratio * 100) / 100,
    target: target ? `>= ${target}x` : null, met: target ? ratio >= target : null,
  }
  if (note) fields.ratio_note = note
  console.log(`ROW ${JSON.stringify(fields)}`)
}

function serverBin() {
  for (const bin of [process.env.KEYSHIFT_BIN, join(REPO, 'target', 'release', 'keyshift'), join(REPO, 'target', 'debug', 'keyshift')]) {
    if (bin && existsSync(bin)) return bin
  }
  throw new Error('no keyshift binary: cargo build --release -p keyshift-cli')
}

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'keyshift-node-bench-'))
  const bin = serverBin()
  const env = { ...process.env, RUST_LOG: 'warn' }
  delete env.KEYSHIFT_ROOT_KEY
  const child = spawn(bin, ['serve', '--db', join(dir, 'bench.db'), '--listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'], env })
  const line = await new Promise((res, rej) => {
    createInterface({ input: child.stdout }).once('line', res)
    child.once('exit', (c) => rej(new Error(`keyshift serve exited ${c}`)))
  })
  const { baseUrl, rootKey } = JSON.parse(line)
  return { baseUrl, rootKey, bin, stop: () => { child.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }) } }
}

/** Calls/s of `call` with `inFlight` concurrent loops for SECONDS. */
async function rate(call, inFlight, seconds = SECONDS) {
  let n = 0
  const end = performance.now() + seconds * 1000
  const started = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      await call()
      n++
    }
  }))
  return n / ((performance.now() - started) / 1000)
}

const fmt = (x) => x.toLocaleString('en-US', { maximumFractionDigits: 0 }).padStart(9)
const ratio = (a, b) => `${(a / b).toFixed(2)}×`

async function verifyRows() {
const server = await startServer()
try {
  const client = new keyshift.Client({ baseUrl: server.baseUrl, rootKey: server.rootKey })
  const { apiId } = await client.createApi('node-bench')
  const { key } = await client.createApiKey({ apiId, permissions: ['profile.read'] })
  const unkey = new Unkey({ serverURL: server.baseUrl, rootKey: server.rootKey })
  const body = JSON.stringify({ key, permissions: 'profile.read' })
  const headers = { authorization: `Bearer ${server.rootKey}`, 'content-type': 'application/json' }
  const url = `${server.baseUrl}/v2/keys.verifyKey`

  const loops = {
    keyshift: async () => { const v = await client.verify(key, { permissions: 'profile.read' }); if (!v.valid) throw new Error(v.code) },
    '@unkey/api': async () => { const r = await unkey.keys.verifyKey({ key, permissions: 'profile.read' }); if (!r.data.valid) throw new Error(r.data.code) },
    'raw fetch': async () => { const r = await fetch(url, { method: 'POST', headers, body }); const j = await r.json(); if (!j.data.valid) throw new Error('invalid') },
  }
  // Warm every path (connection pools, JIT), then alternate rounds so drift hits all alike;
  // each figure is the median of its rounds (a ×1 loop's mean is easily pulled by one
  // scheduling stall of the shared machine).
  for (const call of Object.values(loops)) await rate(call, 16, 0.5)
  const rounds = 3
  const samples = {}
  for (let r = 0; r < rounds; r++) {
    for (const [name, call] of Object.entries(loops)) {
      for (const inFlight of [1, 16]) {
        ;(samples[`${name} ×${inFlight}`] ??= []).push(await rate(call, inFlight, SECONDS / rounds))
      }
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  const results = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)]))
  log(`verify against ${server.bin.includes('release') ? 'release' : 'DEBUG'} keyshift serve (${SECONDS}s per loop, @unkey/api ${unkeyVersion}, node ${process.version})`)
  for (const [k, v] of Object.entries(results)) log(`  ${k.padEnd(18)} ${fmt(v)} calls/s   (rounds: ${samples[k].map((x) => x.toFixed(0)).join(', ')})`)
  const ks1 = results['keyshift ×1']
  const ks16 = results['keyshift ×16']
  log('ratios:')
  log(`  keyshift ×1  / @unkey/api ×1   ${ratio(ks1, results['@unkey/api ×1'])}`)
  log(`  keyshift ×16 / @unkey/api ×1   ${ratio(ks16, results['@unkey/api ×1'])}   (target ≥ 4×)`)
  log(`  keyshift ×16 / @unkey/api ×16  ${ratio(ks16, results['@unkey/api ×16'])}`)
  log(`  keyshift ×1  / raw fetch ×1    ${ratio(ks1, results['raw fetch ×1'])}`)
  log(`  keyshift ×16 / raw fetch ×16   ${ratio(ks16, results['raw fetch ×16'])}`)
  const name = (n) => `verify calls/s, ${n} in flight (Node)`
  const sdk = `@unkey/api ${unkeyVersion}`
  row(name(1), 'keyshift Client', ks1, results['@unkey/api ×1'], `${sdk} ×1`, 'calls/s', 'higher', 4)
  row(name(16), 'keyshift Client ×16', ks16, results['@unkey/api ×16'], `${sdk} ×16`, 'calls/s', 'higher', 4)
  row(name(16), 'keyshift Client ×16 vs raw fetch', ks16, results['raw fetch ×16'], 'raw keep-alive fetch ×16', 'calls/s', 'higher', null,
    'floor of any JS HTTP client on the same server')
} finally {
  server.stop()
}
}

async function hashingRows() {
  const pad = 'Xq3vB9mZp2LwR8tYc7NdK4hJ5sGfW1eQ'
  const keys = new Array(KEYS)
  for (let i = 0; i < KEYS; i++) keys[i] = `sk_live_${String(i).padStart(12, '0')}_${pad}`.slice(0, 48)
  const runs = KEYS >= 1_000_000 ? 3 : 5
  /** Best ns/key of `runs` runs of `f` (sync or async), and its last answer. */
  const best = async (f) => {
    let min = Infinity
    let out
    for (let r = 0; r < runs; r++) {
      const t = performance.now()
      out = await f()
      min = Math.min(min, performance.now() - t)
    }
    return [(min * 1e6) / KEYS, out]
  }
  const data = Buffer.from(keys.join('\n'))
  const [cryptoNs, viaCrypto] = await best(() => keys.map((k) => createHash('sha256').update(k).digest('base64')))
  const [arrayNs, viaArray] = await best(() => keyshift.hashKeys(keys))
  const [asyncNs, viaAsync] = await best(() => keyshift.hashKeysAsync(keys))
  const [packedNs, packed] = await best(() => keyshift.hashKeysPacked(data, { count: KEYS }))
  const [roundNs, viaRound] = await best(() => keyshift.unpackHashes(keyshift.hashKeysPacked(keys.join('\n'), { count: KEYS })))
  for (const i of [0, 1, KEYS >> 1, KEYS - 1]) {
    const want = viaCrypto[i]
    if (viaArray[i] !== want || viaAsync[i] !== want || viaRound[i] !== want || packed.toString('latin1', i * 44, i * 44 + 44) !== want) {
      throw new Error(`hash mismatch at ${i}`)
    }
  }
  log(`hashing ${KEYS.toLocaleString('en-US')} keys of 48 chars (sha256_base64), best of ${runs}`)
  log(`  node:crypto loop              ${cryptoNs.toFixed(1).padStart(8)} ns/key`)
  for (const [label, ns] of [['hashKeys (array)', arrayNs], ['hashKeysAsync (array)', asyncNs], ['hashKeysPacked (Buffer)', packedNs], ['join + packed + unpackHashes', roundNs]]) {
    log(`  ${label.padEnd(29)} ${ns.toFixed(1).padStart(8)} ns/key   ${ratio(cryptoNs, ns)} node:crypto (target ≥ 20×)`)
  }
  const size = KEYS % 1_000_000 === 0 ? `${KEYS / 1_000_000}M` : `${Math.round(KEYS / 1000)}k`
  const name = `hash sha256_base64 ns/key (${size} 48-char keys)`
  const base = 'node:crypto createHash loop'
  row(name, 'Node hashKeys', arrayNs, cryptoNs, base, 'ns/key', 'lower', 20, 'string[] in, string[] out')
  row(name, 'Node hashKeysPacked', packedNs, cryptoNs, base, 'ns/key', 'lower', 20, "Buffer ('\\n'-separated) in, Buffer (44 bytes per hash) out; packing not timed")
  row(name, 'Node hashKeysPacked incl. join+unpack', roundNs, cryptoNs, base, 'ns/key', 'lower', 20, 'keys.join + hashKeysPacked + unpackHashes timed: string[] in, string[] out')
}

if (ROWS !== 'hashing') await verifyRows()
if (ROWS !== 'verify') await hashingRows()
