/**
 * `sluice start`: in the foreground (`--foreground`, systemd's mode) the process is the primary;
 * otherwise it starts itself again detached, waits for the child to report ready over IPC, prints
 * where it runs and exits 0 (or prints the error and exits 1).
 *
 * Signals of a running node (nginx's, as Kong's CLI sends them):
 *   TERM, INT  drain (in-flight requests finish, up to drain_timeout) and stop; a second one
 *              while stopping cuts what is left (`sluice quit -t` escalates with it)
 *   QUIT       the same graceful stop (`sluice quit`); /status/ready says "draining" first
 *   HUP        reload: re-read the configuration file, start a new worker generation, drain the
 *              old one (primary/reload.ts); a configuration that does not load is refused and the
 *              node keeps running. The outcome goes to <prefix>/reload.json for `sluice reload`.
 *   USR1       reopen the error and access logs (logrotate)
 */
import { spawn } from 'node:child_process'
import { mkdirSync, openSync, writeFileSync, rmSync, readFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Config } from '../config/load.ts'
import { ConfigError } from '../config/load.ts'
import { configureLog, describeTarget, errorLogPath, log, openErrorLog, reopenLogs, resolveLogTarget } from '../common/log.ts'
import { startPrimary, type PrimaryHandle } from '../primary/main.ts'
import { flag, type Parsed } from './args.ts'
import { applyForegroundLogDefaults, confFileFrom, configFrom, logSettingErrors, reloadConfFile, pidFile, reloadStateFile, runningConfFile, runningPid, writeRunningConf, type ReloadState } from './common.ts'

export async function start (p: Parsed): Promise<number> {
  const config = configFrom(p)
  const errors = logSettingErrors(config)
  if (errors.length > 0) throw new ConfigError(errors)
  const daemonChild = process.env.SLUICE_DAEMON_CHILD !== undefined
  if (!daemonChild) {
    // Kong's template flags: accepted so that Kong's scripts run, said out loud since nothing applies them.
    for (const f of ['nginx-conf', 'nginx-conf-flags']) {
      if (flag(p, f) !== undefined) process.stderr.write(`Warning: --${f} is ignored: Sluice has no nginx configuration template\n`)
    }
    // --run-migrations, --lock-timeout: Sluice always bootstraps and migrates at start (under an advisory lock).
  }
  const pid = runningPid(config)
  if (pid !== null && pid !== process.pid) {
    process.stderr.write(`Error: Sluice is already running at ${config.prefix} (pid ${pid})\n`)
    return 1
  }
  mkdirSync(config.prefix, { recursive: true })
  if (flag(p, 'foreground', 'f') === undefined && config.daemon && !daemonChild) return daemonise(p, config)
  return foreground(p, config, daemonChild)
}

/** `sluice restart` (Kong's): stop the node at the prefix if one runs (draining), then start. */
export async function restart (p: Parsed): Promise<number> {
  const config = configFrom(p)
  const errors = logSettingErrors(config)
  if (errors.length > 0) throw new ConfigError(errors)
  if (runningPid(config) !== null) {
    const { stop } = await import('./stop.ts')
    const code = await stop(p)
    if (code !== 0) return code
  }
  return start(p)
}

/**
 * `sluice prepare` (Kong's): checks the configuration and makes the prefix (logs, .kong_env) without
 * starting. Sluice has no nginx.conf to render; `sluice start --foreground` is what runs the node.
 */
export function prepare (p: Parsed): number {
  const config = configFrom(p)
  const errors = logSettingErrors(config)
  if (errors.length > 0) throw new ConfigError(errors)
  mkdirSync(join(config.prefix, 'logs'), { recursive: true })
  writeRunningConf(config)
  process.stdout.write(`Sluice prefix prepared at ${config.prefix}\n`)
  return 0
}

function errorLogFile (config: Config): string {
  const t = resolveLogTarget(config.raw.proxy_error_log, config.prefix)
  return t.kind === 'file' ? t.path : join(config.prefix, 'logs', 'error.log')
}

function setUpLogs (config: Config): void {
  configureLog(config.logLevel)
  const target = resolveLogTarget(config.raw.proxy_error_log, config.prefix)
  if (target.kind === 'file' && errorLogPath() === target.path) return
  openErrorLog(target)
}

