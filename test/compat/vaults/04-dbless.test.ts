/**
 * Vaults in DB-less mode (a real DB-less gateway: piscina loader, worker threads): a kong.yml
 * with `vaults:` and references loads, the Admin API and `GET /config` show vaults and references
 * as configured (never the secrets), the workers get the secrets (a certificate served by SNI,
 * an http-log header), and `POST /config` with another vault configuration re-dereferences.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { startDblessGateway, type DblessGateway } from '../../helpers/dbless.ts'
import { freePort } from '../../helpers/ports.ts'
import { startEcho, type Upstream } from '../../helpers/upstream.ts'
import { makeCert, tlsRequest } from '../../helpers/tls.ts'
import { until } from '../../helpers/admin-api.ts'

let gw: DblessGateway
let echo: Upstream
let collector: Upstream
let httpPort: number
let tlsPort: number
const ENV: Record<string, string> = {}

function kongYml (vaultPrefix: string): string {
  return `_format_version: "3.0"
vaults:
- name: env
  prefix: my-env
  description: secrets of this node
  config:
    prefix: ${vaultPrefix}
certificates:
- cert: "{vault://env/sluice-dl-cert}"
  key: "{vault://env/sluice-dl-key}"
  snis:
  - name: dl.test
services:
- name: echo
  url: http://127.0.0.1:${echo.port}
  routes:
  - name: r
    paths: [/x]
    plugins:
    - name: http-log
      config:
        http_endpoint: http://127.0.0.1:${collector.port}/log
        headers:
          x-token: "{vault://my-env/token}"
        queue:
          max_coalescing_delay: 0.1
`
}

before(async () => {
  echo = await startEcho()
  collector = await startEcho()
  const c = makeCert('dl.test')
  Object.assign(ENV, { SLUICE_DL_CERT: c.cert, SLUICE_DL_KEY: c.key, DL_ONE_TOKEN: 'one', DL_TWO_TOKEN: 'two' })
  Object.assign(process.env, ENV)
  httpPort = await freePort()
  tlsPort = await freePort()
  gw = await startDblessGateway({ declarative: kongYml('DL_ONE_'), overrides: { proxy_listen: `127.0.0.1:${httpPort}, 127.0.0.1:${tlsPort} ssl` } })
})

after(async () => {
  await gw?.stop()
  await echo?.close()
  await collector?.close()
  for (const k of Object.keys(ENV)) delete process.env[k]
})

async function admin (method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await request(`${gw.admin}${path}`, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.body.text()
  let json: unknown = null
  try { json = JSON.parse(text) } catch { /* YAML */ }
  return { status: r.statusCode, text, json }
}

async function logged (token: string): Promise<void> {
  await until(`a log entry with x-token ${token}`, async () => {
    const r = await request(`http://127.0.0.1:${httpPort}/x`)
    await r.body.dump()
    if (r.statusCode !== 200) return undefined
    return collector.received.some((x) => x.headers['x-token'] === token) ? true : undefined
  })
}

test('the Admin API shows the vault and the references as configured', async () => {
  const v = await admin('GET', '/vaults/my-env')
  assert.equal(v.status, 200)
  assert.equal(v.json.name, 'env')
  assert.deepEqual(v.json.config, { prefix: 'DL_ONE_' })
  assert.equal(v.json.description, 'secrets of this node')
  assert.equal((await admin('GET', `/vaults/${v.json.id}`)).json.prefix, 'my-env')
  const certs = await admin('GET', '/certificates')
  assert.equal(certs.json.data[0].cert, '{vault://env/sluice-dl-cert}')
  assert.equal(certs.json.data[0].key, '{vault://env/sluice-dl-key}')
  assert.equal(certs.json.data[0].$refs, undefined)
  const plugins = await admin('GET', '/plugins')
  assert.deepEqual(plugins.json.data[0].config.headers, { 'x-token': '{vault://my-env/token}' })
  assert.equal((await admin('POST', '/vaults', { name: 'env', prefix: 'other' })).status, 405)
})

test('GET /config exports the vaults and the references, not the secrets', async () => {
  const r = await admin('GET', '/config')
  assert.equal(r.status, 200)
  const yaml = r.json.config as string
  assert.match(yaml, /\nvaults:\n/)
  assert.match(yaml, /prefix: my-env/)
  assert.match(yaml, /\{vault:\/\/my-env\/token\}/)
  assert.match(yaml, /\{vault:\/\/env\/sluice-dl-key\}/)
  assert.doesNotMatch(yaml, /PRIVATE KEY/)
})

test('the workers get the secrets: the certificate by SNI, the header of the log', async () => {
  const t = await until('the certificate from the environment', async () => {
    const x = await tlsRequest(tlsPort, { servername: 'dl.test' })
    return x.cn === 'dl.test' ? x : undefined
  })
  assert.equal(t.status, 404)
  await logged('one')
})

test('POST /config with another vault configuration dereferences again', async () => {
  const r = await admin('POST', '/config', { config: kongYml('DL_TWO_') })
  assert.equal(r.status, 201, r.text)
  assert.deepEqual(Object.values(r.json.vaults as Record<string, { config: unknown }>).map((v) => v.config), [{ prefix: 'DL_TWO_' }])
  await logged('two')
})
