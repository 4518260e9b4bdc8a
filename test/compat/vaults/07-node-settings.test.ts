/**
 * The node's vault settings (Kong's `vault_<name>_<field>`, here `vault_env_prefix`) come through
 * the configuration loader like every setting: kong.conf, then KONG_VAULT_ENV_PREFIX, then
 * SLUICE_VAULT_ENV_PREFIX (kong/pdk/vault.lua get_vault_name_and_config_by_name reads them from
 * kong.configuration; kong.conf.default documents `vault_env_prefix`). A reference by vault name,
 * `{vault://env/...}`, then reads the prefixed variable: checked on the resolver, and through real
 * gateways (primary + two worker threads), with PostgreSQL (snapshot builder) and DB-less
 * (declarative loader thread), where an http-log header holds the reference.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { configureLog } from '../../../src/common/log.ts'
import { loadConfig, type Config } from '../../../src/config/load.ts'
import { startPrimary, type PrimaryHandle } from '../../../src/primary/main.ts'
import { nodeVaultConfigs } from '../../../src/vault/installed.ts'
import { VaultResolver } from '../../../src/vault/resolve.ts'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { freePort } from '../../helpers/ports.ts'

configureLog(process.env.SLUICE_TEST_LOG ?? 'error')

const SECRETS: Record<string, string> = { VNS_FILE_TOKEN: 'from-file-prefix', VNS_ENV_TOKEN: 'from-env-prefix', VNS_SLUICE_TOKEN: 'from-sluice-prefix', VNS_TOKEN: 'no-prefix' }
const dirs: string[] = []

/** A kong.conf in a fresh directory; returns its path. */
function confFile (text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-vault-conf-'))
  dirs.push(dir)
  const file = join(dir, 'kong.conf')
  writeFileSync(file, text)
  return file
}

/** Upstream and http-log collector in one: `/log` posts are handed to whoever awaits `nextLog`. */
interface Backend { port: number; nextLog (): Promise<IncomingMessage>; close (): Promise<void> }

async function startBackend (): Promise<Backend> {
  const waiting: Array<(req: IncomingMessage) => void> = []
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.end('ok')
      if (req.url === '/log') waiting.shift()?.(req)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as { port: number }).port,
    nextLog: () => new Promise((resolve) => { waiting.push(resolve) }),
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) },
  }
}

let backend: Backend

before(async () => {
  Object.assign(process.env, SECRETS)
  backend = await startBackend()
})

after(async () => {
  await backend?.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  for (const k of Object.keys(SECRETS)) delete process.env[k]
})

const byName = (config: Config, reference: string): unknown => new VaultResolver([], nodeVaultConfigs(config.raw)).get(reference)

test('vault_env_prefix in kong.conf: {vault://env/...} reads the prefixed variable; KONG_ and then SLUICE_ override the file', () => {
  const file = confFile('# node secrets\nvault_env_prefix = VNS_FILE_\n')
  const fromFile = loadConfig({ file, env: {} })
  assert.equal(fromFile.raw.vault_env_prefix, 'VNS_FILE_')
  assert.equal(fromFile.sources.vault_env_prefix, `${file}:2`)
  assert.ok(!(fromFile.warnings ?? []).some((w) => w.includes('vault_env_prefix')), 'a known key, not an ignored one')
  assert.deepEqual(byName(fromFile, '{vault://env/token}'), { ok: true, value: 'from-file-prefix' })
  // a reference's own ?prefix= still wins over the node's
  assert.deepEqual(byName(fromFile, '{vault://env/token?prefix=VNS_ENV_}'), { ok: true, value: 'from-env-prefix' })

  const kong = loadConfig({ file, env: { KONG_VAULT_ENV_PREFIX: 'VNS_ENV_' } })
  assert.equal(kong.sources.vault_env_prefix, 'KONG_VAULT_ENV_PREFIX')
  assert.deepEqual(byName(kong, '{vault://env/token}'), { ok: true, value: 'from-env-prefix' })

  const sluice = loadConfig({ file, env: { KONG_VAULT_ENV_PREFIX: 'VNS_ENV_', SLUICE_VAULT_ENV_PREFIX: 'VNS_SLUICE_' } })
  assert.deepEqual(byName(sluice, '{vault://env/token}'), { ok: true, value: 'from-sluice-prefix' })

  // unset (the default) or empty: no prefix
  assert.deepEqual(byName(loadConfig({ env: {} }), '{vault://env/vns-token}'), { ok: true, value: 'no-prefix' })
  assert.deepEqual(byName(loadConfig({ file: confFile('vault_env_prefix =\n'), env: {} }), '{vault://env/vns-token}'), { ok: true, value: 'no-prefix' })
  // a prefix the env vault's schema refuses is left out, as Kong leaves out invalid settings
  assert.deepEqual(byName(loadConfig({ file, env: { KONG_VAULT_ENV_PREFIX: 'NOT A PREFIX' } }), '{vault://env/vns-token}'), { ok: true, value: 'no-prefix' })
})

