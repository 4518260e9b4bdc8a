/**
 * The Admin API's own endpoints (kong/api/routes/kong.lua and health.lua): node information at
 * `/`, `/status`, `/endpoints`, and `/schemas/{entity}` with its `validate` companion.
 */
import type { Config } from '../config/load.ts'
import { CONFIG_KEYS, type ConfigKey } from '../config/defaults.ts'
import { splitList, parseSize } from '../config/load.ts'
import { KONG_VERSION, SLUICE_VERSION } from '../common/meta.ts'
import { schemaViolation } from '../db/schema/db-errors.ts'
import { schemaToJson } from '../db/schema/jsonable.ts'
import { processAutoFields } from '../db/schema/process.ts'
import { getSchema } from '../db/schema/registry.ts'
import { decodeUtf8 } from '../db/schema/utf8.ts'
import { validateEntity } from '../db/schema/validate.ts'
import type { Pool } from '../db/pool.ts'
import type { Reply } from './respond.ts'
import { decodeSegmentBytes, route, type Route } from './router.ts'
import { luaToNumber } from '../db/schema/url.ts'
import { getPlugin } from '../plugins/schemas.ts'

export interface StatusInfo {
  server: Record<string, number>
  database: { reachable: boolean }
  memory?: unknown
  workers?: unknown
  configuration_hash?: string
  [extra: string]: unknown
}

export interface KongRoutesContext {
  config: Config
  pool: Pool
  nodeId: string
  hostname: string
  status: () => Promise<StatusInfo>
  info: () => Record<string, unknown>
  /** Route templates, for `/endpoints`. */
  templates: () => string[]
  /** Plugin names the `plugins` setting enables. */
  enabledPlugins: ReadonlySet<string>
}

const REDACTED = '******'

/** The configuration as typed values, secrets replaced (kong conf_loader remove_sensitive). */
export function publicConfiguration (config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const spec = CONFIG_KEYS[key]
    const raw = config.raw[key]
    if ('secret' in spec && spec.secret === true) { out[key] = REDACTED; continue }
    switch (spec.type) {
      case 'boolean': out[key] = ['on', 'true'].includes(raw.trim().toLowerCase()); break
      case 'integer': case 'number': out[key] = Number(raw); break
      case 'list': out[key] = splitList(raw); break
      case 'size': out[key] = parseSize(raw) ?? raw; break
      default: out[key] = raw
    }
  }
  return out
}

const schemaName = (raw: string): string => String(decodeUtf8(decodeSegmentBytes(raw)))

/** Distinct plugin names in the database; none while it is unreachable (`/` keeps answering). */
async function pluginsInCluster (pool: Pool): Promise<string[]> {
  try {
    const r = await pool.query<{ name: string }>('select distinct name from plugins order by name')
    return r.rows.map((x) => x.name)
  } catch {
    return []
  }
}

/** `available_on_server`: `{name: {version, priority}}` for every enabled plugin. */
function availableOnServer (enabled: ReadonlySet<string>): Record<string, { version: string; priority: number }> {
  const out: Record<string, { version: string; priority: number }> = {}
  for (const name of [...enabled].sort()) {
    const p = getPlugin(name)
    if (p !== undefined) out[name] = { version: p.version, priority: p.priority }
  }
  return out
}

