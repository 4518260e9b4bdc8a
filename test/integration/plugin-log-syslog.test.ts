/**
 * syslog through real worker threads and real sockets (kong spec 03-plugins/05-syslog
 * 01-log_spec.lua): the severity chosen by status against log_level, the facility, and the
 * serialized entry as the message, delivered
 * - to a local syslog socket (SLUICE_SYSLOG_ADDRESS=/path, /dev/log by default) the way glibc's
 *   syslog(3) writes it: `<PRI>Mmm dd hh:mm:ss kong[pid]: {json}`; the test listens on a unix
 *   stream socket (a unix datagram socket cannot be opened from Node);
 * - to a syslog server over UDP (SLUICE_SYSLOG_ADDRESS=udp://host:port), RFC 3164 with the hostname;
 * - to a socket path nobody listens on: logged, requests unaffected.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { plugin } from '../helpers/kong-rows.ts'
import { echoGateway, udpCollector, type EchoGateway } from './plugin-log-harness.ts'

async function get (url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { headers })
  await res.body.dump()
  return res.statusCode
}

/** Sets SLUICE_SYSLOG_ADDRESS for the workers started next (they copy the environment). */
function syslogAddress (t: TestContext, value: string): void {
  const saved = process.env.SLUICE_SYSLOG_ADDRESS
  process.env.SLUICE_SYSLOG_ADDRESS = value
  t.after(() => {
    if (saved === undefined) delete process.env.SLUICE_SYSLOG_ADDRESS
    else process.env.SLUICE_SYSLOG_ADDRESS = saved
  })
}

/** Routes: /warn (info, warning), /quiet (err, warning), /same (warning, warning), /local0 (local0, err), /fail (500 at crit). */
function gatewayWithLevels (t: TestContext): Promise<EchoGateway> {
  const sev = (s: string): Record<string, string> => ({ successful_severity: s, client_errors_severity: s, server_errors_severity: s })
  return echoGateway(t, {
    routes: [{ paths: ['/warn'] }, { paths: ['/quiet'] }, { paths: ['/same'] }, { paths: ['/local0'] }, { paths: ['/fail'] }],
    plugins: ([w, q, s, l, f]) => [
      plugin('syslog', { log_level: 'info', ...sev('warning') }, { route: w! }),
      plugin('syslog', { log_level: 'err', ...sev('warning') }, { route: q! }),
      plugin('syslog', { log_level: 'warning', ...sev('warning') }, { route: s! }),
      plugin('syslog', { facility: 'local0', log_level: 'debug', ...sev('err') }, { route: l! }),
      plugin('syslog', { log_level: 'info', server_errors_severity: 'crit' }, { route: f! }),
      plugin('request-termination', { status_code: 500 }, { route: f! }),
    ],
  })
}

const STAMP = '[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d'

test('syslog: local socket, written as syslog(3) does; severity by status against log_level; facility', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-syslog-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'log')
  const lines: string[] = []
  const waiters: Array<{ n: number; resolve: () => void }> = []
  const conns = new Set<Socket>()
  const server = createServer((c) => {
    conns.add(c)
    let buf = ''
    c.setEncoding('utf8')
    c.on('data', (d: string) => {
      buf += d
      let i
      while ((i = buf.search(/[\n\0]/)) >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1) }
      for (const w of waiters.splice(0)) if (lines.length >= w.n) w.resolve(); else waiters.push(w)
    })
  })
  server.listen(path)
  await once(server, 'listening')
  // the logger process keeps its connection open: close it, or close() waits forever
  t.after(() => new Promise<void>((resolve) => { for (const c of conns) c.destroy(); server.close(() => resolve()) }))
  const next = (n: number): Promise<string[]> => lines.length >= n
    ? Promise.resolve(lines.slice(0, n))
    : new Promise((resolve) => { waiters.push({ n, resolve: () => resolve(lines.slice(0, n)) }) })

  syslogAddress(t, path)
  const { gw } = await gatewayWithLevels(t)
  const frame = new RegExp(`^<(\\d+)>${STAMP} kong\\[${process.pid}\\]: (\\{.*\\})$`)
  const check = (line: string, pri: string, uri: string, header: string): void => {
    const m = frame.exec(line)
    assert.ok(m !== null, `not a syslog line: ${line.slice(0, 200)}`)
    assert.equal(m[1], pri)
    const e = JSON.parse(m[2]!) as { request: { uri: string; headers: Record<string, string> } }
    assert.equal(e.request.uri, uri)
    assert.equal(e.request.headers['sys-log-uuid'], header)
  }
  assert.equal(await get(`${gw.url}/warn`, { 'sys-log-uuid': 'u1' }), 200)
  check((await next(1))[0]!, '12', '/warn', 'u1') // user (1) * 8 + warning (4)
  assert.equal(await get(`${gw.url}/quiet`, { 'sys-log-uuid': 'u2' }), 200) // warning is above err: not logged
  assert.equal(await get(`${gw.url}/same`, { 'sys-log-uuid': 'u3' }), 200)
  check((await next(2))[1]!, '12', '/same', 'u3')
  assert.equal(await get(`${gw.url}/local0`, { 'sys-log-uuid': 'u4' }), 200)
  check((await next(3))[2]!, '131', '/local0', 'u4') // local0 (16) * 8 + err (3)
  assert.equal(await get(`${gw.url}/fail`, { 'sys-log-uuid': 'u5' }), 500)
  check((await next(4))[3]!, '10', '/fail', 'u5') // a 5xx takes server_errors_severity: crit (2)
})

test('syslog: over UDP with SLUICE_SYSLOG_ADDRESS=udp://host:port, RFC 3164 with the hostname', async (t) => {
  const col = await udpCollector(t)
  syslogAddress(t, `udp://127.0.0.1:${col.port}`)
  const { gw } = await gatewayWithLevels(t)
  assert.equal(await get(`${gw.url}/quiet`), 200)
  assert.equal(await get(`${gw.url}/warn`), 200)
  const [d] = await col.next(1)
  const m = new RegExp(`^<12>${STAMP} (\\S+) kong\\[${process.pid}\\]: (\\{.*\\})$`).exec(d!)
  assert.ok(m !== null, d)
  assert.equal(m[1], hostname())
  assert.equal((JSON.parse(m[2]!) as { request: { uri: string } }).request.uri, '/warn')
})

test('syslog: a socket nobody listens on is logged; requests succeed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-syslog-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  syslogAddress(t, join(dir, 'missing'))
  const { gw } = await gatewayWithLevels(t)
  const t0 = performance.now()
  for (let i = 0; i < 3; i++) assert.equal(await get(`${gw.url}/warn`), 200)
  assert.ok(performance.now() - t0 < 2000)
  await gw.waitForLog(/\[syslog\] could not write to the local syslog socket .*missing/)
})
