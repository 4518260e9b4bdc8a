/** What every command shares: loading the configuration from -c/-p and the environment, the pid file. */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig, type Config } from '../config/load.ts'
import { parseAccessLog } from '../common/log.ts'
import { flag, type Parsed } from './args.ts'

/** `-c FILE` or `--conf FILE`; else SLUICE_CONF; else /etc/sluice/sluice.conf if it exists. */
export function configFrom (p: Parsed): Config {
  const c = flag(p, 'c', 'conf')
  let file: string | null = typeof c === 'string' ? c : (process.env.SLUICE_CONF ?? null)
  if (file === null && existsSync('/etc/sluice/sluice.conf')) file = '/etc/sluice/sluice.conf'
  const prefix = flag(p, 'p', 'prefix')
  return loadConfig({ file, overrides: typeof prefix === 'string' ? { prefix } : {} })
}

export function pidFile (config: Config): string { return join(config.prefix, 'sluice.pid') }

/** The pid of a running Sluice at this prefix, or null. */
export function runningPid (config: Config): number | null {
  let pid: number
  try { pid = Number(readFileSync(pidFile(config), 'utf8').trim()) } catch { return null }
  if (!Number.isInteger(pid) || pid <= 0) return null
  try { process.kill(pid, 0); return pid } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null }
}

function listenerUrl (listeners: Config['adminListen']): string | null {
  const l = listeners.find((x) => !x.ssl)
  if (l === undefined) return null
  const host = l.host === '0.0.0.0' ? '127.0.0.1' : l.host === '::' ? '::1' : l.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${l.port}`
}

export function adminUrl (config: Config): string | null { return listenerUrl(config.adminListen) }

/** The Status API (status_listen), or null when it is off. */
export function statusUrl (config: Config): string | null { return listenerUrl(config.statusListen) }

/** Where `sluice reload` reads the outcome of the last reload the node applied. */
export function reloadStateFile (config: Config): string { return join(config.prefix, 'reload.json') }

export interface ReloadState { pid: number; at: number; ok: boolean; generation: number; message: string }

export function readReloadState (config: Config): ReloadState | null {
  try { return JSON.parse(readFileSync(reloadStateFile(config), 'utf8')) as ReloadState } catch { return null }
}

/**
 * Checks what loadConfig does not (the log destinations); [] when fine. Used by start, reload
 * and check, so a bad value is refused before anything starts or changes.
 */
export function logSettingErrors (config: Config): string[] {
  const errors: string[] = []
  for (const k of ['proxy_access_log', 'status_access_log'] as const) {
    try { parseAccessLog(k, config.raw[k], config.prefix) } catch (err) { errors.push((err as Error).message) }
  }
  const e = config.raw.proxy_error_log.trim()
  if (e === '' || e === 'off') errors.push("proxy_error_log: expected a path or /dev/stderr ('off' is not supported: use /dev/null)")
  else if (/\s/.test(e)) errors.push(`proxy_error_log: expected a path or /dev/stderr; got '${e}'`)
  return errors
}

/** Foreground (systemd, a terminal): logs not set explicitly go to stdout/stderr, as issue 8 and Kong's docker images do. */
export function applyForegroundLogDefaults (config: Config, daemonChild: boolean): void {
  if (daemonChild) return
  if (config.sources.proxy_access_log === undefined) config.raw.proxy_access_log = '/dev/stdout'
  if (config.sources.proxy_error_log === undefined) config.raw.proxy_error_log = '/dev/stderr'
}
