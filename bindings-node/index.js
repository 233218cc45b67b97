'use strict'
// keyshift for Node: the public API over the generated native binding (binding.js).
// This file only adapts shapes: option objects travel as JSON text, callbacks are made to
// answer Promises, iterables are handed to the native side a batch at a time, and lists are
// async iterables. Every behaviour lives in Rust core.

const { inspect } = require('node:util')
const native = require('./binding.js')

/** Every keyshift failure; `code` is one of DESIGN §5's strings. */
class KeyshiftError extends Error {
  constructor(message) {
    super(message)
    this.code = 'io'
    this.status = undefined
    this.requestId = undefined
    this.field = undefined
    this.retryAfter = undefined
    this.record = undefined
  }
}
Object.defineProperty(KeyshiftError.prototype, 'name', { value: 'KeyshiftError', writable: true, configurable: true })
native.registerErrorClass(KeyshiftError)

const json = (value) => (value === undefined || value === null ? undefined : JSON.stringify(value))
const keyOnly = (v) => (v == null ? undefined : v)

// A plaintext key never shows up in util.inspect / JSON.stringify / String().
const { CreatedKey } = native
CreatedKey.prototype[inspect.custom] = function () {
  return `CreatedKey { keyId: '${this.keyId}', masked: '${this.masked}' }`
}
CreatedKey.prototype.toJSON = function () {
  return { keyId: this.keyId, masked: this.masked }
}

// Nor the one-time code of a portal session's URL.
const { PortalSession } = native
PortalSession.prototype[inspect.custom] = function () {
  return `PortalSession { id: '${this.id}', url: '${this.maskedUrl}' }`
}
PortalSession.prototype.toJSON = function () {
  return { id: this.id, url: this.maskedUrl }
}

/** The keys of hashKeys as JSON text: one string crosses N-API instead of one per key. */
function keysJson(keys) {
  if (!Array.isArray(keys)) throw new TypeError('keys must be an array of strings')
  return JSON.stringify(keys)
}

/** Wraps any callback so that it answers a Promise (a sync throw becomes a rejection). */
const promising = (fn) => (arg) => {
  try {
    return Promise.resolve(fn(arg))
  } catch (e) {
    return Promise.reject(e)
  }
}

/** Pulls `size` records at a time from any (async) iterable, as JSON array text. */
function batches(source, size) {
  const it = source[Symbol.asyncIterator] ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()
  let done = false
  return async () => {
    if (done) return null
    const out = []
    while (out.length < size) {
      const r = await it.next()
      if (r.done) {
        done = true
        break
      }
      out.push(r.value)
    }
    return out.length ? JSON.stringify(out) : null
  }
}

function cancelToken(signal) {
  if (!signal) return undefined
  const token = new native.CancelToken()
  if (signal.aborted) token.cancel()
  else signal.addEventListener('abort', () => token.cancel(), { once: true })
  return token
}

/** Carries an already built native client into the constructor (Client.local). */
const NATIVE = Symbol('keyshift.native')

/** A key service client: HTTP (`new Client({...})`) or in-process (`Client.local(path)`). */
class Client {
  #native
  constructor(options = {}) {
    this.#native = options?.[NATIVE] ?? new native.NativeClient(json(options))
  }

  /** `KEYSHIFT_BASE_URL` and `KEYSHIFT_ROOT_KEY` (or `UNKEY_ROOT_KEY`): `new Client()`. */
  static fromEnv() {
    return new Client()
  }

  /** The embedded engine on the SQLite file `path`: no server, no root key. */
  static local(path) {
    return new Client({ [NATIVE]: native.NativeClient.local(path) })
  }

  toString() {
    return this.#native.toString()
  }

  [inspect.custom]() {
    return this.#native.toString()
  }

