/** What every command shares: loading the configuration from -c/-p and the environment, the pid file. */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_CONF_PATHS, loadConfig, type Config } from '../config/load.ts'
import { CONFIG_KEYS } from '../config/defaults.ts'
import { parseAccessLog } from '../common/log.ts'
import { flag, seconds, type Parsed } from './args.ts'

/** --v / --vv (bin/kong's universal options): 0 quiet, 1 verbose, 2 debug. */
let verbosity = 0
export function setVerbosity (n: number): void { verbosity = n }
export function getVerbosity (): number { return verbosity }

/** Kong's CLI log line for --v/--vv: `2025/01/02 03:04:05 [verbose] message`, on stdout. */
export function verbose (message: string, level: 1 | 2 = 1): void {
  if (verbosity < level) return
  const d = new Date()
  const p2 = (n: number): string => String(n).padStart(2, '0')
  const stamp = `${d.getFullYear()}/${p2(d.getMonth() + 1)}/${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`
  process.stdout.write(`${stamp} [${level === 1 ? 'verbose' : 'debug'}] ${message}\n`)
}

/** The file a command reads: -c/--conf; else SLUICE_CONF; else the first of DEFAULT_CONF_PATHS that exists. */
export function confFileFrom (p: Parsed): string | null {
  const c = flag(p, 'c', 'conf')
  if (typeof c === 'string') return c
  if (process.env.SLUICE_CONF !== undefined && process.env.SLUICE_CONF !== '') return process.env.SLUICE_CONF
  for (const f of DEFAULT_CONF_PATHS) {
    if (existsSync(f)) return f
    verbose(`no config file found at ${f}`)
  }
  return null
}

/** -c/-p, --db-timeout and the environment over the defaults. */
export function configFrom (p: Parsed, file: string | null = confFileFrom(p)): Config {
  const overrides: Record<string, string> = {}
  const prefix = flag(p, 'p', 'prefix')
  if (typeof prefix === 'string') overrides.prefix = prefix
  if (flag(p, 'db-timeout') !== undefined) overrides.pg_timeout = String(Math.round(seconds(p, ['db-timeout'], 0) * 1000))
  verbose(file === null ? 'no config file, using the defaults and the environment' : `reading config file at ${file}`)
  const config = loadConfig({ file, overrides })
  for (const [k, src] of Object.entries(config.sources)) {
    if (src === undefined) continue
    const secret = (CONFIG_KEYS as Record<string, { secret?: boolean }>)[k]?.secret === true
    verbose(`${k} = ${secret ? '******' : JSON.stringify(config.raw[k as keyof Config['raw']])} (from ${src})`, 2)
  }
  verbose(`prefix: ${config.prefix}`)
  return config
}

/**
 * The configuration of the node running at the prefix, as Kong reads <prefix>/.kong_env for stop,
 * quit, health and drain: `-c` when given; else the file `start` wrote at the prefix (the
 * environment and -p still apply); else what `configFrom` finds.
 */
export function nodeConfigFrom (p: Parsed): Config {
  const base = configFrom(p)
  if (typeof flag(p, 'c', 'conf') === 'string') return base
  const env = runningConfFile(base)
  if (!existsSync(env)) return base
  verbose(`reading the running node's configuration at ${env}`)
  return configFrom(p, env)
}

/** Kong's name: <prefix>/.kong_env holds the resolved configuration of the node started there. */
export function runningConfFile (config: Config): string { return join(config.prefix, '.kong_env') }

/** Writes <prefix>/.kong_env (mode 0600: it holds pg_password) after a start or a reload. */
export function writeRunningConf (config: Config): void {
  const lines = Object.entries(config.raw).map(([k, v]) => `${k} = ${String(k === 'prefix' ? config.prefix : v).replace(/#/g, '\\#').replace(/[\r\n]+/g, ' ')}`)
  const file = runningConfFile(config)
  writeFileSync(`${file}.tmp`, lines.join('\n') + '\n', { mode: 0o600 })
  renameSync(`${file}.tmp`, file)
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

/** `sluice reload -c FILE` leaves FILE's absolute path here for the node's next SIGHUP. */
export function reloadConfFile (config: Config): string { return join(config.prefix, 'reload-conf') }

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
