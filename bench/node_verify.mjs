// Node benchmark (DESIGN §9), printed as ratios measured in one run against one local
// `keyshift serve`:
//   verify calls/s: keyshift's Client (1 and 16 in flight) vs the official `@unkey/api` SDK
//   (the version tests/compat/node pins) vs a raw keep-alive `fetch` loop posting a prebuilt
//   body (the floor of any JS HTTP client);
//   hashing 1M keys: keyshift hashKeys / hashKeysAsync vs node:crypto (sha256 → base64).
// Usage (build the addon in release first: `npm run build` in bindings-node):
//   node bench/node_verify.mjs [--seconds S] [--keys N]
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
  // Warm every path (connection pools, JIT), then alternate rounds so drift hits all alike.
  for (const call of Object.values(loops)) await rate(call, 16, 0.5)
  const results = {}
  const rounds = 2
  for (let r = 0; r < rounds; r++) {
    for (const [name, call] of Object.entries(loops)) {
      for (const inFlight of [1, 16]) {
        const k = `${name} ×${inFlight}`
        results[k] = (results[k] ?? 0) + (await rate(call, inFlight, SECONDS / rounds)) / rounds
      }
    }
  }
  console.log(`verify against ${server.bin.includes('release') ? 'release' : 'DEBUG'} keyshift serve (${SECONDS}s per loop, @unkey/api ${unkeyVersion}, node ${process.version})`)
  for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(18)} ${fmt(v)} calls/s`)
  const ks1 = results['keyshift ×1']
  const ks16 = results['keyshift ×16']
  console.log('ratios:')
  console.log(`  keyshift ×1  / @unkey/api ×1   ${ratio(ks1, results['@unkey/api ×1'])}`)
  console.log(`  keyshift ×16 / @unkey/api ×1   ${ratio(ks16, results['@unkey/api ×1'])}   (target ≥ 4×)`)
  console.log(`  keyshift ×16 / @unkey/api ×16  ${ratio(ks16, results['@unkey/api ×16'])}`)
  console.log(`  keyshift ×1  / raw fetch ×1    ${ratio(ks1, results['raw fetch ×1'])}`)
  console.log(`  keyshift ×16 / raw fetch ×16   ${ratio(ks16, results['raw fetch ×16'])}`)
} finally {
  server.stop()
}

// ----- hashing -----
const keys = new Array(KEYS)
for (let i = 0; i < KEYS; i++) keys[i] = `sk_live_${i.toString(36).padStart(6, '0')}Xq3vB9mZp2LwR8tY`
const time = (f) => {
  const t = performance.now()
  const out = f()
  return [performance.now() - t, out]
}
const [cryptoMs, viaCrypto] = time(() => keys.map((k) => createHash('sha256').update(k).digest('base64')))
const [syncMs, viaSync] = time(() => keyshift.hashKeys(keys))
const t0 = performance.now()
const viaAsync = await keyshift.hashKeysAsync(keys)
const asyncMs = performance.now() - t0
for (const i of [0, KEYS >> 1, KEYS - 1]) {
  if (viaSync[i] !== viaCrypto[i] || viaAsync[i] !== viaCrypto[i]) throw new Error(`hash mismatch at ${i}`)
}
console.log(`hashing ${KEYS.toLocaleString('en-US')} keys (sha256_base64)`)
console.log(`  node:crypto       ${fmt(cryptoMs)} ms`)
console.log(`  hashKeys          ${fmt(syncMs)} ms   ${ratio(cryptoMs, syncMs)} node:crypto (target ≥ 20×)`)
console.log(`  hashKeysAsync     ${fmt(asyncMs)} ms   ${ratio(cryptoMs, asyncMs)} node:crypto`)
