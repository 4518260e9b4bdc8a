/**
 * Plugin rows -> per-route phase chains, at snapshot compile time.
 *
 * Kong's lookup (kong/runloop/plugins_iterator.lua `lookup_cfg`) picks, per plugin name, the most
 * specific enabled instance among: route+service+consumer, route+consumer, service+consumer,
 * route+service, consumer, route, service, global. Here that is decided once:
 *
 * - `chainsFor(route, service)`: the chains with no consumer known (levels 4, 6, 7, 8);
 * - `PhaseChains.forConsumer(id)`: the chains as if the consumer had been known from the start
 *   (all 8 levels), built on first use per (route, consumer) and kept; null for a consumer no
 *   consumer-scoped instance names. The runner switches to them after the plugin that
 *   authenticated, for the plugins that follow (plugin-runner.ts).
 * - `global`: global instances only: what Kong runs when access never collected (no route, 426,
 *   errors before the access phase): rewrite, header filter, body filter, log.
 *
 * Chains are arrays of steps in Kong's order (priority descending, ties name descending), or null
 * when a phase has none. Routes with the same instances share one PhaseChains object.
 *
 * An instance whose `prepare` throws is kept, and answers 500 (Kong's answer to a plugin that
 * errors at runtime) rather than vanishing: a broken auth config must not open the route.
 * Instances whose `protocols` name no HTTP-subsystem protocol are left out (should_process_plugin).
 */
import type { Snapshot } from '../common/snapshot.ts'
import { log } from '../common/log.ts'
import type { AnyPluginHandler, PluginContext, PluginRow } from '../plugins/types.ts'
import { SnapshotEnv } from './plugin-env.ts'

