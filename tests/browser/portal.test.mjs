// The self-service portal (issue 16) in a real browser: Debian's Chromium driven by
// playwright-core against a real `keyshift serve` (debug build, temp SQLite, loopback port).
// A backend mints a session with its root key, the end user opens the URL, creates a key and
// copies it; the key is verified over the API; then rename, reroll, delete; a second end user
// sees none of the first one's keys; revoked, used and signed-out sessions are refused; the
// page at phone width; and <keyshift-keys session-url=…> embedded in a page of another origin.
// Screenshots of every step land in tests/browser/output/ (gitignored).
//
// Environment: KEYSHIFT_BIN (default target/debug/keyshift), CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { rmSync, mkdirSync, readFileSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { startServer } from '../../bindings-node/test/helpers.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO = resolve(HERE, '..', '..')
const OUT = join(HERE, 'output')
const ELEMENT_JS = join(REPO, 'server', 'portal', 'keyshift-keys.js')
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const GRANTABLE = ['profile.read', 'profile.write']
const ALL_SCOPES = ['keys:read', 'keys:create', 'keys:update', 'keys:reroll', 'keys:delete']
const EXPIRED_TEXT = /This session has expired/

let server // {baseUrl, rootKey, stop}
let embed // {origin, close}
let stranger // a static server on an origin NOT in --portal-origin
let browser
let apiId
let shot = 0

// ---- processes (keyshift serve: the Node binding's test helper, which needs no built addon) ----

/**
 * A plain static site on its own loopback port: /element.js is the npm package's file
 * (server/portal/keyshift-keys.js, as a bundler would serve it) and /embed.html?url=… a page
 * that drops <keyshift-keys session-url="…"> in.
 */
async function startEmbedSite() {
  const srv = createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    if (url.pathname === '/element.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
      res.end(readFileSync(ELEMENT_JS))
      return
    }
    if (url.pathname === '/embed.html') {
      const sessionUrl = (url.searchParams.get('url') || '').replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script type="module" src="/element.js"></script></head>
<body><h1>Acme dashboard</h1><p>Your API keys, managed by keyshift:</p>
<keyshift-keys session-url="${sessionUrl}"></keyshift-keys></body></html>`)
      return
    }
    res.writeHead(404).end()
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  return { origin: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) }
}

// ---- HTTP API (the backend's side, root key) ---------------------------------------------------

async function api(op, body, { token = server.rootKey } = {}) {
  const res = await fetch(`${server.baseUrl}/v2/${op}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  })
  const json = await res.json()
  return { status: res.status, json }
}

async function ok(op, body) {
  const { status, json } = await api(op, body)
  assert.equal(status, 200, `${op}: ${status} ${JSON.stringify(json)}`)
  return json.data
}

async function mintSession(externalId, scopes = ALL_SCOPES) {
  const data = await ok('portal.createSession', { portal: apiId, externalId, scopes })
  assert.match(data.id, /^ps_/)
  assert.match(data.url, /\/portal\?code=pst_/)
  assert.ok(data.url.startsWith(`${server.baseUrl}/portal?`), `session url on this server: ${data.url.replace(/code=.*/, 'code=…')}`)
  return data
}

async function verify(key) {
  return ok('keys.verifyKey', { key })
}

// ---- browser helpers ---------------------------------------------------------------------------

async function newPage({ width = 1100, height = 800, clipboardOrigin } = {}) {
  const context = await browser.newContext({ viewport: { width, height } })
  if (clipboardOrigin) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: clipboardOrigin })
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) errors.push(m.text()) })
  page.errors = errors
  return { context, page }
}

async function screenshot(page, name) {
  shot += 1
  await page.screenshot({ path: join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true })
}

/** The end of a page's test: a last screenshot (when named), no page errors, the context closed. */
async function finish(page, context, shotName) {
  if (shotName) await screenshot(page, shotName)
  assert.deepEqual(page.errors, [])
  await context.close()
}

const row = (page, name) => page.locator('keyshift-keys tr', { hasText: name })

/** The one-time panel's key: clicks Copy and reads the clipboard, checks it equals the field. */
async function copyShownKey(page) {
  const field = page.getByLabel('Your new key')
  await field.waitFor()
  const shown = await field.inputValue()
  await page.getByRole('button', { name: 'Copy', exact: true }).click()
  await page.getByText('Copied to the clipboard.').waitFor()
  const copied = await page.evaluate(() => navigator.clipboard.readText())
  assert.equal(copied, shown, 'the clipboard holds the key shown')
  return copied
}

