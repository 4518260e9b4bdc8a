/**
 * `sluice check [CONF]` (Kong's `kong check`): loads the file with the environment as `start`
 * would, checks every key (including the log destinations), prints
 * `configuration at <conf> is valid` or the errors, and starts nothing.
 */
import { existsSync } from 'node:fs'
import { ConfigError, loadConfig } from '../config/load.ts'
import { flag, type Parsed } from './args.ts'
import { logSettingErrors } from './common.ts'

export function check (p: Parsed): number {
  const c = flag(p, 'c', 'conf')
  const file = p.positionals[1] ?? (typeof c === 'string' ? c : (process.env.SLUICE_CONF ?? '/etc/sluice/sluice.conf'))
  if (!existsSync(file)) {
    process.stderr.write(`Error: configuration file ${file} does not exist\n`)
    return 1
  }
  const prefix = flag(p, 'p', 'prefix')
  const config = loadConfig({ file, overrides: typeof prefix === 'string' ? { prefix } : {} })
  const errors = logSettingErrors(config)
  if (errors.length > 0) throw new ConfigError(errors)
  process.stdout.write(`configuration at ${file} is valid\n`)
  return 0
}
