/**
 * Hostile input against every Admin API endpoint, deterministic and exhaustive where the
 * random run of admin-fuzz.test.ts samples: every route template from GET /endpoints with
 * hostile keys in its parameters under every method, every collection's POST with broken
 * bodies and content types, every schema field of every entity set to values of the wrong
 * type or out of range, and list queries with junk. Each answer must
 *   - come back (no hang), and not be a 5xx;
 *   - be JSON in Kong's shape: `{message}` for the generic answers, and for DAO errors
 *     `{code, name, message, fields|options}` with the name and HTTP status kong/db/errors.lua
 *     and kong/api/endpoints.lua give that code;
 *   - leave no trace when a write fails: every table (cluster_events included) is the same
 *     before and after the request.
 * At the end every stored entity must still read back through its collection and by id.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { randomUUID } from 'node:crypto'
import { startTestAdmin, type Admin } from './admin-harness.ts'
import { CA_CERT, RSA_CERT, RSA_KEY } from './admin-fixtures.ts'

let a: Admin
let tables: string[] = []

/** kong/db/errors.lua names, by code (10 carries the unique field's name). */
const ERROR_NAMES: Record<number, RegExp> = {
  1: /^invalid primary key$/, 2: /^schema violation$/, 3: /^primary key violation$/, 4: /^foreign key violation$/,
  5: /^unique constraint violation$/, 6: /^not found$/, 7: /^invalid offset$/, 9: /^invalid size$/, 10: /^invalid unique \S+$/,
  11: /^invalid options$/, 12: /^operation unsupported$/, 13: /^foreign keys unresolved$/, 19: /^referenced by others$/,
}
/** kong/api/endpoints.lua ERRORS_HTTP_CODES */
const ERROR_STATUS: Record<number, number> = { 1: 400, 2: 400, 3: 400, 4: 400, 5: 409, 6: 404, 7: 400, 9: 400, 10: 400, 11: 400, 12: 405, 13: 400, 19: 400 }
/** Error codes whose body carries the offending `fields`. */
const WITH_FIELDS = new Set([1, 2, 3, 4, 5, 13])

interface Res { status: number; headers: Record<string, string | string[] | undefined>; text: string }

/** One request with a deadline: a hang fails the test instead of holding it. */
function send (method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers }
    if (body !== undefined) h['Content-Length'] = String(Buffer.byteLength(body))
    const r = httpRequest({ host: '127.0.0.1', port: a.port, method, path, headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }) })
    })
    const timer = setTimeout(() => { r.destroy(); reject(new Error(`${method} ${path}: no answer within 10 s`)) }, 10_000)
    r.on('error', (e) => { clearTimeout(timer); reject(e) })
    if (body !== undefined) r.write(body)
    r.end()
  })
}

