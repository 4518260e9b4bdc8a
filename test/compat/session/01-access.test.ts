/**
 * Port of Kong's spec/03-plugins/30-session/01-access_spec.lua (cookie storage) over real worker
 * threads and an echo upstream: the Set-Cookie attributes (defaults, a custom name with SameSite=Lax
 * and neither Secure nor HttpOnly, the persistent cookie's Expires and Max-Age), the cookie as the
 * only credential after key-auth (anonymous consumer refused by request-termination), the consumer
 * headers it sets upstream, and authenticated groups carried by the session. Beyond the spec: a
 * tampered cookie, another secret, another audience, key-auth without `anonymous`, the
 * persistent cookie restoring a session, response and request headers, and the timeouts
 * (idle, rolling renewal, absolute).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { consumer, keyauth, plugin, pluginGateway } from '../../helpers/kong-rows.ts'
import { deriveKey, seal } from '../../../src/plugins/session/codec.ts'

const coop = consumer({ username: 'coop' })
const anon = consumer({ username: 'anon' })
const cred = keyauth(coop, 'kong')
const SECRET = 'a secret known to the test'

type Echo = { url: string; headers: Record<string, string | undefined> }
interface Res { status: number; cookies: string[]; headers: Record<string, string | string[] | undefined>; body: string }

const setCookies = (h: Record<string, string | string[] | undefined>): string[] => {
  const v = h['set-cookie']
  return v === undefined ? [] : Array.isArray(v) ? v : [v]
}
/** `name=value` of a Set-Cookie. */
const pair = (setCookie: string): string => setCookie.split('; ')[0]!

