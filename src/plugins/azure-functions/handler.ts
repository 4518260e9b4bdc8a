/**
 * azure-functions (kong/plugins/azure-functions/handler.lua, PRIORITY 749): answers the request
 * with the response of an Azure Function, called at
 * `http[s]://<appname>.<hostdomain>:<80|443>/<routeprefix>/<functionname>`; the route's service
 * is never called.
 *
 * The call, as Kong's resty.http `request_uri` makes it: the client's method, the client's
 * headers but Host (the function's host goes instead), `x-functions-key` = apikey and
 * `x-functions-clientid` = clientid (each removed from the client's headers when not
 * configured), the client's query arguments re-encoded after `?` (a bare `?` when there are
 * none), and the client's whole body (none when it is too large to be read whole). Connect,
 * response head and body each time out after `timeout` ms; idle connections live `keepalive` ms;
 * the certificate is checked only with `https_verify` (against Node's CA store). The host name
 * resolves through Kong's DNS settings (dns_hostsfile, dns_resolver), as Kong's cosockets do.
 *
 * The answer: the function's status, headers and body (read whole), with Kong's edits:
 * Connection, Keep-Alive, Proxy-Connection, Upgrade and Transfer-Encoding removed, and
 * `Via: 2 kong/<version>` appended to the function's own Via when the `headers` setting has Via.
 * Kong tests `ngx.var.http2` for both, and that variable is an empty string (true in Lua) on
 * HTTP/1.1 too, so Kong always does them with the `2` of HTTP/2; its own spec expects that. The
 * function's Server header gives way to the gateway's (Kong's header filter replaces it on a
 * response that was not proxied). A failed call (connect, TLS, timeout, reset) is answered
 * `500 {"message":"An unexpected error occurred"}` and logged.
 *
 * Sluice differences: client headers undici refuses to send or that describe the client's own
 * connection (Content-Length, Transfer-Encoding, Connection, Keep-Alive, Proxy-Connection,
 * Upgrade, Expect) are not forwarded; undici frames the body itself. Query arguments go out with
 * their names sorted (Kong: Lua table order).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher, Pool } from 'undici'
import { log } from '../../common/log.ts'
import { SERVER_TOKEN } from '../../common/meta.ts'
import type { RequestContext } from '../../worker/context.ts'
import { encodeQuery } from '../../worker/query-args.ts'
import { settings } from '../../worker/settings.ts'
import { pluginPool } from '../shared/http-pool.ts'
import type { PluginContext, PluginHandler } from '../types.ts'

export interface AzureFunctionsConfig {
  timeout: number
  keepalive: number
  https: boolean
  https_verify: boolean
  apikey?: string | null
  clientid?: string | null
  appname: string
  hostdomain: string
  routeprefix?: string | null
  functionname: string
}

interface Prepared {
  readonly pool: Pool
  readonly path: string
  readonly timeout: number
  readonly apikey: string | null
  readonly clientid: string | null
}

const VIA_TOKEN = `2 ${SERVER_TOKEN}`
const FAILED = { message: 'An unexpected error occurred' }

/** Client headers left out of the call (x-functions-*: the configured values replace them). */
const NOT_FORWARDED = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'expect',
  'x-functions-key', 'x-functions-clientid',
])
/** Function response headers Kong drops (hop-by-hop), or that the gateway writes itself. */
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'transfer-encoding', 'content-length', 'server', 'via'])

/** Kong's `match(s, "^/*(.-)/*$")`: without leading and trailing slashes. */
function stripSlashes (s: string): string {
  let a = 0
  let b = s.length
  while (a < b && s.charCodeAt(a) === 47) a++
  while (b > a && s.charCodeAt(b - 1) === 47) b--
  return s.slice(a, b)
}

/** `/<routeprefix>/<functionname>`; no prefix segment when routeprefix is empty or unset. */
export function functionPath (routeprefix: string | null | undefined, functionname: string): string {
  const prefix = stripSlashes(routeprefix ?? '')
  return `${prefix === '' ? '' : `/${prefix}`}/${stripSlashes(functionname)}`
}

interface FunctionResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** Collects one response whole (undici's handler API: plain callbacks, no stream per call). */
class Collect implements Dispatcher.DispatchHandler {
  status = 0
  headers: IncomingHttpHeaders = {}
  chunks: Buffer[] = []
  readonly resolve: (r: FunctionResponse) => void
  readonly reject: (err: Error) => void

  constructor (resolve: (r: FunctionResponse) => void, reject: (err: Error) => void) {
    this.resolve = resolve
    this.reject = reject
  }

  /** Its presence tells undici this handler speaks the controller API. */
  onRequestStart (): void {}

  onResponseStart (_c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    this.status = status
    this.headers = headers
  }

  onResponseData (_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk)
  }

  onResponseEnd (): void {
    this.resolve({ status: this.status, headers: this.headers, body: this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks) })
  }

  onResponseError (_c: Dispatcher.DispatchController, err: Error): void {
    this.reject(err)
  }
}