// ---- setup -------------------------------------------------------------------------------------

before(async () => {
  rmSync(OUT, { recursive: true, force: true })
  mkdirSync(OUT, { recursive: true })
  embed = await startEmbedSite()
  stranger = await startEmbedSite()
  server = await startServer(['--portal-origin', embed.origin])
  // playwright-core gives every launch a fresh, empty --user-data-dir of its own.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
  ;({ apiId } = await ok('apis.createApi', { name: 'acme-api' }))
  for (const slug of GRANTABLE) await ok('permissions.createPermission', { name: slug, slug })
  const portal = await ok('portal.updatePortal', { portal: apiId, name: 'Acme', grantableScopes: GRANTABLE })
  assert.deepEqual(portal.grantableScopes, GRANTABLE)
})

after(async () => {
  await browser?.close()
  await server?.stop()
  await embed?.close()
  await stranger?.close()
})

// ---- tests -------------------------------------------------------------------------------------

test('end user A: open the minted URL, create and copy a key, verify it, rename, reroll, delete; B sees none of A\'s keys', async () => {
  const session = await mintSession('user_a', [...ALL_SCOPES])
  const { context, page } = await newPage({ clipboardOrigin: server.baseUrl })

  // The link: the code is exchanged, the cookie set, and the address bar loses the code.
  const nav = await page.goto(session.url)
  assert.equal(nav.status(), 200)
  assert.equal(page.url(), `${server.baseUrl}/portal`)
  const cookies = await context.cookies(server.baseUrl)
  const cookie = cookies.find((c) => c.name === 'keyshift_portal')
  assert.ok(cookie, 'session cookie set')
  assert.equal(cookie.httpOnly, true)
  assert.equal(cookie.sameSite, 'Strict')
  await page.getByRole('heading', { name: 'Acme — API keys' }).waitFor()
  await page.getByText('user_a', { exact: true }).waitFor()
  await page.getByText('You have no keys yet.').waitFor()
  await screenshot(page, 'a-opened-empty')

  // Create: name + one grantable permission, by keyboard.
  await page.getByLabel('Name', { exact: true }).fill('ci key')
  const perms = page.getByRole('group', { name: 'Permissions' })
  assert.deepEqual(await perms.getByRole('checkbox').evaluateAll((els) => els.map((e) => e.value)), GRANTABLE)
  await perms.getByLabel('profile.read').check()
  await page.getByLabel('Name', { exact: true }).press('Enter')
  await page.getByText('It is shown only this once').waitFor()
  // Focus moved to the one-time panel's heading.
  assert.equal(await page.evaluate(() => document.querySelector('keyshift-keys').shadowRoot.activeElement?.textContent), 'Key “ci key” created')
  const plaintext = await copyShownKey(page)
  await row(page, 'ci key').waitFor()
  await screenshot(page, 'a-created-copied')

  // The copied key works over the API, for user_a, with the permission chosen.
  const v = await verify(plaintext)
  assert.equal(v.valid, true, JSON.stringify(v))
  assert.equal(v.identity?.externalId, 'user_a')
  assert.deepEqual(v.permissions, ['profile.read'])
  const keyId = v.keyId
  // The list shows only the masked start, never the plaintext.
  const rowText = await row(page, 'ci key').innerText()
  const start = (await ok('keys.getKey', { keyId })).start
  assert.ok(rowText.includes(`${start}…`), rowText)
  await page.getByRole('button', { name: 'I have saved it' }).click()
  assert.equal(await page.getByLabel('Your new key').count(), 0)
  assert.ok(!(await page.content()).includes(plaintext))
  assert.ok(!(await page.evaluate(() => document.querySelector('keyshift-keys').shadowRoot.innerHTML)).includes(plaintext))

  // Rename inline (Escape cancels and returns focus; Enter saves).
  await page.getByRole('button', { name: 'Rename ci key' }).click()
  const renameField = page.getByLabel('New name for ci key')
  await renameField.press('Escape')
  assert.equal(await renameField.count(), 0)
  assert.equal(await page.evaluate(() => document.querySelector('keyshift-keys').shadowRoot.activeElement?.getAttribute('aria-label')), 'Rename ci key')
  await page.getByRole('button', { name: 'Rename ci key' }).click()
  await page.getByLabel('New name for ci key').fill('renamed key')
  await page.getByLabel('New name for ci key').press('Enter')
  await row(page, 'renamed key').waitFor()
  await page.getByRole('button', { name: 'Rename renamed key' }).waitFor()
  assert.equal((await ok('keys.getKey', { keyId })).name, 'renamed key')
  await screenshot(page, 'a-renamed')

  // Reroll with no grace period: the old key stops at once, the new one works.
  await page.getByRole('button', { name: 'Reroll renamed key' }).click()
  const dialog = page.getByRole('dialog')
  await dialog.waitFor()
  await dialog.getByLabel('Old key').selectOption('0')
  await screenshot(page, 'a-reroll-dialog')
  await dialog.getByRole('button', { name: 'Reroll key' }).click()
  const rerolled = await copyShownKey(page)
  assert.notEqual(rerolled, plaintext)
  await screenshot(page, 'a-rerolled')
  const vNew = await verify(rerolled)
  assert.equal(vNew.valid, true, JSON.stringify(vNew))
  assert.notEqual(vNew.keyId, keyId)
  assert.equal(vNew.identity?.externalId, 'user_a')
  const vOld = await verify(plaintext)
  assert.equal(vOld.valid, false, JSON.stringify(vOld))
  await page.getByRole('button', { name: 'I have saved it' }).click()
  await page.locator(`keyshift-keys tr[data-key-id="${vNew.keyId}"]`).waitFor()
  // The old key (revoked at once) is listed as expired until the end user deletes it.
  assert.match(await page.locator(`keyshift-keys tr[data-key-id="${keyId}"] td[data-label="Expires"]`).innerText(), /^Expired/)

  // End user B: a session of their own sees none of A's keys, and A's key id is "absent".
  const sessionB = await mintSession('user_b')
  const b = await newPage()
  await b.page.goto(sessionB.url)
  await b.page.getByText('user_b', { exact: true }).waitFor()
  await b.page.getByText('You have no keys yet.').waitFor()
  assert.equal(await b.page.locator('keyshift-keys tbody tr').count(), 0)
  const bDelete = await b.page.evaluate(async (id) => {
    const s = await (await fetch('/v2/portal.getSession', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()
    const r = await fetch('/v2/portal.deleteKey', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-keyshift-csrf': s.data.csrfToken },
      body: JSON.stringify({ keyId: id }),
    })
    return r.status
  }, vNew.keyId)
  assert.equal(bDelete, 404)
  assert.equal((await verify(rerolled)).valid, true)
  await screenshot(b.page, 'b-sees-no-keys')
  await b.context.close()

  // A mutating call without the CSRF token is refused even with the cookie.
  const noCsrf = await page.evaluate(async (id) => (await fetch('/v2/portal.deleteKey', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keyId: id }),
  })).status, vNew.keyId)
  assert.equal(noCsrf, 403)

  // Delete, with a confirmation dialog: Escape cancels (focus back on Delete), then confirm.
  const newRow = page.locator(`keyshift-keys tr[data-key-id="${vNew.keyId}"]`)
  const del = newRow.getByRole('button', { name: 'Delete renamed key' })
  await del.click()
  await dialog.getByRole('button', { name: 'Delete key' }).waitFor()
  await screenshot(page, 'a-delete-dialog')
  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'hidden' })
  assert.deepEqual(await page.evaluate(() => {
    const el = document.querySelector('keyshift-keys').shadowRoot.activeElement
    return [el?.getAttribute('aria-label'), el?.closest('tr')?.dataset.keyId]
  }), ['Delete renamed key', vNew.keyId])
  assert.equal((await verify(rerolled)).valid, true, 'cancel deleted nothing')
  await del.click()
  await dialog.getByRole('button', { name: 'Delete key' }).click()
  await newRow.waitFor({ state: 'detached' })
  assert.equal((await verify(rerolled)).valid, false)
  // And the expired old key too: the list is empty.
  await page.locator(`keyshift-keys tr[data-key-id="${keyId}"]`).getByRole('button', { name: /^Delete/ }).click()
  await dialog.getByRole('button', { name: 'Delete key' }).click()
  await page.getByText('You have no keys yet.').waitFor()
  await screenshot(page, 'a-deleted')

  // The backend revokes the session: the page now says it expired.
  await ok('portal.revokeSession', { sessionId: session.id })
  await page.reload()
  await page.getByText(EXPIRED_TEXT).waitFor()
  await finish(page, context, 'a-revoked-expired')
})

