/**
 * Port of Kong's spec/03-plugins/30-session/02-kong_storage_adapter_spec.lua over a whole node
 * (primary with PostgreSQL, worker threads, echo upstream), `storage = kong`: the session row in
 * the `sessions` table (migration 000022) reached through the primary, renewal (a new row, the old
 * one kept `stale_ttl` seconds), logout deleting the row, authenticated groups kept in the row, and
 * `store_metadata` (a session_metadatas row, the subject hashed with `hash_subject`). Beyond the
 * spec: the cookie carries no session data, a row that is gone ends the session, a deleted
 * consumer destroys its session, and a request body still arriving after an asynchronous access
 * phase goes upstream.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { createHash, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startEcho, type Upstream } from '../../helpers/upstream.ts'
import { adminCall, until, type AdminAnswer } from '../../helpers/admin-api.ts'
import { deriveKey, seal, unseal } from '../../../src/plugins/session/codec.ts'

let db: TestDb
let gw: Gateway
let echo: Upstream
let coop: { id: string }
let credId: string
const SECRET = 'ultra top secret session'
const key = deriveKey(SECRET)
type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any
const admin = (method: string, path: string, body?: unknown): Promise<AdminAnswer> => adminCall(gw.admin, method, path, body)

interface Res { status: number; cookies: string[]; headers: Record<string, string | string[] | undefined>; json: Json }

async function send (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Res> {
  const r = await request(`${gw.proxy}${path}`, { method: method as 'GET', headers: { host: 'konghq.test', ...headers } })
  const text = await r.body.text()
  const sc = r.headers['set-cookie']
  let json: Json = text
  try { json = JSON.parse(text) } catch {}
  return { status: r.statusCode, cookies: sc === undefined ? [] : Array.isArray(sc) ? sc : [sc], headers: r.headers, json }
}
const pair = (setCookie: string): string => setCookie.split('; ')[0]!

async function row (sid: string): Promise<{ session_id: string; expires: number | null; data: string; ttl: Date | null; created_at: Date } | undefined> {
  const r = await db.pool.query('select session_id, expires, data, ttl, created_at from sessions where session_id = $1', [sid])
  return r.rows[0]
}

/** A session cookie as the plugin seals it, for a session id whose row exists. */
function forge (sid: string, times: { c?: number; r?: number; t?: number } = {}): string {
  const now = Date.now()
  return `session=${seal(key, 'cookie', { k: 's', a: 'default', i: sid, c: times.c ?? now, r: times.r ?? now, t: times.t ?? now, s: 'coop' })}`
}

before(async () => {
  echo = await startEcho()
  db = await createTestDb()
  gw = await startGateway(db.settings)
  const svc = (await admin('POST', '/services', { url: echo.url })).json
  coop = (await admin('POST', '/consumers', { username: 'coop' })).json
  const anon = (await admin('POST', '/consumers', { username: 'anon' })).json
  credId = (await admin('POST', '/consumers/coop/key-auth', { key: 'kong' })).json.id
  const routes: Array<[string, Record<string, unknown>]> = [
    ['/test1', { storage: 'kong', secret: SECRET, response_headers: ['id', 'timeout', 'audience', 'subject'] }],
    ['/test2', { storage: 'kong', secret: SECRET, rolling_timeout: 10, stale_ttl: 1, idling_timeout: 0, response_headers: ['id', 'timeout', 'audience', 'subject'] }],
    ['/headers', { storage: 'kong', secret: SECRET, response_headers: ['id', 'timeout', 'audience', 'subject'] }],
    ['/metadata1', { storage: 'kong', store_metadata: true, secret: SECRET, response_headers: ['id', 'timeout', 'audience', 'subject'] }],
    ['/hash_subject', { storage: 'kong', hash_subject: true, store_metadata: true, secret: SECRET, response_headers: ['id', 'timeout', 'audience', 'subject'] }],
  ]
  for (const [path, config] of routes) {
    const r = (await admin('POST', `/services/${svc.id}/routes`, { paths: [path], hosts: ['konghq.test'] })).json
    const p = await admin('POST', `/routes/${r.id}/plugins`, { name: 'session', config })
    assert.equal(p.status, 201, JSON.stringify(p.json))
    assert.equal((await admin('POST', `/routes/${r.id}/plugins`, { name: 'key-auth', config: { anonymous: anon.id } })).status, 201)
  }
  assert.equal((await admin('POST', '/consumers/anon/plugins', { name: 'request-termination', config: { status_code: 403, message: 'So it goes.' } })).status, 201)
  await gw.primary.sync()
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await echo?.close()
})