export function kongRoutes (c: KongRoutesContext): Route[] {
  return [
    route('/', {
      GET: async (): Promise<Reply> => ({
        status: 200,
        body: {
          tagline: 'Welcome to kong',
          version: KONG_VERSION,
          sluice_version: SLUICE_VERSION,
          edition: 'community',
          hostname: c.hostname,
          node_id: c.nodeId,
          timers: { running: 0, pending: 0 },
          plugins: { available_on_server: availableOnServer(c.enabledPlugins), enabled_in_cluster: await pluginsInCluster(c.pool) },
          configuration: publicConfiguration(c.config),
          ...c.info(),
        },
      }),
    }),
    route('/status', {
      GET: async (call): Promise<Reply> => {
        const unit = call.rawQuery.unit
        if (typeof unit === 'string' && !['', 'b', 'k', 'm', 'g'].includes(unit.toLowerCase())) {
          return { status: 400, body: { message: `invalid unit '${unit}' (expected 'k/K', 'm/M', or 'g/G')` } }
        }
        const scale = typeof call.rawQuery.scale === 'string' ? luaToNumber(call.rawQuery.scale) : null
        if (scale !== null && scale < 0 && typeof unit === 'string' && !['', 'b'].includes(unit.toLowerCase())) {
          return { status: 400, body: { message: 'scale must be equal or greater than 0' } }
        }
        const s = await c.status()
        const { database, configuration_hash: hash, ...rest } = s
        // health.lua: DB mode reports the database, DB-less mode the configuration hash instead.
        const body: Record<string, unknown> = { ...rest }
        if (c.config.database === 'off') body.configuration_hash = hash ?? '0'.repeat(32)
        else body.database = database
        return { status: 200, body }
      },
    }),
    // kong/api/routes/kong.lua /timers (lua-resty-timer-ng statistics): Sluice runs no Lua
    // timers, so the shape comes with zero counts, as GET / reports `timers`.
    route('/timers', {
      GET: async (): Promise<Reply> => ({
        status: 200,
        body: {
          worker: { id: 0, count: 1 },
          stats: {
            flamegraph: { running: '', pending: '', elapsed_time: '' },
            sys: { total: 0, runs: 0, running: 0, pending: 0, waiting: 0 },
            timers: {},
          },
        },
      }),
    }),
    route('/endpoints', {
      GET: async (): Promise<Reply> => {
        const list = [...new Set(c.templates())]
        list.sort((a, b) => {
          const x = a.replace(/\//g, '\x00')
          const y = b.replace(/\//g, '\x00')
          return x < y ? -1 : x > y ? 1 : 0
        })
        return { status: 200, body: { data: list } }
      },
    }),
    route('/schemas/{name}', {
      GET: async (call): Promise<Reply> => {
        const name = schemaName(call.params.name!)
        const s = getSchema(name)
        if (s === undefined) return { status: 404, body: { message: `No entity named '${name}'` } }
        return { status: 200, body: schemaToJson(s) }
      },
    }),
    // The named vault's subschema (kong/api/routes/kong.lua `/schemas/vaults/:name`).
    route('/schemas/vaults/{name}', {
      GET: async (call): Promise<Reply> => {
        const name = String(decodeUtf8(decodeSegmentBytes(call.params.name!)))
        const subs = getSchema('vaults')?.subschemas
        const sub = subs !== undefined && Object.hasOwn(subs, name) ? subs[name] : undefined
        if (sub === undefined) return { status: 404, body: { message: `No vault named '${name}'` } }
        return { status: 200, body: schemaToJson({ name, fields: sub.fields }) }
      },
    }),
    // Named as Kong names it, so that `validate` is not read as a vault name by the route above.
    route('/schemas/vaults/validate', { POST: async (call): Promise<Reply> => validateSchema('vaults', call) }),
    route('/schemas/{db_entity_name}/validate', { POST: async (call): Promise<Reply> => validateSchema(schemaName(call.params.db_entity_name!), call) }),
  ]
}

/** POST /schemas/{entity}/validate (kong.lua validate_schema). */
function validateSchema (name: string, call: { rawQuery: Record<string, unknown>; body: unknown }): Reply {
  const s = getSchema(name)
  if (s === undefined) return { status: 404, body: { message: `No entity named '${name}'` } }
  // Lapis params: query arguments, then the body over them (kong.lua validate_schema).
  const params: Record<string, unknown> = Object.assign(Object.create(null), call.rawQuery, call.body)
  delete params.db_entity_name
  const r = processAutoFields(s, params, 'insert')
  const errors = 'errors' in r ? r.errors : validateEntity(s, r.entity, true)
  if (errors !== undefined) return { status: 400, body: schemaViolation(errors).errT }
  return { status: 200, body: { message: 'schema validation successful' } }
}
