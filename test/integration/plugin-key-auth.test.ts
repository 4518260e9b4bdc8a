/**
 * key-auth through real worker threads and a real upstream: key sources and their order,
 * failures (missing, empty, duplicate, unknown, expired), hide_credentials, realm, preflight,
 * key_in_body, anonymous, and the X-Consumer-* / X-Credential-Identifier upstream headers.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { consumer, keyauth, plugin, pluginGateway } from '../helpers/kong-rows.ts'

const bob = consumer({ username: 'bob', custom_id: 'bob-1' })
const anon = consumer({ username: 'anonymous' })
const cred = keyauth(bob, 'kong')
const expired = keyauth(bob, 'old', { expires_at: Math.floor(Date.now() / 1000) - 10 })

async function setup (t: Parameters<typeof pluginGateway>[0]) {
  return pluginGateway(t, {
    routes: [{ paths: ['/ka'] }, { paths: ['/hide'] }, { paths: ['/realm'] }, { paths: ['/body'] }, { paths: ['/anon'] }, { paths: ['/nopre'] }, { paths: ['/names'] }],
    plugins: ([ka, hide, realm, body, an, nopre, names]) => [
      plugin('key-auth', {}, { route: ka }),
      plugin('key-auth', { hide_credentials: true, key_in_body: true }, { route: hide }),
      plugin('key-auth', { realm: 'kong-land' }, { route: realm }),
      plugin('key-auth', { key_in_body: true }, { route: body }),
      plugin('key-auth', { anonymous: anon.id }, { route: an }),
      plugin('key-auth', { run_on_preflight: false }, { route: nopre }),
      plugin('key-auth', { key_names: ['api_key', 'other'] }, { route: names }),
    ],
    entities: { consumers: [bob, anon], keyauth_credentials: [cred, expired] },
  })
}

async function json (res: Awaited<ReturnType<typeof request>>): Promise<Record<string, unknown>> {
  return await res.body.json() as Record<string, unknown>
}

test('key-auth: behaviour', async (t) => {
  const { url } = await setup(t)

  await t.test('no key: 401 with kong.response.error body and WWW-Authenticate: Key', async () => {
    const res = await request(`${url}/ka`)
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Key')
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    const body = await json(res)
    assert.equal(body.message, 'No API key found in request')
    assert.match(String(body.request_id), /^[0-9a-f]{32}$/)
  })

  await t.test('valid key in header: proxied with consumer headers', async () => {
    const res = await request(`${url}/ka`, { headers: { apikey: 'kong' } })
    assert.equal(res.statusCode, 200)
    const b = await json(res) as { headers: Record<string, string> }
    assert.equal(b.headers['x-consumer-id'], bob.id)
    assert.equal(b.headers['x-consumer-username'], 'bob')
    assert.equal(b.headers['x-consumer-custom-id'], 'bob-1')
    assert.equal(b.headers['x-credential-identifier'], cred.id)
    assert.equal(b.headers['x-anonymous-consumer'], undefined)
    assert.equal(b.headers.apikey, 'kong')
  })

  await t.test('valid key in query', async () => {
    const res = await request(`${url}/ka?apikey=kong&x=1`)
    assert.equal(res.statusCode, 200)
    const b = await json(res) as { url: string }
    assert.equal(b.url, '/?apikey=kong&x=1')
  })

  await t.test('empty key: No API key found', async () => {
    const res = await request(`${url}/ka?apikey=`)
    assert.equal(res.statusCode, 401)
    assert.equal((await json(res)).message, 'No API key found in request')
  })

  await t.test('apikey[] is not a key', async () => {
    const res = await request(`${url}/ka?apikey[]=kong`)
    assert.equal(res.statusCode, 401)
    assert.equal((await json(res)).message, 'No API key found in request')
  })

  await t.test('duplicate key in query or header: Duplicate API key found', async () => {
    let res = await request(`${url}/ka?apikey=kong&apikey=other`)
    assert.equal(res.statusCode, 401)
    assert.equal((await json(res)).message, 'Duplicate API key found')
    res = await request(`${url}/ka`, { headers: ['apikey', 'kong', 'apikey', 'kong'] })
    assert.equal(res.statusCode, 401)
    assert.equal((await json(res)).message, 'Duplicate API key found')
  })

  await t.test('unknown key and expired key: Unauthorized', async () => {
    let res = await request(`${url}/ka`, { headers: { apikey: 'nope' } })
    assert.equal(res.statusCode, 401)
    assert.equal((await json(res)).message, 'Unauthorized')
    res = await request(`${url}/ka`, { headers: { apikey: 'old' } })
    assert.equal(res.statusCode, 401)
    assert.equal((await json(res)).message, 'Unauthorized')
  })

  await t.test('Accept: text/plain gives the plain template', async () => {
    const res = await request(`${url}/ka`, { headers: { accept: 'text/plain' } })
    assert.equal(res.statusCode, 401)
    assert.match(await res.body.text(), /^No API key found in request\nrequest_id: [0-9a-f]{32}\n$/)
  })

  await t.test('realm goes into WWW-Authenticate', async () => {
    const res = await request(`${url}/realm`)
    await res.body.dump()
    assert.equal(res.headers['www-authenticate'], 'Key realm="kong-land"')
  })

  await t.test('hide_credentials strips header, query arg (keeping order) and body field', async () => {
    let res = await request(`${url}/hide?a=1&apikey=kong&b=2`)
    assert.equal(res.statusCode, 200)
    assert.equal((await json(res) as { url: string }).url, '/?a=1&b=2')
    res = await request(`${url}/hide`, { headers: { apikey: 'kong' } })
    assert.equal(res.statusCode, 200)
    assert.equal((await json(res) as { headers: Record<string, string> }).headers.apikey, undefined)
    res = await request(`${url}/hide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apikey: 'kong', keep: 1 }) })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(JSON.parse((await json(res) as { body: string }).body), { keep: 1 })
  })

  await t.test('key_in_body: form and JSON bodies', async () => {
    let res = await request(`${url}/body`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'apikey=kong&x=y' })
    assert.equal(res.statusCode, 200)
    assert.equal((await json(res) as { body: string }).body, 'apikey=kong&x=y')
    res = await request(`${url}/body`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"apikey":"nope"}' })
    assert.equal(res.statusCode, 401)
    assert.equal((await json(res)).message, 'Unauthorized')
    res = await request(`${url}/body`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"apikey":["a","b"]}' })
    assert.equal(res.statusCode, 401)
    assert.equal((await json(res)).message, 'Duplicate API key found')
  })

  await t.test('anonymous: failure falls back to the anonymous consumer', async () => {
    let res = await request(`${url}/anon`)
    assert.equal(res.statusCode, 200)
    let h = (await json(res) as { headers: Record<string, string> }).headers
    assert.equal(h['x-consumer-id'], anon.id)
    assert.equal(h['x-consumer-username'], 'anonymous')
    assert.equal(h['x-anonymous-consumer'], 'true')
    assert.equal(h['x-credential-identifier'], undefined)
    res = await request(`${url}/anon`, { headers: { apikey: 'kong' } })
    h = (await json(res) as { headers: Record<string, string> }).headers
    assert.equal(h['x-consumer-id'], bob.id)
    assert.equal(h['x-anonymous-consumer'], undefined)
  })

  await t.test('client-sent X-Consumer-* and X-Anonymous-Consumer are overwritten or cleared', async () => {
    const res = await request(`${url}/ka`, { headers: { apikey: 'kong', 'x-consumer-id': 'forged', 'x-anonymous-consumer': 'true', 'x-consumer-custom-id': 'x' } })
    const h = (await json(res) as { headers: Record<string, string> }).headers
    assert.equal(h['x-consumer-id'], bob.id)
    assert.equal(h['x-consumer-custom-id'], 'bob-1')
    assert.equal(h['x-anonymous-consumer'], undefined)
  })

  await t.test('run_on_preflight=false: OPTIONS passes without a key', async () => {
    let res = await request(`${url}/nopre`, { method: 'OPTIONS' })
    assert.equal(res.statusCode, 200)
    await res.body.dump()
    res = await request(`${url}/ka`, { method: 'OPTIONS' })
    assert.equal(res.statusCode, 401)
    await res.body.dump()
  })

  await t.test('key names: header lookup is case-insensitive and _ matches -', async () => {
    let res = await request(`${url}/names`, { headers: { 'API-KEY': 'kong' } })
    assert.equal(res.statusCode, 200)
    await res.body.dump()
    res = await request(`${url}/names?other=kong`)
    assert.equal(res.statusCode, 200)
    await res.body.dump()
    res = await request(`${url}/names?API_KEY=kong`)
    assert.equal(res.statusCode, 401)
    await res.body.dump()
  })
})

test('key-auth: anonymous consumer that does not exist answers 500', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/'] }],
    plugins: ([r]) => [plugin('key-auth', { anonymous: 'ghost' }, { route: r })],
  })
  const res = await request(url)
  assert.equal(res.statusCode, 500)
  assert.equal((await json(res)).message, "anonymous consumer ghost is configured but doesn't exist")
})
