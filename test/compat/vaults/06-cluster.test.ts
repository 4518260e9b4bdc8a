/**
 * Vaults across a cluster (two nodes on one PostgreSQL): a vault and a plugin referencing it,
 * written on node A, are dereferenced by node B's proxy; a change of the vault on node B reaches
 * node A through cluster_events, and A's workers get the plugin dereferenced again.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startEcho, type Upstream } from '../../helpers/upstream.ts'
import { until } from '../../helpers/admin-api.ts'

let db: TestDb
let a: Gateway
let b: Gateway
let echo: Upstream
let collector: Upstream
const ENV = { CL_A_TOKEN: 'alpha', CL_B_TOKEN: 'beta' }

before(async () => {
  Object.assign(process.env, ENV)
  echo = await startEcho()
  collector = await startEcho()
  db = await createTestDb()
  a = await startGateway(db.settings)
  b = await startGateway(db.settings)
})

after(async () => {
  await a?.stop()
  await b?.stop()
  await db?.drop()
  await echo?.close()
  await collector?.close()
  for (const k of Object.keys(ENV)) delete process.env[k]
})

async function admin (gw: Gateway, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await request(`${gw.admin}${path}`, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.body.text()
  return { status: r.statusCode, json: text === '' ? null : JSON.parse(text) }
}

let n = 0
/** Requests through `gw` until the collector has the log entry of one of them, with `token`. */
async function loggedVia (gw: Gateway, token: string): Promise<void> {
  await until(`a log entry through ${gw.proxy} with x-token ${token}`, async () => {
    const mark = `via-${++n}`
    const r = await request(`${gw.proxy}/logged?mark=${mark}`)
    await r.body.dump()
    if (r.statusCode !== 200) return undefined
    // a node that does not have the plugin yet sends no entry: then the next request
    const seen = await until(`the log entry of ${mark}`, async () => collector.received.find((x) => x.body.includes(mark)), 2000).catch(() => null)
    return seen !== null && seen.headers['x-token'] === token ? true : undefined
  })
}

test('a vault written on one node dereferences on the other; its change travels back', async () => {
  assert.equal((await admin(a, 'POST', '/vaults', { name: 'env', prefix: 'cl-env', config: { prefix: 'CL_A_' } })).status, 201)
  assert.equal((await admin(a, 'POST', '/services', { name: 'logged', url: `http://127.0.0.1:${echo.port}` })).status, 201)
  const route = await admin(a, 'POST', '/services/logged/routes', { paths: ['/logged'] })
  assert.equal(route.status, 201)
  const p = await admin(a, 'POST', `/routes/${route.json.id}/plugins`, {
    name: 'http-log',
    config: { http_endpoint: `http://127.0.0.1:${collector.port}/log`, headers: { 'x-token': '{vault://cl-env/token}' }, queue: { max_coalescing_delay: 0.1 } },
  })
  assert.equal(p.status, 201)
  await loggedVia(b, 'alpha')
  assert.deepEqual((await admin(b, 'GET', '/vaults/cl-env')).json.config, { prefix: 'CL_A_' })

  assert.equal((await admin(b, 'PATCH', '/vaults/cl-env', { config: { prefix: 'CL_B_' } })).status, 200)
  await loggedVia(a, 'beta')
  await loggedVia(b, 'beta')
})
