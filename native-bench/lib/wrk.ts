/**
 * Runs wrk (`wrk -t<threads> -c<connections> -d<s>s --latency URL`, optionally under `taskset -c`)
 * and parses its text report: requests, duration, Requests/sec, the latency distribution
 * (50/75/90/99 %), non-2xx responses and socket errors.
 */
import { spawn } from 'node:child_process'

export interface WrkOptions {
  threads: number
  connections: number
  durationS: number
  /** taskset CPU list for wrk itself (`1`), or null: anywhere. */
  cpus: string | null
  /** A wrk Lua script (`-s FILE`), e.g. one that cycles through a list of requests. */
  script?: string
}

export interface WrkResult {
  requests: number
  seconds: number
  rps: number
  /** Latency percentiles in milliseconds. */
  p50: number
  p75: number
  p90: number
  p99: number
  non2xx: number
  socketErrors: { connect: number; read: number; write: number; timeout: number }
  /** non-2xx plus every socket error. */
  errors: number
  raw: string
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

function toMs (value: string, unit: string): number {
  return Number(value) * (UNIT_MS[unit] ?? NaN)
}

export function parseWrk (raw: string): WrkResult {
  const pct = (p: number): number => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(raw)
    return m === null ? NaN : toMs(m[1]!, m[2]!)
  }
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(raw)
  if (total === null) throw new Error(`cannot parse wrk output:\n${raw}`)
  const requests = Number(total[1])
  const seconds = toMs(total[2]!, total[3]!) / 1000
  const rpsLine = /^Requests\/sec:\s+([\d.]+)/m.exec(raw)
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(raw)?.[1] ?? 0)
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw)
  const socketErrors = { connect: Number(se?.[1] ?? 0), read: Number(se?.[2] ?? 0), write: Number(se?.[3] ?? 0), timeout: Number(se?.[4] ?? 0) }
  return {
    requests,
    seconds,
    rps: rpsLine !== null ? Number(rpsLine[1]) : requests / seconds,
    p50: pct(50),
    p75: pct(75),
    p90: pct(90),
    p99: pct(99),
    non2xx,
    socketErrors,
    errors: non2xx + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout,
    raw,
  }
}

export function runWrk (bin: string, url: string, o: WrkOptions): Promise<WrkResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationS}s`, '--latency', ...(o.script !== undefined ? ['-s', o.script] : []), url]
  const [cmd, argv] = o.cpus === null ? [bin, args] : ['taskset', ['-c', o.cpus, bin, ...args]]
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString('utf8') })
    child.stderr.on('data', (c: Buffer) => { err += c.toString('utf8') })
    // wrk stops by itself after -d; this only guards against a hang.
    const guard = setTimeout(() => { child.kill('SIGKILL') }, (o.durationS + 30) * 1000)
    child.once('error', (e) => { clearTimeout(guard); reject(e) })
    child.once('exit', (code) => {
      clearTimeout(guard)
      if (code !== 0) { reject(new Error(`wrk exited with ${code}: ${err || out}`)); return }
      try { resolve(parseWrk(out)) } catch (e) { reject(e) }
    })
  })
}