/** Every table's rows, hashed: equal before and after a failed write, or something leaked. */
async function fingerprint (): Promise<Record<string, string>> {
  const sql = tables.map((t) => `select '${t}' as t, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from "${t}" x`).join(' union all ')
  const r = await a.db.pool.query<{ t: string; h: string }>(sql)
  return Object.fromEntries(r.rows.map((x) => [x.t, x.h]))
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** Asserts Kong's answer shape; returns the parsed body (undefined when there is none). */
function checkShape (method: string, where: string, res: Res): any {
  assert.ok(res.status < 500, `${where}: ${res.status} ${res.text.slice(0, 300)}`)
  if (method === 'HEAD' || res.status === 204) { assert.equal(res.text, '', `${where}: body on ${method} ${res.status}`); return undefined }
  assert.match(String(res.headers['content-type']), /^application\/json; charset=utf-8$/, `${where}: ${res.status} ${res.text.slice(0, 200)}`)
  let json: any
  try { json = JSON.parse(res.text) } catch { assert.fail(`${where}: ${res.status} body is not JSON: ${res.text.slice(0, 200)}`) }
  if (res.status < 400) return json
  assert.equal(typeof json?.message, 'string', `${where}: ${res.status} without a message: ${res.text.slice(0, 300)}`)
  if (json.code === undefined) {
    if (res.status === 405) assert.deepEqual(json, { message: 'Method not allowed' }, where)
    return json
  }
  const code = json.code as number
  assert.ok(ERROR_NAMES[code] !== undefined, `${where}: unknown error code ${code}`)
  assert.match(String(json.name), ERROR_NAMES[code]!, `${where}: code ${code} named ${json.name}`)
  assert.equal(res.status, ERROR_STATUS[code], `${where}: code ${code} answered ${res.status}`)
  if (WITH_FIELDS.has(code)) assert.ok(json.fields !== null && typeof json.fields === 'object', `${where}: code ${code} without fields: ${res.text.slice(0, 300)}`)
  if (code === 11) assert.ok(json.options !== null && typeof json.options === 'object', `${where}: invalid options without options`)
  return json
}

let checked = 0
const hist: Record<string, number> = {}
after(() => { if (process.env.SLUICE_FUZZ_DEBUG !== undefined) process.stderr.write(`${checked} probes: ${JSON.stringify(hist)}\n`) })
/**
 * The database as of the last write: requests run one at a time and nothing else writes, so
 * it is the state before the next request; it is taken again after every write that succeeded.
 */
let known: Record<string, string> | null = null

/** Sends, checks the shape, and for a failed write that the database did not change. */
async function probe (method: string, path: string, body?: Buffer | string, headers?: Record<string, string>): Promise<{ res: Res; json: any }> {
  known ??= await fingerprint()
  const res = await send(method, path, body, headers)
  const where = `${method} ${path.slice(0, 200)} ${headers?.['Content-Type'] ?? ''} ${body === undefined ? '' : String(body).slice(0, 160)}`
  const json = checkShape(method, where, res)
  if (WRITES.has(method) || method === 'TRACE') {
    const now = await fingerprint()
    if (res.status >= 400) {
      const changed = Object.keys(now).filter((t) => now[t] !== known![t])
      assert.deepEqual(changed, [], `${where}: a failed write (${res.status} ${res.text.slice(0, 200)}) changed ${changed.join(', ')}`)
    }
    known = now
  }
  checked++; if (process.env.SLUICE_FUZZ_DEBUG !== undefined) hist[`${method} ${res.status}`] = (hist[`${method} ${res.status}`] ?? 0) + 1
  return { res, json }
}

/** Every byte percent-encoded (lone surrogates included, as U+FFFD: forms carry bytes). */
const pct = (s: string): string => Array.from(Buffer.from(s), (b) => '%' + b.toString(16).padStart(2, '0')).join('')

const JSON_CT = { 'Content-Type': 'application/json' }
const FORM_CT = { 'Content-Type': 'application/x-www-form-urlencoded' }

before(async () => {
  // new_dns_client on: GET /status/dns answers 200 (off, it is Kong's deliberate 501, outside this test's no-5xx rule)
  a = await startTestAdmin({ nginx_admin_client_max_body_size: '2m', new_dns_client: 'on' })
  const ok = async (method: string, path: string, body: unknown): Promise<any> => {
    const r = await a.json(method, path, body)
    assert.ok(r.status < 300, `${path}: ${r.status} ${r.text}`)
    return r.json
  }
  const s = await ok('POST', '/services', { name: 'hz-svc', host: 'hz.test' })
  await ok('POST', '/routes', { name: 'hz-route', paths: ['/hz'], service: { id: s.id } })
  await ok('POST', '/consumers', { username: 'hz-user', custom_id: 'hz-cid', tags: ['hz'] })
  await ok('POST', '/plugins', { name: 'rate-limiting', instance_name: 'hz-plugin', config: { minute: 5 } })
  await ok('POST', '/upstreams', { name: 'hz-up' })
  await ok('POST', '/upstreams/hz-up/targets', { target: 'hz.test:80' })
  await ok('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, snis: ['hz-sni.test'] })
  await ok('POST', '/ca_certificates', { cert: CA_CERT })
  await ok('POST', '/consumers/hz-user/key-auth', { key: 'hz-key' })
  await ok('POST', '/consumers/hz-user/basic-auth', { username: 'hz-basic', password: 'pw' })
  await ok('POST', '/consumers/hz-user/acls', { group: 'hz-group' })
  await ok('POST', '/consumers/hz-user/jwt', { key: 'hz-jwt' })
  await ok('POST', '/consumers/hz-user/hmac-auth', { username: 'hz-hmac' })
  const r = await a.db.pool.query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public' order by 1")
  tables = r.rows.map((x) => x.tablename)
})
after(async () => { await a.close() })

/** Keys no entity can have, or that try to escape the path segment. */
const HOSTILE_KEYS = ['%00', 'a%00b', '%2F', 'a%2Fb', '%252F', '%C0%AF', '%FF', '%ED%A0%80', '%E2%80%8B', '00000000-0000-0000-0000-00000000000g',
  randomUUID(), 'x'.repeat(3000), '%20', '%zz', '%', '..%2F..', '%0D%0AX-Injected:%201', '%01', '%7B%7D', '%5B%5D', '1e999', '-1']

const BODIES: Array<{ ct?: string; body: string | Buffer; what: string }> = [
  { ct: 'application/json', body: '{"name": "x"', what: 'truncated JSON' },
  { ct: 'application/json', body: '[{"name":"x"}]', what: 'array' },
  { ct: 'application/json', body: '"x"', what: 'string' },
  { ct: 'application/json', body: 'null', what: 'null' },
  { ct: 'application/json', body: '', what: 'empty JSON' },
  { ct: 'application/json', body: '{"a":' + '['.repeat(5000) + ']'.repeat(5000) + '}', what: 'deep JSON' },
  { ct: 'application/json', body: '{"name":"dup-a","name":"dup-b","host":"dup.test"}', what: 'duplicate keys' },
  { ct: 'application/json', body: '{"host":"u.test","port":"80","tags":"a","enabled":"yes"}', what: 'strings for numbers' },
  { ct: 'application/json', body: '{"host":"u.test","port":1e400,"retries":-1e400}', what: 'infinities' },
  { ct: 'application/json', body: '{"nope":1,"__proto__":{"x":1},"constructor":{}}', what: 'unknown fields' },
  { ct: 'application/json', body: '{"name":"\\u0000","tags":["\\u0001"],"username":"\\ud800"}', what: 'NUL and surrogates' },
  { ct: 'application/json', body: Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), what: 'invalid UTF-8 JSON' },
  { ct: 'application/json; charset=utf-16', body: Buffer.from('{"name":"x"}', 'utf16le'), what: 'UTF-16 JSON' },
  { ct: 'application/json; charset=bogus', body: '{"name":"cs"}', what: 'bogus charset' },
  { ct: 'APPLICATION/JSON', body: '{"name":"x"}', what: 'upper-case type' },
  { ct: 'text/plain', body: 'name=x', what: 'text/plain' },
  { ct: 'application/xml', body: '<a/>', what: 'xml' },
  { body: '{"name":"x"}', what: 'no content type' },
  { ct: 'application/x-www-form-urlencoded', body: 'name=%00&tags[]=%FF&port=1e999&a[b][c]=1&.x=1&service.id=zz', what: 'form junk' },
  { ct: 'application/x-www-form-urlencoded', body: '%FF=1&=2&&&a[=1&b]=2&c[1]=x&c[0]=y&c[-1]=z&c[99999999999]=w', what: 'form keys' },
  { ct: 'application/x-www-form-urlencoded', body: 'config.minute=abc&config=1&name=rate-limiting', what: 'form config clash' },
  { ct: 'multipart/form-data', body: '--b\r\n\r\n', what: 'multipart without boundary' },
  { ct: 'multipart/form-data; boundary=b', body: '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx', what: 'unterminated multipart' },
  { ct: 'multipart/form-data; boundary="q b"', body: '--q b\r\nContent-Disposition: form-data; name="tags[]"\r\n\r\n\u0000\r\n--q b--\r\n', what: 'quoted boundary' },
  { ct: 'multipart/form-data; boundary=b', body: '--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n', what: 'part without name' },
]

test('every route template under every method with hostile keys and bodies: Kong-shaped, no trace', async () => {
  const ep = await send('GET', '/endpoints')
  const templates: string[] = JSON.parse(ep.text).data
  assert.ok(templates.length > 50, 'endpoints listed')
  const methods = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE']
  let n = 0
  for (const t of templates) {
    if (process.env.SLUICE_FUZZ_DEBUG !== undefined) process.stderr.write(`${t}\n`)
    if (t === '/config') continue // DB-less only; its body is a whole declarative file (declarative tests)
    for (let k = 0; k < HOSTILE_KEYS.length; k++) {
      const path = t.replace(/\{[^}]+\}/g, () => HOSTILE_KEYS[(k + n++) % HOSTILE_KEYS.length]!)
      if (path === t && k > 0) break // no parameters: once is enough per method
      const method = methods[(k + n) % methods.length]!
      const b = BODIES[(k * 7 + n) % BODIES.length]!
      const hasBody = method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS'
      await probe(method, path, hasBody ? b.body : undefined, hasBody && b.ct !== undefined ? { 'Content-Type': b.ct } : {})
    }
    // every method on the bare template with the first hostile key
    const path = t.replace(/\{[^}]+\}/g, HOSTILE_KEYS[0]!)
    for (const m of methods) await probe(m, path)
  }
})

