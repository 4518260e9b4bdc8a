/**
 * PostgreSQL outages, with a PostgreSQL of the test's own (embedded, stopped and started here):
 * - stopped under load: workers keep serving the last config with zero failed requests, Admin API
 *   writes answer 503, /status says the database is unreachable; when it returns the node
 *   reconnects and serves changes made meanwhile;
 * - a node started while PostgreSQL is down serves the last good snapshot saved under its prefix,
 *   says so in /status, and switches to the database when it answers.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { mkdtempSync, chmodSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { request } from 'undici'
import { startEmbedded, type EmbeddedPostgres } from '../../src/db/embedded.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { freePort } from '../helpers/ports.ts'

let pgPrefix: string
let gwPrefix: string
let pgPort: number
let pg: EmbeddedPostgres | null = null
let upstream: Server
let upstreamPort: number
const gateways: Gateway[] = []

before(async () => {
  pgPrefix = mkdtempSync(join(tmpdir(), 'sluice-faults-pg-'))
  chmodSync(pgPrefix, 0o755) // as root the server runs as an unprivileged user
  gwPrefix = mkdtempSync(join(tmpdir(), 'sluice-faults-gw-'))
  pgPort = await freePort()
  pg = await startEmbedded({ prefix: pgPrefix, port: pgPort })
  upstream = createServer((req, res) => { res.end(`ok ${req.url}`) })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  upstreamPort = (upstream.address() as { port: number }).port
})

after(async () => {
  for (const g of gateways) await g.stop()
  await pg?.stop()
  await new Promise((resolve) => upstream?.close(resolve))
  rmSync(pgPrefix, { recursive: true, force: true })
  rmSync(gwPrefix, { recursive: true, force: true })
})

async function post (gw: Gateway, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await request(gw.admin + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: r.statusCode, body: await r.body.json() as Record<string, unknown> }
}

async function status (gw: Gateway): Promise<{ database: { reachable: boolean }; sluice: { serving_saved_snapshot: boolean } }> {
  const r = await request(gw.admin + '/status')
  assert.equal(r.statusCode, 200)
  return await r.body.json() as { database: { reachable: boolean }; sluice: { serving_saved_snapshot: boolean } }
}

async function servedEventually (gw: Gateway, path: string): Promise<void> {
  const t0 = Date.now()
  for (;;) {
    const r = await request(gw.proxy + path)
    await r.body.dump()
    if (r.statusCode === 200) return
    if (Date.now() - t0 > 15_000) assert.fail(`${path} not served after 15 s (last ${r.statusCode})`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Runs `loops` request loops against `path` until stop() and counts every non-200 or error. */
function load (gw: Gateway, path: string, loops = 4): { stop (): Promise<{ ok: number; failed: string[] }> } {
  let running = true
  let ok = 0
  const failed: string[] = []
  const runs = Array.from({ length: loops }, async () => {
    while (running) {
      try {
        const r = await request(gw.proxy + path)
        await r.body.dump()
        if (r.statusCode === 200) ok++
        else failed.push(String(r.statusCode))
      } catch (err) { failed.push((err as Error).message) }
    }
  })
  return { async stop () { running = false; await Promise.all(runs); return { ok, failed } } }
}

const settings = (): { host: string; port: number; user: string; password: string; database: string; ssl: boolean; sslVerify: boolean } => pg!.settings

test('faults: PostgreSQL stopped under load — zero failed requests, writes 503, catch-up after it returns', async () => {
  const gw = await startGateway(settings(), { prefix: gwPrefix })
  gateways.push(gw)
  assert.equal((await post(gw, '/services', { name: 'svc', url: `http://127.0.0.1:${upstreamPort}` })).status, 201)
  assert.equal((await post(gw, '/services/svc/routes', { name: 'r1', paths: ['/one'] })).status, 201)
  await gw.primary.sync()

  const traffic = load(gw, '/one/x')
  await pg!.stop()
  const during = await post(gw, '/services/svc/routes', { paths: ['/two'] })
  assert.equal(during.status, 503, JSON.stringify(during.body))
  assert.match(String(during.body.message), /database|unavailable/i)
  assert.equal((await status(gw)).database.reachable, false)
  const t = await traffic.stop()
  assert.deepEqual(t.failed, [], 'no request fails while the database is down')
  assert.ok(t.ok > 0)

  pg = await startEmbedded({ prefix: pgPrefix, port: pgPort })
  assert.equal((await post(gw, '/services/svc/routes', { name: 'r3', paths: ['/three'] })).status, 201)
  await servedEventually(gw, '/three/y')
  assert.equal((await status(gw)).database.reachable, true)
  await gw.stop()
  gateways.pop()
})

test('faults: a node started while PostgreSQL is down serves its last good snapshot, then switches back', async () => {
  await pg!.stop()
  const gw = await startGateway(settings(), { prefix: gwPrefix })
  gateways.push(gw)
  const r = await request(gw.proxy + '/three/z')
  assert.equal(r.statusCode, 200, 'the saved configuration is served')
  assert.equal(await r.body.text(), 'ok /z')
  const st = await status(gw)
  assert.equal(st.sluice.serving_saved_snapshot, true)
  assert.equal(st.database.reachable, false)

  pg = await startEmbedded({ prefix: pgPrefix, port: pgPort })
  const t0 = Date.now()
  while ((await status(gw)).sluice.serving_saved_snapshot) {
    if (Date.now() - t0 > 15_000) assert.fail('still on the saved snapshot 15 s after PostgreSQL returned')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.equal((await post(gw, '/services/svc/routes', { name: 'r4', paths: ['/four'] })).status, 201)
  await servedEventually(gw, '/four/w')
})
