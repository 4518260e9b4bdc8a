/**
 * worker/tls.ts TlsEndpoint against real uWS (in this thread, with a handler that answers the
 * server name it was reached by): how certificates are swapped on a running listener.
 *
 * The case these tests pin: uWS frees a server name's router in removeServerName while connections
 * that matched the name may still be open, and their next request crashes the process. So removing
 * or re-pointing a name must never touch the App those connections are on; adding a name may.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { Agent } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RouteRow, Snapshot } from '../../src/common/snapshot.ts'
import { ensureDefaultCert } from '../../src/primary/default-cert.ts'
import { TlsEndpoint, type ListenInfo } from '../../src/worker/tls.ts'
import { buildTlsPlan, MaterialCache, type TlsPlan } from '../../src/worker/tls-plan.ts'
import { freePort } from '../helpers/ports.ts'
import { certRows, makeCert, tlsRequest, type TestCert } from '../helpers/tls.ts'
import { route } from '../helpers/worker-harness.ts'

const A = makeCert('a.test')
const A2 = makeCert('a.test v2', { names: ['a.test'] })
const B = makeCert('b.test')

const cache = new MaterialCache()
function plan (certs: Array<[TestCert, string[]]>, routes: RouteRow[] = []): TlsPlan {
  const rows = certs.map(([c, names]) => certRows(c, names, `id-${c.cn}`))
  const snap: Snapshot = { version: 1, hash: 'h', services: [], routes, entities: { certificates: rows.map((r) => r.cert), snis: rows.flatMap((r) => r.snis) } }
  return buildTlsPlan(snap, cache)
}

async function endpoint (t: { after (fn: () => void): void }, first: TlsPlan, opts: { idleMs?: number; sweepMs?: number } = {}): Promise<{ ep: TlsEndpoint; port: number; prefix: string }> {
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-ep-'))
  await ensureDefaultCert(prefix)
  const port = await freePort()
  const ep = new TlsEndpoint({
    listener: { host: '127.0.0.1', port, ssl: true, http2: false, reuseport: true, backlog: null },
    prefix,
    // Answers at once; the slot uncounts the request as lifecycle.ts would.
    handler: (res, req, info: ListenInfo) => { res.end(JSON.stringify({ sni: info.sni, host: req.getHeader('host') })); info.slot!.inflight-- },
    ...opts,
  })
  ep.listen(first)
  t.after(() => { ep.closeAll(); rmSync(prefix, { recursive: true, force: true }) })
  return { ep, port, prefix }
}

test('names are added on the running App; an unchanged route SNI that disappears stays, no swap', async (t) => {
  const { ep, port } = await endpoint(t, plan([[A, ['a.test']]]))
  assert.equal((await tlsRequest(port, { servername: 'b.test' })).cn, 'localhost')
  ep.apply(plan([[A, ['a.test']], [B, ['b.test']]], [route({ snis: ['r.test'] }, null)]))
  assert.deepEqual(ep.apps(), { active: 1, draining: 0, spare: 0 })
  const b = await tlsRequest(port, { servername: 'b.test' })
  assert.equal(b.cn, 'b.test')
  assert.equal(JSON.parse(b.body).sni, 'b.test')
  const r = await tlsRequest(port, { servername: 'r.test' })
  assert.equal(r.cn, 'localhost')
  assert.equal(JSON.parse(r.body).sni, 'r.test')
  ep.apply(plan([[A, ['a.test']], [B, ['b.test']]]))
  assert.deepEqual(ep.apps(), { active: 1, draining: 0, spare: 0 })
  assert.ok(ep.names().includes('r.test'))
})

test('removing a name with a keep-alive connection on it: new connections get the default certificate, the open one keeps being served', async (t) => {
  const { ep, port } = await endpoint(t, plan([[A, ['a.test']], [B, ['b.test']]]))
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  const first = await tlsRequest(port, { servername: 'a.test', agent })
  assert.equal(first.cn, 'a.test')
  for (let round = 0; round < 3; round++) {
    ep.apply(plan(round % 2 === 0 ? [[B, ['b.test']]] : [[A, ['a.test']], [B, ['b.test']]]))
    await new Promise<void>((resolve) => { ep.whenSettled(resolve) })
    // The connection that matched a.test, on the App it was accepted by: no crash, same socket.
    const again = await tlsRequest(port, { servername: 'a.test', agent })
    assert.equal(again.status, 200)
    assert.equal(again.localPort, first.localPort)
    assert.equal(JSON.parse(again.body).sni, 'a.test')
  }
  // After three swaps the last plan (round 2) has no a.test.
  const fresh = await tlsRequest(port, { servername: 'a.test' })
  assert.equal(fresh.cn, 'localhost')
  assert.equal(JSON.parse(fresh.body).sni, null)
  assert.equal((await tlsRequest(port, { servername: 'b.test' })).cn, 'b.test')
  assert.equal(ep.apps().active, 1)
  assert.ok(ep.apps().draining >= 1)
})

test('a replaced certificate is served to new connections; the open connection keeps its own', async (t) => {
  const { ep, port } = await endpoint(t, plan([[A, ['a.test']]]))
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  const before = await tlsRequest(port, { servername: 'a.test', agent })
  assert.equal(before.cn, 'a.test')
  ep.apply(plan([[A2, ['a.test']]]))
  await new Promise<void>((resolve) => { ep.whenSettled(resolve) })
  assert.equal((await tlsRequest(port, { servername: 'a.test' })).cn, 'a.test v2')
  const kept = await tlsRequest(port, { servername: 'a.test', agent })
  assert.equal(kept.localPort, before.localPort)
  assert.equal(kept.cn, 'a.test')
})

test('a draining App is closed once idle and recycled for the next swap', async (t) => {
  const { ep, port } = await endpoint(t, plan([[A, ['a.test']]]), { idleMs: 300, sweepMs: 50 })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  const r = await tlsRequest(port, { servername: 'a.test', agent })
  const sockets = Object.values(agent.freeSockets).flat()
  assert.equal(sockets.length, 1)
  const closed = once(sockets[0]!, 'close')
  ep.apply(plan([[B, ['b.test']]]))
  assert.deepEqual(ep.apps(), { active: 1, draining: 1, spare: 0 })
  await closed // the idle keep-alive connection goes with the old App
  assert.deepEqual(ep.apps(), { active: 1, draining: 0, spare: 1 })
  assert.equal(r.cn, 'a.test')
  // The recycled App is made to match the next plan exactly (names removed there: it has no connection).
  ep.apply(plan([[A, ['a.test']]]))
  await new Promise<void>((resolve) => { ep.whenSettled(resolve) })
  assert.deepEqual(ep.apps(), { active: 1, draining: 1, spare: 0 })
  assert.deepEqual(ep.names(), ['a.test'])
  assert.equal((await tlsRequest(port, { servername: 'a.test' })).cn, 'a.test')
  assert.equal((await tlsRequest(port, { servername: 'b.test' })).cn, 'localhost')
})

test('a request in flight on a draining App holds it open', async (t) => {
  let release: (() => void) | null = null
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-ep-'))
  await ensureDefaultCert(prefix)
  const port = await freePort()
  const ep = new TlsEndpoint({
    listener: { host: '127.0.0.1', port, ssl: true, http2: false, reuseport: true, backlog: null },
    prefix,
    idleMs: 200,
    sweepMs: 50,
    handler: (res, req, info) => {
      const slot = info.slot!
      if (req.getUrl() !== '/hold') { res.end('now'); slot.inflight--; return }
      res.onAborted(() => { slot.inflight-- })
      // What lifecycle.ts does when the request ends.
      release = () => { res.end('held'); slot.inflight-- }
    },
  })
  ep.listen(plan([[A, ['a.test']]]))
  t.after(() => { ep.closeAll(); rmSync(prefix, { recursive: true, force: true }) })
  const held = tlsRequest(port, { servername: 'a.test', path: '/hold' })
  while (release === null) await new Promise((resolve) => setTimeout(resolve, 10))
  ep.apply(plan([[B, ['b.test']]]))
  await new Promise((resolve) => setTimeout(resolve, 600))
  assert.deepEqual(ep.apps(), { active: 1, draining: 1, spare: 0 })
  ;(release as () => void)()
  const r = await held
  assert.equal(r.body, 'held')
  assert.equal(r.cn, 'a.test')
  while (ep.apps().draining > 0) await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(ep.apps().spare, 1)
})

test('key files never stay on disk: <prefix>/ssl/run is empty after every change', async (t) => {
  const { ep, prefix } = await endpoint(t, plan([[A, ['a.test']]]))
  const run = join(prefix, 'ssl', 'run')
  assert.deepEqual(readdirSync(run), [])
  ep.apply(plan([[A, ['a.test']], [B, ['b.test']]]))
  ep.apply(plan([[A2, ['a.test']]]))
  assert.deepEqual(readdirSync(run), [])
  assert.deepEqual(readdirSync(join(prefix, 'ssl')).sort(), ['run', 'sluice-default.crt', 'sluice-default.key'])
})
