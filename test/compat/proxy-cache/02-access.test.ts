/**
 * Port of parts of Kong's spec/03-plugins/31-proxy-cache/02-access_spec.lua not covered by
 * test/integration/plugin-proxy-cache.test.ts: response_headers off/on/default across Miss and
 * Hit, the Kong-Debug request header, the X-Kong-*-Latency headers (and Via) on a Miss and a Hit, and content types
 * that do not parse (in the response or in the config) being a Bypass, not an error.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { request } from 'undici'
import { plugin, pluginGateway, withEntities } from '../../helpers/kong-rows.ts'
import { route, service, snapshot, snapshotVersion } from '../../helpers/worker-harness.ts'

test('proxy-cache 02-access: headers and content types', async (t) => {
  const up = createServer((req, res) => {
    const ct = new URL(req.url ?? '/', 'http://x').searchParams.get('ct') ?? 'application/json'
    res.writeHead(200, { 'content-type': ct })
    res.end('{"ok":true}')
  })
  up.listen(0, '127.0.0.1')
  await once(up, 'listening')
  t.after(() => { up.close() })
  const { h } = await pluginGateway(t, { routes: [] })
  const svc = service({ host: '127.0.0.1', port: (up.address() as { port: number }).port })
  const hosts = ['route-1', 'route-17', 'route-18', 'route-19', 'route-22', 'route-23', 'route-24']
  const rs = hosts.map((x) => route({ hosts: [`${x}.test`] }, svc))
  const [r1, r17, r18, r19, r22, r23, r24] = rs
  const base = { strategy: 'memory', content_type: ['text/plain', 'application/json'] }
  await h.publish(withEntities(snapshot([svc], rs, snapshotVersion()), {
    plugins: [
      plugin('proxy-cache', base, { route: r1 }),
      plugin('proxy-cache', { strategy: 'memory', content_type: ['*/*'] }, { route: r17 }),
      plugin('proxy-cache', { strategy: 'memory', content_type: ['application/xml; charset=UTF-8'] }, { route: r18 }),
      plugin('proxy-cache', { strategy: 'memory', content_type: ['application/xml;'] }, { route: r19 }),
      plugin('proxy-cache', { ...base, response_headers: { age: false, 'X-Cache-Status': false, 'X-Cache-Key': false } }, { route: r22 }),
      plugin('proxy-cache', { ...base, response_headers: { age: true, 'X-Cache-Status': true, 'X-Cache-Key': true } }, { route: r23 }),
      plugin('proxy-cache', base, { route: r24 }),
    ],
  }))
  const get = async (host: string, path = '/get', headers: Record<string, string> = {}): Promise<Record<string, string | string[] | undefined>> => {
    const res = await request(`${h.url}${path}`, { headers: { host: `${host}.test`, ...headers } })
    assert.equal(res.statusCode, 200)
    await res.body.dump()
    return res.headers
  }

  await t.test('response_headers off: no X-Cache-*, no Age, unless Kong-Debug', async () => {
    let r = await get('route-22')
    assert.equal(r['x-cache-status'], undefined)
    r = await get('route-22')
    assert.equal(r['x-cache-status'], undefined)
    assert.equal(r['x-cache-key'], undefined)
    assert.equal(r.age, undefined)
    r = await get('route-22', '/get', { 'kong-debug': '1' })
    assert.equal(r['x-cache-status'], 'Hit')
    assert.notEqual(r.age, undefined)
    assert.notEqual(r['x-cache-key'], undefined)
  })

  for (const host of ['route-23', 'route-24']) {
    await t.test(`response_headers ${host === 'route-23' ? 'on' : 'default'}: Miss has the key but no Age; Hit has both`, async () => {
      let r = await get(host)
      assert.equal(r['x-cache-status'], 'Miss')
      assert.notEqual(r['x-cache-key'], undefined)
      assert.equal(r.age, undefined)
      r = await get(host)
      assert.equal(r['x-cache-status'], 'Hit')
      assert.notEqual(r.age, undefined)
      assert.notEqual(r['x-cache-key'], undefined)
    })
  }

  // Kong sends both latency headers (and Via) on a Hit too: the plugin marks the request as
  // proxied (KONG_PROXIED) before kong.response.exit, so no X-Kong-Response-Latency.
  await t.test('X-Kong-Proxy-Latency and X-Kong-Upstream-Latency on a Miss and on a Hit', async () => {
    for (const which of ['proxy', 'upstream']) {
      let r = await get('route-1', `/get?show-me=${which}-latency`)
      assert.equal(r['x-cache-status'], 'Miss')
      assert.match(String(r[`x-kong-${which}-latency`]), /^\d+$/)
      r = await get('route-1', `/get?show-me=${which}-latency`)
      assert.equal(r['x-cache-status'], 'Hit')
      assert.match(String(r['x-kong-proxy-latency']), /^\d+$/)
      assert.match(String(r['x-kong-upstream-latency']), /^\d+$/)
      assert.match(String(r.via), /kong\//)
      assert.equal(r['x-kong-response-latency'], undefined)
    }
  })

  await t.test('content types: */* caches; a parameter mismatch, an invalid response type or config element bypass', async () => {
    let r = await get('route-17', '/xml?ct=application/xml')
    assert.equal(r['content-type'], 'application/xml')
    assert.equal(r['x-cache-status'], 'Miss')
    r = await get('route-17', '/xml?ct=application/xml')
    assert.equal(r['x-cache-status'], 'Hit')
    r = await get('route-18', '/xml?ct=application/xml')
    assert.equal(r['x-cache-status'], 'Bypass')
    r = await get('route-18', '/xml?ct=application/xml;')
    assert.equal(r['content-type'], 'application/xml;')
    assert.equal(r['x-cache-status'], 'Bypass')
    r = await get('route-19', '/xml?ct=application/xml')
    assert.equal(r['x-cache-status'], 'Bypass')
  })
})
