/**
 * Port of the "anonymous" part of Kong's spec/03-plugins/18-acl/02-access_spec.lua: acl after
 * key-auth whose anonymous consumer has no group or the group `everyone`, with allow and deny
 * lists. Nobody authenticated is 401 on every list; an anonymous consumer without groups is 401 on
 * an allow list and passes a deny list with an empty X-Consumer-Groups header.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { acl, consumer, plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const anonymous = consumer({ username: 'anonymous' })
const withGroup = consumer({ username: 'anonymous_with_group' })

const LISTS: Array<[string, Record<string, string[]>]> = [
  ['allow-everyone', { allow: ['everyone'] }], ['allow-none', { allow: ['none'] }],
  ['deny-everyone', { deny: ['everyone'] }], ['deny-none', { deny: ['none'] }],
]

test('acl 02-access anonymous (compat)', async (t) => {
  const hosts: string[] = []
  for (const [name] of LISTS) hosts.push(`${name}.test`, `${name}-anonymous.test`, `${name}-anonymous-with-group.test`)
  const { url } = await pluginGateway(t, {
    routes: hosts.map((h) => ({ hosts: [h] })),
    plugins: (r) => LISTS.flatMap(([, conf], i) => [
      plugin('acl', conf, { route: r[3 * i] }),
      plugin('acl', conf, { route: r[3 * i + 1] }),
      plugin('key-auth', { anonymous: anonymous.id }, { route: r[3 * i + 1] }),
      plugin('acl', conf, { route: r[3 * i + 2] }),
      plugin('key-auth', { anonymous: withGroup.id }, { route: r[3 * i + 2] }),
    ]),
    entities: { consumers: [anonymous, withGroup], acls: [acl(withGroup, 'everyone')] },
  })
  const call = async (host: string): Promise<{ status: number; body: { message?: string; headers?: Record<string, string> } }> => {
    const res = await request(url, { headers: { host } })
    return { status: res.statusCode, body: await res.body.json() as { message?: string; headers?: Record<string, string> } }
  }

  await t.test('without authentication: 401 Unauthorized on every list', async () => {
    for (const [name] of LISTS) {
      const r = await call(`${name}.test`)
      assert.equal(r.status, 401, name)
      assert.equal(r.body.message, 'Unauthorized')
    }
  })

  await t.test('anonymous without groups: 401 on allow lists, 200 with an empty X-Consumer-Groups on deny lists', async () => {
    for (const name of ['allow-everyone', 'allow-none']) {
      const r = await call(`${name}-anonymous.test`)
      assert.equal(r.status, 401, name)
      assert.equal(r.body.message, 'Unauthorized')
    }
    for (const name of ['deny-everyone', 'deny-none']) {
      const r = await call(`${name}-anonymous.test`)
      assert.equal(r.status, 200, name)
      assert.equal(r.body.headers!['x-consumer-groups'], '')
    }
  })

  await t.test('anonymous with a group: 200 with its groups, or 403', async () => {
    for (const name of ['allow-everyone', 'deny-none']) {
      const r = await call(`${name}-anonymous-with-group.test`)
      assert.equal(r.status, 200, name)
      assert.equal(r.body.headers!['x-consumer-groups'], 'everyone')
      assert.equal(r.body.headers!['x-authenticated-groups'], undefined)
    }
    for (const name of ['allow-none', 'deny-everyone']) {
      const r = await call(`${name}-anonymous-with-group.test`)
      assert.equal(r.status, 403, name)
      assert.equal(r.body.message, 'You cannot consume this service')
    }
  })
})