test('a used or unknown link is refused with the expired page; Sign out ends the session', async () => {
  const session = await mintSession('user_c', ['keys:read'])
  const { context, page } = await newPage()
  await page.goto(session.url)
  await page.getByText('user_c', { exact: true }).waitFor()
  // Read-only: no create form, no row actions.
  assert.equal(await page.getByLabel('Name', { exact: true }).count(), 0)

  // The same link a second time (another browser): the code is single use.
  const other = await newPage()
  const again = await other.page.goto(session.url)
  assert.equal(again.status(), 401)
  assert.match(await other.page.content(), /expired/i)
  await screenshot(other.page, 'used-link-refused')
  const bogus = await other.page.goto(`${server.baseUrl}/portal?code=pst_notarealcode`)
  assert.equal(bogus.status(), 401)
  // And the page without a session shows the expired message.
  await other.page.goto(`${server.baseUrl}/portal`)
  await other.page.getByText(EXPIRED_TEXT).waitFor()
  await other.context.close()

  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByText(EXPIRED_TEXT).waitFor()
  await page.reload()
  await page.getByText(EXPIRED_TEXT).waitFor()
  await finish(page, context, 'signed-out')
})

test('phone width (360 px): no horizontal scrolling, keys as labelled cards, dialogs fit', async () => {
  const session = await mintSession('user_phone')
  for (const name of ['phone key one', 'phone key two']) {
    await ok('keys.createKey', { apiId, name, externalId: 'user_phone', credits: { remaining: 100 } })
  }
  const { context, page } = await newPage({ width: 360, height: 740 })
  await page.goto(session.url)
  await row(page, 'phone key two').waitFor()
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }))
  assert.ok(widths.scroll <= widths.client, `no horizontal overflow: ${JSON.stringify(widths)}`)
  // The cell labels come from CSS at this width (the table header is visually hidden).
  const label = await page.locator('keyshift-keys td[data-label="Credits"]').first().evaluate((td) => getComputedStyle(td, '::before').content)
  assert.equal(label, '"Credits"')
  assert.match(await row(page, 'phone key one').innerText(), /100/)
  await screenshot(page, 'phone-list')
  await page.getByRole('button', { name: 'Delete phone key one' }).click()
  const box = await page.getByRole('dialog').boundingBox()
  assert.ok(box.x >= 0 && box.x + box.width <= 360, `dialog fits: ${JSON.stringify(box)}`)
  await finish(page, context, 'phone-delete-dialog')
})

