/**
 * A real DB-less gateway for integration tests: `database = off`, a primary in this process
 * (piscina pool, Admin API) with real worker threads on a free loopback port. No PostgreSQL.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { loadConfig, type Config } from '../../src/config/load.ts'
import { startPrimary, type PrimaryHandle } from '../../src/primary/main.ts'
import { configureLog } from '../../src/common/log.ts'
import { freePort } from './ports.ts'

export interface DblessGateway {
  config: Config
  primary: PrimaryHandle
  prefix: string
  proxy: string
  admin: string
  stop (): Promise<void>
}

/**
 * `declarative` is the text of a declarative config file written into the prefix (as
 * `kong.yml`, or `name` when given) and served; none: the empty configuration.
 */
export async function startDblessGateway (opts: { declarative?: string; name?: string; overrides?: Record<string, string> } = {}): Promise<DblessGateway> {
  configureLog(process.env.SLUICE_TEST_LOG ?? 'error')
  const proxyPort = await freePort()
  const adminPort = await freePort()
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-dbless-'))
  const overrides: Record<string, string> = {
    prefix,
    database: 'off',
    proxy_listen: `127.0.0.1:${proxyPort}`,
    admin_listen: `127.0.0.1:${adminPort}`,
    status_listen: 'off',
    nginx_worker_processes: '2',
    drain_timeout: '2000',
    ...opts.overrides,
  }
  if (opts.declarative !== undefined) {
    const file = join(prefix, opts.name ?? 'kong.yml')
    writeFileSync(file, opts.declarative)
    overrides.declarative_config = file
  }
  const config = loadConfig({ env: {}, overrides })
  let primary: PrimaryHandle
  try {
    primary = await startPrimary(config)
  } catch (err) {
    rmSync(prefix, { recursive: true, force: true })
    throw err
  }
  return {
    config,
    primary,
    prefix,
    proxy: `http://127.0.0.1:${proxyPort}`,
    admin: `http://127.0.0.1:${adminPort}`,
    async stop () {
      await primary.stop()
      rmSync(prefix, { recursive: true, force: true })
    },
  }
}
