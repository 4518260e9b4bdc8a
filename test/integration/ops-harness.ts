/**
 * Shared by the ops-*.test.ts files: the `sluice` command run as an operator runs it (separate
 * processes, a configuration file, a prefix of its own, free ports), a small upstream, and waiting.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../helpers/ports.ts'
import type { TestDb } from '../helpers/pg.ts'

export const ROOT = new URL('../..', import.meta.url).pathname
export const BIN = join(ROOT, 'bin', 'sluice.mjs')

export interface Run { code: number; out: string; err: string }

/** The environment without KONG_* / SLUICE_* from the caller's shell. */
function cleanEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KONG_') && !k.startsWith('SLUICE_')) env[k] = v
  return { ...env, ...extra }
}

export function sluice (args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cleanEnv(env), timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out: stdout, err: stderr })
    })
  })
}

export function run (cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: cleanEnv(env), timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out: stdout, err: stderr })
    })
  })
}

/** A node of its own: prefix, ports, and a configuration file the test can rewrite (reload). */
export interface OpsNode {
  prefix: string
  conf: string
  proxy: string
  admin: string
  status: string
  proxyPort: number
  keys: Record<string, string>
  /** Rewrites the configuration file with `keys` plus `changes`. */
  write (changes?: Record<string, string>): void
  cli (args: string[], timeoutMs?: number): Promise<Run>
}

export async function opsNode (db: TestDb, extra: Record<string, string> = {}): Promise<OpsNode> {
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-ops-'))
  chmodSync(prefix, 0o755)
  const proxyPort = await freePort()
  const adminPort = await freePort()
  const statusPort = await freePort()
  const s = db.settings
  const keys: Record<string, string> = {
    prefix,
    pg_host: s.host,
    pg_port: String(s.port),
    pg_user: s.user,
    pg_password: s.password,
    pg_database: s.database,
    proxy_listen: `127.0.0.1:${proxyPort}`,
    admin_listen: `127.0.0.1:${adminPort}`,
    status_listen: `127.0.0.1:${statusPort}`,
    nginx_worker_processes: '2',
    drain_timeout: '3000',
    db_update_frequency: '1',
    ...extra,
  }
  const conf = join(prefix, 'sluice.conf')
  const node: OpsNode = {
    prefix,
    conf,
    proxyPort,
    proxy: `http://127.0.0.1:${proxyPort}`,
    admin: `http://127.0.0.1:${adminPort}`,
    status: `http://127.0.0.1:${statusPort}`,
    keys,
    write (changes = {}) {
      Object.assign(keys, changes)
      writeFileSync(conf, Object.entries(keys).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n')
    },
    cli: (args, timeoutMs) => sluice([...args, '-c', conf], {}, timeoutMs),
  }
  node.write()
  return node
}

/** `sluice start --foreground` as a child process (systemd's way); output collected. */
export function foreground (node: OpsNode): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'start', '--foreground', '-c', node.conf], { env: cleanEnv({}), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr!.on('data', (c: Buffer) => { out += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown = null
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== null && v !== false) return v
    } catch (err) { last = err }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last !== null ? `: ${(last as Error).message}` : ''}`)
    await sleep(everyMs)
  }
}

/** A plain upstream: /ok answers 200 "hello", /fail 500 "no", anything else 404. */
export async function simpleUpstream (): Promise<{ port: number; url: string; count: () => number; close (): Promise<void> }> {
  let n = 0
  const server: Server = createServer((req, res) => {
    n++
    req.resume()
    req.on('end', () => {
      if (req.url?.startsWith('/ok') === true) { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 }); res.end('hello') } else if (req.url?.startsWith('/fail') === true) { res.writeHead(500, { 'content-length': 2 }); res.end('no') } else { res.writeHead(404, { 'content-length': 0 }); res.end() }
    })
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    count: () => n,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }),
  }
}

/**
 * Whether a reload can promise no failed request on this machine: the kernel must move
 * connections queued on a closing SO_REUSEPORT listener to the others (net.ipv4.tcp_migrate_req,
 * set by scripts/install.sh), and the worker must let connections accepted just before its
 * listener closed send their request (the drain settle in worker/main.ts `shutdown`).
 */
export function reloadWithoutResets (): { ok: boolean; why: string } {
  let migrate = '0'
  try { migrate = readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() } catch {}
  let settle = false
  try { settle = /settle/.test(readFileSync(join(ROOT, 'src/worker/main.ts'), 'utf8')) } catch {}
  const why: string[] = []
  if (migrate !== '1') why.push('net.ipv4.tcp_migrate_req is not 1 on this machine')
  if (!settle) why.push('the worker drain settle (worker/main.ts shutdown) is not in')
  return { ok: why.length === 0, why: why.join('; ') }
}
