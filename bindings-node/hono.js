'use strict'
// keyshift/hono: `app.use('/api/*', requireKey(client, { permissions }))` verifies the
// request's key, sets `c.get('keyshift')` (the Verification) and continues; otherwise answers
// 401/403/429 JSON. A failure to reach the key service is thrown to Hono's onError.

const { keyFrom, verifyOptions, refusal } = require('./guard.js')

function requireKey(client, options = {}) {
  const opts = verifyOptions(options)
  return async function keyshiftGuard(c, next) {
    const key = keyFrom((name) => c.req.header(name), options)
    const verification = key === null ? null : await client.verify(key, opts)
    if (verification === null || !verification.valid) {
      const [status, body] = refusal(verification)
      return c.json(body, status)
    }
    c.set('keyshift', verification)
    await next()
  }
}

module.exports = { requireKey }
