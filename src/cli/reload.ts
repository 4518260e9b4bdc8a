/**
 * `sluice reload`: checks the configuration first (a bad one is reported here and never sent),
 * then SIGHUP, then waits for the node's outcome in <prefix>/reload.json: exit 0 when the new
 * worker generation serves, 1 when the node refused the reload (it keeps running either way).
 * `--no-wait` only signals, as `kong reload` does. With `-c FILE` the node reloads from FILE (and
 * keeps reading it on later reloads), as Kong applies the file given to `kong reload -c`.
 */
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ConfigError } from '../config/load.ts'
import { flag, seconds, type Parsed } from './args.ts'
import { configFrom, logSettingErrors, readReloadState, reloadConfFile, runningPid } from './common.ts'

export async function reload (p: Parsed): Promise<number> {
  const config = configFrom(p)
  const timeoutMs = seconds(p, ['t', 'timeout'], 90) * 1000
  const errors = logSettingErrors(config)
  if (errors.length > 0) throw new ConfigError(errors)
  const pid = runningPid(config)
  if (pid === null) {
    process.stderr.write(`Error: Sluice is not running at ${config.prefix}\n`)
    return 1
  }
  // `-c FILE` (Kong's `kong reload -c`): the node switches to that file; its later reloads read it.
  const c = flag(p, 'c', 'conf')
  if (typeof c === 'string') writeFileSync(reloadConfFile(config), resolve(c) + '\n')
  const asked = Date.now()
  process.kill(pid, 'SIGHUP')
  if (flag(p, 'no-wait') !== undefined) { process.stdout.write('Reload signalled\n'); return 0 }
  const deadline = asked + timeoutMs
  while (Date.now() < deadline) {
    const s = readReloadState(config)
    if (s !== null && s.pid === pid && s.at >= asked) {
      if (s.ok) { process.stdout.write(`Sluice reloaded: ${s.message}\n`); return 0 }
      process.stderr.write(`Error: ${s.message}\n`)
      return 1
    }
    try { process.kill(pid, 0) } catch { process.stderr.write('Error: Sluice exited during the reload\n'); return 1 }
    await sleep(100)
  }
  process.stderr.write('Error: no reload outcome within the timeout (see the error log)\n')
  return 1
}