function requestHeaders (ctx: PluginContext, c: Prepared): string[] {
  const out: string[] = []
  const all = ctx.getHeaders()
  for (const name in all) {
    if (NOT_FORWARDED.has(name)) continue
    const v = all[name]!
    if (typeof v === 'string') out.push(name, v)
    else for (const x of v) out.push(name, x)
  }
  if (c.apikey !== null) out.push('x-functions-key', c.apikey)
  if (c.clientid !== null) out.push('x-functions-clientid', c.clientid)
  return out
}

function call (ctx: PluginContext, c: Prepared, body: Buffer | null): Promise<FunctionResponse> {
  const opts: Dispatcher.DispatchOptions = {
    path: `${c.path}?${encodeQuery(ctx.getQueryArgs())}`,
    method: ctx.method as Dispatcher.HttpMethod,
    headers: requestHeaders(ctx, c),
    body: body !== null && body.length > 0 ? body : null,
    headersTimeout: c.timeout,
    bodyTimeout: c.timeout,
  }
  return new Promise((resolve, reject) => {
    try {
      c.pool.dispatch(opts, new Collect(resolve, reject))
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)))
    }
  })
}

function answer (ctx: PluginContext, res: FunctionResponse): void {
  const h = res.headers
  for (const name in h) {
    if (NOT_RETURNED.has(name)) continue
    const v = h[name]
    if (v === undefined) continue
    ctx.clearResponseHeader(name)
    if (typeof v === 'string') ctx.addResponseHeader(name, v)
    else for (const x of v) ctx.addResponseHeader(name, x)
  }
  const via = h.via as string | string[] | undefined
  const viaIn = via === undefined ? null : typeof via === 'string' ? via : via.join(', ')
  if (settings.hdrVia) {
    ctx.clearResponseHeader('via')
    ctx.addResponseHeader('via', viaIn === null ? VIA_TOKEN : `${viaIn}, ${VIA_TOKEN}`)
  } else if (viaIn !== null) {
    ctx.clearResponseHeader('via')
    ctx.addResponseHeader('via', viaIn)
  }
  ctx.exit(res.status, res.body)
}

/**
 * The client left while its body was being read (worker/proxy.ts onClientAborted marks the
 * response done): nginx ends such a request there, so Kong never calls the function.
 */
function clientGone (ctx: PluginContext): boolean {
  return (ctx as Partial<Pick<RequestContext, 'resDone'>>).resDone === true
}

async function invoke (ctx: PluginContext, c: Prepared, body: Buffer | null): Promise<void> {
  if (clientGone(ctx)) return
  let res: FunctionResponse
  try {
    res = await call(ctx, c, body)
  } catch (err) {
    log.error(`azure-functions: ${err instanceof Error ? err.message : String(err)}`)
    return ctx.exit(500, FAILED)
  }
  answer(ctx, res)
}

/**
 * The ports Kong always calls (80, 443). `SLUICE_AZURE_FUNCTIONS_PORTS=<http>,<https>` replaces
 * them, for tests that cannot bind privileged ports; nothing else should set it.
 */
export function functionPorts (env: NodeJS.ProcessEnv = process.env): { http: number; https: number } {
  const m = /^(\d{1,5}),(\d{1,5})$/.exec(env.SLUICE_AZURE_FUNCTIONS_PORTS ?? '')
  return m === null ? { http: 80, https: 443 } : { http: Number(m[1]), https: Number(m[2]) }
}

const PORTS = functionPorts()

/** `http[s]://<appname>.<hostdomain>:<port>`. */
export function functionOrigin (c: AzureFunctionsConfig, ports = PORTS): string {
  const https = c.https !== false
  return `${https ? 'https' : 'http'}://${c.appname}.${c.hostdomain}:${https ? ports.https : ports.http}`
}

export const handler: PluginHandler<AzureFunctionsConfig, Prepared> = {
  name: 'azure-functions',
  priority: 749,
  prepare (c) {
    const origin = functionOrigin(c)
    const timeout = Math.max(0, c.timeout ?? 600000)
    return {
      pool: pluginPool(origin, { verify: c.https_verify === true, timeout, keepalive: c.keepalive ?? 60000, connections: null }),
      path: functionPath(c.routeprefix, c.functionname),
      timeout,
      apikey: c.apikey ?? null,
      clientid: c.clientid ?? null,
    }
  },
  access (ctx, c) {
    const body = ctx.readBody()
    if (body instanceof Promise) return body.then((b) => invoke(ctx, c, b))
    return invoke(ctx, c, body)
  },
}