export interface Step<F> {
  readonly fn: F
  readonly conf: unknown
  /** Position of the plugin in the global order: compared when switching to consumer chains. */
  readonly order: number
  readonly name: string
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export type AccessFn = (ctx: any, conf: any) => void | Promise<void>
export type HeaderFn = (ctx: any, conf: any) => void
export type BodyFn = (ctx: any, conf: any, chunk: Buffer, last: boolean) => Buffer
export type LogFn = (ctx: any, conf: any) => void
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface PhaseChains {
  readonly rewrite: ReadonlyArray<Step<AccessFn>> | null
  readonly access: ReadonlyArray<Step<AccessFn>> | null
  readonly headerFilter: ReadonlyArray<Step<HeaderFn>> | null
  readonly bodyFilter: ReadonlyArray<Step<BodyFn>> | null
  readonly log: ReadonlyArray<Step<LogFn>> | null
  /** Chains for an identified consumer; null when no instance anywhere is consumer-scoped. */
  readonly forConsumer: ((consumerId: string) => PhaseChains | null) | null
}

export interface CompiledPlugins {
  readonly global: PhaseChains | null
  chainsFor (routeId: string, serviceId: string | null): PhaseChains | null
  readonly instanceCount: number
}

interface Instance {
  readonly handler: AnyPluginHandler
  readonly order: number
  readonly id: string
  readonly conf: unknown
  readonly broken: boolean
}

/** Scope tables of one plugin name. Keys: ids, or `route|service`. */
interface Scopes {
  g: Instance | null
  r: Map<string, Instance>
  s: Map<string, Instance>
  rs: Map<string, Instance>
  c: Map<string, Instance>
  rc: Map<string, Instance>
  sc: Map<string, Instance>
  rsc: Map<string, Instance>
}

const HTTP_SUBSYSTEM = new Set(['http', 'https', 'grpc', 'grpcs', 'ws', 'wss'])

/** Kong's sort_by_handler_priority: priority descending, then name descending. */
export function sortHandlers (handlers: readonly AnyPluginHandler[]): AnyPluginHandler[] {
  return [...handlers].sort((a, b) => (a.priority !== b.priority ? b.priority - a.priority : a.name < b.name ? 1 : a.name > b.name ? -1 : 0))
}

const UNEXPECTED = '{"message":"An unexpected error occurred"}'

function brokenAccess (ctx: PluginContext): void {
  ctx.exitJson(500, UNEXPECTED)
}

function newScopes (): Scopes {
  return { g: null, r: new Map(), s: new Map(), rs: new Map(), c: new Map(), rc: new Map(), sc: new Map(), rsc: new Map() }
}

function place (sc: Scopes, row: PluginRow, inst: Instance): void {
  const r = row.route?.id ?? null
  const s = row.service?.id ?? null
  const c = row.consumer?.id ?? null
  if (c === null) {
    if (r !== null && s !== null) sc.rs.set(`${r}|${s}`, inst)
    else if (r !== null) sc.r.set(r, inst)
    else if (s !== null) sc.s.set(s, inst)
    else sc.g = inst
  } else if (r !== null && s !== null) sc.rsc.set(`${r}|${s}|${c}`, inst)
  else if (r !== null) sc.rc.set(`${r}|${c}`, inst)
  else if (s !== null) sc.sc.set(`${s}|${c}`, inst)
  else sc.c.set(c, inst)
}

function lookup (sc: Scopes, r: string | null, s: string | null, c: string | null): Instance | null {
  let i: Instance | undefined
  if (c !== null) {
    if (r !== null && s !== null && (i = sc.rsc.get(`${r}|${s}|${c}`)) !== undefined) return i
    if (r !== null && (i = sc.rc.get(`${r}|${c}`)) !== undefined) return i
    if (s !== null && (i = sc.sc.get(`${s}|${c}`)) !== undefined) return i
  }
  if (r !== null && s !== null && (i = sc.rs.get(`${r}|${s}`)) !== undefined) return i
  if (c !== null && (i = sc.c.get(c)) !== undefined) return i
  if (r !== null && (i = sc.r.get(r)) !== undefined) return i
  if (s !== null && (i = sc.s.get(s)) !== undefined) return i
  return sc.g
}

function steps<F> (list: readonly Instance[], pick: (h: AnyPluginHandler) => F | undefined): Array<Step<F>> | null {
  const out: Array<Step<F>> = []
  for (const inst of list) {
    const fn = inst.broken ? undefined : pick(inst.handler)
    if (fn === undefined) continue
    out.push({ fn, conf: inst.conf, order: inst.order, name: inst.handler.name })
  }
  return out.length > 0 ? out : null
}

/* eslint-disable @typescript-eslint/unbound-method */
function buildChains (list: readonly Instance[], forConsumer: PhaseChains['forConsumer']): PhaseChains {
  const access = steps<AccessFn>(list, (h) => h.access)
  const brokenSteps = list.filter((i) => i.broken).map((i) => ({ fn: brokenAccess as AccessFn, conf: null, order: i.order, name: i.handler.name }))
  const allAccess = brokenSteps.length === 0 ? access : [...(access ?? []), ...brokenSteps].sort((a, b) => a.order - b.order)
  return {
    rewrite: steps<AccessFn>(list, (h) => h.rewrite),
    access: allAccess,
    headerFilter: steps<HeaderFn>(list, (h) => h.headerFilter),
    bodyFilter: steps<BodyFn>(list, (h) => h.bodyFilter),
    log: steps<LogFn>(list, (h) => h.log),
    forConsumer,
  }
}
/* eslint-enable @typescript-eslint/unbound-method */

export function compilePlugins (snap: Snapshot, handlers: readonly AnyPluginHandler[], nodeId = ''): CompiledPlugins {
  const sorted = sortHandlers(handlers)
  const orderOf = new Map(sorted.map((h, i) => [h.name, i]))
  const scopes: Array<Scopes | null> = sorted.map(() => null)
  const env = new SnapshotEnv(snap, nodeId)
  const consumerScoped = new Set<string>()
  let instanceCount = 0
  const rows = (snap.entities?.plugins ?? []) as unknown as PluginRow[]
  for (const row of rows) {
    if (row.enabled === false) continue
    const order = orderOf.get(row.name)
    if (order === undefined) {
      log.warn(`plugin ${row.id}: '${row.name}' has no handler in this worker; instance ignored`)
      continue
    }
    if (row.protocols != null && !row.protocols.some((p) => HTTP_SUBSYSTEM.has(p))) continue
    const handler = sorted[order]!
    let conf: unknown = row.config
    let broken = false
    if (handler.prepare !== undefined) {
      try {
        conf = handler.prepare(row.config ?? {}, env.forPlugin(row))
      } catch (err) {
        broken = true
        log.error(`plugin ${row.name} ${row.id}: invalid configuration, requests through it answer 500: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    const sc = scopes[order] ?? (scopes[order] = newScopes())
    place(sc, row, { handler, order, id: row.id, conf, broken })
    if (row.consumer?.id != null) consumerScoped.add(row.consumer.id)
    instanceCount++
  }

  const shared = new Map<string, PhaseChains | null>()
  const intern = (list: Instance[], forConsumer: PhaseChains['forConsumer']): PhaseChains | null => {
    if (list.length === 0 && forConsumer === null) return null
    const key = `${forConsumer === null ? '' : 'c'}:${list.map((i) => i.id).join(',')}`
    let chains = shared.get(key)
    if (chains === undefined) {
      chains = buildChains(list, forConsumer)
      shared.set(key, chains)
    }
    return chains
  }
  const resolve = (r: string | null, s: string | null, c: string | null): Instance[] => {
    const list: Instance[] = []
    for (const sc of scopes) {
      if (sc === null) continue
      const inst = lookup(sc, r, s, c)
      if (inst !== null) list.push(inst)
    }
    return list
  }

  const consumerResolver = (r: string | null, s: string | null): PhaseChains['forConsumer'] => {
    if (consumerScoped.size === 0) return null
    const cache = new Map<string, PhaseChains | null>()
    return (consumerId: string) => {
      if (!consumerScoped.has(consumerId)) return null
      let chains = cache.get(consumerId)
      if (chains === undefined) {
        const base = resolve(r, s, null)
        const withConsumer = resolve(r, s, consumerId)
        const same = base.length === withConsumer.length && base.every((b, i) => b === withConsumer[i])
        chains = same ? null : buildChains(withConsumer, null)
        cache.set(consumerId, chains)
      }
      return chains
    }
  }

  const perRoute = new Map<string, PhaseChains | null>()
  return {
    instanceCount,
    global: instanceCount === 0 ? null : intern(resolve(null, null, null), null),
    chainsFor (routeId: string, serviceId: string | null): PhaseChains | null {
      if (instanceCount === 0) return null
      const key = `${routeId}|${serviceId ?? ''}`
      let chains = perRoute.get(key)
      if (chains === undefined) {
        const forConsumer = consumerResolver(routeId, serviceId)
        const list = resolve(routeId, serviceId, null)
        chains = forConsumer === null ? intern(list, null) : (list.length === 0 && forConsumer === null ? null : buildChains(list, forConsumer))
        perRoute.set(key, chains)
      }
      return chains
    },
  }
}
