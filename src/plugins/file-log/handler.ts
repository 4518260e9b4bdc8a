/**
 * file-log (kong/plugins/file-log/handler.lua, PRIORITY 9): appends each request's serialized log
 * entry (shared/serialize.ts) as one JSON line to `path`, through the worker's sink for that path
 * (file-writer.ts: batched, asynchronous, `reopen` honoured per batch). The log phase serializes
 * and hands the line over; opening and writing never happen on the request path.
 * `custom_fields_by_lua` is not supported.
 */
import { unsupportedCustomFields } from '../shared/log-plugin.ts'
import { serializeJson } from '../shared/serialize.ts'
import type { PluginHandler } from '../types.ts'
import { sinkFor, type FileSink } from './file-writer.ts'

export interface FileLogConfig {
  path: string
  reopen?: boolean
  custom_fields_by_lua?: Record<string, string> | null
}

interface Prepared {
  readonly sink: FileSink
  readonly reopen: boolean
}

export const handler: PluginHandler<FileLogConfig, Prepared> = {
  name: 'file-log',
  priority: 9,
  prepare (conf, env) {
    unsupportedCustomFields('file-log', conf, env)
    return { sink: sinkFor(conf.path), reopen: conf.reopen === true }
  },
  log (ctx, c) {
    c.sink.write(serializeJson(ctx) + '\n', c.reopen)
  },
}
