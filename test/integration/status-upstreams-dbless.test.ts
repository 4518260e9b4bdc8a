/**
 * The Status API's read-only upstream routes in DB-less mode (kong/status/init.lua attaches the
 * GET methods of kong/api/routes/upstreams.lua when `database = off`; ported from Kong's
 * spec/02-integration/08-status_api/02-targets_routes_spec.lua). A real DB-less node with two
 * workers and its Status API, resolving through a real DNS server on loopback: the `api-*` targets
 * resolve, the `hc-api-*` targets (of an upstream with health checks) do not.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { startDblessGateway, type DblessGateway } from '../helpers/dbless.ts'
import { freePort } from '../helpers/ports.ts'
import { startDnsServer, type DnsServer } from '../helpers/dns-server.ts'

let gw: DblessGateway
let dns: DnsServer
let status: string

interface Answer { status: number; text: string; json: any; headers: Record<string, string | string[] | undefined> } // eslint-disable-line @typescript-eslint/no-explicit-any

async function call (base: string, method: string, path: string, opts: { body?: string; type?: string } = {}): Promise<Answer> {
  const r = await request(base + path, {
    method: method as 'GET',
    headers: opts.type === undefined ? {} : { 'content-type': opts.type },
    body: opts.body,
  })
  const text = await r.body.text()
  let json: unknown = null
  try { json = text === '' ? null : JSON.parse(text) } catch { json = null }
  return { status: r.statusCode, text, json, headers: r.headers }
}
const st = (method: string, path: string, opts?: { body?: string; type?: string }): Promise<Answer> => call(status, method, path, opts)
const adm = (path: string): Promise<Answer> => call(gw.admin, 'GET', path)

const targets = (prefix: string): string => [1, 2, 3, 4].map((i) => `  - target: ${prefix}-${i}:80\n    weight: ${10 * i}\n`).join('')

before(async () => {
  const zone: Record<string, { a: Array<{ ip: string; ttl: number }> }> = {}
  for (let i = 1; i <= 4; i++) zone[`api-${i}`] = { a: [{ ip: `127.0.0.${i}`, ttl: 300 }] }
  dns = await startDnsServer(zone)
  const port = await freePort()
  status = `http://127.0.0.1:${port}`
  gw = await startDblessGateway({
    declarative: `_format_version: "3.0"
upstreams:
- name: upstream.test
  targets:
${targets('api')}- name: hc-upstream.test
  healthchecks:
    passive:
      healthy:
        successes: 1
      unhealthy:
        tcp_failures: 1
        http_failures: 1
        timeouts: 1
  targets:
${targets('hc-api')}- name: empty-upstream.test
`,
    overrides: { status_listen: `127.0.0.1:${port}`, dns_resolver: `127.0.0.1:${dns.port}`, new_dns_client: 'on' },
  })
})

after(async () => {
  await gw?.stop()
  await dns?.close()
})

const idsAndTargets = (data: Array<{ id: string; target: string }>): Record<string, string> => Object.fromEntries(data.map((t) => [t.id, t.target]))

describe('/upstreams/{upstream}/targets/', () => {
  test('POST is not exposed (405)', async () => {
    const r = await st('POST', '/upstreams/upstream.test/targets/', { body: JSON.stringify({ target: 'mashape.com' }), type: 'application/json' })
    assert.equal(r.status, 405)
    assert.deepEqual(r.json, { message: 'Method not allowed' })
  })

  test('GET shows all targets, with or without a trailing slash, as the Admin API does', async () => {
    const fromAdmin = await adm('/upstreams/upstream.test/targets')
    assert.equal(fromAdmin.status, 200)
    assert.equal(fromAdmin.json.data.length, 4)
    for (const append of ['', '/']) {
      const r = await st('GET', `/upstreams/upstream.test/targets${append}`)
      assert.equal(r.status, 200)
      assert.equal(r.json.data.length, 4)
      assert.deepEqual(idsAndTargets(r.json.data), idsAndTargets(fromAdmin.json.data))
      assert.deepEqual(r.json, fromAdmin.json)
    }
  })

  test('an upstream without targets: data is an empty array', async () => {
    const r = await st('GET', '/upstreams/empty-upstream.test/targets')
    assert.equal(r.status, 200)
    assert.match(r.text, /"data":\[\]/)
  })

  test('an unknown upstream is 404', async () => {
    const r = await st('GET', '/upstreams/nope.test/targets')
    assert.equal(r.status, 404)
    assert.deepEqual(r.json, { message: 'Not found' })
  })
})

describe('/upstreams/{upstream}/health/', () => {
  const checkHealth = async (upstream: string, health: string): Promise<void> => {
    const fromAdmin = await adm(`/upstreams/${upstream}/targets`)
    for (const append of ['', '/']) {
      const r = await st('GET', `/upstreams/${upstream}/health${append}`)
      assert.equal(r.status, 200)
      assert.equal(r.json.data.length, 4)
      assert.deepEqual(idsAndTargets(r.json.data), idsAndTargets(fromAdmin.json.data))
      assert.equal(r.json.node_id, gw.primary.nodeId)
      for (const t of r.json.data) {
        assert.equal(t.health, health, `${t.target as string}`)
        for (const a of t.data?.addresses ?? []) assert.equal(a.health, health)
      }
    }
  }

  test('health checks off: HEALTHCHECKS_OFF for targets that resolve', async () => {
    await checkHealth('upstream.test', 'HEALTHCHECKS_OFF')
    const r = await st('GET', '/upstreams/upstream.test/health')
    assert.deepEqual(r.json.data.map((t: { data: { addresses: unknown[] } }) => t.data.addresses.length), [1, 1, 1, 1])
  })

  test('health checks on: DNS_ERROR when the names do not resolve', async () => {
    await checkHealth('hc-upstream.test', 'DNS_ERROR')
  })

  test('?balancer_health=1: the balancer\'s health', async () => {
    const r = await st('GET', '/upstreams/hc-upstream.test/health?balancer_health=1')
    assert.equal(r.status, 200)
    assert.equal(r.json.data.balancer_health, 'UNHEALTHY')
    assert.equal(r.json.next, null)
  })
})

describe('/upstreams/{upstream}/targets/all/', () => {
  test('GET retrieves the first page', async () => {
    const r = await st('GET', '/upstreams/upstream.test/targets/all')
    assert.equal(r.status, 200)
    assert.equal(r.json.data.length, 4)
  })

  test('the offset is a string', async () => {
    const r = await st('GET', '/upstreams/upstream.test/targets?size=2')
    assert.equal(r.status, 200)
    assert.equal(typeof r.json.offset, 'string')
  })

  test('paginates a set: every target once, pages as the Admin API pages them', async () => {
    const seen: string[] = []
    let offset: string | undefined
    for (let page = 0; page < 3; page++) {
      const path = `/upstreams/upstream.test/targets/all?size=2${offset === undefined ? '' : `&offset=${encodeURIComponent(offset)}`}`
      const r = await st('GET', path)
      assert.equal(r.status, 200)
      assert.deepEqual(r.json, (await adm(path)).json)
      assert.equal(r.json.data.length, 2)
      seen.push(...r.json.data.map((t: { id: string }) => t.id))
      offset = r.json.offset
      if (offset === undefined) break
      assert.match(r.json.next, /^\/upstreams\/upstream\.test\/targets\/all\?offset=/)
    }
    assert.equal(offset, undefined)
    assert.equal(new Set(seen).size, 4)
  })

  test('ignores filters and a body that is not JSON', async () => {
    assert.equal((await st('GET', '/upstreams/upstream.test/targets/all?foo=bar')).status, 200)
    const r = await st('GET', '/upstreams/upstream.test/targets/all', { body: 'this fails if decoded as json', type: 'application/json' })
    assert.equal(r.status, 200)
  })

  test('an upstream without targets: {data: [], next: null}', async () => {
    const r = await st('GET', '/upstreams/empty-upstream.test/targets/all')
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, { data: [], next: null })
    assert.match(r.text, /"data":\[\]/)
  })
})

describe('/upstreams/{upstream}/targets/{target}', () => {
  test('(un)healthy posts are not exposed (404)', async () => {
    for (const path of ['/upstreams/upstream.test/targets/api-1:80/unhealthy', '/upstreams/upstream.test/targets/api-1:80/healthy', '/upstreams/upstream.test/targets/api-1:80/127.0.0.1:80/unhealthy']) {
      for (const method of ['POST', 'PUT']) {
        const r = await st(method, path)
        assert.equal(r.status, 404, `${method} ${path}`)
        assert.deepEqual(r.json, { message: 'Not found' })
      }
    }
  })

  test('GET returns the target entity, by host:port and by id', async () => {
    const fromAdmin = await adm('/upstreams/upstream.test/targets/api-1:80')
    assert.equal(fromAdmin.status, 200)
    const r = await st('GET', '/upstreams/upstream.test/targets/api-1:80')
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, fromAdmin.json)
    assert.equal(r.json.target, 'api-1:80')
    assert.equal(r.json.weight, 10)
    const byId = await st('GET', `/upstreams/upstream.test/targets/${r.json.id as string}`)
    assert.deepEqual(byId.json, fromAdmin.json)
    assert.equal((await st('GET', '/upstreams/upstream.test/targets/api-9:80')).status, 404)
    assert.equal((await st('GET', '/upstreams/empty-upstream.test/targets/api-1:80')).status, 404)
  })

  test('PATCH, PUT and DELETE are not exposed (405)', async () => {
    for (const method of ['PATCH', 'PUT', 'DELETE']) {
      const r = await st(method, '/upstreams/upstream.test/targets/api-1:80', method === 'DELETE' ? {} : { body: JSON.stringify({ weight: 659 }), type: 'application/json' })
      assert.equal(r.status, 405, method)
    }
    // nothing changed
    assert.equal((await adm('/upstreams/upstream.test/targets/api-1:80')).json.weight, 10)
  })
})

describe('the rest of the Status API around these routes', () => {
  test('HEAD answers as GET without a body; OPTIONS lists GET, HEAD, OPTIONS', async () => {
    const head = await st('HEAD', '/upstreams/upstream.test/targets')
    assert.equal(head.status, 200)
    assert.equal(head.text, '')
    const opts = await st('OPTIONS', '/upstreams/upstream.test/targets/all')
    assert.equal(opts.status, 204)
    assert.equal(opts.headers.allow, 'GET, HEAD, OPTIONS')
  })

  test('/upstreams and /upstreams/{u} are Admin API routes only (404), as on Kong\'s Status API', async () => {
    assert.equal((await st('GET', '/upstreams')).status, 404)
    assert.equal((await st('GET', '/upstreams/upstream.test')).status, 404)
    assert.equal((await adm('/upstreams/upstream.test')).status, 200)
  })

  test('/status, /status/ready and /status/dns still answer; /status/dns counts the health registry\'s lookups', async () => {
    assert.equal((await st('GET', '/status')).status, 200)
    assert.equal((await st('GET', '/status/ready')).status, 200)
    const r = await st('GET', '/status/dns')
    assert.equal(r.status, 200)
    assert.equal(r.json.worker.count, 2)
    assert.ok(r.json.stats['api-1|A/AAAA'].runs >= 1)
    assert.ok(r.json.stats['api-1|A'].query_succ >= 1)
    assert.ok(r.json.stats['hc-api-1|A']['query_fail:name error'] >= 1)
  })
})
