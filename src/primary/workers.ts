/**
 * Worker supervisor: spawns the proxy worker threads, hands each the current snapshot, and keeps
 * them alive.
 *
 * Per worker: starting --ready--> serving --shutdown--> draining --exit--> gone.
 * A worker that exits while serving is replaced at once (a crash loses only its in-flight
 * requests). One that dies before `ready` counts as a bootstrap failure: after 3 in a row the
 * supervisor gives up instead of looping, and start() rejects with the worker's error.
 *
 * A starting worker that answers the newest snapshot it was given with `snapshot-error` cannot
 * serve: it does not listen until a snapshot compiles, so start() rejects at once, naming the
 * worker and its message, instead of waiting for a `ready` that never comes. A worker that is
 * already serving and rejects a later snapshot keeps serving the one before (worker/main.ts).
 * When start() fails, it stops the workers it spawned the ordinary way (`shutdown`: listen
 * sockets closed, then the thread exits) before it rejects, so nothing is left listening.
 */
import { Worker } from 'node:worker_threads'
import { EventEmitter } from 'node:events'
import type { Config } from '../config/load.ts'
import { PROTOCOL_VERSION, type PrimaryToWorker, type RlDeltas, type RlInit, type RlTotals, type WorkerData, type WorkerToPrimary } from '../common/protocol.ts'
import { log } from '../common/log.ts'
import { ensureDefaultCert } from './default-cert.ts' // TLS
import { ProxyCacheRelay } from '../plugins/proxy-cache/api.ts'
import { DnsStatsRelay } from './dns-stats.ts'
import { oauth2Unavailable, type OAuth2Handler } from '../plugins/oauth2/primary.ts'
import { NO_SESSION_STORE, type SessionStoreHandler } from './session-store.ts'

const ENTRY = new URL('../worker/main.ts', import.meta.url)
/**
 * Workers of a .ts entry need the tsx loader registered inside the thread (Node 20 does not share
 * the main thread's loader hooks with workers; see worker/ts-loader.mjs). A compiled build would not.
 */
const EXEC_ARGV = ENTRY.pathname.endsWith('.ts') ? ['--import', new URL('../worker/ts-loader.mjs', import.meta.url).href] : []
/** Young generation of each worker thread (MiB); see spawn. */
const WORKER_YOUNG_GENERATION_MB = 96

export interface WorkerState {
  id: number
  thread: Worker
  state: 'starting' | 'serving' | 'draining'
  threadId: number
  snapshotVersion: number
  compileMs: number
  port: number
  requests: number
  connections: number
  startedAt: number
  restarts: number
}

export class Supervisor extends EventEmitter {
  readonly workers = new Map<number, WorkerState>()
  private readonly config: Config
  private current: { version: number; bytes: Uint8Array } | null = null
  private stopping = false
  private bootstrapFailures = 0
  private lastError: string | null = null
  // --- rate limiting (primary/ratelimit/writer.ts): the table handshake and the batches ---
  private rl: { init: RlInit; onDeltas: (msg: RlDeltas) => void } | null = null
  /** oauth2 plugin: the node's primary side (plugins/oauth2/primary.ts); none in DB-less mode. */
  private oauth2: OAuth2Handler | null = null
  /** session plugin's `kong` storage (primary/session-store.ts); none in DB-less mode. */
  private sessions: SessionStoreHandler = NO_SESSION_STORE
  /** proxy-cache Admin API: asks the serving workers about their caches and gathers the answers. */
  readonly proxyCache = new ProxyCacheRelay((id, m) => { const w = this.workers.get(id); if (w) this.post(w, m) }, () => [...this.workers.values()].filter((w) => w.state === 'serving').map((w) => w.id))
  /** GET /status/dns: asks the serving workers for their DNS statistics (dns-stats.ts). */
  readonly dnsStats = new DnsStatsRelay((id, m) => { const w = this.workers.get(id); if (w) this.post(w, m) }, () => [...this.workers.values()].filter((w) => w.state === 'serving').map((w) => w.id))

  constructor (config: Config) {
    super()
    this.config = config
  }

  /** Spawns config.workers workers with the given snapshot and resolves when all are serving. */
  async start (snapshot: { version: number; bytes: Uint8Array }): Promise<void> {
    this.current = snapshot
    // uWS reads its header-size limit from the process environment when its native module loads;
    // a worker's process.env is a copy native code never sees, so it is set here, before any worker
    // starts (builds that honour it: 20.57+, see worker/uws-load.ts). Kong: large_client_header_buffers.
    process.env.UWS_HTTP_MAX_HEADERS_SIZE = String(this.config.largeHeaderBuffers * this.config.largeHeaderBufferSize)
    // TLS: the default certificate the workers' TLS listeners serve, generated into the prefix once.
    if (this.config.proxyListen.some((l) => l.ssl)) await ensureDefaultCert(this.config.prefix)
    const ready: Array<Promise<void>> = []
    for (let i = 0; i < this.config.workers; i++) ready.push(this.spawn(i, 0))
    try {
      await Promise.all(ready)
    } catch (err) {
      // Workers already serving (or still starting) are drained and stopped before the failure is
      // reported: a worker thread ended with its uWS listen sockets open takes the process down.
      await this.stop(this.config.drainTimeoutMs)
      throw err
    }
  }

