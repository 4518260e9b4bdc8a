/**
 * Bulk declarative import: 100,000 consumers, each with a key-auth credential, plus a key-auth
 * protected route, measured two ways, with the Admin API's latency during each:
 *
 *   db_import   `sluice config db_import kong.yml` (its own process) into the PostgreSQL of a running
 *               node; the node picks the import up from the single `reload` cluster event. Reported:
 *               the command's wall time, then the time until the node's proxy accepts the last key.
 *   DB-less     `POST /config` of the same file to a `database = off` node: parse, validation and
 *               snapshot build run in the primary's piscina pool; 201 comes once every worker
 *               serves it.
 *
 * During each, autocannon sends 100 requests/s over 2 connections to the node's Admin API
 * (`GET /status`); its latency percentiles are printed beside a baseline taken just before.
 *
 *   node --import tsx autocannon/import-100k.ts                 writes BENCHMARKS.md
 *   node --import tsx autocannon/import-100k.ts --quick         10,000 consumers, no BENCHMARKS.md
 *   node --import tsx autocannon/import-100k.ts --consumers 50000
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import autocannon from 'autocannon'
import { SLUICE_VERSION } from '../src/common/meta.ts'
import { createTestDb } from '../test/helpers/pg.ts'
import { freePort } from '../test/helpers/ports.ts'
import { Procs, ROOT, say, waitHttpOrExit } from './lib/servers.ts'
import { writeSection } from './lib/report.ts'

const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? Number(argv[i + 1]) : dflt
}
const N = opt('consumers', quick ? 10_000 : 100_000)
const BIN = join(ROOT, 'bin/sluice.mjs')
const procs = new Procs()

interface Latency { p50: number; p99: number; max: number; requests: number; errors: number }

/**
 * GET `url` at 100 requests/s on 2 connections until `until` settles (or for `ms`); latency in ms.
 * The rate is capped so that the probe measures the Admin API without taking the CPU it measures.
 */
function measure (url: string, opts: { ms?: number; until?: Promise<unknown> }): Promise<Latency> {
  return new Promise((resolve, reject) => {
    const inst = autocannon({ url, connections: 2, overallRate: 100, duration: opts.ms !== undefined ? opts.ms / 1000 : 3600, pipelining: 1 }, (err, r) => {
      if (err !== null && err !== undefined) { reject(err); return }
      resolve({ p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, requests: r.requests.total, errors: r.errors + r.non2xx })
    })
    opts.until?.finally(() => { inst.stop() })
  })
}

function kongYml (n: number): string {
  const out: string[] = ['_format_version: "3.0"', 'services:', '- name: bench', '  url: http://127.0.0.1:1', '  routes:',
    '  - name: locked', '    paths: [/locked]', '    plugins:', '    - name: key-auth', 'consumers:']
  for (let i = 0; i < n; i++) out.push(`- username: user-${i}`, '  keyauth_credentials:', `  - key: key-${i}-0123456789abcdef`)
  return out.join('\n') + '\n'
}

async function startNode (env: Record<string, string>): Promise<{ admin: string; proxy: string }> {
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-import-'))
  procs.onStop(() => { rmSync(prefix, { recursive: true, force: true }) })
  const proxyPort = await freePort()
  const adminPort = await freePort()
  const child = procs.add(spawn(process.execPath, ['--max-semi-space-size=32', BIN, 'start', '--foreground'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env, ...env,
      SLUICE_PREFIX: prefix, SLUICE_PROXY_LISTEN: `127.0.0.1:${proxyPort}`, SLUICE_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
      SLUICE_STATUS_LISTEN: 'off', SLUICE_NGINX_WORKER_PROCESSES: '2', SLUICE_LOG_LEVEL: 'warn', SLUICE_DB_UPDATE_FREQUENCY: '1',
    },
  }))
  const admin = `http://127.0.0.1:${adminPort}`
  await waitHttpOrExit(child, 'sluice', `${admin}/status`, 120_000)
  return { admin, proxy: `http://127.0.0.1:${proxyPort}` }
}

/** Resolves with the time (ms since `t0`) at which the proxy accepts the last consumer's key. */
async function servedAt (proxy: string, t0: number, timeoutMs = 300_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const r = await fetch(`${proxy}/locked`, { headers: { apikey: `key-${N - 1}-0123456789abcdef` } }).catch(() => null)
    const status = r?.status ?? 0
    await r?.arrayBuffer().catch(() => {})
    if (status !== 0 && status !== 401 && status !== 404) return performance.now() - t0
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('the imported configuration was never served')
}

