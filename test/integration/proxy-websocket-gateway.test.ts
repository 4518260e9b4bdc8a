/**
 * WebSocket handshakes through the whole gateway (Admin API on a real PostgreSQL, worker threads):
 * the access phase applies to the handshake (key-auth's 401, request-transformer's headers, the
 * consumer headers), and the log phase runs once, when the connection ends, with status 101.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import WebSocket from 'ws'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startWsUpstream, type WsUpstream } from '../helpers/ws-upstream.ts'

let db: TestDb
let gw: Gateway
let up: WsUpstream
let dir: string
let logPath: string

async function admin (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await request(`${gw.admin}${path}`, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.body.text()
  return { status: r.statusCode, json: text === '' ? null : JSON.parse(text) }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-wslog-'))
  logPath = join(dir, 'ws.log')
  up = await startWsUpstream()
  db = await createTestDb()
  gw = await startGateway(db.settings)
  assert.equal((await admin('POST', '/services', { name: 'ws', host: '127.0.0.1', port: up.port })).status, 201)
  assert.equal((await admin('POST', '/services/ws/routes', { name: 'ws', paths: ['/ws'] })).status, 201)
  assert.equal((await admin('POST', '/routes/ws/plugins', { name: 'key-auth' })).status, 201)
  assert.equal((await admin('POST', '/routes/ws/plugins', { name: 'request-transformer', config: { add: { headers: ['x-added:yes'] } } })).status, 201)
  assert.equal((await admin('POST', '/routes/ws/plugins', { name: 'file-log', config: { path: logPath } })).status, 201)
  assert.equal((await admin('POST', '/routes/ws/plugins', { name: 'response-transformer', config: { add: { headers: ['x-rt:on-101'] } } })).status, 201)
  assert.equal((await admin('POST', '/routes/ws/plugins', { name: 'rate-limiting', config: { minute: 1000, policy: 'local' } })).status, 201)
  assert.equal((await admin('POST', '/consumers', { username: 'alice' })).status, 201)
  assert.equal((await admin('POST', '/consumers/alice/key-auth', { key: 'secret-key' })).status, 201)
  // The configuration reaches every worker through the snapshot: wait until the credential is
  // accepted by a run of requests (they spread over both workers).
  const deadline = Date.now() + 20_000
  let streak = 0
  while (streak < 10) {
    const r = await request(`${gw.proxy}/ws`, { headers: { apikey: 'secret-key' } })
    await r.body.dump()
    streak = r.statusCode === 200 ? streak + 1 : 0
    if (Date.now() > deadline) throw new Error(`route not ready: ${r.statusCode}`)
    if (streak === 0) await new Promise((resolve) => setTimeout(resolve, 50))
  }
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await up?.close()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

test('key-auth rejects a WebSocket handshake without a key with Kong\'s 401; the upstream never sees it', async () => {
  const before = up.handshakes.length
  const ws = new WebSocket(`${gw.proxy.replace('http:', 'ws:')}/ws`)
  ws.on('error', () => {})
  const [, res] = await once(ws, 'unexpected-response') as [unknown, IncomingMessage]
  assert.equal(res.statusCode, 401)
  let body = ''
  for await (const c of res) body += String(c)
  const json = JSON.parse(body)
  assert.equal(json.message, 'No API key found in request')
  assert.equal(typeof json.request_id, 'string') // Kong 3.10 error bodies carry the request id
  assert.match(String(res.headers['www-authenticate']), /^Key/)
  ws.terminate()
  assert.equal(up.handshakes.length, before)
})

test('an authenticated handshake is upgraded with the access phase\'s upstream headers, the 101 carries staged and header-filter headers; the log phase runs once, with 101', async () => {
  const ws = new WebSocket(`${gw.proxy.replace('http:', 'ws:')}/ws/room`, { headers: { apikey: 'secret-key' } })
  const upgraded = once(ws, 'upgrade') as Promise<[IncomingMessage]>
  await once(ws, 'open')
  const [res101] = await upgraded
  assert.equal(res101.headers['x-rt'], 'on-101')
  assert.equal(res101.headers['x-ratelimit-limit-minute'], '1000')
  assert.match(String(res101.headers.via), /kong/)
  const hs = up.handshakes[up.handshakes.length - 1]!
  assert.equal(hs.url, '/room')
  assert.equal(hs.headers['x-added'], 'yes')
  assert.equal(hs.headers['x-consumer-username'], 'alice')
  ws.send('through the gateway')
  const [data] = await once(ws, 'message') as [Buffer]
  assert.equal(data.toString(), 'through the gateway')
  const closedP = once(ws, 'close')
  ws.close(1000)
  await closedP
  // file-log writes off the request path: wait for the line.
  const deadline = Date.now() + 10_000
  let lines: string[] = []
  for (;;) {
    try { lines = readFileSync(logPath, 'utf8').split('\n').filter((l) => l.includes('"/ws/room"')) } catch { lines = [] }
    if (lines.length > 0 || Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.equal(lines.length, 1)
  const entry = JSON.parse(lines[0]!)
  assert.equal(entry.response.status, 101)
  assert.equal(entry.consumer.username, 'alice')
})
