/**
 * Port of Kong's spec/03-plugins/12-request-size-limiting/01-access_spec.lua: limits with and
 * without Content-Length (chunked bodies above and below the buffering size), Expect:
 * 100-continue (417), every size unit, and require_content_length (411).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { plugin, pluginGateway } from '../../helpers/kong-rows.ts'
import { chunked, rawExchange } from '../../helpers/raw-http.ts'

const TEST_SIZE = 2
const MB = 2 ** 20
const UNITS: Record<string, number> = { megabytes: MB, kilobytes: 1024, bytes: 1 }

test('request-size-limiting 01-access', async (t) => {
  const { h } = await pluginGateway(t, {
    routes: [{ hosts: ['limit.test'] }, { hosts: ['required.test'] }, ...Object.keys(UNITS).map((u) => ({ hosts: [`limit_${u}.test`] }))],
    plugins: ([limit, required, ...units]) => [
      plugin('request-size-limiting', { allowed_payload_size: TEST_SIZE }, { route: limit }),
      plugin('request-size-limiting', { allowed_payload_size: TEST_SIZE, require_content_length: true }, { route: required }),
      ...Object.keys(UNITS).map((u, i) => plugin('request-size-limiting', { allowed_payload_size: TEST_SIZE, size_unit: u }, { route: units[i] })),
    ],
  })
  const post = (host: string, size: number, extra = ''): Promise<{ status: number; body: string }> =>
    rawExchange(h.port, `POST /request HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${size}\r\n${extra}\r\n`, Buffer.alloc(size, 'a'))
  const postChunked = (host: string, size: number, extra = ''): Promise<{ status: number; body: string }> =>
    rawExchange(h.port, `GET /request HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n${extra}\r\n`, chunked(Buffer.alloc(size, 'a')))
  const message = (body: string): string => (JSON.parse(body) as { message: string }).message

  await t.test('with Content-Length: works if size is lower than limit (also with Expect)', async () => {
    assert.equal((await post('limit.test', TEST_SIZE * MB)).status, 200)
    assert.equal((await post('limit.test', TEST_SIZE * MB, 'Expect: 100-continue\r\n')).status, 200)
  })

  await t.test('with Content-Length: blocks if size is greater than limit: 413, or 417 with Expect', async () => {
    let r = await post('limit.test', TEST_SIZE * MB + 1)
    assert.equal(r.status, 413)
    assert.equal(message(r.body), 'Request size limit exceeded')
    // The client waits for 100 Continue: the answer comes before any body byte is sent.
    r = await rawExchange(h.port, `POST /request HTTP/1.1\r\nHost: limit.test\r\nExpect: 100-continue\r\nContent-Length: ${TEST_SIZE * MB + 1}\r\n\r\n`)
    assert.equal(r.status, 417)
    assert.equal(message(r.body), 'Request size limit exceeded')
  })

  await t.test('with Content-Length: every unit', async () => {
    for (const [u, f] of Object.entries(UNITS)) {
      assert.equal((await post(`limit_${u}.test`, TEST_SIZE * f + 1)).status, 413, u)
      assert.equal((await post(`limit_${u}.test`, TEST_SIZE * f)).status, 200, u)
    }
  })

  await t.test('chunked, body above the buffering size: lower passes, greater is refused', async () => {
    assert.equal((await postChunked('limit.test', TEST_SIZE * MB)).status, 200)
    assert.equal((await postChunked('limit.test', TEST_SIZE * MB, 'Expect: 100-continue\r\n')).status, 200)
    let r = await postChunked('limit.test', TEST_SIZE * MB + 1)
    assert.equal(r.status, 413)
    assert.equal(message(r.body), 'Request size limit exceeded')
    r = await postChunked('limit.test', TEST_SIZE * MB + 1, 'Expect: 100-continue\r\n')
    assert.equal(r.status, 417)
  })

  await t.test('chunked, small bodies and every unit', async () => {
    for (const [u, f] of Object.entries(UNITS)) {
      assert.equal((await postChunked(`limit_${u}.test`, TEST_SIZE * f + 1)).status, 413, u)
      assert.equal((await postChunked(`limit_${u}.test`, TEST_SIZE * f)).status, 200, u)
    }
  })

  await t.test('Content-Length header required: 411 without it, chunked still measured', async () => {
    const r = await rawExchange(h.port, 'GET /request HTTP/1.1\r\nHost: required.test\r\n\r\n')
    assert.equal(r.status, 411)
    assert.equal(message(r.body), 'A valid Content-Length header is required')
    assert.equal((await postChunked('required.test', 10)).status, 200)
    assert.equal((await post('required.test', 10)).status, 200)
  })
})
