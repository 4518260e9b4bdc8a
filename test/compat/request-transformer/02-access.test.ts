/**
 * Port of Kong's spec/03-plugins/36-request-transformer/02-access_spec.lua (the echo upstream
 * stands in for mock_upstream: it answers the method, the raw URL, the headers and the body it
 * received). Templates: `$(...)` Lua expressions with uri_captures (index 0 the whole match),
 * headers, query_params, shared and the sandbox's functions; a template that fails is a 500.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin, pluginGateway } from '../../helpers/kong-rows.ts'

interface Echoed { method: string; url: string; headers: Record<string, string>; body: string }

const CAPTURES = '~/requests/user1/(?P<user1>\\w+)/user2/(?P<user2>\\S+)'
const NAMED = '~/requests/user1/(?<user1>\\w+)/user2/(?<user2>\\S+)'

test('request-transformer 02-access', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [
      { hosts: ['test1.test'] }, { hosts: ['test3.test'] }, { hosts: ['test4.test'] }, { hosts: ['test5.test'] }, { hosts: ['test6.test'] },
      { hosts: ['test7.test'] }, { hosts: ['test8.test'] }, { hosts: ['test9.test'] },
      { hosts: ['test10.test'], paths: [CAPTURES], strip_path: false }, { hosts: ['test11.test'], paths: [CAPTURES] },
      { hosts: ['test12.test'], paths: ['/requests/'], strip_path: false }, { hosts: ['test13.test'], paths: [CAPTURES] },
      { hosts: ['test14.test'], paths: ['~/user1/(?P<user1>\\w+)/user2/(?P<user2>\\S+)'] },
      { hosts: ['test15.test'], paths: [NAMED], strip_path: false }, { hosts: ['test16.test'], paths: [NAMED], strip_path: false },
      { hosts: ['test17.test'], paths: [NAMED], strip_path: false }, { hosts: ['test18.test'], paths: [NAMED], strip_path: false },
      { hosts: ['test19.test'], paths: [NAMED], strip_path: false }, { hosts: ['test20.test'] }, { hosts: ['test22.test'] },
      { hosts: ['test24.test'] }, { hosts: ['test25.test'] }, { hosts: ['test28.test'] },
      { hosts: ['test29.test'], paths: ['~/(gw/)?api/(?<subpath>htest)$'], strip_path: false },
      { hosts: ['rename.mock'] }, { hosts: ['sandbox.test'] },
    ],
    plugins: ([r1, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15, r16, r17, r18, r19, r20, r22, r24, r25, r28, r29, rRename, rSandbox]) => [
      plugin('request-transformer', { add: { headers: ['h1:v1', 'h2:value:2'], querystring: ['q1:v1'], body: ['p1:v1'] } }, { route: r1 }),
      plugin('request-transformer', {
        add: { headers: ['x-added:a1', 'x-added2:b1', 'x-added3:c2'], querystring: ['query-added:newvalue', 'p1:anything:1'], body: ['newformparam:newvalue'] },
        remove: { headers: ['x-to-remove'], querystring: ['toremovequery'] },
        append: { headers: ['x-added:a2', 'x-added:a3'], querystring: ['p1:a2', 'p2:b1'] },
        replace: { headers: ['x-to-replace:false'], querystring: ['toreplacequery:no'] },
      }, { route: r3 }),
      plugin('request-transformer', { remove: { headers: ['x-to-remove'], querystring: ['q1'], body: ['toremoveform'] } }, { route: r4 }),
      plugin('request-transformer', { replace: { headers: ['h1:v1'], querystring: ['q1:v1'], body: ['p1:v1'] } }, { route: r5 }),
      plugin('request-transformer', { append: { headers: ['h1:v1', 'h1:v2', 'h2:v1'], querystring: ['q1:v1', 'q1:v2', 'q2:v1'], body: ['p1:v1', 'p1:v2', 'p2:value:1'] } }, { route: r6 }),
      plugin('request-transformer', { http_method: 'POST' }, { route: r7 }),
      plugin('request-transformer', { http_method: 'GET' }, { route: r8 }),
      plugin('request-transformer', { rename: { headers: ['x-to-rename:x-is-renamed'], querystring: ['originalparam:renamedparam'], body: ['originalparam:renamedparam'] } }, { route: r9 }),
      plugin('request-transformer', { add: { querystring: ['uri_param1:$(uri_captures.user1)', 'uri_param2[some_index][1]:$(uri_captures.user2)'] } }, { route: r10 }),
      plugin('request-transformer', { replace: { uri: '/requests/user2/$(uri_captures.user2)/user1/$(uri_captures.user1)' } }, { route: r11 }),
      plugin('request-transformer', { add: { querystring: ["uri_param1:$(uri_captures.user1 or 'default1')", "uri_param2:$(uri_captures.user2 or 'default2')"] } }, { route: r12 }),
      plugin('request-transformer', { replace: { uri: '/requests/user2/$(10 * uri_captures.user1)' } }, { route: r13 }),
      plugin('request-transformer', { replace: { uri: '/requests$(uri_captures[0])' } }, { route: r14 }),
      plugin('request-transformer', {
        add: { querystring: ['uri_param1:$(uri_captures.user1)', 'uri_param2:$(headers.host)'], headers: ['x-test-header:$(query_params.q1)'] },
        remove: { querystring: ['q1'] },
      }, { route: r15 }),
      plugin('request-transformer', {
        replace: { querystring: ["q2:$(headers['x-remove-header'])"] },
        add: { querystring: ['q1:$(uri_captures.user1)'], headers: ["x-test-header:$(headers['x-remove-header'])"] },
        remove: { headers: ['x-remove-header'] },
      }, { route: r16 }),
      plugin('request-transformer', {
        replace: { querystring: ["q2:$(headers['x-replace-header'])"], headers: ['x-replace-header:the new value'] },
        add: { querystring: ['q1:$(uri_captures.user1)'], headers: ["x-test-header:$(headers['x-replace-header'])"] },
      }, { route: r17 }),
      plugin('request-transformer', { add: { querystring: ["q1:$('$(uri_captures.user1)')"] } }, { route: r18 }),
      plugin('request-transformer', { add: { querystring: ['q1:$(ERROR())'] } }, { route: r19 }),
      plugin('request-transformer', { http_method: 'POST', add: { headers: ['Content-Type:application/json'], body: ['body:somecontent'] } }, { route: r20 }),
      plugin('request-transformer', { http_method: 'POST', remove: { headers: ['Authorization'] }, add: { headers: ['Authorization:Basic test'] } }, { route: r22 }),
      plugin('request-transformer', { add: { headers: ['x-user-agent:$(foo(headers["User-Agent"]) == "table" and headers["User-Agent"][1] or headers["User-Agent"])'] } }, { route: r24 }),
      plugin('request-transformer', { add: { headers: ['X-Foo-Transformed:$(type(headers["X-Foo"]) == "table" and headers["X-Foo"][1] .. "-first" or headers["X-Foo"])'] } }, { route: r25 }),
      plugin('request-transformer', { add: { headers: ['X-Write-Attempt:$(shared.written = true)'] } }, { route: r28 }),
      plugin('request-transformer', { replace: { uri: '/api/v2/$(uri_captures["subpath"])' } }, { route: r29 }),
      plugin('request-transformer', { rename: { headers: ['rename:Rename', 'identical:identical'], querystring: ['inexist:exist'] } }, { route: rRename }),
      plugin('request-transformer', {
        add: {
          headers: [
            'x-sub:$(string.sub(query_params.user, 1, 3))', 'x-type:$(type(query_params.user))',
            "x-fmt:$(string.format('u1:%s;u2:%s', query_params.user1, query_params.user2))",
            "x-require:$(require('inspect')('x'))",
          ],
        },
      }, { route: rSandbox }),
    ],
  })

  const send = async (host: string, path: string, opts: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {}): Promise<{ status: number; e: Echoed }> => {
    const res = await request(`${url}${path}`, { method: (opts.method ?? 'GET') as 'GET', headers: { host, ...opts.headers }, body: opts.body })
    const text = await res.body.text()
    return { status: res.statusCode, e: res.statusCode === 200 ? JSON.parse(text) as Echoed : { method: '', url: '', headers: {}, body: text } }
  }
  const query = (e: Echoed): URLSearchParams => new URLSearchParams(e.url.split('?')[1] ?? '')
  const form = (e: Echoed): URLSearchParams => new URLSearchParams(e.body)
  const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
  const JSON_CT = { 'content-type': 'application/json' }

  await t.test('http method', async () => {
    let { e } = await send('test7.test', '/request?hello=world&name=marco')
    assert.equal(e.method, 'POST')
    assert.equal(query(e).get('hello'), 'world')
    ;({ e } = await send('test8.test', '/request?hello=world', { method: 'POST', headers: FORM, body: 'name=marco' }))
    assert.equal(e.method, 'GET')
    assert.equal(query(e).get('hello'), 'world')
    assert.equal(query(e).get('name'), 'marco')
    ;({ e } = await send('test20.test', '/request'))
    assert.equal(e.method, 'POST')
    assert.equal(e.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(e.body), { body: 'somecontent' })
  })

  await t.test('remove', async () => {
    let { e } = await send('test4.test', '/request', { headers: { 'x-to-remove': 'true', 'x-another-header': 'true' } })
    assert.equal(e.headers['x-to-remove'], undefined)
    assert.equal(e.headers['x-another-header'], 'true')
    ;({ e } = await send('test4.test', '/request', { method: 'POST', headers: FORM, body: 'toremoveform=yes&nottoremove=yes' }))
    assert.equal(form(e).get('toremoveform'), null)
    assert.equal(form(e).get('nottoremove'), 'yes')
    ;({ e } = await send('test4.test', '/request', { method: 'POST', headers: JSON_CT, body: '{"toremoveform":"yes","nottoremove":"yes"}' }))
    assert.deepEqual(JSON.parse(e.body), { nottoremove: 'yes' })
    ;({ e } = await send('test4.test', '/request', { method: 'POST', headers: JSON_CT, body: 'malformed json body' }))
    assert.equal(e.body, 'malformed json body')
    ;({ e } = await send('test4.test', '/request', { method: 'POST', headers: JSON_CT, body: '{}' }))
    assert.equal(e.body, '{}')
    assert.equal(e.headers['content-length'], '2')
    ;({ e } = await send('test4.test', '/request', { method: 'POST', body: '' }))
    assert.equal(e.body, '')
    ;({ e } = await send('test4.test', '/request?q1=v1&q2=v2', { method: 'POST', headers: FORM, body: 'hello=world' }))
    assert.equal(query(e).get('q1'), null)
    assert.equal(query(e).get('q2'), 'v2')
    ;({ e } = await send('test4.test', '/request', { method: 'POST', headers: JSON_CT, body: '{"emptyarray":[]}' }))
    assert.equal(e.body, '{"emptyarray":[]}')
  })

  await t.test('rename', async () => {
    let { e } = await send('test9.test', '/request', { headers: { 'x-to-rename': 'true', 'x-another-header': 'true' } })
    assert.equal(e.headers['x-to-rename'], undefined)
    assert.equal(e.headers['x-is-renamed'], 'true')
    assert.equal(e.headers['x-another-header'], 'true')
    ;({ e } = await send('test9.test', '/request', { headers: { 'x-a-header': 'true' } }))
    assert.equal(e.headers['x-is-renamed'], undefined)
    for (const existing of ['x-is-renamed', 'X-Is-Renamed']) {
      ;({ e } = await send('test9.test', '/request', { headers: { 'x-to-rename': 'new-result', [existing]: 'old-result' } }))
      assert.equal(e.headers['x-to-rename'], undefined)
      assert.equal(e.headers['x-is-renamed'], 'new-result', existing)
    }
    ;({ e } = await send('test9.test', '/request', { method: 'POST', headers: FORM, body: 'originalparam=yes' }))
    assert.equal(form(e).get('originalparam'), null)
    assert.equal(form(e).get('renamedparam'), 'yes')
    ;({ e } = await send('test9.test', '/request', { method: 'POST', headers: JSON_CT, body: '{"originalparam":"yes","nottorename":"yes"}' }))
    assert.deepEqual(JSON.parse(e.body), { renamedparam: 'yes', nottorename: 'yes' })
    ;({ e } = await send('test9.test', '/request?originalparam=true&nottorename=true'))
    assert.equal(query(e).get('originalparam'), null)
    assert.equal(query(e).get('renamedparam'), 'true')
    assert.equal(query(e).get('nottorename'), 'true')
    ;({ e } = await send('test9.test', '/request', { method: 'POST', headers: JSON_CT, body: '{"emptyarray":[]}' }))
    assert.equal(e.body, '{"emptyarray":[]}')
    // rename.mock: only the case changes; renaming to the same name keeps the header; no value for a missing argument
    ;({ e } = await send('rename.mock', '/request?exist=true', { headers: { rename: 'true', identical: 'true' } }))
    assert.equal(e.headers.rename, 'true')
    assert.equal(e.headers.identical, 'true')
    assert.equal(e.url, '/request?exist=true')
  })

  await t.test('replace', async () => {
    let { e } = await send('test5.test', '/request', { headers: { h1: 'V', h2: 'v2' } })
    assert.equal(e.headers.h1, 'v1')
    assert.equal(e.headers.h2, 'v2')
    ;({ e } = await send('test5.test', '/request', { headers: { h2: 'v2' } }))
    assert.equal(e.headers.h1, undefined)
    ;({ e } = await send('test5.test', '/request', { method: 'POST', headers: FORM, body: 'p1=v&p2=v1' }))
    assert.equal(form(e).get('p1'), 'v1')
    assert.equal(form(e).get('p2'), 'v1')
    ;({ e } = await send('test5.test', '/request', { method: 'POST', headers: FORM, body: 'p2=v1' }))
    assert.equal(form(e).get('p1'), null)
    ;({ e } = await send('test5.test', '/request', { method: 'POST', headers: JSON_CT, body: '{"p1":"v","p2":"v1"}' }))
    assert.deepEqual(JSON.parse(e.body), { p1: 'v1', p2: 'v1' })
    ;({ e } = await send('test5.test', '/request', { method: 'POST', headers: JSON_CT, body: '{"p2":"v1"}' }))
    assert.deepEqual(JSON.parse(e.body), { p2: 'v1' })
    ;({ e } = await send('test5.test', '/request?q1=v&q2=v2', { method: 'POST', headers: FORM, body: 'hello=world' }))
    assert.equal(query(e).get('q1'), 'v1')
    assert.equal(query(e).get('q2'), 'v2')
    ;({ e } = await send('test5.test', '/request?q2=v2', { method: 'POST', headers: FORM, body: 'hello=world' }))
    assert.equal(query(e).get('q1'), null)
    ;({ e } = await send('test5.test', '/request', { method: 'POST', headers: JSON_CT, body: '{"emptyarray":[], "p1":"v"}' }))
    assert.ok(e.body.includes('"emptyarray":[]'), e.body)
    // the optional capture group: the replaced uri is the same with and without it
    for (const path of ['/api/htest', '/gw/api/htest']) {
      ;({ e } = await send('test29.test', path))
      assert.equal(e.url, '/api/v2/htest', path)
    }
  })

  await t.test('add', async () => {
    let { e } = await send('test1.test', '/request')
    assert.equal(e.headers.h1, 'v1')
    assert.equal(e.headers.h2, 'value:2')
    ;({ e } = await send('test1.test', '/request', { headers: { h1: 'v3' } }))
    assert.equal(e.headers.h1, 'v3')
    ;({ e } = await send('test1.test', '/request', { method: 'POST', headers: FORM, body: 'hello=world' }))
    assert.equal(form(e).get('p1'), 'v1')
    ;({ e } = await send('test1.test', '/request', { method: 'POST', headers: FORM, body: 'p1=should-not-change' }))
    assert.equal(form(e).get('p1'), 'should-not-change')
    ;({ e } = await send('test1.test', '/request', { method: 'POST', headers: JSON_CT, body: '{"hello":"world"}' }))
    assert.deepEqual(JSON.parse(e.body), { hello: 'world', p1: 'v1' })
    ;({ e } = await send('test1.test', '/request', { method: 'POST', headers: JSON_CT, body: '{"p1":"this should not change"}' }))
    assert.deepEqual(JSON.parse(e.body), { p1: 'this should not change' })
    ;({ e } = await send('test1.test', '/request?hello=world'))
    assert.equal(query(e).get('q1'), 'v1')
    assert.equal(query(e).get('hello'), 'world')
    ;({ e } = await send('test1.test', '/request?q1=v2'))
    assert.equal(query(e).get('q1'), 'v2')
  })

  await t.test('append', async () => {
    let { e } = await send('test6.test', '/request')
    assert.equal(e.headers.h1, 'v1, v2')
    assert.equal(e.headers.h2, 'v1')
    ;({ e } = await send('test6.test', '/request', { headers: { h1: 'v0' } }))
    assert.equal(e.headers.h1, 'v0, v1, v2')
    ;({ e } = await send('test6.test', '/request', { headers: { h1: 'v0#something' } }))
    assert.equal(e.headers.h1, 'v0#something, v1, v2')
    ;({ e } = await send('test6.test', '/request'))
    assert.deepEqual(query(e).getAll('q1'), ['v1', 'v2'])
    assert.equal(query(e).get('q2'), 'v1')
    ;({ e } = await send('test6.test', '/request?q1=v0'))
    assert.deepEqual(query(e).getAll('q1'), ['v0', 'v1', 'v2'])
    ;({ e } = await send('test6.test', '/request', { method: 'POST', headers: FORM, body: 'hello=world' }))
    assert.deepEqual(form(e).getAll('p1'), ['v1', 'v2'])
    assert.equal(form(e).get('p2'), 'value:1')
    ;({ e } = await send('test6.test', '/request', { method: 'POST', headers: FORM, body: 'p1=v0' }))
    assert.deepEqual(form(e).getAll('p1'), ['v0', 'v1', 'v2'])
  })

  await t.test('remove, replace, add and append', async () => {
    let { e } = await send('test3.test', '/request', { headers: { 'x-to-remove': 'true', 'x-to-replace': 'true', 'x-added3': 'c1' } })
    assert.equal(e.headers['x-to-remove'], undefined)
    assert.equal(e.headers['x-to-replace'], 'false')
    assert.equal(e.headers['x-added'], 'a1, a2, a3')
    assert.equal(e.headers['x-added2'], 'b1')
    assert.equal(e.headers['x-added3'], 'c1')
    ;({ e } = await send('test3.test', '/request?q1=20&toremovequery=yes&toreplacequery=yes'))
    assert.equal(query(e).get('toremovequery'), null)
    assert.equal(query(e).get('toreplacequery'), 'no')
    assert.equal(query(e).get('query-added'), 'newvalue')
    assert.deepEqual(query(e).getAll('p1'), ['anything:1', 'a2'])
    assert.equal(query(e).get('p2'), 'b1')
    ;({ e } = await send('test3.test', '/request?query-added=oldvalue'))
    assert.equal(query(e).get('query-added'), 'oldvalue')
    ;({ e } = await send('test3.test', '/request', { method: 'POST', headers: FORM, body: 'hello=world' }))
    assert.equal(form(e).get('newformparam'), 'newvalue')
  })

  await t.test('request rewrite using template', async () => {
    let { status, e } = await send('test10.test', '/requests/user1/foo/user2/bar?q1=20', { method: 'POST', headers: FORM, body: 'hello=world' })
    assert.equal(status, 200)
    assert.equal(e.url, '/requests/user1/foo/user2/bar?q1=20&uri_param1=foo&uri_param2%5Bsome_index%5D%5B1%5D=bar')
    ;({ e } = await send('test11.test', '/requests/user1/foo/user2/bar'))
    assert.equal(e.url, '/requests/user2/bar/user1/foo')
    ;({ e } = await send('test12.test', '/requests/?q1=20'))
    assert.equal(query(e).get('q1'), '20')
    assert.equal(query(e).get('uri_param1'), 'default1')
    assert.equal(query(e).get('uri_param2'), 'default2')
    ;({ status } = await send('test13.test', '/requests/user1/foo/user2/bar'))
    assert.equal(status, 500, '10 * a non-numeric string is a runtime error')
    ;({ status, e } = await send('test14.test', '/user1/foo/user2/bar'))
    assert.equal(status, 200)
    assert.equal(e.url, '/requests/user1/foo/user2/bar')
    ;({ e } = await send('test15.test', '/requests/user1/foo/user2/bar?q1=20', { headers: FORM }))
    assert.equal(query(e).get('q1'), null)
    assert.equal(query(e).get('uri_param1'), 'foo')
    assert.equal(query(e).get('uri_param2'), 'test15.test')
    assert.equal(e.headers['x-test-header'], '20')
    ;({ e } = await send('test16.test', '/requests/user1/foo/user2/bar?q2=20', { headers: { 'x-remove-header': 'its a test', ...FORM } }))
    assert.equal(e.headers['x-remove-header'], undefined)
    assert.equal(query(e).get('q1'), 'foo')
    assert.equal(query(e).get('q2'), 'its a test')
    assert.equal(e.headers['x-test-header'], 'its a test')
    ;({ e } = await send('test17.test', '/requests/user1/foo/user2/bar?q2=20', { headers: { 'x-replace-header': 'the old value', ...FORM } }))
    assert.equal(query(e).get('q1'), 'foo')
    assert.equal(query(e).get('q2'), 'the old value')
    assert.equal(e.headers['x-test-header'], 'the old value')
    assert.equal(e.headers['x-replace-header'], 'the new value')
    ;({ e } = await send('test18.test', '/requests/user1/foo/user2/bar?q2=20', { headers: FORM }))
    assert.equal(query(e).get('q1'), '$(uri_captures.user1)')
    assert.equal(query(e).get('q2'), '20')
    ;({ status } = await send('test19.test', '/requests/user1/foo/user2/bar?q2=20', { headers: FORM }))
    assert.equal(status, 500, 'ERROR() is a call of nil')
    ;({ status } = await send('test24.test', '/'))
    assert.equal(status, 500, 'foo() is a call of nil')
    ;({ status, e } = await send('test25.test', '/request', { headers: { 'X-Foo': ['1', '2'] } }))
    assert.equal(status, 200)
    assert.equal(e.headers['x-foo-transformed'], '1-first')
    ;({ status } = await send('test28.test', '/'))
    assert.equal(status, 500, 'an assignment is no expression')
  })

  await t.test('sandbox functions; require is not in the sandbox', async () => {
    const res = await request(`${url}/?user=foobar&user1=a&user2=b`, { headers: { host: 'sandbox.test' } })
    assert.equal(res.statusCode, 500)
    assert.deepEqual(await res.body.json(), { message: 'An unexpected error occurred' })
  })

  await t.test('remove then add header (regression test)', async () => {
    let { e } = await send('test22.test', '/', { headers: { authorization: 'Basic dGVzdDp0ZXN0', ...JSON_CT } })
    assert.equal(e.headers.authorization, 'Basic test')
    ;({ e } = await send('test22.test', '/', { headers: JSON_CT }))
    assert.equal(e.headers.authorization, 'Basic test')
  })
})

test('request-transformer 02-access: sandbox string functions and type()', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/'] }],
    plugins: ([r]) => [plugin('request-transformer', {
      add: {
        headers: [
          'x-sub:$(string.sub(query_params.user, 1, 3))', 'x-type:$(type(query_params.user))',
          "x-fmt:$(string.format('u1:%s;u2:%s', query_params.user1, query_params.user2))",
          'x-upper:$(query_params.user:upper())', 'x-num:$(tonumber(query_params.n) * 2)', 'x-missing:$(query_params.nope)',
        ],
      },
    }, { route: r })],
  })
  const res = await request(`${url}/?user=foobar&user1=a&user2=b&n=21`)
  assert.equal(res.statusCode, 200)
  const e = await res.body.json() as Echoed
  assert.equal(e.headers['x-sub'], 'foo')
  assert.equal(e.headers['x-type'], 'string')
  assert.equal(e.headers['x-fmt'], 'u1:a;u2:b')
  assert.equal(e.headers['x-upper'], 'FOOBAR')
  assert.equal(e.headers['x-num'], '42')
  assert.equal(e.headers['x-missing'], '')
})
