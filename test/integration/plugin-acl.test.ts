/**
 * acl through real worker threads: allow and deny lists, X-Consumer-Groups, hide_groups_header,
 * no consumer (401), anonymous consumers without groups, and acl scoped after auth.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { acl, consumer, keyauth, plugin, pluginGateway } from '../helpers/kong-rows.ts'

const admin = consumer({ username: 'admin' })
const user = consumer({ username: 'user' })
const nobody = consumer({ username: 'nobody' })
const anon = consumer({ username: 'anon' })

test('acl: behaviour', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/allow'] }, { paths: ['/deny'] }, { paths: ['/hide'] }, { paths: ['/noauth'] }, { paths: ['/anon'] }, { paths: ['/anon-deny'] }],
    plugins: ([allow, deny, hide, noauth, an, anDeny]) => [
      plugin('key-auth', {}, { route: allow }),
      plugin('acl', { allow: ['admins', 'ops'] }, { route: allow }),
      plugin('key-auth', {}, { route: deny }),
      plugin('acl', { deny: ['admins'] }, { route: deny }),
      plugin('key-auth', {}, { route: hide }),
      plugin('acl', { allow: ['admins'], hide_groups_header: true }, { route: hide }),
      plugin('acl', { allow: ['admins'] }, { route: noauth }),
      plugin('key-auth', { anonymous: anon.id }, { route: an }),
      plugin('acl', { allow: ['admins'] }, { route: an }),
      plugin('key-auth', { anonymous: anon.id }, { route: anDeny }),
      plugin('acl', { deny: ['admins'] }, { route: anDeny }),
    ],
    entities: {
      consumers: [admin, user, nobody, anon],
      keyauth_credentials: [keyauth(admin, 'admin'), keyauth(user, 'user'), keyauth(nobody, 'nobody')],
      acls: [acl(admin, 'admins'), acl(admin, 'ops'), acl(user, 'users')],
    },
  })
  const call = async (path: string, key?: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await request(`${url}${path}`, { headers: key === undefined ? {} : { apikey: key } })
    return { status: res.statusCode, body: await res.body.json() as Record<string, unknown> }
  }

  await t.test('allow: member passes with X-Consumer-Groups, others get 403', async () => {
    let r = await call('/allow', 'admin')
    assert.equal(r.status, 200)
    const groups = (r.body.headers as Record<string, string>)['x-consumer-groups']!
    assert.deepEqual(groups.split(', ').sort(), ['admins', 'ops'])
    r = await call('/allow', 'user')
    assert.equal(r.status, 403)
    assert.equal(r.body.message, 'You cannot consume this service')
    r = await call('/allow', 'nobody')
    assert.equal(r.status, 403)
  })

  await t.test('deny: member gets 403, others (also without groups) pass', async () => {
    assert.equal((await call('/deny', 'admin')).status, 403)
    let r = await call('/deny', 'user')
    assert.equal(r.status, 200)
    assert.equal((r.body.headers as Record<string, string>)['x-consumer-groups'], 'users')
    r = await call('/deny', 'nobody')
    assert.equal(r.status, 200)
  })

  await t.test('hide_groups_header keeps the groups from the upstream', async () => {
    const r = await call('/hide', 'admin')
    assert.equal(r.status, 200)
    assert.equal((r.body.headers as Record<string, string>)['x-consumer-groups'], undefined)
  })

  await t.test('no authenticated consumer: 401 Unauthorized', async () => {
    const r = await call('/noauth')
    assert.equal(r.status, 401)
    assert.equal(r.body.message, 'Unauthorized')
  })

  await t.test('anonymous consumer without groups: 401 on allow, passes on deny', async () => {
    let r = await call('/anon')
    assert.equal(r.status, 401)
    r = await call('/anon', 'admin')
    assert.equal(r.status, 200)
    r = await call('/anon-deny')
    assert.equal(r.status, 200)
    r = await call('/anon-deny', 'admin')
    assert.equal(r.status, 403)
  })
})
