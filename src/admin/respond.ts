/**
 * Admin API replies: the Reply value handlers return, Kong's error -> HTTP mapping
 * (kong/api/endpoints.lua ERRORS_HTTP_CODES, handle_error) and the JSON bodies of the generic
 * answers (404 Not found, 405, 500). 500s never show internals; they are logged instead.
 */
import { DB_ERR, DbError } from '../db/schema/db-errors.ts'
import { DbUnavailable } from '../db/dao/index.ts'
import { ERRORS } from '../common/errors.ts'
import { ArgsError } from './args.ts'
import { BodyError } from './body.ts'

export interface Reply {
  status: number
  /** JSON value, or a string sent as text/plain; undefined: no body. */
  body?: unknown
  headers?: Record<string, string>
}

export const NOT_FOUND: Reply = { status: 404, body: { message: 'Not found' } }
export const METHOD_NOT_ALLOWED: Reply = { status: 405, body: { message: 'Method not allowed' } }
export const UNEXPECTED: Reply = { status: 500, body: { message: 'An unexpected error occurred' } }

const HTTP_STATUS: Record<number, number> = {
  [DB_ERR.INVALID_PRIMARY_KEY]: 400,
  [DB_ERR.SCHEMA_VIOLATION]: 400,
  [DB_ERR.PRIMARY_KEY_VIOLATION]: 400,
  [DB_ERR.FOREIGN_KEY_VIOLATION]: 400,
  [DB_ERR.UNIQUE_VIOLATION]: 409,
  [DB_ERR.NOT_FOUND]: 404,
  [DB_ERR.INVALID_OFFSET]: 400,
  [DB_ERR.DATABASE_ERROR]: 500,
  [DB_ERR.INVALID_SIZE]: 400,
  [DB_ERR.INVALID_UNIQUE]: 400,
  [DB_ERR.INVALID_OPTIONS]: 400,
  [DB_ERR.OPERATION_UNSUPPORTED]: 405,
  [DB_ERR.FOREIGN_KEYS_UNRESOLVED]: 400,
  [DB_ERR.REFERENCED_BY_OTHERS]: 400,
}

export type LogFn = (level: 'error' | 'warn' | 'info', message: string) => void

/** Any thrown value as the reply Kong would give; unexpected ones are logged as 500s. */
export function errorReply (err: unknown, log: LogFn, what: string): Reply {
  if (err instanceof BodyError) return { status: err.status, body: err.payload }
  if (err instanceof ArgsError) return { status: 400, body: { message: `Cannot parse arguments: ${err.message}` } }
  if (err instanceof DbError) {
    const status = HTTP_STATUS[err.errT.code] ?? 500
    if (status === 500) {
      log('error', `${what}: ${err.errT.message}`)
      return UNEXPECTED
    }
    return { status, body: err.errT }
  }
  if (err instanceof DbUnavailable) {
    const cause = (err.cause as Error | undefined)?.message ?? ''
    log('error', `${what}: database unavailable${cause !== '' ? `: ${cause}` : ''}`)
    return { status: ERRORS.ADM_DATABASE_UNAVAILABLE.status, body: { message: 'The database is unreachable; try again when it is back' } }
  }
  log('error', `${what}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
  return UNEXPECTED
}
