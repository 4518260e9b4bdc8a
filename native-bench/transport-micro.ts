/**
 * Micro-benchmark of the upstream transports alone (no front end): one thread keeps `--inflight`
 * requests in flight through a transport against the uWS upstream (autocannon/upstream.ts, 13-byte
 * bodies, its own process) and measures this process's CPU time per request (user + system, from
 * process.cpuUsage) and requests per second. Rounds alternate the transports; medians.
 *
 *   node --import tsx native-bench/transport-micro.ts [--rounds 5] [--requests 200000] [--inflight 64]
 *        [--only net|undici]
 *
 * CPU per request is the figure to read on a shared machine: wall-clock RPS moves with whatever
 * else runs, the CPU a transport spends per request much less.
 */
import { fork, type ChildProcess } from 'node:child_process'
import type { IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import { freePort } from '../test/helpers/ports.ts'
import { createTransport } from '../src/worker/transport/index.ts'
import type { Transport, TransportController, TransportHandler, TransportKind } from '../src/worker/transport/types.ts'

const ROOT = new URL('..', import.meta.url).pathname

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback
}

const rounds = Number(arg('rounds', '5'))
const total = Number(arg('requests', '200000'))
const inflight = Number(arg('inflight', '64'))
const only = arg('only', '')
const kinds: TransportKind[] = only === 'net' || only === 'undici' ? [only] : ['undici', 'net']

const HEADERS = ['host', 'upstream.local', 'user-agent', 'wrk', 'accept', '*/*', 'x-forwarded-for', '127.0.0.1',
  'x-forwarded-proto', 'http', 'x-forwarded-host', 'localhost', 'x-forwarded-port', '8000', 'x-real-ip', '127.0.0.1']

class Loop implements TransportHandler {
  readonly t: Transport
  readonly done: () => void
  left: number
  bytes = 0
  constructor (t: Transport, n: number, done: () => void) {
    this.t = t
    this.left = n
    this.done = done
  }

  next (): void {
    if (this.left-- <= 0) { this.done(); return }
    this.t.dispatch({ method: 'GET', path: '/bench?x=1', headers: HEADERS, headersTimeout: 60_000, bodyTimeout: 60_000, reset: false }, this)
  }

  onRequestStart (_c: TransportController): void {}
  onResponseStart (_c: TransportController, _s: number, _h: IncomingHttpHeaders): void {}
  onResponseData (_c: TransportController, chunk: Buffer): void { this.bytes += chunk.length }
  onResponseEnd (): void { this.next() }
  onResponseError (_c: TransportController | null, err: Error): void { throw err }
}

async function runOnce (t: Transport, n: number): Promise<{ rps: number; cpuUs: number }> {
  const per = Math.ceil(n / inflight)
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: inflight }, () => new Promise<void>((resolve) => new Loop(t, per, resolve).next())))
  const ms = performance.now() - t0
  const c = process.cpuUsage(c0)
  const done = per * inflight
  return { rps: done / (ms / 1000), cpuUs: (c.user + c.system) / done }
}

function median (xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

async function main (): Promise<void> {
  const port = await freePort()
  const up: ChildProcess = fork(join(ROOT, 'autocannon/upstream.ts'), [String(port)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  await new Promise((resolve) => up.once('message', resolve))
  try {
    const target = { protocol: 'http' as const, host: '127.0.0.1', port, origin: `http://127.0.0.1:${port}`, connectTimeout: 10_000, tlsVerify: false }
    const opts = { keepalivePoolSize: 512, keepaliveMaxRequests: 10_000, keepaliveIdleTimeoutMs: 60_000 }
    const ts = new Map(kinds.map((k) => [k, createTransport(k, target, opts)]))
    for (const k of kinds) await runOnce(ts.get(k)!, Math.min(total, 20_000))
    const res = new Map<TransportKind, Array<{ rps: number; cpuUs: number }>>(kinds.map((k) => [k, []]))
    for (let r = 0; r < rounds; r++) {
      for (const k of r % 2 === 0 ? kinds : [...kinds].reverse()) res.get(k)!.push(await runOnce(ts.get(k)!, total))
    }
    process.stdout.write(`transport micro-benchmark: ${total} requests x ${rounds} rounds, ${inflight} in flight, Node ${process.version}\n\n`)
    process.stdout.write('| transport | req/s (median) | client CPU us/req (median) |\n| --- | --- | --- |\n')
    for (const k of kinds) {
      const x = res.get(k)!
      process.stdout.write(`| ${k} | ${median(x.map((v) => v.rps)).toFixed(0)} | ${median(x.map((v) => v.cpuUs)).toFixed(2)} |\n`)
    }
    if (kinds.length === 2) {
      const ratio = median(res.get('net')!.map((v, i) => res.get('undici')![i]!.cpuUs / v.cpuUs))
      process.stdout.write(`\nundici CPU / net CPU per request: x${ratio.toFixed(2)}\n`)
    }
    for (const t of ts.values()) await t.destroy()
  } finally {
    up.kill('SIGTERM')
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
