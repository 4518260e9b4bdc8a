/**
 * request-size-limiting with bodies too large to be buffered for plugins (over 8 MiB): the body
 * streams to the upstream once the check let it through, and the limit still holds while it
 * streams.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { plugin, pluginGateway } from '../helpers/kong-rows.ts'
import { chunked, rawExchange } from '../helpers/raw-http.ts'

const MB = 2 ** 20

test('request-size-limiting: chunked bodies beyond the plugin buffer stream and stay limited', async (t) => {
  const { h, echo } = await pluginGateway(t, {
    routes: [{ paths: ['/'] }],
    plugins: ([r]) => [plugin('request-size-limiting', { allowed_payload_size: 10 }, { route: r })],
  })
  const send = (size: number) => rawExchange(h.port, 'POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n', chunked(Buffer.alloc(size, 'z')))
  let r = await send(9 * MB)
  assert.equal(r.status, 200)
  assert.equal((JSON.parse(r.body) as { bodyLength: number }).bodyLength, 9 * MB)
  assert.equal(echo.received.at(-1)!.bodyLength, 9 * MB)
  r = await send(10 * MB + 1)
  assert.equal(r.status, 413)
  assert.equal((JSON.parse(r.body) as { message: string }).message, 'Request size limit exceeded')
})