test('analytics:read adds per-key verification counts: one valid and one refused verification show as 2 (1 valid)', async () => {
  const { keyId, key } = await ok('keys.createKey', { apiId, name: 'counted key', externalId: 'user_stats', permissions: ['profile.read'] })
  assert.equal((await verify(key)).valid, true)
  const denied = await ok('keys.verifyKey', { key, permissions: 'profile.write' })
  assert.equal(denied.valid, false)
  const session = await mintSession('user_stats', ['keys:read', 'analytics:read'])
  const { context, page } = await newPage()
  await page.goto(session.url)
  await page.getByRole('columnheader', { name: 'Verifications (30 days)' }).waitFor()
  const cell = page.locator(`keyshift-keys tr[data-key-id="${keyId}"] td[data-label="Verifications (30 days)"]`)
  await page.waitForFunction((id) => {
    const td = document.querySelector('keyshift-keys').shadowRoot.querySelector(`tr[data-key-id="${id}"] td[data-label^="Verifications"]`)
    return td && td.textContent !== '…'
  }, keyId)
  // What the route itself says for this key, with the page's own session cookie.
  const answer = await page.evaluate(async (id) => {
    const end = Date.now()
    const r = await fetch('/v2/portal.getVerifications', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ startTime: end - 30 * 86400000, endTime: end, keyId: id }),
    })
    return { status: r.status, body: await r.json() }
  }, keyId)
  assert.equal(answer.status, 200, JSON.stringify(answer.body))
  const total = answer.body.data.reduce((n, p) => n + p.total, 0)
  const valid = answer.body.data.reduce((n, p) => n + p.valid, 0)
  assert.deepEqual([total, valid], [2, 1], JSON.stringify(answer.body.data))
  assert.equal(await cell.innerText(), '2 (1 valid)')
  // Read-only session: no create form, no row actions.
  assert.equal(await page.getByRole('button', { name: /^(Rename|Reroll|Delete) / }).count(), 0)
  await finish(page, context, 'analytics-counts')
})