async function foreground (p: Parsed, config: Config, daemonChild: boolean): Promise<number> {
  applyForegroundLogDefaults(config, daemonChild)
  setUpLogs(config)

  // Handlers go in before anything slow: HUP's default action would kill the process, and USR1's
  // would open Node's inspector.
  let handle: PrimaryHandle | null = null
  // The file SIGHUP re-reads: the one started with, or the one a later `sluice reload -c` named.
  let confFile = confFileFrom(p)
  let stopping: Promise<void> | null = null
  let pendingReload = false
  let pendingStop: NodeJS.Signals | null = null
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => { resolveDone = resolve })

  const stop = (sig: NodeJS.Signals): void => {
    const h = handle
    if (h === null) {
      // Stopping in the middle of start-up could leave the embedded PostgreSQL behind: finish starting first.
      log.notice(`${sig} received during start-up: stopping once started`)
      pendingStop = sig
      return
    }
    if (stopping !== null) {
      if (sig === 'SIGQUIT') return
      log.warn(`${sig} received while stopping: cutting the requests still in flight`)
      for (const w of h.supervisor.workers.values()) void w.thread.terminate()
      return
    }
    h.ops.drain()
    log.notice(`${sig} received: draining (up to ${config.drainTimeoutMs} ms) and stopping`)
    stopping = h.stop().then(resolveDone, (err) => { log.error(`stop: ${(err as Error).message}`); resolveDone() })
  }
  let reloading = Promise.resolve()
  const reload = (): void => {
    if (handle === null) { pendingReload = true; return }
    reloading = reloading.then(() => applyReload(p, config, handle!, confFile, (f) => { confFile = f })).catch((err) => { log.error(`reload: ${(err as Error).stack ?? String(err)}`) })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGQUIT', () => stop('SIGQUIT'))
  process.on('SIGHUP', reload)
  process.on('SIGUSR1', () => { reopenLogs(); log.notice('SIGUSR1 received: logs reopened') })

  try {
    handle = await startPrimary(config)
  } catch (err) {
    log.crit(`could not start: ${(err as Error).message}`)
    process.send?.({ type: 'failed', message: (err as Error).message })
    return 1
  }
  // .kong_env first: a command that sees the pid file finds the running configuration with it.
  try { writeRunningConf(config) } catch (err) { log.warn(`could not write ${runningConfFile(config)}: ${(err as Error).message}`) }
  writeFileSync(pidFile(config), `${process.pid}\n`)
  process.send?.({ type: 'ready', pid: process.pid, adminPorts: handle.adminPorts, statusPorts: handle.ops.ports })
  if (process.send !== undefined) process.disconnect?.()
  if (pendingStop !== null) stop(pendingStop)
  else if (pendingReload) reload()
  await done
  await reloading
  try { if (readFileSync(pidFile(config), 'utf8').trim() === String(process.pid)) rmSync(pidFile(config)) } catch {}
  log.notice('stopped')
  return 0
}

/** SIGHUP: load the file again, check it, apply what changed. */
async function applyReload (p: Parsed, started: Config, handle: PrimaryHandle, confFile: string | null, switchTo: (file: string) => void): Promise<void> {
  const t0 = Date.now()
  let next: Config
  let file = confFile
  try {
    const asked = readFileSync(reloadConfFile(started), 'utf8').trim()
    rmSync(reloadConfFile(started), { force: true })
    if (asked !== '') file = asked
  } catch { /* no reload -c */ }
  try {
    next = configFrom(p, file)
    const errors = logSettingErrors(next)
    if (errors.length > 0) throw new ConfigError(errors)
  } catch (err) {
    const message = `reload refused, the node keeps its configuration: ${err instanceof ConfigError ? err.errors.join('; ') : (err as Error).message}`
    log.error(message)
    handle.ops.noteReload(false, message)
    writeReloadState(started, { pid: process.pid, at: t0, ok: false, generation: 0, message })
    return
  }
  applyForegroundLogDefaults(next, process.env.SLUICE_DAEMON_CHILD !== undefined)
  // Keys only a restart applies keep their running value (reload.ts); the prefix is one of them.
  next.raw.prefix = started.raw.prefix
  next.prefix = started.prefix
  setUpLogs(next)
  const o = await handle.reload(next)
  if (o.ok && file !== null && file !== confFile) { switchTo(file); log.notice(`reload: configuration file is now ${file}`) }
  if (o.ok) { try { writeRunningConf(next) } catch (err) { log.warn(`could not write ${runningConfFile(next)}: ${(err as Error).message}`) } }
  writeReloadState(started, { pid: process.pid, at: t0, ok: o.ok, generation: o.generation, message: o.message })
}

function writeReloadState (config: Config, s: ReloadState): void {
  const file = reloadStateFile(config)
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(s) + '\n')
    renameSync(`${file}.tmp`, file)
  } catch (err) {
    log.warn(`could not write ${file}: ${(err as Error).message}`)
  }
}

function daemonise (p: Parsed, config: Config): Promise<number> {
  const errLog = errorLogFile(config)
  mkdirSync(join(errLog, '..'), { recursive: true })
  // stdio goes to the error log too: what Node itself prints on a fatal error lands there.
  const fd = openSync(errLog, 'a')
  const bin = fileURLToPath(new URL('../../bin/sluice.mjs', import.meta.url))
  // The child runs `start` with the same options (also when this is `restart`).
  const args = [...p.argv]
  const at = args.indexOf(p.positionals[0] ?? 'start')
  if (at >= 0) args[at] = 'start'
  const child = spawn(process.execPath, [...process.execArgv, bin, ...args], {
    detached: true,
    stdio: ['ignore', fd, fd, 'ipc'],
    env: { ...process.env, SLUICE_DAEMON_CHILD: '1' },
  })
  return new Promise((resolve) => {
    child.on('message', (m: { type: string; pid?: number; message?: string }) => {
      if (m.type === 'ready') {
        const access = resolveLogTarget(config.raw.proxy_access_log.trim().split(/\s+/)[0] ?? 'off', config.prefix)
        process.stdout.write(`Sluice started (pid ${m.pid}) at ${config.prefix}; error log: ${errLog}; access log: ${describeTarget(access)}\n`)
        child.unref()
        child.disconnect()
        resolve(0)
      } else if (m.type === 'failed') {
        process.stderr.write(`Error: ${m.message}\n(see ${errLog})\n`)
        resolve(1)
      }
    })
    child.on('exit', (code) => {
      process.stderr.write(`Error: Sluice exited during start-up (code ${code}); see ${errLog}\n`)
      resolve(1)
    })
  })
}
