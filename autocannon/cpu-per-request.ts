/**
 * CPU per request of Sluice against the bare uWS + undici proxy (native-bench/bare-proxy.ts) in
 * scenario (a) (one route `/`, no plugins, 13-byte responses): wrk -t1 -c<connections> for a fixed
 * time per cell, interleaved rounds, each target's user and system time from /proc over the
 * requests it served. CPU per request is the figure other sessions' load disturbs least on a shared
 * machine (req/s swings with it); this script prints only, it writes no file.
 *
 *   node --import tsx autocannon/cpu-per-request.ts [--rounds 5] [--duration 4] [--workers 1]
 *        [--connections 50] [--transport undici|net|undici,net] [--no-bare] [--bare-pool] [--nginx] [--base DIR]
 *
 * `--base DIR` adds a second Sluice run from another checkout (e.g. `git archive HEAD | tar -x -C DIR`
 * with node_modules linked; `.` for this one): a paired A/B of a change under the same machine load.
 * `--base-node-args "..."` gives that second Sluice other node flags (default: --max-semi-space-size=32,
 * as every Sluice here; `--base . --base-node-args ""` measures what the flag is worth).
 * Output: per round and as medians, us/req (user + system) of each target, Sluice / bare and
 * Sluice / base.
 */
import { cpuTime, processTree } from '../native-bench/lib/proc.ts'
import { runWrk } from '../native-bench/lib/wrk.ts'
import { Procs, median, say, startBare, startNginx, startSluice, startUpstream, which } from './lib/servers.ts'

const argv = process.argv.slice(2)
const arg = (name: string): string | undefined => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined }
const rounds = Number(arg('rounds') ?? 5)
const duration = Number(arg('duration') ?? 4)
const workers = Number(arg('workers') ?? 1)
const connections = Number(arg('connections') ?? 50)
/** One Sluice per transport named (`undici,net`: both, side by side). */
const transports = (arg('transport') ?? 'undici').split(',')

interface Target { name: string; url: string; pid: number }
interface Cell { rps: number; user: number; sys: number }

async function cell (wrk: string, t: Target): Promise<Cell> {
  const tree = processTree(t.pid)
  const c0 = cpuTime(tree)
  const r = await runWrk(wrk, t.url, { threads: 1, connections, durationS: duration, cpus: null })
  const c1 = cpuTime(tree)
  const n = Math.max(1, r.requests)
  if (r.errors > 0) say(`  ${t.name}: ${r.errors} errors`)
  return { rps: r.rps, user: (c1.user - c0.user) / n * 1e6, sys: (c1.system - c0.system) / n * 1e6 }
}

async function main (procs: Procs): Promise<void> {
  const wrk = which('wrk')
  if (wrk === null) throw new Error('wrk is not installed')
  const up = await startUpstream(procs)
  const targets: Target[] = []
  for (const transport of transports) {
    const s = await startSluice(procs, { workers, upstreamPort: up.port, env: { SLUICE_UPSTREAM_TRANSPORT: transport } })
    targets.push({ name: `sluice-${transport}`, url: `http://127.0.0.1:${s.proxyPort}/hello`, pid: s.child.pid! })
  }
  const base = arg('base')
  if (base !== undefined) {
    const baseArgs = arg('base-node-args')
    const sb = await startSluice(procs, {
      workers, upstreamPort: up.port, root: base, env: { SLUICE_UPSTREAM_TRANSPORT: transports[0]! },
      ...(baseArgs !== undefined ? { nodeArgs: baseArgs.split(' ').filter((x) => x !== '') } : {}),
    })
    targets.push({ name: 'base', url: `http://127.0.0.1:${sb.proxyPort}/hello`, pid: sb.child.pid! })
  }
  if (!argv.includes('--no-bare')) {
    const b = await startBare(procs, { upstreamPort: up.port, workers })
    targets.push({ name: 'bare', url: `${b.url}hello`, pid: b.child.pid! })
  }
  if (argv.includes('--bare-pool')) {
    const b = await startBare(procs, { upstreamPort: up.port, workers, client: 'pool' })
    targets.push({ name: 'bare-pool', url: `${b.url}hello`, pid: b.child.pid! })
  }
  if (argv.includes('--nginx')) {
    const n = await startNginx(procs, { upstreamPort: up.port, workers })
    if (n !== null) targets.push({ name: 'nginx', url: `${n.url}hello`, pid: n.child.pid! })
  }
  for (const t of targets) await runWrk(wrk, t.url, { threads: 1, connections, durationS: 2, cpus: null })
  const per = new Map<string, Cell[]>(targets.map((t) => [t.name, []]))
  const ratios: Record<string, number[]> = {}
  const baseRatios: number[] = []
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse()
    const got = new Map<string, Cell>()
    for (const t of order) { const c = await cell(wrk, t); got.set(t.name, c); per.get(t.name)!.push(c) }
    const line = targets.map((t) => { const c = got.get(t.name)!; return `${t.name} ${(c.user + c.sys).toFixed(1)} (${c.user.toFixed(1)}u+${c.sys.toFixed(1)}s) ${Math.round(c.rps)}/s` }).join(' | ')
    const b = got.get('bare')
    if (b !== undefined) {
      for (const t of transports) {
        const sl = got.get(`sluice-${t}`)!
        ;(ratios[t] ??= []).push((sl.user + sl.sys) / (b.user + b.sys))
      }
    }
    const bs = got.get('base')
    if (bs !== undefined) { const sl = got.get(targets[0]!.name)!; baseRatios.push((sl.user + sl.sys) / (bs.user + bs.sys)) }
    say(`round ${r + 1}: ${line}`)
  }
  for (const t of targets) {
    const cs = per.get(t.name)!
    say(`median ${t.name}: ${median(cs.map((c) => c.user + c.sys)).toFixed(2)} us/req (user ${median(cs.map((c) => c.user)).toFixed(2)}, sys ${median(cs.map((c) => c.sys)).toFixed(2)}), ${Math.round(median(cs.map((c) => c.rps)))} req/s`)
  }
  if (baseRatios.length > 0) say(`median CPU/req sluice / base: ${median(baseRatios).toFixed(3)} (rounds: ${baseRatios.map((x) => x.toFixed(2)).join(' ')})`)
  for (const [t, rs] of Object.entries(ratios)) say(`median CPU/req sluice-${t} / bare: ${median(rs).toFixed(3)} (rounds: ${rs.map((x) => x.toFixed(2)).join(' ')})`)
}

const procs = new Procs()
try {
  await main(procs)
} finally {
  await procs.stopAll()
}
