/**
 * Resident memory of the worker threads alone: the process-RSS difference between a node with 2
 * workers and one with 1 (autocannon/memory.ts, scenarios.ts) also carries the primary's state
 * (config cache, snapshot encoder garbage, pg pool), which varies by tens of MiB from one start to
 * the next. Here the main thread is only a supervisor: it builds the snapshot of a seeded database
 * (memory.ts --keep) as the primary does, collects its own garbage, and starts N workers through
 * primary/workers.ts Supervisor (the real spawn path, flags and resource limits included). Then
 * 3 s of load from a child process ((b) routes and, when the database has the `ka` route, key-auth keys), a 3 s pause,
 * a full GC of the main thread, and VmRSS sampled 5 times (median).
 *
 *   node --expose-gc --import tsx autocannon/memory-workers.ts --db NAME --workers N [--no-load]
 * It spawns through the Supervisor, so workers get Sluice's own young generation (96 MiB, resourceLimits);
 * a process-wide --max-semi-space-size flag overrides it. Compare --workers 1 with --workers 2.
 */
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { testServer } from '../test/helpers/pg.ts'
import { freePort } from '../test/helpers/ports.ts'
import { createPool } from '../src/db/pool.ts'
import { ConfigCache } from '../src/primary/config-cache.ts'
import { buildSnapshot } from '../src/primary/snapshot.ts'
import { loadConfig } from '../src/config/load.ts'
import { Supervisor } from '../src/primary/workers.ts'
import { measure, type Req } from './lib/bench.ts'
import { median, startUpstream, Procs } from './lib/servers.ts'
import { keyOf, requestFor, spread } from './lib/seed.ts'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string): string => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1]! : dflt }
const WORKERS = Number(opt('workers', '1'))
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`
const gcOrNull = (globalThis as { gc?: () => void }).gc
if (gcOrNull === undefined && argv[0] !== '--load-only') throw new Error('run with node --expose-gc')
const gc: () => void = gcOrNull ?? (() => {})
const rss = (): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024

async function main (): Promise<void> {
  const procs = new Procs()
  const up = await startUpstream(procs)
  const pool = createPool({ ...(await testServer()), database: opt('db', ''), timeoutMs: 60_000, max: 2 })
  await pool.query('update services set port = $1', [up.port])
  let cache: ConfigCache | null = new ConfigCache()
  await cache.loadEverything(pool)
  await pool.end()
  const routes = cache.tables.get('routes')!.size
  const consumers = cache.tables.get('consumers')!.size
  const keyAuth = [...cache.tables.get('routes')!.values()].some((r) => r.name === 'ka')
  const snap = buildSnapshot(cache, 1)
  const bytes = snap.bytes
  cache = null
  const port = await freePort()
  const config = loadConfig({ env: {}, overrides: { proxy_listen: `127.0.0.1:${port}`, nginx_worker_processes: String(WORKERS), log_level: 'warn', proxy_access_log: 'off', prefix: '/tmp' } })
  // V8 hands freed pages back to the OS from a background thread: settle before sampling.
  const settled = async (): Promise<number> => { gc(); await new Promise((resolve) => setTimeout(resolve, 2000)); gc(); return rss() }
  const before = await settled()
  const sup = new Supervisor(config)
  await sup.start({ version: 1, bytes })
  const ready = await settled()
  const reqs: Req[] = spread(routes - 2, 1000).map(requestFor)
  if (keyAuth) for (const j of spread(consumers, 1000)) reqs.push({ path: '/ka/hello', headers: { apikey: keyOf(j) } })
  const r0 = await request(`http://127.0.0.1:${port}${reqs[0]!.path}`, { headers: reqs[0]!.headers })
  await r0.body.dump()
  let load = 'no load'
  if (!argv.includes('--no-load')) {
    // The load generator runs in a child process: its buffers must not count in this process's RSS.
    const child = fork(fileURLToPath(import.meta.url), ['--load-only', String(port), String(process.pid), JSON.stringify(reqs)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
    const l = await new Promise<{ rps: number; cpuUs: number; errors: number }>((resolve, reject) => { child.once('message', resolve); child.once('error', reject) })
    load = `${l.rps.toFixed(0)} req/s, ${l.cpuUs.toFixed(1)} us CPU/req, ${l.errors} errors`
  }
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const samples: number[] = []
  for (let i = 0; i < 5; i++) {
    gc()
    samples.push(rss())
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  const m = median(samples)
  process.stdout.write(`workers ${WORKERS}: RSS ${mib(m)}; main thread alone ${mib(before)}, +${mib((ready - before) / WORKERS)} per worker when ready, +${mib((m - before) / WORKERS)} after the load (first request ${r0.statusCode}; ${load}; ${routes} routes, ${consumers} consumers${keyAuth ? ', key-auth' : ''})\n`)
  await sup.stop(1000)
  await procs.stopAll()
  process.exit(0)
}

if (argv[0] === '--load-only') {
  const l = await measure({ origin: `http://127.0.0.1:${argv[1]}`, requests: JSON.parse(argv[3]!) as Req[], connections: 100, seconds: 3, pids: [Number(argv[2])] })
  process.send!(l, () => process.exit(0))
} else {
  main().catch((err) => { process.stderr.write(`${(err as Error).stack}\n`); process.exit(1) })
}
