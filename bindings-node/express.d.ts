import type { RequestHandler } from 'express'
import type { Client, Scope, Verification } from './index'

export interface GuardOptions {
  /** A permission query the key must satisfy. */
  permissions?: string
  /** Scopes the key must have. */
  scopes?: Scope[]
  /** Header carrying the key (default `authorization`, as `Bearer <key>`). */
  header?: string
}

declare global {
  namespace Express {
    interface Request {
      /** Set by keyshift's `requireKey` for a valid key. */
      keyshift?: Verification
    }
  }
}

/** Express middleware: 401/403/429 JSON unless the request's key verifies. */
export declare function requireKey(client: Client, options?: GuardOptions): RequestHandler