test('kong adapter stores consumer', async () => {
  let res = await send('/test1/status/200')
  assert.equal(res.status, 403)
  res = await send('/test1/status/200', { apikey: 'kong' })
  assert.equal(res.status, 200)
  const cookie = res.cookies[0]!
  const sid = res.headers['session-id'] as string
  assert.match(sid, /^[A-Za-z0-9_-]{43}$/)
  assert.equal(res.headers['session-subject'], 'coop')
  assert.equal(res.headers['session-audience'], 'default')
  // The cookie alone lets them in, twice (the session was neither destroyed nor renewed).
  res = await send('/test1/status/200', { cookie })
  assert.equal(res.status, 200)
  assert.equal(res.json.headers['x-consumer-id'], coop.id)
  assert.equal(res.json.headers['x-credential-identifier'], credId)
  res = await send('/test1/status/200', { cookie: pair(cookie) })
  assert.equal(res.status, 200)
  assert.deepEqual(res.cookies, [])
  const r = await row(sid)
  assert.ok(r !== undefined)
  assert.equal(r.session_id, sid)
  // The cookie holds no session data; the row holds it sealed, bound to its id.
  const body = unseal(key, 'cookie', pair(cookie).slice('session='.length)) as Record<string, unknown>
  assert.equal(body.i, sid)
  assert.equal(body.d, undefined)
  assert.ok(!r.data.includes(coop.id))
  assert.deepEqual(unseal(key, 'row', r.data), { i: sid, d: [coop.id, credId, null] })
  const now = Date.now() / 1000
  assert.ok(r.expires !== null && Math.abs(r.expires - (now + 3600)) < 10, String(r.expires))
  assert.ok(r.ttl !== null && Math.abs(r.ttl.getTime() / 1000 - (now + 3600)) < 10)
})

test('renews cookie: a new row, the old one kept stale_ttl seconds', async () => {
  let res = await send('/test2/status/200', { apikey: 'kong' })
  assert.equal(res.status, 200)
  const sid = res.headers['session-id'] as string
  res = await send('/test2/status/200', { cookie: pair(res.cookies[0]!) })
  assert.equal(res.status, 200)
  assert.deepEqual(res.cookies, [], 'not renewed yet')
  // The same session, 8 of its 10 rolling seconds spent.
  const old = forge(sid, { c: Date.now() - 8000, r: Date.now() - 8000 })
  res = await send('/test2/status/200', { cookie: old })
  assert.equal(res.status, 200)
  assert.equal(res.cookies.length, 1, 'renewed')
  const renewed = pair(res.cookies[0]!)
  const newSid = res.headers['session-id'] as string
  assert.notEqual(newSid, sid)
  const oldRow = await row(sid)
  const newRow = await row(newSid)
  assert.ok(oldRow !== undefined && newRow !== undefined)
  const now = Date.now() / 1000
  assert.ok(oldRow.expires! <= Math.ceil(now) + 1, `stale: ${oldRow.expires} vs ${now}`)
  assert.ok(newRow.expires! >= Math.floor(now) + 9, `new: ${newRow.expires} vs ${now}`)
  assert.equal((await send('/test2/status/200', { cookie: old })).status, 200, 'the old cookie within stale_ttl')
  await sleep(1500)
  assert.equal((await send('/test2/status/200', { cookie: old })).status, 403, 'the old cookie past stale_ttl')
  res = await send('/test2/status/200', { cookie: renewed })
  assert.equal(res.status, 200)
  assert.equal(res.json.headers['x-consumer-username'], 'coop')
})

test('destroys session on logout', async () => {
  let res = await send('/test2/status/200', { apikey: 'kong' })
  const cookie = pair(res.cookies[0]!)
  const sid = res.headers['session-id'] as string
  assert.equal((await send('/test2/status/200', { cookie })).status, 200)
  assert.equal((await row(sid))?.session_id, sid)
  res = await send('/test2/status/200?session_logout=true', { cookie }, 'DELETE')
  assert.equal(res.status, 200)
  assert.equal(res.json, '')
  assert.match(res.cookies[0]!, /^session=; .*Max-Age=0$/)
  assert.equal(await row(sid), undefined)
  assert.equal((await send('/test2/status/200', { cookie })).status, 403, 'the cookie of a removed row is no session')
})

test('stores authenticated_groups', async () => {
  // No bundled plugin sets authenticated groups (Kong's spec uses its ctx-checker fixture): the row
  // is written here as the plugin writes it.
  const sid = 'g'.repeat(43)
  await db.pool.query(
    "insert into sessions (id, session_id, expires, data, created_at, ttl) values ($1, $2, extract(epoch from now())::integer + 60, $3, now(), now() + interval '60 seconds')",
    [randomUUID(), sid, seal(key, 'row', { i: sid, d: [coop.id, credId, ['beatles', 'ramones']] })])
  const res = await send('/headers', { cookie: forge(sid) })
  assert.equal(res.status, 200)
  assert.equal(res.json.headers['x-authenticated-groups'], 'beatles, ramones')
  // A row sealed for another id is refused.
  const other = 'h'.repeat(43)
  await db.pool.query(
    "insert into sessions (id, session_id, expires, data, created_at, ttl) values ($1, $2, extract(epoch from now())::integer + 60, $3, now(), now() + interval '60 seconds')",
    [randomUUID(), other, (await row(sid))!.data])
  assert.equal((await send('/headers', { cookie: forge(other) })).status, 403)
})

