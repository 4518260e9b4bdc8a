/**
 * The session plugin on a DB-less node (`database = off`, declarative config): cookie storage
 * works as with a database; `kong` storage has no `sessions` table to keep rows in, so its cookie
 * never authenticates, and the request goes on at once as if it had no session (here: as the
 * anonymous consumer) (the primary
 * answers the worker's lookup with an error instead of leaving it waiting).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { startDblessGateway, type DblessGateway } from '../../helpers/dbless.ts'
import { startEcho, type Upstream } from '../../helpers/upstream.ts'

let gw: DblessGateway
let echo: Upstream

before(async () => {
  echo = await startEcho()
  gw = await startDblessGateway({
    declarative: `_format_version: "3.0"
services:
- name: echo
  url: ${echo.url}
  routes:
  - name: cookie
    paths: [/cookie]
    plugins:
    - name: session
      config: { secret: s1 }
    - name: key-auth
      config: { anonymous: anon }
  - name: kong
    paths: [/kong]
    plugins:
    - name: session
      config: { secret: s2, storage: kong }
    - name: key-auth
      config: { anonymous: anon }
consumers:
- username: anon
- username: coop
  keyauth_credentials:
  - key: kong
`,
  })
})

after(async () => {
  await gw?.stop()
  await echo?.close()
})

async function get (path: string, headers: Record<string, string>): Promise<{ status: number; cookie: string | undefined; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await request(`${gw.proxy}${path}`, { headers, headersTimeout: 5000 })
  const text = await r.body.text()
  const sc = r.headers['set-cookie']
  return { status: r.statusCode, cookie: (Array.isArray(sc) ? sc[0] : sc)?.split('; ')[0], json: r.statusCode === 200 ? JSON.parse(text) : text }
}

test('cookie storage: the cookie authenticates on a DB-less node', async () => {
  const first = await get('/cookie', { apikey: 'kong' })
  assert.equal(first.status, 200)
  assert.ok(first.cookie !== undefined)
  const r = await get('/cookie', { cookie: first.cookie })
  assert.equal(r.status, 200)
  assert.equal(r.json.headers['x-consumer-username'], 'coop')
  assert.equal(r.json.headers['x-anonymous-consumer'], undefined)
  assert.equal((await get('/cookie', {})).json.headers['x-consumer-username'], 'anon')
})

test('kong storage without a database: no session, no waiting', async () => {
  const first = await get('/kong', { apikey: 'kong' })
  assert.equal(first.status, 200)
  assert.ok(first.cookie !== undefined)
  const t0 = Date.now()
  const r = await get('/kong', { cookie: first.cookie! })
  assert.equal(r.status, 200)
  assert.equal(r.json.headers['x-consumer-username'], 'anon')
  assert.ok(Date.now() - t0 < 4000)
  assert.equal((await get('/kong', { cookie: first.cookie!, apikey: 'kong' })).json.headers['x-consumer-username'], 'coop')
})
