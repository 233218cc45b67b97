// Every Client method against a real `keyshift serve` on a loopback port (one per file):
// results, masking of plaintext keys, error classes and codes, 1,000 concurrent verifies and
// the event loop staying responsive while calls are in flight.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { createServer } from 'node:net'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { writeFileSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Client, KeyshiftError, CreatedKey, looksLikeKey, maskKey } from '../index.mjs'
import { serverWithApi, rejection, keyshiftBin, tempDir } from './helpers.mjs'

let server
let client
let apiId

before(async () => {
  ;({ server, client, apiId } = await serverWithApi('node-client-tests'))
})
after(() => server?.stop())

/** Asserts that none of the ways of printing `value` shows `plaintext`. */
function assertMasked(value, plaintext) {
  for (const shown of [inspect(value), inspect(value, { showHidden: true, depth: 5 }), JSON.stringify(value), String(value), `${value}`]) {
    assert.ok(!shown.includes(plaintext), `plaintext visible in: ${shown}`)
  }
}

test('apis: create, get, list keys (async iterable and pages), delete', async () => {
  const { apiId: id } = await client.createApi('node-api-crud')
  assert.match(id, /^api_/)
  assert.deepEqual(await client.getApi(id), { id, name: 'node-api-crud' })
  const made = []
  for (let i = 0; i < 5; i++) made.push((await client.createApiKey({ apiId: id, name: `k${i}` })).keyId)
  const listed = []
  for await (const key of client.listKeys(id)) listed.push(key.keyId)
  assert.deepEqual(listed.sort(), made.sort())
  const page = await client.listKeysPage(id, { limit: 2 })
  assert.equal(page.items.length, 2)
  assert.equal(page.hasMore, true)
  assert.equal(typeof page.cursor, 'string')
  await client.deleteApi(id)
  const e = await rejection(() => client.getApi(id))
  assert.ok(e instanceof KeyshiftError)
  assert.equal(e.code, 'not_found')
  assert.equal(e.status, 404)
})

test('createApiKey with scopes, permissions, meta, credits; result shows only the masked key', async () => {
  const expires = Date.now() + 3_600_000
  const created = await client.createApiKey({
    apiId,
    name: 'scoped',
    prefix: 'sk_live',
    scopes: [{ representation: 'profile', read: true }],
    permissions: ['billing.read'],
    externalId: 'user_42',
    meta: { plan: 'pro', seats: 3 },
    expires,
    credits: 10,
    ratelimits: [{ name: 'requests', limit: 100, duration: 60_000, autoApply: true }],
  })
  assert.ok(created instanceof CreatedKey)
  assert.ok(created.key.startsWith('sk_live_'))
  assert.ok(looksLikeKey(created.key))
  assert.equal(created.masked, maskKey(created.key))
  assert.match(created.keyId, /^key_/)
  assertMasked(created, created.key)
  assert.deepEqual(JSON.parse(JSON.stringify(created)), { keyId: created.keyId, masked: created.masked })
  assert.ok(inspect(created).includes(created.masked))

  const v = await client.verify(created.key, { scopes: [{ representation: 'profile', read: true }], permissions: 'billing.read' })
  assert.equal(v.valid, true)
  assert.equal(v.code, 'VALID')
  assert.equal(v.keyId, created.keyId)
  assert.equal(v.externalId, 'user_42')
  assert.deepEqual(v.meta, { plan: 'pro', seats: 3 })
  assert.equal(v.expires, expires)
  assert.equal(v.credits, 9)
  assert.deepEqual(v.permissions.sort(), ['billing.read', 'profile.read'])
  const scopes = [...v.scopes].sort((a, b) => a.representation.localeCompare(b.representation))
  assert.deepEqual(scopes, [
    { representation: 'billing', read: true, create: false, update: false, delete: false },
    { representation: 'profile', read: true, create: false, update: false, delete: false },
  ])
  assert.match(v.requestId, /^req_/)
  assert.equal(v.source, 'keyService')
  assertMasked(v, created.key)

  const denied = await client.verify(created.key, { permissions: 'profile.update' })
  assert.equal(denied.valid, false)
  assert.equal(denied.code, 'INSUFFICIENT_PERMISSIONS')
})

test('verify outcomes are values, never errors', async () => {
  const unknown = await client.verify('sk_live_unknownunknownunknown1')
  assert.equal(unknown.valid, false)
  assert.equal(unknown.code, 'NOT_FOUND')
  assert.equal(unknown.keyId, undefined)
  const { keyId, key } = await client.createApiKey({ apiId, credits: 1 })
  assert.equal((await client.verify(key)).valid, true)
  assert.equal((await client.verify(key)).code, 'USAGE_EXCEEDED')
  await client.updateKey(keyId, { enabled: false })
  assert.equal((await client.verify(key)).code, 'DISABLED')
  const limited = await client.createApiKey({ apiId, ratelimits: [{ name: 'per-minute', limit: 1, duration: 60_000, autoApply: true }] })
  assert.equal((await client.verify(limited.key)).valid, true)
  assert.equal((await client.verify(limited.key)).code, 'RATE_LIMITED')
})

