/**
 * correlation-id (kong/plugins/correlation-id/handler.lua, PRIORITY 100001).
 *
 * A request without the header (or with it empty) gets one generated and sent upstream:
 * `uuid`, `uuid#counter` (`<worker uuid>#<n>`, the uuid drawn once per worker) or `tracker`.
 * With echo_downstream the value also goes back on the response (header filter; a response
 * whose access phase never ran gets the client's value or a fresh one).
 *
 * `tracker` is nginx's `server_addr-server_port-pid-connection-connection_requests-now`. The
 * plugin context has no local address nor connection serials: server_addr is the Host when it is
 * an IPv4 literal, else 127.0.0.1 for a loopback client, else the machine's first external IPv4;
 * the connection serial is a per-worker request serial and connection_requests is 1.
 *
 * The id is also the log entry's top-level `correlation_id` (Kong's kong.log.set_serialize_value):
 * it is left in kong.ctx.shared under SERIALIZE_KEY for the log serializer.
 */
import { randomUUID } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import type { PluginContext, PluginHandler } from '../types.ts'

export interface CorrelationIdConfig {
  header_name?: string | null
  generator: 'uuid' | 'uuid#counter' | 'tracker'
  echo_downstream: boolean
}

interface Prepared {
  readonly header: string
  readonly generate: (ctx: PluginContext) => string
  readonly echo: boolean
}

const WORKER_UUID = randomUUID()
let counter = 0
let serial = 0
const SHARED_KEY = 'correlation-id'
/** Extra top-level fields of the log entry (kong.log.set_serialize_value), name -> value. */
export const SERIALIZE_KEY = 'kong.log.serialize_values'

const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/
const EXTERNAL_IPV4 = ((): string => {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
})()

function serverAddr (ctx: PluginContext): string {
  if (IPV4.test(ctx.hostName)) return ctx.hostName
  const peer = ctx.remoteAddr
  return peer.startsWith('127.') || peer === '::1' || peer.startsWith('::ffff:127.') ? '127.0.0.1' : EXTERNAL_IPV4
}

/** No value: absent, empty or blank (nginx trims the spaces around a header value). */
const blank = (v: string | undefined): boolean => v === undefined || v.trim() === ''

const GENERATORS: Record<string, (ctx: PluginContext) => string> = {
  uuid: () => randomUUID(),
  'uuid#counter': () => `${WORKER_UUID}#${++counter}`,
  tracker: (ctx) => `${serverAddr(ctx)}-${ctx.port}-${process.pid}-${++serial}-1-${(Date.now() / 1000).toFixed(3)}`,
}

export const handler: PluginHandler<CorrelationIdConfig, Prepared> = {
  name: 'correlation-id',
  priority: 100001,
  prepare (c) {
    return {
      header: (c.header_name ?? 'Kong-Request-ID').toLowerCase(),
      generate: GENERATORS[c.generator] ?? GENERATORS['uuid#counter']!,
      echo: c.echo_downstream === true,
    }
  },
  access (ctx, c) {
    let id = ctx.getHeader(c.header)
    if (blank(id)) {
      id = c.generate(ctx)
      ctx.setHeader(c.header, id)
    }
    let extra = ctx.shared.get(SERIALIZE_KEY) as Record<string, unknown> | undefined
    if (extra === undefined) ctx.shared.set(SERIALIZE_KEY, extra = {})
    extra.correlation_id = id
    if (c.echo) ctx.shared.set(SHARED_KEY, id)
  },
  headerFilter (ctx, c) {
    if (!c.echo) return
    let id = ctx.shared.get(SHARED_KEY) as string | undefined ?? ctx.getHeader(c.header)
    if (blank(id)) id = c.generate(ctx)
    ctx.setResponseHeader(c.header, id!)
  },
}
