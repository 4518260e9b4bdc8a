/**
 * Port of Kong's spec/02-integration/05-proxy/30-max-args_spec.lua: `lua_max_uri_args`,
 * `lua_max_post_args` and `lua_max_req_headers` limit what plugins see (the first N query
 * arguments, form arguments, header fields), never what is proxied. For N = 50, 100 (the
 * default, not set) and 200, each on a node of its own on one PostgreSQL database (entities
 * created through the first node's Admin API), with `headers = off` and `headers_upstream = off`
 * as in the spec.
 *
 * Kong's spec reads what plugins see through its test plugin `max-args` (spec/fixtures/
 * custom_plugins), which answers with kong.request.get_query / get_headers / get_body. Sluice has
 * no Lua plugins; request-termination with `echo = true` answers with the same three PDK calls
 * (kong/plugins/request-termination/handler.lua), so it stands in for it on `/max-args`. The
 * proxied cases go to a real upstream that answers with what it received, plus N - 2 response
 * headers of its own (the count the test plugin sets), all of which must reach the client.
 *
 * Header fields: the pinned uWebSockets.js build (20.30) takes at most 48 fields in a request head
 * (README, Known limits at the edge), so the spec's N fields cannot be sent for N = 50, 100, 200.
 * The header side runs with `lua_max_req_headers = 40` on every node instead: 40 fields are all
 * seen, of 41 the first 40 are. Query and form arguments use the spec's N.
 *
 * Not portable: the spec's log assertions ("uri args truncated" and so on in Kong's error log) and
 * the ngx.* twins of each PDK call (nginx internals); the response-header limit
 * (`lua_max_resp_headers`, kong.response.get_headers in the test plugin) has no observable
 * counterpart without the test plugin, and Sluice does not implement that key.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { loadConfig } from '../../../src/config/load.ts'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { create, rawRequest } from './http-helpers.ts'

/** Header fields the client sends when nothing is to be truncated (see the module comment). */
const FIELDS = 40

let db: TestDb
let upstream: Server
let upstreamPort: number
let entitiesCreated = false

interface Params {
  /** a1=v1 ... in order. */
  query: Array<[string, string]>
  /** Exactly the request's header fields, in order, names lowercase. */
  headers: Array<[string, string]>
  body: string
  target: (path: string) => string
}

/** Kong's get_parameters(n): n query and form arguments; `fields` header fields (Host first). */
function parameters (n: number, fields: number): Params {
  const query: Array<[string, string]> = []
  for (let i = 1; i <= n; i++) query.push([`a${i}`, `v${i}`])
  const encoded = query.map(([k, v]) => `${k}=${v}`).join('&')
  const headers: Array<[string, string]> = [
    ['host', `127.0.0.1:${upstreamPort}`],
    ['content-length', String(encoded.length)],
    ['content-type', 'application/x-www-form-urlencoded'],
    ['user-agent', 'kong'],
  ]
  for (let i = 5; i <= fields; i++) headers.push([`a${i}`, `v${i}`])
  return { query, headers, body: encoded, target: (path) => `${path}?${encoded}` }
}

const obj = (pairs: ReadonlyArray<readonly [string, string]>): Record<string, string> => Object.fromEntries(pairs)

/**
 * Response headers minus those Kong's validate() leaves out (framing, Date, Server, latency), and
 * uWS's write mark `uWebSockets: 20` (README, Known limits at the edge).
 */
const NOT_OWN = new Set(['content-length', 'connection', 'content-type', 'date', 'server', 'x-kong-response-latency', 'uwebsockets'])
function ownResponseHeaders (h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) if (!NOT_OWN.has(k)) out[k] = v
  return out
}

interface Seen { url: string; headers: Array<[string, string]>; body: string }

/** The echo: what it received, with a1..a(k-2) response headers for k query arguments. */
async function startUpstream (): Promise<void> {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const headers: Array<[string, string]> = []
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!])
      const url = req.url ?? ''
      const seen: Seen = { url, headers, body: Buffer.concat(chunks).toString() }
      const json = JSON.stringify(seen)
      const k = [...new URLSearchParams(url.slice(url.indexOf('?') + 1)).keys()].length
      const out: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)) }
      for (let i = 1; i <= k - 2; i++) out[`a${i}`] = `v${i}`
      res.writeHead(200, out)
      res.end(json)
    })
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  upstreamPort = (upstream.address() as { port: number }).port
}

before(async () => {
  await startUpstream()
  db = await createTestDb()
})

after(async () => {
  await db?.drop()
  upstream?.closeAllConnections()
  upstream?.close()
})

