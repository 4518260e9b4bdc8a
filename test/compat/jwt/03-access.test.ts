/**
 * Port of Kong's spec/03-plugins/16-jwt/03-access_spec.lua: refusals and their messages and
 * WWW-Authenticate values, token sources (header, custom header, duplicated header, query,
 * custom query name, cookies), HS256/384/512, base64 secrets, key_claim_name, RS256/384/512,
 * ES256/384/512, PS256, EdDSA, claims_to_verify (exp, nbf), maximum_expiration, anonymous, and
 * multiple auth plugins in logical AND / OR.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac, generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto'
import { request } from 'undici'
import { consumer, jwtSecret, keyauth, plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const b64u = (b: Buffer | string): string => Buffer.from(b).toString('base64url')

/** jwt_parser.encode: header {typ, alg} unless given. */
function encode (payload: object, key: string | Buffer | KeyObject, alg = 'HS256', header: object = { typ: 'JWT', alg }): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`
  let sig: Buffer
  const hash = `sha${alg.slice(2)}`
  if (alg.startsWith('HS')) sig = createHmac(hash, key as string | Buffer).update(input).digest()
  else if (alg.startsWith('RS')) sig = sign(hash, Buffer.from(input), key as KeyObject)
  else if (alg.startsWith('PS')) sig = sign(hash, Buffer.from(input), { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
  else if (alg === 'EdDSA') sig = sign(null, Buffer.from(input), key as KeyObject)
  else sig = sign(hash, Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' })
  return `${input}.${b64u(sig)}`
}

const pem = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }) as string
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
const ec512 = generateKeyPairSync('ec', { namedCurve: 'P-521' })
const ed = generateKeyPairSync('ed25519')

const c1 = consumer({ username: 'jwt_tests_consumer' })
const c2 = consumer({ username: 'jwt_tests_base64_consumer' })
const cRsa = consumer({ username: 'jwt_tests_rsa_consumer' })
const cEc = consumer({ username: 'jwt_tests_ec_consumer' })
const anon = consumer({ username: 'no-body' })
const secret = jwtSecret(c1, { key: 'key1', secret: 'secret1' })
const secret384 = jwtSecret(c1, { key: 'key384', secret: 'secret384', algorithm: 'HS384' })
const secret512 = jwtSecret(c1, { key: 'key512', secret: 'secret512', algorithm: 'HS512' })
const b64Secret = jwtSecret(c2, { key: 'keyb64', secret: b64u('a secret with bytes \u0001\u0002') })
const asym = [
  ['RS256', rsa], ['RS384', rsa], ['RS512', rsa], ['PS256', rsa], ['ES256', ec256], ['ES384', ec384], ['ES512', ec512], ['EdDSA', ed],
] as const
const asymSecrets = asym.map(([alg, kp]) => jwtSecret(alg.startsWith('E') ? cEc : cRsa, { key: `key-${alg}`, algorithm: alg, rsa_public_key: pem(kp.publicKey) }))

const now = (): number => Math.floor(Date.now() / 1000)

test('jwt 03-access', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: Array.from({ length: 16 }, (_, i) => ({ hosts: [`jwt${i + 1}.test`] })),
    plugins: (r) => [
      plugin('jwt', {}, { route: r[0] }),
      plugin('jwt', { uri_param_names: ['token', 'jwt'] }, { route: r[1] }),
      plugin('jwt', { claims_to_verify: ['nbf', 'exp'] }, { route: r[2] }),
      plugin('jwt', { key_claim_name: 'aud' }, { route: r[3] }),
      plugin('jwt', { secret_is_base64: true }, { route: r[4] }),
      plugin('jwt', { anonymous: anon.id }, { route: r[5] }),
      plugin('jwt', { anonymous: '00000000-0000-0000-0000-000000000001' }, { route: r[6] }),
      plugin('jwt', { run_on_preflight: false }, { route: r[7] }),
      plugin('jwt', { cookie_names: ['silly', 'crumble'], realm: 'test-jwt' }, { route: r[8] }),
      plugin('jwt', { key_claim_name: 'kid' }, { route: r[9] }),
      plugin('jwt', { claims_to_verify: ['nbf', 'exp'], maximum_expiration: 300 }, { route: r[10] }),
      plugin('jwt', { header_names: ['CustomAuthorization'] }, { route: r[11] }),
      plugin('jwt', { anonymous: anon.username }, { route: r[12] }),
      // 14: logical AND with key-auth; 15: logical OR with key-auth
      plugin('jwt', {}, { route: r[13] }),
      plugin('key-auth', {}, { route: r[13] }),
      plugin('jwt', { anonymous: anon.id }, { route: r[14] }),
      plugin('key-auth', { anonymous: anon.id }, { route: r[14] }),
    ],
    entities: {
      consumers: [c1, c2, cRsa, cEc, anon],
      jwt_secrets: [secret, secret384, secret512, b64Secret, ...asymSecrets],
      keyauth_credentials: [keyauth(c1, 'kongkey')],
    },
  })
  const call = async (host: string, headers: Record<string, string | string[]> = {}, path = '/request', method = 'GET') => {
    const res = await request(`${url}${path}`, { method, headers: { host, ...headers } })
    const text = await res.body.text()
    return { status: res.statusCode, www: res.headers['www-authenticate'], text, json: () => JSON.parse(text) as Record<string, unknown> }
  }
  const bearer = (jwt: string): Record<string, string> => ({ authorization: `Bearer ${jwt}` })
  const PAYLOAD = { iss: 'key1', nbf: now() - 30, exp: now() + 300 }

  await t.test('refusals', async () => {
    let r = await call('jwt1.test')
    assert.equal(r.status, 401)
    assert.equal(r.www, 'Bearer')
    assert.deepEqual(r.json(), { message: 'Unauthorized' })
    r = await call('jwt1.test', bearer(encode({ ...PAYLOAD, iss: undefined }, 'foo')))
    assert.deepEqual(r.json(), { message: "No mandatory 'iss' in claims" })
    assert.equal(r.www, 'Bearer error="invalid_token"')
    r = await call('jwt1.test', bearer(encode({ ...PAYLOAD, iss: '' }, 'foo')))
    assert.deepEqual(r.json(), { message: "Invalid 'iss' in claims" })
    r = await call('jwt1.test', bearer(encode({ ...PAYLOAD, iss: '123456789' }, 'secret1')))
    assert.deepEqual(r.json(), { message: "No credentials found for given 'iss'" })
    r = await call('jwt1.test', bearer(encode(PAYLOAD, 'foo')))
    assert.deepEqual(r.json(), { message: 'Invalid signature' })
    r = await call('jwt1.test', bearer(encode(PAYLOAD, 'secret1', 'HS256', { typ: 'JWT', alg: 'RS256' })))
    assert.deepEqual(r.json(), { message: 'Invalid algorithm' })
    r = await call('jwt1.test', bearer('a.b'))
    assert.deepEqual(r.json(), { message: 'Bad token; invalid JSON' })
    r = await call('jwt1.test', bearer(encode(PAYLOAD, 'secret1', 'HS256', { typ: 'JWT', alg: 'none' })))
    assert.deepEqual(r.json(), { message: 'Bad token; invalid alg' })
  })

  await t.test('preflight', async () => {
    assert.equal((await call('jwt8.test', {}, '/request', 'OPTIONS')).status, 200)
    const r = await call('jwt1.test', {}, '/request', 'OPTIONS')
    assert.equal(r.status, 401)
    assert.equal(r.text, '{"message":"Unauthorized"}')
  })

  await t.test('maximum_expiration', async () => {
    let r = await call('jwt11.test', {}, `/request/?jwt=${encode({ iss: 'key1', exp: now() + 3600, nbf: now() - 30 }, 'secret1')}`)
    assert.equal(r.status, 401)
    assert.equal(r.text, '{"exp":"exceeds maximum allowed expiration"}')
    assert.equal(r.www, 'Bearer error="invalid_token"')
    r = await call('jwt11.test', {}, `/request/?jwt=${encode({ iss: 'key1', exp: now() + 270, nbf: now() - 30 }, 'secret1')}`)
    assert.equal(r.status, 200)
  })

  await t.test('reject if multiple different tokens found; the same token twice is one', async () => {
    const jwt = encode(PAYLOAD, 'secret1')
    let r = await call('jwt1.test', { authorization: 'Bearer invalid.jwt.token' }, `/request?jwt=${jwt}`)
    assert.equal(r.status, 401)
    assert.deepEqual(r.json(), { message: 'Multiple tokens provided' })
    assert.equal(r.www, 'Bearer error="invalid_token"')
    r = await call('jwt1.test', bearer(jwt), `/request?jwt=${jwt}`)
    assert.equal(r.status, 200)
  })

  await t.test('HS256: proxies with consumer headers', async () => {
    const r = await call('jwt1.test', bearer(encode(PAYLOAD, 'secret1')))
    assert.equal(r.status, 200)
    const h = (r.json().headers as Record<string, string>)
    assert.equal(h.authorization, `Bearer ${encode(PAYLOAD, 'secret1')}`)
    assert.equal(h['x-consumer-username'], 'jwt_tests_consumer')
    assert.equal(h['x-consumer-id'], c1.id)
    assert.equal(h['x-credential-identifier'], 'key1')
    assert.equal(h['x-anonymous-consumer'], undefined)
  })

  await t.test('key in the JWT header, or in another claim', async () => {
    assert.equal((await call('jwt10.test', bearer(encode({ exp: now() + 60 }, 'secret1', 'HS256', { typ: 'JWT', alg: 'HS256', kid: 'key1' })))).status, 200)
    assert.equal((await call('jwt4.test', bearer(encode({ aud: 'key1' }, 'secret1')))).status, 200)
  })

  await t.test('secret_is_base64', async () => {
    const raw = Buffer.from('a secret with bytes \u0001\u0002')
    assert.equal((await call('jwt5.test', bearer(encode({ iss: 'keyb64' }, raw)))).status, 200)
    // Without secret_is_base64 the stored (encoded) text itself is the key.
    assert.equal((await call('jwt1.test', bearer(encode({ iss: 'keyb64' }, raw)))).status, 401)
    assert.equal((await call('jwt1.test', bearer(encode({ iss: 'keyb64' }, b64Secret.secret as string)))).status, 200)
  })

  await t.test('cookies', async () => {
    const jwt = encode(PAYLOAD, 'secret1')
    assert.equal((await call('jwt9.test', { cookie: `crumble=${jwt}; path=/;domain=.jwt9.test` })).status, 200)
    assert.equal((await call('jwt9.test', { cookie: `silly=${jwt}; path=/;domain=.jwt9.test` })).status, 200)
    let r = await call('jwt9.test', { cookie: `silly=${encode({ iss: 'nope' }, 'x')}; path=/;domain=.jwt9.test` })
    assert.deepEqual(r.json(), { message: "No credentials found for given 'iss'" })
    assert.equal(r.www, 'Bearer realm="test-jwt", error="invalid_token"')
    r = await call('jwt9.test', { cookie: `silly=no-way-this-works${jwt}; path=/;domain=.jwt9.test` })
    assert.equal(r.text, '{"message":"Bad token; invalid JSON"}')
    assert.equal((await call('jwt9.test', bearer(jwt))).status, 200)
    r = await call('jwt9.test')
    assert.equal(r.www, 'Bearer realm="test-jwt"')
  })

  await t.test('custom header, first occurrence of a duplicated header, URL parameters', async () => {
    const jwt = encode(PAYLOAD, 'secret1')
    assert.equal((await call('jwt12.test', { customauthorization: `Bearer ${jwt}` })).status, 200)
    assert.equal((await call('jwt12.test', { customauthorization: [`Bearer ${jwt}`, 'Bearer other-token'] })).status, 200)
    assert.equal((await call('jwt1.test', {}, `/request/?jwt=${jwt}`)).status, 200)
    assert.equal((await call('jwt2.test', {}, `/request/?token=${jwt}`)).status, 200)
  })

  await t.test('HS384 and HS512', async () => {
    assert.equal((await call('jwt1.test', bearer(encode({ iss: 'key384' }, 'secret384', 'HS384')))).status, 200)
    assert.equal((await call('jwt1.test', bearer(encode({ iss: 'key512' }, 'secret512', 'HS512')))).status, 200)
    assert.equal((await call('jwt1.test', bearer(encode({ iss: 'key512' }, 'secret512', 'HS384')))).status, 401)
  })

  await t.test('asymmetric algorithms verify and identify the consumer', async () => {
    for (const [alg, kp] of asym) {
      const r = await call('jwt1.test', bearer(encode({ iss: `key-${alg}` }, kp.privateKey, alg)))
      assert.equal(r.status, 200, alg)
      assert.equal((r.json().headers as Record<string, string>)['x-consumer-username'], alg.startsWith('E') ? 'jwt_tests_ec_consumer' : 'jwt_tests_rsa_consumer', alg)
      const bad = await call('jwt1.test', bearer(encode({ iss: `key-${alg}` }, alg.startsWith('E') && alg !== 'EdDSA' ? generateKeyPairSync('ec', { namedCurve: (kp.privateKey.asymmetricKeyDetails?.namedCurve ?? 'P-256') }).privateKey : alg === 'EdDSA' ? generateKeyPairSync('ed25519').privateKey : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, alg)))
      assert.equal(bad.status, 401, alg)
      assert.deepEqual(bad.json(), { message: 'Invalid signature' }, alg)
    }
  })

  await t.test('claims_to_verify: required, exp and nbf', async () => {
    let r = await call('jwt3.test', bearer(encode({ iss: 'key1' }, 'secret1')))
    assert.equal(r.status, 401)
    assert.deepEqual(r.json(), { nbf: 'must be a number', exp: 'must be a number' })
    r = await call('jwt3.test', bearer(encode({ iss: 'key1', exp: now() - 10, nbf: now() - 30 }, 'secret1')))
    assert.deepEqual(r.json(), { exp: 'token expired' })
    r = await call('jwt3.test', bearer(encode({ iss: 'key1', exp: now() + 100, nbf: now() + 60 }, 'secret1')))
    assert.deepEqual(r.json(), { nbf: 'token not valid yet' })
    r = await call('jwt3.test', bearer(encode({ iss: 'key1', exp: now() + 100, nbf: now() - 60 }, 'secret1')))
    assert.equal(r.status, 200)
  })

  await t.test('config.anonymous', async () => {
    let r = await call('jwt6.test', bearer(encode(PAYLOAD, 'secret1')))
    assert.equal((r.json().headers as Record<string, string>)['x-consumer-username'], 'jwt_tests_consumer')
    r = await call('jwt6.test', bearer(encode(PAYLOAD, 'wrong')))
    let h = r.json().headers as Record<string, string>
    assert.equal(h['x-anonymous-consumer'], 'true')
    assert.equal(h['x-consumer-username'], 'no-body')
    r = await call('jwt13.test', bearer(encode(PAYLOAD, 'wrong')))
    h = r.json().headers as Record<string, string>
    assert.equal(h['x-consumer-username'], 'no-body')
    r = await call('jwt7.test', bearer(encode(PAYLOAD, 'wrong')))
    assert.equal(r.status, 500)
    assert.equal(r.json().message, "anonymous consumer 00000000-0000-0000-0000-000000000001 is configured but doesn't exist")
  })

  await t.test('multiple auth without anonymous, logical AND', async () => {
    const jwt = encode(PAYLOAD, 'secret1')
    assert.equal((await call('jwt14.test', { ...bearer(jwt), apikey: 'kongkey' })).status, 200)
    let r = await call('jwt14.test', bearer(jwt))
    assert.equal(r.status, 401)
    assert.equal(r.www, 'Key')
    r = await call('jwt14.test', { apikey: 'kongkey' })
    assert.equal(r.status, 401)
    assert.equal(r.www, 'Bearer')
    assert.equal((await call('jwt14.test')).status, 401)
  })

  await t.test('multiple auth with anonymous, logical OR', async () => {
    const jwt = encode(PAYLOAD, 'secret1')
    for (const headers of [{ ...bearer(jwt), apikey: 'kongkey' }, bearer(jwt), { apikey: 'kongkey' }]) {
      const r = await call('jwt15.test', headers)
      assert.equal(r.status, 200)
      const h = r.json().headers as Record<string, string>
      assert.equal(h['x-consumer-username'], 'jwt_tests_consumer')
      assert.equal(h['x-anonymous-consumer'], undefined)
    }
    const r = await call('jwt15.test')
    assert.equal(r.status, 200)
    assert.equal((r.json().headers as Record<string, string>)['x-anonymous-consumer'], 'true')
  })
})