test('session 01-access (compat)', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [
      { paths: ['/test1'], hosts: ['konghq.test'] },
      { paths: ['/test2'], hosts: ['konghq.test'] },
      { paths: ['/headers'], hosts: ['konghq.test'] },
      { paths: ['/test5'], hosts: ['httpbin.test'] },
      { paths: ['/secret'], hosts: ['konghq.test'] },
      { paths: ['/other-secret'], hosts: ['konghq.test'] },
      { paths: ['/strict'], hosts: ['konghq.test'] },
      { paths: ['/idle'], hosts: ['konghq.test'] },
      { paths: ['/rolling'], hosts: ['konghq.test'] },
      { paths: ['/absolute'], hosts: ['konghq.test'] },
    ],
    plugins: ([r1, r2, r3, r5, sec, other, strict, idle, rolling, absolute]) => [
      plugin('session', {}, { route: r1 }),
      plugin('session', { cookie_name: 'da_cookie', cookie_same_site: 'Lax', cookie_http_only: false, cookie_secure: false }, { route: r2 }),
      plugin('session', {}, { route: r3 }),
      plugin('session', { remember_rolling_timeout: 3600, remember: true }, { route: r5 }),
      plugin('session', { secret: SECRET, response_headers: ['id', 'audience', 'subject', 'timeout'], request_headers: ['id', 'subject', 'absolute-timeout'] }, { route: sec }),
      plugin('session', { secret: 'another secret', audience: 'other' }, { route: other }),
      plugin('session', { secret: SECRET }, { route: strict }),
      plugin('session', { secret: SECRET, idling_timeout: 2 }, { route: idle }),
      plugin('session', { secret: SECRET, rolling_timeout: 4, idling_timeout: 0 }, { route: rolling }),
      plugin('session', { secret: SECRET, absolute_timeout: 1, idling_timeout: 0 }, { route: absolute }),
      ...[r1, r2, r3, r5, sec, other, idle, rolling, absolute].map((r) => plugin('key-auth', { anonymous: anon.id }, { route: r })),
      plugin('key-auth', {}, { route: strict }),
      plugin('request-termination', { status_code: 403, message: 'So it goes.' }, { consumer: anon }),
    ],
    entities: { consumers: [coop, anon], keyauth_credentials: [cred] },
  })

  const get = async (host: string, path: string, headers: Record<string, string> = {}): Promise<Res> => {
    const r = await request(`${url}${path}`, { headers: { host, ...headers } })
    return { status: r.statusCode, cookies: setCookies(r.headers), headers: r.headers, body: await r.body.text() }
  }

  await t.test('plugin attaches Set-Cookie and cookie response headers', async () => {
    const res = await get('konghq.test', '/test1/status/200', { apikey: 'kong' })
    assert.equal(res.status, 200)
    assert.equal(res.cookies.length, 1)
    const parts = res.cookies[0]!.split('; ')
    assert.equal(parts[0]!.split('=')[0], 'session')
    assert.ok(parts[0]!.length > 'session='.length + 40)
    assert.deepEqual(parts.slice(1), ['Path=/', 'SameSite=Strict', 'Secure', 'HttpOnly'])
  })

  await t.test('cookie works as authentication after initial auth plugin', async () => {
    let res = await get('konghq.test', '/test2/status/200')
    assert.equal(res.status, 403)
    res = await get('konghq.test', '/test2/status/200', { apikey: 'kong' })
    assert.equal(res.status, 200)
    const cookie = res.cookies[0]!
    const parts = cookie.split('; ')
    assert.equal(parts[0]!.split('=')[0], 'da_cookie')
    assert.deepEqual(parts.slice(1), ['Path=/', 'SameSite=Lax'])
    // The whole Set-Cookie string sent back as the Cookie header, as Kong's spec does.
    res = await get('konghq.test', '/test2/status/200', { cookie })
    assert.equal(res.status, 200)
    assert.deepEqual(res.cookies, [], 'an authenticated session is not saved again')
  })

  await t.test('plugin attaches Set-Cookie with max-age/expiry when remember is true', async () => {
    const before = Date.now()
    const res = await get('httpbin.test', '/test5/status/200', { apikey: 'kong' })
    assert.equal(res.status, 200)
    assert.equal(res.cookies.length, 2)
    assert.equal(res.cookies[0]!.split('=')[0], 'session')
    assert.deepEqual(res.cookies[0]!.split('; ').slice(1), ['Path=/', 'SameSite=Strict', 'Secure', 'HttpOnly'])
    const parts = res.cookies[1]!.split('; ')
    assert.equal(parts[0]!.split('=')[0], 'remember')
    assert.deepEqual(parts.slice(1, 5), ['Path=/', 'SameSite=Strict', 'Secure', 'HttpOnly'])
    const expires = /^Expires=(.*)$/.exec(parts[5]!)
    assert.ok(expires !== null, parts[5])
    const at = Date.parse(expires[1]!)
    assert.ok(at >= Math.floor(before / 1000) * 1000 + 3600_000 - 1000 && at <= Date.now() + 3600_000 + 1000, expires[1])
    assert.equal(parts[6], 'Max-Age=3600')
  })

  await t.test('the persistent cookie alone restores a session (new session cookie)', async () => {
    const first = await get('httpbin.test', '/test5/status/200', { apikey: 'kong' })
    const remember = pair(first.cookies[1]!)
    const res = await get('httpbin.test', '/test5/status/200', { cookie: remember })
    assert.equal(res.status, 200)
    assert.equal((JSON.parse(res.body) as Echo).headers['x-consumer-username'], 'coop')
    assert.equal(res.cookies.length, 2, 'a new session cookie and a renewed persistent one')
    assert.notEqual(pair(res.cookies[0]!), pair(first.cookies[0]!))
    const again = await get('httpbin.test', '/test5/status/200', { cookie: pair(res.cookies[0]!) })
    assert.equal(again.status, 200)
  })

  await t.test('consumer headers are set correctly on request', async () => {
    let res = await get('konghq.test', '/headers', { apikey: 'kong' })
    assert.equal(res.status, 200)
    res = await get('konghq.test', '/headers', { cookie: pair(res.cookies[0]!) })
    assert.equal(res.status, 200)
    const h = (JSON.parse(res.body) as Echo).headers
    assert.equal(h['x-consumer-id'], coop.id)
    assert.equal(h['x-consumer-username'], 'coop')
    assert.equal(h['x-credential-identifier'], cred.id)
    assert.equal(h['x-anonymous-consumer'], undefined)
    assert.equal(h['x-consumer-custom-id'], undefined)
    assert.equal(h['x-authenticated-groups'], undefined)
  })

  await t.test('authenticated groups are retrieved from the session and set upstream', async () => {
    // No bundled plugin sets authenticated groups (Kong's spec uses its ctx-checker fixture):
    // the session is sealed here with the route's secret, as the plugin seals its own.
    const now = Date.now()
    const body = { k: 's', a: 'default', i: 'x'.repeat(43), c: now, r: now, t: now, s: 'coop', d: [coop.id, cred.id, ['agents', 'doubleagents']] }
    const res = await get('konghq.test', '/secret', { cookie: `session=${seal(deriveKey(SECRET), 'cookie', body)}` })
    assert.equal(res.status, 200)
    const h = (JSON.parse(res.body) as Echo).headers
    assert.equal(h['x-authenticated-groups'], 'agents, doubleagents')
    assert.equal(h['x-consumer-id'], coop.id)
  })

  await t.test('a tampered cookie, another secret or audience: no session', async () => {
    const res = await get('konghq.test', '/secret', { apikey: 'kong' })
    const c = pair(res.cookies[0]!)
    assert.equal((await get('konghq.test', '/secret', { cookie: c })).status, 200)
    const value = c.slice('session='.length)
    const flipped = value.slice(0, 20) + (value[20] === 'A' ? 'B' : 'A') + value.slice(21)
    assert.equal((await get('konghq.test', '/secret', { cookie: `session=${flipped}` })).status, 403)
    assert.equal((await get('konghq.test', '/secret', { cookie: `session=${value.slice(0, -4)}` })).status, 403)
    assert.equal((await get('konghq.test', '/secret', { cookie: 'session=garbage' })).status, 403)
    assert.equal((await get('konghq.test', '/other-secret', { cookie: c })).status, 403)
    const now = Date.now()
    const other = seal(deriveKey(SECRET), 'cookie', { k: 's', a: 'other', i: 'y'.repeat(43), c: now, r: now, t: now, s: 'coop', d: [coop.id, cred.id, null] })
    assert.equal((await get('konghq.test', '/secret', { cookie: `session=${other}` })).status, 403, 'another audience')
  })

  await t.test('key-auth without anonymous still asks for a key', async () => {
    const res = await get('konghq.test', '/secret', { apikey: 'kong' })
    const r = await get('konghq.test', '/strict', { cookie: pair(res.cookies[0]!) })
    assert.equal(r.status, 401)
  })

  await t.test('response_headers and request_headers', async () => {
    let res = await get('konghq.test', '/secret', { apikey: 'kong' })
    const sid = res.headers['session-id']
    assert.equal(typeof sid, 'string')
    assert.equal(res.headers['session-audience'], 'default')
    assert.equal(res.headers['session-subject'], 'coop')
    assert.equal(res.headers['session-timeout'], '900')
    res = await get('konghq.test', '/secret', { cookie: pair(res.cookies[0]!) })
    assert.equal(res.headers['session-id'], sid)
    const h = (JSON.parse(res.body) as Echo).headers
    assert.equal(h['session-id'], sid)
    assert.equal(h['session-subject'], 'coop')
    assert.ok(Number(h['session-absolute-timeout']) > 86300, h['session-absolute-timeout'])
    assert.equal(h['session-audience'], undefined)
  })

  await t.test('idling timeout: an unused session expires, a used one is touched', async () => {
    let res = await get('konghq.test', '/idle', { apikey: 'kong' })
    let c = pair(res.cookies[0]!)
    const stale = c
    for (let i = 0; i < 4; i++) {
      await sleep(800)
      res = await get('konghq.test', '/idle', { cookie: c })
      assert.equal(res.status, 200)
      assert.equal(res.cookies.length, 1, 'touched (idle clock moved)')
      c = pair(res.cookies[0]!)
    }
    assert.equal((await get('konghq.test', '/idle', { cookie: stale })).status, 403, 'the first cookie idled out')
    await sleep(2100)
    assert.equal((await get('konghq.test', '/idle', { cookie: c })).status, 403)
  })

  await t.test('rolling timeout: renewed after 3/4 of it, an old cookie expires with it', async () => {
    let res = await get('konghq.test', '/rolling', { apikey: 'kong' })
    const first = pair(res.cookies[0]!)
    res = await get('konghq.test', '/rolling', { cookie: first })
    assert.equal(res.status, 200)
    assert.deepEqual(res.cookies, [])
    await sleep(3200)
    res = await get('konghq.test', '/rolling', { cookie: first })
    assert.equal(res.status, 200)
    assert.equal(res.cookies.length, 1, 'renewed')
    const renewed = pair(res.cookies[0]!)
    await sleep(1000)
    assert.equal((await get('konghq.test', '/rolling', { cookie: first })).status, 403)
    assert.equal((await get('konghq.test', '/rolling', { cookie: renewed })).status, 200)
  })

  await t.test('absolute timeout: no session past it, renewed or not', async () => {
    const res = await get('konghq.test', '/absolute', { apikey: 'kong' })
    const c = pair(res.cookies[0]!)
    assert.equal((await get('konghq.test', '/absolute', { cookie: c })).status, 200)
    await sleep(1100)
    assert.equal((await get('konghq.test', '/absolute', { cookie: c })).status, 403)
  })
})
