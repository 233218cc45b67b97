// Local functions (no network): every case of every shared vector in tests/vectors/, the error
// class, ESM/CJS entry points, hashKeysAsync off the event loop, and Client.local.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { inspect } from 'node:util'
import * as ks from '../index.mjs'
import { REPO, loopWatch, tempDir } from './helpers.mjs'

const VECTORS = join(REPO, 'tests', 'vectors')
const load = (name) => JSON.parse(readFileSync(join(VECTORS, `${name}.json`), 'utf8')).cases

/** Runs `fn`, expecting a KeyshiftError with `code` (and `field`); returns it. */
function throwsKs(fn, code, field, name) {
  let err
  try {
    fn()
  } catch (e) {
    err = e
  }
  assert.ok(err, `${name}: expected an error`)
  assert.ok(err instanceof ks.KeyshiftError, `${name}: not a KeyshiftError: ${err}`)
  assert.equal(err.code, code, name)
  if (field !== undefined) assert.equal(err.field, field, name)
  return err
}

test('every vector file is covered by this suite', () => {
  const files = readdirSync(VECTORS).filter((f) => f.endsWith('.json')).sort()
  assert.deepEqual(files, ['bcrypt.json', 'hashing.json', 'keyformat.json', 'permission_queries.json', 'scopes.json'])
})

test('vectors: hashing.json', () => {
  const cases = load('hashing')
  assert.ok(cases.length > 0)
  for (const c of cases) {
    if (c.kind === 'hash') {
      if (c.error) throwsKs(() => ks.hashKey(c.key, c.variant), c.error, c.field, c.name)
      else if (c.variant === 'bcrypt') {
        // bcrypt salts are random: the vector's hash and ours must both verify the key.
        const h = ks.hashKey(c.key, 'bcrypt')
        assert.equal(h.variant, 'bcrypt', c.name)
        assert.ok(ks.verifyBcrypt(c.key, h.value), c.name)
      } else {
        assert.deepEqual(ks.hashKey(c.key, c.variant), { value: c.expected, variant: c.variant }, c.name)
        assert.deepEqual(ks.hashKeys([c.key], c.variant), [c.expected], c.name)
      }
    } else if (c.kind === 'parse') {
      if (c.error) throwsKs(() => ks.parseKeyHash(c.value, c.variant), c.error, c.field, c.name)
      else assert.equal(ks.parseKeyHash(c.value, c.variant).value, c.expected, c.name)
    } else assert.fail(`unknown kind ${c.kind} in ${c.name}`)
  }
})

test('vectors: bcrypt.json', () => {
  for (const c of load('bcrypt')) {
    if (c.error) throwsKs(() => ks.verifyBcrypt(c.key, c.hash), c.error, c.field, c.name)
    else assert.equal(ks.verifyBcrypt(c.key, c.hash), c.expected, c.name)
  }
})

test('vectors: keyformat.json', () => {
  // Kinds whose case is one call compared with `expected`.
  const calls = {
    checksum: (c) => ks.checksum(c.body),
    looks_like_key: (c) => ks.looksLikeKey(c.key),
    mask: (c) => ks.maskKey(c.key),
    key_start: (c) => ks.keyStart(c.key),
    key_prefix: (c) => ks.keyPrefix(c.key),
  }
  for (const c of load('keyformat')) {
    if (Object.hasOwn(calls, c.kind)) {
      assert.equal(calls[c.kind](c), c.expected, c.name)
      continue
    }
    switch (c.kind) {
      case 'generate': {
        const opts = { byteLength: c.byte_length, ...(c.prefix === null ? {} : { prefix: c.prefix }) }
        if (c.error) throwsKs(() => ks.generateKey(opts), c.error, c.field, c.name)
        else {
          const key = ks.generateKey(opts)
          assert.ok(ks.looksLikeKey(key), c.name)
          if (c.prefix !== null) assert.ok(key.startsWith(`${c.prefix}_`), c.name)
          else assert.ok(!key.includes('_'), c.name)
        }
        break
      }
      default:
        assert.fail(`unknown kind ${c.kind} in ${c.name}`)
    }
  }
})

test('vectors: scopes.json', () => {
  for (const c of load('scopes')) {
    if (c.kind === 'expand') assert.deepEqual(ks.scopesToPermissions(c.scopes), c.expected, c.name)
    else if (c.kind === 'fold') assert.deepEqual(ks.permissionsToScopes(c.permissions), c.expected, c.name)
    else if (c.kind === 'parse_cli') {
      if (c.error) throwsKs(() => ks.parseScope(c.input), c.error, c.field, c.name)
      else assert.deepEqual(ks.parseScope(c.input), c.expected, c.name)
    } else assert.fail(`unknown kind ${c.kind} in ${c.name}`)
  }
})

