/**
 * http-log (kong/plugins/http-log/handler.lua, PRIORITY 12): every request's serialized log entry
 * (shared/serialize.ts) goes to `http_endpoint` through the worker's queue (shared/log-queue.ts),
 * which batches, retries with backoff and drops oldest entries when a collector cannot keep up.
 * The log phase serializes (once per request for all log plugins) and enqueues; nothing else.
 *
 * Instances with the same endpoint settings share one queue per worker, named as Kong names it
 * (`endpoint:method:content_type:timeout:keepalive:retry_count`); the latest configuration of a
 * shared queue applies to what it sends next. `custom_fields_by_lua` is not supported.
 */
import { log } from '../../common/log.ts'
import { acquireQueue, queueParams, type LogQueue } from '../shared/log-queue.ts'
import { instanceTag, unsupportedCustomFields } from '../shared/log-plugin.ts'
import { serializeJson } from '../shared/serialize.ts'
import type { PluginHandler } from '../types.ts'
import { buildSender, parseEndpoint, type HttpLogConfig } from './sender.ts'

interface Prepared {
  /** null: the endpoint is no URL (e.g. a vault reference that did not resolve): nothing is sent. */
  readonly queue: LogQueue | null
}

/** Kong's make_queue_name (its format string takes the first six values). */
function queueKey (c: HttpLogConfig, endpoint: string): string {
  return `${endpoint}:${c.method ?? 'POST'}:${c.content_type ?? 'application/json'}:${c.timeout ?? 10000}:${c.keepalive ?? 60000}:${c.retry_count ?? 'nil'}`
}

export const handler: PluginHandler<HttpLogConfig, Prepared> = {
  name: 'http-log',
  priority: 12,
  prepare (conf, env) {
    unsupportedCustomFields('http-log', conf, env)
    const params = queueParams(conf as unknown as Record<string, unknown>)
    let ep
    try { ep = parseEndpoint(conf.http_endpoint) } catch {
      // Kong's log phase fails on such an endpoint and the request is unaffected (the value may be a secret: not logged)
      log.error(`${instanceTag('http-log', env)}: http_endpoint is not a valid URL; no log entry is sent`)
      return { queue: null }
    }
    const queue = acquireQueue(
      queueKey(conf, conf.http_endpoint),
      queueKey(conf, ep.display),
      instanceTag('http-log', env),
      params,
      buildSender(conf, params.maxBatchSize > 1),
    )
    return { queue }
  },
  log (ctx, c) {
    if (c.queue !== null) c.queue.enqueue(serializeJson(ctx))
  },
}