  private spawn (id: number, restarts: number): Promise<void> {
    const data: WorkerData = { protocol: PROTOCOL_VERSION, workerId: id, config: this.config }
    // A worker's young generation: 96 MiB (32 MiB semi-spaces) rather than V8's default 48, so the
    // per-request garbage of a proxy under load dies young: 0.95-0.98x CPU per request, measured
    // with autocannon/cpu-per-request.ts; it costs about 13 MiB of RSS per worker under load
    // (autocannon/memory-workers.ts). A process-wide --max-semi-space-size flag takes precedence.
    const thread = new Worker(ENTRY, {
      workerData: data, execArgv: EXEC_ARGV, name: `sluice-worker-${id}`, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    })
    const w: WorkerState = {
      id, thread, state: 'starting', threadId: thread.threadId, snapshotVersion: 0, compileMs: 0, port: 0,
      requests: 0, connections: 0, startedAt: Date.now(), restarts,
    }
    this.workers.set(id, w)
    return new Promise<void>((resolve, reject) => {
      thread.on('message', (msg: WorkerToPrimary) => {
        this.onMessage(w, msg)
        if (msg.type === 'ready') { this.bootstrapFailures = 0; resolve() }
        // The newest snapshot this starting worker has was refused: nothing it could listen with.
        // (An older one refused while a newer one is on its way: the newer one may still compile.)
        // For a replacement spawned after start() resolved, nobody awaits this: the worker waits
        // for the next snapshot, as before.
        else if (msg.type === 'snapshot-error' && w.state === 'starting' && msg.version >= (this.current?.version ?? 0)) {
          reject(new Error(`worker ${id} could not start: it rejected configuration snapshot ${msg.version}: ${msg.message}`))
        }
      })
      thread.on('error', (err) => {
        this.lastError = err.stack ?? err.message
        log.error(`worker ${id} failed: ${err.stack ?? err.message}`)
      })
      thread.on('exit', (code) => {
        const wasServing = w.state === 'serving'
        if (this.workers.get(id) === w) this.workers.delete(id)
        this.emit('exit', id, code)
        if (this.stopping || w.state === 'draining') return
        if (!wasServing) {
          this.bootstrapFailures++
          if (this.bootstrapFailures >= 3) {
            reject(new Error(`worker ${id} could not start (exit code ${code}): ${this.lastError ?? 'no error reported'}`))
            return
          }
        } else {
          log.error(`worker ${id} exited unexpectedly (code ${code}); starting a new one`)
        }
        this.spawn(id, restarts + 1).then(resolve, reject)
      })
      if (this.rl !== null) this.post(w, this.rl.init) // rate limiting: the shared counter table first
      if (this.current !== null) this.post(w, { type: 'snapshot', version: this.current.version, bytes: this.current.bytes })
    })
  }

  private onMessage (w: WorkerState, msg: WorkerToPrimary): void {
    switch (msg.type) {
      case 'ready':
        if (msg.protocol !== PROTOCOL_VERSION) log.error(`worker ${w.id} speaks protocol ${msg.protocol}, expected ${PROTOCOL_VERSION}`)
        w.state = 'serving'
        w.snapshotVersion = msg.snapshotVersion
        w.port = msg.port
        this.emit('ready', w.id)
        break
      case 'snapshot-ack':
        w.snapshotVersion = msg.version
        w.compileMs = msg.compileMs
        this.emit('ack', w.id, msg.version)
        break
      case 'snapshot-resync': // a delta it could not apply: the full snapshot of the current version
        log.warn(`worker ${w.id} asks for the full snapshot (serving ${msg.version}): ${msg.reason}`)
        if (this.current !== null && w.state !== 'draining') this.post(w, { type: 'snapshot', version: this.current.version, bytes: this.current.bytes })
        break
      case 'snapshot-error':
        log.error(`worker ${w.id} rejected snapshot ${msg.version}: ${msg.message}`)
        this.emit('snapshot-error', w.id, msg.version, msg.message)
        break
      case 'metrics':
        w.requests = msg.requests
        w.connections = msg.connections
        break
      case 'error':
        log.error(`worker ${w.id}: ${msg.code}: ${msg.message}`)
        break
      case 'drained':
        break
      case 'rl-deltas': // rate limiting
        this.rl?.onDeltas(msg)
        break
      case 'metrics-delta': // ops: merged into the /metrics registry (primary/main.ts)
        this.emit('metrics-delta', w, msg.delta)
        break
      case 'proxy-cache-result':
        this.proxyCache.onResult(msg)
        break
      case 'dns-stats-result': // GET /status/dns (dns-stats.ts)
        this.dnsStats.onResult(msg)
        break
      case 'oauth2': // oauth2 plugin: grants and token lookups on the database (plugins/oauth2/primary.ts)
        if (this.oauth2 === null) this.post(w, oauth2Unavailable(msg))
        else this.oauth2.onMessage(w.thread, msg, (m) => { this.post(w, m) })
        break
      case 'session': // session plugin: the worker's channel to the sessions table (primary/session-store.ts)
        this.sessions.attach(w.thread, msg.port)
        break
      case 'passive-health': // upstream health (primary/health): passive observations
        this.emit('passive-health', msg)
        break
      default: {
        const never: never = msg
        log.warn(`unknown message from worker ${w.id}: ${JSON.stringify(never)}`)
      }
    }
  }

