/**
 * A real gateway for integration tests: a primary in this process (pool, cache, Admin API) with
 * real worker threads (uWS on a free loopback port), against a real PostgreSQL database.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { loadConfig, type Config } from '../../src/config/load.ts'
import type { PgSettings } from '../../src/config/load.ts'
import { startPrimary, type PrimaryHandle } from '../../src/primary/main.ts'
import { configureLog } from '../../src/common/log.ts'
import { freePort } from './ports.ts'

export interface Gateway {
  config: Config
  primary: PrimaryHandle
  proxyPort: number
  adminPort: number
  proxy: string
  admin: string
  stop (): Promise<void>
}

export async function startGateway (pg: PgSettings, overrides: Record<string, string> = {}): Promise<Gateway> {
  configureLog(process.env.SLUICE_TEST_LOG ?? 'error')
  const proxyPort = await freePort()
  const adminPort = await freePort()
  const ownPrefix = overrides.prefix === undefined
  const prefix = overrides.prefix ?? mkdtempSync(join(tmpdir(), 'sluice-gw-'))
  const config = loadConfig({
    env: {},
    overrides: {
      prefix,
      pg_host: pg.host,
      pg_port: String(pg.port),
      pg_user: pg.user,
      pg_password: pg.password,
      pg_database: pg.database,
      proxy_listen: `127.0.0.1:${proxyPort}`,
      admin_listen: `127.0.0.1:${adminPort}`,
      status_listen: 'off',
      nginx_worker_processes: '2',
      db_update_frequency: '1',
      drain_timeout: '2000',
      ...overrides,
    },
  })
  const primary = await startPrimary(config)
  return {
    config,
    primary,
    proxyPort,
    adminPort,
    proxy: `http://127.0.0.1:${proxyPort}`,
    admin: `http://127.0.0.1:${adminPort}`,
    async stop () {
      await primary.stop()
      if (ownPrefix) rmSync(prefix, { recursive: true, force: true })
    },
  }
}
