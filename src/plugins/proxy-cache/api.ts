/**
 * proxy-cache's Admin API (kong/plugins/proxy-cache/api.lua), primary side. The entries live in
 * the workers (store.ts), so each call becomes one ProxyCacheRequest to every serving worker
 * (messages.ts; answered by purge.ts) and the answers are combined:
 *
 *   DELETE /proxy-cache                                 flush the dictionaries of every proxy-cache
 *                                                       instance -> 204
 *   GET    /proxy-cache/{cache_key}                     the entry from the first instance's
 *                                                       dictionary holding it -> 200 entry | 404
 *   DELETE /proxy-cache/{cache_key}                     purge it there -> 204 | 404
 *   GET    /proxy-cache/{plugin_id}/caches/{cache_key}  in that instance's dictionary -> 200 | 404
 *   DELETE /proxy-cache/{plugin_id}/caches/{cache_key}  -> 204 | 404 (unknown plugin: 404)
 *
 * A key counts as present when any worker holds it (each worker caches on its own). Kong also
 * broadcasts a purge to the other nodes (cluster event `proxy-cache:purge`, data
 * `<plugin_id>:<cache_key|nil>`); `deps.broadcast` is that hook.
 *
 * `ProxyCacheRelay` is the request/answer bookkeeping for the supervisor: `ask()` posts to the
 * serving workers and resolves with their answers (or what arrived within the time limit), and
 * `onResult()` takes each `proxy-cache-result` message.
 */
import { decodeSegmentBytes, route, type Route } from '../../admin/router.ts'
import type { Reply } from '../../admin/respond.ts'
import type { ProxyCacheRequest, ProxyCacheResult } from './messages.ts'
import { FanOut } from '../../common/fan-out.ts'

export interface ProxyCachePluginRow {
  readonly id: string
  readonly name: string
  readonly config: Record<string, unknown> | null
}

export type CacheAsk = Omit<ProxyCacheRequest, 'type' | 'seq'>

export interface ProxyCacheApiDeps {
  /** Every plugin row named proxy-cache (kong.db.plugins:each(), filtered). */
  plugins (): Promise<readonly ProxyCachePluginRow[]>
  /** The plugin row with this id, whatever its name; null when there is none. */
  plugin (id: string): Promise<ProxyCachePluginRow | null>
  /** One request to every serving worker of this node; their answers. */
  ask (req: CacheAsk): Promise<ProxyCacheResult[]>
  /** Tells the other nodes to purge too (Kong's cluster event). Optional. */
  broadcast? (pluginId: string, key: string | null): Promise<void>
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const NO_CONTENT: Reply = { status: 204 }
const NOT_FOUND: Reply = { status: 404 }

function dictionaryOf (p: ProxyCachePluginRow): string {
  const m = p.config?.memory as { dictionary_name?: unknown } | null | undefined
  return typeof m?.dictionary_name === 'string' ? m.dictionary_name : 'kong_db_cache'
}

function memoryInstances (rows: readonly ProxyCachePluginRow[]): ProxyCachePluginRow[] {
  return rows.filter((p) => p.name === 'proxy-cache' && (p.config?.strategy ?? 'memory') === 'memory')
}

function distinct (rows: readonly ProxyCachePluginRow[]): string[] {
  return [...new Set(rows.map(dictionaryOf))]
}

function segment (raw: string): string {
  return decodeSegmentBytes(raw).toString('utf8')
}

async function broadcastAll (deps: ProxyCacheApiDeps, rows: readonly ProxyCachePluginRow[], key: string | null): Promise<void> {
  if (deps.broadcast === undefined) return
  for (const p of rows) await deps.broadcast(p.id, key).catch(() => {})
}

export function proxyCacheRoutes (deps: ProxyCacheApiDeps): Route[] {
  const get = async (dictionaries: string[], key: string): Promise<Reply> => {
    const answers = await deps.ask({ op: 'get', dictionaries, key })
    for (const a of answers) if (a.entry !== null) return { status: 200, body: a.entry }
    return NOT_FOUND
  }
  const purge = async (dictionaries: string[], key: string): Promise<boolean> => {
    const answers = await deps.ask({ op: 'purge', dictionaries, key })
    return answers.some((a) => a.found)
  }
  return [
    route('/proxy-cache', {
      DELETE: async () => {
        const rows = memoryInstances(await deps.plugins())
        if (rows.length > 0) {
          await deps.ask({ op: 'flush', dictionaries: distinct(rows), key: null })
          await broadcastAll(deps, rows, null)
        }
        return NO_CONTENT
      },
    }),
    route('/proxy-cache/{cache_key}', {
      GET: async (call) => {
        const rows = memoryInstances(await deps.plugins())
        if (rows.length === 0) return NOT_FOUND
        return get(distinct(rows), segment(call.params.cache_key!))
      },
      DELETE: async (call) => {
        const key = segment(call.params.cache_key!)
        const rows = memoryInstances(await deps.plugins())
        if (rows.length === 0 || !(await purge(distinct(rows), key))) return NOT_FOUND
        await broadcastAll(deps, rows, key)
        return NO_CONTENT
      },
    }),
    route('/proxy-cache/{plugin_id}/caches/{cache_key}', {
      GET: async (call) => {
        const id = segment(call.params.plugin_id!)
        const p = UUID.test(id) ? await deps.plugin(id) : null
        if (p === null || memoryInstances([p]).length === 0) return NOT_FOUND
        return get([dictionaryOf(p)], segment(call.params.cache_key!))
      },
      DELETE: async (call) => {
        const id = segment(call.params.plugin_id!)
        const key = segment(call.params.cache_key!)
        const p = UUID.test(id) ? await deps.plugin(id) : null
        if (p === null || memoryInstances([p]).length === 0) return NOT_FOUND
        if (!(await purge([dictionaryOf(p)], key))) return NOT_FOUND
        await broadcastAll(deps, [p], key)
        return NO_CONTENT
      },
    }),
  ]
}

/** Pairs requests to the workers with their answers (primary side; common/fan-out.ts). */
export class ProxyCacheRelay {
  readonly #fan: FanOut<ProxyCacheRequest, ProxyCacheResult>

  /**
   * @param post sends a message to one worker
   * @param serving ids of the workers serving now
   */
  constructor (post: (workerId: number, msg: ProxyCacheRequest) => void, serving: () => readonly number[], timeoutMs = 2000) {
    this.#fan = new FanOut(post, serving, timeoutMs)
  }

  ask (req: CacheAsk): Promise<ProxyCacheResult[]> {
    return this.#fan.ask((seq) => ({ type: 'proxy-cache', seq, ...req }))
  }

  onResult (msg: ProxyCacheResult): void {
    this.#fan.onResult(msg)
  }
}
