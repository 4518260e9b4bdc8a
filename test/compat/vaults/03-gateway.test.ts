/**
 * References through the whole gateway (primary, real PostgreSQL, two workers), after Kong's
 * spec/02-integration/13-vaults/01-vault_spec.lua: certificates whose cert and key are
 * `{vault://env/...}` references are stored and shown as given and served by SNI with the
 * environment's PEM; a plugin's referenceable fields (http-log's endpoint and header values)
 * reach the proxy dereferenced, through a `vaults` entity's prefix too, and a change of that
 * vault re-dereferences them without touching the plugin. Non-referenceable fields keep their
 * own checks, and an unresolvable reference is "" (Kong's `resolve_reference`), the rest of the
 * configuration still served.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { freePort } from '../../helpers/ports.ts'
import { startEcho, type Upstream } from '../../helpers/upstream.ts'
import { makeCert, tlsRequest } from '../../helpers/tls.ts'
import { until } from '../../helpers/admin-api.ts'

let db: TestDb
let gw: Gateway
let echo: Upstream
let collector: Upstream
let prefix: string
let tlsPort: number
let httpPort: number
const ENV: Record<string, string> = {}

before(async () => {
  echo = await startEcho()
  collector = await startEcho()
  const c = makeCert('vault.test')
  Object.assign(ENV, {
    SLUICE_VT_CERT: c.cert,
    SLUICE_VT_KEY: c.key,
    SLUICE_VT_COLLECTOR: `http://127.0.0.1:${collector.port}/log`,
    VT_A_TOKEN: 'alpha',
    VT_B_TOKEN: 'beta',
  })
  Object.assign(process.env, ENV)
  db = await createTestDb()
  prefix = mkdtempSync(join(tmpdir(), 'sluice-gw-vaults-'))
  httpPort = await freePort()
  tlsPort = await freePort()
  gw = await startGateway(db.settings, { prefix, proxy_listen: `127.0.0.1:${httpPort}, 127.0.0.1:${tlsPort} ssl` })
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await echo?.close()
  await collector?.close()
  if (prefix !== undefined) rmSync(prefix, { recursive: true, force: true })
  for (const k of Object.keys(ENV)) delete process.env[k]
})

async function admin (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await request(`${gw.admin}${path}`, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.body.text()
  return { status: r.statusCode, json: text === '' ? null : JSON.parse(text) }
}

async function proxy (path: string): Promise<number> {
  const r = await request(`http://127.0.0.1:${httpPort}${path}`)
  await r.body.dump()
  return r.statusCode
}

test('certificates with cert and key as references: stored as given, served with the secrets', async () => {
  const r = await admin('POST', '/certificates', {
    cert: '{vault://env/sluice-vt-cert}',
    key: '{vault://env/sluice-vt-key}',
    cert_alt: '{vault://unknown/cert}',
    key_alt: '{vault://unknown/missing-key}',
    snis: ['vault.test'],
  })
  assert.equal(r.status, 201, JSON.stringify(r.json))
  assert.equal(r.json.cert, '{vault://env/sluice-vt-cert}')
  assert.equal(r.json.key, '{vault://env/sluice-vt-key}')
  assert.equal(r.json.cert_alt, '{vault://unknown/cert}')
  assert.equal(r.json.key_alt, '{vault://unknown/missing-key}')
  assert.equal(r.json.$refs, undefined)
  const got = await admin('GET', `/certificates/${r.json.id}`)
  assert.equal(got.json.cert, '{vault://env/sluice-vt-cert}')
  assert.equal(got.json.key, '{vault://env/sluice-vt-key}')
  assert.equal(got.json.$refs, undefined)
  const served = await until('the certificate from the environment', async () => {
    const t = await tlsRequest(tlsPort, { servername: 'vault.test' })
    return t.cn === 'vault.test' ? t : undefined
  })
  assert.equal(served.status, 404) // no route: the TLS handshake is what counts
})

test('a reference in a field that is not referenceable meets that field\'s own checks', async () => {
  const cert = await admin('POST', '/certificates', { cert: '{vault://env/sluice-vt-cert}', key: '{vault://env/sluice-vt-key}', snis: ['{vault://env/sni}'] })
  assert.equal(cert.status, 400)
  const svc = await admin('POST', '/services', { name: 'bad', host: '{vault://env/host}' })
  assert.equal(svc.status, 400)
  assert.equal(svc.json.fields.host, 'invalid value: {vault://env/host}')
  const plugin = await admin('POST', '/plugins', { name: 'http-log', config: { http_endpoint: '{vault://env/sluice-vt-collector}', method: '{vault://env/method}' } })
  assert.equal(plugin.status, 400)
  assert.deepEqual(plugin.json.fields, { config: { method: 'expected one of: POST, PUT, PATCH' } })
})

test('plugin fields: dereferenced for the proxy, through a vault entity\'s prefix; a vault change applies at once', async () => {
  assert.equal((await admin('POST', '/vaults', { name: 'env', prefix: 'log-env', config: { prefix: 'VT_A_' } })).status, 201)
  const svc = await admin('POST', '/services', { name: 'logged', url: `http://127.0.0.1:${echo.port}` })
  assert.equal(svc.status, 201)
  const route = await admin('POST', '/services/logged/routes', { paths: ['/logged'] })
  assert.equal(route.status, 201)
  const p = await admin('POST', `/routes/${route.json.id}/plugins`, {
    name: 'http-log',
    config: {
      http_endpoint: '{vault://env/sluice-vt-collector}',
      headers: { 'x-token': '{vault://log-env/token}', 'x-plain': 'plain' },
      queue: { max_coalescing_delay: 0.1 },
    },
  })
  assert.equal(p.status, 201, JSON.stringify(p.json))
  assert.equal(p.json.config.http_endpoint, '{vault://env/sluice-vt-collector}')
  assert.deepEqual(p.json.config.headers, { 'x-token': '{vault://log-env/token}', 'x-plain': 'plain' })
  const shown = await admin('GET', `/plugins/${p.json.id}`)
  assert.deepEqual(shown.json.config.headers, { 'x-token': '{vault://log-env/token}', 'x-plain': 'plain' })
  assert.equal(shown.json.$refs, undefined)
  assert.equal(shown.json.config.$refs, undefined)

  const logged = async (token: string): Promise<void> => {
    await until(`a log entry sent with x-token ${token}`, async () => {
      if (await proxy('/logged') !== 200) return undefined
      return collector.received.some((r) => r.url === '/log' && r.headers['x-token'] === token) ? true : undefined
    })
  }
  await logged('alpha')
  const entry = collector.received.find((r) => r.headers['x-token'] === 'alpha')!
  assert.equal(entry.method, 'POST')
  assert.equal(entry.headers['x-plain'], 'plain')

  // the vault entity changes: the plugin, unchanged, is dereferenced again
  const patched = await admin('PATCH', '/vaults/log-env', { config: { prefix: 'VT_B_' } })
  assert.equal(patched.status, 200)
  await logged('beta')

  // a reference that cannot be resolved is "" (the proxy keeps serving)
  const broken = await admin('PATCH', `/plugins/${p.json.id}`, { config: { headers: { 'x-token': '{vault://no-such/token}', 'x-plain': 'after' } } })
  assert.equal(broken.status, 200)
  assert.equal(broken.json.config.headers['x-token'], '{vault://no-such/token}')
  await until('a log entry after the broken reference', async () => {
    if (await proxy('/logged') !== 200) return undefined
    const r = collector.received.find((x) => x.headers['x-plain'] === 'after')
    return r === undefined ? undefined : r
  }).then((r) => { assert.ok(r.headers['x-token'] === undefined || r.headers['x-token'] === '') })
})

test('an http-log endpoint whose reference does not resolve sends nothing; requests are served (Kong: the log phase fails alone)', async () => {
  assert.equal((await admin('POST', '/services', { name: 'unlogged', url: `http://127.0.0.1:${echo.port}` })).status, 201)
  const route = await admin('POST', '/services/unlogged/routes', { paths: ['/unlogged'] })
  const p = await admin('POST', `/routes/${route.json.id}/plugins`, { name: 'http-log', config: { http_endpoint: '{vault://env/sluice-vt-not-set}' } })
  assert.equal(p.status, 201, JSON.stringify(p.json))
  // served once the plugin is in place: a request-termination on the same route marks that moment
  const rt = await admin('POST', `/routes/${route.json.id}/plugins`, { name: 'request-termination', config: { status_code: 418 } })
  assert.equal(rt.status, 201)
  await until('the route with its plugins', async () => (await proxy('/unlogged')) === 418 ? true : undefined)
  assert.equal((await admin('DELETE', `/plugins/${rt.json.id}`)).status, 204)
  await until('the route without request-termination', async () => (await proxy('/unlogged')) === 200 ? true : undefined)
})

test('datadog: a referenceable host (Kong\'s 08-datadog "referenceable fields works")', async () => {
  const agent = createSocket('udp4')
  agent.bind(0, '127.0.0.1')
  await once(agent, 'listening')
  try {
    process.env.SLUICE_VT_DD_HOST = '127.0.0.1'
    ENV.SLUICE_VT_DD_HOST = '127.0.0.1'
    // dereferenced when the snapshot is built: the variable is in place before the plugin is written
    assert.equal((await admin('POST', '/services', { name: 'dd', url: `http://127.0.0.1:${echo.port}` })).status, 201)
    const route = await admin('POST', '/services/dd/routes', { paths: ['/dd'] })
    const p = await admin('POST', `/routes/${route.json.id}/plugins`, {
      name: 'datadog',
      config: { host: '{vault://env/sluice-vt-dd-host}', port: agent.address().port, queue: { max_coalescing_delay: 0.1 } },
    })
    assert.equal(p.status, 201, JSON.stringify(p.json))
    assert.equal(p.json.config.host, '{vault://env/sluice-vt-dd-host}')
    // requests until the plugin is in place and its metrics arrive
    let msg: Buffer | null = null
    agent.on('message', (m: Buffer) => { msg ??= m })
    await until('metrics from the datadog plugin', async () => { await proxy('/dd'); return msg !== null ? true : undefined })
    assert.match(String(msg), /^kong\.request\.count:1\|c/m)
  } finally {
    agent.close()
  }
})

test('GET /vaults and the vault by prefix; deleting a vault in use is allowed (its references stop resolving)', async () => {
  const list = await admin('GET', '/vaults')
  assert.equal(list.status, 200)
  assert.deepEqual(list.json.data.map((v: { prefix: string }) => v.prefix), ['log-env'])
  assert.equal((await admin('DELETE', '/vaults/log-env')).status, 204)
  assert.equal((await admin('GET', '/vaults/log-env')).status, 404)
  assert.equal(await proxy('/logged'), 200)
})
