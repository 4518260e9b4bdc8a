/**
 * proxy-cache's Admin API (kong spec 03-plugins/31-proxy-cache/03-api_spec.lua) end to end across
 * the thread boundary: the primary-side routes and relay (src/plugins/proxy-cache/api.ts) talk to
 * real workers (worker/main.ts `case 'proxy-cache'`), whose caches were filled by real requests.
 * Purge by plugin and key, by key, everything; GET of an entry in Kong's stored shape; 404s; a
 * purge reaching every worker; and the same through a real node's Admin API (DB-less primary:
 * admin/server.ts -> Supervisor.proxyCache -> the workers).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { request } from 'undici'
import type { Call, Method } from '../../src/admin/router.ts'
import type { Reply } from '../../src/admin/respond.ts'
import { ProxyCacheRelay, proxyCacheRoutes, type ProxyCachePluginRow } from '../../src/plugins/proxy-cache/api.ts'
import type { ProxyCacheResult } from '../../src/plugins/proxy-cache/messages.ts'
import { startDblessGateway } from '../helpers/dbless.ts'
import { plugin, withEntities } from '../helpers/kong-rows.ts'
import { route, service, snapshot, snapshotVersion } from '../helpers/worker-harness.ts'
import { gateway, scriptedUpstream, type Gateway } from './plugin-log-harness.ts'

interface Fx {
  gw: Gateway
  relay: ProxyCacheRelay
  plugins: ProxyCachePluginRow[]
  routeIds: string[]
  admin (method: Method, path: string): Promise<Reply>
}

async function fixture (t: TestContext, workers = 1): Promise<Fx> {
  const up = await scriptedUpstream(t)
  const svc = service({ host: '127.0.0.1', port: up.port })
  const r1 = route({ paths: ['/one'] }, svc)
  const r2 = route({ paths: ['/two'] }, svc)
  const rows = [
    plugin('proxy-cache', { strategy: 'memory', memory: { dictionary_name: 'kong' } }, { route: r1 }),
    plugin('request-termination', {}, { route: route({ paths: ['/unused'] }, svc) }),
    plugin('proxy-cache', { strategy: 'memory', memory: { dictionary_name: 'kong' } }, { route: r2 }),
  ]
  const snap = withEntities(snapshot([svc], [r1, r2], snapshotVersion()), { plugins: rows })
  const gw = await gateway(t, { snapshot: snap, workers })
  const relay = new ProxyCacheRelay((id, msg) => { gw.workers[id]!.postMessage(msg) }, () => gw.workers.map((_, i) => i))
  for (const w of gw.workers) w.on('message', (m: { type: string }) => { if (m.type === 'proxy-cache-result') relay.onResult(m as ProxyCacheResult) })
  const plugins = rows as unknown as ProxyCachePluginRow[]
  const routes = proxyCacheRoutes({
    plugins: async () => plugins.filter((p) => p.name === 'proxy-cache'),
    plugin: async (id) => plugins.find((p) => p.id === id) ?? null,
    ask: (req) => relay.ask(req),
  })
  const admin = async (method: Method, path: string): Promise<Reply> => {
    const segs = path.slice(1).split('/')
    for (const r of routes) {
      if (r.segments.length !== segs.length) continue
      const params: Record<string, string> = {}
      if (!r.segments.every((s, i) => (s.startsWith('{') ? ((params[s.slice(1, -1)] = segs[i]!), true) : s === segs[i]))) continue
      const h = r.handlers[method]
      if (h === undefined) return { status: 405 }
      return h({ method, params, query: {}, body: {}, bodyKind: 'none', rawQuery: {} } as unknown as Call)
    }
    return { status: 404 }
  }
  return { gw, relay, plugins, routeIds: [r1.id, r2.id], admin }
}

async function cached (gw: Gateway, path: string): Promise<{ status: string; key: string; body: string }> {
  const res = await request(`${gw.url}${path}`)
  return { status: String(res.headers['x-cache-status']), key: String(res.headers['x-cache-key']), body: await res.body.text() }
}

test('proxy-cache API: DELETE /proxy-cache/{plugin_id}/caches/{key} and /proxy-cache/{key} purge one entry', async (t) => {
  const { gw, plugins, admin } = await fixture(t)
  const first = await cached(gw, '/one/get')
  assert.equal(first.status, 'Miss')
  assert.equal((await cached(gw, '/one/get')).status, 'Hit')
  assert.equal((await admin('DELETE', `/proxy-cache/${plugins[0]!.id}/caches/${first.key}`)).status, 204)
  assert.equal((await cached(gw, '/one/get')).status, 'Miss')
  assert.equal((await admin('DELETE', `/proxy-cache/${first.key}`)).status, 204)
  assert.equal((await cached(gw, '/one/get')).status, 'Miss')
})

test('proxy-cache API: DELETE /proxy-cache purges every entry', async (t) => {
  const { gw, admin } = await fixture(t)
  await cached(gw, '/one/x')
  await cached(gw, '/two/x')
  assert.equal((await cached(gw, '/one/x')).status, 'Hit')
  assert.equal((await cached(gw, '/two/x')).status, 'Hit')
  assert.equal((await admin('DELETE', '/proxy-cache')).status, 204)
  assert.equal((await cached(gw, '/one/x')).status, 'Miss')
  assert.equal((await cached(gw, '/two/x')).status, 'Miss')
})

test('proxy-cache API: unknown keys and plugins answer 404', async (t) => {
  const { plugins, routeIds, admin } = await fixture(t)
  assert.equal((await admin('DELETE', '/proxy-cache')).status, 204)
  assert.equal((await admin('DELETE', `/proxy-cache/${plugins[0]!.id}/caches/123`)).status, 404)
  assert.equal((await admin('DELETE', `/proxy-cache/${routeIds[0]}/caches/123`)).status, 404)
  assert.equal((await admin('DELETE', '/proxy-cache/123')).status, 404)
  assert.equal((await admin('GET', `/proxy-cache/${plugins[0]!.id}/caches/123`)).status, 404)
  assert.equal((await admin('GET', '/proxy-cache/123')).status, 404)
  assert.equal((await admin('GET', '/proxy-cache/not-a-uuid/caches/123')).status, 404)
})

test("proxy-cache API: GET answers the entry in Kong's stored shape", async (t) => {
  const { gw, plugins, admin } = await fixture(t)
  const miss = await cached(gw, '/one/get?x=1')
  for (const path of [`/proxy-cache/${plugins[0]!.id}/caches/${miss.key}`, `/proxy-cache/${miss.key}`]) {
    const r = await admin('GET', path)
    assert.equal(r.status, 200, path)
    const e = r.body as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(e.headers['X-Cache-Key'], miss.key)
    assert.equal(e.headers['X-Cache-Status'], 'Miss')
    assert.equal(e.status, 200)
    assert.equal(e.body, miss.body)
    assert.equal(e.body_len, Buffer.byteLength(miss.body))
    assert.equal(e.version, 1)
    assert.equal(e.ttl, 300)
    assert.equal(e.req_body, '')
    assert.ok(Math.abs(e.timestamp - Date.now() / 1000) < 5)
  }
})

test('proxy-cache API: a purge reaches every worker', async (t) => {
  const { gw, relay, admin } = await fixture(t, 2)
  let key = ''
  // New connections until both workers (SO_REUSEPORT) hold the entry.
  for (let i = 0; i < 200; i++) {
    const res = await request(`${gw.url}/one/both`, { reset: true })
    key = String(res.headers['x-cache-key'])
    await res.body.dump()
    const answers = await relay.ask({ op: 'get', dictionaries: ['kong'], key })
    if (answers.length === 2 && answers.every((a) => a.found)) break
  }
  const before = await relay.ask({ op: 'get', dictionaries: ['kong'], key })
  assert.deepEqual(before.map((a) => a.found), [true, true], 'both workers cached the entry')
  assert.equal((await admin('DELETE', `/proxy-cache/${key}`)).status, 204)
  const after = await relay.ask({ op: 'get', dictionaries: null, key })
  assert.deepEqual(after.map((a) => a.found), [false, false])
  assert.equal((await admin('DELETE', `/proxy-cache/${key}`)).status, 404)
})

test('proxy-cache API through a real node: the Admin API reaches the workers of the serving generation', async (t) => {
  const up = await scriptedUpstream(t)
  const gw = await startDblessGateway({
    declarative: [
      '_format_version: "3.0"',
      'services:',
      `- name: cached`,
      `  url: http://127.0.0.1:${up.port}`,
      '  routes:',
      '  - name: c',
      '    paths: [/c]',
      '  plugins:',
      '  - name: proxy-cache',
      '    id: 5d9a4f3e-6a61-4c54-9a43-2a8e3bfa0c11',
      '    config: { strategy: memory }',
      '',
    ].join('\n'),
  })
  t.after(() => gw.stop())
  const pluginId = '5d9a4f3e-6a61-4c54-9a43-2a8e3bfa0c11'
  const get = async (path: string): Promise<{ status: string; key: string }> => {
    const res = await request(`${gw.proxy}${path}`)
    await res.body.dump()
    return { status: String(res.headers['x-cache-status']), key: String(res.headers['x-cache-key']) }
  }
  const admin = async (method: 'GET' | 'DELETE', path: string): Promise<{ status: number; body: string }> => {
    const res = await request(`${gw.admin}${path}`, { method })
    return { status: res.statusCode, body: await res.body.text() }
  }
  const first = await get('/c/x')
  assert.equal(first.status, 'Miss')
  const entry = await admin('GET', `/proxy-cache/${pluginId}/caches/${first.key}`)
  assert.equal(entry.status, 200, entry.body)
  assert.equal((JSON.parse(entry.body) as { headers: Record<string, string> }).headers['X-Cache-Key'], first.key)
  assert.equal((await admin('DELETE', `/proxy-cache/${first.key}`)).status, 204)
  assert.equal((await admin('GET', `/proxy-cache/${first.key}`)).status, 404)
  assert.equal((await admin('DELETE', '/proxy-cache')).status, 204)
})
