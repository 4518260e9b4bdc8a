/**
 * The primary in DB-less mode (`database = off`, Kong's off strategy): no PostgreSQL. The
 * configuration is `declarative_config` (or empty), and `POST /config` replaces all of it.
 *
 * Start-up: config -> declarative load (piscina: parse, validate, flatten, snapshot) -> workers ->
 * Admin API. A file that does not validate stops the start with every error listed by path.
 *
 * A load is atomic: the new configuration is validated and its snapshot built off the primary
 * thread; only a valid one is broadcast, and POST /config answers once every worker serves it.
 * One load at a time; another POST meanwhile answers 429 with Retry-After, as Kong's does.
 *
 * Plugin schemas know the node is DB-less (plugins/schemas.ts setDatabaseOff): rate-limiting and
 * response-ratelimiting then offer no `cluster` policy, so a kong.yml or POST /config with one is
 * refused with Kong's `expected one of: local, redis`. Validation runs in the piscina thread, which
 * has its own copy of the schemas: createDeclarativePool's databaseOff sets it there.
 */
import { hostname } from 'node:os'
import { readFile } from 'node:fs/promises'
import type { Config } from '../config/load.ts'
import { log } from '../common/log.ts'
import { SLUICE_VERSION } from '../common/meta.ts'
import { createPool } from '../db/pool.ts'
import { startAdmin } from '../admin/server.ts'
import type { ConfigInput, DeclarativeAdmin } from '../admin/routes/config.ts'
import type { Reply } from '../admin/respond.ts'
import { enabledPlugins, setDatabaseOff } from '../plugins/schemas.ts'
import { countErrors, prettyPrintErrors, type DeclarativeErrT } from '../declarative/errors.ts'
import { encodeTables, type LoadInput, type LoadOutput, type LoadSuccess } from '../declarative/load.ts'
import { EMPTY_CONFIG_HASH } from '../declarative/parse.ts'
import { createDeclarativePool } from '../declarative/pool.ts'
import { MemoryStore } from '../declarative/store.ts'
import type { Datastore } from './database.ts'
import type { PrimaryHandle } from './main.ts'
import { nodeId as resolveNodeId } from './node-id.ts'
import { RateLimitWriter } from './ratelimit/writer.ts'
import { rateLimitSettings } from './ratelimit/settings.ts'
import { Shutdown, createReloader, adminStatus, adminInfo, logStarted } from './lifecycle.ts'
import { startStatusServer } from './status-server.ts'
import type { BuiltSnapshot } from './snapshot.ts'
import { Supervisor } from './workers.ts'
import { registerNodeSources } from '../metrics/registry.ts'
import { targetHealthSamples } from '../metrics/target-health.ts'
import { upstreamHealthMetricsOn } from '../plugins/prometheus/flags.ts'
import { NodeHealth } from './health/node.ts' // upstream health
import { nodeVaultConfigs } from '../vault/installed.ts'
import { dnsOptionsFromConfig, type DnsCache } from '../common/dns.ts'
import { collectDnsStats } from './dns-stats.ts'
import type { Route } from '../admin/router.ts'
import { statusUpstreamRoutes } from '../admin/routes/status-upstreams.ts'

/** How long POST /config waits for every worker to serve the new configuration. */
const SWAP_WAIT_MS = 60_000

interface Served { built: BuiltSnapshot; hash: string; store: MemoryStore; counts: Record<string, number>; adminTables: LoadSuccess['adminTables'] }

/** A pool object for interfaces that want one: DB-less has no database, every query fails at once. */
function noDatabase (config: Config): Datastore {
  const pool = createPool({ host: '127.0.0.1', port: 1, user: 'none', password: '', database: 'none', ssl: false, sslVerify: false, timeoutMs: 1, max: 1 })
  const refuse = (): Promise<never> => Promise.reject(new Error('database = off: DB-less mode has no database'))
  Object.assign(pool, { query: refuse, connect: refuse })
  return {
    pool,
    settings: { host: '', port: 0, user: '', password: '', database: '', ssl: false, sslVerify: false, schema: config.pgSchema },
    embedded: null,
    close: async () => {},
  }
}

function describeFailure (out: Extract<LoadOutput, { ok: false }>): string {
  const body = out.body as DeclarativeErrT | { message: string }
  if ('fields' in body) {
    const n = countErrors(body.fields)
    return `${n} error${n === 1 ? '' : 's'}:\n${prettyPrintErrors(body.fields)}`
  }
  return body.message
}

