/**
 * Port of Kong's spec/03-plugins/30-session/03-session_spec.lua (session.lua `logout`, there with a
 * mocked PDK) as requests through real worker threads: which method, query argument and body field
 * end a session under `logout_methods`, `logout_query_arg`, `logout_post_arg` and
 * `read_body_for_logout`. A logout answers 200 with no body and the cookies cleared; anything else
 * goes upstream authenticated. Beyond the spec: no logout without a session, a JSON body, and the
 * persistent cookie cleared as well.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { consumer, keyauth, plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const coop = consumer({ username: 'coop' })
const anon = consumer({ username: 'anon' })
const cred = keyauth(coop, 'kong')

const CLEARED = 'session=; Path=/; SameSite=Strict; Secure; HttpOnly; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0'

const CONFS: Record<string, Record<string, unknown>> = {
  'get-post': { logout_methods: ['GET', 'POST'], logout_query_arg: 'session_logout' },
  'post-read': { logout_methods: ['POST'], logout_post_arg: 'session_logout', read_body_for_logout: true },
  'post-default': { logout_methods: ['POST'], logout_post_arg: 'session_logout' },
  'post-noread': { logout_methods: ['POST'], logout_post_arg: 'session_logout', read_body_for_logout: false },
  'delete-read': { logout_methods: ['DELETE'], logout_post_arg: 'session_logout', read_body_for_logout: true },
  'delete-default': { logout_methods: ['DELETE'], logout_post_arg: 'session_logout' },
  'delete-noread': { logout_methods: ['DELETE'], logout_post_arg: 'session_logout', read_body_for_logout: false },
  'delete-query': { logout_methods: ['DELETE'], logout_query_arg: 'session_logout' },
  remember: { remember: true },
}

test('session 03-session: logout (compat)', async (t) => {
  const names = Object.keys(CONFS)
  const { url } = await pluginGateway(t, {
    routes: names.map((n) => ({ hosts: [`${n}.test`] })),
    plugins: (routes) => [
      ...routes.flatMap((r, i) => [plugin('session', CONFS[names[i]!]!, { route: r }), plugin('key-auth', { anonymous: anon.id }, { route: r })]),
      plugin('request-termination', { status_code: 403, message: 'So it goes.' }, { consumer: anon }),
    ],
    entities: { consumers: [coop, anon], keyauth_credentials: [cred] },
  })

  const login = async (name: string): Promise<string[]> => {
    const r = await request(`${url}/`, { headers: { host: `${name}.test`, apikey: 'kong' } })
    await r.body.dump()
    assert.equal(r.statusCode, 200)
    const sc = r.headers['set-cookie']
    return (Array.isArray(sc) ? sc : [sc!]).map((c) => c.split('; ')[0]!)
  }

  interface Outcome { logout: boolean; cookies: string[]; status: number }
  const send = async (name: string, method: string, opts: { query?: string; form?: Record<string, string>; json?: unknown; session?: boolean } = {}): Promise<Outcome> => {
    const headers: Record<string, string> = { host: `${name}.test` }
    if (opts.session !== false) headers.cookie = (await login(name)).join('; ')
    let body: string | undefined
    if (opts.form !== undefined) { headers['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(opts.form).toString() }
    if (opts.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(opts.json) }
    const r = await request(`${url}/path${opts.query ?? ''}`, { method: method as 'GET', headers, body })
    const text = await r.body.text()
    const sc = r.headers['set-cookie']
    const cookies = sc === undefined ? [] : Array.isArray(sc) ? sc : [sc]
    // The echo upstream answers JSON; a logout answers an empty 200.
    return { logout: r.statusCode === 200 && text === '', cookies, status: r.statusCode }
  }

  await t.test('logs out with GET request', async () => {
    const o = await send('get-post', 'GET', { query: '?session_logout=true' })
    assert.equal(o.logout, true)
    assert.deepEqual(o.cookies, [CLEARED])
  })

  await t.test('logs out with POST request with body', async () => {
    assert.equal((await send('post-read', 'POST', { form: { session_logout: 'true' } })).logout, true)
    assert.equal((await send('post-read', 'POST', { json: { session_logout: true } })).logout, true, 'JSON body')
    assert.equal((await send('post-read', 'POST', { json: { session_logout: false } })).logout, false, 'false is not a logout')
  })

  await t.test('doesn\'t log out with POST request with body (by default)', async () => {
    assert.equal((await send('post-default', 'POST', { form: { session_logout: 'true' } })).logout, false)
  })

  await t.test('doesn\'t log out with POST request with body (read_body_for_logout=false)', async () => {
    assert.equal((await send('post-noread', 'POST', { form: { session_logout: 'true' } })).logout, false)
  })

  await t.test('logs out with DELETE request with body', async () => {
    assert.equal((await send('delete-read', 'DELETE', { form: { session_logout: 'true' } })).logout, true)
  })

  await t.test('doesn\'t log out with DELETE request with body (by default)', async () => {
    assert.equal((await send('delete-default', 'DELETE', { form: { session_logout: 'true' } })).logout, false)
  })

  await t.test('doesn\'t log out with DELETE request with body (read_body_for_logout=false)', async () => {
    assert.equal((await send('delete-noread', 'DELETE', { form: { session_logout: 'true' } })).logout, false)
  })

  await t.test('logs out with DELETE request with query params', async () => {
    assert.equal((await send('delete-query', 'DELETE', { query: '?session_logout=true' })).logout, true)
    assert.equal((await send('delete-query', 'DELETE', { query: '?session_logout' })).logout, true, 'a bare argument counts')
  })

  await t.test('does not logout with GET requests when method is not allowed', async () => {
    const o = await send('delete-query', 'GET', { query: '?session_logout=true' })
    assert.equal(o.logout, false)
    assert.equal(o.status, 200)
  })

  await t.test('does not logout with POST requests when method is not allowed', async () => {
    assert.equal((await send('delete-read', 'POST', { form: { session_logout: 'true' } })).logout, false)
  })

  await t.test('no session, no logout: the request goes on (here: the anonymous consumer is refused)', async () => {
    const o = await send('delete-query', 'DELETE', { query: '?session_logout=true', session: false })
    assert.equal(o.logout, false)
    assert.equal(o.status, 403)
  })

  await t.test('with remember, logout clears the persistent cookie too', async () => {
    const o = await send('remember', 'DELETE', { query: '?session_logout=true' })
    assert.equal(o.logout, true)
    assert.deepEqual(o.cookies, [CLEARED, CLEARED.replace('session=', 'remember=')])
  })
})
