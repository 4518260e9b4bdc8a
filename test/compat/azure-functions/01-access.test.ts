/**
 * Port of Kong's spec/03-plugins/35-azure-functions/01-access_spec.lua against a real node on
 * PostgreSQL (configured through the Admin API) and real function servers. Kong always calls
 * `<appname>.<hostdomain>` on port 80 (https = false) or 443 (checked below with functionOrigin);
 * the mock functions listen on free ports of 127.0.0.1 that the node is given in place of those
 * (SLUICE_AZURE_FUNCTIONS_PORTS, so the test needs no right to bind privileged ports) and the node's own hosts file
 * (`dns_hostsfile`) points the function hosts there, as Kong's spec does with its DNS mock.
 *
 * Spec cases: query arguments, body, the function path (whatever the request path or the
 * route's service), method, headers, apikey / clientid injection, `Via: 2 kong/<version>`,
 * Content-Length. Added: the function's status, headers (repeated ones, hop-by-hop removed,
 * Server replaced) and body are the answer; an unset apikey removes the client's
 * x-functions-key; route prefix and function name slashes; https (default) with and without
 * certificate verification; a function that refuses connections or does not answer in time.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type Socket } from 'node:net'
import { request } from 'undici'
import { createTestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { adminCall } from '../../helpers/admin-api.ts'
import { makeCert } from '../../helpers/tls.ts'
import { SERVER_TOKEN } from '../../../src/common/meta.ts'
import { functionOrigin, functionPorts, type AzureFunctionsConfig } from '../../../src/plugins/azure-functions/handler.ts'

interface Echoed {
  query_args: Record<string, string | string[] | true>
  uri: string
  method: string
  headers: Record<string, string>
  body: string
  status: number
}

/** Request paths the mock functions received, in order. */
const calls: string[] = []

/** The spec's mock function: echoes what it got; `/respond` and `/slow` are scripted. */
function fn (req: IncomingMessage, res: ServerResponse): void {
  calls.push(req.url ?? '')
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/slow') return
    if (url.pathname === '/respond') {
      res.writeHead(201, [
        'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Server', 'azure-fn/1.0', 'Via', '1.1 azure-front',
        'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'X-Fn', 'yes', 'Content-Type', 'text/plain',
      ])
      res.end('created')
      return
    }
    const query: Echoed['query_args'] = {}
    for (const part of url.search.slice(1).split('&')) {
      if (part === '') continue
      const eq = part.indexOf('=')
      const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq))
      const v: string | true = eq < 0 ? true : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '))
      const prev = query[k]
      query[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev as string]), v as string]
    }
    const headers: Record<string, string> = {}
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i]!.toLowerCase()] = req.rawHeaders[i + 1]!
    const json = JSON.stringify({ query_args: query, uri: req.url, method: req.method, headers, body: Buffer.concat(chunks).toString(), status: 200 })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) })
    res.end(json)
  })
}

