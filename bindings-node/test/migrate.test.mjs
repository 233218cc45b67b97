// migrateKeys against a real `keyshift serve`: from a JSONL file and from (async) iterables
// pulled lazily, progress, cancellation, and callbacks or iterators that throw or reject
// (their very error comes back).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { KeyshiftError, hashKey } from '../index.mjs'
import { loopWatch, serverWithApi, rejection, tempDir } from './helpers.mjs'

let server
let client
let apiId
let dir

before(async () => {
  ;({ server, client, apiId } = await serverWithApi('node-migrate-tests'))
  dir = tempDir('migrate')
})
after(async () => {
  await server?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const plain = (tag, i) => `sk_legacy_${tag}_${String(i).padStart(7, '0')}_secretpart`

test('from a JSONL file: keys and hashes, a bad line reported, checkpoint and report written', async () => {
  const file = join(dir, 'keys.jsonl')
  const lines = []
  for (let i = 0; i < 1500; i++) lines.push(JSON.stringify({ key: plain('file', i), name: `file ${i}`, permissions: ['profile.read'] }))
  lines.push('{"key": 42}') // line 1501: not a string
  lines.push(JSON.stringify({ hash: hashKey(plain('filehash', 0)).value, externalId: 'cus_file' }))
  writeFileSync(file, lines.join('\n') + '\n')
  const report = join(dir, 'report.jsonl')
  const checkpoint = join(dir, 'file.ckpt')

  const dry = await client.migrateKeys(file, { apiId, migrationId: 'node-file-dry', dryRun: true })
  assert.equal(dry.dryRun, true)
  assert.equal(dry.total, 1502)
  assert.equal(dry.invalid, 1)
  assert.equal(dry.migrated, 0)
  assert.equal((await client.verify(plain('file', 0))).code, 'NOT_FOUND')

  const progress = []
  const r = await client.migrateKeys(file, {
    apiId, migrationId: 'node-file', batchSize: 200, concurrency: 3, report, checkpoint,
    onProgress: (p) => { progress.push(p) },
  })
  assert.equal(r.total, 1502)
  assert.equal(r.migrated, 1501)
  assert.equal(r.invalid, 1)
  assert.equal(r.errors.length, 1)
  assert.equal(r.errors[0].line, 1501)
  assert.equal(r.errors[0].code, 'invalid_input')
  assert.ok(progress.length >= 1)
  assert.equal(progress.at(-1).finished, true)
  assert.equal(progress.at(-1).migrated, 1501)

  const v = await client.verify(plain('file', 1234), { permissions: 'profile.read' })
  assert.equal(v.valid, true)
  assert.equal(v.name, 'file 1234')
  assert.equal((await client.verify(plain('filehash', 0))).externalId, 'cus_file')
  const rows = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  assert.equal(rows.filter((x) => x.keyId).length, 1501)
  assert.ok(rows.some((x) => x.summary))
  // The report and everything printed hold hashes, never plaintext.
  assert.ok(!readFileSync(report, 'utf8').includes('secretpart'))

  // Resuming a finished run sends nothing again.
  const resumed = await client.migrateKeys(file, { apiId, migrationId: 'node-file', batchSize: 200, checkpoint, resume: true })
  assert.equal(resumed.migrated, 0)
  assert.equal(resumed.skippedResumed, 1501)
})

test('from an async generator: pulled lazily, progress in order, loop keeps ticking', async () => {
  const n = 20_000
  let produced = 0
  async function* records() {
    for (let i = 0; i < n; i++) {
      produced++
      if (i % 1000 === 0) await new Promise((res) => setImmediate(res))
      yield { key: plain('gen', i), meta: { i } }
    }
  }
  let maxAhead = 0
  let lastRead = 0
  const snapshots = []
  const loop = loopWatch(10)
  const r = await client.migrateKeys(records(), {
    apiId, migrationId: 'node-generator', batchSize: 250, concurrency: 4,
    onProgress: async (p) => {
      snapshots.push(p)
      assert.ok(p.recordsRead >= lastRead, 'progress out of order')
      lastRead = p.recordsRead
      maxAhead = Math.max(maxAhead, produced - p.recordsRead)
    },
  })
  loop.stop()
  const maxGap = loop.maxGap()
  assert.equal(r.migrated, n)
  assert.equal(r.total, n)
  assert.equal(produced, n)
  // Never materialised: the generator ran at most a few batches ahead of the reader.
  assert.ok(snapshots.length >= 2, `${snapshots.length} snapshots`)
  assert.ok(maxAhead < n / 4, `generator ran ${maxAhead} records ahead`)
  assert.ok(maxGap < 1000, `event loop stalled ${maxGap.toFixed(0)} ms during the migration`)
  for (const i of [0, 7777, n - 1]) {
    const v = await client.verify(plain('gen', i))
    assert.equal(v.valid, true)
    assert.deepEqual(v.meta, { i })
  }
})

test('from a plain array (sync iterable), with a record error by position', async () => {
  const r = await client.migrateKeys([{ key: plain('arr', 0) }, { key: '   ' }, { key: plain('arr', 2), expires: 'soon' }], {
    apiId, migrationId: 'node-array',
  })
  assert.equal(r.migrated, 1)
  assert.equal(r.invalid, 2)
  assert.deepEqual(r.errors.map((e) => e.line), [2, 3])
})

test('an iterator that throws midway rejects with that very error', async () => {
  const boom = new Error('export cursor lost')
  function* sync() {
    for (let i = 0; i < 700; i++) yield { key: plain('throw', i) }
    throw boom
  }
  assert.equal(await rejection(() => client.migrateKeys(sync(), { apiId, migrationId: 'node-throw', batchSize: 100 })), boom)

  const rej = new RangeError('async source failed')
  async function* asyncGen() {
    for (let i = 0; i < 300; i++) yield { key: plain('reject', i) }
    await Promise.resolve()
    throw rej
  }
  assert.equal(await rejection(() => client.migrateKeys(asyncGen(), { apiId, migrationId: 'node-reject', batchSize: 100 })), rej)
  // The records after the failure were not sent; the partial batch before it was not either.
  assert.equal((await client.verify(plain('reject', 299))).code, 'NOT_FOUND')
})

test('onProgress that throws or rejects stops the run with its error', async () => {
  const many = (tag) => Array.from({ length: 3000 }, (_, i) => ({ key: plain(tag, i) }))
  const thrown = new Error('progress sink broke')
  assert.equal(await rejection(() => client.migrateKeys(many('pthrow'), {
    apiId, migrationId: 'node-progress-throw', batchSize: 50, concurrency: 1,
    onProgress: () => { throw thrown },
  })), thrown)
  const rejected = new Error('async progress sink broke')
  assert.equal(await rejection(() => client.migrateKeys(many('preject'), {
    apiId, migrationId: 'node-progress-reject', batchSize: 50, concurrency: 1,
    onProgress: async () => { throw rejected },
  })), rejected)
})

test('an AbortSignal cancels the run (io, field cancel)', async () => {
  const controller = new AbortController()
  async function* slow() {
    for (let i = 0; i < 100_000; i++) {
      if (i === 2000) controller.abort()
      yield { key: plain('abort', i) }
    }
  }
  const e = await rejection(() => client.migrateKeys(slow(), { apiId, migrationId: 'node-abort', batchSize: 100, signal: controller.signal }))
  assert.ok(e instanceof KeyshiftError)
  assert.equal(e.code, 'io')
  assert.equal(e.field, 'cancel')
})

test('bad options and sources are refused before anything is sent', async () => {
  const e = await rejection(() => client.migrateKeys([{ key: plain('opt', 0) }], { apiId, migrationId: 'node-opts', batchSize: 0 }))
  assert.equal(e.code, 'invalid_input')
  assert.equal(e.field, 'batch_size')
  const missing = await rejection(() => client.migrateKeys(join(dir, 'nope.jsonl'), { apiId, migrationId: 'node-missing' }))
  assert.equal(missing.code, 'io')
  await assert.rejects(client.migrateKeys(42, { apiId, migrationId: 'node-bad' }), TypeError)
})
