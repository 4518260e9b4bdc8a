/**
 * Port of Kong's spec/03-plugins/19-hmac-auth/03-access_spec.lua (HTTP/1.1 cases): missing and
 * malformed credentials, wrong signatures, date / x-date and clock skew, Authorization vs
 * Proxy-Authorization, request-line and @request-target, enforce_headers, algorithms,
 * validate_request_body with Digest, hide_credentials, upstream headers, anonymous.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { request } from 'undici'
import { consumer, hmacauth, plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const SIGNATURE_NOT_VALID = 'HMAC signature cannot be verified'
const SIGNATURE_NOT_SAME = 'HMAC signature does not match'
const DATE_REQUIRED = 'HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication'

const bob = consumer({ username: 'bob' })
const anon = consumer({ username: 'anon' })

const httpDate = (offsetS = 0): string => new Date(Date.now() + offsetS * 1000).toUTCString()
const sig = (alg: string, data: string, secret = 'secret'): string => createHmac(alg, secret).update(data).digest('base64')
const auth = (headers: string, signature: string, alg = 'hmac-sha1', user = 'bob'): string =>
  `hmac username="${user}", algorithm="${alg}", headers="${headers}", signature="${signature}"`

test('hmac-auth 03-access', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ hosts: ['hmacauth.test'] }, { hosts: ['hmacauth2.test'] }, { hosts: ['hmacauth3.test'] }, { hosts: ['hmacauth4.test'] }, { hosts: ['hmacauth5.test'] }, { hosts: ['hmacauth6.test'] }],
    plugins: ([r1, r2, r3, r4, r5, r6]) => [
      plugin('hmac-auth', { clock_skew: 3000, realm: 'test-realm' }, { route: r1 }),
      plugin('hmac-auth', { clock_skew: 3000, anonymous: anon.id, hide_credentials: true }, { route: r2 }),
      plugin('hmac-auth', { clock_skew: 3000, anonymous: 'not-there' }, { route: r3 }),
      plugin('hmac-auth', { clock_skew: 3000, validate_request_body: true }, { route: r4 }),
      plugin('hmac-auth', { clock_skew: 3000, enforce_headers: ['date', 'request-line'], algorithms: ['hmac-sha1', 'hmac-sha256'] }, { route: r5 }),
      plugin('hmac-auth', {}, { route: r6 }),
    ],
    entities: { consumers: [bob, anon], hmacauth_credentials: [hmacauth(bob, 'bob', 'secret')] },
  })
  const call = async (host: string, headers: Record<string, string>, path = '/request', method = 'GET', body?: string) => {
    const res = await request(`${url}${path}`, { method, headers: { host, ...headers }, body })
    const text = await res.body.text()
    return { status: res.statusCode, www: res.headers['www-authenticate'], json: () => JSON.parse(text) as Record<string, unknown> }
  }

  await t.test('missing credentials, invalid header, wrong signature, bad base64', async () => {
    const date = httpDate()
    let r = await call('hmacauth.test', { date }, '/request', 'POST', '')
    assert.equal(r.status, 401)
    assert.equal(r.www, 'hmac realm="test-realm"')
    assert.equal(r.json().message, 'Unauthorized')
    r = await call('hmacauth6.test', { date, 'proxy-authorization': 'this is no hmac token at all is it?' })
    assert.equal(r.status, 401)
    assert.equal(r.www, 'hmac')
    r = await call('hmacauth.test', { date, authorization: auth('date', 'dXNlcm5hbWU6cGFzc3dvcmQ=') })
    assert.equal(r.json().message, SIGNATURE_NOT_SAME)
    r = await call('hmacauth.test', { date, authorization: auth('date', 'not base64 at all') })
    assert.equal(r.json().message, SIGNATURE_NOT_SAME)
    r = await call('hmacauth.test', { date, 'proxy-authorization': 'hmac :dXNlcm5hbWU6cGFzc3dvcmQ=' })
    assert.equal(r.json().message, SIGNATURE_NOT_VALID)
    r = await call('hmacauth.test', { date, 'proxy-authorization': 'hmac username=,algorithm,headers,dXNlcm5hbWU6cGFzc3dvcmQ=' })
    assert.equal(r.json().message, SIGNATURE_NOT_VALID)
    r = await call('hmacauth.test', { date, authorization: auth('date', sig('sha1', `date: ${date}`), 'hmac-sha1', 'alice') })
    assert.equal(r.json().message, SIGNATURE_NOT_VALID)
    r = await call('hmacauth.test', { date, authorization: auth('date', sig('sha1', `date: ${date}`), 'hmac-md5') })
    assert.equal(r.json().message, SIGNATURE_NOT_VALID)
  })

  await t.test('date: missing, skewed, x-date preferred, malformed x-date with a good date', async () => {
    const s = sig('sha1', 'date: x')
    let r = await call('hmacauth.test', { authorization: auth('date', s) })
    assert.equal(r.json().message, DATE_REQUIRED)
    r = await call('hmacauth6.test', { date: httpDate(-400), authorization: auth('date', s) })
    assert.equal(r.json().message, DATE_REQUIRED)
    const xdate = httpDate()
    r = await call('hmacauth.test', { 'x-date': xdate, authorization: auth('x-date', sig('sha1', `x-date: ${xdate}`)) })
    assert.equal(r.status, 200)
    const date = httpDate()
    r = await call('hmacauth.test', { 'x-date': 'wrong date', date, authorization: auth('date', sig('sha1', `date: ${date}`)) })
    assert.equal(r.status, 200)
    r = await call('hmacauth.test', { 'x-date': 'wrong date', date, authorization: auth('x-date', sig('sha1', 'x-date: wrong date')) })
    assert.equal(r.status, 200)
  })

  await t.test('GET, POST, proxy-authorization, content-md5, request-line, @request-target', async () => {
    const date = httpDate()
    let r = await call('hmacauth.test', { date, authorization: auth('date', sig('sha1', `date: ${date}`)) })
    assert.equal(r.status, 200)
    const h = r.json().headers as Record<string, string>
    assert.equal(h['x-consumer-username'], 'bob')
    assert.equal(h['x-credential-identifier'], 'bob')
    assert.equal(h.authorization, auth('date', sig('sha1', `date: ${date}`)))
    r = await call('hmacauth.test', { date, 'proxy-authorization': auth('date', sig('sha1', `date: ${date}`)) })
    assert.equal(r.status, 200)
    r = await call('hmacauth.test', { date, authorization: auth('date', sig('sha1', `date: ${date}`)) }, '/request', 'POST', 'x')
    assert.equal(r.status, 200)
    r = await call('hmacauth.test', { date, authorization: auth('date', sig('sha1', `date: ${date}`)), 'proxy-authorization': 'hmac wrong' })
    assert.equal(r.status, 200)
    r = await call('hmacauth.test', { date, authorization: 'hello', 'proxy-authorization': auth('date', sig('sha1', `date: ${date}`)) })
    assert.equal(r.status, 200)
    r = await call('hmacauth.test', { date, 'content-md5': 'md5', authorization: auth('date content-md5', sig('sha1', `date: ${date}\ncontent-md5: md5`)) })
    assert.equal(r.status, 200)
    r = await call('hmacauth.test', { date, authorization: auth('date request-line', sig('sha1', `date: ${date}\nGET /request?a=1&b=%20x HTTP/1.1`)) }, '/request?a=1&b=%20x')
    assert.equal(r.status, 200)
    r = await call('hmacauth.test', { date, authorization: auth('date request-line', sig('sha1', `date: ${date}\nGET /request HTTP/1.1`)) }, '/request?a=1')
    assert.equal(r.json().message, SIGNATURE_NOT_SAME)
    r = await call('hmacauth.test', { date, authorization: auth('date @request-target', sig('sha1', `date: ${date}\n@request-target: get /request`)) })
    assert.equal(r.status, 200)
    r = await call('hmacauth.test', { date, authorization: `hmac username="bob",algorithm="hmac-sha1",headers="date",signature="${sig('sha1', `date: ${date}`)}"` })
    assert.equal(r.status, 200)
  })

  await t.test('algorithms sha256/384/512 and the allowed list', async () => {
    const date = httpDate()
    for (const alg of ['sha256', 'sha384', 'sha512']) {
      const r = await call('hmacauth.test', { date, authorization: auth('date', sig(alg, `date: ${date}`), `hmac-${alg}`) })
      assert.equal(r.status, 200, alg)
    }
    const r = await call('hmacauth5.test', { date, authorization: auth('date request-line', sig('sha512', `date: ${date}\nGET /request HTTP/1.1`), 'hmac-sha512') })
    assert.equal(r.json().message, SIGNATURE_NOT_VALID)
  })

  await t.test('enforce_headers', async () => {
    const date = httpDate()
    let r = await call('hmacauth5.test', { date, authorization: auth('date', sig('sha1', `date: ${date}`)) })
    assert.equal(r.json().message, SIGNATURE_NOT_VALID)
    r = await call('hmacauth5.test', { date, authorization: auth('date request-line', sig('sha256', `date: ${date}\nGET /request HTTP/1.1`), 'hmac-sha256') })
    assert.equal(r.status, 200)
  })

  await t.test('validate_request_body with Digest', async () => {
    const date = httpDate()
    const body = '{"a":"apple","b":"ball"}'
    const digest = `SHA-256=${createHash('sha256').update(body).digest('base64')}`
    let r = await call('hmacauth4.test', { date, authorization: auth('date', sig('sha1', `date: ${date}`)) }, '/request', 'POST', body)
    assert.equal(r.json().message, SIGNATURE_NOT_SAME)
    r = await call('hmacauth4.test', { date, authorization: auth('date', sig('sha1', `date: ${date}`)) })
    assert.equal(r.status, 200)
    const empty = `SHA-256=${createHash('sha256').update('').digest('base64')}`
    r = await call('hmacauth4.test', { date, digest: empty, authorization: auth('date digest', sig('sha1', `date: ${date}\ndigest: ${empty}`)) })
    assert.equal(r.status, 200)
    r = await call('hmacauth4.test', { date, digest, authorization: auth('date digest', sig('sha1', `date: ${date}\ndigest: ${digest}`)) }, '/request', 'POST', body)
    assert.equal(r.status, 200)
    r = await call('hmacauth4.test', { date, digest, authorization: auth('date', sig('sha1', `date: ${date}`)) }, '/request', 'POST', body)
    assert.equal(r.status, 200)
    r = await call('hmacauth4.test', { date, digest, authorization: auth('date digest', sig('sha1', `date: ${date}\ndigest: ${digest}`)) }, '/request', 'POST', `${body}x`)
    assert.equal(r.json().message, SIGNATURE_NOT_SAME)
    r = await call('hmacauth4.test', { date, digest: `${digest}x`, authorization: auth('date', sig('sha1', `date: ${date}`)) }, '/request', 'POST', body)
    assert.equal(r.json().message, SIGNATURE_NOT_SAME)
  })

  await t.test('anonymous and hide_credentials', async () => {
    const date = httpDate()
    let r = await call('hmacauth2.test', { date, authorization: auth('date', sig('sha1', `date: ${date}`)) })
    let h = r.json().headers as Record<string, string>
    assert.equal(h['x-consumer-username'], 'bob')
    assert.equal(h.authorization, undefined)
    r = await call('hmacauth2.test', { date, authorization: 'hmac nope' })
    h = r.json().headers as Record<string, string>
    assert.equal(h['x-consumer-username'], 'anon')
    assert.equal(h['x-anonymous-consumer'], 'true')
    r = await call('hmacauth3.test', { date })
    assert.equal(r.status, 500)
    assert.equal(r.json().message, "anonymous consumer not-there is configured but doesn't exist")
  })
})
