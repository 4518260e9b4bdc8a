/** Kong's `operation_unsupported` error body (code 12), the answer to writes in DB-less mode. */
import { DB_ERR } from '../db/schema/db-errors.ts'

export function operationUnsupported (message: string): { code: number; name: string; message: string } {
  return { code: DB_ERR.OPERATION_UNSUPPORTED, name: 'operation unsupported', message }
}