async function metadatas (audience: string, subject: string): Promise<Array<{ sid: string; audience: string; subject: string; session_id: string }>> {
  return (await db.pool.query('select * from session_metadatas where audience = $1 and subject = $2', [audience, subject])).rows
}
const b64url = (s: string | Buffer): string => Buffer.from(s).toString('base64url')

test('store metadata', async () => {
  const res = await send('/metadata1', { apikey: 'kong' })
  assert.equal(res.status, 200)
  const sid = res.headers['session-id'] as string
  const audience = res.headers['session-audience'] as string
  const subject = res.headers['session-subject'] as string
  assert.equal(subject, 'coop')
  const rows = await until('the metadata row', async () => { const r = await metadatas(b64url(audience), b64url(subject)); return r.length > 0 && r })
  assert.equal(rows.length, 1)
  assert.equal(rows[0]!.sid, sid)
  // The row goes with its session (logout).
  assert.equal((await send('/metadata1?session_logout=1', { cookie: pair(res.cookies[0]!) }, 'POST')).status, 200)
  assert.deepEqual(await metadatas(b64url(audience), b64url(subject)), [])
})

test('store metadata with hash_subject', async () => {
  const res = await send('/hash_subject', { apikey: 'kong' })
  assert.equal(res.status, 200)
  const sid = res.headers['session-id'] as string
  const subject = b64url(createHash('sha256').update(res.headers['session-subject'] as string).digest().subarray(0, 16))
  const audience = b64url(res.headers['session-audience'] as string)
  const rows = await until('the metadata row', async () => { const r = await metadatas(audience, subject); return r.length > 0 && r })
  assert.equal(rows.length, 1)
  assert.equal(rows[0]!.subject, subject)
  assert.equal(rows[0]!.audience, audience)
  assert.equal(rows[0]!.sid, sid)
})

test('a request body still arriving after the session lookup goes upstream', async () => {
  const res = await send('/test1', { apikey: 'kong' })
  const cookie = pair(res.cookies[0]!)
  assert.equal((await send('/test1', { cookie })).status, 200)
  const url = new URL(gw.proxy)
  const answer = await new Promise<string>((resolve, reject) => {
    const s = connect(Number(url.port), url.hostname)
    let data = ''
    s.on('data', (d) => {
      data += d.toString('latin1')
      if (/\r\n\r\n/.test(data) && data.includes('"body":"hello"')) { s.end(); resolve(data) }
    })
    s.on('error', reject)
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error(`no answer: ${data}`)) })
    s.on('close', () => { resolve(data) })
    s.write(`POST /test1 HTTP/1.1\r\nhost: konghq.test\r\ncookie: ${cookie}\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n`)
    // A slow client: the body comes once the session row was read.
    setTimeout(() => { s.write('hello') }, 300)
  })
  assert.match(answer, /^HTTP\/1\.1 200/)
  assert.ok(answer.includes('"body":"hello"'), answer)
})

test('a deleted consumer ends its session', async () => {
  const c = (await admin('POST', '/consumers', { username: 'temp' })).json
  assert.equal((await admin('POST', '/consumers/temp/key-auth', { key: 'temp-key' })).status, 201)
  await gw.primary.sync()
  let res = await send('/test1', { apikey: 'temp-key' })
  assert.equal(res.status, 200)
  const cookie = pair(res.cookies[0]!)
  const sid = res.headers['session-id'] as string
  res = await send('/test1', { cookie })
  assert.equal(res.json.headers['x-consumer-id'], c.id)
  assert.equal((await admin('DELETE', '/consumers/temp')).status, 204)
  await gw.primary.sync()
  res = await send('/test1', { cookie })
  assert.equal(res.status, 403)
  assert.match(res.cookies[0] ?? '', /^session=; .*Max-Age=0$/)
  assert.equal(await row(sid), undefined)
})

test('after a reload, the new worker generation reaches the sessions table too', async () => {
  const res = await send('/test1', { apikey: 'kong' })
  const cookie = pair(res.cookies[0]!)
  assert.equal((await send('/test1', { cookie })).json.headers['x-consumer-id'], coop.id)
  const gen1 = gw.primary.supervisor
  const outcome = await gw.primary.reload(gw.config)
  assert.ok(outcome.ok, outcome.message)
  assert.notEqual(gw.primary.supervisor, gen1)
  const after = await send('/test1', { cookie })
  assert.equal(after.status, 200)
  assert.equal(after.json.headers['x-consumer-id'], coop.id)
  // A new session made by the new generation is stored and read back.
  const fresh = await send('/test1', { apikey: 'kong' })
  const sid = fresh.headers['session-id'] as string
  assert.equal((await send('/test1', { cookie: pair(fresh.cookies[0]!) })).json.headers['x-consumer-id'], coop.id)
  assert.equal((await row(sid))?.session_id, sid)
})