/** The writable collections, each with one valid body (for the field mutations below). */
const COLLECTIONS: Array<{ path: string; schema: string; valid: Record<string, unknown>; existing: string }> = [
  { path: '/services', schema: 'services', valid: { host: 'ok.test' }, existing: '/services/hz-svc' },
  { path: '/routes', schema: 'routes', valid: { paths: ['/ok'] }, existing: '/routes/hz-route' },
  { path: '/consumers', schema: 'consumers', valid: { username: 'ok-user' }, existing: '/consumers/hz-user' },
  { path: '/plugins', schema: 'plugins', valid: { name: 'cors' }, existing: '/plugins/hz-plugin' },
  { path: '/upstreams', schema: 'upstreams', valid: { name: 'ok-up' }, existing: '/upstreams/hz-up' },
  { path: '/upstreams/hz-up/targets', schema: 'targets', valid: { target: 'ok.test:81' }, existing: '/upstreams/hz-up/targets/hz.test:80' },
  { path: '/certificates', schema: 'certificates', valid: { cert: RSA_CERT, key: RSA_KEY }, existing: '/certificates/hz-sni.test' },
  { path: '/snis', schema: 'snis', valid: { name: 'ok-sni.test', certificate: { id: '' } }, existing: '/snis/hz-sni.test' },
  { path: '/ca_certificates', schema: 'ca_certificates', valid: { cert: CA_CERT }, existing: '' },
  { path: '/consumers/hz-user/key-auth', schema: 'keyauth_credentials', valid: { key: 'ok-key' }, existing: '/key-auths/hz-key' },
  { path: '/consumers/hz-user/basic-auth', schema: 'basicauth_credentials', valid: { username: 'ok-basic', password: 'x' }, existing: '/basic-auths/hz-basic' },
  { path: '/consumers/hz-user/acls', schema: 'acls', valid: { group: 'ok-group' }, existing: '/consumers/hz-user/acls/hz-group' },
  { path: '/consumers/hz-user/jwt', schema: 'jwt_secrets', valid: { key: 'ok-jwt' }, existing: '/jwts/hz-jwt' },
  { path: '/consumers/hz-user/hmac-auth', schema: 'hmacauth_credentials', valid: { username: 'ok-hmac' }, existing: '/hmac-auths/hz-hmac' },
]

