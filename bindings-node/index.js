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

/** Bytes per hash in the packed forms. */
const WIDTH = { sha256_base64: 44, sha256_hex: 64 }

/** The packed forms take bytes; a string is sent as its UTF-8. */
function packedData(data) {
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  if (data instanceof Uint8Array) return data
  throw new TypeError('data must be a Buffer, a Uint8Array or a string')
}

/** The separator as one byte: a one-character string or a number (default '\n'). */
function sepByte(sep) {
  if (sep == null) return 10
  if (typeof sep === 'string' && sep.length === 1) return sep.charCodeAt(0)
  if (typeof sep === 'number' && Number.isInteger(sep) && sep >= 0) return sep
  throw new TypeError('sep must be one ASCII character or its byte value')
}

/** Splits a packed answer (fixed-width ASCII hashes back to back) into strings. */
function unpackHashes(packed, variant) {
  const width = WIDTH[variant ?? 'sha256_base64']
  if (!width) throw new TypeError(`no packed form for variant ${variant}`)
  if (!(packed instanceof Uint8Array) || packed.length % width !== 0) {
    throw new TypeError(`packed hashes must be a Buffer of ${width}-byte hashes`)
  }
  const text = Buffer.from(packed.buffer, packed.byteOffset, packed.length).toString('latin1')
  const out = new Array(packed.length / width)
  for (let i = 0, at = 0; i < out.length; i++, at += width) out[i] = text.slice(at, at + width)
  return out
}

/**
 * hashKeys for arrays of strings: the keys cross N-API as one newline-joined buffer and the
 * hashes come back as one buffer (a million small strings crossing one by one cost far more
 * than the hashing). Falls back to the JSON form (`viaJson`) for bcrypt, non-string entries
 * (which it reports) and keys that contain a newline (the count then differs).
 */
function hashKeysVia(packed, viaJson) {
  return (keys, variant) => {
    if (!Array.isArray(keys)) throw new TypeError('keys must be an array of strings')
    variant = keyOnly(variant)
    if (variant !== undefined && !WIDTH[variant]) return viaJson(keys, variant)
    for (let i = 0; i < keys.length; i++) if (typeof keys[i] !== 'string') return viaJson(keys, variant)
    // Every key is followed by '\n' (one trailing separator is allowed), so that a key ending
    // in '\n' changes the count rather than losing its newline.
    const data = Buffer.from(keys.length ? keys.join('\n') + '\n' : '', 'utf8')
    const done = (buf) => unpackHashes(buf, variant)
    const newlineInside = (e) => e instanceof Error && e.field === 'keys'
    try {
      const out = packed(data, variant, keys.length)
      return out instanceof Promise
        ? out.then(done, (e) => (newlineInside(e) ? viaJson(keys, variant) : Promise.reject(e)))
        : done(out)
    } catch (e) {
      if (newlineInside(e)) return viaJson(keys, variant)
      throw e
    }
  }
}

const hashKeysAsync = hashKeysVia(
  (data, variant, count) => native.hashKeysPackedAsync(data, 10, variant, count),
  async (keys, variant) => JSON.parse(await native.hashKeysJsonAsync(keysJson(keys), variant)),
)

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
  hashKeys: hashKeysVia(
    (data, variant, count) => native.hashKeysPacked(data, 10, variant, count),
    (keys, variant) => JSON.parse(native.hashKeysJson(keysJson(keys), variant)),
  ),
  hashKeysAsync: async (keys, variant) => hashKeysAsync(keys, variant),
  hashKeysPacked: (data, options = {}) =>
    native.hashKeysPacked(packedData(data), sepByte(options.sep), keyOnly(options.variant), keyOnly(options.count)),
  hashKeysPackedAsync: async (data, options = {}) =>
    native.hashKeysPackedAsync(packedData(data), sepByte(options.sep), keyOnly(options.variant), keyOnly(options.count)),
  hashKeysOffsets: (data, offsets, variant) => native.hashKeysOffsets(packedData(data), offsets, keyOnly(variant)),
  unpackHashes,
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
