/**
 * The primary thread, in start-up order: config -> datastore (embedded or configured PostgreSQL)
 * -> schema check/bootstrap -> config cache -> first snapshot -> workers -> Admin API -> cluster
 * sync. The primary never proxies a request; it owns the pool, the cache and the workers.
 *
 * Change flow: cluster sync applies a batch of events to the cache (one row read per changed
 * entity) -> the changed rows go out as one delta (snapshot.ts SnapshotBuilder.delta; a reload
 * event, a huge batch or a reconnect sends a full snapshot) -> encoded once -> broadcast ->
 * workers patch their compiled state (worker/compile-delta.ts) and ack the version.
 */
import { hostname } from 'node:os'
import type { Config } from '../config/load.ts'
import { log, type Level } from '../common/log.ts'
import { SLUICE_VERSION } from '../common/meta.ts'
import { ConfigCache, SNAPSHOT_TABLES, type Row } from './config-cache.ts'
import { SnapshotBuilder, saveLastGood, loadLastGood, type BuiltSnapshot } from './snapshot.ts'
import type { EntityChange } from '../common/snapshot.ts'
import { Supervisor } from './workers.ts'
import { NodeHealth, POST_HEALTH_CHANNEL } from './health/node.ts' // upstream health
import { dnsOptionsFromConfig, type DnsCache } from '../common/dns.ts'
import { collectDnsStats } from './dns-stats.ts'
import { ClusterSync, type ClusterEvent } from './cluster-sync.ts'
import { openDatastore, prepareSchema, type Datastore } from './database.ts'
import { isConnectionError } from '../db/pool.ts'
import { nodeId as resolveNodeId } from './node-id.ts'
import { startAdmin } from '../admin/server.ts'
import { startStatusServer, type StatusServer } from './status-server.ts'
import type { ReloadOutcome } from './reload.ts'
import { Shutdown, createReloader, adminStatus, adminInfo, logStarted } from './lifecycle.ts'
import { RateLimitWriter } from './ratelimit/writer.ts'
import { rateLimitSettings } from './ratelimit/settings.ts'
import { registerCollector, registerNodeSources } from '../metrics/registry.ts'
import { targetHealthSamples } from '../metrics/target-health.ts'
import { upstreamHealthMetricsOn } from '../plugins/prometheus/flags.ts'
import { OAuth2Primary } from '../plugins/oauth2/primary.ts'
import { SessionStore } from './session-store.ts'
import { LOG_LEVEL_EVENT, NodeLogLevel } from './log-level.ts'
import { nodeVaultConfigs } from '../vault/installed.ts'

export interface PrimaryHandle {
  nodeId: string
  adminPorts: number[]
  /** The worker generation serving now (a reload replaces it). */
  readonly supervisor: Supervisor
  datastore: Datastore
  /** Status API (status_listen) and the node's metrics store. */
  ops: StatusServer
  /** Applies a freshly loaded configuration: a new worker generation, the old one drains (reload.ts). */
  reload (next: Config): Promise<ReloadOutcome>
  /** Rate limiting: the node's batched counter writer; `rateLimit.stats()` is for /status. */
  rateLimit: RateLimitWriter
  /** The snapshot version the workers should be serving. */
  version (): number
  /** Resolves once every change committed before the call is served by every worker. */
  sync (): Promise<void>
  stop (): Promise<void>
}

/** A batch of events touching more entities than this goes out as a full snapshot. */
const DELTA_MAX_CHANGES = 1000
const SAVE_QUIET_MS = 1000
const SAVE_MAX_MS = 10_000

