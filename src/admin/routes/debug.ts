/**
 * `/debug/node/log-level` and `/debug/cluster/log-level/{log_level}` (kong/api/routes/debug.lua):
 * read the node's log level, change it for `timeout` seconds (default 60, 0: back to the
 * configured `log_level`), on this node or on every node of the cluster (a `log_level` cluster
 * event). Kong's order of checks and messages: DB-less refuses changes (405), an unknown level
 * name is a 400, a negative timeout a 400, the level already in force a 200 that changes nothing.
 * Sluice has no hybrid mode, so there is no `/debug/cluster/control-planes-nodes/...`.
 */
import type { Config } from '../../config/load.ts'
import { luaToNumber } from '../../db/schema/url.ts'
import { decodeUtf8 } from '../../db/schema/utf8.ts'
import type { Level } from '../../common/log.ts'
import type { LogFn, Reply } from '../respond.ts'
import { decodeSegmentBytes, route, type Call, type Route } from '../router.ts'

/** What the primary's NodeLogLevel (primary/log-level.ts) offers the Admin API. */
export interface LogLevelAdmin {
  current (): Level
  set (level: Level, timeoutS: number): void
  broadcast (level: Level, timeoutS: number): Promise<void>
}

const LEVELS: readonly Level[] = ['debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg']
const DEFAULT_TIMEOUT_S = 60

/**
 * An Admin API without a primary (tests that start only the Admin API): the level lives here, in
 * memory, with its timeout; no worker follows it and there is no cluster to tell.
 */
export function localLogLevel (config: Config): LogLevelAdmin {
  const configured = (LEVELS.includes(config.logLevel as Level) ? config.logLevel : 'notice') as Level
  let dynamic: { level: Level; until: number } | null = null
  return {
    current: () => {
      if (dynamic !== null && dynamic.until <= Date.now()) dynamic = null
      return dynamic?.level ?? configured
    },
    set: (level, timeoutS) => { dynamic = timeoutS > 0 ? { level, until: Date.now() + timeoutS * 1000 } : null },
    broadcast: async () => {},
  }
}

const message = (status: number, text: string): Reply => ({ status, body: { message: text } })

/** Lua's tonumber on a parameter: strings as Lua reads them, numbers as they are, anything else nil. */
function timeoutParam (call: Call): number | null {
  const v = Object.hasOwn(call.body, 'timeout') ? call.body.timeout : call.query.timeout
  if (typeof v === 'number') return Number.isNaN(v) ? null : v
  if (typeof v === 'string') {
    const n = luaToNumber(v)
    return n === null || Number.isNaN(n) ? null : n
  }
  return null
}

export function debugRoutes (o: { dbless: boolean; logLevel: LogLevelAdmin; log: LogFn }): Route[] {
  const put = (cluster: boolean) => async (call: Call): Promise<Reply> => {
    if (o.dbless) return message(405, 'cannot change log level when not using a database')
    const decoded = decodeUtf8(decodeSegmentBytes(call.params.log_level!))
    const name = typeof decoded === 'string' ? decoded : decodeSegmentBytes(call.params.log_level!).toString('latin1')
    const level = LEVELS.find((l) => l === name)
    if (level === undefined) return message(400, `unknown log level: ${name}`)
    const timeout = Math.ceil(timeoutParam(call) ?? DEFAULT_TIMEOUT_S)
    if (timeout < 0) return message(400, 'timeout must be greater than or equal to 0')
    if (o.logLevel.current() === level) return message(200, `log level is already ${name}`)
    o.logLevel.set(level, timeout)
    if (cluster) {
      try {
        await o.logLevel.broadcast(level, timeout)
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err)
        o.log('error', `log level: could not broadcast to the cluster: ${why}`)
        return message(500, `failed broadcasting to cluster: ${why}`)
      }
    }
    return message(200, 'log level changed')
  }
  return [
    route('/debug/node/log-level', { GET: async () => message(200, `log level: ${o.logLevel.current()}`) }),
    route('/debug/node/log-level/{log_level}', { PUT: put(false) }),
    route('/debug/cluster/log-level/{log_level}', { PUT: put(true) }),
  ]
}
