/**
 * Port of Kong's spec/03-plugins/13-cors/01-access_spec.lua: the origin matching table
 * (`regex_testcases`, preflight requests), defaults, config options, preflight_continue,
 * credentials with `*`, Vary handling and the header filter on proxied, 404 and plugin responses.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { consumer, keyauth, plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const CORS_DEFAULT_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT'

const REGEX_TESTCASES: Array<{ origins: string[]; tests: Record<string, boolean | string> }> = [
  { origins: ['foo.test'], tests: { 'http://evil.test': 'foo.test', 'http://foo.test': 'foo.test', 'http://foo.test:8000': 'foo.test', 'https://bar.test:1234': 'foo.test' } },
  { origins: ['https://bar.test:1234'], tests: { 'http://evil.test': 'https://bar.test:1234', 'https://bar.test:1234': 'https://bar.test:1234' } },
  {
    origins: ['foo\\.test'],
    tests: {
      'http://evil.test': false, 'http://foo.test': true, 'http://foo.test.evil.test': false, 'http://something.foo.test': false,
      'http://evilfoo.test': false, 'http://foo.test:80': 'http://foo.test', 'http://foo.test:8000': true, 'https://foo.test:8000': true,
      'http://foo.test:90': true, 'http://foobtest': false, 'https://bar.test:1234': false,
    },
  },
  {
    origins: ['(.*[./])?foo\\.test'],
    tests: {
      'http://evil.test': false, 'http://foo.test': true, 'http://foo.test.evil.test': false, 'http://something.foo.test': true,
      'http://evilfoo.test': false, 'http://foo.test:80': 'http://foo.test', 'http://foo.test:8000': true, 'https://foo.test:8000': true,
      'http://foo.test:90': true, 'http://foobtest': false, 'https://bar.test:1234': false,
    },
  },
  {
    origins: ['(.*[./])?foo\\.test:8000'],
    tests: {
      'http://evil.test': false, 'http://foo.test': false, 'http://foo.test.evil.test': false, 'http://something.foo.test': false,
      'http://evilfoo.test': false, 'http://foo.test:80': false, 'http://foo.test:8000': true, 'https://foo.test:8000': true,
      'http://foo.test:90': false, 'http://foobtest': false, 'https://bar.test:1234': false,
    },
  },
  {
    origins: ['https://(.*[.])?foo\\.test:8000'],
    tests: {
      'http://evil.test': false, 'http://foo.test': false, 'http://something.foo.test': false, 'http://foo.test:80': false,
      'http://foo.test:8000': false, 'https://foo.test:8000': true, 'http://foo.test:90': false, 'https://bar.test:1234': false,
    },
  },
  {
    origins: ['^http://(.*[.])?foo\\.test(:(80|90))?$'],
    tests: {
      'http://evil.test': false, 'http://foo.test': true, 'http://foo.test.evil.test': false, 'http://something.foo.test': true,
      'http://foo.test:80': 'http://foo.test', 'http://foo.test:8000': false, 'https://foo.test:8000': false, 'http://foo.test:90': true,
      'http://foobtest': false, 'https://bar.test:1234': false,
    },
  },
  {
    origins: ['foo.test', 'bar.test'],
    tests: { 'http://evil.test': false, 'http://foo.test': false, 'http://foo.test:80': false, 'https://bar.test:1234': false },
  },
  {
    origins: ['http://foo.test', 'https://bar.test:1234'],
    tests: {
      'http://evil.test': false, 'http://foo.test': true, 'http://foo.test.evil.test': false, 'http://foo.test:80': 'http://foo.test',
      'http://foo.test:8000': false, 'http://foo.test:90': false, 'http://foobtest': false, 'https://bar.test:1234': true,
    },
  },
  {
    origins: ['bar.test', 'foo\\.test'],
    tests: {
      'http://evil.test': false, 'http://foo.test': true, 'http://something.foo.test': false, 'http://foo.test:80': 'http://foo.test',
      'http://foo.test:8000': true, 'http://foo.test:90': true, 'http://foobtest': false, 'https://bar.test:1234': false,
    },
  },
  {
    origins: ['bar.test', '(.*\\.)?foo\\.test'],
    tests: { 'http://foo.test': true, 'http://something.foo.test': true, 'http://foo.test.evil.test': false, 'http://foo.test:80': 'http://foo.test' },
  },
  {
    origins: ['bar.test', '(.*[./])?foo\\.test:8000'],
    tests: { 'http://foo.test': false, 'http://foo.test:8000': true, 'https://foo.test:8000': true, 'http://foo.test:90': false },
  },
  {
    origins: ['bar.test', 'https://(.*\\.)?foo\\.test:8000'],
    tests: { 'http://foo.test:8000': false, 'https://foo.test:8000': true, 'https://bar.test:1234': false },
  },
]

test('cors 01-access: origin matching table (preflight)', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: REGEX_TESTCASES.map((_, i) => ({ hosts: [`cors-regex-${i}.test`] })),
    plugins: (routes) => REGEX_TESTCASES.map((tc, i) => plugin('cors', { origins: tc.origins }, { route: routes[i] })),
  })
  for (const [i, tc] of REGEX_TESTCASES.entries()) {
    for (const [origin, accept] of Object.entries(tc.tests)) {
      const res = await request(url, { method: 'OPTIONS', headers: { host: `cors-regex-${i}.test`, origin, 'access-control-request-method': 'GET' } })
      await res.body.dump()
      const what = `${JSON.stringify(tc.origins)} given ${origin}`
      assert.equal(res.statusCode, 200, what)
      if (accept !== false) {
        assert.equal(res.headers['access-control-allow-methods'], CORS_DEFAULT_METHODS, what)
        assert.equal(res.headers['access-control-allow-origin'], accept === true ? origin : accept, what)
        assert.equal(res.headers['access-control-allow-headers'], undefined, what)
        assert.equal(res.headers['access-control-allow-credentials'], undefined, what)
        assert.equal(res.headers['access-control-max-age'], undefined, what)
      } else {
        assert.equal(res.headers['access-control-allow-origin'], undefined, what)
      }
    }
  }
})

test('cors 01-access: preflight and actual requests', async (t) => {
  const bob = consumer({ username: 'bob' })
  const { url, echo } = await pluginGateway(t, {
    routes: [
      { hosts: ['cors1.test'] }, { hosts: ['cors2.test'] }, { hosts: ['cors3.test'] }, { hosts: ['cors5.test'] },
      { hosts: ['cors6.test'] }, { hosts: ['cors-empty.test'] }, { hosts: ['cors-auth.test'] }, { hosts: ['cors-pn.test'] },
    ],
    plugins: ([r1, r2, r3, r5, r6, rEmpty, rAuth, rPn]) => [
      plugin('cors', {}, { route: r1 }),
      plugin('cors', { origins: ['example.test'], methods: ['GET'], headers: ['origin', 'type', 'accepts'], exposed_headers: ['x-auth-token'], max_age: 23, credentials: true }, { route: r2 }),
      plugin('cors', { origins: ['example.test'], methods: ['GET'], headers: ['origin', 'type', 'accepts'], exposed_headers: ['x-auth-token'], max_age: 23, preflight_continue: true }, { route: r3 }),
      plugin('cors', { origins: ['*'], credentials: true }, { route: r5 }),
      plugin('cors', { origins: ['foo.bar', '*'] }, { route: r6 }),
      plugin('cors', { origins: [] }, { route: rEmpty }),
      plugin('cors', {}, { route: rAuth }),
      plugin('key-auth', {}, { route: rAuth }),
      plugin('cors', { private_network: true }, { route: rPn }),
    ],
    entities: { consumers: [bob], keyauth_credentials: [keyauth(bob, 'k')] },
  })
  const preflight = async (host: string, extra: Record<string, string> = {}) => {
    const res = await request(url, { method: 'OPTIONS', headers: { host, origin: 'origin1.test', 'access-control-request-method': 'GET', ...extra } })
    const body = await res.body.text()
    return { res, body }
  }

  await t.test('gives appropriate defaults', async () => {
    const { res, body } = await preflight('cors1.test')
    assert.equal(res.statusCode, 200)
    assert.equal(body, '')
    assert.equal(res.headers['content-length'], '0')
    assert.equal(res.headers['access-control-allow-methods'], CORS_DEFAULT_METHODS)
    assert.equal(res.headers['access-control-allow-origin'], '*')
    assert.equal(res.headers['access-control-allow-headers'], undefined)
    assert.equal(res.headers['access-control-expose-headers'], undefined)
    assert.equal(res.headers['access-control-allow-credentials'], undefined)
    assert.equal(res.headers['access-control-max-age'], undefined)
    assert.equal(res.headers.vary, undefined)
    assert.equal(echo.received.length, 0)
  })

  await t.test('gives * wildcard when config.origins is empty', async () => {
    const { res } = await preflight('cors-empty.test')
    assert.equal(res.headers['access-control-allow-origin'], '*')
    assert.equal(res.headers.vary, undefined)
  })

  await t.test('origin * with credentials=true echoes the origin with Vary', async () => {
    const { res } = await preflight('cors5.test', { origin: 'origin5.test' })
    assert.equal(res.headers['access-control-allow-origin'], 'origin5.test')
    assert.equal(res.headers['access-control-allow-credentials'], 'true')
    assert.equal(res.headers.vary, 'Origin')
  })

  await t.test('gives * wildcard when origins has several entries including *', async () => {
    const { res } = await preflight('cors6.test')
    assert.equal(res.headers['access-control-allow-origin'], '*')
  })

  await t.test('accepts config options', async () => {
    const { res } = await preflight('cors2.test')
    assert.equal(res.headers['content-length'], '0')
    assert.equal(res.headers['access-control-allow-methods'], 'GET')
    assert.equal(res.headers['access-control-allow-origin'], 'example.test')
    assert.equal(res.headers['access-control-max-age'], '23')
    assert.equal(res.headers['access-control-allow-credentials'], 'true')
    assert.equal(res.headers['access-control-allow-headers'], 'origin,type,accepts')
    assert.equal(res.headers['access-control-expose-headers'], undefined)
    assert.equal(res.headers.vary, 'Origin')
  })

  await t.test('preflight_continue proxies the preflight', async () => {
    const before = echo.received.length
    const { res } = await preflight('cors3.test')
    assert.equal(res.statusCode, 200)
    assert.equal(echo.received.length, before + 1)
    assert.equal(echo.received.at(-1)!.method, 'OPTIONS')
  })

  await t.test('replies with request-headers if present in request', async () => {
    const { res } = await preflight('cors1.test', { 'access-control-request-headers': 'origin,accepts' })
    assert.equal(res.headers['access-control-allow-headers'], 'origin,accepts')
  })

  await t.test('supports private-network', async () => {
    const { res } = await preflight('cors-pn.test', { 'access-control-request-private-network': 'true' })
    assert.equal(res.headers['access-control-allow-private-network'], 'true')
  })

  await t.test('actual request: defaults', async () => {
    const res = await request(url, { headers: { host: 'cors1.test' } })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['access-control-allow-origin'], '*')
    assert.equal(res.headers['access-control-allow-methods'], undefined)
    assert.equal(res.headers.vary, undefined)
    await res.body.dump()
  })

  await t.test('a non-preflight OPTIONS request is proxied', async () => {
    const res = await request(url, { method: 'OPTIONS', headers: { host: 'cors1.test' } })
    assert.equal(res.statusCode, 200)
    assert.equal((await res.body.json() as { method: string }).method, 'OPTIONS')
    assert.equal(res.headers['access-control-allow-origin'], '*')
  })

  await t.test('actual request: config options', async () => {
    const res = await request(url, { headers: { host: 'cors2.test', origin: 'http://whatever.test' } })
    assert.equal(res.headers['access-control-allow-origin'], 'example.test')
    assert.equal(res.headers['access-control-expose-headers'], 'x-auth-token')
    assert.equal(res.headers['access-control-allow-credentials'], 'true')
    assert.equal(res.headers.vary, 'Origin')
    await res.body.dump()
  })

  await t.test('works with 40x responses returned by another plugin', async () => {
    const res = await request(url, { headers: { host: 'cors-auth.test' } })
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['access-control-allow-origin'], '*')
    assert.equal(res.headers.vary, undefined)
    await res.body.dump()
  })

  await t.test('preflight before authentication: cors answers, key-auth never runs', async () => {
    const { res } = await preflight('cors-auth.test')
    assert.equal(res.statusCode, 200)
  })
})