export async function startPrimary (config: Config): Promise<PrimaryHandle> {
  // ---- declarative: DB-less mode (database = off) has its own start-up (dbless.ts)
  if (config.database === 'off') return (await import('./dbless.ts')).startDbless(config)
  const started = Date.now()
  const node = resolveNodeId(config.prefix, config.nodeId)
  const ds = await openDatastore(config)
  const shutdown = new Shutdown(() => ds.close())
  const stopAll = async (): Promise<void> => {
    await shutdown.run()
    if (ds.embedded !== null && ds.embedded.started) await ds.embedded.stop().catch((err) => log.error((err as Error).message))
  }
  try {
    const cache = new ConfigCache()
    // references by vault name ({vault://env/...}) start from the node's vault_env_prefix (kong.conf < KONG_ < SLUICE_)
    const builder = new SnapshotBuilder({ vaults: nodeVaultConfigs(config.raw) })
    let version = 0
    let built: BuiltSnapshot | null = null
    // `let`: a reload swaps in a new worker generation (reload.ts); every use below reads the current one.
    let supervisor = new Supervisor(config)

    // --- rate limiting: the counter table every worker shares, and its batched writer ---
    const rlSettings = rateLimitSettings(config)
    const rateLimit = new RateLimitWriter({
      pg: { ...ds.settings, timeoutMs: Math.min(config.pgTimeout, 2000) },
      tickMs: rlSettings.tickMs,
      slots: rlSettings.slots,
    })
    supervisor.attachRateLimit(rateLimit.initMessage(), (m) => rateLimit.onDeltas(m))
    rateLimit.onTotals((m) => supervisor.broadcastRl(m))
    shutdown.push(() => rateLimit.close()) // after the workers stopped: the last deltas go out
    // Rate-limit health on /metrics: whether the limits hold (flush size and latency, sync lag, overshoot).
    const offRlMetrics = registerCollector('ratelimit', (w) => {
      const st = rateLimit.stats()
      const g = (name: string, help: string, v: number, type: 'gauge' | 'counter' = 'gauge'): void => { w.family(name, type, help); w.sample(name, '', v) }
      g('sluice_ratelimit_flush_rows', 'Counters written in the last rate-limit flush', st.counters_last_flush)
      g('sluice_ratelimit_statements_per_second', 'Rate-limit statements per second sent to the store (last 10 s)', st.statements_per_second)
      g('sluice_ratelimit_flush_latency_ms', 'Latency of the last rate-limit flush', st.flush_latency_ms.last)
      g('sluice_ratelimit_sync_lag_ms', 'Age of the cluster-wide totals the workers enforce', st.sync_lag_ms)
      g('sluice_ratelimit_overshoot_total', 'Requests admitted above a limit (ended windows)', st.overshoot.total, 'counter')
      g('sluice_ratelimit_flush_errors_total', 'Rate-limit flushes that failed', st.flush_errors_total, 'counter')
    })
    shutdown.push(async () => { offRlMetrics() })
    // --- end rate limiting ---

    // --- oauth2 plugin: grants, token lookups and cache invalidations for this node's workers;
    // up before the first worker, closed after the last one stopped (cleanup runs in reverse).
    const oauth2 = new OAuth2Primary(ds.pool, node)
    supervisor.attachOAuth2(oauth2) // and every reload's generation (lifecycle.ts createReloader)
    shutdown.push(async () => { oauth2.close() })
    // session plugin: the `sessions` table (storage = kong) for this node's workers, likewise
    const sessions = new SessionStore(ds.pool)
    supervisor.attachSessions(sessions)
    shutdown.push(async () => { sessions.close() })

    // ---- BEGIN ops: Status API + metrics store (status-server.ts); up before the first snapshot, so
    // /status/ready answers 503 until every worker serves one. Closed after the workers (cleanup runs in reverse).
    // GET /status/dns (Status and Admin APIs): the health registry's resolver (set below) and the workers'
    let healthDns: DnsCache | null = null
    const dnsStats = () => collectDnsStats(healthDns, supervisor)
    const ops = await startStatusServer(config, { nodeId: node, pool: ds.pool, supervisor: () => supervisor, snapshot: () => built, dnsStats })
    ops.attach(supervisor)
    shutdown.push(() => ops.close())
    // ---- END ops ----

    // ---- upstream health (primary/health): the node's registry; follows the cache, talks to every worker generation
    const health = new NodeHealth({
      nodeId: node,
      pool: ds.pool,
      dns: dnsOptionsFromConfig(config.raw),
      catchUp: () => sync.flush(),
      source: { generation: () => cache.generation, upstreams: () => cache.rows('upstreams'), targets: () => cache.rows('targets') },
    })
    shutdown.push(async () => { health.close() })
    healthDns = health.dns
    // Kong families fed by this node (metrics/exposition.ts): target health when a prometheus plugin
    // asks for upstream_health_metrics, and the rate-limit counter table as Kong's shared dict.
    const rlTableBytes = rateLimit.initMessage().table.byteLength
    const offNodeMetrics = registerNodeSources({
      targetHealth: () => upstreamHealthMetricsOn(cache.rows('plugins')) ? targetHealthSamples(health.registry) : null,
      sharedDicts: () => [{ name: 'kong_rate_limiting_counters', allocated: rlTableBytes, capacity: rlTableBytes }],
    })
    shutdown.push(async () => { offNodeMetrics() })

    // Admin API /debug/.../log-level: this node's level, followed by its workers (log-level.ts)
    const logLevel = new NodeLogLevel({ scope: config.prefix, configured: config.logLevel as Level, nodeId: node, pool: ds.pool })
    shutdown.push(async () => { logLevel.close() })

    const sync = new ClusterSync({
      pool: ds.pool,
      channels: { [POST_HEALTH_CHANNEL]: (e) => { health.onClusterEvent(e) }, [LOG_LEVEL_EVENT]: (e) => { logLevel.onClusterEvent(e) } },
      settings: ds.settings,
      pollMs: config.dbUpdateFrequencyMs,
      name: `sluice-listen-${node.slice(0, 8)}`,
      apply: async (events: ClusterEvent[]) => {
        let full = false
        const seen = new Set<string>()
        const changed: Array<[string, string]> = []
        for (const e of events) {
          if (e.channel !== 'crud' || e.data === null) { full = full || e.channel === 'reload'; continue }
          let d: { entity?: string; id?: string }
          try { d = JSON.parse(e.data) as { entity?: string; id?: string } } catch { continue }
          if (typeof d.entity !== 'string' || typeof d.id !== 'string' || !cache.has(d.entity)) continue
          const key = `${d.entity}:${d.id}`
          if (seen.has(key)) continue
          seen.add(key)
          changed.push([d.entity, d.id])
          await cache.refresh(ds.pool, d.entity, d.id)
        }
        if (full || changed.length > DELTA_MAX_CHANGES) {
          if (full) await cache.loadEverything(ds.pool)
          publish()
          return
        }
        publishDelta(changed.map(([table, id]) => ({ table, id, row: cache.tables.get(table)?.get(id) ?? null })))
      },
      reloadAll: async () => { await cache.loadEverything(ds.pool); publish() },
    })

    let builtGeneration = -1
    const publish = (): void => {
      if (cache.generation === builtGeneration) return
      builtGeneration = cache.generation
      built = builder.full(cache, ++version)
      log.debug(`snapshot ${built.version} built in ${built.buildMs.toFixed(1)} ms (${built.bytes.byteLength} bytes)`)
      supervisor.broadcast(built)
      saveNow()
    }
    /** A few changed rows: a delta on the version the workers serve; the full snapshot stays lazy. */
    const publishDelta = (changes: EntityChange[]): void => {
      if (cache.generation === builtGeneration) return
      builtGeneration = cache.generation
      const base = version
      const d = builder.delta(cache, base, ++version, changes)
      built = d.snapshot
      log.debug(`delta ${base} -> ${version} built in ${built.buildMs.toFixed(1)} ms (${d.changes} change(s), ${d.bytes.byteLength} bytes)`)
      supervisor.broadcastDelta(base, d.bytes, built)
      saveSoon()
    }
    // The last-good file after deltas: written once changes pause for SAVE_QUIET_MS (at most
    // SAVE_MAX_MS after the first unsaved one), so that a burst of writes does not encode the
    // whole configuration each time. A full snapshot is saved at once.
    let saveTimer: NodeJS.Timeout | null = null
    let unsavedSince = 0
    let lastSave: Promise<void> = Promise.resolve()
    const saveNow = (): void => {
      if (saveTimer !== null) { clearTimeout(saveTimer); saveTimer = null }
      unsavedSince = 0
      if (built === null) return
      lastSave = saveLastGood(config.prefix, built).catch((err) => log.warn(`could not save the last good snapshot: ${(err as Error).message}`))
    }
    const saveSoon = (): void => {
      if (saveTimer !== null) clearTimeout(saveTimer)
      if (unsavedSince === 0) unsavedSince = Date.now()
      const wait = Math.max(0, Math.min(SAVE_QUIET_MS, unsavedSince + SAVE_MAX_MS - Date.now()))
      saveTimer = setTimeout(saveNow, wait)
      saveTimer.unref()
    }
    // On stop: a pending save is written now, and the prefix is left with no save in flight.
    shutdown.push(async () => {
      if (saveTimer !== null) saveNow()
      await lastSave
    })

    /** Schema check + full load; the xmin mark comes first so no change between is lost. */
    const loadFromDatabase = async (): Promise<void> => {
      await prepareSchema(ds.pool)
      await sync.mark()
      await cache.loadEverything(ds.pool)
    }

    // Start-up while PostgreSQL is unreachable: serve the last good snapshot saved under the prefix,
    // keep trying, and switch to the database (full load + cluster sync) when it answers.
    let savedSnapshotAt: string | null = null
    try {
      await loadFromDatabase()
    } catch (err) {
      if (!isConnectionError(err)) throw err
      const last = await loadLastGood(config.prefix)
      if (last === null) {
        throw new Error(`PostgreSQL is unreachable (${(err as Error).message}) and no saved configuration exists under ${config.prefix} to serve meanwhile`)
      }
      cache.replace({ services: last.services, routes: last.routes, ...last.entities } as unknown as Record<string, Row[]>)
      savedSnapshotAt = new Date().toISOString()
      log.error(`PostgreSQL is unreachable (${(err as Error).message}): serving the last good configuration saved under ${config.prefix} (hash ${last.hash}) until it returns`)
    }
    builtGeneration = cache.generation
    built = builder.full(cache, ++version)
    if (savedSnapshotAt === null) await saveLastGood(config.prefix, built).catch(() => {})
    health.attach(supervisor)
    await supervisor.start(built)
    shutdown.push(() => supervisor.stop(config.drainTimeoutMs))

    // ---- BEGIN reload (SIGHUP / `sluice reload`): a new worker generation with the new config (reload.ts).
    // Per-generation wiring is in lifecycle.ts createReloader: every listener a Supervisor needs is attached there too.
    const reloader = createReloader({ config, current: () => supervisor, swap: (next, cfg) => { supervisor = next; logLevel.reconfigure(cfg.logLevel as Level) }, snapshot: () => built, ops, health, rateLimit, oauth2, sessions })
    shutdown.push(() => reloader.close()) // runs before the workers stop: lets a reload in progress finish
    // ---- END reload ----

    const admin = await startAdmin({
      metricsText: () => ops.metricsText(),
      config,
      pool: ds.pool,
      nodeId: node,
      hostname: hostname(),
      // proxy-cache Admin API: the workers of the generation serving now (a reload swaps it)
      proxyCache: (r) => supervisor.proxyCache.ask(r),
      health: health.admin,
      logLevel,
      dnsStats,
      status: async () => {
        let reachable = true
        try { await ds.pool.query('select 1') } catch { reachable = false }
        return adminStatus(supervisor, reachable, built?.hash ?? '00000000000000000000000000000000', (workers) => (
          { version: SLUICE_VERSION, snapshot_version: version, serving_saved_snapshot: savedSnapshotAt !== null, workers, rate_limiting: rateLimit.stats() }))
      },
      info: adminInfo(() => supervisor),
    }, config.adminListen)
    shutdown.push(() => admin.close())
    let recovery: NodeJS.Timeout | null = null
    let halted = false
    if (savedSnapshotAt === null) {
      await sync.start()
    } else {
      let delay = 500
      const retry = (): void => {
        recovery = setTimeout(() => {
          loadFromDatabase().then(async () => {
            recovery = null
            if (halted) return
            savedSnapshotAt = null
            log.notice('PostgreSQL is reachable: configuration reloaded from the database')
            publish()
            await sync.start()
          }, (err) => {
            if (!isConnectionError(err)) log.error(`reconnecting to PostgreSQL: ${(err as Error).message}`)
            delay = Math.min(delay * 2, 5000)
            if (!halted) retry()
          })
        }, delay)
      }
      retry()
    }
    shutdown.push(async () => { halted = true; if (recovery !== null) clearTimeout(recovery); await sync.stop() })

    logStarted(config, '', started, admin.ports, node, SNAPSHOT_TABLES.map((t) => `${cache.rows(t).length} ${t}`).join(', '))

    let stopped: Promise<void> | null = null
    return {
      nodeId: node,
      adminPorts: admin.ports,
      get supervisor () { return supervisor },
      datastore: ds,
      ops,
      reload: (next) => reloader.reload(next),
      rateLimit,
      version: () => version,
      async sync () {
        await sync.flush()
        await supervisor.waitForVersion(version)
      },
      stop () {
        stopped ??= stopAll()
        return stopped
      },
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}
