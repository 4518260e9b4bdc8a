/** The node's UUID: `node_id` from config, else persisted in <prefix>/node.id on first start. */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'

export function nodeId (prefix: string, configured: string | null): string {
  if (configured !== null) return configured.toLowerCase()
  const file = join(prefix, 'node.id')
  try {
    const id = readFileSync(file, 'utf8').trim()
    if (/^[0-9a-f-]{36}$/.test(id)) return id
  } catch {}
  const id = randomUUID()
  mkdirSync(prefix, { recursive: true })
  writeFileSync(file, id + '\n')
  return id
}
