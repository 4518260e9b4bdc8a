/**
 * CPU per request of Sluice in scenarios (a)-(d) under wrk, the measure that other load on a shared
 * machine disturbs least (req/s swings with it, and autocannon's own cost grows with a varied request
 * list, which skews the RPS ratios of scenarios.ts against (a)'s single request). wrk cycles through
 * each scenario's requests from a Lua script, pre-formatted once, so the load generator costs the
 * same per request whatever the mix.
 *
 * Two configurations, loaded with `sluice config db_import` as scenarios.ts does:
 *   small: 100,000 consumers with key-auth credentials + routes `/` (a), `/ka` key-auth (c),
 *          `/karl` key-auth + rate-limiting cluster, limit far above the load (d);
 *   big:   10,000 routes of five kinds + the same consumers (b: requests spread over 1,000 routes).
 * Also on the small node: `e` 1 MiB responses, `u` 1 MiB uploads (wrk's connections as given).
 * Each Sluice node runs 2 workers (net, Sluice's default, unless --transport; `undici,net`: a pair of nodes for each,
 * and the net / undici ratio per scenario). Rounds are interleaved, cells in
 * alternating order; figures are medians, ratios medians of per-round ratios.
 *
 *   node --import tsx autocannon/cpu-scenarios.ts [--rounds 5] [--duration 4] [--connections 100]
 *        [--scenarios a,b,c,d,e,u] [--transport undici|net|undici,net] [--base DIR] [--cpu-prof DIR]
 *        [--baselines] [--write]
 *
 * `--baselines`: scenario (a) also through the bare uWS + undici proxy (native-bench/bare-proxy.ts)
 * and nginx proxy_pass, 2 workers each. `--write`: the tables go into BENCHMARKS.md
 * (section autocannon/cpu-scenarios); without it the script prints only.
 *
 * `--base DIR`: the same nodes started from another checkout (`git worktree add DIR REV` with
 * node_modules linked) on the same databases: a paired A/B of a change, printed as this / base.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadavg, tmpdir } from 'node:os'
import { createTestDb } from '../test/helpers/pg.ts'
import { cpuTime, processTree } from '../native-bench/lib/proc.ts'
import { runWrk } from '../native-bench/lib/wrk.ts'
import { Procs, ROOT, findSbin, median, say, startBare, startNginx, startSluice, startUpstream, which, type Sluice } from './lib/servers.ts'
import { machineLine, treeLine, versionsLine } from './lib/bench.ts'
import { writeSection } from './lib/report.ts'
import { keyOf, requestFor, seed, spread } from './lib/seed.ts'
import type { Req } from './lib/bench.ts'

const argv = process.argv.slice(2)
const arg = (name: string): string | undefined => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined }
const rounds = Number(arg('rounds') ?? 5)
const duration = Number(arg('duration') ?? 4)
const connections = Number(arg('connections') ?? 100)
const scenarios = (arg('scenarios') ?? 'a,b,c,d').split(',')
/** `undici,net`: one pair of nodes per transport, side by side. */
const transports = (arg('transport') ?? 'net').split(',')
const base = arg('base')
/** `--cpu-prof DIR`: every node of this checkout runs under `node --cpu-prof` and writes its threads' worker threads' profiles under DIR/small and DIR/big. */
const profDir = arg('cpu-prof')
const ROUTES = 10_000
const CONSUMERS = 100_000
const SPREAD = 1000

/**
 * A wrk script that sends `reqs` in turn (each connection's requests cycle through the list). `Host`
 * is spelt as wrk spells its own, so that a request's host replaces wrk's rather than doubling it.
 */
function wrkScript (dir: string, name: string, reqs: Req[]): string {
  const lua = (s: string): string => JSON.stringify(s)
  // Formatted in init(), once wrk has set its Host header (at load time wrk.format has none).
  const lines = ['local reqs = {}', 'init = function(args)']
  for (const r of reqs) {
    const hs = Object.entries(r.headers ?? {}).map(([k, v]) => `[${lua(k === 'host' ? 'Host' : k)}] = ${lua(v)}`).join(', ')
    const body = r.body !== undefined ? `, string.rep("x", ${Buffer.byteLength(r.body)})` : ''
    lines.push(`  reqs[#reqs + 1] = wrk.format(${lua(r.method ?? 'GET')}, ${lua(r.path)}, { ${hs} }${body})`)
  }
  lines.push('end', 'local i = 0', 'request = function()', '  i = i % #reqs + 1', '  return reqs[i]', 'end')
  const file = join(dir, `${name}.lua`)
  writeFileSync(file, lines.join('\n') + '\n')
  return file
}

