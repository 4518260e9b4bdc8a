/**
 * Routing end to end through real worker threads, and Kong's proxy surface: the upstream path,
 * the exact upstream request headers, the downstream headers of proxied and gateway responses,
 * and the gateway responses themselves (404, 503, 426, redirects) in every body type.
 * Kong: spec/02-integration/05-proxy/03-upstream_headers_spec.lua, 14-server_tokens_spec.lua,
 * kong/runloop/handler.lua, kong/tools/http.lua.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { request } from 'undici'
import { startEcho, type Received, type Upstream } from '../helpers/upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'

const HEX32 = /^[0-9a-f]{32}$/
const DIGITS = /^\d+$/

let echo: Upstream
let h: Harness

async function get (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const res = await request(`${h.url}${path}`, { method: method as 'GET', headers })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

/** node:http client: sends any header (undici refuses Keep-Alive and friends) and any target. */
function nodeGet (path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: h.port, path, headers, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function echoed (path: string, headers: Record<string, string> = {}): Promise<{ res: Awaited<ReturnType<typeof get>>; got: Received }> {
  const res = await nodeGet(path, headers)
  assert.equal(res.status, 200, res.text)
  return { res, got: JSON.parse(res.text) as Received }
}

before(async () => {
  echo = await startEcho()
  const svc = service({ host: '127.0.0.1', port: echo.port })
  const based = service({ host: '127.0.0.1', port: echo.port, path: '/base' })
  const disabled = service({ host: '127.0.0.1', port: echo.port, enabled: false })
  h = await startWorkers({
    snapshot: snapshot([svc, based, disabled], [
      route({ paths: ['/echo'] }, svc),
      route({ paths: ['/keep'], strip_path: false }, svc),
      route({ paths: ['/svc'] }, based),
      route({ hosts: ['preserved.test'], preserve_host: true }, svc),
      route({ paths: ['/_/'], strip_path: false }, svc),
      route({ paths: ['/nosvc'] }, null),
      route({ paths: ['/disabled'] }, disabled),
      route({ paths: ['/secure'], protocols: ['https'] }, svc),
      route({ paths: ['/moved'], protocols: ['https'], https_redirect_status_code: 301 }, svc),
    ]),
  })
})

after(async () => {
  await h?.stop()
  await echo?.close()
})

describe('routing', () => {
  test('strip_path removes the matched prefix; the query string goes up unchanged', async () => {
    const { got } = await echoed('/echo/a/b?x=1&y=%20z')
    assert.equal(got.url, '/a/b?x=1&y=%20z')
    assert.equal(got.method, 'GET')
  })

  test('strip_path=false keeps the path; a bare trailing ? is preserved', async () => {
    const { got } = await echoed('/keep/z?')
    assert.equal(got.url, '/keep/z?')
  })

  test('service path is joined with the stripped remainder (v0)', async () => {
    assert.equal((await echoed('/svc/foo')).got.url, '/base/foo')
    assert.equal((await echoed('/svc')).got.url, '/base')
  })

  test('no matching route: 404 JSON with request_id, Kong gateway headers, no Via', async () => {
    const res = await get('/nowhere')
    assert.equal(res.status, 404)
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    const id = res.headers['x-kong-request-id'] as string
    assert.match(id, HEX32)
    assert.equal(res.text, `{\n  "message":"no Route matched with those values",\n  "request_id":"${id}"\n}`)
    assert.equal(res.headers.server, 'kong/3.10.0')
    assert.match(res.headers['x-kong-response-latency'] as string, DIGITS)
    assert.equal(res.headers.via, undefined)
    assert.equal(res.headers['x-kong-upstream-latency'], undefined)
    assert.equal(res.headers['x-kong-proxy-latency'], undefined)
  })

  test('404 body follows Accept: text/plain, text/html, application/xml, q-values', async () => {
    const plain = await get('/nowhere', { accept: 'text/plain' })
    const id = plain.headers['x-kong-request-id'] as string
    assert.equal(plain.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(plain.text, `no Route matched with those values\nrequest_id: ${id}\n`)

    const html = await get('/nowhere', { accept: 'text/html' })
    assert.equal(html.headers['content-type'], 'text/html; charset=utf-8')
    assert.ok(html.text.includes('<p>no Route matched with those values.</p>'))
    assert.ok(html.text.includes(`<p>request_id: ${html.headers['x-kong-request-id'] as string}</p>`))

    const xml = await get('/nowhere', { accept: 'application/xml' })
    assert.equal(xml.headers['content-type'], 'application/xml; charset=utf-8')
    assert.ok(xml.text.includes('<message>no Route matched with those values</message>'))

    const q = await get('/nowhere', { accept: 'application/json;q=0.2, text/plain;q=0.9' })
    assert.equal(q.headers['content-type'], 'text/plain; charset=utf-8')
    const unknown = await get('/nowhere', { accept: 'image/png' })
    assert.equal(unknown.headers['content-type'], 'application/json; charset=utf-8')
  })

  test('route without a service: 503 no Service found', async () => {
    const res = await get('/nosvc/x')
    assert.equal(res.status, 503)
    const id = res.headers['x-kong-request-id'] as string
    assert.equal(res.text, `{\n  "message":"no Service found with those values",\n  "request_id":"${id}"\n}`)
  })

  test('routes of a disabled service are left out: 404', async () => {
    assert.equal((await get('/disabled/x')).status, 404)
  })

  test('HTTPS-only route over http: 426 with Connection: Upgrade, Upgrade: TLS/1.2, HTTP/1.1', async () => {
    const res = await get('/secure/x', { accept: 'text/plain' })
    assert.equal(res.status, 426)
    assert.equal(res.headers.upgrade, 'TLS/1.2, HTTP/1.1')
    assert.match(String(res.headers.connection), /upgrade/i)
    assert.equal(res.text, `Please use HTTPS protocol\nrequest_id: ${res.headers['x-kong-request-id'] as string}\n`)
  })

  test('HTTPS-only route with https_redirect_status_code 301: Location on the same host, empty body', async () => {
    const res = await get('/moved/x?y=1', { host: 'Example.test:8000' })
    assert.equal(res.status, 301)
    assert.equal(res.headers.location, 'https://example.test/moved/x?y=1')
    assert.equal(res.headers['content-length'], '0')
    assert.equal(res.text, '')
  })
})

describe('upstream request headers (untrusted client)', () => {
  test('exactly Kong\'s set: Host, X-Forwarded-*, X-Real-IP, Via, request id, no hop-by-hop', async () => {
    const { res, got } = await echoed('/echo/p?q=1', {
      host: 'Client.Example:9999',
      accept: '*/*',
      'x-custom': 'v',
      connection: 'keep-alive, X-Foo',
      'x-foo': 'remove-me',
      'keep-alive': 'timeout=5',
      proxy: 'remove-me',
      'proxy-connection': 'close',
      'proxy-authorization': 'Basic abc',
      te: 'trailers, deflate;q=0.5',
      'x-forwarded-for': '10.0.0.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'spoofed.test',
      'x-forwarded-port': '1',
      'x-forwarded-path': '/spoofed',
      'x-forwarded-prefix': '/spoofed',
      'x-real-ip': '10.9.9.9',
      via: '1.0 client-proxy',
    })
    const id = res.headers['x-kong-request-id'] as string
    const names = got.rawHeaders.map(([k]) => k).sort()
    assert.deepEqual(names, [
      'accept', 'connection', 'host', 'proxy-authorization', 'te', 'via', 'x-custom', 'x-forwarded-for',
      'x-forwarded-host', 'x-forwarded-path', 'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-proto',
      'x-kong-request-id', 'x-real-ip',
    ])
    const g = got.headers
    assert.equal(g.host, `127.0.0.1:${echo.port}`)
    assert.equal(g.connection, 'keep-alive')
    assert.equal(g.te, 'trailers')
    assert.equal(g['x-forwarded-for'], '10.0.0.1, 127.0.0.1')
    assert.equal(g['x-forwarded-proto'], 'http')
    assert.equal(g['x-forwarded-host'], 'client.example')
    assert.equal(g['x-forwarded-port'], String(h.port))
    assert.equal(g['x-forwarded-path'], '/echo/p')
    assert.equal(g['x-forwarded-prefix'], '/echo')
    assert.equal(g['x-real-ip'], '127.0.0.1')
    assert.equal(g.via, '1.0 client-proxy, 1.1 kong/3.10.0')
    assert.equal(g['x-kong-request-id'], id)
    assert.equal(g['proxy-authorization'], 'Basic abc')
  })

  test('defaults without client headers; no X-Forwarded-Prefix when nothing was stripped', async () => {
    const { got } = await echoed('/keep/x')
    const g = got.headers
    assert.equal(g['x-forwarded-for'], '127.0.0.1')
    assert.equal(g['x-real-ip'], '127.0.0.1')
    assert.equal(g.via, '1.1 kong/3.10.0')
    assert.equal(g['x-forwarded-path'], '/keep/x')
    assert.equal(g['x-forwarded-prefix'], undefined)
    assert.equal(g.te, undefined)
    assert.equal(g['content-length'], undefined)
    assert.equal(g['transfer-encoding'], undefined)
  })

  test('preserve_host sends the client Host (port included)', async () => {
    const { got } = await echoed('/anything', { host: 'preserved.test:1234' })
    assert.equal(got.headers.host, 'preserved.test:1234')
    assert.equal(got.headers['x-forwarded-host'], 'preserved.test')
  })

  test('a small POST body goes up with Content-Length, re-framed', async () => {
    const res = await request(`${h.url}/echo/post`, { method: 'POST', body: 'hello world', headers: { 'content-type': 'text/plain' } })
    const got = await res.body.json() as Received
    assert.equal(got.method, 'POST')
    assert.equal(got.body, 'hello world')
    assert.equal(got.headers['content-length'], '11')
    assert.equal(got.headers['transfer-encoding'], undefined)
  })
})

describe('downstream headers', () => {
  test('proxied: Via, Server, upstream and proxy latency, request id; no response latency', async () => {
    const res = await get('/echo/x')
    assert.equal(res.status, 200)
    assert.equal(res.headers.via, '1.1 kong/3.10.0')
    assert.equal(res.headers.server, 'kong/3.10.0')
    assert.match(res.headers['x-kong-upstream-latency'] as string, DIGITS)
    assert.match(res.headers['x-kong-proxy-latency'] as string, DIGITS)
    assert.match(res.headers['x-kong-request-id'] as string, HEX32)
    assert.equal(res.headers['x-kong-response-latency'], undefined)
    assert.equal(res.headers['content-type'], 'application/json')
  })

  test('the upstream Server passes through; its Via gets Kong\'s appended', async () => {
    const res = await get('/_/server')
    assert.equal(res.headers.server, 'upstream/1.0')
    assert.equal(res.headers.via, '1.1 upstream-proxy, 1.1 kong/3.10.0')
  })

  test('hop-by-hop response headers are removed (Trailer only kept when TE: trailers was sent)', async () => {
    const res = await get('/_/hop')
    assert.equal(res.text, 'hop')
    assert.equal(res.headers['x-hop'], undefined)
    assert.equal(res.headers['keep-alive'], undefined)
    assert.equal(res.headers.trailer, undefined)
    assert.equal(res.headers['x-kept'], 'yes')
    const withTe = await get('/_/hop', { te: 'trailers' })
    assert.equal(withTe.headers.trailer, 'Expires')
  })
})

describe('headers = off, trusted_ips', () => {
  test('headers=off, headers_upstream=off: no Kong headers either way', async (t) => {
    const svc = service({ host: '127.0.0.1', port: echo.port })
    const off = await startWorkers({
      snapshot: snapshot([svc], [route({ paths: ['/echo'] }, svc)]),
      conf: { headers: 'off', headers_upstream: 'off' },
    })
    t.after(() => off.stop())
    const res = await request(`${off.url}/echo/x`)
    const got = await res.body.json() as Received
    for (const k of ['via', 'server', 'x-kong-upstream-latency', 'x-kong-proxy-latency', 'x-kong-request-id']) {
      assert.equal(res.headers[k], undefined, k)
    }
    assert.equal(got.headers['x-kong-request-id'], undefined)
    assert.equal(got.headers.via, '1.1 kong/3.10.0')
    const miss = await request(`${off.url}/nowhere`)
    const body = await miss.body.text()
    assert.equal(miss.statusCode, 404)
    for (const k of ['server', 'x-kong-response-latency', 'x-kong-request-id']) assert.equal(miss.headers[k], undefined, k)
    assert.match(body, /"request_id":"[0-9a-f]{32}"/)
  })

  test('trusted client (CIDR): X-Forwarded-* and X-Real-IP are taken from the client', async (t) => {
    const svc = service({ host: '127.0.0.1', port: echo.port })
    const tr = await startWorkers({
      snapshot: snapshot([svc], [route({ paths: ['/echo'] }, svc), route({ paths: ['/secure'], protocols: ['https'] }, svc)]),
      conf: { trusted_ips: '10.0.0.0/8, 127.0.0.0/8, ::1' },
    })
    t.after(() => tr.stop())
    const res = await request(`${tr.url}/echo/x`, {
      headers: {
        'x-forwarded-for': '10.0.0.1',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'example.test',
        'x-forwarded-port': '80',
        'x-forwarded-path': '/original-path',
        'x-forwarded-prefix': '/preserved',
        'x-real-ip': '10.0.0.7',
      },
    })
    const g = (await res.body.json() as Received).headers
    assert.equal(g['x-forwarded-for'], '10.0.0.1, 127.0.0.1')
    assert.equal(g['x-forwarded-proto'], 'https')
    assert.equal(g['x-forwarded-host'], 'example.test')
    assert.equal(g['x-forwarded-port'], '80')
    assert.equal(g['x-forwarded-path'], '/original-path')
    assert.equal(g['x-forwarded-prefix'], '/preserved')
    assert.equal(g['x-real-ip'], '10.0.0.7')
    // X-Forwarded-Proto: https from a trusted client satisfies an HTTPS-only route.
    const secure = await request(`${tr.url}/secure/x`, { headers: { 'x-forwarded-proto': 'https' } })
    assert.equal(secure.statusCode, 200)
    await secure.body.text()
  })
})