const fmt = (l: Latency): string => `p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms (${l.requests} requests${l.errors > 0 ? `, ${l.errors} errors` : ''})`
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-import-file-'))
  procs.onStop(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'kong.yml')
  const yml = kongYml(N)
  writeFileSync(file, yml)
  const mb = statSync(file).size / 1e6
  const load0 = loadavg()[0]!
  say(`${N} consumers + ${N} key-auth credentials (+ 1 service, 1 route, 1 plugin): ${file}, ${mb.toFixed(1)} MB`)

  // ---- db_import into the database of a running node
  const db = await createTestDb()
  procs.onStop(() => db.drop())
  const s = db.settings
  const pgEnv = { SLUICE_PG_HOST: s.host, SLUICE_PG_PORT: String(s.port), SLUICE_PG_USER: s.user, SLUICE_PG_PASSWORD: s.password, SLUICE_PG_DATABASE: s.database }
  const node = await startNode(pgEnv)
  const base1 = await measure(`${node.admin}/status`, { ms: 3000 })
  say(`db_import: Admin API baseline ${fmt(base1)}`)
  const t0 = performance.now()
  const cli = new Promise<{ out: string; ms: number }>((resolve, reject) => {
    execFile(process.execPath, [BIN, 'config', 'db_import', file], { env: { ...process.env, ...pgEnv, SLUICE_PREFIX: dir }, maxBuffer: 1 << 24, timeout: 600_000 },
      (err, stdout, stderr) => { if (err !== null) reject(new Error(`${err.message}\n${stderr}`)); else resolve({ out: stdout, ms: performance.now() - t0 }) })
  })
  const served = cli.then(() => servedAt(node.proxy, t0))
  const during1 = measure(`${node.admin}/status`, { until: served })
  const { out, ms: importMs } = await cli
  const servedMs = await served
  const lat1 = await during1
  const stmt = /import successful: (\d+) entities in (\d+) statements, ([\d.]+) s/.exec(out)
  say(out.trim().split('\n').filter((l) => !l.startsWith('  ')).map((l) => `  | ${l}`).join('\n'))
  say(`db_import: command ${secs(importMs)} (${Math.round(2 * N / (importMs / 1000))} entities/s), served by the node after ${secs(servedMs)}`)
  say(`db_import: Admin API during import + reload ${fmt(lat1)}`)

  // ---- POST /config to a DB-less node
  const dbless = await startNode({ SLUICE_DATABASE: 'off' })
  const base2 = await measure(`${dbless.admin}/status`, { ms: 3000 })
  say(`DB-less: Admin API baseline ${fmt(base2)}`)
  const t1 = performance.now()
  const post = fetch(`${dbless.admin}/config`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yml })
    .then(async (r) => { const body = await r.arrayBuffer(); if (r.status !== 201) throw new Error(`POST /config: ${r.status} ${Buffer.from(body).toString().slice(0, 300)}`); return performance.now() - t1 })
  const during2 = measure(`${dbless.admin}/status`, { until: post })
  const postMs = await post
  const lat2 = await during2
  const dblessServed = await servedAt(dbless.proxy, t1)
  say(`DB-less: POST /config 201 after ${secs(postMs)} (every worker serving it), proxy accepts the last key at ${secs(dblessServed)}`)
  say(`DB-less: Admin API during the load ${fmt(lat2)}`)

  if (quick) return
  const cpu = cpus()[0]?.model ?? 'unknown cpu'
  writeSection(join(ROOT, 'BENCHMARKS.md'), 'autocannon/import-100k', [
    `## Declarative import: ${N.toLocaleString('en-US')} consumers with key-auth (autocannon/import-100k.ts)`,
    '',
    `Sluice ${SLUICE_VERSION}, Node ${process.versions.node}, ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${new Date().toISOString().slice(0, 10)}. ` +
      `File: ${mb.toFixed(1)} MB of YAML, ${2 * N + 3} entities. Admin API latency: autocannon, GET /status at 100 requests/s on 2 connections. ` +
      `Load average when the run started: ${load0.toFixed(1)} (a shared machine: wall times grow with it).`,
    '',
    '| | time | Admin API baseline p50 / p99 / max | Admin API during p50 / p99 / max |',
    '| --- | --- | --- | --- |',
    `| \`sluice config db_import\` (${stmt !== null ? `${stmt[2]} statements, one transaction; database part ${stmt[3]} s` : 'one transaction'}) | ${secs(importMs)} | ${base1.p50} / ${base1.p99} / ${base1.max} ms | ${lat1.p50} / ${lat1.p99} / ${lat1.max} ms |`,
    `| ... until the running node serves it (one \`reload\` event, full reload) | ${secs(servedMs)} | | |`,
    `| DB-less \`POST /config\` (parse, validate, snapshot in piscina; 201 once every worker serves it) | ${secs(postMs)} | ${base2.p50} / ${base2.p99} / ${base2.max} ms | ${lat2.p50} / ${lat2.p99} / ${lat2.max} ms |`,
  ].join('\n'), '# Benchmarks\n')
  say('BENCHMARKS.md updated')
}

main().catch((err: unknown) => { process.stderr.write(`${(err as Error).stack ?? String(err)}\n`); process.exitCode = 1 })
  .finally(() => procs.stopAll())
