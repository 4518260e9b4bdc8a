/**
 * One measurement with autocannon, as the scenario scripts take it: requests per second, latency
 * percentiles from an hdr histogram in microseconds (autocannon's own histogram keeps whole
 * milliseconds, too coarse for "p99 within 1 ms of nginx"), and the CPU time the target's processes
 * used per request (utime + stime of the process tree from /proc: the figure a shared machine
 * disturbs least). Also the machine and version lines every section starts with.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { request } from 'undici'
import autocannon from 'autocannon'
import * as hdr from 'hdr-histogram-js'
import { SLUICE_VERSION } from '../../src/common/meta.ts'
import { cpuTime, processTree } from '../../native-bench/lib/proc.ts'
import { ROOT, median } from './servers.ts'

export interface Req { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string }

export interface LoadSpec {
  /** http(s)://127.0.0.1:port (no path). */
  origin: string
  /** One request, or several that every connection cycles through. */
  requests: Req[]
  connections: number
  seconds: number
  /** Fixed rate over all connections (requests/s); absent: as fast as it goes. */
  rate?: number
  /** TLS server name to send (https origins). */
  servername?: string
  /** Root pids whose process trees' CPU time is counted (the proxy; empty: none). */
  pids?: number[]
}

export interface Load {
  rps: number
  requests: number
  p50: number
  p90: number
  p99: number
  max: number
  errors: number
  /** µs of CPU (user + system) of `pids` per request; NaN without pids. */
  cpuUs: number
  cpuUserUs: number
  /** MB/s received (bodies and heads). */
  mbps: number
  /** 1-minute load average when the measurement ended. */
  load1: number
}

export function measure (spec: LoadSpec): Promise<Load> {
  const tree = (spec.pids ?? []).flatMap((p) => processTree(p))
  const c0 = cpuTime(tree)
  const h = hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
  const interval = spec.rate !== undefined ? Math.max(1, Math.round(1e6 * spec.connections / spec.rate)) : 0
  return new Promise((resolve, reject) => {
    const inst = autocannon({
      url: spec.origin,
      connections: spec.connections,
      duration: spec.seconds,
      pipelining: 1,
      requests: spec.requests.map((r) => ({ method: (r.method ?? 'GET') as 'GET', path: r.path, headers: r.headers, body: r.body })),
      ...(spec.rate !== undefined ? { overallRate: spec.rate } : {}),
      ...(spec.servername !== undefined ? { servername: spec.servername } : {}),
    }, (err, r) => {
      if (err !== null && err !== undefined) { reject(err); return }
      const c1 = cpuTime(tree)
      const n = Math.max(1, r.requests.total)
      const ms = (p: number): number => h.getValueAtPercentile(p) / 1000
      resolve({
        rps: r.requests.total / Math.max(0.001, r.duration),
        requests: r.requests.total,
        p50: ms(50), p90: ms(90), p99: ms(99), max: h.maxValue / 1000,
        errors: r.errors + r.timeouts + r.non2xx,
        cpuUs: tree.length === 0 ? NaN : ((c1.user + c1.system) - (c0.user + c0.system)) / n * 1e6,
        cpuUserUs: tree.length === 0 ? NaN : (c1.user - c0.user) / n * 1e6,
        mbps: r.throughput.total / Math.max(0.001, r.duration) / 1e6,
        load1: loadavg()[0]!,
      })
    })
    // A per-response hook: µs resolution, with coordinated-omission correction at a fixed rate as
    // autocannon does for its own histogram.
    inst.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      if (status < 200 || status >= 300) return
      const us = Math.max(1, Math.round(responseTime * 1000))
      if (interval > 0) h.recordValueWithExpectedInterval(us, interval)
      else h.recordValue(us)
    })
  })
}

/** Median of each field over several loads. */
export function medianOf (xs: readonly Load[]): Load {
  const m = (f: (l: Load) => number): number => median(xs.map(f))
  return {
    rps: m((l) => l.rps), requests: m((l) => l.requests), p50: m((l) => l.p50), p90: m((l) => l.p90), p99: m((l) => l.p99), max: m((l) => l.max),
    errors: xs.reduce((a, l) => a + l.errors, 0), cpuUs: m((l) => l.cpuUs), cpuUserUs: m((l) => l.cpuUserUs), mbps: m((l) => l.mbps), load1: m((l) => l.load1),
  }
}

export function versionOf (pkg: string): string {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }
  return lock.packages[`node_modules/${pkg}`]?.version ?? '?'
}

export function firstLine (cmd: string): string {
  try { return execFileSync('sh', ['-c', `${cmd} 2>&1`]).toString().split('\n')[0]!.trim() } catch { return '?' }
}

/** The commit benchmarked, and whether src/ had uncommitted changes (other sessions share the tree). */
export function treeLine (): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).toString().trim() !== ''
    return `tree ${sha}${dirty ? ' with uncommitted changes in src/' : ''}`
  } catch { return 'tree: not a git checkout' }
}

export function machineLine (): string {
  return `${cpus()[0]?.model ?? '?'} x ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}`
}

export function versionsLine (nginxBin: string | null): string {
  return `Node ${process.versions.node}; Sluice ${SLUICE_VERSION}; uWebSockets.js ${versionOf('uWebSockets.js')}; undici ${versionOf('undici')}; ` +
    `autocannon ${versionOf('autocannon')}; ${nginxBin !== null ? firstLine(`${nginxBin} -v`) : 'nginx not installed'}`
}

export const f0 = (x: number): string => Number.isFinite(x) ? String(Math.round(x)) : 'n/a'
export const f1 = (x: number): string => Number.isFinite(x) ? x.toFixed(1) : 'n/a'
export const f2 = (x: number): string => Number.isFinite(x) ? x.toFixed(2) : 'n/a'
export const fx = (x: number): string => Number.isFinite(x) ? `${x.toFixed(2)}x` : 'n/a'

export const mib = (b: number): string => Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(0)} MiB` : 'n/a'

export interface Heap { used: number; total: number }

/** V8 heap of each worker thread (used, committed) from the status API's /metrics. */
export async function heapPerWorker (statusPort: number): Promise<Heap[]> {
  const r = await request(`http://127.0.0.1:${statusPort}/metrics`)
  const text = await r.body.text()
  const by = new Map<string, Heap>()
  for (const m of text.matchAll(/^sluice_worker_heap_bytes\{worker="(\d+)"[^}]*kind="(used|total)"[^}]*\} (\d+)/gm)) {
    const h = by.get(m[1]!) ?? { used: NaN, total: NaN }
    h[m[2] as 'used' | 'total'] = Number(m[3])
    by.set(m[1]!, h)
  }
  return [...by.values()]
}
export const heapText = (hs: Heap[]): string => hs.map((h) => `${mib(h.used)} used / ${mib(h.total)} committed`).join(', ')
