/**
 * Port of the cases of Kong's spec/03-plugins/09-key-auth/02-access_spec.lua that
 * test/integration/plugin-key-auth.test.ts does not already cover: key_in_body with multipart,
 * form duplicates and `apikey[1]`, an unsupported body type, hide_credentials on each body type
 * (the MIME type and other fields kept), percent-encoded query names, anonymous by username, and
 * the key_in_header / key_in_query / key_in_body combination table.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { consumer, keyauth, plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const bob = consumer({ username: 'bob' })
const anon = consumer({ username: 'no-body' })
const cred = keyauth(bob, 'kong')
const right = keyauth(bob, 'right')

type Echo = { url: string; body: string; headers: Record<string, string> }

function multipart (fields: Record<string, string>): { body: string; type: string } {
  const b = 'XxBoundaryxX'
  let body = ''
  for (const [k, v] of Object.entries(fields)) body += `--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`
  return { body: `${body}--${b}--\r\n`, type: `multipart/form-data; boundary=${b}` }
}

function encodeBody (type: string, fields: Record<string, string>): { body: string; type: string } {
  if (type === 'multipart/form-data') return multipart(fields)
  if (type === 'application/json') return { body: JSON.stringify(fields), type }
  return { body: new URLSearchParams(fields).toString(), type }
}

const TYPES = ['application/x-www-form-urlencoded', 'application/json', 'multipart/form-data']

const COMBOS: Array<[string, { h: boolean; q: boolean; b: boolean }]> = [
  ['/ttt', { h: true, q: true, b: true }], ['/ttf', { h: true, q: true, b: false }],
  ['/tff', { h: true, q: false, b: false }], ['/fff', { h: false, q: false, b: false }],
  ['/fft', { h: false, q: false, b: true }], ['/tft', { h: true, q: false, b: true }],
  ['/ftf', { h: false, q: true, b: false }],
]

test('key-auth 02-access (compat)', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/plain'] }, { paths: ['/hide'] }, { paths: ['/body'] }, { paths: ['/hidebody'] }, { paths: ['/anon-name'] },
      ...COMBOS.map(([p]) => ({ paths: [p] }))],
    plugins: ([plain, hide, body, hidebody, anonName, ...combos]) => [
      plugin('key-auth', {}, { route: plain }),
      plugin('key-auth', { hide_credentials: true }, { route: hide }),
      plugin('key-auth', { key_in_body: true }, { route: body }),
      plugin('key-auth', { key_in_body: true, hide_credentials: true }, { route: hidebody }),
      plugin('key-auth', { anonymous: 'no-body' }, { route: anonName }),
      ...COMBOS.map(([, c], i) => plugin('key-auth', { key_in_header: c.h, key_in_query: c.q, key_in_body: c.b }, { route: combos[i] })),
    ],
    entities: { consumers: [bob, anon], keyauth_credentials: [cred, right] },
  })

  const post = async (path: string, type: string, body: string, headers: Record<string, string> = {}) =>
    await request(`${url}${path}`, { method: 'POST', headers: { 'content-type': type, ...headers }, body })

  const expect401 = async (res: Awaited<ReturnType<typeof request>>, message: string): Promise<void> => {
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Key')
    assert.equal((await res.body.json() as { message: string }).message, message)
  }

  for (const type of TYPES) {
    await t.test(`key in body (${type}): valid, in query, in header, invalid`, async () => {
      let e = encodeBody(type, { apikey: 'kong' })
      let res = await post('/body', e.type, e.body)
      assert.equal(res.statusCode, 200)
      await res.body.dump()
      e = encodeBody(type, { non_apikey: 'kong' })
      res = await post('/body?apikey=kong', e.type, e.body)
      assert.equal(res.statusCode, 200)
      await res.body.dump()
      res = await post('/body', e.type, e.body, { apikey: 'kong' })
      assert.equal(res.statusCode, 200)
      await res.body.dump()
      e = encodeBody(type, { apikey: '123' })
      await expect401(await post('/body', e.type, e.body), 'Unauthorized')
    })

    await t.test(`hide_credentials (${type}): the body field goes, the rest and the MIME type stay`, async () => {
      const e = encodeBody(type, { apikey: 'kong', foo: 'bar' })
      const res = await post('/hidebody', e.type, e.body)
      assert.equal(res.statusCode, 200)
      const b = await res.body.json() as Echo
      assert.ok(b.headers['content-type']!.startsWith(type), b.headers['content-type'])
      assert.ok(!b.body.includes('apikey'), b.body)
      assert.ok(b.body.includes('bar'), b.body)
    })
  }

  await t.test('form body: duplicate key, apikey[] and apikey[1] are not keys', async () => {
    const form = 'application/x-www-form-urlencoded'
    await expect401(await post('/body', form, 'apikey=kong&apikey=kong'), 'Duplicate API key found')
    await expect401(await post('/body', form, 'apikey[]=kong&apikey[]=kong'), 'No API key found in request')
    await expect401(await post('/body', form, 'apikey[1]=kong&apikey[1]=kong'), 'No API key found in request')
  })

  await t.test('key_in_body with an unsupported content type: No API key found', async () => {
    await expect401(await post('/hidebody', 'text/plain', 'foobar'), 'No API key found in request')
  })

  await t.test('hide_credentials removes a percent-encoded query name, other args decoded in order', async () => {
    let res = await request(`${url}/plain?c=value1&b=value2&apikey=kong&a=value3`)
    assert.equal((await res.body.json() as Echo).url, '/?c=value1&b=value2&apikey=kong&a=value3')
    res = await request(`${url}/hide?c=value1&b=value2&apikey=kong&a=value3`)
    assert.equal((await res.body.json() as Echo).url, '/?c=value1&b=value2&a=value3')
    res = await request(`${url}/hide?c=valu%651&b=value2&api%6B%65%79=kong&a=valu%653`)
    assert.equal(res.statusCode, 200)
    assert.equal((await res.body.json() as Echo).url, '/?c=value1&b=value2&a=value3')
    // Kong appends `?` and $args whenever the request had a `?` (runloop), even if args are now empty.
    res = await request(`${url}/hide?apikey=kong`)
    assert.equal((await res.body.json() as Echo).url, '/?')
    res = await request(`${url}/hide?x=a+b&apikey=kong&y=%2F`)
    assert.equal((await res.body.json() as Echo).url, '/?x=a%20b&y=%2F')
  })

  await t.test('anonymous given by username: wrong credentials give that consumer', async () => {
    const res = await request(`${url}/anon-name`, { headers: { apikey: 'wrong' } })
    assert.equal(res.statusCode, 200)
    const h = (await res.body.json() as Echo).headers
    assert.equal(h['x-consumer-username'], 'no-body')
    assert.equal(h['x-consumer-id'], anon.id)
    assert.equal(h['x-anonymous-consumer'], 'true')
  })

  await t.test('header / query / body combinations (Kong\'s table of 119)', async () => {
    const vals: Array<string | undefined> = ['right', 'wrong', undefined]
    for (const h of vals) {
      for (const q of vals) {
        for (const b of vals) {
          for (const [path, c] of COMBOS) {
            // The first present source that the config reads decides.
            const seen = [c.h ? h : undefined, c.q ? q : undefined, c.b ? b : undefined].find((v) => v !== undefined)
            const want = seen === 'right' ? 200 : 401
            const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
            if (h !== undefined) headers.apikey = h
            const res = await request(`${url}${path}${q !== undefined ? `?apikey=${q}` : ''}`, { method: 'POST', headers, body: b !== undefined ? `apikey=${b}` : '' })
            await res.body.dump()
            assert.equal(res.statusCode, want, `${h}/${q}/${b} ${path}`)
            if (want === 401) assert.equal(res.headers['www-authenticate'], 'Key')
          }
        }
      }
    }
  })
})
