// keyshift for Node/TypeScript: the public API (hand-written over the generated binding.d.ts).

import type { Scope } from './binding'

/** DESIGN §5 error codes, identical in every language. */
export type ErrorCode =
  | 'invalid_input'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'rate_limited'
  | 'server_error'
  | 'network'
  | 'timeout'
  | 'io'

/** Every keyshift failure. A verification outcome (invalid key) is never one. */
export declare class KeyshiftError extends Error {
  readonly name: 'KeyshiftError'
  readonly code: ErrorCode
  /** HTTP status when the key service answered. */
  readonly status: number | null
  readonly requestId: string | null
  /** The input field at fault (`invalid_input`, `bad_request`, `io` with `cancel`). */
  readonly field: string | null
  /** Seconds to wait before retrying (`rate_limited`). */
  readonly retryAfter: number | null
  /** 1-based record or line number, for migration input. */
  readonly record: number | null
}

/** The outcome codes of `verify`. */
export type VerifyCode =
  | 'VALID'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'INSUFFICIENT_PERMISSIONS'
  | 'USAGE_EXCEEDED'
  | 'RATE_LIMITED'
  | 'DISABLED'
  | 'EXPIRED'

export type HashVariant = 'sha256_base64' | 'sha256_hex' | 'bcrypt'

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type Metadata = { [key: string]: JsonValue }

// A resource and the actions allowed on it: `profile` + read → `profile.read`. Declared once,
// by napi from src/scope.rs (`binding.d.ts`).
export type { Scope }

export interface ClientOptions {
  /** Default `KEYSHIFT_BASE_URL`, else hosted Unkey. */
  baseUrl?: string
  /** Default `KEYSHIFT_ROOT_KEY`, else `UNKEY_ROOT_KEY`. */
  rootKey?: string
  /** Per attempt (default 5000). */
  timeoutMs?: number
  /** Total for a call's attempts and waits (default 15000). */
  deadlineMs?: number
  /** Attempts per call (default 3). */
  maxAttempts?: number
}

export interface RatelimitRequest {
  name: string
  limit: number
  /** Window in ms (≥ 1000). */
  duration: number
  autoApply: boolean
}

export interface CreditsRefill {
  interval: 'daily' | 'monthly'
  amount: number
  refillDay?: number
}

export interface CreateKeyOptions {
  apiId: string
  name?: string
  prefix?: string
  byteLength?: number
  externalId?: string
  meta?: Metadata
  scopes?: Scope[]
  permissions?: string[]
  roles?: string[]
  /** Unix ms. */
  expires?: number
  /** Remaining uses; absent = unlimited. */
  credits?: number
  refill?: CreditsRefill
  ratelimits?: RatelimitRequest[]
  enabled?: boolean
}

/** A new key. `key` is the plaintext (returned once); printing shows only `masked`. */
export declare class CreatedKey {
  private constructor()
  readonly keyId: string
  readonly key: string
  readonly masked: string
  toString(): string
  toJSON(): { keyId: string; masked: string }
}

/** A self-service portal session: send the end user to `url` (its code is single use, valid 15
 * minutes); printing shows only `maskedUrl`. */
export declare class PortalSession {
  private constructor()
  readonly id: string
  readonly url: string
  readonly maskedUrl: string
  toString(): string
  toJSON(): { id: string; url: string }
}

/** What a portal session may do. */
export type PortalScope = 'keys:read' | 'keys:create' | 'keys:update' | 'keys:reroll' | 'keys:delete' | 'analytics:read'

export interface VerifyRatelimit {
  name: string
  cost?: number
  limit?: number
  duration?: number
}

export type VerifyOptions = {
  /** A permission query: `a`, `a AND b`, `(a OR b) AND c`. */
  permissions?: string
  /** Required scopes (ANDed with `permissions`). */
  scopes?: Scope[]
  creditsCost?: number
  ratelimits?: VerifyRatelimit[]
  tags?: string[]
}

export interface Identity {
  id: string
  externalId: string
  meta?: Metadata
  ratelimits?: RatelimitResponse[]
}

export interface VerifyRatelimitData {
  exceeded: boolean
  id: string
  name: string
  limit: number
  duration: number
  reset: number
  remaining: number
  autoApply: boolean
}

export interface Verification {
  valid: boolean
  code: VerifyCode
  keyId?: string
  name?: string
  externalId?: string
  meta?: Metadata
  permissions: string[]
  roles: string[]
  /** `permissions` folded back into scopes. */
  scopes: Required<Scope>[]
  credits?: number
  expires?: number
  enabled?: boolean
  ratelimits: VerifyRatelimitData[]
  identity?: Identity
  requestId?: string
  /** `legacy` when `verifyWithFallback`'s legacy check accepted the key. */
  source: 'keyService' | 'legacy'
}

export interface RatelimitResponse {
  id: string
  name: string
  limit: number
  duration: number
  autoApply: boolean
}

export interface KeyCredits {
  remaining?: number | null
  refill?: CreditsRefill
}

