import type { MiddlewareHandler } from 'hono'
import type { Client, Scope, Verification } from './index'

export interface GuardOptions {
  /** A permission query the key must satisfy. */
  permissions?: string
  /** Scopes the key must have. */
  scopes?: Scope[]
  /** Header carrying the key (default `authorization`, as `Bearer <key>`). */
  header?: string
}

/** The env to type an app with: `new Hono<KeyshiftEnv>()` makes `c.get('keyshift')` typed. */
export type KeyshiftEnv = { Variables: { keyshift: Verification } }

/** Hono middleware: 401/403/429 JSON unless the request's key verifies; sets `keyshift`. */
export declare function requireKey(
  client: Client,
  options?: GuardOptions,
): MiddlewareHandler<KeyshiftEnv>