/** One request through the proxy, then the http-log entry it causes: the x-token header it carries. */
async function loggedToken (proxyPort: number): Promise<string | undefined> {
  const log = backend.nextLog()
  const r = await request(`http://127.0.0.1:${proxyPort}/logged`)
  assert.equal(r.statusCode, 200)
  await r.body.dump()
  return (await log).headers['x-token'] as string | undefined
}

const HTTP_LOG = (port: number): Record<string, unknown> => ({
  http_endpoint: `http://127.0.0.1:${port}/log`,
  headers: { 'x-token': '{vault://env/token}' },
  queue: { max_coalescing_delay: 0.1 },
})

let proxyPort = 0
let adminPort = 0

async function admin (path: string, body: unknown): Promise<void> {
  const r = await request(`http://127.0.0.1:${adminPort}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  assert.equal(r.statusCode, 201, await r.body.text())
}

/** A node on `db` whose kong.conf sets vault_env_prefix (and no KONG_ / SLUICE_ environment). */
async function pgNode (db: TestDb): Promise<PrimaryHandle> {
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-vault-node-pg-'))
  dirs.push(prefix)
  proxyPort = await freePort()
  adminPort = await freePort()
  const file = confFile([
    'vault_env_prefix = VNS_FILE_',
    `prefix = ${prefix}`,
    `pg_host = ${db.settings.host}`, `pg_port = ${db.settings.port}`, `pg_user = ${db.settings.user}`,
    `pg_password = ${db.settings.password}`, `pg_database = ${db.settings.database}`,
    `proxy_listen = 127.0.0.1:${proxyPort}`, `admin_listen = 127.0.0.1:${adminPort}`, 'status_listen = off',
    'nginx_worker_processes = 2', 'drain_timeout = 1000', '',
  ].join('\n'))
  return await startPrimary(loadConfig({ file, env: {} }))
}

test('a gateway on PostgreSQL with vault_env_prefix in kong.conf dereferences plugin fields with it', async () => {
  const db: TestDb = await createTestDb()
  let primary: PrimaryHandle | null = null
  try {
    primary = await pgNode(db)
    await admin('/services', { name: 'logged', url: `http://127.0.0.1:${backend.port}` })
    await admin('/services/logged/routes', { name: 'logged', paths: ['/logged'] })
    await admin('/routes/logged/plugins', { name: 'http-log', config: HTTP_LOG(backend.port) })
    await primary.sync()
    assert.equal(await loggedToken(proxyPort), 'from-file-prefix')
  } finally {
    await primary?.stop()
    await db.drop()
  }
})

test('a DB-less gateway: KONG_VAULT_ENV_PREFIX overrides the kong.conf value for the declarative configuration', async () => {
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-vault-node-dbless-'))
  dirs.push(prefix)
  const yml = join(prefix, 'kong.yml')
  writeFileSync(yml, `_format_version: "3.0"
services:
- name: logged
  url: http://127.0.0.1:${backend.port}
  routes:
  - name: logged
    paths: [/logged]
    plugins:
    - name: http-log
      config: ${JSON.stringify(HTTP_LOG(backend.port))}
`)
  const port = await freePort()
  const file = confFile([
    'vault_env_prefix = VNS_FILE_',
    `prefix = ${prefix}`, 'database = off', `declarative_config = ${yml}`,
    `proxy_listen = 127.0.0.1:${port}`, `admin_listen = 127.0.0.1:${await freePort()}`, 'status_listen = off',
    'nginx_worker_processes = 2', 'drain_timeout = 1000', '',
  ].join('\n'))
  const primary = await startPrimary(loadConfig({ file, env: { KONG_VAULT_ENV_PREFIX: 'VNS_ENV_' } }))
  try {
    // start-up waited for every worker to serve the declarative configuration
    assert.equal(await loggedToken(port), 'from-env-prefix')
  } finally {
    await primary.stop()
  }
})
