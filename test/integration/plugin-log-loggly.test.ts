/**
 * loggly through real worker threads and a real UDP socket (kong spec 03-plugins/07-loggly
 * 01-log_spec.lua): the RFC 5424 frame with the token and tags, the PRI from the severity chosen
 * by status (user facility: 8 + severity), severities above log_level not sent, and the JSON
 * entry at the end of the datagram.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hostname } from 'node:os'
import { request } from 'undici'
import { plugin } from '../helpers/kong-rows.ts'
import { echoGateway, udpCollector } from './plugin-log-harness.ts'

async function get (url: string): Promise<number> {
  const res = await request(url)
  await res.body.dump()
  return res.statusCode
}

const FRAME = /^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (\S+) kong - - \[([^\]]*)\] (\{.*\})$/

interface Parsed { pri: string; stamp: string; host: string; sd: string; entry: { request: { uri: string }; client_ip: string; response: { status: number } } }

function parse (datagram: string): Parsed {
  const m = FRAME.exec(datagram)
  assert.ok(m !== null, `not a loggly frame: ${datagram.slice(0, 200)}`)
  return { pri: m[1]!, stamp: m[2]!, host: m[3]!, sd: m[4]!, entry: JSON.parse(m[5]!) }
}

test('loggly: PRI from the status severity, token and tags as structured data, the entry as JSON', async (t) => {
  const col = await udpCollector(t)
  const cfg = { host: '127.0.0.1', port: col.port, key: '123456789' }
  const { gw } = await echoGateway(t, {
    routes: [{ paths: ['/warn'] }, { paths: ['/debug'] }, { paths: ['/crit'] }, { paths: ['/default'] }, { paths: ['/tags'] }, { paths: ['/client'] }],
    plugins: ([w, d, c, def, tags, client]) => [
      plugin('loggly', { ...cfg, log_level: 'info', successful_severity: 'warning' }, { route: w! }),
      plugin('loggly', { ...cfg, log_level: 'debug', timeout: 2000, successful_severity: 'info' }, { route: d! }),
      plugin('loggly', { ...cfg, log_level: 'crit', successful_severity: 'crit', client_errors_severity: 'warning' }, { route: c! }),
      plugin('loggly', cfg, { route: def! }),
      plugin('loggly', { ...cfg, tags: ['a', 'b'] }, { route: tags! }),
      plugin('loggly', { ...cfg, client_errors_severity: 'err' }, { route: client! }),
      plugin('request-termination', { status_code: 404 }, { route: client! }),
    ],
  })
  const before = Date.now()
  const expect: Array<[string, string, string]> = [
    ['/warn', '12', 'tag="kong"'], ['/debug', '14', 'tag="kong"'], ['/crit', '10', 'tag="kong"'],
    ['/default', '14', 'tag="kong"'], ['/tags', '14', 'tag="a" tag="b"'], ['/client', '11', 'tag="kong"'],
  ]
  for (let i = 0; i < expect.length; i++) {
    const [path, pri, tags] = expect[i]!
    assert.equal(await get(`${gw.url}${path}`), path === '/client' ? 404 : 200)
    const p = parse((await col.next(i + 1))[i]!)
    assert.equal(p.pri, pri, path)
    assert.equal(p.sd, `123456789@41058 ${tags}`)
    assert.equal(p.host, hostname())
    assert.equal(p.entry.request.uri, path)
    assert.equal(p.entry.client_ip, '127.0.0.1')
    const ms = Date.parse(p.stamp)
    assert.ok(ms >= Math.floor(before / 1000) * 1000 && ms <= Date.now(), `UTC stamp ${p.stamp}`)
  }
})

test('loggly: a severity above log_level sends nothing', async (t) => {
  const col = await udpCollector(t)
  const cfg = { host: '127.0.0.1', port: col.port, key: 'k' }
  const { gw } = await echoGateway(t, {
    routes: [{ paths: ['/quiet'] }, { paths: ['/loud'] }],
    plugins: ([q, l]) => [
      plugin('loggly', { ...cfg, log_level: 'err', successful_severity: 'warning' }, { route: q! }),
      plugin('loggly', { ...cfg, log_level: 'err', successful_severity: 'err' }, { route: l! }),
    ],
  })
  assert.equal(await get(`${gw.url}/quiet`), 200)
  assert.equal(await get(`${gw.url}/loud`), 200)
  // The first datagram is the second request's: the first sent none.
  const p = parse((await col.next(1))[0]!)
  assert.equal(p.entry.request.uri, '/loud')
  assert.equal(p.pri, '11')
})

test('loggly: a host that cannot be resolved is logged; requests succeed', async (t) => {
  const { gw } = await echoGateway(t, { plugins: () => [plugin('loggly', { host: 'nowhere.invalid', key: 'k' })] })
  const t0 = performance.now()
  assert.equal(await get(`${gw.url}/x`), 200)
  assert.ok(performance.now() - t0 < 2000)
  await gw.waitForLog(/\[loggly\] failed to connect to nowhere\.invalid:514/)
})
