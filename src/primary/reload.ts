/**
 * Configuration reload (SIGHUP, `sluice reload`): a new generation of workers with the new
 * configuration, then the old generation drains. SO_REUSEPORT lets both listen on the proxy port
 * at once, so no request is refused in between:
 *
 *   serving(gen N) --reload--> gen N+1 starting (gen N still serving; both accept)
 *        ^                        | all N+1 workers ready        | a worker of N+1 fails to start
 *        |                        v                              v
 *        |      swap: snapshots, /status and sync() use N+1;     N+1 stopped, gen N keeps
 *        |      gen N stops accepting, finishes in-flight        serving, the reload is refused
 *        |      requests (drain_timeout), exits
 *        +-------------------------------------------------------+
 *
 * Keys the primary itself holds (database connection, Admin and Status listeners, prefix, node
 * id) cannot change under a running primary: planReload keeps their running values, and the
 * outcome lists them as "needs a restart". A configuration that does not load is refused before
 * anything starts (the caller loads it; a ConfigError never reaches here).
 *
 * Reloads are serialised: one running at a time; a reload asked for meanwhile runs after it with
 * the configuration given last.
 */
import type { Config, RawConfig } from '../config/load.ts'
import { buildConfig } from '../config/load.ts'
import type { ConfigKey } from '../config/defaults.ts'
import { log } from '../common/log.ts'
import type { Supervisor } from './workers.ts'

/** Keys that only a restart applies (the primary holds them). */
export const RESTART_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>([
  'prefix', 'database', 'declarative_config', 'node_id', 'nginx_daemon',
  'pg_host', 'pg_port', 'pg_user', 'pg_password', 'pg_database', 'pg_schema', 'pg_ssl', 'pg_ssl_verify',
  'pg_timeout', 'pg_max_concurrent_queries', 'pg_embedded_port', 'db_update_frequency',
  'admin_listen', 'admin_gui_url', 'status_listen', 'nginx_admin_client_max_body_size', 'plugins',
  'admin_access_log', 'admin_error_log', 'status_access_log', 'status_error_log',
  'vault_env_prefix', // the primary dereferences vault references when it builds snapshots
  'new_dns_client', // GET /status/dns is served by the primary's Status and Admin APIs
])

export interface ReloadPlan {
  /** What the new workers run with: the new values, except RESTART_KEYS which keep the running ones. */
  config: Config
  changed: ConfigKey[]
  needRestart: ConfigKey[]
}

export function planReload (running: Config, next: Config): ReloadPlan {
  const raw = { ...next.raw } as RawConfig
  const sources = { ...next.sources }
  const changed: ConfigKey[] = []
  const needRestart: ConfigKey[] = []
  for (const k of Object.keys(raw) as ConfigKey[]) {
    if (raw[k] === running.raw[k]) continue
    if (RESTART_KEYS.has(k)) {
      needRestart.push(k)
      raw[k] = running.raw[k]
      if (running.sources[k] === undefined) delete sources[k]
      else sources[k] = running.sources[k]
    } else {
      changed.push(k)
    }
  }
  return { config: needRestart.length === 0 ? next : buildConfig(raw, sources), changed, needRestart }
}

export interface ReloadOutcome {
  ok: boolean
  /** Worker generation now serving (1 = the one started with the node). */
  generation: number
  message: string
  changed: ConfigKey[]
  needRestart: ConfigKey[]
}

export interface ReloaderHooks {
  /** The configuration the node started with. */
  config: Config
  current (): Supervisor
  /** The snapshot to start new workers with (the latest built). */
  snapshot (): { version: number; bytes: Uint8Array } | null
  /** Creates a Supervisor for a generation (and wires its listeners, e.g. metrics) without starting it. */
  create (config: Config): Supervisor
  /** Makes `next` the generation every caller uses. */
  swap (next: Supervisor, config: Config): void
  /** Called once an old generation has drained and exited. */
  retired? (old: Supervisor): void
  /** Called with every outcome. */
  outcome? (o: ReloadOutcome): void
}

const START_TIMEOUT_MS = 60_000

