/**
 * standard-webhooks (kong/plugins/standard-webhooks/handler.lua + internal.lua, PRIORITY 760):
 * checks incoming webhooks signed per the Standard Webhooks specification. A request passes when
 * it has `webhook-id`, `webhook-signature` and `webhook-timestamp` (first values), a timestamp no
 * more than `tolerance_second` in the past, a non-empty body, and a signature header equal to
 * `v1,<base64 HMAC-SHA256(secret_v1, id.timestamp.body)>`. Anything else is answered with
 * `kong.response.error(400)` (`Bad request`), in that order of checks.
 *
 * As in Kong: a timestamp that is not a number counts as 0 (and so fails the tolerance check
 * unless tolerance_second is huge); a timestamp in the future passes; the signature header is
 * compared whole, so a list of several signatures is not searched. A body too large to be read
 * whole (Kong: buffered to a file; Sluice: above the plugin body limit) counts as missing.
 */
import { timingSafeEqual } from 'node:crypto'
import type { PluginContext, PluginHandler } from '../types.ts'
import { luaToNumber, sign } from './signature.ts'

export interface StandardWebhooksConfig {
  secret_v1: string
  tolerance_second: number
}

interface Prepared {
  readonly secret: string
  readonly tolerance: number
}

function sameSignature (given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

function checkBody (ctx: PluginContext, c: Prepared, id: string, signature: string, ts: number, body: Buffer | null): void {
  if (body === null || body.length === 0) return ctx.error(400)
  if (!sameSignature(signature, sign(c.secret, id, ts, body))) return ctx.error(400)
}

export const handler: PluginHandler<StandardWebhooksConfig, Prepared> = {
  name: 'standard-webhooks',
  priority: 760,
  prepare (c) {
    return { secret: c.secret_v1, tolerance: c.tolerance_second ?? 300 }
  },
  access (ctx, c) {
    const id = ctx.getHeader('webhook-id')
    const signature = ctx.getHeader('webhook-signature')
    const rawTs = ctx.getHeader('webhook-timestamp')
    if (id === undefined || signature === undefined || rawTs === undefined) return ctx.error(400)
    const ts = luaToNumber(rawTs) ?? 0
    if (Date.now() / 1000 - ts > c.tolerance) return ctx.error(400)
    const body = ctx.readBody()
    if (body instanceof Promise) return body.then((b) => { checkBody(ctx, c, id, signature, ts, b) })
    return checkBody(ctx, c, id, signature, ts, body)
  },
}