export async function startDbless (config: Config): Promise<PrimaryHandle> {
  const started = Date.now()
  const node = resolveNodeId(config.prefix, config.nodeId)
  const plugins = enabledPlugins(config.plugins)
  const declarative = createDeclarativePool({ databaseOff: true })
  const ds = noDatabase(config)
  // This thread's schemas too (the Admin API's /schemas/plugins/validate): one node per process in
  // production; undone at stop for processes (tests) that run a database node after this one.
  setDatabaseOff(true)
  const shutdown = new Shutdown(async () => { setDatabaseOff(false); await declarative.close() })
  try {
    let version = 0
    let nextVersion = 0
    let served!: Served
    let supervisor = new Supervisor(config)

    // rate limiting: `local` and `redis` work without a database; `cluster` counters have no store
    const rlSettings = rateLimitSettings(config)
    const rateLimit = new RateLimitWriter({ pg: null, tickMs: rlSettings.tickMs, slots: rlSettings.slots })
    supervisor.attachRateLimit(rateLimit.initMessage(), (m) => rateLimit.onDeltas(m))
    rateLimit.onTotals((m) => supervisor.broadcastRl(m))
    shutdown.push(() => rateLimit.close())

    const snapshotView = (): { version: number; hash: string } | null => (served as Served | undefined) === undefined ? null : { version: served.built.version, hash: served.hash }
    // GET /status/dns: the health registry's resolver (set below) and the workers'; the Status API's
    // read-only upstream routes once the configuration store and the health registry exist
    let healthDns: DnsCache | null = null
    const dnsStats = () => collectDnsStats(healthDns, supervisor)
    let statusRoutes: readonly Route[] = []
    const ops = await startStatusServer(config, { nodeId: node, pool: null, supervisor: () => supervisor, snapshot: snapshotView, dnsStats, routes: () => statusRoutes })
    ops.attach(supervisor)
    shutdown.push(() => ops.close())

    // references by vault name ({vault://env/...}) start from the node's vault_env_prefix
    const vaultConfigs = nodeVaultConfigs(config.raw)
    const load = async (input: Omit<LoadInput, 'version' | 'enabledPlugins' | 'vaultConfigs'>): Promise<LoadOutput> =>
      await declarative.load({ ...input, version: ++nextVersion, enabledPlugins: plugins, vaultConfigs })

    const toServed = (out: Extract<LoadOutput, { ok: true }>): Served => ({
      built: { version: out.version, hash: out.snapshotHash, bytes: out.bytes, buildMs: out.buildMs },
      hash: out.hash,
      store: new MemoryStore(out.bytes, out.adminTables),
      adminTables: out.adminTables,
      counts: out.counts,
    })

    // ---- the first configuration
    if (config.declarativeConfig !== null) {
      const file = config.declarativeConfig
      const text = await readFile(file).catch((err: Error) => { throw new Error(`could not read declarative_config ${file}: ${err.message}`) })
      const out = await load({ text, filename: file })
      if (!out.ok) throw new Error(`declarative_config ${file} is invalid: ${describeFailure(out)}`)
      served = toServed(out)
      log.notice(`declarative config ${file}: ${out.total} entities loaded in ${(out.parseMs + out.buildMs).toFixed(0)} ms`)
    } else {
      const v = ++nextVersion
      const bytes = encodeTables({}, v, EMPTY_CONFIG_HASH)
      served = { built: { version: v, hash: EMPTY_CONFIG_HASH, bytes, buildMs: 0 }, hash: EMPTY_CONFIG_HASH, store: new MemoryStore(null), counts: {}, adminTables: {} }
    }
    version = served.built.version
    // upstream health (primary/health): node-local in DB-less mode (no cluster events)
    const health = new NodeHealth({
      nodeId: node,
      pool: null,
      dns: dnsOptionsFromConfig(config.raw),
      source: { generation: () => served.built.version, upstreams: () => served.store.all('upstreams'), targets: () => served.store.all('targets') },
    })
    shutdown.push(async () => { health.close() })
    healthDns = health.dns
    // Kong families fed by this node (metrics/exposition.ts): target health when a prometheus plugin
    // asks for upstream_health_metrics, and the rate-limit counter table as Kong's shared dict.
    const rlTableBytes = rateLimit.initMessage().table.byteLength
    const offNodeMetrics = registerNodeSources({
      targetHealth: () => upstreamHealthMetricsOn(served.store.all('plugins')) ? targetHealthSamples(health.registry) : null,
      sharedDicts: () => [{ name: 'kong_rate_limiting_counters', allocated: rlTableBytes, capacity: rlTableBytes }],
    })
    shutdown.push(async () => { offNodeMetrics() })
    health.attach(supervisor)
    await supervisor.start(served.built)
    shutdown.push(() => supervisor.stop(config.drainTimeoutMs))

    const reloader = createReloader({ config, current: () => supervisor, swap: (next) => { supervisor = next }, snapshot: () => served.built, ops, health, rateLimit })
    shutdown.push(() => reloader.close())

    // ---- POST /config
    let loading: { since: number } | null = null
    let lastLoadMs = 1000
    const apply = async (input: ConfigInput): Promise<Reply> => {
      if (loading !== null) {
        const left = Math.ceil((lastLoadMs - (Date.now() - loading.since)) / 1000)
        return { status: 429, body: { message: 'Currently loading previous configuration' }, headers: { 'Retry-After': String(Math.min(10, Math.max(1, left))) } }
      }
      loading = { since: Date.now() }
      try {
        const req: Omit<LoadInput, 'version' | 'enabledPlugins'> = { flattenErrors: input.flattenErrors, respond: true }
        if (input.table !== undefined) req.table = input.table
        if (input.text !== undefined) req.text = input.text
        if (input.jsonBody !== undefined) req.jsonBody = input.jsonBody
        if (input.checkHash) req.checkHash = served.hash
        const out = await load(req)
        if (!out.ok) return out.status === 304 ? { status: 304 } : { status: out.status, body: out.body }
        const next = toServed(out)
        supervisor.broadcast(next.built)
        served = next
        version = next.built.version
        await supervisor.waitForVersion(next.built.version, SWAP_WAIT_MS).catch((err: Error) => {
          log.warn(`POST /config: not every worker serves configuration ${next.built.version} yet: ${err.message}`)
        })
        log.notice(`POST /config: ${out.total} entities loaded (hash ${out.hash}) in ${(out.parseMs + out.buildMs).toFixed(0)} ms`)
        return { status: 201, body: out.body ?? '{}', headers: { 'Content-Type': 'application/json; charset=utf-8' } }
      } finally {
        lastLoadMs = Date.now() - loading.since
        loading = null
      }
    }

    /** Loads a file as the served configuration; null, or why it was refused. */
    const applyFile = async (file: string): Promise<string | null> => {
      if (loading !== null) return 'a POST /config is being loaded; declarative_config not re-read'
      loading = { since: Date.now() }
      try {
        const out = await load({ text: await readFile(file), filename: file })
        if (!out.ok) return `declarative_config ${file} is invalid (the served configuration stays): ${describeFailure(out)}`
        const next = toServed(out)
        supervisor.broadcast(next.built)
        served = next
        version = next.built.version
        log.notice(`declarative config ${file}: ${out.total} entities reloaded`)
        return null
      } finally {
        loading = null
      }
    }

    const admin: DeclarativeAdmin = {
      store: () => served.store,
      apply,
      exportYaml: () => declarative.exportYaml(served.built.bytes, served.adminTables),
    }
    statusRoutes = statusUpstreamRoutes({ declarative: admin, health: health.admin, nodeId: node, pool: ds.pool })

    const adminServer = await startAdmin({
      metricsText: () => ops.metricsText(),
      config,
      pool: ds.pool,
      nodeId: node,
      hostname: hostname(),
      declarative: admin,
      health: health.admin,
      // proxy-cache Admin API: the workers of the generation serving now (a reload swaps it)
      proxyCache: (r) => supervisor.proxyCache.ask(r),
      dnsStats,
      status: async () => adminStatus(supervisor, false, served.hash, (workers) => ({ version: SLUICE_VERSION, snapshot_version: version, workers })),
      info: adminInfo(() => supervisor),
    }, config.adminListen)
    shutdown.push(() => adminServer.close())

    const counts = Object.entries(served.counts).map(([t, n]) => `${n} ${t}`).join(', ')
    logStarted(config, ' DB-less', started, adminServer.ports, node, counts === '' ? 'empty configuration' : counts)

    return {
      nodeId: node,
      adminPorts: adminServer.ports,
      get supervisor () { return supervisor },
      datastore: ds,
      ops,
      // A reload also re-reads declarative_config (as `kong reload` does); an invalid file keeps the served one.
      async reload (next) {
        const o = await reloader.reload(next)
        const file = next.declarativeConfig
        if (!o.ok || file === null) return o
        const r = await applyFile(file).catch((err: Error) => err.message)
        return r === null ? o : { ...o, ok: false, message: `${o.message}; ${r}` }
      },
      rateLimit,
      version: () => version,
      async sync () { await supervisor.waitForVersion(version) },
      stop: () => shutdown.run(),
    }
  } catch (err) {
    await shutdown.run()
    throw err
  }
}