test('embedded: <keyshift-keys session-url> on another origin listed in --portal-origin works; an unlisted origin gets nothing', async () => {
  const session = await mintSession('user_embed')
  const { context, page } = await newPage()
  await page.goto(`${embed.origin}/embed.html?url=${encodeURIComponent(session.url)}`)
  await page.getByRole('heading', { name: 'Acme dashboard' }).waitFor()
  await page.getByText('user_embed', { exact: true }).waitFor()
  await page.getByLabel('Name', { exact: true }).fill('embedded key')
  await page.getByRole('button', { name: 'Create key' }).click()
  const field = page.getByLabel('Your new key')
  await field.waitFor()
  const key = await field.inputValue()
  const v = await verify(key)
  assert.equal(v.valid, true)
  assert.equal(v.identity?.externalId, 'user_embed')
  await row(page, 'embedded key').waitFor()
  await screenshot(page, 'embed-created')
  await page.getByRole('button', { name: 'Delete embedded key' }).click()
  await page.getByRole('dialog').getByRole('button', { name: 'Delete key' }).click()
  await page.getByText('You have no keys yet.').waitFor()
  assert.equal((await verify(key)).valid, false)
  await finish(page, context)

  // The same element on an origin the server does not list: CORS refuses, nothing is shown.
  const session2 = await mintSession('user_embed')
  const s = await newPage()
  await s.page.goto(`${stranger.origin}/embed.html?url=${encodeURIComponent(session2.url)}`)
  await s.page.locator('keyshift-keys .ks-alert').filter({ hasText: /could not be reached/ }).waitFor()
  assert.equal(await s.page.getByText('user_embed', { exact: true }).count(), 0)
  await s.page.getByRole('button', { name: 'Try again' }).waitFor()
  await screenshot(s.page, 'embed-unlisted-origin-refused')
  await s.context.close()
})

test('a session past its lifetime (--portal-session-ttl 2) is refused: the page shows the expired message, the API answers 401', async () => {
  const short = await startServer(['--portal-session-ttl', '2'])
  try {
    const call = async (op, body, token = short.rootKey) => {
      const res = await fetch(`${short.baseUrl}/v2/${op}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      })
      return { status: res.status, json: await res.json() }
    }
    const created = await call('apis.createApi', { name: 'short-lived' })
    assert.equal(created.status, 200)
    const mint = async () => {
      const { status, json } = await call('portal.createSession', { portal: created.json.data.apiId, externalId: 'user_ttl', scopes: ['keys:read'] })
      assert.equal(status, 200)
      return json.data
    }
    // The browser: the page works while the session lives, then shows the expired message.
    const { context, page } = await newPage()
    await page.goto((await mint()).url)
    await page.getByText('user_ttl', { exact: true }).waitFor()
    // An API client of the same kind of session: its access token works now ...
    const code = new URL((await mint()).url).searchParams.get('code')
    const exchanged = await call('portal.exchangeCode', { code })
    assert.equal(exchanged.status, 200)
    const token = exchanged.json.data.accessToken
    assert.ok(exchanged.json.data.expiresAt - Date.now() <= 2_000, 'the answer says when it expires')
    assert.equal((await call('portal.getSession', {}, token)).status, 200)
    // ... and is refused once the lifetime has passed (the server's clock decides, not the cookie).
    await new Promise((r) => setTimeout(r, 2_500))
    const late = await call('portal.getSession', {}, token)
    assert.equal(late.status, 401, JSON.stringify(late.json))
    await page.reload()
    await page.getByText(EXPIRED_TEXT).waitFor()
    await finish(page, context, 'session-lifetime-passed')
  } finally {
    await short.stop()
  }
})