  // ----- apis -----
  createApi(name) { return this.#native.createApi(name) }
  getApi(apiId) { return this.#native.getApi(apiId) }
  deleteApi(apiId) { return this.#native.deleteApi(apiId).then(() => undefined) }

  /** Every key of an api, fetched a page at a time. */
  async *listKeys(apiId) {
    const pager = this.#native.keysPager(apiId)
    for (let page = await pager.nextPage(); page !== null; page = await pager.nextPage()) yield* page
  }

  /** One page of `apis.listKeys`. */
  listKeysPage(apiId, options = {}) {
    return this.#native.listKeysPage(JSON.stringify({ ...options, apiId }))
  }

  // ----- keys -----
  createApiKey(options) { return this.#native.createApiKey(JSON.stringify(options ?? {})) }
  verify(key, options) { return this.#native.verify(key, json(options)) }
  whoami(key) { return this.#native.whoami(key) }
  getKey(keyId) { return this.#native.getKey(keyId) }
  updateKey(keyId, patch = {}) {
    return this.#native.updateKey(JSON.stringify({ ...patch, keyId })).then(() => undefined)
  }
  deleteKey(keyId, options = {}) {
    return this.#native.deleteKey(keyId, keyOnly(options.permanent)).then(() => undefined)
  }
  rerollKey(keyId, expirationMs = 0) { return this.#native.rerollKey(keyId, expirationMs) }
  updateCredits(keyId, operation, value) { return this.#native.updateCredits(keyId, operation, keyOnly(value)) }
  addPermissions(keyId, permissions) { return this.#native.addPermissions(keyId, permissions) }
  removePermissions(keyId, permissions) { return this.#native.removePermissions(keyId, permissions) }
  setPermissions(keyId, permissions) { return this.#native.setPermissions(keyId, permissions) }
  addRoles(keyId, roles) { return this.#native.addRoles(keyId, roles) }
  removeRoles(keyId, roles) { return this.#native.removeRoles(keyId, roles) }
  setRoles(keyId, roles) { return this.#native.setRoles(keyId, roles) }

  // ----- permissions and roles -----
  createPermission(name, options = {}) {
    return this.#native.createPermission(name, keyOnly(options.slug), keyOnly(options.description))
  }
  getPermission(permission) { return this.#native.getPermission(permission) }
  deletePermission(permission) { return this.#native.deletePermission(permission).then(() => undefined) }
  async *listPermissions() { yield* await this.#native.listPermissions() }
  createRole(name, options = {}) {
    return this.#native.createRole(name, keyOnly(options.permissions), keyOnly(options.description))
  }
  getRole(role) { return this.#native.getRole(role) }
  deleteRole(role) { return this.#native.deleteRole(role).then(() => undefined) }
  async *listRoles() { yield* await this.#native.listRoles() }
  setRolePermissions(roleId, permissions) { return this.#native.setRolePermissions(roleId, permissions) }

  // ----- identities -----
  createIdentity(externalId, options = {}) {
    return this.#native.createIdentity(JSON.stringify({ ...options, externalId }))
  }
  getIdentity(identity) { return this.#native.getIdentity(identity) }
  updateIdentity(identity, options = {}) {
    return this.#native.updateIdentity(JSON.stringify({ ...options, identity }))
  }
  deleteIdentity(identity) { return this.#native.deleteIdentity(identity).then(() => undefined) }
  async *listIdentities() { yield* await this.#native.listIdentities() }

  // ----- self-service portal -----
  /** A portal session for `externalId`; send the end user to the answer's `url` (single use). */
  createPortalSession(portal, externalId, scopes, options = {}) {
    return this.#native.createPortalSession(portal, externalId, scopes, keyOnly(options.returnUrl))
  }

  // ----- migration and rollout -----
  /**
   * Streams keys into the key service from a JSONL/CSV file path or any (async) iterable of
   * records; an iterable is pulled lazily, one batch at a time.
   */
  migrateKeys(source, options) {
    const { onProgress, signal, ...rest } = options ?? {}
    const progress = onProgress ? promising(onProgress) : undefined
    const cancel = cancelToken(signal)
    if (typeof source === 'string') return this.#native.migrateFile(source, JSON.stringify(rest), progress, cancel)
    if (source == null || !(source[Symbol.asyncIterator] || source[Symbol.iterator])) {
      return Promise.reject(new TypeError('migrateKeys: source must be a file path or an (async) iterable of records'))
    }
    const size = Math.max(1, Math.min(rest.batchSize ?? 256, 1000))
    return this.#native.migrateRecords(batches(source, size), JSON.stringify(rest), progress, cancel)
  }

  /** Verifies with the key service; on NOT_FOUND asks `legacy` (and optionally backfills). */
  verifyWithFallback(key, legacy, options) {
    const check = promising(legacy)
    return this.#native.verifyWithFallback(key, (k) => check(k).then((ok) => ok === true), json(options))
  }
}

module.exports = {
  Client,
  KeyshiftError,
  CreatedKey,
  PortalSession,
  PermissionQuery: native.PermissionQuery,
  hashKey: native.hashKey,
  hashKeys: (keys, variant) => JSON.parse(native.hashKeysJson(keysJson(keys), keyOnly(variant))),
  hashKeysAsync: async (keys, variant) => JSON.parse(await native.hashKeysJsonAsync(keysJson(keys), keyOnly(variant))),
  verifyBcrypt: native.verifyBcrypt,
  parseKeyHash: native.parseKeyHash,
  generateKey: (options = {}) => native.generateKey(keyOnly(options.prefix), keyOnly(options.byteLength)),
  looksLikeKey: native.looksLikeKey,
  maskKey: native.maskKey,
  keyStart: native.keyStart,
  keyPrefix: native.keyPrefix,
  checksum: native.checksum,
  parsePermissionQuery: native.parsePermissionQuery,
  scopesToPermissions: native.scopesToPermissionsJs,
  permissionsToScopes: native.permissionsToScopesJs,
  parseScope: native.parseScope,
}
