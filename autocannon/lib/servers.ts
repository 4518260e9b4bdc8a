/**
 * What the load scripts (autocannon/run.ts, native-bench/run.ts) share: the processes under test and
 * how to start them. Each server is its own process on a loopback port; `Procs` remembers every
 * child and cleanup so that one `finally` stops them all.
 *
 *   startUpstream   autocannon/upstream.ts: uWebSockets.js, 13-byte body
 *   startSluice     bin/sluice.mjs start --foreground on a fresh database (test/helpers/pg.ts), then
 *                   one service + one route (`/`) through its Admin API
 *   startNginx      nginx proxy_pass with upstream keepalive, `worker_processes` = workers
 *   startBare       native-bench/bare-proxy.ts: the bare uWS + undici proxy (the stack's baseline)
 *
 * startSluice can also join an existing database (`db`, several nodes on one PostgreSQL: a cluster)
 * without creating the default route, set any SLUICE_* key (`env`: upstream_transport ...), add a
 * TLS listener on the generated default certificate (`https`) and pass node flags (`nodeArgs`:
 * --cpu-prof ...).
 */
import { fork, spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../test/helpers/pg.ts'
import { freePort } from '../../test/helpers/ports.ts'

export const ROOT = new URL('../..', import.meta.url).pathname

export const say = (m: string): void => { process.stdout.write(m + '\n') }

/** Children and cleanups of one run, stopped in reverse order by `stopAll()`. */
export class Procs {
  readonly #children: ChildProcess[] = []
  readonly #cleanups: Array<() => Promise<void> | void> = []

  add (child: ChildProcess): ChildProcess {
    this.#children.push(child)
    return child
  }

  onStop (fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn)
  }

  /** Stops one child now (SIGTERM) and waits for it to exit. */
  async stop (child: ChildProcess): Promise<void> {
    const i = this.#children.indexOf(child)
    if (i >= 0) this.#children.splice(i, 1)
    if (child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await gone
  }

  async stopAll (): Promise<void> {
    const children = this.#children.splice(0)
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
    await Promise.all(children.map((c) => c.exitCode !== null || c.signalCode !== null ? null : new Promise((resolve) => c.once('exit', resolve))))
    for (const fn of this.#cleanups.splice(0).reverse()) await fn()
  }
}

export function median (xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Resolves on the child's first IPC message (the servers here send 'ready'). */
export function waitReady (child: ChildProcess, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve())
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)))
  })
}

