/**
 * /upstreams and their targets over real HTTP and PostgreSQL (ported from Kong's
 * spec/02-integration/04-admin_api/07-upstreams_routes_spec.lua and 08-targets_routes_spec.lua).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestAdmin, type Admin } from './admin-harness.ts'

let a: Admin
before(async () => { a = await startTestAdmin() })
after(async () => { await a.close() })

let n = 0
const uniq = (p: string): string => `${p}-${++n}.test`

const HEALTHCHECKS = {
  active: {
    type: 'http',
    timeout: 1,
    concurrency: 10,
    http_path: '/',
    https_sni: null,
    https_verify_certificate: true,
    headers: null,
    healthy: { interval: 0, http_statuses: [200, 302], successes: 0 },
    unhealthy: { interval: 0, http_statuses: [429, 404, 500, 501, 502, 503, 504, 505], tcp_failures: 0, timeouts: 0, http_failures: 0 },
  },
  passive: {
    type: 'http',
    healthy: { http_statuses: [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308], successes: 0 },
    unhealthy: { http_statuses: [429, 500, 503], tcp_failures: 0, timeouts: 0, http_failures: 0 },
  },
  threshold: 0,
}

describe('upstreams', () => {
  test('POST creates an upstream with Kong\'s defaults, the full healthchecks object included', async () => {
    const r = await a.form('POST', '/upstreams', 'name=my.upstream')
    assert.equal(r.status, 201)
    const u = r.json
    assert.deepEqual([u.algorithm, u.hash_on, u.hash_fallback, u.hash_on_cookie_path, u.slots, u.use_srv_name], ['round-robin', 'none', 'none', '/', 10000, false])
    for (const k of ['hash_on_header', 'hash_fallback_header', 'hash_on_cookie', 'hash_on_query_arg', 'hash_fallback_query_arg',
      'hash_on_uri_capture', 'hash_fallback_uri_capture', 'tags', 'host_header', 'client_certificate']) assert.equal(u[k], null, k)
    assert.deepEqual(u.healthchecks, HEALTHCHECKS)
  })

  test('name rules, slots range and hash checks use Kong\'s messages', async () => {
    const err = async (body: unknown): Promise<any> => (await a.json('POST', '/upstreams', body)).json.fields
    assert.deepEqual(await err({ slots: 50 }), { name: 'required field missing' })
    assert.deepEqual(await err({ name: 'some invalid host name' }), { name: "Invalid name ('some invalid host name'); must be a valid hostname" })
    assert.deepEqual(await err({ name: '1.2.3.4' }), { name: "Invalid name ('1.2.3.4'); no ip addresses allowed" })
    assert.deepEqual(await err({ name: 'host.test:80' }), { name: "Invalid name ('host.test:80'); no port allowed" })
    assert.deepEqual(await err({ name: 'my.upstream', slots: 2 ** 16 + 1 }), { slots: 'value should be between 10 and 65536' })
    assert.deepEqual(await err({ name: 'my.upstream', hash_on: 'x' }), { hash_on: 'expected one of: none, consumer, ip, header, cookie, path, query_arg, uri_capture' })
    assert.deepEqual(await err({ name: 'my.upstream', hash_on: 'consumer', hash_fallback: 'consumer' }), {
      '@entity': ["failed conditional validation given value of field 'hash_on'"],
      hash_fallback: 'expected one of: none, ip, header, cookie, path, query_arg, uri_capture',
    })
    assert.deepEqual(await err({ name: 'my.upstream', hash_on: 'header' }), {
      '@entity': ["failed conditional validation given value of field 'hash_on'"], hash_on_header: 'required field missing',
    })
    assert.deepEqual(await err({ name: 'my.upstream', hash_on: 'header', hash_on_header: 'h', hash_fallback: 'header', hash_fallback_header: 'h' }),
      { '@entity': ["values of these fields must be distinct: 'hash_on_header', 'hash_fallback_header'"] })
    assert.equal((await err({ name: 'my.upstream', hash_on: 'cookie', hash_on_cookie: 'not a <> cookie' })).hash_on_cookie,
      'contains one or more invalid characters. ASCII control characters (0-31;127), space, tab and the characters ()<>@,;:\\"/?={}[] are not allowed.')
    assert.deepEqual(await err({ name: 'my.upstream', hash_on: 'cookie', hash_on_cookie: 'c', hash_on_cookie_path: 'x' }), { hash_on_cookie_path: 'should start with: /' })
    assert.equal((await a.json('PUT', '/upstreams/1.2.3.4', {})).json.message, "Invalid name ('1.2.3.4'); no ip addresses allowed")
  })

  test('hash_on picks consistent-hashing, none picks round-robin, least-connections drops hash_on', async () => {
    const h = (await a.json('POST', '/upstreams', { name: uniq('h'), hash_on: 'ip' })).json
    assert.deepEqual([h.algorithm, h.hash_on], ['consistent-hashing', 'ip'])
    const back = (await a.json('PATCH', `/upstreams/${h.name as string}`, { hash_on: 'none' })).json
    assert.deepEqual([back.algorithm, back.hash_on], ['round-robin', 'none'])
    const lc = (await a.json('POST', '/upstreams', { name: uniq('lc'), algorithm: 'least-connections', hash_on: 'ip' })).json
    assert.deepEqual([lc.algorithm, lc.hash_on], ['least-connections', 'none'])
    const hc = (await a.json('POST', '/upstreams', { name: uniq('hc'), healthchecks: { active: { healthy: { interval: 5 } }, threshold: 50 } })).json
    assert.equal(hc.healthchecks.active.healthy.interval, 5)
    assert.deepEqual(hc.healthchecks.active.healthy.http_statuses, [200, 302])
    assert.equal(hc.healthchecks.threshold, 50)
    const badHc = await a.json('POST', '/upstreams', { name: uniq('bad'), healthchecks: { active: { timeout: -1, type: 'udp' } } })
    assert.deepEqual(badHc.json.fields, { healthchecks: { active: { timeout: 'value should be between 0 and 65535', type: 'expected one of: tcp, http, https, grpc, grpcs' } } })
  })

  test('duplicate names are a 409; PUT by name creates and replaces', async () => {
    await a.json('POST', '/upstreams', { name: 'dup.test' })
    assert.equal((await a.json('POST', '/upstreams', { name: 'dup.test' })).status, 409)
    const c = await a.json('PUT', '/upstreams/put.test', { slots: 20 })
    assert.equal(c.status, 200)
    const r = await a.json('PUT', '/upstreams/put.test', {})
    assert.deepEqual([r.json.id, r.json.slots], [c.json.id, 10000])
  })
})

describe('targets', () => {
  test('a target without a port gets :8000; IPv6 is bracketed and expanded; weight defaults to 100', async () => {
    const u = (await a.json('POST', '/upstreams', { name: uniq('t') })).json
    const t1 = await a.form('POST', `/upstreams/${u.name as string}/targets`, 'target=10.0.0.1')
    assert.equal(t1.status, 201)
    assert.deepEqual([t1.json.target, t1.json.weight, t1.json.upstream], ['10.0.0.1:8000', 100, { id: u.id }])
    assert.equal(typeof t1.json.created_at, 'number')
    const t2 = await a.json('POST', `/upstreams/${u.id as string}/targets`, { target: '::1', weight: 0 })
    assert.equal(t2.json.target, '[0000:0000:0000:0000:0000:0000:0000:0001]:8000')
    const t3 = await a.json('POST', `/upstreams/${u.id as string}/targets`, { target: 'api.test:81' })
    assert.equal(t3.json.target, 'api.test:81')
    const bad = await a.json('POST', `/upstreams/${u.id as string}/targets`, { target: 'not a host' })
    assert.deepEqual(bad.json.fields, { target: 'Invalid target; not a valid hostname or ip address' })
    assert.deepEqual((await a.json('POST', `/upstreams/${u.id as string}/targets`, { weight: 70000, target: 'a.test' })).json.fields,
      { weight: 'value should be between 0 and 65535' })
  })

  test('the same target twice in one upstream is a 409; other upstreams may have it', async () => {
    const u = (await a.json('POST', '/upstreams', { name: uniq('d') })).json
    const v = (await a.json('POST', '/upstreams', { name: uniq('d') })).json
    assert.equal((await a.json('POST', `/upstreams/${u.id as string}/targets`, { target: 'single-target.test:8080', weight: 1 })).status, 201)
    const dup = await a.json('POST', `/upstreams/${u.id as string}/targets`, { target: 'single-target.test:8080', weight: 100 })
    assert.equal(dup.status, 409)
    assert.equal(dup.json.message, `UNIQUE violation detected on '{target="single-target.test:8080",upstream={id="${u.id as string}"}}'`)
    assert.equal((await a.json('POST', `/upstreams/${u.id as string}/targets`, { target: 'single-target.test' })).status, 201)
    assert.equal((await a.json('POST', `/upstreams/${v.id as string}/targets`, { target: 'single-target.test:8080' })).status, 201)
  })

  test('listing: newest first with a numeric offset; /all pages by id; by id or host:port', async () => {
    const u = (await a.json('POST', '/upstreams', { name: uniq('l') })).json
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await a.json('POST', `/upstreams/${u.name as string}/targets`, { target: `10.0.0.${i + 1}` })).json.id)
    const p1 = (await a.json('GET', `/upstreams/${u.name as string}/targets?size=2`)).json
    assert.deepEqual(p1.data.map((t: any) => t.target), ['10.0.0.5:8000', '10.0.0.4:8000'])
    assert.equal(p1.offset, '2')
    assert.equal(p1.next, `/upstreams/${u.name as string}/targets?offset=2`)
    const p3 = (await a.json('GET', `/upstreams/${u.name as string}/targets?size=2&offset=4`)).json
    assert.deepEqual(p3, { data: [p3.data[0]], next: null })
    const all = (await a.json('GET', `/upstreams/${u.id as string}/targets/all?size=3`)).json
    assert.deepEqual(all.data.map((t: any) => t.id), [...ids].sort().slice(0, 3))
    assert.match(all.next, new RegExp(`^/upstreams/${u.id as string}/targets/all\\?offset=`))
    assert.equal((await a.json('GET', `/upstreams/${u.id as string}/targets/10.0.0.3:8000`)).json.id, ids[2])
    assert.equal((await a.json('GET', `/upstreams/${u.id as string}/targets/${ids[1]!}`)).json.target, '10.0.0.2:8000')
    assert.equal((await a.json('GET', `/upstreams/${u.id as string}/targets/10.0.0.3`)).status, 404)
    const other = (await a.json('POST', '/upstreams', { name: uniq('o') })).json
    assert.equal((await a.json('GET', `/upstreams/${other.id as string}/targets/${ids[1]!}`)).status, 404)
    assert.equal((await a.json('GET', `/upstreams/${u.id as string}/targets?size=x`)).json.message, 'size must be a number')
  })

  test('PUT and PATCH update a target in place; DELETE by host:port; unknown targets are 404', async () => {
    const u = (await a.json('POST', '/upstreams', { name: uniq('w') })).json
    const t = (await a.json('POST', `/upstreams/${u.id as string}/targets`, { target: 'w.test:1000' })).json
    const p = await a.json('PATCH', `/upstreams/${u.id as string}/targets/w.test:1000`, { weight: 5 })
    assert.deepEqual([p.json.id, p.json.weight, p.json.target], [t.id, 5, 'w.test:1000'])
    const put = await a.json('PUT', `/upstreams/${u.id as string}/targets/${t.id as string}`, { target: 'w2.test' })
    assert.deepEqual([put.json.id, put.json.weight, put.json.target], [t.id, 5, 'w2.test:8000'])
    assert.equal((await a.json('PATCH', `/upstreams/${u.id as string}/targets/none.test:1`, { weight: 1 })).status, 404)
    assert.equal((await a.json('DELETE', `/upstreams/${u.id as string}/targets/w2.test:8000`)).status, 204)
    assert.deepEqual((await a.json('GET', `/upstreams/${u.id as string}/targets`)).json, { data: [], next: null })
    assert.equal((await a.json('GET', '/upstreams/nope.test/targets')).status, 404)
  })

  test('/targets is not an endpoint; /upstreams/{u}/health lists targets with HEALTHCHECKS_OFF', async () => {
    const u = (await a.json('POST', '/upstreams', { name: uniq('hh') })).json
    const t = (await a.json('POST', `/upstreams/${u.id as string}/targets`, { target: 'h.test' })).json
    for (const path of ['/targets', `/targets/${t.id as string}`, `/targets/${t.id as string}/upstream`]) {
      assert.deepEqual((await a.json('GET', path)).json, { message: 'Not found' }, path)
    }
    assert.equal((await a.json('POST', '/targets', { target: 'x.test', upstream: { id: u.id } })).status, 404)
    const h = (await a.json('GET', `/upstreams/${u.name as string}/health`)).json
    assert.equal(h.data[0].id, t.id)
    assert.equal(h.data[0].health, 'HEALTHCHECKS_OFF')
    assert.equal(h.next, null)
    assert.equal(typeof h.node_id, 'string')
    const b = (await a.json('GET', `/upstreams/${u.name as string}/health?balancer_health=1`)).json
    assert.equal(b.data.health, 'HEALTHCHECKS_OFF')
  })

  test('deleting an upstream deletes its targets, each with a cluster event', async () => {
    const u = (await a.json('POST', '/upstreams', { name: uniq('del') })).json
    const t1 = (await a.json('POST', `/upstreams/${u.id as string}/targets`, { target: 'a.test' })).json
    const t2 = (await a.json('POST', `/upstreams/${u.id as string}/targets`, { target: 'b.test' })).json
    const seq = Number((await a.db.pool.query('select coalesce(max(seq), 0) as s from cluster_events')).rows[0].s)
    assert.equal((await a.json('DELETE', `/upstreams/${u.name as string}`)).status, 204)
    const ev = (await a.db.pool.query('select data from cluster_events where seq > $1 order by seq', [seq])).rows.map((r) => JSON.parse(r.data))
    assert.deepEqual(ev[0], { entity: 'upstreams', op: 'delete', id: u.id })
    assert.deepEqual(ev.slice(1).map((e: any) => e.id).sort(), [t1.id, t2.id].sort())
    assert.equal((await a.db.pool.query('select count(*)::int as n from targets where upstream_id = $1', [u.id])).rows[0].n, 0)
  })
})