test('keys: get, whoami, update (set and clear), credits, reroll, delete', async () => {
  const created = await client.createApiKey({ apiId, name: 'before', meta: { a: 1 }, prefix: 'tk' })
  const info = await client.getKey(created.keyId)
  assert.equal(info.keyId, created.keyId)
  assert.equal(info.name, 'before')
  assert.equal(info.enabled, true)
  assert.ok(created.key.startsWith(info.start))
  assertMasked(info, created.key)
  assert.equal((await client.whoami(created.key)).keyId, created.keyId)

  await client.updateKey(created.keyId, { name: 'after', meta: null, expires: Date.now() + 60_000 })
  const updated = await client.getKey(created.keyId)
  assert.equal(updated.name, 'after')
  assert.equal(updated.meta, undefined)
  assert.ok(updated.expires > Date.now())

  assert.equal((await client.updateCredits(created.keyId, 'set', 5)).remaining, 5)
  assert.equal((await client.updateCredits(created.keyId, 'increment', 2)).remaining, 7)
  const badOp = await rejection(() => client.updateCredits(created.keyId, 'double', 2))
  assert.equal(badOp.code, 'invalid_input')
  assert.equal(badOp.field, 'operation')

  const rolled = await client.rerollKey(created.keyId, 0)
  assert.notEqual(rolled.keyId, created.keyId)
  assertMasked(rolled, rolled.key)
  assert.equal((await client.verify(rolled.key)).valid, true)
  assert.equal((await client.verify(created.key)).valid, false)

  await client.deleteKey(rolled.keyId)
  assert.equal((await client.verify(rolled.key)).code, 'NOT_FOUND')
  await client.deleteKey(created.keyId, { permanent: true })
})

test('permissions and roles: create, get, list (async iterables), attach, delete', async () => {
  const { permissionId } = await client.createPermission('Docs read', { slug: 'docs.read', description: 'read docs' })
  assert.match(permissionId, /^perm_/)
  const perm = await client.getPermission('docs.read')
  assert.equal(perm.id, permissionId)
  assert.equal(perm.description, 'read docs')
  await client.createPermission('docs.write')
  const { roleId } = await client.createRole('editor', { permissions: ['docs.read', 'docs.write'], description: 'edits' })
  assert.equal((await client.getRole('editor')).id, roleId)
  const perms = []
  for await (const p of client.listPermissions()) perms.push(p.slug)
  assert.ok(perms.includes('docs.read') && perms.includes('docs.write'), perms.join())
  const roles = []
  for await (const r of client.listRoles()) roles.push(r.name)
  assert.ok(roles.includes('editor'))
  assert.deepEqual((await client.setRolePermissions(roleId, ['docs.read'])).map((p) => p.slug), ['docs.read'])

  const { keyId, key } = await client.createApiKey({ apiId })
  assert.deepEqual((await client.addPermissions(keyId, ['x.read', 'x.write'])).map((p) => p.slug).sort(), ['x.read', 'x.write'])
  assert.deepEqual((await client.removePermissions(keyId, ['x.write'])).map((p) => p.slug), ['x.read'])
  assert.deepEqual((await client.setPermissions(keyId, ['y.read'])).map((p) => p.slug), ['y.read'])
  assert.deepEqual((await client.addRoles(keyId, ['editor'])).map((r) => r.name), ['editor'])
  const v = await client.verify(key, { permissions: 'docs.read AND y.read' })
  assert.equal(v.valid, true)
  assert.deepEqual(v.roles, ['editor'])
  assert.deepEqual(await client.removeRoles(keyId, ['editor']), [])
  assert.deepEqual((await client.setRoles(keyId, ['editor'])).map((r) => r.name), ['editor'])
  const missing = await rejection(() => client.addRoles(keyId, ['no-such-role']))
  assert.equal(missing.code, 'not_found')

  await client.deleteRole('editor')
  await client.deletePermission('docs.write')
  assert.equal((await rejection(() => client.getRole('editor'))).code, 'not_found')
})

test('identities: create, get, update, list, delete', async () => {
  const { identityId } = await client.createIdentity('customer_7', { meta: { tier: 'gold' } })
  const got = await client.getIdentity('customer_7')
  assert.equal(got.id, identityId)
  assert.deepEqual(got.meta, { tier: 'gold' })
  const updated = await client.updateIdentity(identityId, { meta: { tier: 'silver' } })
  assert.deepEqual(updated.meta, { tier: 'silver' })
  const ids = []
  for await (const i of client.listIdentities()) ids.push(i.externalId)
  assert.ok(ids.includes('customer_7'))
  const dup = await rejection(() => client.createIdentity('customer_7'))
  assert.equal(dup.code, 'conflict')
  assert.equal(dup.status, 409)
  await client.deleteIdentity('customer_7')
  assert.equal((await rejection(() => client.getIdentity('customer_7'))).code, 'not_found')
})

