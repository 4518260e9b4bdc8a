/**
 * Rate-limiting load scenarios (issue 6), two parts:
 *
 * 1. Proxy cost, same run, interleaved rounds through one Sluice (own process, 2 workers): a route
 *    with no plugin, one with a plugin that does nothing for the request (the runtime's own cost),
 *    one with rate-limiting policy cluster, one with policy local (limits far above
 *    the load, so every request is proxied; one identifier: the hottest counter). While the cluster
 *    route is loaded, the statements PostgreSQL executes on the counter table are counted from
 *    pg_stat_user_tables (one counter: one row per statement).
 * 2. The writer alone at a fixed admission rate (default 20,000/s over 1,000 identifiers), the
 *    worker side simulated in this process on the real counter table and the real PostgreSQL
 *    writer: statements per second, rows per statement, flush latency, admitted vs limit.
 * 3. The handler alone (access phase against a minimal context, one thread): what the plugin's own
 *    work costs per request, apart from the plugin runtime and the bytes of its headers.
 *
 *   node --import tsx autocannon/ratelimit.ts                 8 rounds x 5 s, then 10 s of writer load
 *   node --import tsx autocannon/ratelimit.ts --quick         1 round x 3 s (does not write BENCHMARKS.md)
 *   options: --rounds N --duration S --connections N --rate N --keys N
 */
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import pg from 'pg'
import { request } from 'undici'
import { createTestDb } from '../test/helpers/pg.ts'
import { Procs, ROOT, median, say, startSluice, startUpstream } from './lib/servers.ts'
import { writeSection } from './lib/report.ts'
import { RateLimitWriter } from '../src/primary/ratelimit/writer.ts'
import { S_AVAIL, S_DEMAND, S_GEN, S_LIM } from '../src/common/ratelimit/counter-table.ts'
import { hashFinish, hashString, lanes } from '../src/common/ratelimit/hash.ts'
import { PG_STORE, type CounterKey } from '../src/common/ratelimit/keys.ts'
import { computeWindows, windowId } from '../src/common/ratelimit/windows.ts'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? Number(argv[i + 1]) : dflt
}
const quick = argv.includes('--quick')
const rounds = quick ? 1 : opt('rounds', 8)
const duration = quick ? 3 : opt('duration', 5)
const connections = opt('connections', 100)
const rate = opt('rate', 20_000)
const keys = opt('keys', 1000)
const procs = new Procs()

interface Load { rps: number; p50: number; p99: number; errors: number; cpuUsPerReq: number }

/** CPU time (user + system, all threads) of a process, in microseconds (Linux /proc). */
function cpuUs (pid: number | undefined): number {
  if (pid === undefined) return NaN
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) * (1e6 / 100) // utime, stime in clock ticks (USER_HZ = 100)
  } catch { return NaN }
}

/**
 * autocannon against `url`; also the gateway's CPU time per request, which a machine shared with
 * other load disturbs much less than req/s.
 */
function load (url: string, secs: number, pid?: number): Promise<Load> {
  const c0 = cpuUs(pid)
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: secs, pipelining: 1 }, (err, r) => {
      if (err !== null && err !== undefined) { reject(err); return }
      const cpu = (cpuUs(pid) - c0) / Math.max(1, r.requests.total)
      resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx, cpuUsPerReq: cpu })
    })
  })
}