test('vectors: permission_queries.json', () => {
  for (const c of load('permission_queries')) {
    if (c.error) {
      const e = throwsKs(() => ks.parsePermissionQuery(c.query), c.error, undefined, c.name)
      assert.match(e.message, new RegExp(`at position ${c.position}\\b`), c.name)
    } else {
      assert.equal(ks.parsePermissionQuery(c.query).evaluate(c.granted), c.expected, c.name)
    }
  }
})

test('permission query objects print their canonical form', () => {
  const q = ks.parsePermissionQuery('a or  b and c')
  assert.equal(String(q), 'a OR b AND c')
  assert.deepEqual(q.names(), ['a', 'b', 'c'])
})

test('KeyshiftError is an exported Error subclass carrying the §5 fields', () => {
  const e = throwsKs(() => ks.generateKey({ byteLength: 8 }), 'invalid_input', 'byteLength', 'generate')
  assert.ok(e instanceof Error)
  assert.equal(e.name, 'KeyshiftError')
  assert.equal(e.constructor, ks.KeyshiftError)
  assert.equal(e.status, null)
  assert.equal(e.requestId, null)
  assert.match(e.stack, /KeyshiftError/)
  assert.equal(Object.getPrototypeOf(e), ks.KeyshiftError.prototype)
  assert.ok(!(new Error('x') instanceof ks.KeyshiftError))
})

test('CommonJS and ESM entry points share one module', () => {
  const cjs = createRequire(import.meta.url)('../index.js')
  assert.equal(cjs.Client, ks.Client)
  assert.equal(cjs.KeyshiftError, ks.KeyshiftError)
  assert.equal(cjs.hashKey, ks.hashKey)
  // The package's own name resolves through package.json "exports" for both.
  const self = createRequire(import.meta.url)('keyshift')
  assert.equal(self.Client, ks.Client)
  assert.equal(typeof createRequire(import.meta.url)('keyshift/express').requireKey, 'function')
})

test('hashKeys matches node crypto and names the first bad record', () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `sk_test_${i}_${'x'.repeat(i % 40)}`)
  const ours = ks.hashKeys(keys)
  keys.forEach((k, i) => assert.equal(ours[i], createHash('sha256').update(k).digest('base64')))
  assert.deepEqual(ks.hashKeys(keys.slice(0, 3), 'sha256_hex'), keys.slice(0, 3).map((k) => createHash('sha256').update(k).digest('hex')))
  const e = throwsKs(() => ks.hashKeys(['ok_key', '  ']), 'invalid_input', 'key', 'blank')
  assert.equal(e.record, 2)
})

test('hashKeysAsync hashes 1M keys on the thread pool while timers keep firing', async () => {
  const n = 1_000_000
  const keys = new Array(n)
  for (let i = 0; i < n; i++) keys[i] = `sk_live_${i.toString(36)}_bench_key_material`
  const loop = loopWatch(5)
  const started = performance.now()
  const hashes = await ks.hashKeysAsync(keys)
  const elapsed = performance.now() - started
  loop.stop()
  const ticks = loop.ticks()
  assert.equal(hashes.length, n)
  for (const i of [0, 1, 4242, n - 1]) assert.equal(hashes[i], createHash('sha256').update(keys[i]).digest('base64'))
  // The loop ran throughout: timers fired during the work (conversion of the 1M strings in and
  // out happens on the JS thread and is the only pause).
  assert.ok(ticks >= 3, `only ${ticks} timer ticks in ${elapsed.toFixed(0)} ms`)
  assert.rejects(ks.hashKeysAsync(['', 'x']), (e) => e instanceof ks.KeyshiftError && e.code === 'invalid_input')
})

test('Client.local runs the engine in-process with the same methods', async () => {
  const dir = tempDir('local')
  const client = ks.Client.local(join(dir, 'local.db'))
  assert.match(inspect(client), /Client/)
  const { apiId } = await client.createApi('local-api')
  const created = await client.createApiKey({ apiId, prefix: 'loc', permissions: ['a.read'] })
  assert.ok(ks.looksLikeKey(created.key))
  const ok = await client.verify(created.key, { permissions: 'a.read' })
  assert.equal(ok.valid, true)
  assert.equal(ok.keyId, created.keyId)
  const denied = await client.verify(created.key, { permissions: 'a.write' })
  assert.equal(denied.code, 'INSUFFICIENT_PERMISSIONS')
  const e = await client.getKey('key_missing000000000000').catch((x) => x)
  assert.ok(e instanceof ks.KeyshiftError)
  assert.equal(e.code, 'not_found')
  // A second client on the same file sees the key (it is really stored there).
  const again = ks.Client.local(join(dir, 'local.db'))
  assert.equal((await again.verify(created.key)).valid, true)
})

test('the public type declarations use no `any`', () => {
  for (const file of ['index.d.ts', 'express.d.ts', 'hono.d.ts']) {
    const text = readFileSync(join(REPO, 'bindings-node', file), 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')
    assert.doesNotMatch(text, /\bany\b/, file)
  }
})
