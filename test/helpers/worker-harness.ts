/**
 * Real proxy worker threads without a primary or a database: spawns N threads of
 * src/worker/main.ts exactly as the supervisor does (workerData, execArgv for the .ts entry),
 * posts hand-built snapshots, waits for `ready` / `snapshot-ack`, and shuts them down.
 * Also builds Kong-shaped service and route rows with Kong's defaults.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { encodeSnapshot } from '../../src/common/codec.ts'
import { PROTOCOL_VERSION, type PrimaryToWorker, type WorkerData, type WorkerToPrimary } from '../../src/common/protocol.ts'
import type { RouteRow, ServiceRow, Snapshot } from '../../src/common/snapshot.ts'
import { loadConfig, type Config } from '../../src/config/load.ts'
import { ensureDefaultCert } from '../../src/primary/default-cert.ts'
import { prepareUwsEnv } from '../../src/worker/uws-load.ts'
import { freePort } from './ports.ts'
import { routeWithDefaults } from '../../src/router/conformance-helpers.ts'

export const WORKER_ENTRY = new URL('../../src/worker/main.ts', import.meta.url)
/**
 * A .ts entry needs the tsx loader inside the thread. `--import tsx` does not register it in
 * workers on Node 20, so the thread imports src/worker/ts-loader.mjs, which does.
 */
export const WORKER_EXEC_ARGV = ['--import', new URL('../../src/worker/ts-loader.mjs', import.meta.url).href]

type Msg<T extends WorkerToPrimary['type']> = Extract<WorkerToPrimary, { type: T }>

export interface WorkerHandle {
  id: number
  thread: Worker
  messages: WorkerToPrimary[]
  exited: Promise<number>
  /** Resolves with the next message of `type` (matching `pred`) received from now on. */
  next<T extends WorkerToPrimary['type']> (type: T, pred?: (m: Msg<T>) => boolean): Promise<Msg<T>>
  post (msg: PrimaryToWorker): void
}

export interface Harness {
  port: number
  url: string
  /** With `ssl: true`: the TLS listener's port, and the prefix holding the default certificate. */
  tlsPort: number
  prefix: string
  config: Config
  workers: WorkerHandle[]
  /** Posts a snapshot to every worker; resolves with each worker's ack (or error). */
  publish (snap: Snapshot): Promise<Array<Msg<'snapshot-ack'> | Msg<'snapshot-error'>>>
  /** Latest metrics of every worker (waits for one more round from each). */
  metrics (): Promise<Array<Msg<'metrics'>>>
  /** Sends shutdown and waits for `drained` and the thread exit of every worker. */
  stop (graceMs?: number): Promise<void>
}

function spawnWorker (id: number, config: Config): WorkerHandle {
  const data: WorkerData = { protocol: PROTOCOL_VERSION, workerId: id, config }
  const thread = new Worker(WORKER_ENTRY, { workerData: data, execArgv: WORKER_EXEC_ARGV, name: `test-worker-${id}` })
  const messages: WorkerToPrimary[] = []
  const waiters: Array<{ type: string; pred: (m: WorkerToPrimary) => boolean; resolve: (m: WorkerToPrimary) => void }> = []
  thread.on('message', (m: WorkerToPrimary) => {
    messages.push(m)
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!
      if (w.type === m.type && w.pred(m)) {
        waiters.splice(i, 1)
        w.resolve(m)
        return
      }
    }
  })
  thread.on('error', (err) => { process.stderr.write(`worker ${id} error: ${err.stack ?? err.message}\n`) })
  const exited = new Promise<number>((resolve) => thread.once('exit', resolve))
  return {
    id,
    thread,
    messages,
    exited,
    next (type, pred = () => true) {
      return new Promise((resolve, reject) => {
        waiters.push({ type, pred: pred as (m: WorkerToPrimary) => boolean, resolve: resolve as (m: WorkerToPrimary) => void })
        void exited.then((code) => reject(new Error(`worker ${id} exited (${code}) while waiting for '${type}'`)))
      })
    },
    post (msg) { thread.postMessage(msg) },
  }
}

export interface StartOptions {
  workers?: number
  snapshot: Snapshot
  /** Extra kong.conf keys (`trusted_ips`, `headers`, ...). */
  conf?: Record<string, string>
  /** Also listen for TLS (a second port, `ssl`), with the default certificate made in a temporary prefix. */
  ssl?: boolean
}

