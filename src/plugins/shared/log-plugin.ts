/**
 * Pieces shared by the four log plugins (file-log, http-log, tcp-log, udp-log).
 *
 * - `unsupportedCustomFields`: `custom_fields_by_lua` holds Lua; Sluice cannot run it, so the
 *   field is ignored with one warning per plugin instance and snapshot.
 * - `instanceTag`: Kong's queue log tag, `<plugin> plugin <id> (<instance_name>)`.
 */
import { log } from '../../common/log.ts'
import type { PrepareEnv } from '../types.ts'

export function unsupportedCustomFields (plugin: string, conf: { custom_fields_by_lua?: unknown }, env: PrepareEnv): void {
  const f = conf.custom_fields_by_lua
  if (f !== null && f !== undefined && typeof f === 'object' && Object.keys(f).length > 0) {
    log.warn(`[${plugin}] plugin ${env.plugin.id}: custom_fields_by_lua is not supported (no Lua runtime); the fields are not logged`)
  }
}

export function instanceTag (plugin: string, env: PrepareEnv): string {
  const name = env.plugin.instance_name
  return `${plugin} plugin ${env.plugin.id}${typeof name === 'string' && name !== '' ? ` (${name})` : ''}`
}
