// <keyshift-keys>: the keyshift self-service portal (issue 16) as one custom element.
//
// The page served at /portal is only <keyshift-keys> with no attribute: it talks to the same
// origin and uses the session cookie the server set when the portal link was opened. Another app
// embeds it with <keyshift-keys session-url="https://keys.example.com/portal?code=pst_…">: the
// element exchanges the one-time code at that origin (the answer sets the HttpOnly session
// cookie; credentials: 'include'), then uses the cookie. No framework, no build step, and nothing
// inline: styles come from portal.css through a <link> (the CSP allows no inline style/script).
//
// Events (bubbling, composed): keyshift-ready {session}, keyshift-key-created {keyId},
// keyshift-key-rerolled {keyId, oldKeyId}, keyshift-key-deleted {keyId}, keyshift-expired {}.
// The plaintext of a new key is never put in an event, an attribute, or anything but the
// read-only field of the one-time panel.

const GRACE_CHOICES = [
  [0, 'Revoke the old key now'],
  [3_600_000, 'Keep the old key for 1 hour'],
  [86_400_000, 'Keep the old key for 24 hours'],
  [7 * 86_400_000, 'Keep the old key for 7 days'],
]
const EXPIRY_CHOICES = [
  [0, 'Never'],
  [7 * 86_400_000, 'In 7 days'],
  [30 * 86_400_000, 'In 30 days'],
  [90 * 86_400_000, 'In 90 days'],
  [365 * 86_400_000, 'In 1 year'],
]
const ANALYTICS_WINDOW = 30 * 86_400_000
const PAGE_SIZE = 50

// A code is single use: exchange each one once per page, whatever reconnects the element.
const exchanges = new Map()

class PortalError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

let uid = 0
const nextId = (tag) => `ks-${tag}-${++uid}`

