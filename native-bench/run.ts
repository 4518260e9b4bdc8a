/**
 * Scenario (a) of the performance issue under wrk: one route, no plugins, 13-byte responses from the
 * uWebSockets.js upstream (autocannon/upstream.ts), driven directly and through Sluice, nginx
 * `proxy_pass`, haproxy and the bare uWS + undici proxy (native-bench/bare-proxy.ts), all with the
 * same number of workers. Same method as reference/proxy-levers.md: `wrk -t1 -c100 --latency`,
 * interleaved rounds, medians of per-round RPS and of per-round ratios against nginx, proxy CPU
 * time per request from /proc.
 *
 *   node --import tsx native-bench/run.ts                  3 rounds x 10 s per target
 *   node --import tsx native-bench/run.ts --quick          1 round x 3 s, prints only (writes nothing)
 *   node --import tsx native-bench/run.ts --rounds 5 --duration 20 --workers 2 --connections 100
 *   node --import tsx native-bench/run.ts --pin            also a pinned pass: wrk on CPU 1, every
 *                                                          server (upstream too) on CPU 0
 *   --only sluice,nginx    targets to run (direct, sluice, nginx, haproxy, bare); --bare-client pool
 *   --retries N            runs again a measurement during which other processes used > 10 % of a
 *                          CPU, after waiting for a quiet machine (default 2; lib/quiet.ts)
 *   --max-wait S           total seconds the run may spend waiting for quiet (default 600); then
 *                          busy measurements are kept and counted as such
 *
 * Results: native-bench/results.json (every round and the medians) and the `native-bench/wrk`
 * section of native-bench/RESULTS.md. Everything listens on 127.0.0.1, and wrk runs a fixed time:
 * every run stops by itself. Missing tools (wrk, nginx, haproxy, taskset) are skipped with the
 * apt-get line that installs them; nothing is installed here.
 *
 * CPU per request: utime + stime of the target's processes (every thread; nginx's master and its
 * workers together) between just before wrk starts and just after it exits, divided by the requests
 * wrk counted. 10 ms clock ticks: about 1 % resolution over a 10 s run.
 */
import { fork, execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpus, loadavg, totalmem, release } from 'node:os'
import { request } from 'undici'
import { SLUICE_VERSION } from '../src/common/meta.ts'
import { freePort } from '../test/helpers/ports.ts'
import { Procs, ROOT, median, say, startNginx, startSluice, startUpstream, waitReady, which } from '../autocannon/lib/servers.ts'
import { writeSection } from '../autocannon/lib/report.ts'
import { startHaproxy } from './lib/haproxy.ts'
import { cpuTime, processTree, rssBytes, setAffinity } from './lib/proc.ts'
import { runWrk, type WrkResult } from './lib/wrk.ts'
import { foreignCpu, foreignSeconds, waitQuiet } from './lib/quiet.ts'
import { NATIVE_BENCH as HERE, RESULTS_JSON, RESULTS_MD, RESULTS_MD_HEADER } from './lib/results.ts'

const argv = process.argv.slice(2)
const flag = (name: string): boolean => argv.includes(`--${name}`)
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const num = (name: string, dflt: number): number => {
  const v = arg(name)
  return v === undefined ? dflt : Number(v)
}
const quick = flag('quick')
const rounds = num('rounds', quick ? 1 : 3)
const duration = num('duration', quick ? 3 : 10)
const workers = num('workers', 2)
const connections = num('connections', 100)
const warmup = quick ? 1 : 3
const retries = num('retries', 2)
let waitBudgetMs = num('max-wait', 600) * 1000
/** Set by SIGINT/SIGTERM: no new measurement starts. */
let stopping = false
const bareClient = arg('bare-client') ?? 'stack'
const only = arg('only')?.split(',') ?? null
const ncpu = cpus().length
let pin = flag('pin')

type TargetId = 'direct' | 'sluice' | 'nginx' | 'haproxy' | 'bare'
type Mode = 'unpinned' | 'pinned'

interface Target {
  id: TargetId
  label: string
  url: string
  /** Root pid of the proxy's processes (null: the direct upstream has no proxy). */
  pid: number | null
  /** Set when the target failed under load: skipped from then on. */
  dead: string | null
  /** Response header bytes (status line and headers), from one request before the load. */
  headerBytes: number
}

