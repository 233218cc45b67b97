// By-hand check of the Node binding against a key service (Unkey's own server via
// ../shared/tools/unkey-ref, or keyshift serve): KEYSHIFT_BASE_URL, KEYSHIFT_ROOT_KEY,
// MIGRATION_ID (one the server knows; unkey-ref seeds migration_a). Not part of CI.
// Run: node tests/unkey-ref/node-smoke.mjs
import assert from 'node:assert/strict'
import { Client, KeyshiftError } from '../../bindings-node/index.mjs'

const client = new Client({ baseUrl: process.env.KEYSHIFT_BASE_URL, rootKey: process.env.KEYSHIFT_ROOT_KEY })
const run = Date.now().toString(36)
const { apiId } = await client.createApi(`node-smoke-${run}`)
const created = await client.createApiKey({ apiId, name: 'smoke', prefix: 'sk', permissions: [`orders.read.${run}`], meta: { plan: 'pro' } })
assert.ok(!String(created).includes(created.key), 'toString is masked')
let v = await client.verify(created.key, { permissions: `orders.read.${run}` })
assert.equal(v.valid, true); assert.equal(v.code, 'VALID'); assert.equal(v.keyId, created.keyId)
v = await client.verify(created.key, { permissions: `orders.write.${run}` })
assert.equal(v.code, 'INSUFFICIENT_PERMISSIONS')
v = await client.verify('sk_definitelyNotAKey1234567890')
assert.equal(v.valid, false); assert.equal(v.code, 'NOT_FOUND')
const info = await client.getKey(created.keyId)
assert.equal(info.name, 'smoke')
await client.updateKey(created.keyId, { name: 'renamed', meta: { plan: 'team' } })
assert.equal((await client.getKey(created.keyId)).name, 'renamed')
const perms = await client.addPermissions(created.keyId, [`orders.write.${run}`])
assert.ok(perms.some((p) => p.slug === `orders.write.${run}`))
const keys = []
for await (const k of client.listKeys(apiId)) keys.push(k.keyId)
assert.ok(keys.includes(created.keyId))
// Migration: plaintext hashed here, only hashes sent.
const migrated = Array.from({ length: 25 }, (_, i) => ({ key: `legacy_${run}_${i}_abcdefghijklmnop`, name: `m${i}` }))
const report = await client.migrateKeys(migrated, { apiId, migrationId: process.env.MIGRATION_ID ?? 'migration_a', batchSize: 10 })
assert.equal(report.migrated, 25, JSON.stringify(report))
v = await client.verify(migrated[3].key)
assert.equal(v.valid, true, JSON.stringify(v))
// Rollout: unknown to the service, accepted by the legacy check.
const fallback = await client.verifyWithFallback(`legacy_only_${run}_abcdefghijkl`, async () => true)
assert.equal(fallback.valid, true)
await assert.rejects(client.getKey('key_doesNotExist123'), (e) => e instanceof KeyshiftError && e.code === 'not_found' && e.status === 404)
const bad = new Client({ baseUrl: process.env.KEYSHIFT_BASE_URL, rootKey: 'unkey_wrongRootKey1234567890' })
await assert.rejects(bad.createApi('unauthorized-check'), (e) => e instanceof KeyshiftError && e.code === 'unauthorized' && e.status === 401)
await client.deleteKey(created.keyId)
v = await client.verify(created.key)
assert.equal(v.valid, false)
console.log(`node smoke passed against ${process.env.KEYSHIFT_BASE_URL} (api ${apiId})`)
