/**
 * request-size-limiting (kong/plugins/request-size-limiting/handler.lua, PRIORITY 951).
 *
 * A numeric Content-Length is compared with the limit (allowed_payload_size x 2^20, 2^10 or 1):
 * over it, 413 `Request size limit exceeded`, or 417 when the client sent
 * `Expect: 100-continue` (the body is then never read). Without one: 411 `A valid
 * Content-Length header is required` when require_content_length (unless chunked); otherwise the
 * body is read and measured. A body too large to be read whole is limited while it streams.
 */
import type { PluginContext, PluginHandler } from '../types.ts'

export interface RequestSizeLimitingConfig {
  allowed_payload_size: number
  size_unit: 'megabytes' | 'kilobytes' | 'bytes'
  require_content_length: boolean
}

const FACTOR: Record<string, number> = { bytes: 1, kilobytes: 1024, megabytes: 1048576 }
const EXCEEDED = 'Request size limit exceeded'

interface Prepared { readonly allowed: number; readonly requireLength: boolean }

function check (ctx: PluginContext, c: Prepared, length: number): void {
  if (length <= c.allowed) return
  const expect = ctx.getHeader('expect')
  if (expect !== undefined && expect.trim().toLowerCase() === '100-continue') ctx.error(417, EXCEEDED)
  else ctx.error(413, EXCEEDED)
}

function checkBody (ctx: PluginContext, c: Prepared, body: Buffer | null): void {
  if (body !== null) check(ctx, c, body.length)
  // Too large to buffer: enforce the limit on the bytes as they stream.
  else if (!ctx.exited) ctx.limitBodySize(c.allowed)
}

export const handler: PluginHandler<RequestSizeLimitingConfig, Prepared> = {
  name: 'request-size-limiting',
  priority: 951,
  prepare (c) {
    return {
      allowed: (c.allowed_payload_size ?? 128) * (FACTOR[c.size_unit ?? 'megabytes'] ?? 1048576),
      requireLength: c.require_content_length === true,
    }
  },
  access (ctx, c) {
    const cl = ctx.getHeader('content-length')
    if (cl !== undefined && cl !== '' && Number.isFinite(Number(cl))) {
      check(ctx, c, Number(cl))
      return
    }
    if (c.requireLength && ctx.getHeader('transfer-encoding') !== 'chunked') {
      ctx.error(411, 'A valid Content-Length header is required')
      return
    }
    const body = ctx.readBody()
    if (body instanceof Promise) return body.then((b) => { checkBody(ctx, c, b) })
    return checkBody(ctx, c, body)
  },
}
