/**
 * Runs plugin phases over precompiled chains (plugin-chains.ts).
 *
 * Access stays synchronous until a step returns a Promise (STYLE §6.2); then the rest of the
 * chain continues from `.then`. After each step:
 * - an exit (`ctx.exited`) or a finished response ends the phase;
 * - a changed consumer (`ctx.authenticate`) switches, once per change, to the chains compiled for
 *   that consumer, resuming after the current plugin's position (Kong looks each plugin's config
 *   up with the consumer known at its turn: plugins_iterator.lua get_next_and_collect).
 *
 * The downstream phases (header filter, body filter, log) use what access collected: the base
 * chain up to the switch point, the consumer chain after it. A plugin error in access answers
 * 500 `{"message":"An unexpected error occurred"}` (kong/init.lua execute_collecting_plugins_iterator);
 * errors in the later phases are logged and the step skipped.
 */
import { log } from '../common/log.ts'
import type { RequestContext } from './context.ts'
import type { AccessFn, PhaseChains, Step } from './plugin-chains.ts'

const UNEXPECTED = '{"message":"An unexpected error occurred"}'
const EMPTY = Buffer.alloc(0)

function describe (err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err)
}

function accessFailed (ctx: RequestContext, step: Step<AccessFn>, err: unknown): void {
  log.error(`plugin ${step.name} failed in access: ${describe(err)}`)
  if (!ctx.exited && !ctx.resDone) ctx.exitJson(500, UNEXPECTED)
}

/** First index in `steps` whose order is after `order`. */
function firstAfter (steps: ReadonlyArray<Step<unknown>>, order: number): number {
  let i = 0
  while (i < steps.length && steps[i]!.order <= order) i++
  return i
}

const NO_STEPS: ReadonlyArray<Step<AccessFn>> = []

/** Returns the chain to continue with after `order`, switching to the consumer's chains if any. */
function switchConsumer (ctx: RequestContext, order: number): ReadonlyArray<Step<AccessFn>> | null {
  ctx.consumerChanged = false
  const base = ctx.chains
  const consumer = ctx.consumer
  if (base === null || base.forConsumer === null || consumer === null) return null
  const alt = base.forConsumer(consumer.id)
  if (alt === null) {
    if (ctx.altChains === null) return null
    // A second authentication to a consumer without scoped instances: back to the base chain.
    ctx.altChains = null
    return base.access ?? NO_STEPS
  }
  ctx.altChains = alt
  ctx.switchOrder = order
  return alt.access ?? NO_STEPS
}

function runFrom (ctx: RequestContext, steps: ReadonlyArray<Step<AccessFn>>, i: number): void | Promise<void> {
  for (; i < steps.length; i++) {
    const s = steps[i]!
    let r: void | Promise<void>
    try {
      r = s.fn(ctx, s.conf)
    } catch (err) {
      accessFailed(ctx, s, err)
      return
    }
    if (r !== undefined) return r.then(() => resume(ctx, steps, s, i), (err) => accessFailed(ctx, s, err))
    if (ctx.exited || ctx.resDone) return
    if (ctx.consumerChanged) {
      const next = switchConsumer(ctx, s.order)
      if (next !== null) {
        steps = next
        i = firstAfter(next, s.order) - 1
      }
    }
  }
}

function resume (ctx: RequestContext, steps: ReadonlyArray<Step<AccessFn>>, s: Step<AccessFn>, i: number): void | Promise<void> {
  if (ctx.exited || ctx.resDone) return
  if (ctx.consumerChanged) {
    const next = switchConsumer(ctx, s.order)
    if (next !== null) return runFrom(ctx, next, firstAfter(next, s.order))
  }
  return runFrom(ctx, steps, i + 1)
}

/** The access phase of `ctx.chains`; a Promise only if a plugin went asynchronous. */
export function runAccess (ctx: RequestContext): void | Promise<void> {
  const steps = ctx.chains?.access ?? null
  if (steps === null) return
  return runFrom(ctx, steps, 0)
}

