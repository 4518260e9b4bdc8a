/**
 * oauth2 through the whole gateway (primary with real PostgreSQL, two worker threads, an echo
 * upstream, an HTTPS listener): the Admin API of its entities, the grant endpoints (client
 * credentials, password, authorization code with PKCE, implicit, refresh token) with Kong's error
 * bodies, statuses and headers, token verification with the upstream headers, anonymous, and
 * token-cache invalidation when a token is deleted or refreshed. Behaviour from Kong's
 * spec/03-plugins/25-oauth2/{02-api,03-access}_spec.lua.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Agent, request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { freePort } from '../helpers/ports.ts'
import { startEcho, type Upstream } from '../helpers/upstream.ts'
import { adminCall, type AdminAnswer } from '../helpers/admin-api.ts'
import { startDblessGateway } from '../helpers/dbless.ts'
import { verifySecret } from '../../src/plugins/oauth2/secret.ts'

let db: TestDb
let gw: Gateway
let echo: Upstream
let tlsPort: number
let base: string
const tls = new Agent({ connect: { rejectUnauthorized: false } })
const ids: Record<string, string> = {}

type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any

const admin = (method: string, path: string, body?: unknown): Promise<AdminAnswer> => adminCall(gw.admin, method, path, body)

interface Res { status: number; headers: Record<string, string | string[] | undefined>; json: Json }

/** A proxy request; `https` goes over the TLS listener, else plain HTTP (X-Forwarded-Proto may be set). */
async function proxy (path: string, opts: { method?: string; form?: Record<string, string>; json?: unknown; headers?: Record<string, string>; https?: boolean } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers }
  let body: string | undefined
  if (opts.form !== undefined) { headers['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(opts.form).toString() }
  if (opts.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(opts.json) }
  const url = opts.https === true ? `https://127.0.0.1:${tlsPort}${path}` : `${base}${path}`
  const r = await request(url, { method: (opts.method ?? (body !== undefined ? 'POST' : 'GET')) as 'GET', headers, body, dispatcher: opts.https === true ? tls : undefined })
  const text = await r.body.text()
  let json: Json = null
  try { json = JSON.parse(text) } catch { json = text }
  return { status: r.statusCode, headers: r.headers, json }
}

const XFP = { 'x-forwarded-proto': 'https' }
const PROVISION = 'provision123'

before(async () => {
  echo = await startEcho()
  db = await createTestDb()
  const http = await freePort()
  tlsPort = await freePort()
  gw = await startGateway(db.settings, { proxy_listen: `127.0.0.1:${http}, 127.0.0.1:${tlsPort} ssl`, trusted_ips: '127.0.0.1' })
  base = `http://127.0.0.1:${http}`
  const svc = await admin('POST', '/services', { name: 'svc', url: echo.url })
  ids.service = svc.json.id
  const other = await admin('POST', '/services', { name: 'other', url: echo.url })
  const routes: Array<[string, string, Record<string, unknown>]> = [
    ['svc', '/oauth', { scopes: ['email', 'profile'], mandatory_scope: true, provision_key: PROVISION, enable_authorization_code: true, enable_client_credentials: true, enable_password_grant: true, enable_implicit_grant: true, accept_http_if_already_terminated: true }],
    ['svc', '/strict', { scopes: ['email'], provision_key: PROVISION, enable_authorization_code: true, pkce: 'strict', accept_http_if_already_terminated: true, realm: 'kong' }],
    ['svc', '/plainhttp', { provision_key: PROVISION, enable_client_credentials: true }],
    ['svc', '/hide', { enable_client_credentials: true, hide_credentials: true, accept_http_if_already_terminated: true }],
    ['svc', '/reuse', { scopes: ['email'], provision_key: PROVISION, enable_password_grant: true, reuse_refresh_token: true, accept_http_if_already_terminated: true }],
  ]
  for (const [s, path, config] of routes) {
    const r = await admin('POST', `/services/${s}/routes`, { paths: [path] })
    const p = await admin('POST', `/routes/${r.json.id}/plugins`, { name: 'oauth2', config })
    assert.equal(p.status, 201, JSON.stringify(p.json))
  }
  const o = await admin('POST', `/services/${other.json.id}/routes`, { paths: ['/other'] })
  await admin('POST', `/routes/${o.json.id}/plugins`, { name: 'oauth2', config: { enable_client_credentials: true, accept_http_if_already_terminated: true } })
  const anon = await admin('POST', '/consumers', { username: 'anonymous' })
  const a = await admin('POST', `/services/${ids.service}/routes`, { paths: ['/anon'] })
  await admin('POST', `/routes/${a.json.id}/plugins`, { name: 'oauth2', config: { enable_client_credentials: true, anonymous: anon.json.id, accept_http_if_already_terminated: true } })
  const bob = await admin('POST', '/consumers', { username: 'bob', custom_id: 'bob-1' })
  ids.bob = bob.json.id
  const app = await admin('POST', '/consumers/bob/oauth2', { name: 'app', client_id: 'clientid123', client_secret: 'secret123', redirect_uris: ['http://google.test/kong', 'http://google.example/'] })
  assert.equal(app.status, 201)
  ids.app = app.json.id
  await admin('POST', '/consumers/bob/oauth2', { name: 'hashed', client_id: 'hashedclient', client_secret: 'hashedsecret', hash_secret: true, redirect_uris: ['http://hashed.test/'] })
  await admin('POST', '/consumers/bob/oauth2', { name: 'public', client_id: 'publicclient', client_type: 'public', redirect_uris: ['http://public.test/cb'] })
  await gw.primary.sync()
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await echo?.close()
  await tls.close()
})

async function clientCredentials (path = '/oauth', extra: Record<string, string> = {}): Promise<Res> {
  return await proxy(`${path}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: 'clientid123', client_secret: 'secret123', scope: 'email', ...extra }, headers: XFP })
}

test('admin: credentials are generated, validated and hashed as Kong does', async () => {
  const gen = await admin('POST', '/consumers/bob/oauth2', { name: 'gen' })
  assert.equal(gen.status, 201)
  assert.equal(gen.json.client_id.length, 32)
  assert.equal(gen.json.client_secret.length, 32)
  assert.equal(gen.json.hash_secret, false)
  assert.equal(gen.json.client_type, 'confidential')
  assert.equal(gen.json.redirect_uris, null)
  assert.deepEqual(gen.json.consumer, { id: ids.bob })

  const hashed = await admin('POST', '/consumers/bob/oauth2', { name: 'h', client_secret: 'test', hash_secret: true })
  assert.equal(hashed.status, 201)
  assert.match(hashed.json.client_secret, /^\$pbkdf2-sha512\$i=10000,l=32\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/)
  assert.equal(await verifySecret('test', hashed.json.client_secret), true)
  assert.equal(await verifySecret('invalid', hashed.json.client_secret), false)

  for (const body of [{ client_secret: 'test' }, { hash_secret: true }]) {
    const r = await admin('PATCH', `/consumers/bob/oauth2/${hashed.json.id}`, body)
    assert.equal(r.status, 400)
    assert.deepEqual(r.json.fields, { '@entity': ["all or none of these fields must be set: 'hash_secret', 'client_secret'"] })
  }
  const rotated = await admin('PATCH', `/consumers/bob/oauth2/${hashed.json.id}`, { client_secret: 'new', hash_secret: true })
  assert.equal(await verifySecret('new', rotated.json.client_secret), true)

  const missing = await admin('POST', '/consumers/bob/oauth2', {})
  assert.deepEqual(missing.json.fields, { name: 'required field missing' })
  const bad = await admin('POST', '/consumers/bob/oauth2', { name: 'x', redirect_uris: ['http://valid.test', 'not-valid'] })
  assert.deepEqual(bad.json.fields, { redirect_uris: [null, "cannot parse 'not-valid'"] })
  const frag = await admin('POST', '/consumers/bob/oauth2', { name: 'x', redirect_uris: ['http://test.test/#with-fragment'] })
  assert.deepEqual(frag.json.fields, { redirect_uris: ["fragment not allowed in 'http://test.test/#with-fragment'"] })
  const noConsumer = await admin('POST', '/oauth2', { name: 'test', redirect_uris: ['http://localhost/'] })
  assert.equal(noConsumer.json.message, 'schema violation (consumer: required field missing)')
  const put = await admin('PUT', '/consumers/bob/oauth2/client_one', { name: 'Test APP' })
  assert.equal(put.status, 200)
  assert.equal(put.json.client_id, 'client_one')
  assert.equal((await admin('GET', '/consumers/bob/oauth2/client_one')).json.id, put.json.id)
  assert.equal((await admin('GET', `/oauth2/${put.json.id}`)).json.client_id, 'client_one')
  assert.equal((await admin('DELETE', '/consumers/bob/oauth2/blah')).status, 404)
})

test('admin: /oauth2_tokens CRUD, /schemas and /plugins/enabled', async () => {
  const missing = await admin('POST', '/oauth2_tokens', {})
  assert.equal(missing.status, 400)
  assert.deepEqual(missing.json.fields, { expires_in: 'required field missing', credential: 'required field missing' })
  const t = await admin('POST', '/oauth2_tokens', { credential: { id: ids.app }, service: { id: ids.service }, expires_in: 10 })
  assert.equal(t.status, 201)
  assert.equal(t.json.token_type, 'bearer')
  assert.equal(t.json.refresh_token, null)
  assert.equal(t.json.access_token.length, 32)
  assert.equal((await admin('GET', `/oauth2_tokens/${t.json.access_token}`)).json.id, t.json.id)
  const patched = await admin('PATCH', `/oauth2_tokens/${t.json.id}`, { expires_in: 'hello' })
  assert.deepEqual(patched.json.fields, { expires_in: 'expected an integer' })
  const put = await admin('PUT', '/oauth2_tokens/foobar', { credential: { id: ids.app }, service: { id: ids.service }, expires_in: 10 })
  assert.equal(put.status, 200)
  assert.equal(put.json.access_token, 'foobar')
  assert.equal((await admin('DELETE', '/oauth2_tokens/foobar')).status, 204)
  assert.equal((await admin('DELETE', '/oauth2_tokens/blah')).status, 204)
  assert.equal((await admin('DELETE', `/oauth2_tokens/${t.json.id}`)).status, 204)

  const enabled = await admin('GET', '/plugins/enabled')
  assert.ok(enabled.json.enabled_plugins.includes('oauth2'))
  const schema = await admin('GET', '/schemas/plugins/oauth2')
  assert.equal(schema.status, 200)
  assert.equal((await admin('GET', '/schemas/oauth2_credentials')).status, 200)
  const noFlow = await admin('POST', '/plugins', { name: 'oauth2', config: {} })
  assert.equal(noFlow.status, 400)
  assert.equal(noFlow.json.fields.config, 'at least one of these fields must be true: enable_authorization_code, enable_implicit_grant, enable_client_credentials, enable_password_grant')
  const generated = await admin('POST', '/plugins', { name: 'oauth2', config: { enable_client_credentials: true } })
  assert.equal(generated.status, 201)
  assert.equal(generated.json.config.provision_key.length, 32)
  assert.equal(generated.json.config.pkce, 'lax')
  await admin('DELETE', `/plugins/${generated.json.id}`)
})

test('token endpoint: HTTPS is required unless terminated by a trusted proxy', async () => {
  const plain = await proxy('/plainhttp/oauth2/token', { form: { grant_type: 'client_credentials', client_id: 'clientid123', client_secret: 'secret123' }, headers: XFP })
  assert.equal(plain.status, 400)
  assert.deepEqual(plain.json, { error: 'access_denied', error_description: 'You must use HTTPS' })
  assert.equal(plain.headers['cache-control'], 'no-store')
  assert.equal(plain.headers.pragma, 'no-cache')
  const noHeader = await proxy('/oauth/oauth2/token', { form: { grant_type: 'client_credentials' } })
  assert.deepEqual(noHeader.json, { error: 'access_denied', error_description: 'You must use HTTPS' })
  const overTls = await proxy('/plainhttp/oauth2/token', { form: { grant_type: 'client_credentials', client_id: 'clientid123', client_secret: 'secret123' }, https: true })
  assert.equal(overTls.status, 200)
  assert.equal(overTls.json.token_type, 'bearer')
})

test('token endpoint: method, grant type and client errors', async () => {
  const get = await proxy('/oauth/oauth2/token', { headers: XFP })
  assert.equal(get.status, 405)
  assert.deepEqual(get.json, { error: 'invalid_method', error_description: 'The HTTP method GET is invalid for the token endpoint' })
  assert.equal(get.headers['www-authenticate'], 'Bearer error="invalid_method", error_description="The HTTP method GET is invalid for the token endpoint"')
  const unsupported = await proxy('/oauth/oauth2/token', { form: { grant_type: 'foo', client_id: 'clientid123', client_secret: 'secret123' }, headers: XFP })
  assert.deepEqual(unsupported.json, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' })
  const wrongSecret = await clientCredentials('/oauth', { client_secret: 'nope' })
  assert.equal(wrongSecret.status, 400)
  assert.deepEqual(wrongSecret.json, { error: 'invalid_client', error_description: 'Invalid client authentication' })
  const basic = await proxy('/oauth/oauth2/token', {
    form: { grant_type: 'password', provision_key: PROVISION, authenticated_userid: 'u', scope: 'email' },
    headers: { ...XFP, authorization: `Basic ${Buffer.from('clientid123:wrong').toString('base64')}` },
  })
  assert.equal(basic.status, 401)
  assert.equal(basic.headers['www-authenticate'], 'Basic realm="OAuth2.0"')
  assert.deepEqual(basic.json, { error: 'invalid_client', error_description: 'Invalid client authentication' })
  const scope = await clientCredentials('/oauth', { scope: 'email wot', state: 'xyz' })
  assert.deepEqual(scope.json, { error: 'invalid_scope', error_description: '"wot" is an invalid scope', state: 'xyz' })
  const noScope = await proxy('/oauth/oauth2/token', { form: { grant_type: 'client_credentials', client_id: 'clientid123', client_secret: 'secret123' }, headers: XFP })
  assert.deepEqual(noScope.json, { error: 'invalid_scope', error_description: 'You must specify a scope' })
  const provision = await clientCredentials('/oauth', { authenticated_userid: 'u', provision_key: 'wrong' })
  assert.deepEqual(provision.json, { error: 'invalid_provision_key', error_description: 'Invalid provision_key' })
  const publicSecret = await proxy('/oauth/oauth2/token', { form: { grant_type: 'password', client_id: 'publicclient', client_secret: 'x', provision_key: PROVISION, authenticated_userid: 'u', scope: 'email' }, headers: XFP })
  assert.deepEqual(publicSecret.json, { error: 'invalid_request', error_description: 'client_secret is disallowed for public clients' })
})

test('client_credentials: a token without refresh token; verification sets Kong upstream headers', async () => {
  const r = await clientCredentials('/oauth', { authenticated_userid: 'user-7', provision_key: PROVISION })
  assert.equal(r.status, 200)
  assert.equal(r.json.token_type, 'bearer')
  assert.equal(r.json.expires_in, 7200)
  assert.equal(r.json.refresh_token, undefined)
  assert.match(r.json.access_token, /^\w{32}$/)

  const ok = await proxy('/oauth/data', { headers: { authorization: `bearer ${r.json.access_token as string}` } })
  assert.equal(ok.status, 200)
  const h = ok.json.headers as Record<string, string>
  assert.equal(h['x-consumer-id'], ids.bob)
  assert.equal(h['x-consumer-username'], 'bob')
  assert.equal(h['x-consumer-custom-id'], 'bob-1')
  assert.equal(h['x-credential-identifier'], 'clientid123')
  assert.equal(h['x-authenticated-scope'], 'email')
  assert.equal(h['x-authenticated-userid'], 'user-7')
  assert.equal(h['x-anonymous-consumer'], undefined)
  assert.equal(h.authorization, `bearer ${r.json.access_token as string}`)

  const query = await proxy(`/oauth/data?access_token=${r.json.access_token as string}`)
  assert.equal(query.status, 200)
  const body = await proxy('/oauth/data', { form: { access_token: r.json.access_token } })
  assert.equal(body.status, 200)
  // a token belongs to the service it was issued for
  const other = await proxy('/other/data', { headers: { authorization: `Bearer ${r.json.access_token as string}` } })
  assert.equal(other.status, 401)
  assert.equal(other.json.error, 'invalid_token')
})

test('verification failures: missing and invalid tokens, realm', async () => {
  const missing = await proxy('/oauth/data')
  assert.equal(missing.status, 401)
  assert.deepEqual(missing.json, { error: 'invalid_request', error_description: 'The access token is missing' })
  assert.equal(missing.headers['www-authenticate'], 'Bearer')
  const invalid = await proxy('/oauth/data', { headers: { authorization: 'Bearer nope' } })
  assert.equal(invalid.status, 401)
  assert.deepEqual(invalid.json, { error: 'invalid_token', error_description: 'The access token is invalid or has expired' })
  assert.equal(invalid.headers['www-authenticate'], 'Bearer error="invalid_token", error_description="The access token is invalid or has expired"')
  const realm = await proxy('/strict/data')
  assert.equal(realm.headers['www-authenticate'], 'Bearer realm="kong"')
})

test('hide_credentials removes the token from the header and the query', async () => {
  const t = await clientCredentials('/hide', { scope: '' })
  assert.equal(t.status, 200, JSON.stringify(t.json))
  const viaHeader = await proxy('/hide/x?a=1', { headers: { authorization: `Bearer ${t.json.access_token as string}` } })
  assert.equal(viaHeader.status, 200)
  assert.equal(viaHeader.json.headers.authorization, undefined)
  const viaQuery = await proxy(`/hide/x?a=1&access_token=${t.json.access_token as string}`)
  assert.equal(viaQuery.status, 200)
  assert.equal(viaQuery.json.url, '/x?a=1')
})

test('password grant with hashed secrets; refresh_token rotates and the old token stops working', async () => {
  const r = await proxy('/oauth/oauth2/token', {
    form: { grant_type: 'password', provision_key: PROVISION, authenticated_userid: 'id123', scope: 'email profile' },
    headers: { ...XFP, authorization: `Basic ${Buffer.from('hashedclient:hashedsecret').toString('base64')}` },
  })
  assert.equal(r.status, 200, JSON.stringify(r.json))
  assert.match(r.json.refresh_token, /^\w{32}$/)
  const first = r.json.access_token as string
  assert.equal((await proxy('/oauth/d', { headers: { authorization: `Bearer ${first}` } })).status, 200)

  const wrongClient = await proxy('/oauth/oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: r.json.refresh_token, client_id: 'clientid123', client_secret: 'secret123' }, headers: XFP })
  assert.deepEqual(wrongClient.json, { error: 'invalid_client', error_description: 'Invalid client authentication' })
  const bad = await proxy('/oauth/oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: 'nope', client_id: 'hashedclient', client_secret: 'hashedsecret' }, headers: XFP })
  assert.deepEqual(bad.json, { error: 'invalid_request', error_description: 'Invalid refresh_token' })

  const refreshed = await proxy('/oauth/oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: r.json.refresh_token, client_id: 'hashedclient', client_secret: 'hashedsecret' }, headers: XFP })
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json))
  assert.notEqual(refreshed.json.access_token, first)
  assert.notEqual(refreshed.json.refresh_token, r.json.refresh_token)
  // the old token was cached by a worker: the refresh invalidated it everywhere
  for (let i = 0; i < 4; i++) assert.equal((await proxy('/oauth/d', { headers: { authorization: `Bearer ${first}` } })).status, 401)
  const ok = await proxy('/oauth/d', { headers: { authorization: `Bearer ${refreshed.json.access_token as string}` } })
  assert.equal(ok.json.headers['x-authenticated-scope'], 'email profile')
  assert.equal(ok.json.headers['x-authenticated-userid'], 'id123')
  const again = await proxy('/oauth/oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: r.json.refresh_token, client_id: 'hashedclient', client_secret: 'hashedsecret' }, headers: XFP })
  assert.deepEqual(again.json, { error: 'invalid_request', error_description: 'Invalid refresh_token' })
})

test('reuse_refresh_token keeps the refresh token and renews the access token', async () => {
  const r = await proxy('/reuse/oauth2/token', { form: { grant_type: 'password', client_id: 'clientid123', client_secret: 'secret123', provision_key: PROVISION, authenticated_userid: 'u', scope: 'email' }, headers: XFP })
  assert.equal(r.status, 200, JSON.stringify(r.json))
  const again = await proxy('/reuse/oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: r.json.refresh_token, client_id: 'clientid123', client_secret: 'secret123' }, headers: XFP })
  assert.equal(again.status, 200)
  assert.equal(again.json.refresh_token, r.json.refresh_token)
  assert.notEqual(again.json.access_token, r.json.access_token)
  assert.equal((await proxy('/reuse/d', { headers: { authorization: `Bearer ${r.json.access_token as string}` } })).status, 401)
  assert.equal((await proxy('/reuse/d', { headers: { authorization: `Bearer ${again.json.access_token as string}` } })).status, 200)
})

const verifier = 'a'.repeat(20) + 'B'.repeat(30)
const challenge = createHash('sha256').update(verifier).digest('base64url')

test('authorization code with PKCE', async () => {
  const noUser = await proxy('/oauth/oauth2/authorize', { form: { provision_key: PROVISION, client_id: 'clientid123', response_type: 'code', scope: 'email' }, headers: XFP })
  assert.equal(noUser.status, 400)
  assert.deepEqual(noUser.json, { error: 'invalid_authenticated_userid', error_description: 'Missing authenticated_userid parameter' })
  const getAuth = await proxy('/oauth/oauth2/authorize', { headers: XFP })
  assert.equal(getAuth.json.error_description, 'The HTTP method GET is invalid for the authorization endpoint')
  const badType = await proxy('/oauth/oauth2/authorize', { form: { provision_key: PROVISION, authenticated_userid: 'u', client_id: 'clientid123', response_type: 'nope', scope: 'email', state: 's1' }, headers: XFP })
  assert.equal(badType.status, 400)
  assert.deepEqual(badType.json, { redirect_uri: 'http://google.test/kong?error=unsupported_response_type&error_description=Invalid%20response_type&state=s1' })
  const badRedirect = await proxy('/oauth/oauth2/authorize', { form: { provision_key: PROVISION, authenticated_userid: 'u', client_id: 'clientid123', response_type: 'code', scope: 'email', redirect_uri: 'http://evil.test/' }, headers: XFP })
  assert.equal(badRedirect.status, 400)
  assert.match(badRedirect.json.redirect_uri, /^http:\/\/google\.test\/kong\?error=invalid_request&error_description=Invalid%20redirect_uri/)
  const noClient = await proxy('/oauth/oauth2/authorize', { form: { provision_key: PROVISION, authenticated_userid: 'u', client_id: 'nope', response_type: 'code', scope: 'email' }, headers: XFP })
  assert.deepEqual(noClient.json, { error: 'invalid_client', error_description: 'Invalid client authentication' })

  const auth = await proxy('/oauth/oauth2/authorize', {
    form: { provision_key: PROVISION, authenticated_userid: 'userid123', client_id: 'clientid123', response_type: 'code', scope: 'email', state: 'hello', code_challenge: challenge, code_challenge_method: 'S256' },
    headers: XFP,
  })
  assert.equal(auth.status, 200, JSON.stringify(auth.json))
  const m = /^http:\/\/google\.test\/kong\?code=(\w{32})&state=hello$/.exec(auth.json.redirect_uri)
  assert.ok(m, auth.json.redirect_uri)
  const code = m[1]!
  const exchange = (extra: Record<string, string>): Promise<Res> => proxy('/oauth/oauth2/token', { form: { grant_type: 'authorization_code', client_id: 'clientid123', client_secret: 'secret123', code, ...extra }, headers: XFP })
  assert.deepEqual((await exchange({})).json, { error: 'invalid_request', error_description: 'code_verifier is required for PKCE authorization requests' })
  assert.deepEqual((await exchange({ code_verifier: 'short' })).json, { error: 'invalid_request', error_description: 'code_verifier must be between 43 and 128 characters' })
  assert.deepEqual((await exchange({ code_verifier: 'x'.repeat(50) })).json, { error: 'invalid_grant', error_description: 'Invalid code' })
  const t = await exchange({ code_verifier: verifier, state: 'st' })
  assert.equal(t.status, 200, JSON.stringify(t.json))
  assert.equal(t.json.state, 'st')
  assert.equal(t.json.expires_in, 7200)
  assert.match(t.json.refresh_token, /^\w{32}$/)
  const used = await exchange({ code_verifier: verifier })
  assert.deepEqual(used.json, { error: 'invalid_request', error_description: 'Invalid code' })
  const ok = await proxy('/oauth/x', { headers: { authorization: `Bearer ${t.json.access_token as string}` } })
  assert.equal(ok.json.headers['x-authenticated-userid'], 'userid123')
})

test('pkce=strict and public clients require a code_challenge', async () => {
  const strict = await proxy('/strict/oauth2/authorize', { form: { provision_key: PROVISION, authenticated_userid: 'u', client_id: 'clientid123', response_type: 'code' }, headers: XFP })
  assert.equal(strict.status, 400)
  assert.equal(strict.json.redirect_uri, 'http://google.test/kong?error=invalid_request&error_description=code_challenge%20is%20required%20for%20confidential%20clients')
  const pub = await proxy('/oauth/oauth2/authorize', { form: { provision_key: PROVISION, authenticated_userid: 'u', client_id: 'publicclient', response_type: 'code', scope: 'email' }, headers: XFP })
  assert.equal(pub.json.redirect_uri, 'http://public.test/cb?error=invalid_request&error_description=code_challenge%20is%20required%20for%20public%20clients')
})

test('implicit grant: the token goes in the redirect_uri fragment', async () => {
  const r = await proxy('/oauth/oauth2/authorize', { form: { provision_key: PROVISION, authenticated_userid: 'u', client_id: 'clientid123', response_type: 'token', scope: 'email', state: 'abc', redirect_uri: 'http://google.example/' }, headers: XFP })
  assert.equal(r.status, 200, JSON.stringify(r.json))
  const m = /^http:\/\/google\.example\/#access_token=(\w{32})&expires_in=7200&state=abc&token_type=bearer$/.exec(r.json.redirect_uri)
  assert.ok(m, r.json.redirect_uri)
  assert.equal((await proxy('/oauth/x', { headers: { authorization: `Bearer ${m[1]!}` } })).status, 200)
})

test('a token deleted through the Admin API stops working at once, on every worker', async () => {
  const t = await clientCredentials()
  const token = t.json.access_token as string
  for (let i = 0; i < 4; i++) assert.equal((await proxy('/oauth/x', { headers: { authorization: `Bearer ${token}` } })).status, 200)
  assert.equal((await admin('DELETE', `/oauth2_tokens/${token}`)).status, 204)
  for (let i = 0; i < 4; i++) assert.equal((await proxy('/oauth/x', { headers: { authorization: `Bearer ${token}` } })).status, 401)
})

test('a global token is refused by a plugin without global_credentials; expired tokens are refused', async () => {
  const global = await admin('POST', '/oauth2_tokens', { credential: { id: ids.app }, expires_in: 0 })
  const g = await proxy('/oauth/x', { headers: { authorization: `Bearer ${global.json.access_token as string}` } })
  assert.equal(g.status, 401)
  assert.deepEqual(g.json, { error: 'invalid_token', error_description: "The access token is global, but the current plugin is configured without 'global_credentials'" })
  const old = await admin('POST', '/oauth2_tokens', { credential: { id: ids.app }, service: { id: ids.service }, expires_in: 1, created_at: Math.floor(Date.now() / 1000) - 10 })
  assert.equal((await proxy('/oauth/x', { headers: { authorization: `Bearer ${old.json.access_token as string}` } })).status, 401)
})

test('anonymous: a failed authentication proceeds as the anonymous consumer', async () => {
  const r = await proxy('/anon/x', { headers: { authorization: 'Bearer nope' } })
  assert.equal(r.status, 200)
  assert.equal(r.json.headers['x-consumer-username'], 'anonymous')
  assert.equal(r.json.headers['x-anonymous-consumer'], 'true')
  assert.equal(r.json.headers['x-authenticated-scope'], undefined)
})

test('the primary side serves the node\'s workers from start-up and every reload\'s new generation', async () => {
  const node = await startGateway(db.settings)
  try {
    // a token made on the other node: only this node's primary side can find it for its workers
    const issued = async (): Promise<string> => {
      const t = await admin('POST', '/oauth2_tokens', { credential: { id: ids.app }, service: { id: ids.service }, expires_in: 3600 })
      assert.equal(t.status, 201)
      return t.json.access_token as string
    }
    const through = async (token: string): Promise<{ status: number; json: Json }> => {
      const r = await request(`${node.proxy}/oauth/x`, { headers: { authorization: `Bearer ${token}`, ...XFP } })
      return { status: r.statusCode, json: await r.body.json() }
    }
    await node.primary.sync()
    const first = await through(await issued())
    assert.equal(first.status, 200, JSON.stringify(first.json))
    assert.equal(first.json.headers['x-consumer-username'], 'bob')
    const gen1 = node.primary.supervisor
    const outcome = await node.primary.reload(node.config)
    assert.equal(outcome.ok, true, outcome.message)
    assert.notEqual(node.primary.supervisor, gen1, 'the reload made a new worker generation')
    // the new generation's workers reach the database through the same primary side
    const second = await through(await issued())
    assert.equal(second.status, 200, JSON.stringify(second.json))
    assert.equal(second.json.headers['x-consumer-id'], ids.bob)
    assert.equal(second.json.headers['x-credential-identifier'], 'clientid123')
    assert.equal((await through('no-such-token')).status, 401)
  } finally {
    await node.stop()
  }
})

test('DB-less: no primary side, so the plugin answers 500 at once (Kong does not support oauth2 without a database)', async () => {
  const node = await startDblessGateway({
    declarative: `_format_version: "3.0"
services:
- name: s
  url: http://127.0.0.1:${echo.port}
  routes:
  - name: r
    paths: [/dbless-oauth2]
  plugins:
  - name: oauth2
    config: { enable_client_credentials: true, provision_key: pk }
`,
  })
  try {
    const t0 = Date.now()
    const r = await request(`${node.proxy}/dbless-oauth2?access_token=abc`)
    assert.equal(r.statusCode, 500)
    assert.deepEqual(await r.body.json(), { message: 'An unexpected error occurred' })
    assert.ok(Date.now() - t0 < 5000, 'answered without waiting for a database')
  } finally {
    await node.stop()
  }
})