/** Values of the wrong type, out of range, or hostile, for any field. */
const HOSTILE_VALUES: unknown[] = [null, '', 'x', '\u0000', '\ud800', 'é'.repeat(3000), -1, 0, 1.5, 2 ** 31, 2 ** 63, -(2 ** 63), 1e308,
  true, [], [null], [[]], ['a', 'a'], {}, { id: 'not-a-uuid' }, { id: randomUUID() }, { name: '\u0000' }, [{}], { a: { b: { c: [] } } },
  '00000000-0000-0000-0000-00000000000g', ' '.repeat(10)]

test('every field of every entity set to hostile values, in JSON and in forms: Kong-shaped, no trace', async () => {
  const certs = await send('GET', '/certificates')
  const certId = JSON.parse(certs.text).data[0].id as string
  for (const c of COLLECTIONS) {
    const valid = c.schema === 'snis' ? { ...c.valid, certificate: { id: certId } } : c.valid
    const sch = await send('GET', `/schemas/${c.schema}`)
    assert.equal(sch.status, 200, c.schema)
    const fields = (JSON.parse(sch.text).fields as Array<Record<string, unknown>>).map((f) => Object.keys(f)[0]!)
    for (const [fi, field] of [...fields, 'unknown_field'].entries()) {
      // a third of the values per field, rotating, so every value meets every kind of field
      for (let i = fi % 3; i < HOSTILE_VALUES.length; i += 3) {
        const v = HOSTILE_VALUES[i]
        const body = JSON.stringify({ ...valid, [field]: v })
        // POST a new entity, then alternately PATCH and PUT the existing one
        await probe('POST', c.path, body, JSON_CT)
        if (c.existing !== '') await probe(i % 2 === 0 ? 'PATCH' : 'PUT', c.existing, i % 2 === 0 ? JSON.stringify({ [field]: v }) : body, JSON_CT)
        // the same value as a form argument (strings only: forms have no types)
        if (typeof v === 'string' || typeof v === 'number') {
          const form = Object.entries({ ...valid, [field]: v }).map(([k, x]) => `${pct(k)}=${pct(typeof x === 'string' || typeof x === 'number' ? String(x) : '')}`)
          await probe('POST', c.path, form.join('&'), FORM_CT)
        }
      }
    }
  }
})