/** Creates an element: h('button', {class: 'x', type: 'button'}, 'text', child…). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value)
    else if (name === 'class') el.className = value
    else if (name in el && typeof value !== 'string') el[name] = value
    else el.setAttribute(name, value === true ? '' : value)
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return el
}

function formatDate(ms) {
  if (!ms) return null
  const d = new Date(ms)
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() },
    d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }))
}

function maskedKey(start) {
  return start ? `${start}…` : '…'
}

export class KeyshiftKeys extends HTMLElement {
  static get observedAttributes() {
    return ['session-url']
  }

  constructor() {
    super()
    this.attachShadow({ mode: 'open' })
    this._session = null
    this._keys = []
    this._cursor = null
    this._hasMore = false
    this._counts = new Map()
    this._loadToken = 0
  }

  connectedCallback() {
    if (!this._started) {
      this._started = true
      this._load()
    }
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (this._started && oldValue !== newValue) this._load()
  }

  /** The origin the portal routes live at: session-url's, else this page's. */
  get _origin() {
    const url = this.getAttribute('session-url')
    if (!url) return ''
    return new URL(url, document.baseURI).origin
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  async _call(op, body = {}, { mutating = false } = {}) {
    const headers = { 'content-type': 'application/json' }
    if (mutating && this._session) headers['x-keyshift-csrf'] = this._session.csrfToken
    let res
    try {
      res = await fetch(`${this._origin}/v2/portal.${op}`, {
        method: 'POST',
        headers,
        credentials: 'include',
        body: JSON.stringify(body),
      })
    } catch (e) {
      throw new PortalError(0, 'network', 'The key service could not be reached. Check your connection and try again.')
    }
    let json = null
    try {
      json = await res.json()
    } catch {
      json = null
    }
    if (!res.ok) {
      const err = json && json.error ? json.error : {}
      throw new PortalError(res.status, err.code || err.title || 'error', err.detail || err.title || `Request failed (${res.status}).`)
    }
    return json || {}
  }

  async _exchange(url) {
    const code = new URL(url, document.baseURI).searchParams.get('code')
    if (!code) return
    if (!exchanges.has(code)) {
      exchanges.set(code, this._call('exchangeCode', { code }).then(() => true, (e) => {
        // A used code after a reload is fine when the cookie from the first exchange still works.
        if (e.status === 401) return false
        exchanges.delete(code)
        throw e
      }))
    }
    await exchanges.get(code)
  }

  // ---- loading --------------------------------------------------------------------------------

  async _load() {
    const token = ++this._loadToken
    this._renderShell()
    this._setBusy(true)
    try {
      const url = this.getAttribute('session-url')
      if (url) await this._exchange(url)
      const session = (await this._call('getSession')).data
      if (token !== this._loadToken) return
      this._session = session
      this._keys = []
      this._cursor = null
      this._hasMore = false
      this._counts.clear()
      this._render()
      this._emit('keyshift-ready', { session: { externalId: session.externalId, scopes: session.scopes, expiresAt: session.expiresAt } })
      if (this._canList) await this._loadKeys()
    } catch (e) {
      if (token === this._loadToken) this._fail(e)
    } finally {
      if (token === this._loadToken) this._setBusy(false)
    }
  }

  async _loadKeys(more = false) {
    const body = { limit: PAGE_SIZE }
    if (more && this._cursor) body.cursor = this._cursor
    const res = await this._call('listKeys', body)
    const items = res.data || []
    this._keys = more ? this._keys.concat(items) : items
    this._cursor = res.pagination?.cursor || null
    this._hasMore = Boolean(res.pagination?.hasMore)
    this._renderKeys()
    if (this._has('analytics:read')) await this._loadCounts(items)
  }

  async _loadCounts(items) {
    const endTime = Date.now()
    const startTime = endTime - ANALYTICS_WINDOW
    await Promise.all(items.map(async (key) => {
      try {
        const res = await this._call('getVerifications', { startTime, endTime, keyId: key.keyId })
        const points = res.data || []
        let total = 0
        let valid = 0
        for (const p of points) {
          total += p.total || 0
          valid += p.valid || 0
        }
        this._counts.set(key.keyId, { total, valid })
      } catch (e) {
        if (e.status === 401) throw e
        this._counts.set(key.keyId, null)
      }
    }))
    this._renderKeys()
  }

  _has(scope) {
    return Boolean(this._session && this._session.scopes.includes(scope))
  }

  get _hasActions() {
    return ['keys:update', 'keys:reroll', 'keys:delete'].some((s) => this._has(s))
  }

  get _canList() {
    return Boolean(this._session && this._session.scopes.some((s) => s.startsWith('keys:')))
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }))
  }

  _setBusy(busy) {
    if (this._root) this._root.setAttribute('aria-busy', busy ? 'true' : 'false')
  }

  /** Announces a message in the polite live region (role=status). */
  _say(text) {
    if (!this._status) return
    this._status.textContent = ''
    // A fresh text node so screen readers re-announce a repeated message.
    requestAnimationFrame(() => { this._status.textContent = text })
  }

  _showError(e) {
    if (!this._alert) return
    this._alert.textContent = e instanceof PortalError ? e.message : 'Something went wrong. Try again.'
    this._alert.hidden = false
  }

  _clearError() {
    if (this._alert) {
      this._alert.hidden = true
      this._alert.textContent = ''
    }
  }

  _fail(e) {
    if (e instanceof PortalError && e.status === 401) {
      this._session = null
      this._renderExpired()
      this._emit('keyshift-expired', {})
      return
    }
    this._showError(e)
    if (!this._session && this._main) {
      const retry = h('button', { type: 'button', class: 'ks-button ks-secondary' }, 'Try again')
      retry.addEventListener('click', () => this._load())
      this._main.replaceChildren(h('div', { class: 'ks-actions ks-start' }, retry))
    }
  }

  /** Runs a mutating action: clears the error, disables `button`, shows failures. */
  async _act(button, fn) {
    this._clearError()
    if (button) button.disabled = true
    try {
      await fn()
    } catch (e) {
      this._fail(e)
    } finally {
      if (button && button.isConnected) button.disabled = false
    }
  }

  // ---- rendering ------------------------------------------------------------------------------

  _renderShell() {
    const link = h('link', { rel: 'stylesheet', href: `${this._origin}/portal/assets/portal.css` })
    this._status = h('p', { class: 'ks-sr-only', role: 'status', 'aria-live': 'polite' })
    this._alert = h('p', { class: 'ks-alert', role: 'alert', hidden: true })
    this._main = h('div', { class: 'ks-main' }, h('p', { class: 'ks-muted' }, 'Loading…'))
    this._root = h('div', { class: 'ks-root', 'aria-busy': 'true' }, this._status, this._alert, this._main)
    this.shadowRoot.replaceChildren(link, this._root)
  }

  _renderExpired() {
    const heading = h('h2', { tabindex: '-1' }, 'This session has expired')
    this._main.replaceChildren(h('section', { class: 'ks-card ks-expired', role: 'alert' },
      heading,
      h('p', {}, 'Your key management link has expired or you signed out. Go back to the application and open key management again to get a new link.')))
    this._clearError()
    heading.focus()
  }

  _render() {
    const s = this._session
    const portal = s.portal || {}
    const header = h('header', { class: 'ks-header' },
      h('div', {},
        h('h1', { class: 'ks-title' }, portal.name ? `${portal.name} — API keys` : 'API keys'),
        h('p', { class: 'ks-muted' }, 'Signed in as ', h('strong', {}, s.externalId),
          s.expiresAt ? ['. Session ends ', formatDate(s.expiresAt), '.'] : '')),
      h('button', { type: 'button', class: 'ks-button ks-secondary', onclick: (ev) => this._logout(ev.currentTarget) }, 'Sign out'))

    this._secretSlot = h('div', { class: 'ks-secret-slot' })
    const parts = [header, this._secretSlot]
    if (this._has('keys:create')) parts.push(this._renderCreateForm())
    if (this._canList) {
      this._keysSection = h('section', { class: 'ks-card', 'aria-labelledby': 'ks-keys-heading' })
      parts.push(this._keysSection)
      this._renderKeys()
    } else {
      parts.push(h('p', { class: 'ks-muted' }, 'This link does not allow viewing keys.'))
    }
    this._dialog = h('dialog', { class: 'ks-dialog' })
    this._dialog.addEventListener('close', () => {
      const back = this._dialogReturn
      this._dialogReturn = null
      if (back && back.isConnected) back.focus()
    })
    parts.push(this._dialog)
    this._main.replaceChildren(...parts)
  }

  _renderCreateForm() {
    const nameId = nextId('name')
    const expId = nextId('exp')
    const name = h('input', { id: nameId, name: 'name', type: 'text', required: true, maxlength: '200', autocomplete: 'off', class: 'ks-input' })
    const expiry = h('select', { id: expId, name: 'expires', class: 'ks-input' },
      EXPIRY_CHOICES.map(([ms, label]) => h('option', { value: String(ms) }, label)))
    const grantable = this._session.portal?.grantableScopes || []
    const perms = grantable.length
      ? h('fieldset', { class: 'ks-fieldset' },
        h('legend', {}, 'Permissions'),
        grantable.map((p) => {
          const id = nextId('perm')
          return h('div', { class: 'ks-check' },
            h('input', { type: 'checkbox', id, name: 'permissions', value: p }),
            h('label', { for: id }, p))
        }))
      : null
    const submit = h('button', { type: 'submit', class: 'ks-button' }, 'Create key')
    const form = h('form', { class: 'ks-card ks-create', 'aria-labelledby': 'ks-create-heading' },
      h('h2', { id: 'ks-create-heading' }, 'Create a key'),
      h('div', { class: 'ks-field' }, h('label', { for: nameId }, 'Name'), name),
      h('div', { class: 'ks-field' }, h('label', { for: expId }, 'Expires'), expiry),
      perms,
      h('div', { class: 'ks-actions' }, submit))
    form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      const body = { name: name.value.trim() }
      if (!body.name) {
        name.focus()
        return
      }
      const permissions = [...form.querySelectorAll('input[name="permissions"]:checked')].map((c) => c.value)
      if (permissions.length) body.permissions = permissions
      const ttl = Number(expiry.value)
      if (ttl > 0) body.expires = Date.now() + ttl
      this._act(submit, async () => {
        const res = await this._call('createKey', body, { mutating: true })
        form.reset()
        this._showSecret(res.data, `Key “${body.name}” created`)
        this._emit('keyshift-key-created', { keyId: res.data.keyId })
        this._say(`Key ${body.name} created.`)
        if (this._canList) await this._loadKeys()
      })
    })
    return form
  }

  /** The one-time plaintext panel: the key, a copy button, a warning. */
  _showSecret({ key, keyId }, title) {
    const fieldId = nextId('secret')
    const warnId = nextId('warn')
    const heading = h('h2', { tabindex: '-1' }, title)
    const field = h('input', { id: fieldId, type: 'text', readOnly: true, value: key, class: 'ks-input ks-mono', 'aria-describedby': warnId, spellcheck: 'false', autocomplete: 'off' })
    const copied = h('span', { class: 'ks-muted', 'aria-live': 'polite' })
    const copy = h('button', { type: 'button', class: 'ks-button' }, 'Copy')
    copy.addEventListener('click', async () => {
      const ok = await copyText(field)
      copied.textContent = ok ? 'Copied to the clipboard.' : 'Copy failed: select the key and copy it by hand.'
    })
    const done = h('button', { type: 'button', class: 'ks-button ks-secondary' }, 'I have saved it')
    const panel = h('section', { class: 'ks-card ks-secret', 'data-key-id': keyId },
      heading,
      h('p', { id: warnId, class: 'ks-warning' },
        h('strong', {}, 'Copy this key now. '),
        'It is shown only this once and cannot be recovered: if you lose it, reroll or delete the key and create a new one.'),
      h('div', { class: 'ks-field' },
        h('label', { for: fieldId }, 'Your new key'),
        h('div', { class: 'ks-copy-row' }, field, copy)),
      h('div', { class: 'ks-actions' }, copied, done))
    done.addEventListener('click', () => {
      field.value = ''
      panel.remove()
      const first = this._keysSection?.querySelector('h2')
      if (first) first.focus()
    })
    this._secretSlot.replaceChildren(panel)
    heading.focus()
  }

  _renderKeys() {
    if (!this._keysSection) return
    const analytics = this._has('analytics:read')
    const heading = h('h2', { id: 'ks-keys-heading', tabindex: '-1' }, 'Your keys')
    if (!this._keys.length) {
      this._keysSection.replaceChildren(heading, h('p', { class: 'ks-muted ks-empty' }, 'You have no keys yet.'))
      return
    }
    const cols = ['Name', 'Key', 'Created', 'Last used', 'Credits', 'Expires']
    if (analytics) cols.push('Verifications (30 days)')
    if (this._hasActions) cols.push('Actions')
    const table = h('table', { class: 'ks-table' },
      h('caption', { class: 'ks-sr-only' }, 'Your API keys'),
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, this._keys.map((k) => this._renderRow(k, analytics))))
    const parts = [heading, h('div', { class: 'ks-table-wrap' }, table)]
    if (this._hasMore) {
      const more = h('button', { type: 'button', class: 'ks-button ks-secondary' }, 'Show more keys')
      more.addEventListener('click', () => this._act(more, () => this._loadKeys(true)))
      parts.push(h('div', { class: 'ks-actions' }, more))
    }
    this._keysSection.replaceChildren(...parts)
  }

  _renderRow(k, analytics) {
    const label = k.name || k.keyId
    const cell = (title, ...content) => h('td', { 'data-label': title }, ...content)
    const dash = h('span', { class: 'ks-muted' }, '—')
    const credits = k.credits && k.credits.remaining !== undefined && k.credits.remaining !== null
      ? String(k.credits.remaining)
      : 'Unlimited'
    const nameCell = h('td', { 'data-label': 'Name', class: 'ks-name' }, h('span', { class: 'ks-key-name' }, label))
    const actions = []
    if (this._has('keys:update')) {
      actions.push(h('button', { type: 'button', class: 'ks-button ks-small ks-secondary', 'aria-label': `Rename ${label}`, onclick: (ev) => this._startRename(k, nameCell, ev.currentTarget) }, 'Rename'))
    }
    if (this._has('keys:reroll')) {
      actions.push(h('button', { type: 'button', class: 'ks-button ks-small ks-secondary', 'aria-label': `Reroll ${label}`, onclick: (ev) => this._confirmReroll(k, ev.currentTarget) }, 'Reroll'))
    }
    if (this._has('keys:delete')) {
      actions.push(h('button', { type: 'button', class: 'ks-button ks-small ks-danger', 'aria-label': `Delete ${label}`, onclick: (ev) => this._confirmDelete(k, ev.currentTarget) }, 'Delete'))
    }
    const cells = [
      nameCell,
      cell('Key', h('code', { class: 'ks-mono' }, maskedKey(k.start))),
      cell('Created', formatDate(k.createdAt) || dash.cloneNode(true)),
      cell('Last used', formatDate(k.lastUsedAt) || h('span', { class: 'ks-muted' }, 'Never or unknown')),
      cell('Credits', credits),
      cell('Expires', !k.expires
        ? 'Never'
        : k.expires <= Date.now()
          ? h('span', { class: 'ks-expired-badge' }, 'Expired ', formatDate(k.expires))
          : formatDate(k.expires)),
    ]
    if (analytics) {
      const c = this._counts.get(k.keyId)
      cells.push(cell('Verifications (30 days)', c === undefined
        ? h('span', { class: 'ks-muted' }, '…')
        : c === null
          ? dash.cloneNode(true)
          : h('span', { class: 'ks-count', title: `${c.valid} valid of ${c.total}` }, `${c.total} (${c.valid} valid)`)))
    }
    if (actions.length) cells.push(h('td', { 'data-label': 'Actions' }, h('div', { class: 'ks-row-actions' }, actions)))
    return h('tr', { 'data-key-id': k.keyId }, cells)
  }

  _startRename(k, nameCell, button) {
    const id = nextId('rename')
    const input = h('input', { id, type: 'text', value: k.name || '', required: true, maxlength: '200', class: 'ks-input', autocomplete: 'off' })
    const save = h('button', { type: 'submit', class: 'ks-button ks-small' }, 'Save')
    const cancel = h('button', { type: 'button', class: 'ks-button ks-small ks-secondary' }, 'Cancel')
    const form = h('form', { class: 'ks-rename' },
      h('label', { for: id, class: 'ks-sr-only' }, `New name for ${k.name || k.keyId}`), input, save, cancel)
    const restore = () => {
      this._renderKeys()
      const again = this._keysSection.querySelector(`tr[data-key-id="${CSS.escape(k.keyId)}"] button[aria-label^="Rename"]`)
      if (again) again.focus()
    }
    cancel.addEventListener('click', restore)
    form.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault()
        restore()
      }
    })
    form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      const name = input.value.trim()
      if (!name) {
        input.focus()
        return
      }
      this._act(save, async () => {
        await this._call('updateKey', { keyId: k.keyId, name }, { mutating: true })
        k.name = name
        this._say(`Key renamed to ${name}.`)
        restore()
      })
    })
    nameCell.replaceChildren(form)
    button.disabled = true
    input.focus()
    input.select()
  }

  /** Opens the shared <dialog> with `content`; `onConfirm` runs on the confirm button. */
  _openDialog(opener, title, content, confirmLabel, danger, onConfirm) {
    const titleId = nextId('dlg')
    const cancel = h('button', { type: 'button', class: 'ks-button ks-secondary' }, 'Cancel')
    const confirm = h('button', { type: 'submit', class: `ks-button${danger ? ' ks-danger' : ''}` }, confirmLabel)
    const form = h('form', { method: 'dialog' },
      h('h2', { id: titleId }, title),
      content,
      h('div', { class: 'ks-actions' }, cancel, confirm))
    cancel.addEventListener('click', () => this._dialog.close())
    form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      this._act(confirm, async () => {
        await onConfirm()
        if (this._dialog.open) this._dialog.close()
      })
    })
    this._dialog.setAttribute('aria-labelledby', titleId)
    this._dialog.replaceChildren(form)
    this._dialogReturn = opener
    this._dialog.showModal()
    // showModal focuses the first focusable element; a destructive dialog starts on Cancel.
    cancel.focus()
  }

  _confirmReroll(k, opener) {
    const label = k.name || k.keyId
    const selId = nextId('grace')
    const select = h('select', { id: selId, class: 'ks-input' },
      GRACE_CHOICES.map(([ms, text]) => h('option', { value: String(ms) }, text)))
    const content = h('div', {},
      h('p', {}, `Rerolling makes a new key with the same settings as “${label}”. The new key is shown once.`),
      h('div', { class: 'ks-field' }, h('label', { for: selId }, 'Old key'), select))
    this._openDialog(opener, `Reroll “${label}”?`, content, 'Reroll key', false, async () => {
      const res = await this._call('rerollKey', { keyId: k.keyId, expiration: Number(select.value) }, { mutating: true })
      this._dialogReturn = null
      this._dialog.close()
      this._showSecret(res.data, `Key “${label}” rerolled`)
      this._emit('keyshift-key-rerolled', { keyId: res.data.keyId, oldKeyId: k.keyId })
      this._say(`Key ${label} rerolled.`)
      await this._loadKeys()
    })
  }

  _confirmDelete(k, opener) {
    const label = k.name || k.keyId
    const content = h('p', {}, `Anything using “${label}” (${maskedKey(k.start)}) stops working at once. This cannot be undone.`)
    this._openDialog(opener, `Delete “${label}”?`, content, 'Delete key', true, async () => {
      await this._call('deleteKey', { keyId: k.keyId }, { mutating: true })
      this._dialogReturn = null
      this._dialog.close()
      this._emit('keyshift-key-deleted', { keyId: k.keyId })
      this._say(`Key ${label} deleted.`)
      await this._loadKeys()
      this._keysSection?.querySelector('h2')?.focus()
    })
  }

  async _logout(button) {
    await this._act(button, async () => {
      await this._call('logout', {}, { mutating: true })
      this._session = null
      this._renderExpired()
      this._emit('keyshift-expired', {})
    })
  }
}

/** Copies the value of `field`: the async clipboard API, else a selection and execCommand. */
async function copyText(field) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(field.value)
      return true
    }
  } catch {
    // fall through to the selection fallback
  }
  try {
    field.focus()
    field.select()
    return document.execCommand('copy')
  } catch {
    return false
  }
}

if (!customElements.get('keyshift-keys')) customElements.define('keyshift-keys', KeyshiftKeys)
