// ESM entry: the same objects as the CommonJS entry (one native addon, one KeyshiftError).
import { createRequire } from 'node:module'

const keyshift = createRequire(import.meta.url)('./index.js')

export const {
  Client,
  KeyshiftError,
  CreatedKey,
  PortalSession,
  PermissionQuery,
  hashKey,
  hashKeys,
  hashKeysAsync,
  hashKeysPacked,
  hashKeysPackedAsync,
  hashKeysOffsets,
  unpackHashes,
  verifyBcrypt,
  parseKeyHash,
  generateKey,
  looksLikeKey,
  maskKey,
  keyStart,
  keyPrefix,
  checksum,
  parsePermissionQuery,
  scopesToPermissions,
  permissionsToScopes,
  parseScope,
} = keyshift
export default keyshift