/** A key as the key service describes it (never its plaintext). */
export interface KeyInfo {
  keyId: string
  start: string
  enabled: boolean
  name?: string
  meta?: Metadata
  createdAt: number
  updatedAt?: number
  lastUsedAt?: number
  expires?: number
  permissions?: string[]
  roles?: string[]
  credits?: KeyCredits
  identity?: Identity
  ratelimits?: RatelimitResponse[]
}

/** `keys.updateKey`: absent = unchanged, `null` = cleared. */
export interface KeyPatch {
  name?: string | null
  externalId?: string | null
  meta?: Metadata | null
  expires?: number | null
  credits?: { remaining?: number | null; refill?: CreditsRefill | null } | null
  ratelimits?: RatelimitRequest[]
  enabled?: boolean
  roles?: string[]
  permissions?: string[]
}

export interface Api {
  id: string
  name: string
}

export interface Permission {
  id: string
  name: string
  slug: string
  description?: string
}

export interface Role {
  id: string
  name: string
  description?: string
  permissions?: Permission[]
}

export interface ListKeysOptions {
  limit?: number
  cursor?: string
  externalId?: string
}

export interface Page<T> {
  items: T[]
  cursor: string | null
  hasMore: boolean
}

/** One record to migrate: `key` (plaintext, hashed locally) or `hash` (+ `variant`). */
export interface MigrationRecord {
  key?: string
  hash?: string
  variant?: HashVariant
  start?: string
  name?: string
  externalId?: string
  meta?: Metadata
  roles?: string[]
  permissions?: string[]
  scopes?: Scope[]
  expires?: number
  enabled?: boolean
  credits?: { remaining: number | null; refill?: CreditsRefill }
  ratelimits?: RatelimitRequest[]
}

export interface MigrationProgress {
  recordsRead: number
  bytesRead: number
  bytesTotal: number | null
  migrated: number
  alreadyPresent: number
  failed: number
  invalid: number
  skippedResumed: number
  batchesDone: number
  inFlight: number
  elapsedMs: number
  finished: boolean
  fraction: number | null
}

export interface MigrateOptions {
  apiId: string
  migrationId: string
  /** Form of records carrying `hash` without `variant` (default `sha256_base64`). */
  variant?: HashVariant
  /** Keys per request; omitted: core adapts it to the answer times (100 growing to 1,000). */
  batchSize?: number
  /** Requests in flight; omitted: adapts between 2 and 16. */
  concurrency?: number
  /** Append-only checkpoint file (needed for `resume`). */
  checkpoint?: string
  /** JSONL report file. */
  report?: string
  dryRun?: boolean
  resume?: boolean
  maxErrors?: number
  /** Called ~10×/s and once at the end; a throw or rejection stops the run with that error. */
  onProgress?: (progress: MigrationProgress) => void | Promise<void>
  /** Aborting stops the run (error `io`, field `cancel`); `resume` continues it. */
  signal?: AbortSignal
}

export interface RecordError {
  line: number
  hash?: string
  code: ErrorCode
  field?: string
  message: string
}

export interface MigrationReport {
  total: number
  valid: number
  migrated: number
  alreadyPresent: number
  failed: number
  invalid: number
  skippedResumed: number
  batches: number
  elapsedMs: number
  dryRun: boolean
  errors: RecordError[]
  errorsTruncated: boolean
}

export interface FallbackOptions extends VerifyOptions {
  /** Migrate a key the legacy check accepted (hash only). */
  backfill?: {
    apiId: string
    migrationId: string
    template?: Omit<MigrationRecord, 'key' | 'hash' | 'variant' | 'scopes'>
  }
}

export type MigrationSource = string | Iterable<MigrationRecord> | AsyncIterable<MigrationRecord>

/** A key service client. Every call returns a Promise and runs off the event loop. */
export declare class Client {
  constructor(options?: ClientOptions)
  /** `KEYSHIFT_BASE_URL` and `KEYSHIFT_ROOT_KEY` (or `UNKEY_ROOT_KEY`). */
  static fromEnv(): Client
  /** The embedded engine on the SQLite database at `path`: no server, no root key. */
  static local(path: string): Client
  toString(): string

  createApi(name: string): Promise<{ apiId: string }>
  getApi(apiId: string): Promise<Api>
  deleteApi(apiId: string): Promise<void>
  listKeys(apiId: string): AsyncIterableIterator<KeyInfo>
  listKeysPage(apiId: string, options?: ListKeysOptions): Promise<Page<KeyInfo>>

  createApiKey(options: CreateKeyOptions): Promise<CreatedKey>
  verify(key: string, options?: VerifyOptions): Promise<Verification>
  whoami(key: string): Promise<KeyInfo>
  getKey(keyId: string): Promise<KeyInfo>
  updateKey(keyId: string, patch: KeyPatch): Promise<void>
  deleteKey(keyId: string, options?: { permanent?: boolean }): Promise<void>
  /** A new key with the old one's settings; the old one stays valid `expirationMs` more. */
  rerollKey(keyId: string, expirationMs?: number): Promise<CreatedKey>
  updateCredits(keyId: string, operation: 'set' | 'increment' | 'decrement', value?: number | null): Promise<KeyCredits>
  addPermissions(keyId: string, permissions: string[]): Promise<Permission[]>
  removePermissions(keyId: string, permissions: string[]): Promise<Permission[]>
  setPermissions(keyId: string, permissions: string[]): Promise<Permission[]>
  addRoles(keyId: string, roles: string[]): Promise<Role[]>
  removeRoles(keyId: string, roles: string[]): Promise<Role[]>
  setRoles(keyId: string, roles: string[]): Promise<Role[]>

