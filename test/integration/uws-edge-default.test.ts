/**
 * uWebSockets.js's request-head limit when Sluice passes none (uws-edge-parser.test.ts sets one):
 * 20.57 answers 431 past 4 KiB by default, 20.30 accepts heads far larger (its limit is built in and
 * UWS_HTTP_MAX_HEADERS_SIZE is not read). A process of its own: uWS reads the variable once, when
 * its binary is first opened.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import type { us_listen_socket } from 'uWebSockets.js'
import { ENV_MAX_HEADERS, formatUwsInfo, loadUws, uwsInfo } from '../../src/worker/uws-load.ts'

delete process.env[ENV_MAX_HEADERS]
const uWS = loadUws()
const info = uwsInfo()
const HOLD_MS = 600
let listen: us_listen_socket | null = null
let port = 0

before(async () => {
  await new Promise<void>((resolve, reject) => {
    uWS.App().any('/*', (res) => { res.end('ok') }).listen('127.0.0.1', 0, (ls) => {
      if (ls === false) { reject(new Error('uWS could not listen')); return }
      listen = ls
      port = uWS.us_socket_local_port(ls as unknown as Parameters<typeof uWS.us_socket_local_port>[0])
      resolve()
    })
  })
})

after(() => { if (listen !== null) uWS.us_listen_socket_close(listen) })

/** Status of the first response to a GET whose head is `total` bytes (0: none within HOLD_MS or closed). */
function headOf (total: number): Promise<number> {
  const head = 'GET /h HTTP/1.1\r\nHost: t\r\n'
  const data = `${head}X-Pad: ${'a'.repeat(total - head.length - 11)}\r\n\r\n`
  assert.equal(data.length, total)
  return new Promise((resolve) => {
    let text = ''
    const s = connect(port, '127.0.0.1', () => { s.write(data) })
    s.setEncoding('latin1')
    const done = (): void => { clearTimeout(t); s.destroy(); resolve(Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0)) }
    const t = setTimeout(done, HOLD_MS)
    s.on('data', (d: string) => { text += d; if (text.includes('\r\n\r\n')) done() })
    s.on('close', done)
    s.on('error', done)
  })
}

test(`the loaded build is reported: ${formatUwsInfo(info)}`, () => {
  assert.equal(info.loaded, true)
  assert.equal(info.nodeAbi, process.versions.modules)
  assert.match(info.package, /^[@\w./-]+@\d+\.\d+\.\d+/)
  assert.equal(info.headerLimit.value, null)
})

test('request head limit without UWS_HTTP_MAX_HEADERS_SIZE', async () => {
  const got = { '3 KiB': await headOf(3 * 1024), '4 KiB + 1': await headOf(4 * 1024 + 1), '5 KiB': await headOf(5 * 1024), '32 KiB': await headOf(32 * 1024) }
  if (info.build === '20.57.0') {
    assert.equal(info.headerLimit.honoured, true)
    assert.deepEqual(got, { '3 KiB': 200, '4 KiB + 1': 431, '5 KiB': 431, '32 KiB': 431 })
  } else if (info.build === '20.30.0-unofficial.0') {
    assert.equal(info.headerLimit.honoured, false)
    assert.deepEqual(got, { '3 KiB': 200, '4 KiB + 1': 200, '5 KiB': 200, '32 KiB': 200 })
  } else {
    assert.fail(`unknown uWS build ${info.build}: ${JSON.stringify(got)}`)
  }
})
