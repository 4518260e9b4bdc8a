/**
 * correlation-id and bot-detection through real worker threads: generators, echo_downstream,
 * preserved client ids; built-in bot rules, allow / deny lists, duplicate User-Agent headers.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin, pluginGateway } from '../helpers/kong-rows.ts'

test('correlation-id: generators, client value kept, echo_downstream', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/counter'] }, { paths: ['/uuid'] }, { paths: ['/echo'] }, { paths: ['/tracker'] }],
    plugins: ([counter, uuid, echo, tracker]) => [
      plugin('correlation-id', {}, { route: counter }),
      plugin('correlation-id', { generator: 'uuid', header_name: 'X-Id' }, { route: uuid }),
      plugin('correlation-id', { echo_downstream: true }, { route: echo }),
      plugin('correlation-id', { generator: 'tracker' }, { route: tracker }),
    ],
  })
  const upstreamHeader = async (path: string, name: string, headers: Record<string, string> = {}): Promise<string | undefined> => {
    const res = await request(`${url}${path}`, { headers })
    return (await res.body.json() as { headers: Record<string, string> }).headers[name]
  }
  const a = await upstreamHeader('/counter', 'kong-request-id')
  const b = await upstreamHeader('/counter', 'kong-request-id')
  assert.match(a!, /^[0-9a-f-]{36}#\d+$/)
  const [ua, na] = a!.split('#')
  const [ub, nb] = b!.split('#')
  assert.equal(ua, ub)
  assert.equal(Number(nb), Number(na) + 1)
  assert.match((await upstreamHeader('/uuid', 'x-id'))!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.equal(await upstreamHeader('/uuid', 'x-id', { 'x-id': 'mine' }), 'mine')
  assert.match((await upstreamHeader('/tracker', 'kong-request-id'))!, /^127\.0\.0\.1-\d+-\d+-[0-9a-f]+-1-\d+\.\d{3}$/)
  let res = await request(`${url}/echo`)
  const sent = (await res.body.json() as { headers: Record<string, string> }).headers['kong-request-id']
  assert.equal(res.headers['kong-request-id'], sent)
  res = await request(`${url}/echo`, { headers: { 'kong-request-id': 'abc' } })
  assert.equal(res.headers['kong-request-id'], 'abc')
  await res.body.dump()
  res = await request(`${url}/uuid`)
  assert.equal(res.headers['x-id'], undefined)
  await res.body.dump()
})

test('bot-detection: built-in rules, allow and deny lists, one User-Agent only', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/default'] }, { paths: ['/lists'] }],
    plugins: ([d, lists]) => [
      plugin('bot-detection', {}, { route: d }),
      plugin('bot-detection', { allow: ['Googlebot'], deny: ['^curl/', 'Mozilla/5\\.0 \\(evil\\)'] }, { route: lists }),
    ],
  })
  const status = async (path: string, ua?: string | string[]): Promise<number> => {
    const res = await request(`${url}${path}`, { headers: ua === undefined ? {} : Array.isArray(ua) ? ['user-agent', ua[0]!, 'user-agent', ua[1]!] : { 'user-agent': ua } })
    await res.body.dump()
    return res.statusCode
  }
  assert.equal(await status('/default'), 200)
  assert.equal(await status('/default', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36'), 200)
  assert.equal(await status('/default', 'curl/8.4.0'), 200)
  for (const bot of ['Googlebot/2.1 (+http://www.google.com/bot.html)', 'facebookexternalhit/1.1', 'Twitterbot/1.0', 'Python-urllib/3.11', 'Go-http-client/1.1', 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', 'Scrapy/2.11', 'axios/1.6.0']) {
    assert.equal(await status('/default', bot), 403, bot)
  }
  assert.equal(await status('/lists', 'Googlebot/2.1'), 200)
  assert.equal(await status('/lists', 'curl/8'), 403)
  assert.equal(await status('/lists', 'Mozilla/5.0 (evil)'), 403)
  assert.equal(await status('/lists', ['a', 'b']), 400)
  const res = await request(`${url}/default`, { headers: { 'user-agent': 'Twitterbot/1.0' } })
  assert.equal((await res.body.json() as { message: string }).message, 'Forbidden')
})