  createPermission(name: string, options?: { slug?: string; description?: string }): Promise<{ permissionId: string }>
  getPermission(permission: string): Promise<Permission>
  deletePermission(permission: string): Promise<void>
  listPermissions(): AsyncIterableIterator<Permission>
  createRole(name: string, options?: { permissions?: string[]; description?: string }): Promise<{ roleId: string }>
  getRole(role: string): Promise<Role>
  deleteRole(role: string): Promise<void>
  listRoles(): AsyncIterableIterator<Role>
  setRolePermissions(roleId: string, permissions: string[]): Promise<Permission[]>

  createIdentity(
    externalId: string,
    options?: { meta?: Metadata; ratelimits?: RatelimitRequest[] },
  ): Promise<{ identityId: string }>
  getIdentity(identity: string): Promise<Identity>
  updateIdentity(identity: string, options: { meta?: Metadata; ratelimits?: RatelimitRequest[] }): Promise<Identity>
  deleteIdentity(identity: string): Promise<void>
  listIdentities(): AsyncIterableIterator<Identity>

  /** `portal.createSession`: a session for `externalId` on `portal` (a portal id or an api id). */
  createPortalSession(
    portal: string,
    externalId: string,
    scopes: PortalScope[],
    options?: { returnUrl?: string },
  ): Promise<PortalSession>

  /** Streams keys in from a JSONL/CSV file path or an (async) iterable, pulled lazily. */
  migrateKeys(source: MigrationSource, options: MigrateOptions): Promise<MigrationReport>
  /** Verify; on NOT_FOUND ask `legacy` (its throw or rejection rejects this call as is). */
  verifyWithFallback(
    key: string,
    legacy: (key: string) => boolean | Promise<boolean>,
    options?: FallbackOptions,
  ): Promise<Verification>
}

export interface KeyHash {
  value: string
  variant: HashVariant
}

/** A parsed permission query. */
export declare class PermissionQuery {
  private constructor()
  evaluate(granted: string[]): boolean
  names(): string[]
  toString(): string
}

export declare function hashKey(key: string, variant?: HashVariant): KeyHash
/** Hashes on the calling thread (in parallel inside for large batches); values only. */
export declare function hashKeys(keys: string[], variant?: HashVariant): string[]
/** `hashKeys` on the libuv thread pool: the event loop keeps running. */
export declare function hashKeysAsync(keys: string[], variant?: HashVariant): Promise<string[]>
/** Options of the packed forms. */
export interface PackedOptions {
  /** The byte between keys: one ASCII character or its value (default `'\n'`). */
  sep?: string | number
  /** `sha256_base64` (44 bytes per hash, the default) or `sha256_hex` (64). */
  variant?: 'sha256_base64' | 'sha256_hex'
  /** How many keys were packed: a different count (a key containing `sep`) is an error. */
  count?: number
}
/**
 * Keys separated by `sep` (one trailing `sep` allowed) in one buffer (a string is sent as
 * UTF-8), hashed (in parallel for large batches) into one Buffer of fixed-width ASCII hashes:
 * hash `i` is bytes `[i * w, (i + 1) * w)`, `w` = 44 (sha256_base64) or 64 (sha256_hex).
 */
export declare function hashKeysPacked(data: Uint8Array | string, options?: PackedOptions): Buffer
/** `hashKeysPacked` on the libuv thread pool; do not change `data` until it settles. */
export declare function hashKeysPackedAsync(data: Uint8Array | string, options?: PackedOptions): Promise<Buffer>
/** Keys back to back in `data`, key `i` at `[offsets[i], offsets[i + 1])` (offsets: n + 1 entries, 0 … data.length). */
export declare function hashKeysOffsets(
  data: Uint8Array | string,
  offsets: Uint32Array,
  variant?: 'sha256_base64' | 'sha256_hex',
): Buffer
/** Splits a packed answer into one string per hash. */
export declare function unpackHashes(packed: Uint8Array, variant?: 'sha256_base64' | 'sha256_hex'): string[]
export declare function verifyBcrypt(key: string, hash: string): boolean
export declare function parseKeyHash(value: string, variant: HashVariant): KeyHash
export declare function generateKey(options?: { prefix?: string; byteLength?: number }): string
export declare function looksLikeKey(key: string): boolean
export declare function maskKey(key: string): string
export declare function keyStart(key: string): string
export declare function keyPrefix(key: string): string | null
export declare function checksum(body: string): string
export declare function parsePermissionQuery(query: string): PermissionQuery
export declare function scopesToPermissions(scopes: Scope[]): string[]
export declare function permissionsToScopes(permissions: string[]): Required<Scope>[]
export declare function parseScope(input: string): Required<Scope>