interface Sample {
  round: number
  mode: Mode
  target: TargetId
  rps: number
  requests: number
  seconds: number
  p50: number
  p75: number
  p90: number
  p99: number
  non2xx: number
  socketErrors: WrkResult['socketErrors']
  errors: number
  /** Proxy CPU per request in microseconds (null for the direct upstream). */
  cpuUser: number | null
  cpuSys: number | null
  upstreamCpu: number
  /** CPU seconds used by processes other than this run's during the run. */
  foreignCpuS: number
  tries: number
}

interface Summary {
  rps: number
  p50: number
  p99: number
  /** Medians of per-round ratios (null where that baseline did not run). */
  xNginx: number | null
  xBare: number | null
  xDirect: number | null
  cpuUsPerReq: number | null
  cpuUserUsPerReq: number | null
  cpuSysUsPerReq: number | null
  upstreamCpuUsPerReq: number
  errors: number
  rounds: number
}

const procs = new Procs()

function want (id: TargetId): boolean {
  return only === null || id === 'direct' || only.includes(id)
}

async function probe (t: Target): Promise<string | null> {
  try {
    const r = await request(t.url + 'hello')
    const body = await r.body.text()
    if (r.statusCode !== 200 || body !== 'Hello, World!') return `GET /hello answered ${r.statusCode} ${JSON.stringify(body.slice(0, 200))}`
    let bytes = `HTTP/1.1 ${r.statusCode} OK\r\n`.length + 2
    for (const [k, v] of Object.entries(r.headers)) {
      for (const one of Array.isArray(v) ? v : [v]) bytes += k.length + 2 + String(one).length + 2
    }
    t.headerBytes = bytes
    return null
  } catch (err) {
    return `GET /hello failed: ${(err as Error).message}`
  }
}

function versionOf (pkg: string): string {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }
  return lock.packages[`node_modules/${pkg}`]?.version ?? '?'
}

function firstLine (cmd: string): string {
  try { return execFileSync('sh', ['-c', `${cmd} 2>&1`]).toString().split('\n')[0]!.trim() } catch (err) {
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? ''
    return out.split('\n')[0]?.trim() || '?'
  }
}

const fmt = (x: number | null, digits = 0): string => x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(digits)
const fmtX = (x: number | null): string => x === null || Number.isNaN(x) ? 'n/a' : `${x.toFixed(2)}x`

function summarize (samples: Sample[], targets: Target[], mode: Mode): Map<TargetId, Summary> {
  const out = new Map<TargetId, Summary>()
  const inMode = samples.filter((s) => s.mode === mode)
  const byRound = (round: number, id: TargetId): Sample | undefined => inMode.find((s) => s.round === round && s.target === id)
  const ratio = (mine: Sample[], base: TargetId): number | null => {
    const rs: number[] = []
    for (const s of mine) {
      const b = byRound(s.round, base)
      if (b !== undefined && b.rps > 0) rs.push(s.rps / b.rps)
    }
    return rs.length === 0 ? null : median(rs)
  }
  for (const t of targets) {
    const mine = inMode.filter((s) => s.target === t.id)
    if (mine.length === 0) continue
    const user = mine.map((s) => s.cpuUser).filter((x): x is number => x !== null)
    const sys = mine.map((s) => s.cpuSys).filter((x): x is number => x !== null)
    const total = mine.filter((s) => s.cpuUser !== null).map((s) => s.cpuUser! + s.cpuSys!)
    out.set(t.id, {
      rps: median(mine.map((s) => s.rps)),
      p50: median(mine.map((s) => s.p50)),
      p99: median(mine.map((s) => s.p99)),
      xNginx: ratio(mine, 'nginx'),
      xBare: ratio(mine, 'bare'),
      xDirect: ratio(mine, 'direct'),
      cpuUsPerReq: total.length === 0 ? null : median(total),
      cpuUserUsPerReq: user.length === 0 ? null : median(user),
      cpuSysUsPerReq: sys.length === 0 ? null : median(sys),
      upstreamCpuUsPerReq: median(mine.map((s) => s.upstreamCpu)),
      errors: mine.reduce((a, s) => a + s.errors, 0),
      rounds: mine.length,
    })
  }
  return out
}

function table (summary: Map<TargetId, Summary>, targets: Target[]): string {
  const rows = targets.filter((t) => summary.has(t.id)).map((t) => {
    const m = summary.get(t.id)!
    const cpu = m.cpuUsPerReq === null ? 'n/a' : `${fmt(m.cpuUsPerReq, 1)} (${fmt(m.cpuUserUsPerReq, 1)} + ${fmt(m.cpuSysUsPerReq, 1)})`
    return `| ${t.label} | ${Math.round(m.rps)} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ${fmtX(m.xNginx)} | ${fmtX(m.xBare)} | ${fmtX(m.xDirect)} | ${cpu} | ${fmt(m.upstreamCpuUsPerReq, 1)} | ${m.errors} |`
  })
  return [
    '| target | req/s | p50 ms | p99 ms | x nginx | x bare | x direct | proxy CPU us/req (user + sys) | upstream CPU us/req | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n')
}

