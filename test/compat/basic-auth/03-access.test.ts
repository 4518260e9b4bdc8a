/**
 * Port of the cases of Kong's spec/03-plugins/10-basic-auth/03-access_spec.lua that
 * test/integration/plugin-basic-auth.test.ts does not cover: realm on every refusal, password only,
 * username only, bad base64, X-Credential-Identifier for each user, unicode user and password,
 * a newline in the decoded value (PCRE's `.` stops there), hide_credentials with
 * Proxy-Authorization, anonymous by username and a missing anonymous consumer.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { basicauth, consumer, plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const bob = consumer({ username: 'bob' })
const anon = consumer({ username: 'no-body' })
const b64 = (s: string): string => Buffer.from(s).toString('base64')
type Echo = { headers: Record<string, string> }

test('basic-auth 03-access (compat)', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ hosts: ['basic-auth1.test'] }, { hosts: ['basic-auth2.test'] }, { hosts: ['basic-auth3.test'] }, { hosts: ['basic-auth4.test'] }],
    plugins: ([r1, r2, r3, r4]) => [
      plugin('basic-auth', { realm: 'test-realm' }, { route: r1 }),
      plugin('basic-auth', { hide_credentials: true }, { route: r2 }),
      plugin('basic-auth', { anonymous: 'no-body' }, { route: r3 }),
      plugin('basic-auth', { anonymous: '00000000-0000-0000-0000-000000000000' }, { route: r4 }),
    ],
    entities: {
      consumers: [bob, anon],
      basicauth_credentials: [
        basicauth(bob, 'bob', 'kong'), basicauth(bob, 'user123', 'password123'), basicauth(bob, 'user321', 'password:123'),
        basicauth(bob, 'üser', 'pässwörd'), basicauth(bob, 'nl', 'first'),
      ],
    },
  })

  const get = async (host: string, headers: Record<string, string>) => await request(url, { headers: { host, ...headers } })
  const refused = async (headers: Record<string, string>): Promise<void> => {
    const res = await get('basic-auth1.test', headers)
    assert.equal(res.statusCode, 401, JSON.stringify(headers))
    assert.equal(res.headers['www-authenticate'], 'Basic realm="test-realm"')
    assert.deepEqual(Object.keys(await res.body.json() as object).sort(), ['message', 'request_id'])
  }
  const identifier = async (authorization: string): Promise<string | undefined> => {
    const res = await get('basic-auth1.test', { authorization })
    assert.equal(res.statusCode, 200, authorization)
    return (await res.body.json() as Echo).headers['x-credential-identifier']
  }

  await t.test('refusals: missing, password only, username only, bad base64, bad credentials in either header', async () => {
    await refused({})
    await refused({ authorization: 'Basic a29uZw==' })
    await refused({ authorization: 'Basic Ym9i' })
    await refused({ authorization: 'Basic adXNlcjEyMzpwYXNzd29yZDEyMw==' })
    await refused({ authorization: 'Basic foo:bar' })
    await refused({ 'proxy-authorization': 'Basic foo:bar' })
  })

  await t.test('valid credentials: identifier is the credential username', async () => {
    assert.equal(await identifier('Basic Ym9iOmtvbmc='), 'bob')
    assert.equal(await identifier('Basic dXNlcjEyMzpwYXNzd29yZDEyMw=='), 'user123')
    assert.equal(await identifier('Basic dXNlcjMyMTpwYXNzd29yZDoxMjM='), 'user321')
    assert.equal(await identifier(`Basic ${b64('üser:pässwörd')}`), 'üser')
    const res = await get('basic-auth1.test', { 'proxy-authorization': 'Basic Ym9iOmtvbmc=' })
    assert.equal(res.statusCode, 200)
    await res.body.dump()
  })

  await t.test('the decoded password ends at a newline (Kong\'s regex has no DOTALL)', async () => {
    assert.equal(await identifier(`Basic ${b64('nl:first\nsecond')}`), 'nl')
    await refused({ authorization: `Basic ${b64('nl:fir\nst')}` })
  })

  await t.test('hide_credentials clears the header it read: Proxy-Authorization, then Authorization', async () => {
    let res = await get('basic-auth2.test', { 'proxy-authorization': 'Basic Ym9iOmtvbmc=', authorization: 'foo' })
    assert.equal(res.statusCode, 200)
    let h = (await res.body.json() as Echo).headers
    assert.equal(h['proxy-authorization'], undefined)
    assert.equal(h.authorization, 'foo')
    res = await get('basic-auth2.test', { authorization: 'Basic Ym9iOmtvbmc=' })
    h = (await res.body.json() as Echo).headers
    assert.equal(h.authorization, undefined)
  })

  await t.test('anonymous by username; a missing anonymous consumer is a 500', async () => {
    let res = await get('basic-auth3.test', { authorization: 'Basic Ym9iOmtvbmc=' })
    let h = (await res.body.json() as Echo).headers
    assert.equal(h['x-consumer-username'], 'bob')
    assert.equal(h['x-anonymous-consumer'], undefined)
    res = await get('basic-auth3.test', { authorization: 'Basic foo:bar' })
    assert.equal(res.statusCode, 200)
    h = (await res.body.json() as Echo).headers
    assert.equal(h['x-consumer-username'], 'no-body')
    assert.equal(h['x-consumer-id'], anon.id)
    assert.equal(h['x-anonymous-consumer'], 'true')
    res = await get('basic-auth4.test', { authorization: 'Basic foo:bar' })
    assert.equal(res.statusCode, 500)
    assert.equal((await res.body.json() as { message: string }).message, "anonymous consumer 00000000-0000-0000-0000-000000000000 is configured but doesn't exist")
  })
})