async function listen (t: TestContext, server: Server, port: number): Promise<number> {
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.on('secureConnection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return (server.address() as { port: number }).port
}

test('the function is called on port 80 (https = false) or 443, as Kong always does', () => {
  assert.deepEqual(functionPorts({}), { http: 80, https: 443 })
  assert.equal(functionOrigin({ ...BASE, https: false } as AzureFunctionsConfig, functionPorts({})), 'http://azure.example.test:80')
  assert.equal(functionOrigin({ ...BASE } as AzureFunctionsConfig, functionPorts({})), 'https://azure.example.test:443')
  assert.deepEqual(functionPorts({ SLUICE_AZURE_FUNCTIONS_PORTS: '8080,8443' }), { http: 8080, https: 8443 })
  assert.deepEqual(functionPorts({ SLUICE_AZURE_FUNCTIONS_PORTS: 'junk' }), { http: 80, https: 443 })
})

const BASE = { appname: 'azure', hostdomain: 'example.test', routeprefix: 'request', functionname: 'test-func-name' }

test('Plugin: Azure Functions (access) [#postgres]', { timeout: 90_000 }, async (t) => {
  const cert = makeCert('secure.example.test')
  const httpPort = await listen(t, createHttpServer(fn), 0)
  const httpsPort = await listen(t, createHttpsServer({ cert: cert.cert, key: cert.key }, fn), 0)
  // Read by the plugin in the node's worker threads (they copy this process's environment).
  process.env.SLUICE_AZURE_FUNCTIONS_PORTS = `${httpPort},${httpsPort}`
  t.after(() => { delete process.env.SLUICE_AZURE_FUNCTIONS_PORTS })

  const dir = mkdtempSync(join(tmpdir(), 'sluice-azure-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // down.example.test: nothing listens on 127.0.0.2 (the functions listen on 127.0.0.1 only).
  writeFileSync(join(dir, 'hosts'), '127.0.0.1 azure.example.test secure.example.test\n127.0.0.2 down.example.test\n')
  const db = await createTestDb()
  const gw: Gateway = await startGateway(db.settings, { dns_hostsfile: join(dir, 'hosts'), nginx_worker_processes: '1' })
  t.after(async () => { await gw.stop(); await db.drop() })

  async function azureRoute (host: string, config: Record<string, unknown>, service?: string): Promise<void> {
    const r = await adminCall(gw.admin, 'POST', service === undefined ? '/routes' : `/services/${service}/routes`, { hosts: [host], protocols: ['http', 'https'] })
    assert.equal(r.status, 201, JSON.stringify(r.json))
    const p = await adminCall(gw.admin, 'POST', `/routes/${r.json.id as string}/plugins`, { name: 'azure-functions', config })
    assert.equal(p.status, 201, JSON.stringify(p.json))
  }
  const keys = { apikey: 'anything_but_an_API_key', clientid: 'and_no_clientid' }
  await azureRoute('azure2.test', { https: false, ...BASE, ...keys })
  // a service that must never be called: nothing listens on port 9 of 127.0.0.1
  assert.equal((await adminCall(gw.admin, 'POST', '/services', { name: 'azure3', host: '127.0.0.1', port: 9, path: '/request' })).status, 201)
  await azureRoute('azure3.test', { https: false, ...BASE, ...keys }, 'azure3')
  await azureRoute('respond.test', { https: false, ...BASE, routeprefix: null, functionname: 'respond' })
  await azureRoute('nokey.test', { https: false, ...BASE, routeprefix: '//', functionname: '/fn/name//' })
  await azureRoute('secure.test', { ...BASE, appname: 'secure' })
  await azureRoute('verify.test', { ...BASE, appname: 'secure', https_verify: true })
  await azureRoute('down.test', { https: false, ...BASE, appname: 'down' })
  await azureRoute('slow.test', { https: false, ...BASE, routeprefix: null, functionname: 'slow', timeout: 300 })
  await gw.primary.sync()

  const send = (host: string, opts: { method?: string; path?: string; query?: Record<string, string>; body?: string; headers?: Record<string, string> } = {}) =>
    request(gw.proxy + (opts.path ?? '/'), { method: (opts.method ?? 'GET') as 'GET', query: opts.query, body: opts.body, headers: { host, ...opts.headers } })
  const echoed = async (res: Awaited<ReturnType<typeof send>>): Promise<Echoed> => {
    assert.equal(res.statusCode, 200)
    return await res.body.json() as Echoed
  }

  await t.test('passes request query parameters', async () => {
    const json = await echoed(await send('azure2.test', { query: { hello: 'world' } }))
    assert.deepEqual(json.query_args, { hello: 'world' })
  })

  await t.test('passes request body', async () => {
    const body = "I'll be back"
    const json = await echoed(await send('azure2.test', { body, query: { hello: 'world' } }))
    assert.equal(json.body, body)
  })

  await t.test('passes the path parameters', async () => {
    const json = await echoed(await send('azure2.test', { path: '/and/then/some' }))
    assert.match(json.uri, /\/request\/test-func-name/)
    assert.equal(json.uri, '/request/test-func-name?', 'the request path is not appended; resty.http writes `?` before the (empty) query')
  })

  await t.test('passes the method', async () => {
    const json = await echoed(await send('azure2.test', { method: 'POST' }))
    assert.equal(json.method, 'POST')
  })

  await t.test('passes the headers', async () => {
    const json = await echoed(await send('azure2.test', { path: '/and/then/some', headers: { 'Just-A-Header': 'just a value' } }))
    assert.equal(json.headers['just-a-header'], 'just a value')
    assert.equal(json.headers.host, `azure.example.test:${httpPort}`, 'the function host, not the client\'s')
  })

  await t.test('injects the apikey and clientid', async () => {
    const json = await echoed(await send('azure2.test', { method: 'POST', headers: { 'x-functions-key': 'from the client' } }))
    assert.equal(json.headers['x-functions-key'], 'anything_but_an_API_key')
    assert.equal(json.headers['x-functions-clientid'], 'and_no_clientid')
  })

  await t.test('returns server tokens with Via header', async () => {
    const res = await send('azure2.test', { query: { hello: 'world' } })
    assert.equal(res.headers.via, `2 ${SERVER_TOKEN}`)
    assert.equal(res.headers.server, SERVER_TOKEN)
    await res.body.dump()
  })

  await t.test('returns Content-Length header', async () => {
    const res = await send('azure2.test', { query: { hello: 'world' } })
    assert.ok(Number(res.headers['content-length']) > 100)
    await res.body.dump()
  })

  await t.test('service upstream uri and request uri can not influence azure function', async () => {
    const res = await send('azure3.test', { path: '/other', query: { hello: 'world' } })
    assert.ok(Number(res.headers['content-length']) > 100)
    const json = await echoed(res)
    assert.equal(json.uri, '/request/test-func-name?hello=world')
  })

  await t.test('the function\'s status, headers and body are the answer (hop-by-hop removed, Server the gateway\'s, Via appended)', async () => {
    const res = await send('respond.test', { path: '/x' })
    assert.equal(res.statusCode, 201)
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2'])
    assert.equal(res.headers['x-fn'], 'yes')
    assert.equal(res.headers['content-type'], 'text/plain')
    assert.equal(res.headers.server, SERVER_TOKEN)
    assert.equal(res.headers.via, `1.1 azure-front, 2 ${SERVER_TOKEN}`)
    assert.equal(res.headers['keep-alive'], undefined)
    assert.equal(res.headers['content-length'], '7')
    assert.equal(await res.body.text(), 'created')
  })

  await t.test('no apikey / clientid: the client\'s x-functions-* headers are removed; slashes around prefix and name are dropped', async () => {
    const json = await echoed(await send('nokey.test', { headers: { 'x-functions-key': 'k', 'x-functions-clientid': 'c' }, query: { a: 'b c' } }))
    assert.equal(json.headers['x-functions-key'], undefined)
    assert.equal(json.headers['x-functions-clientid'], undefined)
    assert.equal(json.uri, '/fn/name?a=b%20c')
  })

  await t.test('https by default, certificate not verified', async () => {
    const json = await echoed(await send('secure.test', { method: 'PUT', body: 'over tls' }))
    assert.equal(json.method, 'PUT')
    assert.equal(json.body, 'over tls')
    assert.equal(json.headers.host, `secure.example.test:${httpsPort}`)
  })

  await t.test('https_verify refuses a certificate the CA store does not trust: 500', async () => {
    const res = await send('verify.test')
    assert.equal(res.statusCode, 500)
    assert.deepEqual(await res.body.json(), { message: 'An unexpected error occurred' })
  })

  await t.test('a function that refuses the connection: 500', async () => {
    const res = await send('down.test')
    assert.equal(res.statusCode, 500)
    assert.deepEqual(await res.body.json(), { message: 'An unexpected error occurred' })
  })

  await t.test('a client that leaves while its body is read: the function is not called', async () => {
    const sock = connect(gw.proxyPort, '127.0.0.1')
    await once(sock, 'connect')
    sock.write('POST /gone HTTP/1.1\r\nHost: nokey.test\r\nContent-Length: 100\r\n\r\n0123456789')
    sock.destroy()
    await once(sock, 'close')
    const before = calls.length
    // Two full exchanges through the same worker after the close: the close has been seen by the
    // first, and a call made for the abandoned request would have reached the function by the second.
    for (const marker of ['1', '2']) {
      const json = await echoed(await send('nokey.test', { path: '/marker', query: { marker } }))
      assert.equal(json.uri, `/fn/name?marker=${marker}`)
    }
    assert.deepEqual(calls.slice(before), ['/fn/name?marker=1', '/fn/name?marker=2'])
  })

  await t.test('a function that does not answer within timeout: 500', async () => {
    const t0 = Date.now()
    const res = await send('slow.test')
    assert.equal(res.statusCode, 500)
    assert.deepEqual(await res.body.json(), { message: 'An unexpected error occurred' })
    assert.ok(Date.now() - t0 < 5000)
  })
})