async function main (): Promise<void> {
  const loadAtStart = loadavg()[0]!
  if (loadAtStart > 0.5) say(`note: load average ${loadAtStart.toFixed(2)} before the run: something else is using the CPUs, figures will be noisy`)
  const wrk = which('wrk')
  if (wrk === null) { say('wrk: not installed (apt-get install wrk); nothing to measure, skipping native-bench/run.ts'); return }
  if (pin && which('taskset') === null) { say('taskset: not installed (apt-get install util-linux); no pinned pass'); pin = false }
  if (pin && ncpu < 2) { say(`--pin needs 2 CPUs, this machine has ${ncpu}; no pinned pass`); pin = false }
  const modes: Mode[] = pin ? ['unpinned', 'pinned'] : ['unpinned']

  const up = await startUpstream(procs)
  const upstreamPort = up.port
  const targets: Target[] = [{ id: 'direct', label: 'direct upstream', url: `http://127.0.0.1:${upstreamPort}/`, pid: null, dead: null, headerBytes: 0 }]
  const skipped: Array<{ target: TargetId; reason: string }> = []
  let sluiceTail: (() => string) | null = null
  let sluiceExit: string | null = null

  if (want('sluice')) {
    try {
      const s = await startSluice(procs, { workers, upstreamPort, captureLog: true })
      sluiceTail = s.logTail
      s.child.once('exit', (code, signal) => { sluiceExit = `sluice exited (code ${code}, signal ${signal})` })
      targets.push({ id: 'sluice', label: `sluice (${workers} workers)`, url: `http://127.0.0.1:${s.proxyPort}/`, pid: s.child.pid!, dead: null, headerBytes: 0 })
    } catch (err) {
      const reason = `failed to start: ${(err as Error).message}`
      say(`sluice: ${reason}`)
      skipped.push({ target: 'sluice', reason })
    }
  }
  let nginxVersion = 'not installed'
  if (want('nginx')) {
    const n = await startNginx(procs, { upstreamPort, workers })
    if (n === null) skipped.push({ target: 'nginx', reason: 'not installed (apt-get install nginx-light)' })
    else {
      nginxVersion = firstLine(`${n.bin} -v`)
      targets.push({ id: 'nginx', label: `nginx proxy_pass (${workers} workers)`, url: n.url, pid: n.child.pid!, dead: null, headerBytes: 0 })
    }
  }
  let haproxyVersion = 'not installed'
  if (want('haproxy')) {
    const h = await startHaproxy(procs, { upstreamPort, threads: workers })
    if ('skipped' in h) skipped.push({ target: 'haproxy', reason: h.skipped })
    else {
      haproxyVersion = h.version
      targets.push({ id: 'haproxy', label: `haproxy http-reuse always (${workers} threads)`, url: h.url, pid: h.child.pid!, dead: null, headerBytes: 0 })
    }
  }
  if (want('bare')) {
    const port = await freePort()
    const child = procs.add(fork(join(HERE, 'bare-proxy.ts'), ['--port', String(port), '--upstream', `http://127.0.0.1:${upstreamPort}`, '--workers', String(workers), '--client', bareClient], {
      execArgv: ['--import', 'tsx', '--max-semi-space-size=32'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    }))
    await waitReady(child, 'bare-proxy')
    targets.push({ id: 'bare', label: `bare uWS + undici ${bareClient === 'pool' ? 'Pool' : 'Client stack'} (${workers} workers)`, url: `http://127.0.0.1:${port}/`, pid: child.pid!, dead: null, headerBytes: 0 })
  }

  for (const t of [...targets]) {
    const bad = await probe(t)
    if (bad === null) continue
    say(`${t.label}: ${bad}; left out`)
    skipped.push({ target: t.id, reason: bad })
    targets.splice(targets.indexOf(t), 1)
  }

  const serverPids = (): number[] => [up.child.pid!, ...targets.flatMap((t) => t.pid === null ? [] : processTree(t.pid))]
  const allCpus = `0-${ncpu - 1}`
  const samples: Sample[] = []

  // A run during which other processes used more than 10 % of one CPU is run again once the
  // machine is quiet (at most --retries times; the last try is kept and flagged).
  const busyLimit = 0.1 * duration
  const measure = async (t: Target, r: number, mode: Mode): Promise<Sample | null> => {
    for (let attempt = 0; ; attempt++) {
      const pids = t.pid === null ? [] : processTree(t.pid)
      const upPids = processTree(up.child.pid!)
      const f0 = foreignCpu()
      const c0 = cpuTime(pids)
      const u0 = cpuTime(upPids)
      let w: WrkResult
      try {
        w = await runWrk(wrk, t.url + 'hello', { threads: 1, connections, durationS: duration, cpus: mode === 'pinned' ? '1' : null })
      } catch (err) {
        t.dead = `wrk failed in round ${r} (${mode}): ${(err as Error).message}`
        say(`${t.label}: ${t.dead}`)
        return null
      }
      const c1 = cpuTime(pids)
      const u1 = cpuTime(upPids)
      const foreign = foreignSeconds(f0, foreignCpu())
      if (foreign > busyLimit && attempt < retries && waitBudgetMs > 0) {
        say(`round ${r}/${rounds} ${mode} ${t.label}: other processes used ${foreign.toFixed(1)} CPU-s during the run; waiting for a quiet machine to run it again`)
        const w0 = Date.now()
        if (!await waitQuiet(Math.min(120_000, waitBudgetMs))) say('  still busy; running anyway')
        waitBudgetMs -= Date.now() - w0
        continue
      }
      const perReq = (a: number, b: number): number => w.requests > 0 ? (b - a) / w.requests * 1e6 : NaN
      return {
        round: r, mode, target: t.id, rps: w.rps, requests: w.requests, seconds: w.seconds,
        p50: w.p50, p75: w.p75, p90: w.p90, p99: w.p99, non2xx: w.non2xx, socketErrors: w.socketErrors, errors: w.errors,
        cpuUser: t.pid === null ? null : perReq(c0.user, c1.user),
        cpuSys: t.pid === null ? null : perReq(c0.system, c1.system),
        upstreamCpu: perReq(u0.user + u0.system, u1.user + u1.system),
        foreignCpuS: foreign,
        tries: attempt + 1,
      }
    }
  }

  const w0 = Date.now()
  if (!await waitQuiet(Math.min(quick ? 10_000 : 180_000, waitBudgetMs))) say('note: other processes keep using the CPUs; starting anyway')
  waitBudgetMs -= Date.now() - w0
  say(`warm-up: ${warmup} s per target`)
  for (const t of targets) if (!stopping) await runWrk(wrk, t.url + 'hello', { threads: 1, connections, durationS: warmup, cpus: null }).catch(() => null)

  for (let r = 1; r <= rounds; r++) {
    for (const mode of modes) {
      setAffinity(serverPids(), mode === 'pinned' ? '0' : allCpus)
      // Interleaved, and each round starts one target later: no target always runs first or last.
      const order = targets.map((_, i) => targets[(i + r - 1) % targets.length]!)
      for (const t of order) {
        if (stopping) return
        if (t.dead !== null) continue
        const s = await measure(t, r, mode)
        if (s === null) continue
        samples.push(s)
        const cpu = s.cpuUser === null ? '' : `, proxy CPU ${(s.cpuUser + s.cpuSys!).toFixed(1)} us/req`
        const busy = s.foreignCpuS > busyLimit ? ` (busy machine: others used ${s.foreignCpuS.toFixed(1)} CPU-s)` : ''
        say(`round ${r}/${rounds} ${mode} ${t.label}: ${Math.round(s.rps)} req/s, p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms${cpu}, errors ${s.errors}${busy}`)
        if (t.id === 'sluice' && sluiceExit !== null) {
          t.dead = `${sluiceExit} during round ${r} (${mode})`
          say(`sluice: ${t.dead}\n--- last output of sluice ---\n${sluiceTail?.() ?? ''}`)
        } else if (s.errors > 0 && t.id !== 'direct') {
          say(`  ${t.label}: ${s.non2xx} non-2xx, socket errors ${JSON.stringify(s.socketErrors)}`)
        }
      }
    }
  }
  setAffinity(serverPids(), allCpus)

  const rss: Record<string, number> = {}
  for (const t of targets) if (t.pid !== null) rss[t.id] = rssBytes(processTree(t.pid))
  const summaries = Object.fromEntries(modes.map((m) => [m, Object.fromEntries(summarize(samples, targets, m))]))

  const machine = {
    cpu: `${cpus()[0]?.model ?? '?'} x ${ncpu}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: `Linux ${release()}`,
    loadAverageAtStart: Number(loadAtStart.toFixed(2)),
  }
  const versions = {
    node: process.versions.node,
    sluice: SLUICE_VERSION,
    uWebSocketsJs: versionOf('uWebSockets.js'),
    undici: versionOf('undici'),
    nginx: nginxVersion,
    haproxy: haproxyVersion,
    wrk: firstLine(`${wrk} -v`).replace(/\s*Copyright.*$/, ''),
  }
  const settings = { rounds, durationS: duration, warmupS: warmup, wrkThreads: 1, connections, workers, modes, bareClient, responseBody: 13, retries }
  const repeated = samples.reduce((a, x) => a + x.tries - 1, 0)
  const keptBusy = samples.filter((x) => x.foreignCpuS > busyLimit).length

  const command = `node --import tsx native-bench/run.ts ${argv.join(' ')}`.trim()
  let md = `## native-bench: scenario (a) under wrk

Generated by \`${command}\` on ${new Date().toISOString().slice(0, 10)}.

- Machine: ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.kernel}; 1-minute load average before the run ${machine.loadAverageAtStart}
- Versions: Node ${versions.node}; Sluice ${versions.sluice}; uWebSockets.js ${versions.uWebSocketsJs}; undici ${versions.undici}; ${versions.nginx}; ${versions.haproxy}; ${versions.wrk}
- Load: \`wrk -t1 -c${connections} -d${duration}s --latency\`, ${rounds} interleaved round(s) (each round starts one target later), ${warmup} s warm-up per target;
  13-byte responses from the uWebSockets.js upstream (autocannon/upstream.ts). Every proxy runs ${workers} workers (threads or processes).
- Figures are medians over rounds; \`x nginx\`, \`x bare\` and \`x direct\` are medians of the per-round ratios. Proxy CPU: utime + stime of
  the proxy's processes over the run divided by requests (nginx: master + workers; Sluice: the whole process, primary thread included).
- Shared-machine guard: a run during which other processes used more than ${busyLimit.toFixed(1)} CPU-s was run again after the machine went quiet
  (${repeated} run(s) repeated; ${keptBusy} of ${samples.length} kept although busy).
- Response header bytes per target: ${targets.map((t) => `${t.id} ${t.headerBytes}`).join(', ')}.
`
  for (const mode of modes) {
    const title = mode === 'pinned' ? 'Pinned: wrk on CPU 1, upstream and proxies on CPU 0' : 'Unpinned: the kernel spreads wrk, upstream and proxy over both CPUs'
    const summary = summarize(samples, targets, mode)
    md += `\n### ${title}\n\n${table(summary, targets)}\n`
    const s = summary.get('sluice')
    if (s !== undefined) {
      md += `\nGoals (issue 3): Sluice ${fmtX(s.xNginx)} nginx (goal >= 1.0x), ${fmtX(s.xBare)} the bare uWS + undici proxy (goal >= 0.9x).\n`
    }
  }
  md += `\nResident memory after the run: ${Object.entries(rss).map(([k, v]) => `${k} ${Math.round(v / 2 ** 20)} MiB`).join(', ')}.\n`
  for (const x of skipped) md += `\nNot measured: ${x.target}: ${x.reason.split('\n')[0]}\n`
  for (const t of targets) if (t.dead !== null) md += `\nStopped early: ${t.id}: ${t.dead.split('\n')[0]}\n`

  say('')
  for (const mode of modes) say(`${mode}\n${table(summarize(samples, targets, mode), targets)}\n`)
  if (quick) { say('(--quick: results.json and RESULTS.md not written)'); return }

  writeFileSync(RESULTS_JSON, JSON.stringify({
    generatedAt: new Date().toISOString(),
    command,
    machine, versions, settings,
    targets: targets.map((t) => ({ id: t.id, label: t.label, headerBytes: t.headerBytes, rssBytes: rss[t.id] ?? null, stoppedEarly: t.dead })),
    skipped,
    summary: summaries,
    samples,
  }, null, 2) + '\n')
  writeSection(RESULTS_MD, 'native-bench/wrk', md, RESULTS_MD_HEADER)
  say(`wrote ${RESULTS_JSON} and the native-bench/wrk section of ${RESULTS_MD}`)
}

// Ctrl-C or a kill: stop the servers (and drop the database) before leaving.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    say(`${sig}: stopping the servers`)
    stopping = true
    procs.stopAll().finally(() => process.exit(130))
  })
}

try {
  await main()
} finally {
  await procs.stopAll()
}
