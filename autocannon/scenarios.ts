/**
 * The scenarios of the performance issue (3) and the transport measurement of issue 11, in one run
 * so that every ratio compares figures taken minutes apart on the same machine:
 *
 *   (a) one route, no plugins               direct upstream, nginx, bare uWS + undici, Sluice undici / net / 1 worker
 *   (b) 10,000 routes (hosts, prefixes, regex paths, headers), requests spread over 1,000 of them
 *   (c) key-auth with 100,000 consumers, requests spread over 1,000 keys
 *   (d) key-auth + rate-limiting (policy cluster, limits far above the load)
 *   (e) 1 MiB responses, 1 MiB uploads (16 connections)
 *   (f) HTTPS (keep-alive; Sluice's generated default certificate, served by nginx too)
 *   (g) one Admin API change per second (PATCH of a route's paths) during (b), against (b) without
 *   then: p99 of Sluice and nginx at half of nginx's peak rate (autocannon fixed-rate), 1 vs 2 workers
 *   with autocannon pinned to CPU 1 and the servers to CPU 0, and resident memory per worker at
 *   10,000 routes + 100,000 consumers.
 *
 * Configurations at scale go in through `sluice config db_import` (lib/seed.ts). Sluice nodes of the
 * same configuration share one database (a cluster): `net` and `undici` nodes serve the same rows.
 * Rounds are interleaved (every cell once per round, order rotating); tables show medians and the
 * medians of per-round ratios. CPU per request is the target's process tree's user + system time
 * over the requests it served. Everything listens on 127.0.0.1; every load is fixed-time.
 *
 *   node --import tsx autocannon/scenarios.ts                3 rounds x 5 s, writes BENCHMARKS.md
 *   node --import tsx autocannon/scenarios.ts --quick        1 round x 2 s, 1,000 routes / consumers; prints only
 *   --rounds N --duration S --routes N --consumers N --connections N
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpus, loadavg } from 'node:os'
import { Agent, request } from 'undici'
import { createTestDb } from '../test/helpers/pg.ts'
import { freePort } from '../test/helpers/ports.ts'
import { defaultCertFiles } from '../src/common/tls-paths.ts'
import { processTree, rssBytes, setAffinity } from '../native-bench/lib/proc.ts'
import { Procs, ROOT, findSbin, median, say, startBare, startNginx, startSluice, startUpstream, which, type Sluice } from './lib/servers.ts'
import { f0, f1, f2, fx, heapPerWorker, heapText, machineLine, measure, medianOf, mib, treeLine, versionsLine, type Heap, type Load, type Req } from './lib/bench.ts'
import { keyOf, requestFor, seed, spread } from './lib/seed.ts'
import { mergeSubsections, readSection, writeSection } from './lib/report.ts'

const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? Number(argv[i + 1]) : dflt
}
const rounds = opt('rounds', quick ? 1 : 3)
const duration = opt('duration', quick ? 1 : 5)
const ROUTES = opt('routes', quick ? 1000 : 10_000)
const CONSUMERS = opt('consumers', quick ? 1000 : 100_000)
const connections = opt('connections', 100)
/** --only a,d,e: the cells of those scenarios (and phases g, rate, pin, memory only when named). */
const only = ((): Set<string> | null => { const i = argv.indexOf('--only'); return i >= 0 ? new Set(argv[i + 1]!.split(',')) : null })()
const want = (x: string): boolean => only === null || only.has(x)
const BIG_CONNECTIONS = 16
const SPREAD = 1000
const procs = new Procs()
const MB = Buffer.alloc(1 << 20, 'u')

interface Cell {
  id: string
  scenario: string
  label: string
  origin: string
  requests: Req[]
  connections: number
  pids: number[]
  servername?: string
}

const results = new Map<string, Load[]>()
const record = (id: string, l: Load): void => { const a = results.get(id) ?? []; a.push(l); results.set(id, a) }
const med = (id: string): Load | null => { const a = results.get(id); return a === undefined || a.length === 0 ? null : medianOf(a) }
/** Median of per-round ratios of a field (rounds paired by index). */
function ratio (a: string, b: string, field: 'rps' | 'cpuUs' | 'p99' = 'rps'): number {
  const xs = results.get(a) ?? []
  const ys = results.get(b) ?? []
  const rs: number[] = []
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) if (ys[i]![field] > 0) rs.push(xs[i]![field] / ys[i]![field])
  return rs.length === 0 ? NaN : median(rs)
}

async function run (c: Cell, seconds: number, rate?: number): Promise<Load> {
  return await measure({ origin: c.origin, requests: c.requests, connections: c.connections, seconds, pids: c.pids, ...(rate !== undefined ? { rate } : {}), ...(c.servername !== undefined ? { servername: c.servername } : {}) })
}

