/**
 * basic-auth through real worker threads: Authorization and Proxy-Authorization, hashed
 * passwords, malformed headers, realm, hide_credentials, and anonymous "logical OR" together with
 * key-auth (kong.md §4.3).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { basicauth, consumer, keyauth, plugin, pluginGateway } from '../helpers/kong-rows.ts'

const bob = consumer({ username: 'bob' })
const anon = consumer({ username: 'anon' })
const b64 = (s: string): string => Buffer.from(s).toString('base64')

test('basic-auth: behaviour', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/ba'] }, { paths: ['/hide'] }, { paths: ['/or'] }, { paths: ['/and'] }],
    plugins: ([ba, hide, or, and]) => [
      plugin('basic-auth', {}, { route: ba }),
      plugin('basic-auth', { hide_credentials: true, realm: 'r1' }, { route: hide }),
      plugin('basic-auth', { anonymous: anon.username }, { route: or }),
      plugin('key-auth', { anonymous: anon.id }, { route: or }),
      plugin('basic-auth', {}, { route: and }),
      plugin('key-auth', {}, { route: and }),
    ],
    entities: {
      consumers: [bob, anon],
      basicauth_credentials: [basicauth(bob, 'bob', 'p:ss word')],
      keyauth_credentials: [keyauth(bob, 'k')],
    },
  })

  const unauthorized = async (headers: Record<string, string>, path = '/ba'): Promise<void> => {
    const res = await request(`${url}${path}`, { headers })
    assert.equal(res.statusCode, 401, JSON.stringify(headers))
    assert.equal(res.headers['www-authenticate'], path === '/hide' ? 'Basic realm="r1"' : 'Basic realm="service"')
    assert.equal((await res.body.json() as { message: string }).message, 'Unauthorized')
  }

  await t.test('missing, malformed, unknown user, wrong password: 401 Unauthorized', async () => {
    await unauthorized({})
    await unauthorized({ authorization: 'Basic' })
    await unauthorized({ authorization: 'Basic !!!' })
    await unauthorized({ authorization: `Basic ${b64('nocolon')}` })
    await unauthorized({ authorization: `Basic ${b64('alice:p:ss word')}` })
    await unauthorized({ authorization: `Basic ${b64('bob:wrong')}` })
    await unauthorized({ authorization: `Bearer ${b64('bob:p:ss word')}` })
  })

  await t.test('valid credentials (password with a colon): proxied, identifier is the username', async () => {
    const res = await request(`${url}/ba`, { headers: { authorization: `basic ${b64('bob:p:ss word')}` } })
    assert.equal(res.statusCode, 200)
    const h = (await res.body.json() as { headers: Record<string, string> }).headers
    assert.equal(h['x-consumer-id'], bob.id)
    assert.equal(h['x-consumer-username'], 'bob')
    assert.equal(h['x-credential-identifier'], 'bob')
    assert.equal(h.authorization, `basic ${b64('bob:p:ss word')}`)
  })

  await t.test('Proxy-Authorization is read first; a bad one falls back to Authorization', async () => {
    let res = await request(`${url}/ba`, { headers: { 'proxy-authorization': `Basic ${b64('bob:p:ss word')}` } })
    assert.equal(res.statusCode, 200)
    await res.body.dump()
    res = await request(`${url}/ba`, { headers: { 'proxy-authorization': 'Basic x', authorization: `Basic ${b64('bob:p:ss word')}` } })
    assert.equal(res.statusCode, 200)
    await res.body.dump()
  })

  await t.test('hide_credentials removes the header upstream', async () => {
    const res = await request(`${url}/hide`, { headers: { authorization: `Basic ${b64('bob:p:ss word')}` } })
    assert.equal(res.statusCode, 200)
    assert.equal((await res.body.json() as { headers: Record<string, string> }).headers.authorization, undefined)
    await unauthorized({}, '/hide')
  })

  await t.test('logical OR: either credential works; none gives the anonymous consumer', async () => {
    let res = await request(`${url}/or`, { headers: { apikey: 'k' } })
    let h = (await res.body.json() as { headers: Record<string, string> }).headers
    assert.equal(h['x-consumer-username'], 'bob')
    assert.equal(h['x-credential-identifier'] !== undefined, true)
    res = await request(`${url}/or`, { headers: { authorization: `Basic ${b64('bob:p:ss word')}` } })
    h = (await res.body.json() as { headers: Record<string, string> }).headers
    assert.equal(h['x-consumer-username'], 'bob')
    assert.equal(h['x-credential-identifier'], 'bob')
    assert.equal(h['x-anonymous-consumer'], undefined)
    res = await request(`${url}/or`)
    h = (await res.body.json() as { headers: Record<string, string> }).headers
    assert.equal(h['x-consumer-username'], 'anon')
    assert.equal(h['x-anonymous-consumer'], 'true')
  })

  await t.test('logical AND: both plugins must pass', async () => {
    let res = await request(`${url}/and`, { headers: { apikey: 'k' } })
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Basic realm="service"')
    await res.body.dump()
    res = await request(`${url}/and`, { headers: { apikey: 'k', authorization: `Basic ${b64('bob:p:ss word')}` } })
    assert.equal(res.statusCode, 200)
    await res.body.dump()
  })
})