export async function startWorkers (opts: StartOptions): Promise<Harness> {
  const port = await freePort()
  const tlsPort = opts.ssl === true ? await freePort() : 0
  const prefix = opts.conf?.prefix ?? (opts.ssl === true ? mkdtempSync(join(tmpdir(), 'sluice-tls-')) : '')
  if (opts.ssl === true) await ensureDefaultCert(prefix)
  const config = loadConfig({
    env: {},
    overrides: {
      proxy_listen: opts.ssl === true ? `127.0.0.1:${port}, 127.0.0.1:${tlsPort} ssl` : `127.0.0.1:${port}`,
      log_level: process.env.SLUICE_TEST_LOG ?? 'error',
      ...(prefix !== '' ? { prefix } : {}),
      ...opts.conf,
    },
  })
  const n = opts.workers ?? 2
  // As the primary does before it spawns workers: uWS builds that read UWS_HTTP_MAX_HEADERS_SIZE
  // (20.57) take the whole head nginx allows, so Sluice's own 414 / 400 answer below it.
  prepareUwsEnv(config.largeHeaderBuffers * config.largeHeaderBufferSize)
  const workers: WorkerHandle[] = []
  for (let i = 0; i < n; i++) workers.push(spawnWorker(i, config))
  const bytes = encodeSnapshot(opts.snapshot)
  const ready = workers.map((w) => w.next('ready'))
  for (const w of workers) w.post({ type: 'snapshot', version: opts.snapshot.version, bytes })
  try {
    const msgs = await Promise.all(ready)
    for (const m of msgs) if (m.port !== port) throw new Error(`worker ${m.workerId} bound ${m.port}, expected ${port}`)
  } catch (err) {
    // One worker failed to start: end the others, or their threads keep the process alive forever.
    await endWorkers(workers)
    throw err
  }
  let stopped = false
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    tlsPort,
    prefix: config.prefix,
    config,
    workers,
    async publish (snap) {
      const b = encodeSnapshot(snap)
      const answers = workers.map((w) => Promise.race([
        w.next('snapshot-ack', (m) => m.version === snap.version),
        w.next('snapshot-error', (m) => m.version === snap.version),
      ]))
      for (const w of workers) w.post({ type: 'snapshot', version: snap.version, bytes: b })
      return Promise.all(answers)
    },
    async metrics () {
      return Promise.all(workers.map((w) => w.next('metrics')))
    },
    async stop (graceMs = 1000) {
      if (stopped) return
      stopped = true
      const drained = workers.map((w) => w.next('drained').catch(() => null))
      for (const w of workers) w.post({ type: 'shutdown', graceMs })
      await Promise.all(drained)
      await Promise.all(workers.map((w) => w.exited))
    },
  }
}

/**
 * Ends workers that may be half started: a graceful shutdown first (a uWS thread terminated with
 * sockets open aborts the process: "uv_loop_close() while having open handles"), then terminate()
 * for one that has not exited within 5 s. Workers already gone are skipped.
 */
async function endWorkers (workers: readonly WorkerHandle[]): Promise<void> {
  await Promise.all(workers.map(async (w) => {
    let gone = false
    const exited = w.exited.then(() => { gone = true })
    try { w.post({ type: 'shutdown', graceMs: 0 }) } catch { /* already exited */ }
    let timer: NodeJS.Timeout | undefined
    await Promise.race([exited, new Promise<void>((resolve) => { timer = setTimeout(resolve, 5000) })])
    clearTimeout(timer)
    if (!gone) await w.thread.terminate()
  }))
}

let nextVersion = 1
export function snapshotVersion (): number { return nextVersion++ }

export function service (fields: Partial<ServiceRow> & { host: string; port: number }): ServiceRow {
  const now = Math.floor(Date.now() / 1000)
  return {
    id: randomUUID(),
    name: null,
    protocol: 'http',
    path: null,
    retries: 5,
    connect_timeout: 60000,
    write_timeout: 60000,
    read_timeout: 60000,
    enabled: true,
    tags: null,
    client_certificate: null,
    tls_verify: null,
    tls_verify_depth: null,
    ca_certificates: null,
    created_at: now,
    updated_at: now,
    ...fields,
  }
}

export function route (fields: Partial<RouteRow>, svc: ServiceRow | null): RouteRow {
  return routeWithDefaults(randomUUID(), { service: svc === null ? null : { id: svc.id }, ...fields }, Math.floor(Date.now() / 1000))
}

export function snapshot (services: ServiceRow[], routes: RouteRow[], version = snapshotVersion()): Snapshot {
  return { version, hash: randomUUID().replace(/-/g, ''), services, routes, entities: {} }
}
