/**
 * Load benchmark of the two upstream transports behind the same bare uWS front end
 * (transport-proxy.ts): `net` vs `undici`, same run, interleaved rounds, medians.
 *
 *   node --import tsx native-bench/transport-bench.ts [--rounds 5] [--duration 10] [--workers 2]
 *        [--connections 100] [--pin both|on|off|proxy] [--warmup 3]
 *
 * - One uWebSockets.js upstream (autocannon/upstream.ts, 13-byte bodies) and one transport-proxy
 *   process per transport, all on loopback, started once; wrk -t1 -c<connections> per round.
 * - Each round runs both transports back to back, the order alternating between rounds.
 * - Per run: RPS, p50/p99, and the proxy's CPU per request (user + system over all its threads,
 *   from /proc: lib/proc.ts). Per round: the RPS ratio net/undici; the result is the median of the
 *   per-round ratios, next to the medians of each figure.
 * - `--pin on`: wrk on CPU 1, upstream and proxies on CPU 0 (reference/proxy-levers.md asks for both
 *   pinned and unpinned on these 2-vCPU machines); `both` runs the two modes one after the other.
 *   `--pin proxy`: the proxy alone on CPU 1, wrk and upstream on CPU 0 (use with --workers 1): the
 *   proxy's own capacity, with the rest of the machine kept out of its way.
 * Prints markdown tables; no files written.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../test/helpers/ports.ts'
import { cpuTime, processTree, setAffinity } from './lib/proc.ts'
import { runWrk, type WrkResult } from './lib/wrk.ts'

const HERE = new URL('.', import.meta.url).pathname
const ROOT = new URL('..', import.meta.url).pathname

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback
}

const rounds = Number(arg('rounds', '5'))
const duration = Number(arg('duration', '10'))
const workers = Number(arg('workers', '2'))
const connections = Number(arg('connections', '100'))
const warmup = Number(arg('warmup', '3'))
const pinArg = arg('pin', 'both')
const modes: Array<'unpinned' | 'pinned' | 'proxy-core'> = pinArg === 'on' ? ['pinned'] : pinArg === 'off' ? ['unpinned'] : pinArg === 'proxy' ? ['proxy-core'] : ['unpinned', 'pinned']
const KINDS = ['undici', 'net'] as const
type Kind = typeof KINDS[number]

const children: ChildProcess[] = []

function start (file: string, args: string[]): Promise<ChildProcess> {
  const child = fork(file, args, { execArgv: ['--import', 'tsx', '--max-semi-space-size=32'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], cwd: ROOT })
  children.push(child)
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child))
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)))
  })
}

async function stopAll (): Promise<void> {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
  await Promise.all(children.map((c) => c.exitCode !== null ? null : new Promise((resolve) => c.once('exit', resolve))))
}

function median (xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

interface Sample { wrk: WrkResult; cpuUsPerReq: number; userUs: number; sysUs: number; upstreamUs: number }

async function measure (pid: number, upPid: number, url: string, cpusFor: string | null): Promise<Sample> {
  const tree = processTree(pid)
  const c0 = cpuTime(tree)
  const u0 = cpuTime([upPid])
  const wrk = await runWrk('wrk', url, { threads: 1, connections, durationS: duration, cpus: cpusFor })
  const c1 = cpuTime(tree)
  const u1 = cpuTime([upPid])
  const n = Math.max(1, wrk.requests)
  const userUs = (c1.user - c0.user) * 1e6 / n
  const sysUs = (c1.system - c0.system) * 1e6 / n
  const upstreamUs = (u1.user + u1.system - u0.user - u0.system) * 1e6 / n
  return { wrk, cpuUsPerReq: userUs + sysUs, userUs, sysUs, upstreamUs }
}

function fmt (x: number, d = 0): string { return Number.isFinite(x) ? x.toFixed(d) : '-' }

async function main (): Promise<void> {
  const upPort = await freePort()
  const up = await start(join(ROOT, 'autocannon/upstream.ts'), [String(upPort)])
  const proxies = new Map<Kind, { child: ChildProcess; url: string }>()
  for (const k of KINDS) {
    const port = await freePort()
    const child = await start(join(HERE, 'transport-proxy.ts'), ['--port', String(port), '--upstream', `127.0.0.1:${upPort}`, '--transport', k, '--workers', String(workers)])
    proxies.set(k, { child, url: `http://127.0.0.1:${port}/` })
  }
  process.stdout.write(`# transport benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ` +
    `${workers} proxy worker threads, wrk -t1 -c${connections} -d${duration}s, ${rounds} rounds, 13-byte responses\n`)
  for (const mode of modes) {
    const pinned = mode === 'pinned'
    const proxyPids = [...proxies.values()].flatMap((p) => processTree(p.child.pid!))
    const upPids = processTree(up.pid!)
    const every = `0-${cpus().length - 1}`
    if (mode === 'proxy-core') {
      setAffinity(proxyPids, '1')
      setAffinity(upPids, '0')
    } else {
      setAffinity([...proxyPids, ...upPids], pinned ? '0' : every)
    }
    const wrkCpus = pinned ? '1' : mode === 'proxy-core' ? '0' : null
    for (const k of KINDS) {
      const p = proxies.get(k)!
      await runWrk('wrk', p.url, { threads: 1, connections, durationS: warmup, cpus: wrkCpus })
    }
    const samples = new Map<Kind, Sample[]>(KINDS.map((k) => [k, []]))
    const ratios: number[] = []
    const cpuRatios: number[] = []
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? KINDS : [...KINDS].reverse()
      const got = new Map<Kind, Sample>()
      for (const k of order) {
        const p = proxies.get(k)!
        const s = await measure(p.child.pid!, up.pid!, p.url, wrkCpus)
        if (s.wrk.errors > 0) process.stderr.write(`warning: ${k} round ${r + 1}: ${s.wrk.errors} errors\n`)
        got.set(k, s)
        samples.get(k)!.push(s)
      }
      const n = got.get('net')!
      const u = got.get('undici')!
      ratios.push(n.wrk.rps / u.wrk.rps)
      cpuRatios.push(n.cpuUsPerReq / u.cpuUsPerReq)
      process.stdout.write(`  ${mode} round ${r + 1}: undici ${fmt(u.wrk.rps)} rps ${fmt(u.cpuUsPerReq, 1)} us/req | net ${fmt(n.wrk.rps)} rps ${fmt(n.cpuUsPerReq, 1)} us/req | ratio ${fmt(n.wrk.rps / u.wrk.rps, 3)}\n`)
    }
    const title = pinned ? 'Pinned: wrk on CPU 1, upstream and proxies on CPU 0' : mode === 'proxy-core' ? 'Proxy on its own core: proxy on CPU 1, wrk and upstream on CPU 0' : 'Unpinned'
    process.stdout.write(`\n## ${title}\n\n`)
    process.stdout.write('| transport | req/s (median) | p50 ms | p99 ms | proxy CPU us/req (user + sys) | upstream CPU us/req | errors |\n| --- | --- | --- | --- | --- | --- | --- |\n')
    for (const k of KINDS) {
      const s = samples.get(k)!
      const rps = median(s.map((x) => x.wrk.rps))
      process.stdout.write(`| ${k} | ${fmt(rps)} | ${fmt(median(s.map((x) => x.wrk.p50)), 2)} | ${fmt(median(s.map((x) => x.wrk.p99)), 2)} | ` +
        `${fmt(median(s.map((x) => x.cpuUsPerReq)), 1)} (${fmt(median(s.map((x) => x.userUs)), 1)} + ${fmt(median(s.map((x) => x.sysUs)), 1)}) | ${fmt(median(s.map((x) => x.upstreamUs)), 1)} | ${s.reduce((a, x) => a + x.wrk.errors, 0)} |\n`)
    }
    process.stdout.write(`\nnet / undici: RPS x${fmt(median(ratios), 3)} (per-round: ${ratios.map((x) => x.toFixed(3)).join(', ')}); ` +
      `CPU per request x${fmt(median(cpuRatios), 3)}\n\n`)
  }
}

main().then(stopAll, async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  await stopAll()
  process.exitCode = 1
})