test('errors: unauthorized (status, requestId), invalid_input before the network, network, timeout', async () => {
  const wrong = new Client({ baseUrl: server.baseUrl, rootKey: 'unkey_notarealrootkey0000000' })
  const e401 = await rejection(() => wrong.createApi('nope-api'))
  assert.ok(e401 instanceof KeyshiftError)
  assert.ok(e401 instanceof Error)
  assert.equal(e401.code, 'unauthorized')
  assert.equal(e401.status, 401)
  assert.match(e401.requestId, /^req_/)
  assert.ok(!e401.message.includes('notarealrootkey'), e401.message)

  const bad = await rejection(() => client.createApiKey({ apiId, byteLength: 8 }))
  assert.equal(bad.code, 'invalid_input')
  assert.equal(bad.field, 'byteLength')
  assert.equal(bad.status, null)
  const unknownField = await rejection(() => client.createApiKey({ apiId, colour: 'red' }))
  assert.equal(unknownField.code, 'invalid_input')
  const badQuery = await rejection(() => client.verify('sk_x_abc', { permissions: 'a AND (b' }))
  assert.equal(badQuery.code, 'invalid_input')
  assert.equal(badQuery.field, 'permissions')

  // A closed loopback port: connection refused.
  const port = await new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => res(p))
    })
  })
  const offline = new Client({ baseUrl: `http://127.0.0.1:${port}`, rootKey: 'unkey_x', maxAttempts: 1, timeoutMs: 1000 })
  const net = await rejection(() => offline.verify('sk_live_whatever_key_123'))
  assert.equal(net.code, 'network')

  // A loopback server that accepts and never answers: the per-attempt timeout.
  const silent = createServer((socket) => socket.on('data', () => {}))
  await new Promise((res) => silent.listen(0, '127.0.0.1', res))
  try {
    const stuck = new Client({ baseUrl: `http://127.0.0.1:${silent.address().port}`, rootKey: 'unkey_x', maxAttempts: 1, timeoutMs: 300 })
    const started = Date.now()
    const slow = await rejection(() => stuck.getApi('api_whatever'))
    assert.ok(slow instanceof KeyshiftError)
    assert.equal(slow.code, 'timeout')
    assert.ok(Date.now() - started < 5000)
  } finally {
    silent.close()
    silent.unref()
  }

  assert.throws(() => new Client({ baseUrl: 'localhost:1', rootKey: 'unkey_x' }), (err) => err instanceof KeyshiftError && err.field === 'base_url')
  assert.throws(() => new Client({ baseUrl: server.baseUrl, rootKey: 'unkey_x', bogus: 1 }), (err) => err instanceof KeyshiftError && err.code === 'invalid_input')
})

test('errors: a root key lacking the permission gets forbidden (403)', async () => {
  const db = join(server.dir, 'k.db')
  const admin = (...args) => execFileSync(keyshiftBin(), ['admin', ...args, '--db', db, '--json']).toString().trim().split('\n').map((l) => JSON.parse(l))
  const [{ workspaceId }] = admin('list-root-keys')
  const made = admin('create-root-key', '--workspace', workspaceId, '--permission', 'api.*.verify_key')[0]
  const rootKey = Object.values(made).find((v) => typeof v === 'string' && v.startsWith('ks_root_') && v.length > 20)
  assert.ok(rootKey, `no root key in ${Object.keys(made)}`)
  const verifier = new Client({ baseUrl: server.baseUrl, rootKey })
  const e = await rejection(() => verifier.createApi('not-allowed'))
  assert.ok(e instanceof KeyshiftError)
  assert.equal(e.code, 'forbidden')
  assert.equal(e.status, 403)
  assert.ok(!e.message.includes(rootKey))
  // What it may do still works, and an outcome stays an outcome.
  assert.equal((await verifier.verify('sk_live_nope_nope_nope_nope')).code, 'NOT_FOUND')
})