export async function waitHttp (url: string, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now()
  for (;;) {
    try { const r = await request(url); await r.body.dump(); return } catch {}
    if (Date.now() - t0 > timeoutMs) throw new Error(`${url} did not answer within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** waitHttp, but rejects at once when the child exits first (a bad config, a port taken). */
export async function waitHttpOrExit (child: ChildProcess, name: string, url: string, timeoutMs = 60_000): Promise<void> {
  let onExit: (() => void) | null = null
  const exited = new Promise<never>((_resolve, reject) => {
    onExit = () => { reject(new Error(`${name} exited (code ${child.exitCode}, signal ${child.signalCode}) before answering on ${url}`)) }
    if (child.exitCode !== null || child.signalCode !== null) onExit()
    else child.once('exit', onExit)
  })
  exited.catch(() => {})
  try {
    await Promise.race([waitHttp(url, timeoutMs), exited])
  } finally {
    if (onExit !== null) child.off('exit', onExit)
  }
}

/** The path of a command on PATH, or null. */
export function which (bin: string): string | null {
  try { return execFileSync('sh', ['-c', `command -v ${bin}`]).toString().trim() || null } catch { return null }
}

/** A system binary that may live in an sbin directory missing from a user's PATH. */
export function findSbin (name: string): string | null {
  const onPath = which(name)
  if (onPath !== null) return onPath
  for (const dir of ['/usr/sbin', '/sbin', '/usr/local/sbin']) if (existsSync(join(dir, name))) return join(dir, name)
  return null
}

export interface Upstream { port: number; child: ChildProcess }

export async function startUpstream (procs: Procs): Promise<Upstream> {
  const port = await freePort()
  const child = procs.add(fork(join(ROOT, 'autocannon/upstream.ts'), [String(port)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }))
  await waitReady(child, 'upstream')
  return { port, child }
}

export interface SluiceOptions {
  workers: number
  upstreamPort: number
  /** Keep the last lines Sluice prints (stdout and stderr), for reports when it fails. */
  captureLog?: boolean
  /** Serve the status API (/metrics) on this loopback port; off when absent. */
  statusPort?: number
  /** Join this database (already configured) instead of a fresh one with the default route. */
  db?: TestDb
  /** With `db`: the path that answers once the node serves its configuration (default /hello). */
  readyPath?: string
  /** More SLUICE_* settings (e.g. { SLUICE_UPSTREAM_TRANSPORT: 'net' }). */
  env?: Record<string, string>
  /** Node flags before the script (default none: Sluice runs as deployed; its workers' young generation is set in primary/workers.ts). */
  nodeArgs?: string[]
  /** Also listen with TLS (the generated default certificate, CN=localhost) on a loopback port. */
  https?: boolean
  /** ms to wait for the node to serve (default 60 s; 100,000 consumers take longer on a busy machine). */
  timeoutMs?: number
  /** Run bin/sluice.mjs from this checkout instead of this one (A/B runs against another tree). */
  root?: string
}

export interface Sluice {
  child: ChildProcess
  proxyPort: number
  adminPort: number
  /** The TLS proxy port (`https` only; 0 otherwise). */
  tlsPort: number
  /** The node's prefix (holds ssl/sluice-default.crt and .key). */
  prefix: string
  /** The last ~16 KB Sluice printed (captureLog only; '' otherwise). */
  logTail (): string
}

/**
 * Sluice on a fresh database from test/helpers/pg.ts, with one service pointing at the upstream and
 * one route `/`. Resolves once the route proxies.
 */
export async function startSluice (procs: Procs, o: SluiceOptions): Promise<Sluice> {
  const own = o.db === undefined
  const db = o.db ?? await createTestDb()
  if (own) procs.onStop(() => db.drop())
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-bench-'))
  procs.onStop(() => { rmSync(prefix, { recursive: true, force: true }) })
  const proxyPort = await freePort()
  const adminPort = await freePort()
  const tlsPort = o.https === true ? await freePort() : 0
  const s = db.settings
  let tail = ''
  const listen = `127.0.0.1:${proxyPort}` + (o.https === true ? `, 127.0.0.1:${tlsPort} ssl` : '')
  const child = procs.add(spawn(process.execPath, [...(o.nodeArgs ?? []), join(o.root ?? ROOT, 'bin/sluice.mjs'), 'start', '--foreground'], {
    stdio: o.captureLog === true ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      SLUICE_PREFIX: prefix, SLUICE_PG_HOST: s.host, SLUICE_PG_PORT: String(s.port), SLUICE_PG_USER: s.user,
      SLUICE_PG_PASSWORD: s.password, SLUICE_PG_DATABASE: s.database, SLUICE_PROXY_LISTEN: listen,
      SLUICE_ADMIN_LISTEN: `127.0.0.1:${adminPort}`, SLUICE_STATUS_LISTEN: o.statusPort !== undefined ? `127.0.0.1:${o.statusPort}` : 'off', SLUICE_NGINX_WORKER_PROCESSES: String(o.workers),
      SLUICE_LOG_LEVEL: 'warn', SLUICE_PROXY_ACCESS_LOG: 'off', ...o.env,
    },
  }))
  if (o.captureLog === true) {
    const keep = (chunk: Buffer): void => { tail = (tail + chunk.toString('utf8')).slice(-16_384) }
    child.stdout!.on('data', keep)
    child.stderr!.on('data', (chunk: Buffer) => { keep(chunk); process.stderr.write(chunk) })
  }
  const admin = `http://127.0.0.1:${adminPort}`
  const exited = new Promise<never>((_resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`sluice exited during start (code ${code}, signal ${signal})`)))
  })
  exited.catch(() => {})
  const ready = async (): Promise<void> => {
    await waitHttp(`${admin}/status`, o.timeoutMs)
    if (!own) { await waitHttp(`http://127.0.0.1:${proxyPort}${o.readyPath ?? '/hello'}`, o.timeoutMs); return }
    const post = async (path: string, body: unknown): Promise<void> => {
      const r = await request(admin + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      if (r.statusCode !== 201) throw new Error(`${path}: ${r.statusCode} ${await r.body.text()}`)
      await r.body.dump()
    }
    await post('/services', { name: 'bench', url: `http://127.0.0.1:${o.upstreamPort}` })
    await post('/services/bench/routes', { name: 'bench', paths: ['/'] })
    await waitHttp(`http://127.0.0.1:${proxyPort}/hello`)
  }
  try {
    await Promise.race([ready(), exited])
  } catch (err) {
    if (o.captureLog === true && tail !== '') (err as Error).message += `\n--- last output of sluice ---\n${tail.trimEnd()}`
    throw err
  }
  return { child, proxyPort, adminPort, tlsPort, prefix, logTail: () => tail }
}

export interface Nginx { child: ChildProcess; url: string; port: number; tlsPort: number; bin: string }

/**
 * nginx `proxy_pass` to the upstream with an upstream keepalive pool; null (with a message) when
 * nginx is not installed.
 */
export async function startNginx (procs: Procs, o: { upstreamPort: number; workers: number; tls?: { cert: string; key: string } }): Promise<Nginx | null> {
  const bin = findSbin('nginx')
  if (bin === null) { say('nginx: not installed (apt-get install nginx-light); skipping the nginx baseline'); return null }
  const port = await freePort()
  const tlsPort = o.tls !== undefined ? await freePort() : 0
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-nginx-'))
  writeFileSync(join(dir, 'nginx.conf'), `
worker_processes ${o.workers};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream up { server 127.0.0.1:${o.upstreamPort}; keepalive 64; }
  client_max_body_size 0;
  proxy_request_buffering off;
  server {
    listen 127.0.0.1:${port} reuseport;
    ${o.tls !== undefined ? `listen 127.0.0.1:${tlsPort} ssl reuseport; ssl_certificate ${o.tls.cert}; ssl_certificate_key ${o.tls.key};` : ''}
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`)
  const child = procs.add(spawn(bin, ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' }))
  procs.onStop(() => { rmSync(dir, { recursive: true, force: true }) })
  await waitHttp(`http://127.0.0.1:${port}/`)
  return { child, url: `http://127.0.0.1:${port}/`, port, tlsPort, bin }
}

export interface Bare { child: ChildProcess; url: string; port: number }

/** native-bench/bare-proxy.ts (uWS + undici, no routing, no plugins) with `workers` threads. */
export async function startBare (procs: Procs, o: { upstreamPort: number; workers: number; client?: 'stack' | 'pool' }): Promise<Bare> {
  const port = await freePort()
  const child = procs.add(fork(join(ROOT, 'native-bench/bare-proxy.ts'), ['--port', String(port), '--upstream', `http://127.0.0.1:${o.upstreamPort}`, '--workers', String(o.workers), '--client', o.client ?? 'stack'], {
    execArgv: ['--import', 'tsx', '--max-semi-space-size=32'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  }))
  await waitReady(child, 'bare-proxy')
  return { child, url: `http://127.0.0.1:${port}/`, port }
}
