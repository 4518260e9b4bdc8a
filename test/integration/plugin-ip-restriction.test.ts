/**
 * ip-restriction through real worker threads: IPv4 and IPv6 addresses and CIDRs, deny before
 * allow, custom status and message, and the client address taken through trusted_ips +
 * real_ip_header (X-Real-IP, and X-Forwarded-For with and without real_ip_recursive).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin, pluginGateway } from '../helpers/kong-rows.ts'

test('ip-restriction: peer address, IPv4 CIDRs, deny before allow, status and message', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/deny'] }, { paths: ['/allow'] }, { paths: ['/allow-other'] }, { paths: ['/custom'] }, { paths: ['/both'] }],
    plugins: ([deny, allow, other, custom, both]) => [
      plugin('ip-restriction', { deny: ['127.0.0.0/8'] }, { route: deny }),
      plugin('ip-restriction', { allow: ['127.0.0.1'] }, { route: allow }),
      plugin('ip-restriction', { allow: ['10.0.0.0/8', '::1'] }, { route: other }),
      plugin('ip-restriction', { deny: ['127.0.0.1'], status: 401, message: 'go away' }, { route: custom }),
      plugin('ip-restriction', { allow: ['127.0.0.1'], deny: ['127.0.0.1'] }, { route: both }),
    ],
  })
  let res = await request(`${url}/deny`)
  assert.equal(res.statusCode, 403)
  assert.equal((await res.body.json() as { message: string }).message, 'IP address not allowed: 127.0.0.1')
  res = await request(`${url}/allow`)
  assert.equal(res.statusCode, 200)
  await res.body.dump()
  res = await request(`${url}/allow-other`)
  assert.equal(res.statusCode, 403)
  await res.body.dump()
  res = await request(`${url}/custom`)
  assert.equal(res.statusCode, 401)
  const body = await res.body.json() as { message: string; request_id: string }
  assert.equal(body.message, 'go away')
  assert.match(body.request_id, /^[0-9a-f]{32}$/)
  res = await request(`${url}/both`)
  assert.equal(res.statusCode, 403)
  await res.body.dump()
})

test('ip-restriction: IPv6 client addresses through trusted_ips and X-Real-IP', async (t) => {
  const { url } = await pluginGateway(t, {
    conf: { trusted_ips: '127.0.0.1' },
    routes: [{ paths: ['/deny6'] }, { paths: ['/allow6'] }],
    plugins: ([deny6, allow6]) => [
      plugin('ip-restriction', { deny: ['2001:db8::/32', '10.1.2.3'] }, { route: deny6 }),
      plugin('ip-restriction', { allow: ['fd00::/8'] }, { route: allow6 }),
    ],
  })
  const call = async (path: string, ip: string): Promise<number> => {
    const res = await request(`${url}${path}`, { headers: { 'x-real-ip': ip } })
    await res.body.dump()
    return res.statusCode
  }
  assert.equal(await call('/deny6', '2001:db8::5'), 403)
  assert.equal(await call('/deny6', '2001:db9::5'), 200)
  assert.equal(await call('/deny6', '10.1.2.3'), 403)
  assert.equal(await call('/deny6', '10.1.2.4'), 200)
  assert.equal(await call('/allow6', 'fd12:3456::1'), 200)
  assert.equal(await call('/allow6', 'fe80::1'), 403)
  const res = await request(`${url}/deny6`, { headers: { 'x-real-ip': '2001:db8::5' } })
  assert.equal((await res.body.json() as { message: string }).message, 'IP address not allowed: 2001:db8::5')
})

test('ip-restriction: X-Real-IP from an untrusted peer is ignored', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/'] }],
    plugins: ([r]) => [plugin('ip-restriction', { deny: ['127.0.0.1'] }, { route: r })],
  })
  const res = await request(url, { headers: { 'x-real-ip': '10.0.0.1' } })
  assert.equal(res.statusCode, 403)
  await res.body.dump()
})

test('ip-restriction: real_ip_header X-Forwarded-For, last address or recursive', async (t) => {
  const plain = await pluginGateway(t, {
    conf: { trusted_ips: '127.0.0.1,10.0.0.0/8', real_ip_header: 'X-Forwarded-For' },
    routes: [{ paths: ['/'] }],
    plugins: ([r]) => [plugin('ip-restriction', { deny: ['10.0.0.2'] }, { route: r })],
  })
  let res = await request(plain.url, { headers: { 'x-forwarded-for': '1.1.1.1, 10.0.0.2' } })
  assert.equal(res.statusCode, 403)
  await res.body.dump()
  const recursive = await pluginGateway(t, {
    conf: { trusted_ips: '127.0.0.1,10.0.0.0/8', real_ip_header: 'X-Forwarded-For', real_ip_recursive: 'on' },
    routes: [{ paths: ['/'] }],
    plugins: ([r]) => [plugin('ip-restriction', { deny: ['1.1.1.1'] }, { route: r })],
  })
  res = await request(recursive.url, { headers: { 'x-forwarded-for': '1.1.1.1, 10.0.0.2' } })
  assert.equal(res.statusCode, 403)
  await res.body.dump()
  res = await request(recursive.url, { headers: { 'x-forwarded-for': '2.2.2.2, 10.0.0.2' } })
  assert.equal(res.statusCode, 200)
  await res.body.dump()
})