test('list queries with junk sizes, offsets and tag filters: Kong-shaped', async () => {
  const queries = ['size=', 'size=0', 'size=-1', 'size=1.5', 'size=1e3', 'size=1001', 'size=0x10', 'size=%20%201', 'size=nan', 'size=inf',
    'size[]=1', 'size[a]=1', 'size=1&size=2', 'offset=', 'offset=%00', 'offset=%FF', 'offset=W10', 'offset=WyJ4Il0', 'offset=e30',
    'offset[]=x', 'offset=' + 'A'.repeat(5000), 'tags=', 'tags', 'tags=a,,b', 'tags=a//b', 'tags=,a', 'tags=/a', 'tags=a,b/c',
    'tags=a;b', 'tags=a%00b', 'tags=%FF', 'tags=%F5', 'tags[]=a', 'tags[x]=a', 'tags=a,b,c,d,e,f', 'tags=a&tags=b', 'tags=%E5%86%86',
    'custom_id=', 'custom_id', 'custom_id=a&custom_id=b', 'custom_id[]=x', 'custom_id=%00', 'a'.repeat(5000) + '=1', 'x=%FF%FE']
  const lists = ['/services', '/routes', '/consumers', '/plugins', '/upstreams', '/upstreams/hz-up/targets', '/upstreams/hz-up/targets/all',
    '/certificates', '/snis', '/ca_certificates', '/key-auths', '/acls', '/tags', '/tags/hz', '/services/hz-svc/routes',
    '/consumers/hz-user/plugins', '/consumers/hz-user/key-auth', '/certificates/hz-sni.test/snis']
  for (const l of lists) for (const q of queries) await probe('GET', `${l}?${q}`)
})

