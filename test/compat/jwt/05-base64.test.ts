/**
 * jwt_parser's base64_decode (`-_` to `+/`, then ngx.decode_base64): the token's parts may use
 * either alphabet, and what follows a `=` in a part is not read. A part nginx refuses (a stray
 * character, a length of 4n+1) is still `Bad token; invalid JSON`. Also: a header_names entry
 * with `_` reads the `-` spelling of the field (kong.request.get_headers()'s normalising lookup).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { request } from 'undici'
import { consumer, jwtSecret, plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const c = consumer({ username: 'jwt_tests_consumer' })

test('jwt base64 decoding (compat)', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/'] }, { paths: ['/u'] }],
    plugins: ([r, u]) => [plugin('jwt', {}, { route: r }), plugin('jwt', { header_names: ['X_Jwt'] }, { route: u })],
    entities: { consumers: [c], jwt_secrets: [jwtSecret(c, { key: 'key1', secret: 'secret1' })] },
  })
  const call = async (token: string) => {
    const res = await request(`${url}/`, { headers: { authorization: `Bearer ${token}` } })
    return { status: res.statusCode, body: await res.body.json() as { message?: string } }
  }
  const h64 = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'HS256' })).toString('base64url')
  // a signature whose base64 has `+` or `/`
  let n = 0
  let c64 = ''
  let sig = Buffer.alloc(0)
  do {
    c64 = Buffer.from(JSON.stringify({ iss: 'key1', n: ++n })).toString('base64url')
    sig = createHmac('sha256', 'secret1').update(`${h64}.${c64}`).digest()
  } while (!/[+/]/.test(sig.toString('base64')))

  await t.test('either alphabet is taken', async () => {
    assert.equal((await call(`${h64}.${c64}.${sig.toString('base64url')}`)).status, 200)
    assert.equal((await call(`${h64}.${c64}.${sig.toString('base64')}`)).status, 200)
  })

  await t.test('what follows `=` is not read; a stray character or 4n+1 length is refused', async () => {
    assert.equal((await call(`${h64}.${c64}.${sig.toString('base64url')}=ignored`)).status, 200)
    let r = await call(`${h64}.${c64}.${sig.toString('base64url')}!`)
    assert.equal(r.status, 401)
    assert.equal(r.body.message, 'Bad token; invalid signature')
    r = await call(`${h64}!.${c64}.${sig.toString('base64url')}`)
    assert.equal(r.body.message, 'Bad token; invalid JSON')
    r = await call(`${h64}.${c64}.${sig.toString('base64url')}A`)
    assert.equal(r.status, 401)
  })

  await t.test('header_names with `_` read the `-` spelling', async () => {
    const res = await request(`${url}/u`, { headers: { 'x-jwt': `Bearer ${h64}.${c64}.${sig.toString('base64url')}` } })
    assert.equal(res.statusCode, 200)
    await res.body.dump()
  })
})