async function post (admin: string, path: string, body: unknown): Promise<void> {
  const r = await request(admin + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (r.statusCode !== 201) throw new Error(`${path}: ${r.statusCode} ${await r.body.text()}`)
  await r.body.dump()
}

/** Part 1: no plugin vs rate-limiting cluster vs local, and the statements behind the cluster route. */
async function proxyCost (): Promise<string> {
  const { port: upstreamPort } = await startUpstream(procs)
  const sluice = await startSluice(procs, { workers: 2, upstreamPort })
  const admin = `http://127.0.0.1:${sluice.adminPort}`
  const huge = 2_000_000_000
  await post(admin, '/services/bench/routes', { name: 'rl-cluster', paths: ['/rl-cluster'] })
  await post(admin, '/routes/rl-cluster/plugins', { name: 'rate-limiting', config: { hour: huge, policy: 'cluster', limit_by: 'ip' } })
  // A plugin that does nothing for these requests: what any plugin on the route costs in the runtime.
  await post(admin, '/services/bench/routes', { name: 'noop', paths: ['/noop'] })
  await post(admin, '/routes/noop/plugins', { name: 'request-termination', config: { trigger: 'x-never-sent' } })
  await post(admin, '/services/bench/routes', { name: 'rl-local', paths: ['/rl-local'] })
  await post(admin, '/routes/rl-local/plugins', { name: 'rate-limiting', config: { hour: huge, policy: 'local', limit_by: 'ip' } })
  const base = `http://127.0.0.1:${sluice.proxyPort}`
  for (const p of ['/rl-cluster/x', '/rl-local/x']) {
    for (let i = 0; i < 200; i++) {
      const r = await request(base + p)
      await r.body.dump()
      if (r.headers['x-ratelimit-limit-hour'] !== undefined) break
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  // The database of this Sluice: the one its rate-limit writer is connected to.
  const { testServer } = await import('../test/helpers/pg.ts')
  const s = await testServer()
  const stat = new pg.Client({ ...s, password: s.password || undefined, database: 'postgres' })
  await stat.connect()
  procs.onStop(() => stat.end())
  const dbName = (await stat.query<{ datname: string }>("select datname from pg_stat_activity where application_name = 'sluice-ratelimit' limit 1")).rows[0]?.datname
  const counterWrites = async (): Promise<number> => {
    if (dbName === undefined) return NaN
    const c = new pg.Client({ ...s, password: s.password || undefined, database: dbName })
    await c.connect()
    try {
      await c.query('select pg_stat_force_next_flush()').catch(() => {})
      const r = await c.query<{ n: string }>("select (n_tup_ins + n_tup_upd)::text as n from pg_stat_user_tables where relname = 'ratelimiting_metrics'")
      return Number(r.rows[0]?.n ?? NaN)
    } finally { await c.end() }
  }

  const targets: Array<[string, string]> = [
    ['no plugin', `${base}/hello`],
    ['no-op plugin (request-termination, trigger absent)', `${base}/noop/hello`],
    ['rate-limiting cluster', `${base}/rl-cluster/hello`],
    ['rate-limiting local', `${base}/rl-local/hello`],
  ]
  const results = new Map<string, Load[]>(targets.map(([n]) => [n, []]))
  const statements: number[] = []
  for (const [, url] of targets) await load(url, 1)
  for (let r = 1; r <= rounds; r++) {
    // The order rotates every round, so drift on a shared machine does not favour one route.
    const order = targets.map((_, i) => targets[(i + r) % targets.length]!)
    for (const [name, url] of order) {
      const before = name === 'rate-limiting cluster' ? await counterWrites() : 0
      const t0 = Date.now()
      const res = await load(url, duration, sluice.child.pid)
      if (name === 'rate-limiting cluster') {
        await new Promise((resolve) => setTimeout(resolve, 1200)) // the stats of the last flushes
        statements.push((await counterWrites() - before) / ((Date.now() - t0) / 1000))
      }
      results.get(name)!.push(res)
      say(`round ${r}/${rounds} ${name}: ${Math.round(res.rps)} req/s, ${res.cpuUsPerReq.toFixed(1)} us CPU/req, p50 ${res.p50} ms, p99 ${res.p99} ms, errors ${res.errors}` +
        (name === 'rate-limiting cluster' ? `, counter-table writes ${statements.at(-1)!.toFixed(1)}/s` : ''))
    }
  }
  const med = (name: string): Load => {
    const rs = results.get(name)!
    return { rps: median(rs.map((x) => x.rps)), p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), errors: rs.reduce((a, x) => a + x.errors, 0), cpuUsPerReq: median(rs.map((x) => x.cpuUsPerReq)) }
  }
  // Per-round ratio against the no-plugin run of the same round, then the median of those.
  const ratio = (name: string): number => median(results.get(name)!.map((x, i) => x.rps / results.get('no plugin')![i]!.rps))
  const cpuRatio = (name: string): number => median(results.get(name)!.map((x, i) => x.cpuUsPerReq / results.get('no plugin')![i]!.cpuUsPerReq))
  const rows = targets.map(([name]) => {
    const m = med(name)
    return `| ${name} | ${Math.round(m.rps)} | ${(100 * (ratio(name) - 1)).toFixed(1)}% | ${m.cpuUsPerReq.toFixed(1)} | ${(100 * (cpuRatio(name) - 1)).toFixed(1)}% | ${m.p50} | ${m.p99} | ${m.errors} |`
  })
  return [
    '| route | req/s (median) | req/s vs no plugin | gateway CPU us/req (median) | CPU/req vs no plugin | p50 ms | p99 ms | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |', ...rows,
    '',
    'Ratios are medians of per-round ratios (each round runs the four routes back to back, order rotating). ' +
    'CPU/req is the Sluice process\'s user+system time over the requests served: the cost of the plugin in the gateway, ' +
    'which the other processes sharing the machine disturb far less than req/s.',
    '',
    `Counter-table writes (= statements: one counter, one row per statement) while the cluster route was loaded: ${statements.map((x) => x.toFixed(1)).join(', ')} per second (tick 100 ms).`,
  ].join('\n')
}

/** Part 2: the writer alone at `rate` admissions per second over `keys` identifiers. */
async function writerAlone (): Promise<string> {
  const db = await createTestDb()
  procs.onStop(() => db.drop())
  const w = new RateLimitWriter({ pg: { ...db.settings, timeoutMs: 2000 }, tickMs: 100 })
  procs.onStop(() => w.close())
  const changed: number[] = []
  w.onTotals((m) => { changed.push(m.slots.length) })
  const t = w.table
  const limit = 1_000_000
  const win = computeWindows(Date.now())
  const slots: number[] = []
  for (let k = 0; k < keys; k++) {
    hashString(`bench-${k}`)
    hashFinish(lanes[0]!, lanes[1]!, 2, windowId(win.start[2]!))
    const slot = t.findOrInsert(windowId(Date.now()), windowId(win.end[2]!) + 5, windowId(win.start[2]!), 2, limit)
    const key: CounterKey = {
      table: 'rl', store: PG_STORE, identifier: `bench-${k}`, period: 'hour', periodIndex: 2, windowStart: win.start[2]! / 1000,
      windowEnd: win.end[2]! / 1000, prevStart: null, serviceId: '00000000-0000-0000-0000-000000000000',
      routeId: '00000000-0000-0000-0000-000000000000', ttl: 3600, redisKey: '', redisPrevKey: null, syncMs: 0,
    }
    w.onDeltas({ type: 'rl-deltas', workerId: 0, slots: [slot], gens: [t.load(slot, S_GEN)], keys: [key], stores: [], wake: false })
    slots.push(slot)
  }
  let admitted = 0
  let refused = 0
  const statementsBefore = w.stats().statements_total
  const t0 = Date.now()
  const secs = quick ? 3 : 10
  await new Promise<void>((resolve) => {
    let i = 0
    const perMs = rate / 1000
    let due = 0
    const timer = setInterval(() => {
      const elapsed = Date.now() - t0
      if (elapsed >= secs * 1000) { clearInterval(timer); resolve(); return }
      due = Math.floor(elapsed * perMs)
      for (; i < due; i++) {
        const slot = slots[i % keys]!
        if (t.acquireHeld(slot) >= 0) admitted++
        else { refused++; t.add(slot, S_DEMAND, 1); if (t.load(slot, S_LIM) !== limit) t.store(slot, S_LIM, limit) }
      }
    }, 1)
  })
  const s = w.stats()
  const seconds = (Date.now() - t0) / 1000
  const stmts = s.statements_total - statementsBefore
  say(`writer alone: ${Math.round((admitted + refused) / seconds)} admissions/s tried (${admitted} admitted, ${refused} waited for quota), ` +
    `${stmts} statements in ${seconds.toFixed(1)} s = ${(stmts / seconds).toFixed(1)}/s, ${s.counters_per_flush} counters per flush, ` +
    `flush ${s.flush_latency_ms.mean} ms mean / ${s.flush_latency_ms.max} ms max`)
  return `The writer alone (worker side simulated on the real counter table, real PostgreSQL writer, tick 100 ms): ` +
    `${Math.round((admitted + refused) / seconds)} admissions/s over ${keys} identifiers for ${seconds.toFixed(0)} s -> ` +
    `**${(stmts / seconds).toFixed(1)} statements/s**, ${s.counters_per_flush} counters per statement, flush latency ` +
    `${s.flush_latency_ms.mean} ms mean, ${s.flush_latency_ms.max} ms max; ${refused} admissions found no quota yet (first of each key, then prefetch keeps up).`
}

/** Part 3: ns per access() call of the rate-limiting handler, local and cluster (quota held). */
async function handlerAlone (): Promise<string> {
  const { handler, prepare } = await import('../src/plugins/rate-limiting/handler.ts')
  const { rateLimitClient } = await import('../src/worker/ratelimit-client.ts')
  const env = { plugin: { id: 'p', name: 'rate-limiting', config: {}, enabled: true, protocols: null, route: null, service: null, consumer: null } } as never
  const headers: string[] = []
  const ctx = {
    exited: false, consumer: null, credential: null, serviceRow: null, path: '/', getHeader: () => 'a', forwardedIp: () => '127.0.0.1',
    setResponseHeader (k: string, v: string) { headers.push(k, v) }, error () { this.exited = true },
  }
  const run = (conf: Record<string, unknown>, identifier: string): number => {
    const c = prepare(conf, env)
    ctx.forwardedIp = () => identifier
    handler.access!(ctx as never, c) // creates the slot (cluster: parks once; quota granted below)
    const t = rateLimitClient.table
    for (let s = 0; s < t.capacity; s++) if (t.load(s, S_LIM) === 2_000_000_000 && t.load(s, S_AVAIL) === 0) t.grant(s, 1_000_000_000)
    const n = 2_000_000
    for (let i = 0; i < 100_000; i++) { headers.length = 0; handler.access!(ctx as never, c) }
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) { headers.length = 0; handler.access!(ctx as never, c) }
    return Number(process.hrtime.bigint() - t0) / n
  }
  const local = run({ hour: 2_000_000_000, limit_by: 'ip' }, 'l')
  const hidden = run({ hour: 2_000_000_000, limit_by: 'ip', hide_client_headers: true }, 'h')
  const cluster = run({ hour: 2_000_000_000, limit_by: 'ip', policy: 'cluster' }, 'c')
  say(`handler alone: local ${local.toFixed(0)} ns, local without headers ${hidden.toFixed(0)} ns, cluster ${cluster.toFixed(0)} ns per request`)
  return `The handler alone (access phase, minimal context, one thread, one identifier): local **${local.toFixed(0)} ns**, ` +
    `local with hide_client_headers ${hidden.toFixed(0)} ns, cluster (quota held) **${cluster.toFixed(0)} ns** per request.`
}

async function main (): Promise<void> {
  const cost = await proxyCost()
  say('\n' + cost)
  await procs.stopAll()
  const writer = await writerAlone()
  const alone = await handlerAlone()
  if (quick) { say('\n(--quick: BENCHMARKS.md not written)'); return }
  writeSection(join(ROOT, 'BENCHMARKS.md'), 'autocannon/ratelimit', `## Rate limiting (autocannon/ratelimit.ts)

Run on ${new Date().toISOString().slice(0, 10)}: ${cpus()[0]?.model ?? '?'} x ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.versions.node};
autocannon ${connections} connections in the benchmark process, ${rounds} interleaved rounds of ${duration} s (medians), Sluice with 2 workers in
its own process, upstream uWebSockets.js. Limits far above the load (every request proxied), one identifier (the hottest counter).

${cost}

${writer}

${alone}
`, '# Benchmarks\n')
  say('\nwrote BENCHMARKS.md (section autocannon/ratelimit)')
}

try {
  await main()
} finally {
  await procs.stopAll()
}