/** Global rewrite (before routing); same rules as access, without consumer switching. */
export function runRewrite (ctx: RequestContext, chains: PhaseChains): void | Promise<void> {
  const steps = chains.rewrite
  if (steps === null) return
  return runFrom(ctx, steps, 0)
}

export function hasHeaderFilter (ctx: RequestContext): boolean {
  const c = ctx.chains
  return c !== null && (c.headerFilter !== null || (ctx.altChains !== null && ctx.altChains.headerFilter !== null))
}

export function hasBodyFilter (ctx: RequestContext): boolean {
  const c = ctx.chains
  return c !== null && (c.bodyFilter !== null || (ctx.altChains !== null && ctx.altChains.bodyFilter !== null))
}

/* The downstream runners walk the base chain up to the switch point, then the consumer chain. */

/**
 * Header filters. A plugin may exit here (kong.response.exit in header_filter): the response's
 * status, headers and body are replaced (ctx.replacedBody) and the remaining filters are skipped,
 * as Kong's ngx.exit(ngx.OK) ends the phase.
 */
export function runHeaderFilter (ctx: RequestContext): void {
  const base = ctx.chains
  if (base === null) return
  const alt = ctx.altChains
  const a = base.headerFilter
  const cut = alt === null ? Infinity : ctx.switchOrder
  ctx.inHeaderFilter = true
  try {
    if (a !== null) {
      for (let i = 0; i < a.length && a[i]!.order <= cut; i++) {
        const s = a[i]!
        try { s.fn(ctx, s.conf) } catch (err) { log.error(`plugin ${s.name} failed in header_filter: ${describe(err)}`) }
        if (ctx.replacedBody !== null) return
      }
    }
    const b = alt?.headerFilter ?? null
    if (b !== null) {
      for (let i = firstAfter(b, cut); i < b.length; i++) {
        const s = b[i]!
        try { s.fn(ctx, s.conf) } catch (err) { log.error(`plugin ${s.name} failed in header_filter: ${describe(err)}`) }
        if (ctx.replacedBody !== null) return
      }
    }
  } finally {
    ctx.inHeaderFilter = false
  }
}

export function runBodyFilter (ctx: RequestContext, chunk: Buffer, last: boolean): Buffer {
  const base = ctx.chains
  if (base === null) return chunk
  const alt = ctx.altChains
  const a = base.bodyFilter
  const cut = alt === null ? Infinity : ctx.switchOrder
  let c = chunk
  if (a !== null) {
    for (let i = 0; i < a.length && a[i]!.order <= cut; i++) {
      const s = a[i]!
      try { c = s.fn(ctx, s.conf, c, last) ?? EMPTY } catch (err) { log.error(`plugin ${s.name} failed in body_filter: ${describe(err)}`) }
    }
  }
  const b = alt?.bodyFilter ?? null
  if (b !== null) {
    for (let i = firstAfter(b, cut); i < b.length; i++) {
      const s = b[i]!
      try { c = s.fn(ctx, s.conf, c, last) ?? EMPTY } catch (err) { log.error(`plugin ${s.name} failed in body_filter: ${describe(err)}`) }
    }
  }
  return c
}

export function runLog (ctx: RequestContext): void {
  const base = ctx.chains
  if (base === null) return
  const alt = ctx.altChains
  const a = base.log
  const cut = alt === null ? Infinity : ctx.switchOrder
  if (a !== null) {
    for (let i = 0; i < a.length && a[i]!.order <= cut; i++) {
      const s = a[i]!
      try { s.fn(ctx, s.conf) } catch (err) { log.error(`plugin ${s.name} failed in log: ${describe(err)}`) }
    }
  }
  const b = alt?.log ?? null
  if (b !== null) {
    for (let i = firstAfter(b, cut); i < b.length; i++) {
      const s = b[i]!
      try { s.fn(ctx, s.conf) } catch (err) { log.error(`plugin ${s.name} failed in log: ${describe(err)}`) }
    }
  }
}
