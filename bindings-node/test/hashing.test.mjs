// hashKeys / hashKeysAsync / hashKeysPacked / hashKeysPackedAsync / hashKeysOffsets against
// node:crypto on thousands of random keys (ASCII, non-ASCII, multi-block), and the packed
// forms' edge cases as typed errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import * as ks from '../index.mjs'

const b64 = (k) => createHash('sha256').update(k).digest('base64')
const hex = (k) => createHash('sha256').update(k).digest('hex')
const PIECES = ['a', 'Z', '0', '_', '-', 'é', '日本', '🔑', 'ß', ' ', '\t']

/** Every length 1..199 (one to four blocks), then random keys from a seeded generator. */
function randomKeys(n, seed) {
  let s = seed >>> 0
  const rnd = (m) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s % m
  }
  const keys = Array.from({ length: 199 }, (_, i) => 'k'.repeat(i + 1))
  while (keys.length < n) {
    let k = 'x'
    for (let j = rnd(90); j > 0; j--) k += PIECES[rnd(PIECES.length)]
    keys.push(k)
  }
  return keys.slice(0, n)
}

/** Expects a KeyshiftError `invalid_input` on `field` (and `record`). */
function invalid(fn, field, record, name) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof ks.KeyshiftError, `${name}: ${e}`)
    assert.equal(e.code, 'invalid_input', name)
    assert.equal(e.field, field, name)
    if (record !== undefined) assert.equal(e.record, record, name)
    return true
  }, name)
}

for (const n of [1, 150, 6000]) {
  test(`${n} random keys: every form equals node:crypto`, async () => {
    const keys = randomKeys(n, n)
    const wantB64 = keys.map(b64)
    const wantHex = keys.map(hex)
    assert.deepEqual(ks.hashKeys(keys), wantB64)
    assert.deepEqual(ks.hashKeys(keys, 'sha256_hex'), wantHex)
    assert.deepEqual(await ks.hashKeysAsync(keys), wantB64)
    const joined = keys.join('\n')
    const packed = ks.hashKeysPacked(Buffer.from(joined), { count: n })
    assert.ok(Buffer.isBuffer(packed) && packed.length === 44 * n)
    assert.deepEqual(ks.unpackHashes(packed), wantB64)
    assert.deepEqual(ks.unpackHashes(ks.hashKeysPacked(joined + '\n', { variant: 'sha256_hex' }), 'sha256_hex'), wantHex)
    const viaNul = new TextEncoder().encode(keys.join('\0')) // a plain Uint8Array
    assert.deepEqual(ks.unpackHashes(ks.hashKeysPacked(viaNul, { sep: '\0', count: n })), wantB64)
    assert.deepEqual(ks.unpackHashes(await ks.hashKeysPackedAsync(joined, { sep: 10 })), wantB64)
    const bytes = keys.map((k) => Buffer.from(k))
    const offsets = new Uint32Array(n + 1)
    bytes.forEach((b, i) => { offsets[i + 1] = offsets[i] + b.length })
    assert.deepEqual(ks.unpackHashes(ks.hashKeysOffsets(Buffer.concat(bytes), offsets)), wantB64)
  })
}

test('hashKeys: keys with a newline, empty and blank keys, non-strings', async () => {
  const keys = ['a\nb', 'c', 'line\r\n', ...randomKeys(3000, 9)]
  assert.deepEqual(ks.hashKeys(['abc\n']), [b64('abc\n')])
  invalid(() => ks.hashKeys(['abc', '\n']), 'key', 2, 'newline-only key')
  assert.deepEqual(ks.hashKeys(keys), keys.map(b64)) // falls back to the JSON form, same answer
  assert.deepEqual(await ks.hashKeysAsync(keys), keys.map(b64))
  const big = randomKeys(5000, 3)
  big[4321] = ''
  invalid(() => ks.hashKeys(big), 'key', 4322, 'empty key')
  invalid(() => ks.hashKeys(['ok', '\u3000']), 'key', 2, 'ideographic space')
  await assert.rejects(ks.hashKeysAsync(['ok', ' ']), (e) => e.field === 'key' && e.record === 2)
  assert.throws(() => ks.hashKeys('abc'), TypeError)
  await assert.rejects(ks.hashKeysAsync('abc'), TypeError)
  invalid(() => ks.hashKeys(['a', 1]), 'keys', undefined, 'number in the array')
  assert.ok(ks.hashKeys(['é'], 'bcrypt')[0].startsWith('$2b$10$'))
})

