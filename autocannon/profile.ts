/**
 * A CPU profile of Sluice under load: `node --cpu-prof` on the gateway (every thread writes its own
 * .cpuprofile when the process stops), autocannon for a fixed time, then the profiles of the busiest
 * threads summed into self time per function (file:line), printed and written to BENCHMARKS.md.
 *
 *   node --import tsx autocannon/profile.ts                   scenario (a), 10 s, writes BENCHMARKS.md
 *   node --import tsx autocannon/profile.ts --scenario d      key-auth + rate-limiting cluster, 1,000 consumers
 *   node --import tsx autocannon/profile.ts --scenario e      1 MiB responses, 16 connections
 *   node --import tsx autocannon/profile.ts --scenario u      1 MiB uploads, 16 connections (prints only)
 *   node --import tsx autocannon/profile.ts --quick           3 s, prints only
 *   --transport net|undici (default net, Sluice's default)   --workers N   --duration S   --top N   --keep DIR (keeps the .cpuprofile files)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, cpSync } from 'node:fs'
import { join, relative } from 'node:path'
import { loadavg, tmpdir } from 'node:os'
import { request } from 'undici'
import { Procs, ROOT, say, startSluice, startUpstream } from './lib/servers.ts'
import { f1, machineLine, measure, treeLine, versionsLine, type Req } from './lib/bench.ts'
import { writeSection } from './lib/report.ts'

const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const arg = (name: string): string | undefined => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined }
const scenario = arg('scenario') ?? 'a'
const transport = arg('transport') ?? 'net'
const workers = Number(arg('workers') ?? 2)
const duration = Number(arg('duration') ?? (quick ? 2 : 10))
const top = Number(arg('top') ?? 15)
const keep = arg('keep')
const procs = new Procs()

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface Profile { nodes: Node[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/**
 * Self time (µs) per function over the profiles given, counting only samples taken in [from, to]
 * (µs of CLOCK_MONOTONIC: V8's profile clock and process.hrtime share it on Linux), so that start-up
 * (module loading, the first compile) stays out.
 */
