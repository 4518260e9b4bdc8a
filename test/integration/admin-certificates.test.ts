/**
 * /certificates, /snis and /ca_certificates over real HTTP and PostgreSQL (ported from Kong's
 * spec/02-integration/04-admin_api/06-certificates_routes_spec.lua and
 * 16-ca_certificates_routes_spec.lua).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { startTestAdmin, type Admin } from './admin-harness.ts'
import { CA_CERT, EC_CERT, EC_KEY, EXPIRED_CA_CERT, LEAF_CERT, RSA2_CERT, RSA2_KEY, RSA_CERT, RSA_KEY } from './admin-fixtures.ts'

let a: Admin
before(async () => { a = await startTestAdmin() })
after(async () => { await a.close() })

let n = 0
const name = (): string => `name${String(++n).padStart(4, '0')}.test`
const eventsSince = async (seq: number): Promise<any[]> =>
  (await a.db.pool.query('select data from cluster_events where seq > $1 order by seq', [seq])).rows.map((r) => JSON.parse(r.data))
const lastSeq = async (): Promise<number> => Number((await a.db.pool.query('select coalesce(max(seq), 0) as s from cluster_events')).rows[0].s)

describe('certificates', () => {
  test('POST stores cert and key, creates the snis, and answers with the sorted names', async () => {
    const [n1, n2] = [name(), name()]
    const v = await a.json('POST', '/schemas/certificates/validate', { cert: RSA_CERT, key: RSA_KEY, snis: [n2, n1] })
    assert.deepEqual(v.json, { message: 'schema validation successful' })
    const r = await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, snis: [n2, n1], tags: ['t'] })
    assert.equal(r.status, 201)
    assert.deepEqual(r.json.snis, [n1, n2])
    assert.deepEqual([r.json.cert, r.json.key, r.json.cert_alt, r.json.key_alt, r.json.tags], [RSA_CERT, RSA_KEY, null, null, ['t']])
    assert.deepEqual((await a.json('GET', `/certificates/${r.json.id as string}`)).json, r.json)
    const sni = (await a.json('GET', `/snis/${n1}`)).json
    assert.deepEqual(sni.certificate, { id: r.json.id })
    const listed = (await a.json('GET', '/certificates')).json.data.find((c: any) => c.id === r.json.id)
    assert.deepEqual(listed.snis, [n1, n2])
    const noSnis = await a.json('POST', '/certificates', { cert: RSA2_CERT, key: RSA2_KEY })
    assert.deepEqual(noSnis.json.snis, [])
  })

  test('a certificate that does not match its key, and bad PEM, are schema violations', async () => {
    const m = await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA2_KEY })
    assert.deepEqual(m.json, {
      code: 2, name: 'schema violation', message: 'schema violation (certificate does not match key)', fields: { '@entity': ['certificate does not match key'] },
    })
    const missing = await a.json('POST', '/certificates', {})
    assert.equal(missing.json.message, '2 schema violations (cert: required field missing; key: required field missing)')
    const junk = await a.json('POST', '/certificates', { cert: 'not a pem', key: 'nor this' })
    assert.match(junk.json.fields.cert, /^invalid certificate: /)
    assert.match(junk.json.fields.key, /^invalid key: /)
  })

  test('cert_alt and key_alt go together, match, and must be of another key type', async () => {
    assert.equal((await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, cert_alt: EC_CERT })).json.message,
      "schema violation (all or none of these fields must be set: 'cert_alt', 'key_alt')")
    assert.equal((await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, cert_alt: EC_CERT, key_alt: RSA2_KEY })).json.message,
      'schema violation (alternative certificate does not match key)')
    assert.equal((await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, cert_alt: RSA2_CERT, key_alt: RSA2_KEY })).json.message,
      'schema violation (certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), the provided certificates were both of the same type)')
    const ok = await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, cert_alt: EC_CERT, key_alt: EC_KEY })
    assert.equal(ok.status, 201)
  })

  test('an SNI belongs to one certificate; duplicates in one list are refused', async () => {
    const n1 = name()
    const c1 = (await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, snis: [n1] })).json
    const taken = await a.json('POST', '/certificates', { cert: RSA2_CERT, key: RSA2_KEY, snis: [n1] })
    assert.deepEqual(taken.json.fields, { snis: `${n1} already associated with existing certificate '${c1.id as string}'` })
    const n2 = name()
    assert.deepEqual((await a.json('POST', '/certificates', { cert: RSA2_CERT, key: RSA2_KEY, snis: [n2, n2] })).json.fields, { snis: `${n2} is duplicated` })
    assert.equal((await a.json('GET', `/snis/${n2}`)).status, 404, 'nothing was written')
    assert.deepEqual((await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, snis: ['1.2.3.4'] })).json.fields, { snis: ['must not be an IP'] })
  })

  test('/certificates/{sni}: GET and PATCH by name, 404 "SNI not found", PUT by a new name creates', async () => {
    const [n1, n2, n3] = [name(), name(), name()]
    const c = (await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, snis: [n1] })).json
    assert.equal((await a.json('GET', `/certificates/${n1}`)).json.id, c.id)
    assert.deepEqual((await a.json('GET', `/certificates/${name()}`)).json, { message: 'SNI not found' })
    const p = await a.json('PATCH', `/certificates/${n1}`, { snis: [n1, n2] })
    assert.deepEqual(p.json.snis, [n1, n2])
    const kept = await a.json('PATCH', `/certificates/${c.id as string}`, { tags: ['x'] })
    assert.deepEqual(kept.json.snis, [n1, n2])
    const put = await a.json('PUT', `/certificates/${n3}`, { cert: RSA2_CERT, key: RSA2_KEY, snis: [name()] })
    assert.equal(put.status, 200)
    assert.ok(put.json.snis.includes(n3))
    assert.equal((await a.json('GET', `/snis/${n3}/certificate`)).status, 404, '/snis/{s}/certificate is disabled')
    const nested = (await a.json('GET', `/certificates/${n1}/snis`)).json.data.map((s: any) => s.name).sort()
    assert.deepEqual(nested, [n1, n2])
  })

  test('PATCH snis replaces the names and PUT without snis drops them, with events for snis and certificate', async () => {
    const [n1, n2, n3] = [name(), name(), name()]
    const c = (await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, snis: [n1, n2] })).json
    const seq = await lastSeq()
    const p = await a.json('PATCH', `/certificates/${c.id as string}`, { snis: [n2, n3] })
    assert.deepEqual(p.json.snis, [n2, n3])
    const ev = await eventsSince(seq)
    assert.deepEqual(ev[0], { entity: 'certificates', op: 'update', id: c.id })
    assert.ok(ev.some((e) => e.entity === 'snis' && e.op === 'create'))
    assert.ok(ev.some((e) => e.entity === 'snis' && e.op === 'delete'))
    const put = await a.json('PUT', `/certificates/${c.id as string}`, { cert: RSA_CERT, key: RSA_KEY })
    assert.deepEqual(put.json.snis, [])
    assert.deepEqual((await a.json('GET', '/snis')).json.data.filter((s: any) => s.certificate.id === c.id), [])
  })

  test('snis: CRUD through /snis, certificate required; a service still using a certificate blocks its deletion', async () => {
    const c = (await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY })).json
    const missing = await a.json('PUT', '/snis/00000000-0000-4000-8000-000000000001', {})
    assert.equal(missing.json.message, '2 schema violations (certificate: required field missing; name: required field missing)')
    const s = await a.json('POST', '/snis', { name: '*.wild.test', certificate: { id: c.id } })
    assert.equal(s.status, 201)
    assert.deepEqual((await a.json('GET', `/certificates/${c.id as string}`)).json.snis, ['*.wild.test'])
    assert.deepEqual((await a.json('POST', '/snis', { name: 'a.*.test', certificate: { id: c.id } })).json.fields, { name: 'wildcard must be leftmost or rightmost character' })
    const svc = (await a.json('POST', '/services', { url: 'https://tls.test', client_certificate: { id: c.id } })).json
    const refused = await a.json('DELETE', `/certificates/${c.id as string}`)
    assert.equal(refused.status, 400)
    assert.equal(refused.json.message, "an existing 'services' entity references this 'certificates' entity")
    assert.equal((await a.json('GET', '/snis/*.wild.test')).status, 200, 'the refused delete kept the snis')
    await a.json('DELETE', `/services/${svc.id as string}`)
    const seq = await lastSeq()
    assert.equal((await a.json('DELETE', `/certificates/${c.id as string}`)).status, 204)
    assert.ok((await eventsSince(seq)).some((e) => e.entity === 'snis' && e.op === 'delete' && e.id === s.json.id))
    assert.equal((await a.json('GET', '/snis/*.wild.test')).status, 404)
  })
})

describe('ca_certificates', () => {
  test('one CA certificate, not expired; cert_digest is its sha256 and unique', async () => {
    const r = await a.json('POST', '/ca_certificates', { cert: CA_CERT })
    assert.equal(r.status, 201)
    assert.equal(r.json.cert_digest, new X509Certificate(CA_CERT).fingerprint256.replace(/:/g, '').toLowerCase())
    assert.equal((await a.json('POST', '/ca_certificates', { cert: CA_CERT })).status, 409)
    const msg = async (cert: string): Promise<string> => (await a.json('POST', '/ca_certificates', { cert })).json.message
    assert.equal(await msg(LEAF_CERT), 'schema violation (certificate does not appear to be a CA because it is missing the "CA" basic constraint)')
    assert.equal(await msg(EXPIRED_CA_CERT), 'schema violation (certificate expired, "Not After" time is in the past)')
    assert.equal(await msg(CA_CERT + CA_CERT), 'schema violation (please submit only one certificate at a time)')
    assert.equal((await a.json('POST', '/ca_certificates', {})).json.message, 'schema violation (cert: required field missing)')
    const patched = await a.json('PATCH', `/ca_certificates/${r.json.id as string}`, { cert: LEAF_CERT })
    assert.equal(patched.status, 400)
  })

  test('a CA certificate used by a service cannot be deleted (referenced by others)', async () => {
    await a.json('POST', '/ca_certificates', { cert: CA_CERT }) // may already exist (409)
    const existing = (await a.json('GET', '/ca_certificates')).json.data[0].id
    const svc = (await a.json('POST', '/services', { url: 'https://ca.test', ca_certificates: [existing] })).json
    const r = await a.json('DELETE', `/ca_certificates/${existing as string}`)
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, {
      code: 19, name: 'referenced by others', message: `ca certificate ${existing as string} is still referenced by services (id = ${svc.id as string})`,
    })
    await a.json('DELETE', `/services/${svc.id as string}`)
    assert.equal((await a.json('DELETE', `/ca_certificates/${existing as string}`)).status, 204)
  })
})