test('constructor falls back to KEYSHIFT_BASE_URL and KEYSHIFT_ROOT_KEY', async () => {
  const saved = { url: process.env.KEYSHIFT_BASE_URL, key: process.env.KEYSHIFT_ROOT_KEY }
  process.env.KEYSHIFT_BASE_URL = server.baseUrl
  process.env.KEYSHIFT_ROOT_KEY = server.rootKey
  try {
    const fromEnv = Client.fromEnv()
    assert.match(String(fromEnv), new RegExp(server.baseUrl.replace(/[.]/g, '\\.')))
    assert.match((await fromEnv.createApi('from-env')).apiId, /^api_/)
  } finally {
    for (const [k, v] of [['KEYSHIFT_BASE_URL', saved.url], ['KEYSHIFT_ROOT_KEY', saved.key]]) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
  assert.ok(!String(client).includes(server.rootKey))
  assert.ok(!inspect(client).includes(server.rootKey))
})

test('1,000 concurrent verifies from one client while setImmediate keeps running', async () => {
  const keys = await Promise.all(Array.from({ length: 10 }, () => client.createApiKey({ apiId })))
  let immediates = 0
  let running = true
  const spin = () => {
    immediates++
    if (running) setImmediate(spin)
  }
  setImmediate(spin)
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => (i % 10 === 9 ? client.verify(`sk_nope_${i}_zzzzzzzzzzzzzzzz`) : client.verify(keys[i % 10].key))),
  )
  running = false
  assert.equal(results.length, 1000)
  results.forEach((r, i) => {
    if (i % 10 === 9) assert.equal(r.code, 'NOT_FOUND')
    else {
      assert.equal(r.valid, true)
      assert.equal(r.keyId, keys[i % 10].keyId)
    }
  })
  // The loop turned many times while the verifies were in flight.
  assert.ok(immediates > 20, `only ${immediates} setImmediate turns`)
})

test('a verify in flight does not delay setImmediate', async () => {
  const { key } = await client.createApiKey({ apiId })
  const order = []
  const p = client.verify(key).then(() => order.push('verify'))
  await new Promise((res) => setImmediate(() => { order.push('immediate'); res() }))
  await p
  assert.deepEqual(order, ['immediate', 'verify'])
})

test('verifyWithFallback: legacy check, backfill, and callbacks that throw or reject', async () => {
  const legacyKey = 'legacy_sk_0123456789abcdefghij'
  const seen = []
  const v = await client.verifyWithFallback(legacyKey, (k) => { seen.push(k); return k === legacyKey }, {
    backfill: { apiId, migrationId: 'node-backfill', template: { name: 'backfilled' } },
  })
  assert.deepEqual(seen, [legacyKey])
  assert.equal(v.valid, true)
  assert.equal(v.source, 'legacy')
  assert.match(v.keyId, /^key_/)
  // Backfilled: now the key service knows it and the legacy check is not asked.
  const again = await client.verifyWithFallback(legacyKey, () => assert.fail('legacy called for a migrated key'))
  assert.equal(again.source, 'keyService')
  assert.equal(again.valid, true)
  assert.equal((await client.getKey(v.keyId)).name, 'backfilled')

  const rejected = await client.verifyWithFallback('legacy_unknown_aaaaaaaaaaaa', async () => false)
  assert.equal(rejected.valid, false)
  assert.equal(rejected.code, 'NOT_FOUND')

  const boom = new Error('legacy system down')
  assert.equal(await rejection(() => client.verifyWithFallback('legacy_x_1234567890123', () => { throw boom })), boom)
  const rej = new TypeError('async legacy failure')
  assert.equal(await rejection(() => client.verifyWithFallback('legacy_x_1234567890123', async () => { throw rej })), rej)
})

test('answers reach every JS thread: a process stays alive until its calls settle, then exits; worker threads get their own', () => {
  // A script with nothing but pending keyshift calls: the event loop must wait for them (else
  // the process ends with unsettled Promises), and let the process exit once they settled.
  const dir = tempDir('threads')
  const file = join(dir, 'threads.cjs')
  writeFileSync(file, `
    const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads')
    const { Client } = require(${JSON.stringify(fileURLToPath(new URL('../index.js', import.meta.url)))})
    const { baseUrl, rootKey, apiId } = workerData ?? JSON.parse(process.argv[2])
    const client = new Client({ baseUrl, rootKey })
    const run = async (label) => {
      const [api, missing] = await Promise.all([client.getApi(apiId), client.getKey('key_missing').catch((e) => e.code)])
      return label + ':' + api.id + ':' + missing
    }
    if (isMainThread) {
      const workers = [1, 2].map(() => new Promise((res, rej) => {
        const w = new Worker(__filename, { workerData: { baseUrl, rootKey, apiId } })
        w.once('message', res)
        w.once('error', rej)
      }))
      Promise.all([run('main'), ...workers]).then((lines) => console.log(lines.join(' ')))
    } else {
      run('worker').then((line) => parentPort.postMessage(line))
    }`)
  try {
    const out = execFileSync(process.execPath, [file, JSON.stringify({ baseUrl: server.baseUrl, rootKey: server.rootKey, apiId })], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    const want = (label) => `${label}:${apiId}:not_found`
    assert.equal(out.trim(), [want('main'), want('worker'), want('worker')].join(' '))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