test('hashKeys: long, non-ASCII and lone-surrogate keys, 0 and 1 keys, holes', () => {
  // Keys of several KiB with multi-byte characters, between 5000 ordinary ones.
  const long = ['x'.repeat(4090), '日'.repeat(1400), 'é'.repeat(2047) + '🔑', '🔑'.repeat(5000)]
  const keys = [...randomKeys(5000, 21), ...long, ...long.map((k) => `${k}!`)]
  assert.deepEqual(ks.hashKeys(keys), keys.map(b64))
  assert.deepEqual(ks.hashKeys([]), [])
  assert.deepEqual(ks.hashKeys(['k']), [b64('k')])
  // A lone surrogate reads as U+FFFD, as node:crypto and Buffer.from read it.
  assert.deepEqual(ks.hashKeys(['a\ud800b', '\udfff1']), [b64('a\ud800b'), b64('\udfff1')])
  const answer = ks.hashKeys(keys.slice(0, 3))
  assert.ok(answer.every((h) => typeof h === 'string' && h.length === 44))
  answer.push('mutable') // an ordinary array the caller owns
  const holes = ['a', 'b']
  holes[3] = 'd' // index 2 is a hole (undefined): the general form reports it
  invalid(() => ks.hashKeys(holes), 'keys', undefined, 'hole in the array')
  invalid(() => ks.hashKeys(['a'], 'md5'), 'variant', undefined, 'unknown variant')
})

test('packed forms: edge cases are typed errors', async () => {
  assert.equal(ks.hashKeysPacked(Buffer.alloc(0)).length, 0)
  assert.equal(ks.hashKeysPacked('abc\n').toString(), b64('abc'))
  for (const [data, record] of [['a\n\nb', 2], ['\n', 1], ['a\n \t\n', 2], ['a\nb\n\u3000', 3]]) {
    invalid(() => ks.hashKeysPacked(data), 'key', record, JSON.stringify(data))
  }
  invalid(() => ks.hashKeysPacked(Buffer.from([0x6f, 0x6b, 0x0a, 0xff, 0xfe])), 'key', 2, 'not UTF-8')
  // A key holding the separator: with the count, a clear error instead of two hashes.
  assert.throws(() => ks.hashKeysPacked('sk_a\nsk_b\nc', { count: 2 }),
    (e) => e.field === 'keys' && /found 3 keys where 2/.test(e.message))
  invalid(() => ks.hashKeysPacked('a', { sep: 'é' }), 'sep', undefined, 'non-ASCII sep')
  invalid(() => ks.hashKeysPacked('a', { sep: 300 }), 'sep', undefined, 'sep > 255')
  assert.throws(() => ks.hashKeysPacked('a', { sep: 'ab' }), TypeError)
  invalid(() => ks.hashKeysPacked('a', { variant: 'bcrypt' }), 'variant', undefined, 'bcrypt')
  assert.throws(() => ks.hashKeysPacked(['a']), TypeError)
  await assert.rejects(ks.hashKeysPackedAsync('a\n\n'), (e) => e.field === 'key' && e.record === 2)
  // Offsets: must have n + 1 entries from 0 to data.length, never decreasing.
  const data = Buffer.from('abcdef')
  for (const [offsets, record] of [[[], 0], [[1, 6], 1], [[0, 4, 3, 6], 2], [[0, 3, 5], 2], [[0, 3, 7], 2]]) {
    invalid(() => ks.hashKeysOffsets(data, new Uint32Array(offsets)), 'offsets', record, `offsets ${offsets}`)
  }
  invalid(() => ks.hashKeysOffsets(data, new Uint32Array([0, 3, 3, 6])), 'key', 2, 'empty key by offsets')
  assert.throws(() => ks.unpackHashes(Buffer.alloc(45)), TypeError)
})
