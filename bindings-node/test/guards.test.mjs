// keyshift/express and keyshift/hono guards with real HTTP requests: an app on a loopback port
// in front of a real `keyshift serve`.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import express from 'express'
import { Hono } from 'hono'
import { serve } from '@hono/node-server'
import { Client } from '../index.mjs'
import { requireKey as expressGuard } from '../express.js'
import { requireKey as honoGuard } from '../hono.js'
import { startServer } from './helpers.mjs'

let server
let client
let keys
const closers = []

before(async () => {
  server = await startServer()
  client = new Client({ baseUrl: server.baseUrl, rootKey: server.rootKey })
  const { apiId } = await client.createApi('node-guards')
  keys = {
    reader: (await client.createApiKey({ apiId, scopes: [{ representation: 'docs', read: true }], externalId: 'reader' })).key,
    nobody: (await client.createApiKey({ apiId })).key,
    limited: (await client.createApiKey({ apiId, permissions: ['docs.read'], ratelimits: [{ name: 'per-minute', limit: 1, duration: 60_000, autoApply: true }] })).key,
    limitedHono: (await client.createApiKey({ apiId, permissions: ['docs.read'], ratelimits: [{ name: 'per-minute', limit: 1, duration: 60_000, autoApply: true }] })).key,
  }
})
after(async () => {
  for (const close of closers) await close()
  await server?.stop()
})

async function listenExpress() {
  const app = express()
  app.get('/docs', expressGuard(client, { permissions: 'docs.read' }), (req, res) => {
    res.json({ keyId: req.keyshift.keyId, externalId: req.keyshift.externalId })
  })
  const srv = await new Promise((res) => { const s = app.listen(0, '127.0.0.1', () => res(s)) })
  closers.push(() => new Promise((res) => srv.close(res)))
  return `http://127.0.0.1:${srv.address().port}`
}

async function listenHono() {
  const app = new Hono()
  app.use('/docs/*', honoGuard(client, { scopes: [{ representation: 'docs', read: true }] }))
  app.get('/docs/list', (c) => {
    const v = c.get('keyshift')
    return c.json({ keyId: v.keyId, externalId: v.externalId })
  })
  const srv = await new Promise((res) => { const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => res(s)) })
  closers.push(() => new Promise((res) => srv.close(res)))
  return `http://127.0.0.1:${srv.address().port}/docs/list`
}

async function exercise(url) {
  const get = (key) => fetch(url, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } })
  const ok = await get(keys.reader)
  assert.equal(ok.status, 200)
  assert.deepEqual(Object.keys(await ok.json()).sort(), ['externalId', 'keyId'])
  const none = await get(undefined)
  assert.equal(none.status, 401)
  assert.match(none.headers.get('content-type'), /application\/json/)
  assert.equal((await none.json()).error.code, 'MISSING_KEY')
  const unknown = await get('sk_live_not_a_real_key_at_all_000')
  assert.equal(unknown.status, 401)
  assert.equal((await unknown.json()).error.code, 'NOT_FOUND')
  const forbidden = await get(keys.nobody)
  assert.equal(forbidden.status, 403)
  assert.equal((await forbidden.json()).error.code, 'INSUFFICIENT_PERMISSIONS')
}

test('express guard: 200 with req.keyshift, 401, 403, 429', async () => {
  const url = `${await listenExpress()}/docs`
  await exercise(url)
  const first = await fetch(url, { headers: { authorization: `Bearer ${keys.limited}` } })
  assert.equal(first.status, 200)
  const second = await fetch(url, { headers: { authorization: `Bearer ${keys.limited}` } })
  assert.equal(second.status, 429)
  assert.equal((await second.json()).error.code, 'RATE_LIMITED')
})

test('hono guard: 200 with c.get("keyshift"), 401, 403, 429', async () => {
  const url = await listenHono()
  await exercise(url)
  assert.equal((await fetch(url, { headers: { authorization: `Bearer ${keys.limitedHono}` } })).status, 200)
  const second = await fetch(url, { headers: { authorization: `Bearer ${keys.limitedHono}` } })
  assert.equal(second.status, 429)
  assert.equal((await second.json()).error.code, 'RATE_LIMITED')
})

test('guards load through the package exports (CommonJS)', () => {
  const require = createRequire(import.meta.url)
  assert.equal(typeof require('keyshift/express').requireKey, 'function')
  assert.equal(typeof require('keyshift/hono').requireKey, 'function')
})
