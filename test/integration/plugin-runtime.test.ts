/**
 * The plugin runtime through real worker threads: Kong's 8-level scope precedence, consumer-scoped
 * instances applied only after authentication (and only to later plugins), disabled instances,
 * execution order by priority, global plugins on 404s, header filters on plugin exits, a broken
 * instance answering 500, request-termination on a service-less route, and a snapshot swap.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { consumer, keyauth, plugin, pluginGateway, withEntities } from '../helpers/kong-rows.ts'
import { route, service, snapshot, snapshotVersion } from '../helpers/worker-harness.ts'

async function message (res: Awaited<ReturnType<typeof request>>): Promise<unknown> {
  return (await res.body.json() as { message?: unknown }).message
}

function term (message: string, scope: Parameters<typeof plugin>[2], status = 418): ReturnType<typeof plugin> {
  return plugin('request-termination', { status_code: status, message }, scope)
}

test('precedence: route+service > route > service > global, resolved per route', async (t) => {
  const { url, h, echo } = await pluginGateway(t, { routes: [] })
  const other = service({ host: '127.0.0.1', port: echo.port })
  const svc = service({ host: '127.0.0.1', port: echo.port })
  const rs = route({ paths: ['/rs'] }, svc)
  const r = route({ paths: ['/r'] }, svc)
  const s = route({ paths: ['/s'] }, svc)
  const g = route({ paths: ['/g'] }, other)
  const snap = withEntities(snapshot([svc, other], [rs, r, s, g], snapshotVersion()), {
    plugins: [
      term('global', {}),
      term('service', { service: svc }),
      term('route', { route: r }),
      term('route-only-for-rs', { route: rs }),
      term('route+service', { route: rs, service: svc }),
    ],
  })
  const acks = await h.publish(snap)
  assert.ok(acks.every((a) => a.type === 'snapshot-ack'))
  for (const [path, want] of [['/rs', 'route+service'], ['/r', 'route'], ['/s', 'service'], ['/g', 'global']]) {
    const res = await request(`${url}${path}`)
    assert.equal(res.statusCode, 418, path)
    assert.equal(await message(res), want, path)
  }
  // kong.response.exit({message}) has no request_id and Kong's gateway headers.
  const res = await request(`${url}/g`)
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  assert.ok(res.headers['x-kong-response-latency'] !== undefined)
  assert.match(String(res.headers.server), /^kong\//)
  assert.deepEqual(await res.body.json(), { message: 'global' })
})

test('consumer-scoped instances apply after the auth plugin identified the consumer', async (t) => {
  const bob = consumer({ username: 'bob' })
  const alice = consumer({ username: 'alice' })
  const carol = consumer({ username: 'carol' })
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/c'] }, { paths: ['/d'] }],
    plugins: ([c, d]) => [
      plugin('key-auth', {}),
      term('bob', { consumer: bob }),
      term('alice on /c', { consumer: alice, route: c }),
      // Runs before key-auth (priority 100001): in Kong its consumer-scoped config never applies.
      plugin('correlation-id', { echo_downstream: true, header_name: 'X-Corr' }, { consumer: carol }),
      term('d-route', { route: d }),
    ],
    entities: {
      consumers: [bob, alice, carol],
      keyauth_credentials: [keyauth(bob, 'b'), keyauth(alice, 'a'), keyauth(carol, 'c')],
    },
  })
  let res = await request(`${url}/c`, { headers: { apikey: 'b' } })
  assert.equal(res.statusCode, 418)
  assert.equal(await message(res), 'bob')
  res = await request(`${url}/c`, { headers: { apikey: 'a' } })
  assert.equal(await message(res), 'alice on /c')
  // alice on /d: route-scoped beats her route-less consumer... she has none; the route one applies.
  res = await request(`${url}/d`, { headers: { apikey: 'a' } })
  assert.equal(await message(res), 'd-route')
  // bob on /d: consumer (level 5) beats route (level 6).
  res = await request(`${url}/d`, { headers: { apikey: 'b' } })
  assert.equal(await message(res), 'bob')
  res = await request(`${url}/c`, { headers: { apikey: 'c' } })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['x-corr'], undefined)
  await res.body.dump()
  res = await request(`${url}/c`)
  assert.equal(res.statusCode, 401)
  await res.body.dump()
})

test('disabled instances and instances for stream protocols only are skipped', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/'] }],
    plugins: ([r]) => [
      plugin('request-termination', { status_code: 403 }, { route: r }, { enabled: false }),
      plugin('ip-restriction', { deny: ['0.0.0.0/0', '::/0'] }, { route: r }, { protocols: ['tcp', 'tls'] }),
    ],
  })
  const res = await request(url)
  assert.equal(res.statusCode, 200)
  await res.body.dump()
})

test('execution order follows PRIORITY: bot-detection (2500) > key-auth (1250) > ip-restriction (990)', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/'] }],
    plugins: ([r]) => [
      plugin('ip-restriction', { deny: ['127.0.0.0/8', '::1'] }, { route: r }),
      plugin('key-auth', {}, { route: r }),
      plugin('bot-detection', {}, { route: r }),
    ],
  })
  let res = await request(url, { headers: { 'user-agent': 'Googlebot/2.1' } })
  assert.equal(res.statusCode, 403)
  assert.equal(await message(res), 'Forbidden')
  res = await request(url, { headers: { 'user-agent': 'curl/8' } })
  assert.equal(res.statusCode, 401)
  await res.body.dump()
})

test('global plugins run header filters on 404s; route plugins shape plugin exits', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/api'] }],
    plugins: ([r]) => [
      plugin('correlation-id', { echo_downstream: true, header_name: 'X-Corr', generator: 'uuid' }),
      plugin('cors', { origins: ['http://a.test'] }, { route: r }),
      plugin('key-auth', {}, { route: r }),
    ],
  })
  let res = await request(`${url}/nowhere`, { headers: { 'x-corr': 'given' } })
  assert.equal(res.statusCode, 404)
  assert.equal(res.headers['x-corr'], 'given')
  assert.equal((await res.body.json() as { message: string }).message, 'no Route matched with those values')
  res = await request(`${url}/nowhere`)
  assert.match(String(res.headers['x-corr']), /^[0-9a-f-]{36}$/)
  await res.body.dump()
  res = await request(`${url}/api`, { headers: { origin: 'http://a.test' } })
  assert.equal(res.statusCode, 401)
  assert.equal(res.headers['access-control-allow-origin'], 'http://a.test')
  assert.equal(res.headers.vary, 'Origin')
  assert.match(String(res.headers['x-corr']), /^[0-9a-f-]{36}$/)
  await res.body.dump()
})

test('an instance whose configuration cannot be prepared answers 500, it does not open the route', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/'] }],
    plugins: ([r]) => {
      const p = plugin('bot-detection', {}, { route: r })
      ;(p.config as Record<string, unknown>).deny = ['(unclosed']
      return [p]
    },
  })
  const res = await request(url)
  assert.equal(res.statusCode, 500)
  assert.deepEqual(await res.body.json(), { message: 'An unexpected error occurred' })
})

test('request-termination answers on a route without a service (plugins run before the 503)', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/term'], service: null }, { paths: ['/none'], service: null }],
    plugins: ([r]) => [plugin('request-termination', {}, { route: r })],
  })
  let res = await request(`${url}/term`)
  assert.equal(res.statusCode, 503)
  assert.deepEqual(await res.body.json(), { message: 'Service unavailable' })
  res = await request(`${url}/none`)
  assert.equal(res.statusCode, 503)
  assert.equal((await res.body.json() as { message: string }).message, 'no Service found with those values')
})

test('a new snapshot replaces the chains: plugins added and removed without restart', async (t) => {
  const { url, h, svc } = await pluginGateway(t, { routes: [] })
  const r = route({ paths: ['/'] }, svc)
  await h.publish(withEntities(snapshot([svc], [r], snapshotVersion()), { plugins: [term('first', { route: r })] }))
  let res = await request(url)
  assert.equal(await message(res), 'first')
  await h.publish(withEntities(snapshot([svc], [r], snapshotVersion()), { plugins: [] }))
  res = await request(url)
  assert.equal(res.statusCode, 200)
  await res.body.dump()
})