async function check (c: Cell): Promise<string | null> {
  const r0 = c.requests[0]!
  try {
    const dispatcher = c.origin.startsWith('https:') ? new Agent({ connect: { rejectUnauthorized: false, servername: c.servername } }) : undefined
    const r = await request(c.origin + r0.path, { method: (r0.method ?? 'GET') as 'GET', headers: r0.headers, body: r0.body, dispatcher })
    const body = await r.body.arrayBuffer()
    if (r.statusCode !== 200) return `${r.statusCode} ${Buffer.from(body).toString().slice(0, 200)}`
    return null
  } catch (err) { return (err as Error).message }
}

function say2 (c: Cell, l: Load, prefix: string): void {
  say(`${prefix} ${c.scenario} ${c.label}: ${f0(l.rps)} req/s, p50 ${f2(l.p50)} p99 ${f2(l.p99)} ms, CPU ${f1(l.cpuUs)} us/req, ${l.mbps >= 10 ? `${f0(l.mbps)} MB/s, ` : ''}errors ${l.errors}, load ${f1(l.load1)}`)
}

async function post (admin: string, path: string, body: unknown, method = 'POST'): Promise<number> {
  const r = await request(admin + path, { method: method as 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  await r.body.dump()
  return r.statusCode
}


/** The scenario keys (`--only` names) a `### ` subsection of the report shows. */
function subsectionKeys (heading: string): string[] {
  const h = heading.slice(4)
  if (h.startsWith('(a)')) return ['a']
  if (h.startsWith('(b)')) return ['b']
  if (h.startsWith('(c)')) return ['c', 'd']
  if (h.startsWith('(e)')) return ['e']
  if (h.startsWith('(f)')) return ['f']
  if (h.startsWith('(g)')) return ['g']
  if (h.startsWith('p99 at half')) return ['rate']
  if (h.startsWith('Workers')) return ['a', 'pin']
  if (h.startsWith('Memory')) return ['memory']
  if (h.startsWith('Issue 11')) return ['a', 'b', 'd', 'e']
  return []
}

/** The last run's results (autocannon/scenarios.json), or null. */
function previousResults (): { results: Record<string, Load[]>; memory?: unknown } | null {
  const file = join(ROOT, 'autocannon/scenarios.json')
  if (!existsSync(file)) return null
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { results: Record<string, Load[]>; memory?: unknown }
  } catch {
    return null
  }
}

async function main (): Promise<void> {
  const load0 = loadavg()[0]!
  const t0 = Date.now()
  say(`scenarios: ${rounds} round(s) x ${duration} s, ${ROUTES} routes, ${CONSUMERS} consumers, load average ${load0.toFixed(2)}`)
  const up = await startUpstream(procs)
  const upstreamPort = up.port

  // ---- configurations, through db_import
  const dbS = await createTestDb()
  procs.onStop(() => dbS.drop())
  const dbB = await createTestDb()
  procs.onStop(() => dbB.drop())
  const huge = 2_000_000_000
  const small = ['- name: bench', `  url: http://127.0.0.1:${upstreamPort}`, '  routes:', '  - name: bench', '    paths: [/]',
    '  - name: ka', '    paths: [/ka]', '    plugins:', '    - name: key-auth',
    '  - name: karl', '    paths: [/karl]', '    plugins:', '    - name: key-auth', '    - name: rate-limiting', `      config: { hour: ${huge}, policy: cluster, limit_by: consumer }`]
  const churnSvc = ['- name: churn', `  url: http://127.0.0.1:${upstreamPort}`, '  routes:', '  - name: churn', '    paths: [/churn/0]']
  const tS = await seed(dbS, { upstreamPort, routes: 0, consumers: CONSUMERS, extraServices: small })
  say(`db_import: ${CONSUMERS} consumers + 3 routes in ${(tS / 1000).toFixed(1)} s`)
  const tB = await seed(dbB, { upstreamPort, routes: ROUTES, consumers: CONSUMERS, extraServices: churnSvc })
  say(`db_import: ${ROUTES} routes + ${CONSUMERS} consumers in ${(tB / 1000).toFixed(1)} s`)

  // ---- nodes (started together: each loads its snapshot at once)
  const statusS = await freePort()
  const statusB = await freePort()
  const timeoutMs = 300_000
  const bigReady = requestFor(2).path
  const [sU, sN, s1, bU, bN] = await Promise.all([
    startSluice(procs, { workers: 2, upstreamPort, db: dbS, https: true, statusPort: statusS, env: { SLUICE_UPSTREAM_TRANSPORT: 'undici' }, timeoutMs }),
    startSluice(procs, { workers: 2, upstreamPort, db: dbS, env: { SLUICE_UPSTREAM_TRANSPORT: 'net' }, timeoutMs }),
    startSluice(procs, { workers: 1, upstreamPort, db: dbS, env: { SLUICE_UPSTREAM_TRANSPORT: 'undici' }, timeoutMs }),
    startSluice(procs, { workers: 2, upstreamPort, db: dbB, readyPath: bigReady, statusPort: statusB, env: { SLUICE_UPSTREAM_TRANSPORT: 'undici' }, timeoutMs }),
    startSluice(procs, { workers: 2, upstreamPort, db: dbB, readyPath: bigReady, env: { SLUICE_UPSTREAM_TRANSPORT: 'net' }, timeoutMs }),
  ]) as [Sluice, Sluice, Sluice, Sluice, Sluice]
  say(`5 Sluice nodes serving after ${((Date.now() - t0) / 1000).toFixed(0)} s`)
  const tls = defaultCertFiles(sU.prefix)
  const nginx = await startNginx(procs, { upstreamPort, workers: 2, tls })
  const bare = await startBare(procs, { upstreamPort, workers: 2 })

  // ---- cells
  const http = (p: number): string => `http://127.0.0.1:${p}`
  const one: Req[] = [{ path: '/hello' }]
  const routeReqs = spread(ROUTES, SPREAD).map(requestFor)
  const keys = spread(CONSUMERS, SPREAD)
  const kaReqs: Req[] = keys.map((j) => ({ path: '/ka/hello', headers: { apikey: keyOf(j) } }))
  const karlReqs: Req[] = keys.map((j) => ({ path: '/karl/hello', headers: { apikey: keyOf(j) } }))
  const down: Req[] = [{ path: '/1mb' }]
  const upload: Req[] = [{ method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' }, body: MB }]
  const pidOf = (s: { child: { pid?: number } }): number[] => [s.child.pid!]
  const cells: Cell[] = [
    { id: 'a/direct', scenario: 'a', label: 'direct upstream', origin: http(upstreamPort), requests: one, connections, pids: [up.child.pid!] },
    ...(nginx !== null ? [{ id: 'a/nginx', scenario: 'a', label: 'nginx proxy_pass (2 workers)', origin: http(nginx.port), requests: one, connections, pids: pidOf(nginx) }] : []),
    { id: 'a/bare', scenario: 'a', label: 'bare uWS + undici (2 workers)', origin: http(bare.port), requests: one, connections, pids: pidOf(bare) },
    { id: 'a/undici', scenario: 'a', label: 'sluice undici (2 workers)', origin: http(sU.proxyPort), requests: one, connections, pids: pidOf(sU) },
    { id: 'a/net', scenario: 'a', label: 'sluice net (2 workers)', origin: http(sN.proxyPort), requests: one, connections, pids: pidOf(sN) },
    { id: 'a/1w', scenario: 'a', label: 'sluice undici (1 worker)', origin: http(s1.proxyPort), requests: one, connections, pids: pidOf(s1) },
    { id: 'b/undici', scenario: 'b', label: `sluice undici, ${ROUTES} routes`, origin: http(bU.proxyPort), requests: routeReqs, connections, pids: pidOf(bU) },
    { id: 'b/net', scenario: 'b', label: `sluice net, ${ROUTES} routes`, origin: http(bN.proxyPort), requests: routeReqs, connections, pids: pidOf(bN) },
    { id: 'c/undici', scenario: 'c', label: `sluice undici, key-auth, ${CONSUMERS} consumers`, origin: http(sU.proxyPort), requests: kaReqs, connections, pids: pidOf(sU) },
    { id: 'd/undici', scenario: 'd', label: 'sluice undici, key-auth + rate-limiting cluster', origin: http(sU.proxyPort), requests: karlReqs, connections, pids: pidOf(sU) },
    { id: 'd/net', scenario: 'd', label: 'sluice net, key-auth + rate-limiting cluster', origin: http(sN.proxyPort), requests: karlReqs, connections, pids: pidOf(sN) },
    { id: 'e/down/direct', scenario: 'e', label: '1 MiB responses, direct', origin: http(upstreamPort), requests: down, connections: BIG_CONNECTIONS, pids: [up.child.pid!] },
    ...(nginx !== null ? [{ id: 'e/down/nginx', scenario: 'e', label: '1 MiB responses, nginx', origin: http(nginx.port), requests: down, connections: BIG_CONNECTIONS, pids: pidOf(nginx) }] : []),
    { id: 'e/down/undici', scenario: 'e', label: '1 MiB responses, sluice undici', origin: http(sU.proxyPort), requests: down, connections: BIG_CONNECTIONS, pids: pidOf(sU) },
    { id: 'e/down/net', scenario: 'e', label: '1 MiB responses, sluice net', origin: http(sN.proxyPort), requests: down, connections: BIG_CONNECTIONS, pids: pidOf(sN) },
    { id: 'e/up/direct', scenario: 'e', label: '1 MiB uploads, direct', origin: http(upstreamPort), requests: upload, connections: BIG_CONNECTIONS, pids: [up.child.pid!] },
    ...(nginx !== null ? [{ id: 'e/up/nginx', scenario: 'e', label: '1 MiB uploads, nginx (proxy_request_buffering off)', origin: http(nginx.port), requests: upload, connections: BIG_CONNECTIONS, pids: pidOf(nginx) }] : []),
    { id: 'e/up/undici', scenario: 'e', label: '1 MiB uploads, sluice undici', origin: http(sU.proxyPort), requests: upload, connections: BIG_CONNECTIONS, pids: pidOf(sU) },
    { id: 'e/up/net', scenario: 'e', label: '1 MiB uploads, sluice net', origin: http(sN.proxyPort), requests: upload, connections: BIG_CONNECTIONS, pids: pidOf(sN) },
    ...(nginx !== null ? [{ id: 'f/nginx', scenario: 'f', label: 'HTTPS, nginx', origin: `https://127.0.0.1:${nginx.tlsPort}`, requests: one, connections, pids: pidOf(nginx), servername: 'localhost' }] : []),
    { id: 'f/undici', scenario: 'f', label: 'HTTPS, sluice undici', origin: `https://127.0.0.1:${sU.tlsPort}`, requests: one, connections, pids: pidOf(sU), servername: 'localhost' },
  ]
  for (const c of [...cells]) if (!want(c.scenario)) cells.splice(cells.indexOf(c), 1)
  for (const c of [...cells]) {
    const bad = await check(c)
    if (bad !== null) { say(`${c.id}: left out: the first request answered ${bad}`); cells.splice(cells.indexOf(c), 1) }
  }

  // ---- warm-up (JIT, keep-alive pools, rate-limit quota of every key), then interleaved rounds
  for (const c of cells) await run(c, quick ? 0.5 : 2)
  for (let r = 1; r <= rounds; r++) {
    const order = cells.map((_, i) => cells[(i + (r - 1) * 5) % cells.length]!)
    for (const c of order) {
      const l = await run(c, duration)
      record(c.id, l)
      say2(c, l, `round ${r}/${rounds}`)
    }
  }

  // ---- (g): churn at ROUTES routes; the net node of that database leaves first (it would rebuild too)
  await procs.stop(bN.child)
  const gBase: Cell = { id: 'b/undici', scenario: 'b', label: `sluice undici, ${ROUTES} routes`, origin: http(bU.proxyPort), requests: routeReqs, connections, pids: pidOf(bU) }
  const admin = http(bU.adminPort)
  let changes = 0
  let failed = 0
  for (let r = 1; r <= (want('g') ? rounds : 0); r++) {
    for (const churn of r % 2 === 1 ? [false, true] : [true, false]) {
      let timer: NodeJS.Timeout | null = null
      if (churn) {
        timer = setInterval(() => {
          const n = ++changes
          post(admin, '/routes/churn', { paths: [`/churn/${n}`] }, 'PATCH').then((s) => { if (s !== 200) failed++ }, () => { failed++ })
        }, 1000)
      }
      const l = await run(gBase, quick ? 2 : Math.max(duration, 5))
      if (timer !== null) clearInterval(timer)
      record(churn ? 'g/churn' : 'g/quiet', l)
      say2(gBase, l, `round ${r}/${rounds} (g) ${churn ? 'with one change/s' : 'no changes'}:`)
    }
  }
  const servedChurn = await request(`${http(bU.proxyPort)}/churn/${changes}`).then(async (r) => { await r.body.dump(); return r.statusCode }, () => 0)

  // ---- p99 at half of nginx's peak (fixed rate)
  const nginxPeak = med('a/nginx')?.rps ?? NaN
  const rate = Math.round(Number.isFinite(nginxPeak) ? nginxPeak / 2 : ((med('a/undici')?.rps ?? 20_000) / 2))
  const fixedCells = cells.filter((c) => ['a/nginx', 'a/undici', 'a/net', 'a/bare'].includes(c.id))
  for (let r = 1; r <= (want('rate') ? rounds : 0); r++) {
    for (const c of fixedCells.map((_, i) => fixedCells[(i + r - 1) % fixedCells.length]!)) {
      const l = await run(c, duration, rate)
      record(`rate/${c.id}`, l)
      say2(c, l, `round ${r}/${rounds} at ${rate} req/s:`)
    }
  }

  // ---- 1 vs 2 workers with the load generator pinned: autocannon (this process) on CPU 1, servers on CPU 0
  const canPin = which('taskset') !== null && cpus().length >= 2
  const pinCells = cells.filter((c) => ['a/undici', 'a/1w', 'a/nginx'].includes(c.id))
  if (canPin && want('pin')) {
    const servers = [up.child.pid!, ...pinCells.flatMap((c) => c.pids)].flatMap((p) => processTree(p))
    setAffinity(servers, '0')
    setAffinity([process.pid], '1')
    try {
      for (let r = 1; r <= rounds; r++) {
        for (const c of pinCells.map((_, i) => pinCells[(i + r - 1) % pinCells.length]!)) {
          const l = await run(c, duration)
          record(`pin/${c.id}`, l)
          say2(c, l, `round ${r}/${rounds} pinned:`)
        }
      }
    } finally {
      setAffinity(servers, `0-${cpus().length - 1}`)
      setAffinity([process.pid], `0-${cpus().length - 1}`)
    }
  } else say('taskset missing (apt-get install util-linux) or one CPU: no pinned pass')

  // ---- memory per worker at ROUTES routes + CONSUMERS consumers: a 1-worker node beside the 2-worker one
  let rss2 = NaN; let rss1 = NaN; let rssS = NaN; let rssS1 = NaN
  let heap2: Heap[] = []; let heap1: Heap[] = []
  const rssSamples: Array<[number, number]> = []
  if (want('memory')) {
    rssS = rssBytes(processTree(sU.child.pid!))
    rssS1 = rssBytes(processTree(s1.child.pid!))
    // Two fresh nodes with the same history (start, the same load, the same wait), one with 1 worker
    // and one with 2; everything else stops first so that they start and settle alike.
    for (const n of [sU, sN, s1, bU]) await procs.stop(n.child)
    const [st1, st2] = [await freePort(), await freePort()]
    const [m1, m2] = await Promise.all([
      startSluice(procs, { workers: 1, upstreamPort, db: dbB, readyPath: bigReady, statusPort: st1, timeoutMs }),
      startSluice(procs, { workers: 2, upstreamPort, db: dbB, readyPath: bigReady, statusPort: st2, timeoutMs }),
    ])
    for (const m of [m1, m2]) await run({ ...gBase, origin: http(m.proxyPort), pids: pidOf(m) }, quick ? 1 : 3)
    await new Promise((resolve) => setTimeout(resolve, 3000)) // a metrics tick after the load
    for (let i = 0; i < 5; i++) {
      rssSamples.push([rssBytes(processTree(m1.child.pid!)), rssBytes(processTree(m2.child.pid!))])
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    rss1 = median(rssSamples.map((x) => x[0]))
    rss2 = median(rssSamples.map((x) => x[1]))
    heap1 = await heapPerWorker(st1)
    heap2 = await heapPerWorker(st2)
  }
  say(`memory: ${ROUTES} routes + ${CONSUMERS} consumers: RSS 2 workers ${mib(rss2)}, 1 worker ${mib(rss1)}, per worker ${mib(rss2 - rss1)}; heap per worker ${heapText(heap2)} | ${heapText(heap1)}`)

  // ---- report
  // --only: the cells not re-run keep their figures of the last full run (scenarios.json), so that
  // tables comparing with them (x (a), issue 11) stay filled; only the re-run subsections are rewritten.
  const previous = only !== null ? previousResults() : null
  const measured = new Set(results.keys())
  if (previous !== null) for (const [id, loads] of Object.entries(previous.results)) if (!results.has(id)) results.set(id, loads)
  const load1 = loadavg()[0]!
  const elapsed = (Date.now() - t0) / 1000
  const row = (id: string, label: string, extra: (m: Load) => string[]): string => {
    const m = med(id)
    if (m === null) return `| ${label} | not measured | | | | |`
    return `| ${label} | ${f0(m.rps)} | ${f2(m.p50)} | ${f2(m.p99)} | ${f1(m.cpuUs)} | ${extra(m).join(' | ')} | ${m.errors} | ${f1(m.load1)} |`
  }
  const head = (extra: string[]): string => [`| target | req/s | p50 ms | p99 ms | CPU us/req | ${extra.join(' | ')} | errors | load avg |`, `| --- | --- | --- | --- | --- | ${extra.map(() => '---').join(' | ')} | --- | --- |`].join('\n')
  const aRows = [['a/direct', 'direct upstream (CPU: the upstream)'], ['a/nginx', 'nginx proxy_pass, 2 workers'], ['a/bare', 'bare uWS + undici, 2 workers'],
    ['a/undici', 'Sluice, undici, 2 workers'], ['a/net', 'Sluice, net, 2 workers'], ['a/1w', 'Sluice, undici, 1 worker']]
  const tableA = [head(['x direct', 'x nginx', 'x bare']), ...aRows.map(([id, label]) => row(id!, label!, () => [fx(ratio(id!, 'a/direct')), fx(ratio(id!, 'a/nginx')), fx(ratio(id!, 'a/bare'))]))].join('\n')
  const vsA = (id: string, base: string): string[] => [fx(ratio(id, base)), fx(ratio(id, base, 'cpuUs'))]
  const tableB = [head(['RPS x (a) same transport', 'CPU/req x (a)']), row('b/undici', `Sluice undici, ${ROUTES} routes`, () => vsA('b/undici', 'a/undici')), row('b/net', `Sluice net, ${ROUTES} routes`, () => vsA('b/net', 'a/net'))].join('\n')
  const tableCD = [head(['RPS x (a)', 'CPU/req x (a)', 'RPS x (c)']),
    row('c/undici', `key-auth, ${CONSUMERS} consumers (undici)`, () => [...vsA('c/undici', 'a/undici'), '1.00x']),
    row('d/undici', 'key-auth + rate-limiting cluster (undici)', () => [...vsA('d/undici', 'a/undici'), fx(ratio('d/undici', 'c/undici'))]),
    row('d/net', 'key-auth + rate-limiting cluster (net)', () => [...vsA('d/net', 'a/net'), 'n/a'])].join('\n')
  const eRow = (id: string, label: string, nginxId: string): string => {
    const m = med(id)
    if (m === null) return `| ${label} | not measured | | | | | | |`
    return `| ${label} | ${f0(m.rps)} | ${f0(m.mbps)} | ${f2(m.p50)} | ${f2(m.p99)} | ${f1(m.cpuUs)} | ${fx(ratio(id, nginxId))} | ${m.errors} |`
  }
  const tableE = ['| target | req/s | MB/s received | p50 ms | p99 ms | CPU us/req | x nginx | errors |', '| --- | --- | --- | --- | --- | --- | --- | --- |',
    eRow('e/down/direct', 'responses: direct', 'e/down/nginx'), eRow('e/down/nginx', 'responses: nginx', 'e/down/nginx'), eRow('e/down/undici', 'responses: Sluice undici', 'e/down/nginx'), eRow('e/down/net', 'responses: Sluice net', 'e/down/nginx'),
    eRow('e/up/direct', 'uploads: direct', 'e/up/nginx'), eRow('e/up/nginx', 'uploads: nginx', 'e/up/nginx'), eRow('e/up/undici', 'uploads: Sluice undici', 'e/up/nginx'), eRow('e/up/net', 'uploads: Sluice net', 'e/up/nginx')].join('\n')
  const tableF = [head(['x nginx HTTPS', 'RPS x own plain HTTP', 'CPU/req x own plain HTTP']),
    row('f/nginx', 'nginx, HTTPS', () => ['1.00x', fx(ratio('f/nginx', 'a/nginx')), fx(ratio('f/nginx', 'a/nginx', 'cpuUs'))]),
    row('f/undici', 'Sluice undici, HTTPS', () => [fx(ratio('f/undici', 'f/nginx')), fx(ratio('f/undici', 'a/undici')), fx(ratio('f/undici', 'a/undici', 'cpuUs'))])].join('\n')
  const tableG = [head(['p99 x without churn', 'RPS x without churn']), row('g/quiet', `no changes (${ROUTES} routes)`, () => ['1.00x', '1.00x']),
    row('g/churn', 'one PATCH /routes/{name} per second', () => [fx(ratio('g/churn', 'g/quiet', 'p99')), fx(ratio('g/churn', 'g/quiet'))])].join('\n')
  const rateRow = (id: string, label: string): string => {
    const m = med(`rate/${id}`)
    if (m === null) return `| ${label} | not measured | | | | |`
    const n = med('rate/a/nginx')
    return `| ${label} | ${f0(m.rps)} | ${f2(m.p50)} | ${f2(m.p90)} | ${f2(m.p99)} | ${n !== null ? f2(m.p99 - n.p99) : 'n/a'} | ${f1(m.cpuUs)} |`
  }
  const tableRate = ['| target | req/s achieved | p50 ms | p90 ms | p99 ms | p99 - nginx p99 (ms) | CPU us/req |', '| --- | --- | --- | --- | --- | --- | --- |',
    rateRow('a/nginx', 'nginx proxy_pass'), rateRow('a/bare', 'bare uWS + undici'), rateRow('a/undici', 'Sluice undici'), rateRow('a/net', 'Sluice net')].join('\n')
  const wRow = (id: string, label: string, pfx: string): string => {
    const m = med(pfx + id)
    return m === null ? `| ${label} | not measured | | |` : `| ${label} | ${f0(m.rps)} | ${f2(m.p99)} | ${f1(m.cpuUs)} |`
  }
  const tableW = ['| layout | target | req/s | p99 ms | CPU us/req |', '| --- | --- | --- | --- | --- |',
    ...[['', 'unpinned'], ['pin/', 'autocannon on CPU 1, servers on CPU 0']].flatMap(([pfx, layout]) =>
      [['a/1w', 'Sluice, 1 worker'], ['a/undici', 'Sluice, 2 workers'], ['a/nginx', 'nginx, 2 workers']].map(([id, label]) => wRow(id!, `${layout} | ${label}`, pfx!)))].join('\n')
  const scaleU = ratio('a/undici', 'a/1w')
  const scaleP = ratio('pin/a/undici', 'pin/a/1w')

  // issue 11
  const pairs: Array<[string, string, string]> = [['(a) one route', 'a/undici', 'a/net'], [`(b) ${ROUTES} routes`, 'b/undici', 'b/net'], ['(d) key-auth + rate-limiting', 'd/undici', 'd/net'],
    ['(e) 1 MiB responses', 'e/down/undici', 'e/down/net'], ['(e) 1 MiB uploads', 'e/up/undici', 'e/up/net']]
  const tRows = pairs.map(([label, u, n]) => {
    const mu = med(u); const mn = med(n)
    if (mu === null || mn === null) return `| ${label} | not measured | | | | | |`
    return `| ${label} | ${f0(mu.rps)} | ${f0(mn.rps)} | **${fx(ratio(n, u))}** | ${f2(mu.p99)} / ${f2(mn.p99)} | ${f1(mu.cpuUs)} / ${f1(mn.cpuUs)} | ${fx(ratio(n, u, 'cpuUs'))} |`
  })
  const netA = ratio('a/net', 'a/undici')
  const others = pairs.slice(1).map(([label, u, n]) => [label, ratio(n, u)] as const)
  const slower = others.filter(([, x]) => Number.isFinite(x) && x < 1)
  const verdict = `net/undici on (a): ${fx(netA)} (rule: >= 1.20x); elsewhere: ${others.map(([l, x]) => `${l} ${fx(x)}`).join(', ')} (rule: no slower). ` +
    (netA >= 1.2 && slower.length === 0 ? 'By the rule, under autocannon too, `net` qualifies as the default.' : `Under autocannon alone \`net\` would not qualify${netA < 1.2 ? ' (short of 1.20x on one route)' : ''}${slower.length > 0 ? ` (below 1.00x on ${slower.map(([l]) => l).join(', ')})` : ''}.`) +
    ' These req/s are bounded by autocannon, a JavaScript load generator on the same 2 CPUs; the decision (net, the default since session 4) rests on wrk: section autocannon/cpu-scenarios.'
  const tableT = ['| scenario | undici req/s | net req/s | net / undici RPS | p99 ms undici / net | CPU us/req undici / net | net / undici CPU/req |', '| --- | --- | --- | --- | --- | --- | --- |', ...tRows,
    `| nginx (a), for scale | ${f0(med('a/nginx')?.rps ?? NaN)} | | undici ${fx(ratio('a/undici', 'a/nginx'))}, net ${fx(ratio('a/net', 'a/nginx'))} of nginx | | ${f1(med('a/nginx')?.cpuUs ?? NaN)} | |`,
    `| bare uWS + undici (a), for scale | ${f0(med('a/bare')?.rps ?? NaN)} | | undici ${fx(ratio('a/undici', 'a/bare'))}, net ${fx(ratio('a/net', 'a/bare'))} of bare | | ${f1(med('a/bare')?.cpuUs ?? NaN)} | |`].join('\n')

  const mem = `At ${ROUTES} routes + ${CONSUMERS} consumers (each with a key-auth credential): two fresh nodes on the same database, one with 1
worker and one with 2, started together, ${quick ? 1 : 3} s of (b) load each, then VmRSS sampled 5 times (medians; threads share one
address space, so a thread has no RSS of its own):

| | 1 worker | 2 workers | difference: one more worker |
| --- | --- | --- | --- |
| process RSS | ${mib(rss1)} | ${mib(rss2)} | **${mib(rss2 - rss1)}** |
| V8 heap of each worker (status API \`sluice_worker_heap_bytes\`) | ${heapText(heap1)} | ${heapText(heap2)} | |

RSS samples (1 worker, 2 workers): ${rssSamples.map(([x, y]) => `${mib(x)} / ${mib(y)}`).join('; ')}. The primary's share (config cache of every row,
snapshot encoder, Admin API, pg pool) is in both. For scale, with 3 routes and the same ${CONSUMERS} consumers the nodes of the run measured
${mib(rssS)} (2 workers, HTTPS listener too) and ${mib(rssS1)} (1 worker) after the rounds. Goal: < 150 MB per worker.`

  const md = `## Scenarios (a)-(g), transports, workers, memory (autocannon/scenarios.ts)

Generated by \`${`node --import tsx autocannon/scenarios.ts ${argv.join(' ')}`.trim()}\` on ${new Date().toISOString().slice(0, 10)} in ${(elapsed / 60).toFixed(1)} min.
- Machine: ${machineLine()}; 1-minute load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end (other sessions' tests share the 2 CPUs:
  read ratios and CPU per request, not absolute req/s). Each row's \`load avg\` is the median at the end of its runs.
- ${versionsLine(findSbin('nginx'))}; ${treeLine()}
- Load: autocannon in the benchmark process, ${connections} connections (1 MiB scenarios: ${BIG_CONNECTIONS}), pipelining 1, ${duration} s per cell,
  ${rounds} interleaved round(s) over all cells (order rotating), warm-up before; upstream: uWebSockets.js (autocannon/upstream.ts), 13-byte bodies.
  Figures are medians; ratios (\`x ...\`) are medians of per-round ratios. Latency: hdr histogram of every 2xx response in us.
  CPU us/req: user + system time of the target's processes (Sluice: primary + workers) over the requests it served.
- Configuration: \`sluice config db_import\` of a kong.yml (autocannon/lib/seed.ts): ${CONSUMERS} consumers + 3 routes took ${(tS / 1000).toFixed(1)} s, ${ROUTES} routes
  (hosts, wildcard hosts, prefixes, regex paths, header matches) + ${CONSUMERS} consumers ${(tB / 1000).toFixed(1)} s. Sluice nodes of one configuration share its database.

### (a) one route, no plugins

${tableA}

### (b) ${ROUTES} routes, requests spread over ${routeReqs.length} of them (all five kinds)

${tableB}

Goal: 10,000 routes cost <= 5 % RPS against one route.

### (c) key-auth with ${CONSUMERS} consumers, (d) key-auth + rate-limiting (cluster), requests spread over ${keys.length} keys

${tableCD}

Goal: (d) >= 0.9x (a).

### (e) 1 MiB bodies, ${BIG_CONNECTIONS} connections

${tableE}

### (f) HTTPS (TLS 1.3, keep-alive connections: the handshake is paid once per connection)

${tableF}

### (g) one Admin API change per second during load at ${ROUTES} routes

${tableG}

${changes} changes sent during the churn rounds (${failed} failed); the last one was served by the proxy afterwards: ${servedChurn === 200 ? 'yes' : `no (${servedChurn})`}.
Goal: p99 during churn <= 1.5x p99 without.

### p99 at half of nginx's peak rate (${rate} req/s, autocannon fixed rate over ${connections} connections, coordinated omission corrected)

${tableRate}

Goal: Sluice p99 no more than 1 ms above nginx's.

### Workers: 1 vs 2 (scenario (a))

${tableW}

Scaling 2 workers / 1 worker: ${fx(scaleU)} unpinned, ${fx(scaleP)} with autocannon pinned to its own CPU (then both workers, the upstream and the
primary share CPU 0, so a second worker cannot add CPU: this layout shows the cost of a second thread, not its gain).

### Memory per worker

${mem}

### Issue 11: \`upstream_transport\` = net vs undici (same run, same database, same load)

${tableT}

${verdict}
`
  say('\n' + md)
  if (quick) { say('(--quick: BENCHMARKS.md not written)'); return }
  const benchFile = join(ROOT, 'BENCHMARKS.md')
  let body = md
  if (only !== null) {
    const old = existsSync(benchFile) ? readSection(readFileSync(benchFile, 'utf8'), 'autocannon/scenarios') : null
    const ran = [...only].join(',')
    body = mergeSubsections(old, md, (h) => subsectionKeys(h).some((k) => only.has(k)), (h) => h.slice(4, 8),
      `- Re-run with \`--only ${ran}\` on ${new Date().toISOString().slice(0, 10)} (${treeLine()}, load average ${load0.toFixed(1)}-${load1.toFixed(1)}, ${rounds} round(s) x ${duration} s): ` +
      `only the subsections of ${ran} were rewritten; their ratios against scenarios not re-run use those scenarios' earlier figures.`)
  }
  writeSection(benchFile, 'autocannon/scenarios', body, '# Benchmarks\n')
  const memory = only !== null && !want('memory') && previous?.memory !== undefined ? previous.memory : { rss2, rss1, heap2, heap1, rssS, rssS1, rssSamples }
  const kept = only !== null ? [...results].filter(([id]) => measured.has(id) || previous?.results[id] !== undefined) : [...results]
  writeFileSync(join(ROOT, 'autocannon/scenarios.json'), JSON.stringify({ generatedAt: new Date().toISOString(), rounds, duration, routes: ROUTES, consumers: CONSUMERS, ...(only !== null ? { only: [...only] } : {}), results: Object.fromEntries(kept), memory }, null, 1) + '\n')
  say('wrote BENCHMARKS.md (section autocannon/scenarios) and autocannon/scenarios.json')
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => { say(`${sig}: stopping the servers`); procs.stopAll().finally(() => process.exit(130)) })
}

try {
  await main()
} finally {
  await procs.stopAll()
}

