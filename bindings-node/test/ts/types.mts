// Type-level test of index.d.ts and the guards (tsc --noEmit --strict): correct usage
// compiles, wrong usage is an error (@ts-expect-error fails the build when it is not one).
import {
  Client, KeyshiftError, CreatedKey, PortalSession, hashKey, hashKeys, hashKeysAsync, hashKeysPacked, unpackHashes, generateKey, parsePermissionQuery,
  type Verification, type VerifyCode, type ErrorCode, type MigrationReport, type MigrationRecord, type KeyInfo,
} from 'keyshift'
import { requireKey as expressGuard } from 'keyshift/express'
import { requireKey as honoGuard, type KeyshiftEnv } from 'keyshift/hono'
import express from 'express'
import { Hono } from 'hono'

export async function usage(client: Client): Promise<void> {
  const { apiId } = await client.createApi('typed')
  const created: CreatedKey = await client.createApiKey({ apiId, scopes: [{ representation: 'profile', read: true }], expires: Date.now() + 1000 })
  const key: string = created.key
  const v: Verification = await client.verify(key, { permissions: 'profile.read' })
  const code: VerifyCode = v.code
  if (code === 'INSUFFICIENT_PERMISSIONS' || v.valid) console.log(v.keyId?.length, v.scopes[0]?.read)
  // @ts-expect-error: not a verify code
  if (v.code === 'INVALID') console.log('never')
  // @ts-expect-error: apiId is required
  await client.createApiKey({ name: 'x' })
  // @ts-expect-error: scopes are objects
  await client.createApiKey({ apiId, scopes: ['profile.read'] })
  // @ts-expect-error: plaintext is read-only
  created.key = 'x'
  const portal: PortalSession = await client.createPortalSession(apiId, 'user_1', ['keys:read', 'keys:create'], { returnUrl: 'https://a.example' })
  const redirect: string = portal.url
  console.log(redirect.length, portal.id, portal.maskedUrl)
  // @ts-expect-error: not a portal scope
  await client.createPortalSession(apiId, 'user_1', ['keys:everything'])

  for await (const k of client.listKeys(apiId)) {
    const info: KeyInfo = k
    console.log(info.start)
  }
  for await (const p of client.listPermissions()) console.log(p.slug)

  async function* records(): AsyncGenerator<MigrationRecord> {
    yield { key: 'sk_a_1234567890123456' }
  }
  const report: MigrationReport = await client.migrateKeys(records(), {
    apiId,
    migrationId: 'typed',
    batchSize: 100,
    onProgress: async (p) => { console.log(p.migrated, p.finished) },
  })
  console.log(report.migrated, report.errors[0]?.line)
  await client.migrateKeys('keys.jsonl', { apiId, migrationId: 'typed-file', dryRun: true })
  // @ts-expect-error: a number is not a source
  await client.migrateKeys(42, { apiId, migrationId: 'x' })

  const fb = await client.verifyWithFallback(key, async (k) => k.startsWith('old_'), { backfill: { apiId, migrationId: 'bf' } })
  console.log(fb.source === 'legacy')
  // @ts-expect-error: the legacy check answers a boolean
  await client.verifyWithFallback(key, () => 'yes')

  try {
    await client.getKey('key_x')
  } catch (e) {
    if (e instanceof KeyshiftError) {
      const c: ErrorCode = e.code
      const status: number | null = e.status
      console.log(c, status, e.requestId, e.field, e.retryAfter)
      // @ts-expect-error: not a §5 code
      if (e.code === 'NotFound') console.log('never')
    }
  }

  console.log(hashKey('k').variant, hashKeys(['a', 'b'], 'sha256_hex').length, (await hashKeysAsync(['a']))[0]?.length)
  const packed: Buffer = hashKeysPacked('a\nb', { sep: '\n', variant: 'sha256_hex', count: 2 })
  console.log(unpackHashes(packed, 'sha256_hex').length)
  console.log(generateKey({ prefix: 'sk_live' }), parsePermissionQuery('a AND b').evaluate(['a']))
  // @ts-expect-error: not a hash variant
  hashKey('k', 'md5')

  const local: Client = Client.local('/tmp/keys.db')
  console.log(String(local))

  const app = express()
  app.get('/x', expressGuard(client, { permissions: 'a.read' }), (req, res) => {
    res.json({ keyId: req.keyshift?.keyId })
  })
  const hono = new Hono<KeyshiftEnv>()
  hono.use('/x/*', honoGuard(client, { scopes: [{ representation: 'a', read: true }] }))
  hono.get('/x/y', (c) => c.json({ keyId: c.get('keyshift').keyId }))
}
