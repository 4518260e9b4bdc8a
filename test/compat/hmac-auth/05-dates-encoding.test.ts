/**
 * hmac-auth details of Kong's access.lua beyond its spec's cases: dates are read as
 * ngx.parse_http_time reads them (an ISO 8601 x-date is refused even though Date.parse takes it;
 * asctime and RFC 850 dates are taken), the signature is decoded as ngx.decode_base64 does (the
 * URL-safe alphabet does not match), and `/path?` signs as `/path` (get_path_with_query).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { request } from 'undici'
import { consumer, hmacauth, plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const DATE_REQUIRED = 'HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication'
const bob = consumer({ username: 'bob' })
const sig = (data: string): string => createHmac('sha1', 'secret').update(data).digest('base64')
const auth = (headers: string, signature: string): string =>
  `hmac username="bob", algorithm="hmac-sha1", headers="${headers}", signature="${signature}"`

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad = (n: number): string => String(n).padStart(2, '0')
function asctime (d: Date): string {
  const day = String(d.getUTCDate()).padStart(2, ' ')
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()}`
}
function rfc850 (d: Date): string {
  return `Sunday, ${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${pad(d.getUTCFullYear() % 100)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`
}

test('hmac-auth dates and encodings (compat)', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ hosts: ['hmacauth.test'] }],
    plugins: ([r]) => [plugin('hmac-auth', {}, { route: r })],
    entities: { consumers: [bob], hmacauth_credentials: [hmacauth(bob, 'bob', 'secret')] },
  })
  const call = async (headers: Record<string, string>, path = '/request') => {
    const res = await request(`${url}${path}`, { headers: { host: 'hmacauth.test', ...headers } })
    return { status: res.statusCode, body: await res.body.json() as { message?: string } }
  }

  await t.test('an ISO 8601 x-date is not an HTTP date', async () => {
    const iso = new Date().toISOString()
    const r = await call({ 'x-date': iso, authorization: auth('x-date', sig(`x-date: ${iso}`)) })
    assert.equal(r.status, 401)
    assert.equal(r.body.message, DATE_REQUIRED)
  })

  await t.test('asctime and RFC 850 dates are HTTP dates', async () => {
    for (const date of [asctime(new Date()), rfc850(new Date())]) {
      const r = await call({ date, authorization: auth('date', sig(`date: ${date}`)) })
      assert.equal(r.status, 200, date)
    }
  })

  await t.test('a signature in the URL-safe base64 alphabet does not match', async () => {
    const date = new Date().toUTCString()
    // find a header value whose signature has a `+` or `/`
    let n = 0
    let s = ''
    do s = sig(`date: ${date}\nx-n: ${++n}`); while (!/[+/]/.test(s))
    let r = await call({ date, 'x-n': String(n), authorization: auth('date x-n', s) })
    assert.equal(r.status, 200)
    r = await call({ date, 'x-n': String(n), authorization: auth('date x-n', s.replace(/\+/g, '-').replace(/\//g, '_')) })
    assert.equal(r.status, 401)
    assert.equal(r.body.message, 'HMAC signature does not match')
  })

  await t.test('request-line of `/request?` is signed without the `?`', async () => {
    const date = new Date().toUTCString()
    const r = await call({ date, authorization: auth('date request-line', sig(`date: ${date}\nGET /request HTTP/1.1`)) }, '/request?')
    assert.equal(r.status, 200)
  })
})