interface Cell { rps: number; cpu: number; primary: number; errors: number }

/** user + system seconds of the main thread of `pid` (the primary: PostgreSQL pool, config cache, rate-limit writer). */
function mainThreadCpu (pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return 0
  }
}

async function main (procs: Procs): Promise<void> {
  const wrk = which('wrk')
  if (wrk === null) throw new Error('wrk is not installed (apt-get install wrk)')
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cpu-scen-'))
  procs.onStop(() => { rmSync(dir, { recursive: true, force: true }) })
  const up = await startUpstream(procs)
  const upstreamPort = up.port
  say(`upstream on port ${upstreamPort}`)
  const dbS = await createTestDb()
  procs.onStop(() => dbS.drop())
  const huge = 2_000_000_000
  const small = ['- name: bench', `  url: http://127.0.0.1:${upstreamPort}`, '  routes:', '  - name: bench', '    paths: [/]',
    '  - name: ka', '    paths: [/ka]', '    plugins:', '    - name: key-auth',
    '  - name: karl', '    paths: [/karl]', '    plugins:', '    - name: key-auth', '    - name: rate-limiting', `      config: { hour: ${huge}, policy: cluster, limit_by: consumer }`]
  const tS = await seed(dbS, { upstreamPort, routes: 0, consumers: CONSUMERS, extraServices: small })
  say(`db_import small: ${(tS / 1000).toFixed(1)} s`)
  let dbB: Awaited<ReturnType<typeof createTestDb>> | null = null
  if (scenarios.includes('b')) {
    dbB = await createTestDb()
    const b = dbB
    procs.onStop(() => b.drop())
    const tB = await seed(dbB, { upstreamPort, routes: ROUTES, consumers: CONSUMERS })
    say(`db_import big: ${(tB / 1000).toFixed(1)} s`)
  }
  const timeoutMs = 300_000
  const bigReady = requestFor(2).path
  // Workers get an explicit execArgv from Sluice: lib/cpu-prof-workers.mjs adds the profiler flags to it.
  const prof = (root: string | undefined, transport: string, node: string): { nodeArgs?: string[]; env: Record<string, string> } => {
    const env = { SLUICE_UPSTREAM_TRANSPORT: transport }
    return profDir !== undefined && root === undefined
      ? { nodeArgs: ['--import', join(ROOT, 'autocannon/lib/cpu-prof-workers.mjs')], env: { ...env, SLUICE_BENCH_CPU_PROF: join(profDir, `${transport}-${node}`) } }
      : { env }
  }
  const start = async (root: string | undefined, transport: string): Promise<{ s: Sluice; b: Sluice | null }> => {
    const [s, b] = await Promise.all([
      startSluice(procs, { workers: 2, upstreamPort, db: dbS, timeoutMs, ...prof(root, transport, 'small'), ...(root !== undefined ? { root } : {}) }),
      dbB !== null ? startSluice(procs, { workers: 2, upstreamPort, db: dbB, timeoutMs, readyPath: bigReady, ...prof(root, transport, 'big'), ...(root !== undefined ? { root } : {}) }) : Promise.resolve(null),
    ])
    return { s, b }
  }
  const nodes: Array<{ tag: string; s: Sluice; b: Sluice | null }> = []
  for (const t of transports) nodes.push({ tag: transports.length > 1 ? t : 'this', ...await start(undefined, t) })
  if (base !== undefined) nodes.push({ tag: 'base', ...await start(base, transports[0]!) })

  const keys = spread(CONSUMERS, SPREAD)
  const scripts: Record<string, string> = {
    a: wrkScript(dir, 'a', [{ path: '/hello' }]),
    b: wrkScript(dir, 'b', spread(ROUTES, SPREAD).map(requestFor)),
    c: wrkScript(dir, 'c', keys.map((j) => ({ path: '/ka/hello', headers: { apikey: keyOf(j) } }))),
    d: wrkScript(dir, 'd', keys.map((j) => ({ path: '/karl/hello', headers: { apikey: keyOf(j) } }))),
    u: wrkScript(dir, 'u', [{ method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' }, body: 'x'.repeat(1 << 20) }]),
    e: wrkScript(dir, 'e', [{ path: '/1mb' }]),
  }
  interface Target { id: string; url: string; pid: number; script: string; connections: number }
  const targets: Target[] = []
  let nginxBin: string | null = null
  if (argv.includes('--baselines') && scenarios.includes('a')) {
    const b = await startBare(procs, { upstreamPort, workers: 2 })
    targets.push({ id: 'bare/a', url: b.url, pid: b.child.pid!, script: scripts.a!, connections })
    const ng = await startNginx(procs, { upstreamPort, workers: 2 })
    if (ng !== null) {
      nginxBin = findSbin('nginx')
      targets.push({ id: 'nginx/a', url: ng.url, pid: ng.child.pid!, script: scripts.a!, connections })
    }
  }
  for (const n of nodes) {
    for (const sc of scenarios) {
      const node = sc === 'b' ? n.b! : n.s
      targets.push({ id: `${n.tag}/${sc}`, url: `http://127.0.0.1:${node.proxyPort}/`, pid: node.child.pid!, script: scripts[sc]!, connections: sc === 'e' || sc === 'u' ? Math.min(16, connections) : connections })
    }
  }
  const cell = async (t: Target, seconds: number): Promise<Cell> => {
    const tree = processTree(t.pid)
    const c0 = cpuTime(tree)
    const m0 = mainThreadCpu(t.pid)
    const r = await runWrk(wrk, t.url, { threads: 1, connections: t.connections, durationS: seconds, cpus: null, script: t.script })
    const c1 = cpuTime(tree)
    const n = Math.max(1, r.requests)
    return { rps: r.rps, cpu: (c1.user - c0.user + c1.system - c0.system) / n * 1e6, primary: (mainThreadCpu(t.pid) - m0) / n * 1e6, errors: r.errors }
  }
  say(`warm-up (${targets.length} cells), load average ${loadavg()[0]!.toFixed(2)}`)
  for (const t of targets) await cell(t, 3)
  const got = new Map<string, Cell[]>(targets.map((t) => [t.id, []]))
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse()
    for (const t of order) got.get(t.id)!.push(await cell(t, duration))
    say(`round ${r + 1}: ` + targets.map((t) => { const c = got.get(t.id)![r]!; return `${t.id} ${c.cpu.toFixed(1)} us ${Math.round(c.rps)}/s${c.errors > 0 ? ` ${c.errors} errors` : ''}` }).join(' | '))
  }
  const ratio = (x: string, y: string): number[] => got.get(x)!.map((c, i) => c.cpu / got.get(y)![i]!.cpu)
  const rpsRatio = (x: string, y: string): number[] => got.get(x)!.map((c, i) => c.rps / got.get(y)![i]!.rps)
  const load1 = loadavg()[0]!
  say(`load average at the end ${load1.toFixed(2)}`)
  if (transports.length > 1) {
    for (const sc of scenarios) {
      const [x, y] = [`${transports[1]}/${sc}`, `${transports[0]}/${sc}`]
      say(`${sc}: ${transports[1]} / ${transports[0]}: CPU/req ${median(ratio(x, y)).toFixed(3)}, req/s ${median(rpsRatio(x, y)).toFixed(3)}`)
    }
  }
  for (const n of nodes) {
    for (const sc of scenarios) {
      const id = `${n.tag}/${sc}`
      const cs = got.get(id)!
      let line = `median ${id}: ${median(cs.map((c) => c.cpu)).toFixed(2)} us/req (primary thread ${median(cs.map((c) => c.primary)).toFixed(2)}), ${Math.round(median(cs.map((c) => c.rps)))} req/s`
      if (sc !== 'a' && scenarios.includes('a')) line += `; CPU/req x (a) ${median(ratio(id, `${n.tag}/a`)).toFixed(3)}, req/s x (a) ${median(rpsRatio(id, `${n.tag}/a`)).toFixed(3)}`
      if (n.tag !== 'base' && base !== undefined) line += `; CPU/req this / base ${median(ratio(id, `base/${sc}`)).toFixed(3)} (rounds ${ratio(id, `base/${sc}`).map((x) => x.toFixed(2)).join(' ')})`
      say(line)
    }
  }
  if (argv.includes('--write')) writeReport(got, ratio, rpsRatio, nodes.map((n) => n.tag), nginxBin, load0, load1)
}

const f1 = (x: number): string => x.toFixed(1)
const f2 = (x: number): string => x.toFixed(2)

function writeReport (got: Map<string, Cell[]>, ratio: (x: string, y: string) => number[], rpsRatio: (x: string, y: string) => number[],
  tags: string[], nginxBin: string | null, load0: number, load1: number): void {
  const cpu = (id: string): number => median(got.get(id)!.map((c) => c.cpu))
  const prim = (id: string): number => median(got.get(id)!.map((c) => c.primary))
  const rps = (id: string): number => median(got.get(id)!.map((c) => c.rps))
  const names: Record<string, string> = {
    a: '(a) one route, no plugins', b: `(b) ${ROUTES} routes, requests over ${SPREAD} of them`, c: `(c) key-auth, ${CONSUMERS} consumers, ${SPREAD} keys`,
    d: '(d) key-auth + rate-limiting (cluster)', e: '(e) 1 MiB responses, 16 connections', u: '(e) 1 MiB uploads, 16 connections',
  }
  const own = tags.filter((t) => t !== 'base')
  const rows: string[] = []
  for (const sc of scenarios) {
    for (const t of own) {
      const id = `${t}/${sc}`
      const vsA = sc !== 'a' && scenarios.includes('a') && sc !== 'e' && sc !== 'u'
      rows.push(`| ${names[sc]} | ${t === 'this' ? transports[0] : t} | ${f1(cpu(id))} | ${f1(prim(id))} | ${Math.round(rps(id))} | ${vsA ? `${f2(median(ratio(id, `${t}/a`)))}x` : ''} | ${vsA ? `${f2(median(rpsRatio(id, `${t}/a`)))}x` : ''} |`)
    }
  }
  const parts = [`## CPU per request under wrk, scenarios (a)-(e) (autocannon/cpu-scenarios.ts)

Generated by \`node --import tsx autocannon/cpu-scenarios.ts ${argv.join(' ')}\` on ${new Date().toISOString().slice(0, 10)}.
- Machine: ${machineLine()}; 1-minute load average ${f1(load0)} at the start, ${f1(load1)} at the end.
- ${versionsLine(nginxBin)}; ${treeLine()}
- Load: \`wrk -t1 -c${connections}\` (1 MiB cells: 16 connections) cycling through each scenario's requests from a Lua script, ${duration} s per cell,
  ${rounds} interleaved rounds (order alternating), warm-up before. Sluice nodes run 2 workers; (a), (c), (d), (e) on a node with ${CONSUMERS}
  consumers, (b) on one with ${ROUTES} routes and the same consumers. CPU: user + system time of the whole process over the requests
  it served ("primary": its main thread alone: PostgreSQL pool, rate-limit writer, metrics). Medians; ratios are medians of per-round ratios.
  CPU per request is the figure that other load on this shared machine disturbs least; req/s is printed for scale.

| scenario | transport | CPU us/req | of which primary | req/s | CPU/req x (a) | req/s x (a) |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}`]
  if (own.length > 1) {
    const [u, n] = [own[0]!, own[1]!]
    parts.push(`### ${n} / ${u}, same run

| scenario | CPU/req ${n} / ${u} | req/s ${n} / ${u} |
| --- | --- | --- |
${scenarios.map((sc) => `| ${names[sc]} | ${f2(median(ratio(`${n}/${sc}`, `${u}/${sc}`)))}x | ${f2(median(rpsRatio(`${n}/${sc}`, `${u}/${sc}`)))}x |`).join('\n')}`)
  }
  if (got.has('bare/a')) {
    const bl = ['bare/a', ...(got.has('nginx/a') ? ['nginx/a'] : [])]
    const label: Record<string, string> = { 'bare/a': 'bare uWS + undici proxy (native-bench/bare-proxy.ts), 2 workers', 'nginx/a': 'nginx proxy_pass, 2 workers, upstream keepalive' }
    parts.push(`### Scenario (a) against the baselines, same run

| target | CPU us/req | req/s | Sluice ${own.map((t) => t === 'this' ? transports[0] : t).join(' / ')} CPU/req x this | Sluice ${own.map((t) => t === 'this' ? transports[0] : t).join(' / ')} req/s x this |
| --- | --- | --- | --- | --- |
${bl.map((b) => `| ${label[b]} | ${f1(cpu(b))} | ${Math.round(rps(b))} | ${own.map((t) => `${f2(median(ratio(`${t}/a`, b)))}x`).join(' / ')} | ${own.map((t) => `${f2(median(rpsRatio(`${t}/a`, b)))}x`).join(' / ')} |`).join('\n')}`)
  }
  writeSection(join(ROOT, 'BENCHMARKS.md'), 'autocannon/cpu-scenarios', parts.join('\n\n'), '# Benchmarks\n')
  say('BENCHMARKS.md: section autocannon/cpu-scenarios written')
}

const load0 = loadavg()[0]!
const procs = new Procs()
try {
  await main(procs)
} finally {
  await procs.stopAll()
}
