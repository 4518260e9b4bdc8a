/**
 * Every error code Sluice produces, in one table (fastify's lib/errors.js idea).
 *
 * Proxy-side errors are values: worker/responses.ts prebuilds their bodies once per worker.
 * Admin-side errors carry Kong's numeric `code` and `name` (kong/db/errors.lua) and map to HTTP
 * through the same table. Codes, not classes, cross thread and process boundaries.
 */

export const ERRORS = {
  // proxy path (kong.response.error / nginx error pages)
  GW_ERR_NO_ROUTE: { status: 404, message: 'no Route matched with those values' },
  GW_ERR_NO_SERVICE: { status: 503, message: 'no Service found with those values' },
  GW_ERR_BAD_REQUEST: { status: 400, message: 'Bad request' },
  GW_ERR_HEADER_TOO_LARGE: { status: 400, message: 'Request header or cookie too large' },
  GW_ERR_URI_TOO_LONG: { status: 414, message: 'URI too long' },
  GW_ERR_BODY_TOO_LARGE: { status: 413, message: 'Payload too large' },
  GW_ERR_LENGTH_REQUIRED: { status: 411, message: 'Length required' },
  GW_ERR_REQUEST_TIMEOUT: { status: 408, message: 'Request timeout' },
  GW_ERR_UPGRADE_HTTPS: { status: 426, message: 'Please use HTTPS protocol' },
  GW_ERR_UPGRADE_HTTP2: { status: 426, message: 'Please use HTTP2 protocol' },
  GW_ERR_NOT_GRPC: { status: 415, message: 'Non-gRPC request matched gRPC route' },
  GW_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  GW_ERR_NOT_IMPLEMENTED: { status: 501, message: 'Not implemented' },
  GW_ERR_INTERNAL: { status: 500, message: 'An unexpected error occurred' },
  GW_ERR_UPSTREAM_INVALID: { status: 502, message: 'An invalid response was received from the upstream server' },
  GW_ERR_UPSTREAM_UNAVAILABLE: { status: 503, message: 'The upstream server is currently unavailable' },
  GW_ERR_UPSTREAM_TIMEOUT: { status: 504, message: 'The upstream server is timing out' },
  GW_ERR_NO_PEER: { status: 503, message: 'failure to get a peer from the ring-balancer' },
  GW_ERR_DNS: { status: 503, message: 'name resolution failed' },

  // Admin API (kong/db/errors.lua codes)
  ADM_INVALID_PRIMARY_KEY: { status: 400, message: 'invalid primary key', kongCode: 1 },
  ADM_SCHEMA_VIOLATION: { status: 400, message: 'schema violation', kongCode: 2 },
  ADM_PRIMARY_KEY_VIOLATION: { status: 400, message: 'primary key violation', kongCode: 3 },
  ADM_FOREIGN_KEY_VIOLATION: { status: 400, message: 'foreign key violation', kongCode: 4 },
  ADM_UNIQUE_VIOLATION: { status: 409, message: 'unique constraint violation', kongCode: 5 },
  ADM_NOT_FOUND: { status: 404, message: 'not found', kongCode: 6 },
  ADM_INVALID_OFFSET: { status: 400, message: 'invalid offset', kongCode: 7 },
  ADM_DATABASE_ERROR: { status: 500, message: 'database error', kongCode: 8 },
  ADM_INVALID_SIZE: { status: 400, message: 'invalid size', kongCode: 9 },
  ADM_INVALID_UNIQUE: { status: 400, message: 'invalid unique', kongCode: 10 },
  ADM_INVALID_OPTIONS: { status: 400, message: 'invalid options', kongCode: 11 },
  ADM_OPERATION_UNSUPPORTED: { status: 405, message: 'operation unsupported', kongCode: 12 },
  ADM_FOREIGN_KEYS_UNRESOLVED: { status: 400, message: 'foreign keys unresolved', kongCode: 13 },
  ADM_DECLARATIVE_CONFIG: { status: 400, message: 'invalid declarative configuration', kongCode: 14 },
  ADM_REFERENCED_BY_OTHERS: { status: 400, message: 'referenced by others', kongCode: 19 },
  ADM_DATABASE_UNAVAILABLE: { status: 503, message: 'database unavailable' },

  // process level
  CFG_INVALID: { status: 0, message: 'invalid configuration' },
  DB_SCHEMA_NEWER: { status: 0, message: 'database schema is newer than this Sluice' },
  DB_NOT_BOOTSTRAPPED: { status: 0, message: 'database needs bootstrap' },
  WORKER_CRASHED: { status: 0, message: 'worker thread exited unexpectedly' },
} as const

export type ErrorCode = keyof typeof ERRORS

export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly status: number
  constructor (code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options)
    this.name = 'GatewayError'
    this.code = code
    this.status = ERRORS[code].status
  }
}

/** Normalises anything thrown into `{ code, message }`, keeping `code` strings from Node, pg and undici. */
export function coerceError (err: unknown): { code: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return { code: typeof code === 'string' ? code : err.name, message: err.message }
  }
  return { code: 'UNKNOWN', message: String(err) }
}
