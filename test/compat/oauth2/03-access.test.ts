/**
 * Port of cases of Kong's spec/03-plugins/25-oauth2/03-access_spec.lua over the whole gateway
 * (primary with PostgreSQL, workers, HTTPS listener, echo upstream): the authorize endpoint's
 * errors and redirect_uri answers (codes of 32 word characters, a redirect_uri with a query, several
 * redirect_uris, a final slash, state), the token endpoint's client and method errors, and the
 * authentication challenge bodies and WWW-Authenticate values, custom auth_header_name,
 * client_credentials answers and upstream headers, the authorization code exchange's errors, PKCE
 * (public and confidential clients under pkce none / lax / strict) and global_credentials codes.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Agent, request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { freePort } from '../../helpers/ports.ts'
import { startEcho, type Upstream } from '../../helpers/upstream.ts'
import { adminCall, type AdminAnswer } from '../../helpers/admin-api.ts'

let db: TestDb
let gw: Gateway
let echo: Upstream
let httpPort: number
let tlsPort: number
const tls = new Agent({ connect: { rejectUnauthorized: false } })
type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any
const admin = (method: string, path: string, body?: unknown): Promise<AdminAnswer> => adminCall(gw.admin, method, path, body)

interface Res { status: number; headers: Record<string, string | string[] | undefined>; json: Json }

async function call (host: string, path: string, opts: { method?: string; json?: unknown; form?: Record<string, string>; multipart?: Record<string, string>; headers?: Record<string, string>; https?: boolean } = {}): Promise<Res> {
  const headers: Record<string, string> = { host, ...opts.headers }
  let body: string | undefined
  if (opts.multipart !== undefined) {
    const b = 'XxOauthBoundaryxX'
    headers['content-type'] = `multipart/form-data; boundary=${b}`
    body = Object.entries(opts.multipart).map(([k, v]) => `--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') + `--${b}--\r\n`
  }
  if (opts.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(opts.json) }
  if (opts.form !== undefined) { headers['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(opts.form).toString() }
  const https = opts.https !== false
  const r = await request(`${https ? 'https' : 'http'}://127.0.0.1:${https ? tlsPort : httpPort}${path}`, {
    method: (opts.method ?? 'POST') as 'POST', headers, body, dispatcher: https ? tls : undefined,
  })
  const text = await r.body.text()
  let json: Json = text
  try { json = JSON.parse(text) } catch {}
  return { status: r.statusCode, headers: r.headers, json }
}

const BASE = { provision_key: 'provision123', authenticated_userid: 'id123' }

before(async () => {
  echo = await startEcho()
  db = await createTestDb()
  httpPort = await freePort()
  tlsPort = await freePort()
  gw = await startGateway(db.settings, { proxy_listen: `127.0.0.1:${httpPort}, 127.0.0.1:${tlsPort} ssl`, trusted_ips: '127.0.0.1' })
  const routes: Array<[string, Record<string, unknown>]> = [
    ['oauth2.test', { scopes: ['email', 'profile', 'user.email'], mandatory_scope: true, provision_key: 'provision123', enable_authorization_code: true, enable_implicit_grant: true }],
    ['oauth2_4.test', { scopes: ['email', 'profile'], mandatory_scope: true, provision_key: 'provision123', enable_client_credentials: true, token_expiration: 5 }],
    ['oauth2_5.test', { scopes: ['email', 'profile'], mandatory_scope: true, provision_key: 'provision123', enable_client_credentials: true, realm: 'test-oauth2' }],
    ['oauth2_6.test', { scopes: ['email', 'profile', 'user.email'], mandatory_scope: true, provision_key: 'provision123', enable_authorization_code: true, accept_http_if_already_terminated: true }],
    ['oauth2_14.test', { scopes: ['email', 'profile', 'user.email'], provision_key: 'provision123', enable_authorization_code: true, global_credentials: true, pkce: 'none' }],
    ['oauth2_15.test', { scopes: ['email', 'profile', 'user.email'], provision_key: 'provision123', enable_authorization_code: true, global_credentials: true, pkce: 'strict' }],
    ['oauth2_16.test', { scopes: ['email', 'profile', 'user.email'], provision_key: 'provision123', enable_authorization_code: true, global_credentials: true, pkce: 'lax' }],
    ['oauth2_17.test', { scopes: ['email', 'profile', 'user.email'], provision_key: 'provision123', enable_authorization_code: true, global_credentials: true }],
    ['oauth2_11.test', { scopes: ['email', 'profile'], mandatory_scope: true, provision_key: 'provision123', enable_client_credentials: true, auth_header_name: 'custom_header_name' }],
  ]
  for (const [host, config] of routes) {
    const s = await admin('POST', '/services', { url: echo.url })
    const r = await admin('POST', `/services/${s.json.id}/routes`, { hosts: [host], protocols: ['http', 'https'] })
    const p = await admin('POST', `/routes/${r.json.id}/plugins`, { name: 'oauth2', config })
    assert.equal(p.status, 201, JSON.stringify(p.json))
  }
  await admin('POST', '/consumers', { username: 'bob' })
  const apps: Array<Record<string, unknown>> = [
    { client_id: 'clientid123', client_secret: 'secret123', hash_secret: true, redirect_uris: ['http://google.test/kong'], name: 'testapp' },
    { client_id: 'clientid789', client_secret: 'secret789', redirect_uris: ['http://google.test/kong?foo=bar&code=123'], name: 'testapp2' },
    { client_id: 'clientid456', client_secret: 'secret456', redirect_uris: ['http://one.test/one/', 'http://two.test/two'], name: 'testapp3' },
    { client_id: 'clientid333', client_secret: 'secret333', hash_secret: true, redirect_uris: ['http://google.test/kong'], name: 'testapp3' },
    { client_id: 'clientid11211', client_secret: 'secret11211', redirect_uris: ['http://google.test/kong'], name: 'testapp50', client_type: 'public' },
    { client_id: 'clientid10112', client_secret: 'secret10112', redirect_uris: null, name: 'testapp311' },
  ]
  for (const app of apps) assert.equal((await admin('POST', '/consumers/bob/oauth2', app)).status, 201)
  await gw.primary.sync()
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await echo?.close()
  await tls.close()
})

const noStore = (r: Res): void => {
  assert.equal(r.headers['cache-control'], 'no-store')
  assert.equal(r.headers.pragma, 'no-cache')
}

test('authorize: errors in Kong\'s order, as JSON or in the redirect_uri', async () => {
  let r = await call('oauth2.test', '/oauth2/authorize')
  assert.equal(r.status, 400)
  assert.deepEqual(r.json, { error_description: 'Invalid provision_key', error: 'invalid_provision_key' })
  noStore(r)
  r = await call('oauth2.test', '/oauth2/authorize', { json: { provision_key: 'provision123' } })
  assert.deepEqual(r.json, { error_description: 'Missing authenticated_userid parameter', error: 'invalid_authenticated_userid' })
  r = await call('oauth2.test', '/oauth2/authorize', { json: BASE })
  assert.deepEqual(r.json, { error_description: 'Invalid client authentication', error: 'invalid_client' })
  noStore(r)
  r = await call('oauth2.test', '/oauth2/authorize', { json: { ...BASE, client_id: 'clientid123' } })
  assert.equal(r.status, 400)
  assert.deepEqual(r.json, { redirect_uri: 'http://google.test/kong?error=invalid_scope&error_description=You%20must%20specify%20a%20scope' })
  r = await call('oauth2.test', '/oauth2/authorize', { json: { ...BASE, client_id: 'clientid123', scope: 'wot' } })
  assert.deepEqual(r.json, { redirect_uri: 'http://google.test/kong?error=invalid_scope&error_description=%22wot%22%20is%20an%20invalid%20scope' })
  r = await call('oauth2.test', '/oauth2/authorize', { json: { ...BASE, client_id: 'clientid123', scope: 'email' } })
  assert.deepEqual(r.json, { redirect_uri: 'http://google.test/kong?error=unsupported_response_type&error_description=Invalid%20response_type' })
  r = await call('oauth2.test', '/oauth2/authorize', { json: { ...BASE, client_id: 'clientid123', scope: 'email', state: 'somestate' } })
  assert.deepEqual(r.json, { redirect_uri: 'http://google.test/kong?error=unsupported_response_type&error_description=Invalid%20response_type&state=somestate' })
  r = await call('oauth2.test', '/oauth2/authorize', { json: { ...BASE, client_id: 'clientid123', scope: 'email', response_type: 'code', redirect_uri: 'http://hello.test/' } })
  assert.deepEqual(r.json, { redirect_uri: 'http://google.test/kong?error=invalid_request&error_description=Invalid%20redirect_uri%20that%20does%20not%20match%20with%20any%20redirect_uri%20created%20with%20the%20application' })
})

test('authorize: HTTPS required unless terminated and accepted', async () => {
  const body = { ...BASE, client_id: 'clientid123', scope: 'email', response_type: 'code' }
  for (const headers of [{}, { 'x-forwarded-proto': 'https' }] as Array<Record<string, string>>) {
    const r = await call('oauth2.test', '/oauth2/authorize', { json: body, https: false, headers })
    assert.equal(r.status, 400)
    assert.equal(r.json.error_description, 'You must use HTTPS')
    assert.equal(r.json.error, 'access_denied')
  }
  const r = await call('oauth2_6.test', '/oauth2/authorize', { json: body, https: false, headers: { 'x-forwarded-proto': 'https' } })
  assert.equal(r.status, 200)
  assert.match(r.json.redirect_uri, /^http:\/\/google\.test\/kong\?code=\w{32}$/)
})

test('authorize: success answers (query in the redirect_uri, several redirect_uris, final slash, state)', async () => {
  const body = { ...BASE, scope: 'email', response_type: 'code' }
  let r = await call('oauth2.test', '/oauth2/authorize', { json: { ...body, client_id: 'clientid789' } })
  assert.equal(r.status, 200)
  assert.match(r.json.redirect_uri, /^http:\/\/google\.test\/kong\?code=\w{32}&foo=bar$/)
  r = await call('oauth2.test', '/oauth2/authorize', { json: { ...body, client_id: 'clientid456' } })
  assert.match(r.json.redirect_uri, /^http:\/\/one\.test\/one\/\?code=\w{32}$/)
  r = await call('oauth2.test', '/oauth2/authorize/', { json: { ...body, client_id: 'clientid123' } })
  assert.equal(r.status, 200)
  assert.match(r.json.redirect_uri, /^http:\/\/google\.test\/kong\?code=\w{32}$/)
  r = await call('oauth2.test', '/oauth2/authorize', { json: { ...body, client_id: 'clientid123', state: 'hello' } })
  assert.match(r.json.redirect_uri, /^http:\/\/google\.test\/kong\?code=\w{32}&state=hello$/)
  noStore(r)
  // many codes: all 32 word characters (random_string: letters and digits)
  for (let i = 0; i < 20; i++) {
    r = await call('oauth2.test', '/oauth2/authorize', { json: { ...body, client_id: 'clientid123' } })
    assert.match(r.json.redirect_uri, /^http:\/\/google\.test\/kong\?code=[A-Za-z0-9]{32}$/)
  }
})

test('token endpoint: client, method and grant errors', async () => {
  let r = await call('oauth2_4.test', '/oauth2/token', { json: { client_id: 'clientid123', scope: 'email' } })
  assert.equal(r.status, 400)
  assert.deepEqual(r.json, { error_description: 'Invalid client authentication', error: 'invalid_client' })
  r = await call('oauth2_4.test', '/oauth2/token', { json: { client_id: '', client_secret: '', scope: 'email', grant_type: 'client_credentials' } })
  assert.deepEqual(r.json, { error_description: 'Invalid client authentication', error: 'invalid_client' })
  r = await call('oauth2_4.test', '/oauth2/token', { json: { scope: 'email', grant_type: 'client_credentials' } })
  assert.deepEqual(r.json, { error_description: 'Invalid client authentication', error: 'invalid_client' })
  for (const [host, www] of [['oauth2_4.test', 'Bearer error="invalid_method", error_description="The HTTP method GET is invalid for the token endpoint"'],
    ['oauth2_5.test', 'Bearer realm="test-oauth2", error="invalid_method", error_description="The HTTP method GET is invalid for the token endpoint"']]) {
    r = await call(host!, '/oauth2/token?client_id&grant_type=client_credentials&client_secret', { method: 'GET' })
    assert.equal(r.status, 405)
    assert.deepEqual(r.json, { error_description: 'The HTTP method GET is invalid for the token endpoint', error: 'invalid_method' })
    assert.equal(r.headers['www-authenticate'], www)
  }
  r = await call('oauth2_4.test', '/oauth2/token', { json: { client_id: 'clientid123', client_secret: 'secret123', scope: 'email' } })
  assert.deepEqual(r.json, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' })
  const cc = { client_id: 'clientid123', client_secret: 'secret123', scope: 'email', grant_type: 'client_credentials', authenticated_userid: 'user123' }
  r = await call('oauth2_4.test', '/oauth2/token', { json: cc })
  assert.deepEqual(r.json, { error_description: 'Invalid provision_key', error: 'invalid_provision_key' })
  r = await call('oauth2_4.test', '/oauth2/token', { json: { ...cc, provision_key: 'hello' } })
  assert.deepEqual(r.json, { error_description: 'Invalid provision_key', error: 'invalid_provision_key' })
  r = await call('oauth2_4.test', '/oauth2/token', { json: { ...cc, provision_key: 'provision123' } })
  assert.equal(r.status, 200)
  assert.match(r.json.access_token, /^[A-Za-z0-9]{32}$/)
  assert.equal(r.json.token_type, 'bearer')
})

test('authentication challenge and a custom auth_header_name', async () => {
  let r = await call('oauth2.test', '/request')
  assert.equal(r.status, 401)
  assert.deepEqual(r.json, { error_description: 'The access token is missing', error: 'invalid_request' })
  assert.equal(r.headers['www-authenticate'], 'Bearer')
  const invalid = 'Bearer error="invalid_token", error_description="The access token is invalid or has expired"'
  r = await call('oauth2.test', '/request?access_token=invalid', { method: 'GET' })
  assert.deepEqual(r.json, { error_description: 'The access token is invalid or has expired', error: 'invalid_token' })
  assert.equal(r.headers['www-authenticate'], invalid)
  r = await call('oauth2.test', '/request', { headers: { authorization: 'bearer invalid' } })
  assert.equal(r.status, 401)
  assert.equal(r.headers['www-authenticate'], invalid)

  const token = (await call('oauth2_11.test', '/oauth2/token', { json: { client_id: 'clientid123', client_secret: 'secret123', scope: 'email', grant_type: 'client_credentials' } })).json.access_token as string
  // auth_header_name `custom_header_name` is nginx's $http_custom_header_name: a `custom-header-name`
  // field (Kong's spec sends the underscore spelling, which Sluice's edge does not take: see report)
  r = await call('oauth2_11.test', '/request', { method: 'GET', headers: { 'custom-header-name': `bearer ${token}` } })
  assert.equal(r.status, 200)
  r = await call('oauth2_11.test', '/request', { method: 'GET', headers: { 'custom-header-name': '' } })
  assert.equal(r.status, 401)
  assert.equal(r.headers['www-authenticate'], 'Bearer')
})

test('client_credentials: success shapes, Basic client authentication, upstream headers, multipart', async () => {
  const ok = (r: Res): void => {
    assert.equal(r.status, 200, JSON.stringify(r.json))
    assert.equal(r.json.token_type, 'bearer')
    assert.equal(r.json.expires_in, 5)
    assert.match(r.json.access_token, /^[A-Za-z0-9]{32}$/)
  }
  const cc = { scope: 'email', grant_type: 'client_credentials' }
  ok(await call('oauth2_4.test', '/oauth2/token', { json: { ...cc, client_id: 'clientid456', client_secret: 'secret456' } }))
  ok(await call('oauth2_4.test', '/oauth2/token', { json: { ...cc, client_id: 'clientid456', client_secret: 'secret456', redirect_uri: 'http://two.test/two' } }))
  ok(await call('oauth2_4.test', '/oauth2/token', { json: { ...cc, client_id: 'clientid10112', client_secret: 'secret10112' } }))
  ok(await call('oauth2_4.test', '/oauth2/token', { json: cc, headers: { authorization: 'Basic Y2xpZW50aWQxMjM6c2VjcmV0MTIz' } }))
  ok(await call('oauth2_4.test', '/oauth2/token', { json: { ...cc, client_id: 'clientid123' }, headers: { authorization: 'Basic Y2xpZW50aWQxMjM6c2VjcmV0MTIz' } }))
  let r = await call('oauth2_4.test', '/oauth2/token', { json: cc, headers: { authorization: 'Basic Y2xpZW50aWQxMjM6c2VjcmV0MTI0' } })
  assert.equal(r.status, 401)
  assert.deepEqual(r.json, { error_description: 'Invalid client authentication', error: 'invalid_client' })
  assert.equal(r.headers['www-authenticate'], 'Basic realm="OAuth2.0"')

  const withUser = { ...cc, client_id: 'clientid123', client_secret: 'secret123', authenticated_userid: 'hello', provision_key: 'provision123' }
  r = await call('oauth2_4.test', '/oauth2/token', { json: withUser })
  ok(r)
  r = await call('oauth2_4.test', `/request?access_token=${r.json.access_token as string}`, { method: 'GET' })
  assert.equal(r.status, 200)
  assert.ok(r.json.headers['x-consumer-id'])
  assert.equal(r.json.headers['x-consumer-username'], 'bob')
  assert.equal(r.json.headers['x-authenticated-scope'], 'email')
  assert.equal(r.json.headers['x-authenticated-userid'], 'hello')
  assert.equal(r.json.headers['x-credential-identifier'], 'clientid123')

  r = await call('oauth2_4.test', '/oauth2/token', { multipart: withUser })
  ok(r)
  r = await call('oauth2_4.test', '/request', { multipart: { access_token: r.json.access_token } })
  assert.equal(r.status, 200)
})

/** provision_code of Kong's spec: a code for `client` with state=hello (and a S256 challenge). */
async function provisionCode (host = 'oauth2.test', client = 'clientid123', challenge?: string): Promise<string> {
  const body: Record<string, string> = { provision_key: 'provision123', client_id: client, scope: 'email', response_type: 'code', state: 'hello', authenticated_userid: 'userid123' }
  if (challenge !== undefined) { body.code_challenge = challenge; body.code_method = 'S256' }
  const r = await call(host, '/oauth2/authorize', { json: body })
  assert.equal(r.status, 200, JSON.stringify(r.json))
  const m = /^http:\/\/google\.test\/kong\?code=(\w{32})&state=hello$/.exec(r.json.redirect_uri)
  assert.ok(m, r.json.redirect_uri)
  return m[1]!
}
const pkce = (verifier = 'A'.repeat(50)): [string, string] => [createHash('sha256').update(verifier).digest('base64url'), verifier]
const exchange = async (host: string, fields: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Res> =>
  await call(host, '/oauth2/token', { json: { grant_type: 'authorization_code', ...fields }, headers })

test('authorization code exchange: client and code errors', async () => {
  let r = await call('oauth2.test', '/oauth2/token')
  assert.deepEqual(r.json, { error_description: 'Invalid client authentication', error: 'invalid_client' })
  noStore(r)
  r = await call('oauth2.test', '/oauth2/token', { json: { code: await provisionCode() } })
  assert.deepEqual(r.json, { error_description: 'Invalid client authentication', error: 'invalid_client' })
  r = await call('oauth2.test', '/oauth2/token', { json: { code: await provisionCode(), client_secret: 'secret123' } })
  assert.deepEqual(r.json, { error_description: 'Invalid client authentication', error: 'invalid_client' })
  r = await call('oauth2.test', '/oauth2/token', { json: { code: await provisionCode(), client_id: 'clientid123', client_secret: 'secret123' } })
  assert.deepEqual(r.json, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' })
  r = await exchange('oauth2.test', { code: `${await provisionCode()}hello`, client_id: 'clientid123', client_secret: 'secret123' })
  assert.equal(r.status, 400)
  assert.deepEqual(r.json, { error: 'invalid_request', error_description: 'Invalid code' })
  r = await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid333'), client_id: 'clientid123', client_secret: 'secret123', state: 'wot' })
  assert.deepEqual(r.json, { error: 'invalid_request', error_description: 'Invalid code', state: 'wot' })
  const code = await provisionCode()
  r = await exchange('oauth2.test', { code, client_id: 'clientid123', client_secret: 'secret123' })
  assert.equal(r.status, 200)
  assert.match(r.json.access_token, /^[A-Za-z0-9]{32}$/)
  assert.match(r.json.refresh_token, /^[A-Za-z0-9]{32}$/)
  r = await exchange('oauth2.test', { code, client_id: 'clientid123', client_secret: 'secret123' })
  assert.deepEqual(r.json, { error: 'invalid_request', error_description: 'Invalid code' })
  r = await exchange('oauth2.test', { code: await provisionCode(), client_id: 'clientid789', client_secret: 'secret789' })
  assert.deepEqual(r.json, { error: 'invalid_request', error_description: 'Invalid code' })
  r = await exchange('oauth2.test', { code: await provisionCode(), client_id: 'clientid123' })
  assert.deepEqual(r.json, { error_description: 'Invalid client authentication', error: 'invalid_client' })
  // a code of one global_credentials plugin is not for another
  r = await exchange('oauth2_17.test', { code: await provisionCode('oauth2_16.test'), client_id: 'clientid123', client_secret: 'secret123' })
  assert.deepEqual(r.json, { error: 'invalid_request', error_description: 'Invalid code' })
})

test('authorization code exchange: PKCE and public clients', async () => {
  const [challenge, verifier] = pkce()
  const ok = (r: Res): void => {
    assert.equal(r.status, 200, JSON.stringify(r.json))
    assert.equal(r.json.token_type, 'bearer')
    assert.match(r.json.refresh_token, /^[A-Za-z0-9]{32}$/)
  }
  ok(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', challenge), client_id: 'clientid11211', code_verifier: verifier }))
  for (const basic of ['Y2xpZW50aWQxMTIxMQ==', 'Y2xpZW50aWQxMTIxMTo=', 'Y2xpZW50aWQxMTIxMTogICAg']) {
    ok(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', challenge), code_verifier: verifier }, { authorization: `Basic ${basic}` }))
  }
  const err = (r: Res, error: string, description: string): void => {
    assert.equal(r.status, 400, JSON.stringify(r.json))
    assert.deepEqual(r.json, { error_description: description, error })
  }
  err(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', challenge), client_id: 'clientid11211', code_verifier: verifier, client_secret: 'secret11211' }),
    'invalid_request', 'client_secret is disallowed for public clients')
  err(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', challenge), code_verifier: verifier }, { authorization: 'Basic Y2xpZW50aWQxMTIxMTpzZWNyZXQxMTIxMQ==' }),
    'invalid_request', 'client_secret is disallowed for public clients')
  err(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', challenge), client_id: 'clientid11211' }),
    'invalid_request', 'code_verifier is required for PKCE authorization requests')
  ok(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', '2aC4cMSkAsMRtZbhHhiZkDW3sddRf_iTRGil1r9gi8w='), client_id: 'clientid11211', code_verifier: 'abcdelfhigklmnopqrstuvwxyz0123456789abcdefg' }))
  ok(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', '0LoS6Gtrw16r07+ZXsCf8MeAi21QHmKc3LJdUCA5w/o='), client_id: 'clientid11211', code_verifier: 'abcdelfhigklmnopqrstuvwxyz0123456789abcdefghijklmnop9' }))
  const [longC, longV] = pkce('abc123'.repeat(30))
  err(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', longC), client_id: 'clientid11211', code_verifier: longV }),
    'invalid_request', 'code_verifier must be between 43 and 128 characters')
  const [shortC, shortV] = pkce('abc123')
  err(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', shortC), client_id: 'clientid11211', code_verifier: shortV }),
    'invalid_request', 'code_verifier must be between 43 and 128 characters')
  err(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', 'abc123'), client_id: 'clientid11211', code_verifier: '' }),
    'invalid_request', 'code_verifier must be between 43 and 128 characters')
  err(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', 'abc123'), client_id: 'clientid11211', code_verifier: 12 }),
    'invalid_request', 'code_verifier is not a string')
  err(await exchange('oauth2.test', { code: await provisionCode('oauth2.test', 'clientid11211', 'abc123'), client_id: 'clientid11211', code_verifier: 'abcdelfhigklmnopqrstuvwxyz0123456789abcdefg' }),
    'invalid_grant', 'Invalid code')
  err(await exchange('oauth2.test', { code: 'x'.repeat(32), client_id: 'clientid11211', code_verifier: verifier }), 'invalid_request', 'Invalid code')
  err(await exchange('oauth2.test', { client_id: 'clientid11211', code_verifier: 'verifier' }), 'invalid_request', 'Invalid code')
  err(await exchange('oauth2_5.test', { code: await provisionCode('oauth2.test', 'clientid11211', challenge), client_id: 'clientid123', client_secret: 'bogus' }),
    'invalid_client', 'Invalid client authentication')
  // confidential clients and conf.pkce
  const conf = { client_id: 'clientid123', client_secret: 'secret123' }
  err(await exchange('oauth2_15.test', { ...conf, code: await provisionCode('oauth2_15.test', 'clientid123', challenge), code_verifier: 'abcdelfhigklmnopqrstuvwxyz0123456789abcdefg' }), 'invalid_grant', 'Invalid code')
  for (const host of ['oauth2_15.test', 'oauth2_16.test', 'oauth2_14.test']) {
    err(await exchange(host, { ...conf, code: await provisionCode(host, 'clientid123', challenge) }), 'invalid_request', 'code_verifier is required for PKCE authorization requests')
  }
  for (const host of ['oauth2_14.test', 'oauth2_16.test']) ok(await exchange(host, { ...conf, code: await provisionCode(host) }))
})
