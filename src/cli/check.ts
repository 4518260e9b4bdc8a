/**
 * `sluice check [CONF]` (Kong's `kong check <conf>`): loads the file with the environment as `start`
 * would, checks every key (including the log destinations), prints
 * `configuration at <conf> is valid` or every error (exit 1), and starts nothing. Keys that Sluice
 * ignores (Kong-only settings, nginx directive injections, typos) are listed as warnings on stderr.
 */
import { existsSync } from 'node:fs'
import { ConfigError, DEFAULT_CONF_PATHS, loadConfig } from '../config/load.ts'
import { flag, type Parsed } from './args.ts'
import { logSettingErrors, verbose } from './common.ts'

export function check (p: Parsed): number {
  const c = flag(p, 'c', 'conf')
  const file = p.positionals[1] ?? (typeof c === 'string' ? c : (process.env.SLUICE_CONF || DEFAULT_CONF_PATHS.find((f) => existsSync(f)) || DEFAULT_CONF_PATHS[0]))
  if (!existsSync(file)) {
    process.stderr.write(`Error: no file at: ${file}\n`)
    return 1
  }
  verbose(`reading config file at ${file}`)
  const overrides: Record<string, string> = {}
  const prefix = flag(p, 'p', 'prefix')
  if (typeof prefix === 'string') overrides.prefix = prefix
  const config = loadConfig({ file, overrides })
  for (const w of config.warnings ?? []) process.stderr.write(`Warning: ${w}\n`)
  const errors = logSettingErrors(config)
  if (errors.length > 0) throw new ConfigError(errors)
  process.stdout.write(`configuration at ${file} is valid\n`)
  return 0
}