async function createEntities (admin: string): Promise<void> {
  const svc = await create(admin, '/services', { url: `http://127.0.0.1:${upstreamPort}` })
  await create(admin, '/routes', { service: { id: svc.id }, paths: ['/proxy'] })
  const route = await create(admin, '/routes', { paths: ['/max-args'] })
  await create(admin, '/plugins', { name: 'request-termination', route: { id: route.id }, config: { status_code: 200, echo: true } })
}

interface Echo { request: { headers: Record<string, string>; query: Record<string, string>; body?: Record<string, string>; raw_body: string } }

for (const n of [50, 100, 200]) {
  describe(`max args [#postgres] (${n} parameters)`, () => {
    let gw: Gateway
    before(async () => {
      const limits: Record<string, string> = n !== 100 ? { lua_max_uri_args: String(n), lua_max_post_args: String(n) } : {}
      gw = await startGateway(db.settings, {
        nginx_worker_processes: '1',
        lua_max_req_headers: String(FIELDS),
        headers_upstream: 'off',
        headers: 'off',
        ...limits,
      })
      if (!entitiesCreated) {
        await createEntities(gw.admin)
        entitiesCreated = true
        await gw.primary.sync()
      }
    })
    after(async () => { await gw?.stop() })

    const post = async (path: string, p: Params): Promise<{ status: number; headers: Record<string, string>; body: string }> =>
      rawRequest(gw.proxyPort, 'POST', p.target(path), p.headers, p.body)

    test(`no truncation when using ${n} parameters`, async () => {
      const p = parameters(n, FIELDS)
      const res = await post('/max-args', p)
      assert.equal(res.status, 200, res.body)
      const seen = (JSON.parse(res.body) as Echo).request
      assert.deepEqual(seen.query, obj(p.query))
      assert.deepEqual(seen.headers, obj(p.headers))
      assert.deepEqual(seen.body, obj(p.query))
      assert.equal(seen.raw_body, p.body)
      assert.deepEqual(ownResponseHeaders(res.headers), {})
    })

    test(`truncation when using ${n + 1} parameters`, async () => {
      const p = parameters(n + 1, FIELDS + 1)
      const res = await post('/max-args', p)
      assert.equal(res.status, 200, res.body)
      const seen = (JSON.parse(res.body) as Echo).request
      // the first N of each, in the order they were sent (nginx stops at N)
      assert.deepEqual(seen.query, obj(p.query.slice(0, n)))
      assert.deepEqual(seen.headers, obj(p.headers.slice(0, FIELDS)))
      assert.deepEqual(seen.body, obj(p.query.slice(0, n)))
      assert.equal(seen.raw_body, p.body, 'the raw body is whole')
      assert.deepEqual(ownResponseHeaders(res.headers), {})
    })

    for (const count of [n, n + 1]) {
      test(`no truncation when using ${count} parameters when proxying`, async () => {
        const p = parameters(count, count === n ? FIELDS : FIELDS + 1)
        const res = await post('/proxy', p)
        assert.equal(res.status, 200, res.body)
        const seen = JSON.parse(res.body) as Seen
        assert.equal(seen.url, p.target('/'))
        const dropped = new Set(['connection', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-path', 'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-proto', 'x-real-ip', 'via'])
        const sorted = (l: Array<[string, string]>): string[] => l.map(([k, v]) => `${k}: ${v}`).sort()
        assert.deepEqual(sorted(seen.headers.filter(([k]) => !dropped.has(k))), sorted(p.headers))
        assert.deepEqual([...new URLSearchParams(seen.body)], p.query)
        // the upstream's count - 2 response headers all reach the client
        const expected: Record<string, string> = {}
        for (let i = 1; i <= count - 2; i++) expected[`a${i}`] = `v${i}`
        assert.deepEqual(ownResponseHeaders(res.headers), expected)
      })
    }
  })
}

test('lua_max_uri_args, lua_max_post_args: integers between 1 and 1000, as Kong\'s conf_loader checks', () => {
  for (const key of ['lua_max_uri_args', 'lua_max_post_args']) {
    assert.equal(loadConfig({ env: {}, overrides: { [key]: '1000' } })[key === 'lua_max_uri_args' ? 'luaMaxUriArgs' : 'luaMaxPostArgs'], 1000)
    for (const bad of ['0', '1001', '1.5', 'x']) {
      assert.throws(() => loadConfig({ env: {}, overrides: { [key]: bad } }), new RegExp(key), `${key} = ${bad}`)
    }
  }
  const d = loadConfig({ env: {}, overrides: {} })
  assert.deepEqual([d.luaMaxUriArgs, d.luaMaxPostArgs], [100, 100])
})
