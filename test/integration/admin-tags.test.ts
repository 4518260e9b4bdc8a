/**
 * Tags on every entity: the `?tags=` filter (`a,b` all of, `a/b` any of) and `/tags`,
 * `/tags/{tag}` (ported from Kong's spec/02-integration/04-admin_api/14-tags_spec.lua).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestAdmin, type Admin } from './admin-harness.ts'
import { CA_CERT, RSA_CERT, RSA_KEY } from './admin-fixtures.ts'

let a: Admin
const made: Record<string, string> = {}
before(async () => {
  a = await startTestAdmin()
  const post = async (path: string, body: Record<string, unknown>): Promise<string> => {
    const r = await a.json('POST', path, body)
    assert.equal(r.status, 201, `${path}: ${r.text}`)
    return r.json.id
  }
  made.c1 = await post('/consumers', { username: 'c1', tags: ['corp_ a', 'x'] })
  made.c2 = await post('/consumers', { username: 'c2', tags: ['corp_ a', 'y'] })
  made.c3 = await post('/consumers', { username: 'c3', tags: ['y', 'ünicode'] })
  made.u = await post('/upstreams', { name: 'up.test', tags: ['corp_ a'] })
  made.t = await post('/upstreams/up.test/targets', { target: 't.test', tags: ['corp_ a'] })
  made.p = await post('/plugins', { name: 'cors', tags: ['x'] })
  made.k = await post('/consumers/c1/key-auth', { tags: ['corp_ a'] })
  made.cert = await post('/certificates', { cert: RSA_CERT, key: RSA_KEY, tags: ['x'] })
  made.ca = await post('/ca_certificates', { cert: CA_CERT, tags: ['x'] })
})
after(async () => { await a.close() })

const ids = (r: { json: any }): string[] => r.json.data.map((e: any) => e.id).sort()

test('?tags=a,b keeps entities with all tags; a/b with any; unicode tags work', async () => {
  assert.deepEqual(ids(await a.json('GET', '/consumers?tags=corp_%20a')), [made.c1, made.c2].sort())
  assert.deepEqual(ids(await a.json('GET', '/consumers?tags=corp_%20a,y')), [made.c2])
  assert.deepEqual(ids(await a.json('GET', '/consumers?tags=x/y')), [made.c1, made.c2, made.c3].sort())
  assert.deepEqual(ids(await a.json('GET', `/consumers?tags=${encodeURIComponent('ünicode')}`)), [made.c3])
  assert.deepEqual(ids(await a.json('GET', '/plugins?tags=x')), [made.p])
  assert.deepEqual(ids(await a.json('GET', '/key-auths?tags=corp_%20a')), [made.k])
  assert.deepEqual(ids(await a.json('GET', '/certificates?tags=x')), [made.cert])
})

test('tag filter errors are Kong\'s invalid options; nested collections ignore the filter', async () => {
  assert.deepEqual((await a.json('GET', '/consumers?tags=')).json, {
    code: 11, name: 'invalid options', message: 'invalid option (tags: cannot be null)', options: { tags: 'cannot be null' },
  })
  assert.equal((await a.json('GET', '/consumers?tags=a,b/c')).json.message, 'invalid option (tags: invalid filter syntax)')
  assert.equal((await a.json('GET', '/consumers?tags=a,b,c,d,e,f')).json.message, 'invalid option (tags: cannot query more than 5 tags)')
  assert.deepEqual(ids(await a.json('GET', '/upstreams/up.test/targets/all?tags=nope')), [made.t])
  const page = (await a.json('GET', '/consumers?tags=x/y&size=1')).json
  assert.match(page.next, /^\/consumers\?offset=[^&]+&tags=x%2Fy&size=1$/)
})

test('a tag that is not printable ascii or utf-8 is refused on write', async () => {
  const r = await a.json('POST', '/consumers', { username: 'bad-tag', tags: ['a,b'] })
  assert.deepEqual(r.json.fields, { tags: ["invalid tag 'a,b': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"] })
})

test('/tags lists every (entity, tag) pair and pages through them', async () => {
  const all = (await a.json('GET', '/tags')).json
  assert.equal(all.next, null)
  const pairs = all.data.map((r: any) => `${r.entity_name as string}:${r.tag as string}`).sort()
  assert.deepEqual(pairs, [
    'ca_certificates:x', 'certificates:x', 'consumers:corp_ a', 'consumers:corp_ a', 'consumers:x', 'consumers:y', 'consumers:y',
    'consumers:ünicode', 'keyauth_credentials:corp_ a', 'plugins:x', 'targets:corp_ a', 'upstreams:corp_ a',
  ])
  assert.deepEqual(Object.keys(all.data[0]).sort(), ['entity_id', 'entity_name', 'tag'])
  const seen: string[] = []
  let next: string | null = '/tags?size=5'
  while (next !== null) {
    const p: any = (await a.json('GET', next)).json
    seen.push(...p.data.map((r: any) => `${r.entity_id as string}:${r.tag as string}`))
    next = p.next
  }
  assert.equal(seen.length, 12)
  assert.equal(new Set(seen).size, 12)
})

test('/tags/{tag} lists the entities with that tag; an invalid tag is a 400', async () => {
  const r = (await a.json('GET', '/tags/corp_%20a')).json
  assert.deepEqual(r.data.map((x: any) => x.entity_id).sort(), [made.c1, made.c2, made.u, made.t, made.k].sort())
  assert.ok(r.data.every((x: any) => x.tag === 'corp_ a'))
  assert.deepEqual((await a.json('GET', '/tags/does-not-exist')).json, { data: [], next: null })
  const p1 = (await a.json('GET', '/tags/corp_%20a?size=2')).json
  assert.match(p1.next, /^\/tags\/corp_%20a\?offset=/)
  assert.equal((await a.json('GET', '/tags/corp_%20a?tags=not_a_tag')).json.data.length, 5)
  const bad = await a.json('GET', '/tags/%FF')
  assert.equal(bad.status, 400)
  assert.match(bad.json.message, /invalid utf-8/)
  assert.equal((await a.json('GET', '/tags?offset=x')).status, 400)
})

test('the tags index follows updates and deletes, cascades included', async () => {
  await a.json('PATCH', '/consumers/c3', { tags: ['z'] })
  assert.deepEqual((await a.json('GET', '/tags/%C3%BCnicode')).json.data, [])
  await a.json('DELETE', '/upstreams/up.test')
  const left = (await a.json('GET', '/tags/corp_%20a')).json.data.map((x: any) => x.entity_name).sort()
  assert.deepEqual(left, ['consumers', 'consumers', 'keyauth_credentials'])
})
