/**
 * Declarative config text -> a plain table (kong/db/declarative/init.lua `unserialize`): JSON
 * first, then YAML (1.1, the dialect Kong's lyaml speaks: `yes`/`on` are booleans), as the file
 * name allows; anything but an object is refused. The hash of a configuration is the md5 of its
 * text, as Kong's, so that `?check_hash=1` can say "unchanged" before any parsing.
 */
import { createHash } from 'node:crypto'
import { parse as parseYaml } from 'yaml'

export type Table = Record<string, unknown>

export type Unserialized =
  | { ok: true; table: Table; hash: string }
  | { ok: false; error: string }

/** Kong's DECLARATIVE_EMPTY_CONFIG_HASH */
export const EMPTY_CONFIG_HASH = '0'.repeat(32)

export function configHash (text: string | Uint8Array): string {
  return createHash('md5').update(text).digest('hex')
}

/** Null-prototype objects all the way down: `__proto__` is an ordinary key. */
export function toTable (v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object') return v
  if (depth > 1000) throw new Error('nesting too deep')
  if (Array.isArray(v)) return v.map((x) => toTable(x, depth + 1))
  if (v instanceof Date) return v.toISOString()
  if (v instanceof Map) {
    const out: Table = Object.create(null)
    for (const [k, x] of v) out[String(k)] = toTable(x, depth + 1)
    return out
  }
  const out: Table = Object.create(null)
  for (const k of Object.keys(v)) out[k] = toTable((v as Table)[k], depth + 1)
  return out
}

function yamlLoad (text: string): unknown {
  // YAML 1.1 (lyaml): booleans yes/no/on/off, merge keys; duplicate keys: the last one wins.
  return parseYaml(text, { version: '1.1', uniqueKeys: false, merge: true, maxAliasCount: 10_000, prettyErrors: false })
}

function firstLine (msg: string): string {
  return msg.split('\n')[0]!.trim()
}

export function unserialize (text: string, filename?: string): Unserialized {
  let tried = false
  let value: unknown
  let err: string | undefined
  if (filename === undefined || /json$/.test(filename)) {
    tried = true
    try { value = JSON.parse(text) } catch (e) { err = firstLine((e as Error).message) }
  }
  if ((value === null || typeof value !== 'object' || Array.isArray(value)) && (filename === undefined || /ya?ml$/.test(filename))) {
    tried = true
    err = undefined
    try {
      value = yamlLoad(text)
      if (value === null || typeof value !== 'object' || Array.isArray(value)) { err = 'expected an object'; value = undefined }
    } catch (e) {
      err = firstLine((e as Error).message)
      value = undefined
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const error = !tried
      ? `unknown file type: ${filename ?? 'nil'}. (Accepted types: json, yaml)`
      : `failed parsing declarative configuration${err !== undefined ? `: ${err}` : ''}`
    return { ok: false, error }
  }
  let table: Table
  try { table = toTable(value) as Table } catch (e) { return { ok: false, error: `failed parsing declarative configuration: ${(e as Error).message}` } }
  return { ok: true, table, hash: configHash(text) }
}
