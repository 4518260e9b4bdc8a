/**
 * `db_export`: every exported entity of the database as Kong's export (export.lua
 * `export_from_db`; tables marked `db_export = false` are not even read), in one REPEATABLE READ
 * READ ONLY transaction so the file is one consistent picture.
 */
import type { Pool } from '../db/pool.ts'
import { daoFor } from '../db/dao/index.ts'
import { getSchema } from '../db/schema/registry.ts'
import { buildExport, exportedTables, exportRow, type Export, type ExportRow } from './export.ts'

export async function exportFromDb (pool: Pool, progress?: (table: string, rows: number) => void): Promise<Export> {
  const client = await pool.connect()
  const tables = new Map<string, ExportRow[]>()
  try {
    await client.query('begin transaction isolation level repeatable read read only')
    for (const table of exportedTables()) {
      const rows = await daoFor(getSchema(table)!).all(client, true)
      tables.set(table, rows.map((r) => exportRow(table, r, r.expires_at as number | null | undefined)))
      progress?.(table, rows.length)
    }
  } finally {
    await client.query('rollback').catch(() => {})
    client.release()
  }
  return buildExport(tables)
}