function selfTimes (profiles: Profile[], from: number, to: number): { byFn: Map<string, number>; total: number } {
  const byFn = new Map<string, number>()
  let total = 0
  for (const p of profiles) {
    const nodes = new Map(p.nodes.map((n) => [n.id, n]))
    let ts = p.startTime
    for (let i = 0; i < p.samples.length; i++) {
      const n = nodes.get(p.samples[i]!)!
      const dt = p.timeDeltas[i] ?? 0
      ts += dt
      if (ts < from || ts > to) continue
      total += dt
      const f = n.callFrame
      const url = f.url.startsWith('file://') ? relative(ROOT, new URL(f.url).pathname) : f.url
      // tsx's output keeps no line structure (every src/ frame says line 1): the file is enough.
      const key = `${f.functionName || '(anonymous)'} ${url}`.trim()
      byFn.set(key, (byFn.get(key) ?? 0) + dt)
    }
  }
  return { byFn, total }
}

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-prof-'))
  procs.onStop(() => { rmSync(dir, { recursive: true, force: true }) })
  const up = await startUpstream(procs)
  const s = await startSluice(procs, {
    workers, upstreamPort: up.port,
    // Sluice gives its workers an explicit execArgv (its TS loader only): lib/cpu-prof-workers.mjs adds
    // the profiler flags to it.
    env: { SLUICE_UPSTREAM_TRANSPORT: transport, SLUICE_BENCH_CPU_PROF: dir },
    nodeArgs: ['--import', join(ROOT, 'autocannon/lib/cpu-prof-workers.mjs')],
  })
  let requests: Req[] = [{ path: '/hello' }]
  if (scenario === 'd') {
    const admin = `http://127.0.0.1:${s.adminPort}`
    const post = async (p: string, b: unknown): Promise<void> => {
      const r = await request(admin + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) })
      const t = await r.body.text()
      if (r.statusCode !== 201) throw new Error(`${p}: ${r.statusCode} ${t}`)
    }
    await post('/services/bench/routes', { name: 'karl', paths: ['/karl'] })
    await post('/routes/karl/plugins', { name: 'key-auth' })
    await post('/routes/karl/plugins', { name: 'rate-limiting', config: { hour: 2_000_000_000, policy: 'cluster', limit_by: 'consumer' } })
    const n = quick ? 100 : 1000
    for (let j = 0; j < n; j++) { await post('/consumers', { username: `u${j}` }); await post(`/consumers/u${j}/key-auth`, { key: `k${j}` }) }
    requests = Array.from({ length: n }, (_, j) => ({ path: '/karl/x', headers: { apikey: `k${j}` } }))
    await new Promise((resolve) => setTimeout(resolve, 1500))
  }
  if (scenario === 'e') requests = [{ path: '/1mb' }]
  if (scenario === 'u') requests = [{ method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(1 << 20, 'x') }]
  const connections = scenario === 'e' || scenario === 'u' ? 16 : 100
  const origin = `http://127.0.0.1:${s.proxyPort}`
  await measure({ origin, requests, connections, seconds: quick ? 1 : 3 })
  const from = Number(process.hrtime.bigint() / 1000n)
  const l = await measure({ origin, requests, connections, seconds: duration, pids: [s.child.pid!] })
  const to = Number(process.hrtime.bigint() / 1000n)
  say(`under the profiler: ${Math.round(l.rps)} req/s, p99 ${l.p99.toFixed(2)} ms, ${f1(l.cpuUs)} us CPU/req, load ${l.load1.toFixed(1)}`)
  await procs.stop(s.child)

  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  const profiles = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile)
  if (keep !== undefined) cpSync(dir, keep, { recursive: true })
  // Busy threads: the workers (the primary idles under proxy load); keep those with most non-idle samples.
  const busy = profiles.map((p) => {
    const { byFn, total } = selfTimes([p], from, to)
    return { p, busy: total - (byFn.get('(idle)') ?? 0) }
  }).sort((a, b) => b.busy - a.busy)
  const workersProfiles = busy.slice(0, workers).map((x) => x.p)
  const { byFn, total } = selfTimes(workersProfiles, from, to)
  const idle = byFn.get('(idle)') ?? 0
  const active = total - idle
  const rows = [...byFn].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)
  const perReq = (us: number): string => (us / Math.max(1, l.requests)).toFixed(2)
  const table = ['| function (file) | share of busy worker time | us per request |', '| --- | --- | --- |',
    ...rows.map(([k, us]) => `| \`${k}\` | ${(100 * us / active).toFixed(1)} % | ${perReq(us)} |`)].join('\n')
  say(`\n${files.length} profiles (${workers} busiest used), busy ${(active / 1e6).toFixed(1)} s of ${(total / 1e6).toFixed(1)} s sampled\n${table}`)
  if (quick || scenario === 'u') { say('(--quick or uploads: BENCHMARKS.md not written)'); return }
  // Sections: profile-<scenario>[-net] (undici's keep the names they had before net became the default).
  const id = `autocannon/profile-${scenario}${transport !== 'undici' ? `-${transport}` : ''}`
  writeSection(join(ROOT, 'BENCHMARKS.md'), id, `## CPU profile, scenario (${scenario}), ${transport} (autocannon/profile.ts)

\`node --import tsx autocannon/profile.ts ${argv.join(' ')}\` on ${new Date().toISOString().slice(0, 10)}: ${machineLine()}, load average ${loadavg()[0]!.toFixed(1)};
${versionsLine(null)}; ${treeLine()}. Sluice with ${workers} workers under \`node --cpu-prof --cpu-prof-interval 200\`, autocannon ${connections} connections for ${duration} s:
${Math.round(l.rps)} req/s under the profiler, ${f1(l.cpuUs)} us CPU per request (the whole process). Self time summed over the ${workers} worker threads
(${(active / 1e6).toFixed(1)} s busy); "us per request" divides by the ${l.requests} requests served. The kernel time of syscalls shows up in
the JS or native frame that made them (\`writev\`, uWS \`end\`/\`cork\`); GC as \`(garbage collector)\`.

${table}
`, '# Benchmarks\n')
  say(`wrote BENCHMARKS.md (section ${id})`)
}

try {
  await main()
} finally {
  await procs.stopAll()
}