function withTimeout<T> (p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(message)), ms) }),
  ]).finally(() => clearTimeout(timer))
}

export class Reloader {
  private readonly hooks: ReloaderHooks
  private running: Config
  private generation = 1
  private busy: Promise<ReloadOutcome> | null = null
  private queued: { config: Config; waiters: Array<(o: ReloadOutcome) => void> } | null = null
  private closed = false
  private readonly draining = new Set<Promise<void>>()

  constructor (hooks: ReloaderHooks) {
    this.hooks = hooks
    this.running = hooks.config
  }

  /** The configuration the current workers run with. */
  get config (): Config { return this.running }

  reload (next: Config): Promise<ReloadOutcome> {
    if (this.closed) return Promise.resolve(this.done(false, 'the node is stopping', [], []))
    if (this.busy === null) {
      this.busy = this.run(next).finally(() => { this.busy = null; this.runQueued() })
      return this.busy
    }
    this.queued ??= { config: next, waiters: [] }
    this.queued.config = next
    const q = this.queued
    return new Promise((resolve) => { q.waiters.push(resolve) })
  }

  private runQueued (): void {
    const q = this.queued
    if (q === null) return
    this.queued = null
    void this.reload(q.config).then((o) => { for (const w of q.waiters) w(o) })
  }

  private done (ok: boolean, message: string, changed: ConfigKey[], needRestart: ConfigKey[]): ReloadOutcome {
    const o: ReloadOutcome = { ok, generation: this.generation, message, changed, needRestart }
    this.hooks.outcome?.(o)
    return o
  }

  private async run (next: Config): Promise<ReloadOutcome> {
    const plan = planReload(this.running, next)
    const restartNote = plan.needRestart.length > 0 ? `; needs a restart to apply: ${plan.needRestart.join(', ')}` : ''
    if (plan.needRestart.length > 0) log.warn(`reload: ${plan.needRestart.join(', ')} changed; these keys take effect on restart only`)
    const snapshot = this.hooks.snapshot()
    if (snapshot === null) return this.done(false, 'reload refused: the node has no configuration snapshot yet', plan.changed, plan.needRestart)
    const started = Date.now()
    const gen = this.hooks.create(plan.config)
    try {
      await withTimeout(gen.start(snapshot), START_TIMEOUT_MS, `workers not ready within ${START_TIMEOUT_MS / 1000} s`)
    } catch (err) {
      await gen.stop(0).catch(() => {})
      this.hooks.retired?.(gen)
      const message = `reload refused: the new workers did not start: ${(err as Error).message}`
      log.error(message)
      return this.done(false, message + restartNote, plan.changed, plan.needRestart)
    }
    if (this.closed) {
      await gen.stop(0).catch(() => {})
      this.hooks.retired?.(gen)
      return this.done(false, 'the node is stopping', plan.changed, plan.needRestart)
    }
    // Nothing awaits between here and the swap: a snapshot published meanwhile went to the old
    // generation only, so the new one gets the latest before it takes over.
    const latest = this.hooks.snapshot()
    if (latest !== null && latest.version !== snapshot.version) gen.broadcast(latest)
    const old = this.hooks.current()
    const previous = this.running
    this.hooks.swap(gen, plan.config)
    this.running = plan.config
    this.generation++
    const drain = old.stop(previous.drainTimeoutMs).catch((err) => { log.error(`reload: draining the old workers: ${(err as Error).message}`) })
      .finally(() => { this.hooks.retired?.(old); this.draining.delete(drain) })
    this.draining.add(drain)
    const message = `reloaded in ${Date.now() - started} ms: generation ${this.generation}, ${plan.config.workers} worker(s)` +
      (plan.changed.length > 0 ? `, changed: ${plan.changed.join(', ')}` : ', no change') + restartNote
    log.notice(message)
    return this.done(true, message, plan.changed, plan.needRestart)
  }

  /** No reload starts after this; resolves when a reload in progress and old generations are done. */
  async close (): Promise<void> {
    this.closed = true
    if (this.busy !== null) await this.busy.catch(() => {})
    await Promise.all([...this.draining])
  }
}
