/**
 * request-termination (kong/plugins/request-termination/handler.lua, PRIORITY 2).
 *
 * Answers every request with `status_code` instead of proxying: `body` (with `content_type` when
 * given) as is, else `{"message": message or the status default}` via kong.response.exit (no
 * request_id), else no body for codes without a default. With `trigger`, only requests carrying
 * that header or query argument are terminated. With `echo`, the answer is a JSON description of
 * the request, the matched route and service, and the node.
 */
import type { FlatHeaders, PluginContext, PluginHandler, PrepareEnv } from '../types.ts'

export interface RequestTerminationConfig {
  status_code: number
  message?: string | null
  content_type?: string | null
  body?: string | null
  echo: boolean
  trigger?: string | null
}

const DEFAULT_RESPONSE: Record<number, string> = {
  401: 'Unauthorized',
  404: 'Not found',
  405: 'Method not allowed',
  500: 'An unexpected error occurred',
  502: 'Bad Gateway',
  503: 'Service unavailable',
}

interface Prepared {
  readonly status: number
  readonly message: string | null
  readonly json: string | null
  readonly body: string | null
  readonly bodyHeaders: FlatHeaders | null
  readonly echo: boolean
  readonly trigger: string | null
  readonly triggerHeader: string | null
  readonly nodeId: string
  readonly hostname: string
}

function echo (ctx: PluginContext, c: Prepared, raw: Buffer | null): void {
  const parsed = ctx.getBody()
  const body = parsed instanceof Promise ? null : parsed
  const captures = ctx.uriCaptures as { unnamed?: unknown; named?: unknown } | null
  const content = {
    ...(c.message !== null ? { message: c.message } : {}),
    kong: { node_id: c.nodeId, worker_pid: process.pid, hostname: c.hostname },
    request: {
      scheme: ctx.scheme,
      host: ctx.hostName,
      port: ctx.port,
      headers: ctx.getHeaders(),
      query: ctx.getQueryArgs(),
      ...(body !== null ? { body: body.value } : {}),
      raw_body: raw === null ? null : raw.toString('utf8'),
      method: ctx.method,
      path: ctx.path,
      uri_captures: { named: captures?.named ?? {}, unnamed: captures?.unnamed ?? [] },
    },
    matched_route: ctx.routeRow,
    matched_service: ctx.serviceRow,
  }
  ctx.exit(c.status, content)
}

export const handler: PluginHandler<RequestTerminationConfig, Prepared> = {
  name: 'request-termination',
  priority: 2,
  prepare (c, env: PrepareEnv) {
    const status = c.status_code ?? 503
    const message = typeof c.message === 'string' ? c.message : (DEFAULT_RESPONSE[status] ?? null)
    const body = typeof c.body === 'string' ? c.body : null
    return {
      status,
      message,
      json: message !== null ? JSON.stringify({ message }) : null,
      body,
      bodyHeaders: typeof c.content_type === 'string' ? ['Content-Type', c.content_type] : null,
      echo: c.echo === true,
      trigger: typeof c.trigger === 'string' ? c.trigger : null,
      triggerHeader: typeof c.trigger === 'string' ? c.trigger.toLowerCase() : null,
      nodeId: env.nodeId,
      hostname: env.hostname,
    }
  },
  access (ctx, c) {
    if (c.trigger !== null && ctx.getHeader(c.triggerHeader!) === undefined && ctx.getQueryArg(c.trigger) === undefined) return
    if (c.echo) {
      const raw = ctx.readBody()
      if (raw instanceof Promise) {
        return raw.then((b) => {
          const p = ctx.getBody()
          if (p instanceof Promise) return p.then(() => { echo(ctx, c, b) })
          return echo(ctx, c, b)
        })
      }
      echo(ctx, c, raw)
      return
    }
    if (c.body !== null) return ctx.exit(c.status, c.body, c.bodyHeaders)
    if (c.json !== null) return ctx.exitJson(c.status, c.json)
    return ctx.exit(c.status)
  },
}