test('percent-encoding tricks in the path reach no entity they should not, and never a 5xx', async () => {
  // a NUL (raw, or double-encoded) appended to a real key names nothing
  const keep = ['/services/nul-svc', '/consumers/nul-user', '/key-auths/nul-key', '/certificates/hz-sni.test', '/upstreams/hz-up']
  assert.equal((await a.json('PUT', '/services/nul-svc', { host: 'nul.test' })).status, 200)
  assert.equal((await a.json('PUT', '/consumers/nul-user', {})).status, 200)
  assert.equal((await a.json('POST', '/consumers/nul-user/key-auth', { key: 'nul-key' })).status, 201)
  known = null // written around probe()
  for (const p of keep) {
    for (const suffix of ['%00', '%2500', '%00x', '%C0%80']) {
      for (const m of ['DELETE', 'PATCH']) {
        const { res } = await probe(m, p + suffix, m === 'PATCH' ? '{"tags":["moved"]}' : undefined, m === 'PATCH' ? JSON_CT : {})
        assert.ok(res.status !== 200 && res.status !== 201, `${m} ${p}${suffix}: ${res.status} ${res.text.slice(0, 200)}`)
      }
    }
    const r = await send('GET', p)
    assert.equal(r.status, 200, `${p} survived`)
    assert.equal(JSON.parse(r.text).tags?.includes('moved') ?? false, false, `${p} unchanged`)
  }
  const paths = ['/%73ervices', '/services%2Fhz-svc', '/services%2fhz-svc%2froutes', '/services/hz-svc%2Froutes', '/services/hz%2Dsvc',
    '/services/%68z-svc', '/services/%2e%2e', '/services/..', '/services/.', '/services/hz-svc/../../routes', '/services//routes',
    '//services', '/services///', '/services/hz-svc/', '/services/hz-svc//', '/%E5%86%86', '/services/%C0%AE%C0%AE', '/services/%u0041',
    '/services/%%32%46', '/services/hz-svc?x#frag', '/services/hz-svc;x=1', '/consumers/hz-user%2Fkey-auth',
    '/upstreams/hz-up/targets/hz.test%3A80', '/tags/hz%2Cx', '/schemas/..%2Fservices', '/plugins/enabled%00', '/schemas/plugins/key-auth%00']
  for (const p of paths) for (const m of ['GET', 'PATCH', 'DELETE']) await probe(m, p, m === 'PATCH' ? '{"tags":["moved"]}' : undefined, m === 'PATCH' ? JSON_CT : {})
})

test('huge bodies: past the limit a 413 and the connection closes; under it an answer in time', async () => {
  // 3 MB against a 2m limit
  const huge = '{"name":"' + 'a'.repeat(3 * 1024 * 1024) + '"}'
  const raw = await a.raw(`POST /services HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${huge.length}\r\n\r\n${huge}`)
  assert.match(raw, /^HTTP\/1\.1 413 /)
  assert.match(raw, /\r\n\r\n\{"message":"Payload too large"\}$/)
  // just under the limit: long names, many tags, many paths; each answered
  await probe('POST', '/services', JSON.stringify({ host: 'big.test', name: 'n'.repeat(1_500_000) }), JSON_CT)
  await probe('POST', '/services', JSON.stringify({ host: 'big.test', tags: Array.from({ length: 60_000 }, (_, i) => `t${i}`) }), JSON_CT)
  await probe('POST', '/routes', JSON.stringify({ paths: Array.from({ length: 20_000 }, (_, i) => `/p${i}`), hosts: Array.from({ length: 5000 }, (_, i) => `h${i}.test`) }), JSON_CT)
  await probe('POST', '/routes', JSON.stringify({ paths: ['~/' + '(a|'.repeat(20_000) + 'b' + ')'.repeat(20_000)] }), JSON_CT)
  await probe('POST', '/plugins', 'name=ip-restriction&' + Array.from({ length: 999 }, (_, i) => `config.allow[]=10.0.${i >> 8}.${i & 255}`).join('&'), FORM_CT)
  assert.equal((await send('GET', '/')).status, 200)
})

test('afterwards: nothing logged as unexpected, and every stored entity reads back by id as listed', async () => {
  assert.ok(checked > 3000, `probed ${checked} requests`)
  assert.deepEqual(a.logged.filter((l) => l.startsWith('error')), [])
  for (const c of ['/services', '/routes', '/consumers', '/plugins', '/upstreams', '/certificates', '/snis', '/ca_certificates', '/key-auths',
    '/basic-auths', '/acls', '/jwts', '/hmac-auths']) {
    let next: string | null = `${c}?size=1000`
    while (next !== null) {
      const r = await send('GET', next)
      assert.equal(r.status, 200, `${next}: ${r.text.slice(0, 200)}`)
      const page = JSON.parse(r.text)
      for (const e of page.data) {
        const one = await send('GET', `${c}/${e.id as string}`)
        assert.equal(one.status, 200, `${c}/${e.id as string}`)
        const got = JSON.parse(one.text)
        // key-auth ttl counts down between the two reads
        if (typeof e.ttl === 'number') { delete e.ttl; delete got.ttl }
        assert.deepEqual(got, e, `${c}/${e.id as string} reads back as listed`)
      }
      next = page.next
    }
  }
})
