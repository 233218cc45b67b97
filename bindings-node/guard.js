'use strict'
// Shared by the framework guards: which key a request carries and how a verification outcome
// answers over HTTP (401 unknown/disabled/expired key, 403 missing permission, 429 limits).

const STATUS = {
  NOT_FOUND: 401,
  DISABLED: 401,
  EXPIRED: 401,
  FORBIDDEN: 403,
  INSUFFICIENT_PERMISSIONS: 403,
  RATE_LIMITED: 429,
  USAGE_EXCEEDED: 429,
}

/** The key of `Authorization: Bearer <key>` (or the `header` named in options). */
function keyFrom(getHeader, options) {
  const name = (options && options.header) || 'authorization'
  const raw = getHeader(name)
  if (typeof raw !== 'string' || raw.trim() === '') return null
  if (name.toLowerCase() !== 'authorization') return raw.trim()
  const m = /^Bearer\s+(.+)$/i.exec(raw.trim())
  return m ? m[1].trim() : null
}

function verifyOptions(options) {
  const out = {}
  if (options && options.permissions !== undefined) out.permissions = options.permissions
  if (options && options.scopes !== undefined) out.scopes = options.scopes
  return out
}

/** `[status, body]` for a refused request. */
function refusal(verification) {
  if (verification === null) {
    return [401, { error: { code: 'MISSING_KEY', message: 'an API key is required (Authorization: Bearer <key>)' } }]
  }
  const status = STATUS[verification.code] ?? 401
  return [status, { error: { code: verification.code, message: `API key refused: ${verification.code}` } }]
}

module.exports = { keyFrom, verifyOptions, refusal }
