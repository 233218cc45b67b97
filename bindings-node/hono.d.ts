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

/** Hono middleware: 401/403/429 JSON unless the request's key verifies; sets `keyshift`. */
export declare function requireKey(
  client: Client,
  options?: GuardOptions,
): MiddlewareHandler<{ Variables: { keyshift: Verification } }>
