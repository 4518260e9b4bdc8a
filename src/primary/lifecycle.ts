/**
 * Start-up and shutdown steps both primaries take alike: database mode (main.ts) and DB-less mode
 * (dbless.ts). Each mode keeps its own start-up order and everything that differs (where the
 * configuration comes from, the rate-limit store, cluster sync, POST /config, what /status adds);
 * only what is the same in both lives here.
 */
import type { Config } from '../config/load.ts'
import { log } from '../common/log.ts'
import { SLUICE_VERSION, KONG_VERSION } from '../common/meta.ts'
import type { NodeHealth } from './health/node.ts'
import type { RateLimitWriter } from './ratelimit/writer.ts'
import type { OAuth2Handler } from '../plugins/oauth2/primary.ts'
import type { SessionStoreHandler } from './session-store.ts'
import { Reloader, type ReloaderHooks } from './reload.ts'
import type { StatusServer } from './status-server.ts'
import { Supervisor } from './workers.ts'

/** Shutdown steps: run once, last registered first; a failing step is logged and the rest still run. */
export class Shutdown {
  readonly #steps: Array<() => Promise<void>>
  #done: Promise<void> | null = null

  constructor (first: () => Promise<void>) {
    this.#steps = [first]
  }

  push (step: () => Promise<void>): void {
    this.#steps.push(step)
  }

  run (): Promise<void> {
    this.#done ??= (async () => {
      for (const fn of this.#steps.reverse()) await fn().catch((err) => log.error(`shutdown: ${(err as Error).message}`))
    })()
    return this.#done
  }
}

export interface GenerationWiring {
  config: Config
  current (): Supervisor
  swap (next: Supervisor, config: Config): void
  snapshot: ReloaderHooks['snapshot']
  ops: StatusServer
  health: NodeHealth
  rateLimit: RateLimitWriter
  /** oauth2 plugin's primary side (database mode); absent in DB-less mode. */
  oauth2?: OAuth2Handler
  /** session plugin's `sessions` table (database mode); absent in DB-less mode. */
  sessions?: SessionStoreHandler
}

/**
 * Reloads (SIGHUP / `sluice reload`): a new worker generation with the new config (reload.ts).
 * Per-generation wiring goes in `create`: every listener a Supervisor needs must be attached there too.
 */
export function createReloader (w: GenerationWiring): Reloader {
  return new Reloader({
    config: w.config,
    current: w.current,
    snapshot: w.snapshot,
    create: (cfg) => {
      const s = new Supervisor(cfg)
      w.ops.attach(s)
      w.health.attach(s)
      s.attachRateLimit(w.rateLimit.initMessage(), (m) => w.rateLimit.onDeltas(m))
      if (w.oauth2 !== undefined) s.attachOAuth2(w.oauth2)
      if (w.sessions !== undefined) s.attachSessions(w.sessions)
      return s
    },
    swap: (next, cfg) => { w.swap(next, cfg) },
    retired: (old) => { w.ops.detach(old); w.health.detach(old) },
    outcome: (o) => { w.ops.noteReload(o.ok, o.message) },
  })
}

type WorkerSummary = ReturnType<Supervisor['summary']>

/** Admin API GET /status: the workers' part; `sluice` is each mode's own section. */
export function adminStatus<S> (
  supervisor: Supervisor, reachable: boolean, hash: string, sluice: (workers: WorkerSummary) => S
): { database: { reachable: boolean }; server: Record<string, number>; memory: unknown; configuration_hash: string; sluice: S } {
  const workers = supervisor.summary()
  const total = workers.reduce((a, w) => a + w.requests, 0)
  const active = workers.reduce((a, w) => a + w.connections, 0)
  return {
    database: { reachable },
    server: {
      connections_accepted: total, connections_active: active, connections_handled: total,
      connections_reading: 0, connections_writing: active, connections_waiting: 0, total_requests: total,
    },
    memory: { workers_lua_vms: [], lua_shared_dicts: {} },
    configuration_hash: hash,
    sluice: sluice(workers),
  }
}

/** Admin API GET /: the extra fields (pids of the generation serving now). */
export function adminInfo (current: () => Supervisor): () => Record<string, unknown> {
  return () => ({
    pids: { master: process.pid, workers: current().summary().map((w) => w.thread_id) },
    sluice_version: SLUICE_VERSION,
    kong_version: KONG_VERSION,
  })
}

/** The one start-up line: `mode` is '' or ' DB-less'; `contents` what is being served. */
export function logStarted (config: Config, mode: string, startedAt: number, adminPorts: number[], nodeId: string, contents: string): void {
  log.notice(`sluice ${SLUICE_VERSION} (Kong ${KONG_VERSION} API) started${mode} in ${Date.now() - startedAt} ms: ` +
    `${config.workers} worker(s) on ${config.proxyListen.filter((l) => !l.ssl).map((l) => `${l.host}:${l.port}`).join(', ')}, ` +
    `Admin API on ${adminPorts.join(', ')}, node ${nodeId}, ${contents}`)
}
