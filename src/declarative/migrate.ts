/**
 * Files of format 1.1 and 2.1 are read as 3.0 after Kong's on-the-fly migration
 * (kong/db/declarative/migrations/route_path.lua, kong/db/migrations/migrate_path_280_300.lua):
 * route paths that are not plain become regexes (`~` prefix, percent-encoded unreserved
 * characters decoded), plain ones are normalised. Top-level routes and routes nested in top-level
 * services are migrated, as in Kong.
 */
import { normalizePath } from '../router/uri.ts'
import type { Table } from './parse.ts'

const PLAIN = /^[a-zA-Z0-9.\-_~/%]*$/

const RESERVED = new Set([0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2f, 0x3a, 0x3b, 0x3d, 0x3f, 0x40, 0x5b, 0x5d])
const META: Record<number, string> = { 0x2e: '\\.', 0x5e: '\\^', 0x2d: '\\-', 0x7b: '\\{', 0x7d: '\\}', 0x5c: '\\\\', 0x7c: '\\|' }

function normalizeRegex (regex: string): string {
  if (!regex.includes('%')) return regex
  return regex.replace(/%([0-9A-Fa-f]{2})/g, (m: string, hex: string) => {
    const n = parseInt(hex, 16)
    if (RESERVED.has(n)) return m.toUpperCase()
    return META[n] ?? String.fromCharCode(n)
  })
}

export function migratePath (path: string): string {
  if (PLAIN.test(path)) return normalizePath(path) ?? path
  return '~' + normalizeRegex(path)
}

const list = (v: unknown): unknown[] => Array.isArray(v) ? v : []

function migrateRoutes (routes: unknown): void {
  for (const r of list(routes)) {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) continue
    const paths = (r as Table).paths
    if (!Array.isArray(paths)) continue
    for (let i = 0; i < paths.length; i++) if (typeof paths[i] === 'string') paths[i] = migratePath(paths[i] as string)
  }
}

/** Migrates a 1.1 / 2.1 table in place to 3.0; other versions are left alone. */
export function migrateFormat (t: Table): void {
  const v = t._format_version
  if (v !== '1.1' && v !== '2.1') return
  migrateRoutes(t.routes)
  for (const s of list(t.services)) if (s !== null && typeof s === 'object' && !Array.isArray(s)) migrateRoutes((s as Table).routes)
  t._format_version = '3.0'
}