  private post (w: WorkerState, msg: PrimaryToWorker): void {
    try { w.thread.postMessage(msg) } catch (err) { log.error(`posting to worker ${w.id}: ${(err as Error).message}`) }
  }

  /** Sends one encoded snapshot (the same SharedArrayBuffer-backed bytes) to every worker. */
  broadcast (snapshot: { version: number; bytes: Uint8Array }): void {
    this.current = snapshot
    for (const w of this.workers.values()) {
      if (w.state !== 'draining') this.post(w, { type: 'snapshot', version: snapshot.version, bytes: snapshot.bytes })
    }
  }

  /**
   * Sends one encoded delta (on top of `base`) to every worker. `snapshot` is the full snapshot of
   * the delta's version, for workers that start later or ask to resync; its `bytes` may be
   * encoded lazily (primary/snapshot.ts), on first read.
   */
  broadcastDelta (base: number, bytes: Uint8Array, snapshot: { version: number; readonly bytes: Uint8Array }): void {
    this.current = snapshot
    for (const w of this.workers.values()) {
      if (w.state !== 'draining') this.post(w, { type: 'snapshot-delta', base, version: snapshot.version, bytes })
    }
  }

  // --- rate limiting ---
  /** Must be called before start(): every worker gets `init` before its first snapshot. */
  attachRateLimit (init: RlInit, onDeltas: (msg: RlDeltas) => void): void {
    this.rl = { init, onDeltas }
  }

  /** Posts one rl-totals to every worker that is not draining. */
  broadcastRl (msg: RlTotals): void {
    for (const w of this.workers.values()) if (w.state !== 'draining') this.post(w, msg)
  }
  // --- end rate limiting ---

  /**
   * oauth2 plugin: the node's primary side answers this generation's workers (grants, token
   * lookups) and tells them of invalidations. Without one, a worker's request is answered with an
   * error at once (DB-less mode).
   */
  attachOAuth2 (handler: OAuth2Handler): void {
    this.oauth2 = handler
  }

  /** session plugin: the node's `sessions` table for this generation's workers (database mode). */
  attachSessions (store: SessionStoreHandler): void {
    this.sessions = store
  }

  // --- upstream health (primary/health): verdicts to every worker, or the whole table to one ---
  /** Posts `msg` to every worker that is not draining. */
  broadcastMessage (msg: PrimaryToWorker): void {
    for (const w of this.workers.values()) if (w.state !== 'draining') this.post(w, msg)
  }

  /** Posts `msg` to one worker (ignored if it is gone or draining). */
  sendTo (workerId: number, msg: PrimaryToWorker): void {
    const w = this.workers.get(workerId)
    if (w !== undefined && w.state !== 'draining') this.post(w, msg)
  }
  // --- end upstream health ---

  /** Resolves when every serving worker has acknowledged `version` (or a newer one). */
  waitForVersion (version: number, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => [...this.workers.values()].every((w) => w.state !== 'serving' || w.snapshotVersion >= version)
      if (check()) { resolve(); return }
      const onAck = (): void => { if (check()) { cleanup(); resolve() } }
      const timer = setTimeout(() => { cleanup(); reject(new Error(`workers did not acknowledge snapshot ${version} within ${timeoutMs} ms`)) }, timeoutMs)
      const cleanup = (): void => { clearTimeout(timer); this.off('ack', onAck); this.off('exit', onAck) }
      this.on('ack', onAck)
      this.on('exit', onAck)
    })
  }

  /** Drains and stops every worker: they stop accepting, finish in-flight requests up to graceMs, exit. */
  async stop (graceMs: number): Promise<void> {
    this.stopping = true
    const exits: Array<Promise<void>> = []
    for (const w of this.workers.values()) {
      w.state = 'draining'
      exits.push(new Promise<void>((resolve) => {
        w.thread.once('exit', () => resolve())
        this.post(w, { type: 'shutdown', graceMs })
        // A worker that does not exit in time is terminated (after the grace, the log plugins'
        // flush: worker/main.ts finish, at most min(5000, max(500, graceMs)) ms, then 2 s).
        setTimeout(() => { void w.thread.terminate() }, graceMs + Math.min(5000, Math.max(500, graceMs)) + 2000).unref()
      }))
    }
    await Promise.all(exits)
  }

  summary (): Array<{ id: number; thread_id: number; state: string; snapshot_version: number; compile_ms: number; requests: number; connections: number; restarts: number }> {
    return [...this.workers.values()].sort((a, b) => a.id - b.id).map((w) => ({
      id: w.id, thread_id: w.threadId, state: w.state, snapshot_version: w.snapshotVersion, compile_ms: Math.round(w.compileMs * 100) / 100,
      requests: w.requests, connections: w.connections, restarts: w.restarts,
    }))
  }
}
