// createPortalSession (issue 16) against a real `keyshift serve`: the minted URL points at that
// server, printing the session hides its one-time code, and the code works exactly once through
// `portal.exchangeCode` over HTTP; the access token opens portal.getSession for the right end
// user and scopes. Bad scopes and unknown apis reject with KeyshiftError codes.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { Client, KeyshiftError, PortalSession } from '../index.mjs'
import { startServer, rejection } from './helpers.mjs'

let server
let client

before(async () => {
  server = await startServer()
  client = new Client({ baseUrl: server.baseUrl, rootKey: server.rootKey })
})
after(() => server?.stop())

async function post(op, body, token) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  const res = await fetch(`${server.baseUrl}/v2/${op}`, { method: 'POST', headers, body: JSON.stringify(body) })
  return { status: res.status, json: await res.json() }
}

test('createPortalSession: a URL on this server whose code opens the session once', async () => {
  const { apiId } = await client.createApi('node-portal')
  const session = await client.createPortalSession(apiId, 'user_node', ['keys:read', 'keys:create'], { returnUrl: 'https://app.example.com/keys' })
  assert.ok(session instanceof PortalSession)
  assert.match(session.id, /^ps_/)
  assert.ok(session.url.startsWith(`${server.baseUrl}/portal?code=pst_`), session.maskedUrl)
  const code = new URL(session.url).searchParams.get('code')
  for (const shown of [inspect(session), JSON.stringify(session), String(session), `${session}`, session.maskedUrl]) {
    assert.ok(!shown.includes(code), `code visible in: ${shown}`)
    assert.ok(shown.includes(session.id) || shown === session.maskedUrl)
  }

  const exchanged = await post('portal.exchangeCode', { code })
  assert.equal(exchanged.status, 200, JSON.stringify(exchanged.json))
  const token = exchanged.json.data.accessToken
  assert.match(token, /^pat_/)
  const got = await post('portal.getSession', {}, token)
  assert.equal(got.status, 200, JSON.stringify(got.json))
  assert.equal(got.json.data.sessionId, session.id)
  assert.equal(got.json.data.externalId, 'user_node')
  assert.deepEqual([...got.json.data.scopes].sort(), ['keys:create', 'keys:read'])
  assert.equal(got.json.data.portal.apiId, apiId)

  const again = await post('portal.exchangeCode', { code })
  assert.equal(again.status, 401)
  assert.equal(again.json.error.title, 'Unauthorized')
})

test('createPortalSession: unknown scope and unknown api reject with KeyshiftError', async () => {
  const { apiId } = await client.createApi('node-portal-errors')
  const bad = await rejection(() => client.createPortalSession(apiId, 'user_node', ['keys:everything']))
  assert.ok(bad instanceof KeyshiftError)
  assert.ok(['invalid_input', 'bad_request'].includes(bad.code), bad.code)
  assert.match(bad.message, /keys:everything/)
  const missing = await rejection(() => client.createPortalSession('api_doesnotexist', 'user_node', ['keys:read']))
  assert.equal(missing.code, 'not_found')
})
