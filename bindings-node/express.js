'use strict'
// keyshift/express: `app.use(requireKey(client, { permissions: 'a AND b' }))` verifies the
// request's key, sets `req.keyshift` (the Verification) and calls next(); otherwise answers
// 401/403/429 JSON. A failure to reach the key service goes to next(err).

const { keyFrom, verifyOptions, refusal } = require('./guard.js')

function requireKey(client, options = {}) {
  const opts = verifyOptions(options)
  return function keyshiftGuard(req, res, next) {
    const key = keyFrom((name) => req.get(name), options)
    if (key === null) {
      const [status, body] = refusal(null)
      res.status(status).json(body)
      return
    }
    client.verify(key, opts).then(
      (verification) => {
        if (verification.valid) {
          req.keyshift = verification
          next()
        } else {
          const [status, body] = refusal(verification)
          res.status(status).json(body)
        }
      },
      (err) => next(err),
    )
  }
}

module.exports = { requireKey }
