/**
 * Configurations for the scenarios at scale, written as kong.yml and loaded with the real bulk path,
 * `sluice config db_import` (one transaction of batched `INSERT .. SELECT FROM jsonb_to_recordset`,
 * see autocannon/import-100k.ts), into a fresh database that Sluice nodes then start on.
 *
 * Routes (native-bench/micro/routes.ts's five kinds, route i of kind i % 5), one service per 10 routes:
 *   0 exact host + prefix   hosts [api<i>.example.com]                 paths [/v1/svc<i>]
 *   1 wildcard host         hosts [*.t<i>.example.net] / [t<i>.example.*]
 *   2 prefix only           paths [/p<i>/items, /p<i>/orders]          methods [GET, POST]
 *   3 regex path            paths [~/r<i>/users/(?<id>\d+)$]
 *   4 header                paths [/h<i>]                              headers x-tenant: t<i>
 * Consumers: user-<j> with the key-auth key `key-<j>-0123456789abcdef`.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import type { TestDb } from '../../test/helpers/pg.ts'
import { ROOT } from './servers.ts'
import type { Req } from './bench.ts'

export interface SeedSpec {
  upstreamPort: number
  /** Routes of the five kinds above (0: none). */
  routes: number
  consumers: number
  /** Extra services with their routes and plugins, as kong.yml lines (already indented under `services:`). */
  extraServices?: string[]
}

export const keyOf = (j: number): string => `key-${j}-0123456789abcdef`

function routeYaml (i: number): string[] {
  const out = [`  - name: route-${i}`]
  switch (i % 5) {
    case 0: out.push(`    hosts: [api${i}.example.com]`, `    paths: [/v1/svc${i}]`); break
    case 1: out.push(`    hosts: ["${i % 2 === 0 ? `*.t${i}.example.net` : `t${i}.example.*`}"]`); break
    case 2: out.push(`    paths: [/p${i}/items, /p${i}/orders]`, '    methods: [GET, POST]'); break
    case 3: out.push(`    paths: ["~/r${i}/users/(?<id>\\\\d+)$"]`); break
    case 4: out.push(`    paths: [/h${i}]`, `    headers: { x-tenant: [t${i}] }`); break
  }
  return out
}

export function kongYml (s: SeedSpec): string {
  const out: string[] = ['_format_version: "3.0"', 'services:']
  for (let i = 0; i < s.routes; i++) {
    if (i % 10 === 0) out.push(`- name: svc-${i / 10}`, `  url: http://127.0.0.1:${s.upstreamPort}`, '  routes:')
    out.push(...routeYaml(i))
  }
  out.push(...(s.extraServices ?? []))
  if (s.consumers > 0) out.push('consumers:')
  for (let j = 0; j < s.consumers; j++) out.push(`- username: user-${j}`, '  keyauth_credentials:', `  - key: ${keyOf(j)}`)
  return out.join('\n') + '\n'
}

/** A request that route i answers (GET, so that every kind takes the same request shape). */
export function requestFor (i: number): Req {
  switch (i % 5) {
    case 0: return { path: `/v1/svc${i}/resource/42`, headers: { host: `api${i}.example.com` } }
    case 1: return { path: '/anything', headers: { host: i % 2 === 0 ? `a.t${i}.example.net` : `t${i}.example.org` } }
    case 2: return { path: `/p${i}/orders/17` }
    case 3: return { path: `/r${i}/users/12345` }
    default: return { path: `/h${i}/x`, headers: { 'x-tenant': `t${i}` } }
  }
}

/** `count` distinct indices below `n`, spread evenly (every kind of route is represented). */
export function spread (n: number, count: number): number[] {
  const k = Math.min(n, count)
  const step = n / k
  const out: number[] = []
  for (let x = 0; x < k; x++) out.push(Math.floor(x * step + (x % 7)) % n)
  return [...new Set(out)]
}

/** Writes the kong.yml of `spec` and runs `sluice config db_import` into `db`; resolves with the import's wall time in ms. */
export async function seed (db: TestDb, spec: SeedSpec): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-seed-'))
  try {
    const file = join(dir, 'kong.yml')
    writeFileSync(file, kongYml(spec))
    const s = db.settings
    const env = { ...process.env, SLUICE_PREFIX: dir, SLUICE_PG_HOST: s.host, SLUICE_PG_PORT: String(s.port), SLUICE_PG_USER: s.user, SLUICE_PG_PASSWORD: s.password, SLUICE_PG_DATABASE: s.database, SLUICE_LOG_LEVEL: 'warn' }
    const t0 = performance.now()
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, [join(ROOT, 'bin/sluice.mjs'), 'config', 'db_import', file], { env, maxBuffer: 1 << 24, timeout: 900_000 },
        (err, _stdout, stderr) => { if (err !== null) reject(new Error(`db_import: ${err.message}\n${stderr}`)); else resolve() })
    })
    return performance.now() - t0
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
