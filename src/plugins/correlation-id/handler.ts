/**
 * correlation-id (kong/plugins/correlation-id/handler.lua, PRIORITY 100001).
 *
 * A request without the header (or with it empty) gets one generated and sent upstream:
 * `uuid`, `uuid#counter` (`<worker uuid>#<n>`, the uuid drawn once per worker) or `tracker`.
 * With echo_downstream the value also goes back on the response (header filter; a response
 * whose access phase never ran gets the client's value or a fresh one).
 *
 * `tracker` is nginx's `server_addr-server_port-pid-connection-connection_requests-now`; Sluice
 * has no connection serials, so it uses the listener host and port, the process id, the request
 * id in their place, and the time with milliseconds.
 */
import { randomUUID } from 'node:crypto'
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
const SHARED_KEY = 'correlation-id'

const GENERATORS: Record<string, (ctx: PluginContext) => string> = {
  uuid: () => randomUUID(),
  'uuid#counter': () => `${WORKER_UUID}#${++counter}`,
  tracker: (ctx) => `${ctx.hostName}-${ctx.port}-${process.pid}-${ctx.requestId}-1-${(Date.now() / 1000).toFixed(3)}`,
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
    if (id === undefined || id === '') {
      id = c.generate(ctx)
      ctx.setHeader(c.header, id)
    }
    if (c.echo) ctx.shared.set(SHARED_KEY, id)
  },
  headerFilter (ctx, c) {
    if (!c.echo) return
    let id = ctx.shared.get(SHARED_KEY) as string | undefined ?? ctx.getHeader(c.header)
    if (id === undefined || id === '') id = c.generate(ctx)
    ctx.setResponseHeader(c.header, id)
  },
}
