/**
 * tls-plan.ts (which names the TLS listener registers, with which certificate: Kong's choice
 * expressed in uWS's SNI tree), tls.ts requestSni, and tls-files.ts (short-lived 0600 key files).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RouteRow, Snapshot } from '../common/snapshot.ts'
import { certRows, makeCert, type TestCert } from '../../test/helpers/tls.ts'
import { route } from '../../test/helpers/worker-harness.ts'
import { buildMaterial, buildTlsPlan, KIND_EXACT, KIND_PREFIX, KIND_SUFFIX, MaterialCache, type CertMaterial } from './tls-plan.ts'
import { requestSni, type ListenInfo } from './tls.ts'
import { prepareRunDir, withPemFiles } from './tls-files.ts'

const A = makeCert('a.test')
const PRE = makeCert('prefix-wild')
const SUF = makeCert('suffix-wild')
const STAR = makeCert('star')

function snap (certs: Array<[TestCert, string[]]>, routes: RouteRow[] = []): Snapshot {
  const rows = certs.map(([c, names]) => certRows(c, names))
  return {
    version: 1,
    hash: 'h',
    services: [],
    routes,
    entities: { certificates: rows.map((r) => r.cert), snis: rows.flatMap((r) => r.snis) },
  }
}

const subject = (m: CertMaterial | null | undefined): string | null => m === undefined ? 'none' : m === null ? null : /CN=([^,]+)/.exec(m.subject)![1]!

test('every SNI entity is registered with its certificate, wildcards by kind; `*.tld` is left out', () => {
  const p = buildTlsPlan(snap([[A, ['a.test', 'www.a.test']], [PRE, ['*.w.test', '*.com']], [SUF, ['a.w.*']]]))
  assert.deepEqual([...p.names.keys()].sort(), ['*.w.test', 'a.test', 'a.w.*', 'a.w.test', 'www.a.test'])
  assert.equal(p.names.get('a.test')!.kind, KIND_EXACT)
  assert.equal(p.names.get('*.w.test')!.kind, KIND_SUFFIX)
  assert.equal(p.names.get('a.w.*')!.kind, KIND_PREFIX)
  assert.equal(subject(p.names.get('www.a.test')!.cert), 'a.test')
  // `*.w.test` and `a.w.*` overlap in a.w.test: Kong takes the prefix wildcard, uWS's tree would take
  // the suffix one, so the overlap is registered exactly with the prefix wildcard's certificate.
  assert.equal(subject(p.names.get('a.w.test')!.cert), 'prefix-wild')
  assert.equal(p.fallback, null)
  assert.deepEqual(p.errors, [])
})

test('choose follows Kong: exact, prefix wildcard, suffix wildcard, `*`, default', () => {
  const p = buildTlsPlan(snap([[A, ['a.x.test']], [PRE, ['*.x.test']], [SUF, ['b.x.*']], [STAR, ['*']]]))
  assert.equal(subject(p.choose('a.x.test')), 'a.test')
  assert.equal(subject(p.choose('b.x.test')), 'prefix-wild')
  assert.equal(subject(p.choose('b.x.org')), 'suffix-wild')
  assert.equal(subject(p.choose('x.test')), 'star') // 2 labels: no prefix wildcard for it
  assert.equal(subject(p.choose('c.d.x.test')), 'star') // `*` is one label
  assert.equal(subject(p.fallback), 'star')
  assert.equal(p.names.has('*'), false)
  const q = buildTlsPlan(snap([[A, ['a.test']]]))
  assert.equal(q.choose('other.test'), null)
})

test('route SNIs are registered with the certificate Kong would serve for them', () => {
  const routes = [route({ snis: ['r.test', 'q.x.test', '*.r.test', 'a.test.', '*'] }, null)]
  const p = buildTlsPlan(snap([[A, ['a.test']], [PRE, ['*.x.test']]], routes))
  assert.equal(subject(p.names.get('r.test')!.cert), null)
  assert.equal(subject(p.names.get('q.x.test')!.cert), 'prefix-wild')
  assert.equal(p.names.get('*.r.test')!.kind, KIND_SUFFIX)
  assert.equal(subject(p.names.get('a.test')!.cert), 'a.test')
  assert.equal(p.names.has('a.test.'), false)
  assert.equal(p.names.has('*'), false)
})

test('names uWS cannot resolve (more than 10 labels, empty labels) are not registered', () => {
  const p = buildTlsPlan(snap([[A, ['a.b.c.d.e.f.g.h.i.j.k', 'a..b', 'ok.test']]]))
  assert.deepEqual([...p.names.keys()], ['ok.test'])
})

test('certificates that cannot be served are left out with a reason; their names fall back', () => {
  const bad = certRows(A, ['bad.test'])
  bad.cert.key = PRE.key // does not match
  const garbage = certRows(A, ['garbage.test'])
  garbage.cert.cert = 'not a certificate'
  const s = snap([[SUF, ['ok.test']]])
  s.entities.certificates!.push(bad.cert, garbage.cert)
  s.entities.snis!.push(...bad.snis, ...garbage.snis)
  const p = buildTlsPlan(s)
  assert.deepEqual([...p.names.keys()], ['ok.test'])
  assert.equal(p.errors.length, 2)
  assert.match(p.errors.join('\n'), /certificate does not match key/)
  assert.match(p.errors.join('\n'), /no PEM certificate/)
  assert.equal(p.choose('bad.test'), null)
})

test('buildMaterial: RSA, EC P-256/P-384 and Ed25519 are served; other key types are refused', () => {
  for (const c of [makeCert('rsa', { rsa: true }), makeCert('p384', { curve: 'P-384' }), A]) {
    const m = buildMaterial('id', c.cert, c.key)
    assert.equal(typeof m, 'object', c.cn)
    const mm = m as CertMaterial
    assert.match(mm.pem, /^-----BEGIN PRIVATE KEY-----[\s\S]+-----BEGIN CERTIFICATE-----/)
    assert.match(mm.key, /^[0-9a-f]{64}$/)
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ed-'))
  try {
    for (const alg of ['ed25519', 'ed448']) {
      execFileSync('openssl', ['req', '-x509', '-newkey', alg, '-nodes', '-keyout', join(dir, `${alg}.key`), '-out', join(dir, `${alg}.crt`), '-subj', `/CN=${alg}`, '-days', '1'], { stdio: 'ignore' })
    }
    const read = (f: string): string => readFileSync(join(dir, f), 'utf8')
    assert.equal(typeof buildMaterial('e', read('ed25519.crt'), read('ed25519.key')), 'object')
    assert.match(buildMaterial('e', read('ed448.crt'), read('ed448.key')) as string, /ed448 keys are not served/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  assert.match(buildMaterial('x', A.cert, 'nope') as string, /could not parse the private key/)
  assert.equal(buildMaterial('x', null, A.key), 'no cert or key')
})

test('MaterialCache rebuilds a certificate only when its text changes', () => {
  const cache = new MaterialCache()
  const row = certRows(A, ['a.test']).cert
  const m1 = cache.get(row)
  assert.equal(cache.get({ ...row }), m1)
  const m2 = cache.get({ ...row, cert: PRE.cert, key: PRE.key })
  assert.notEqual(m2, m1)
})

test('requestSni: the registered name, or the Host name when it fits the wildcard', () => {
  const info = (sni: string | null, sniKind: number, sniPart: string): ListenInfo => ({ port: 1, tls: true, sni, sniKind, sniPart, slot: null })
  assert.equal(requestSni(info('a.test', KIND_EXACT, ''), 'whatever'), 'a.test')
  assert.equal(requestSni(info(null, KIND_EXACT, ''), 'a.test'), null)
  const suf = info('*.w.test', KIND_SUFFIX, '.w.test')
  assert.equal(requestSni(suf, 'X.w.test:8443'), 'x.w.test')
  assert.equal(requestSni(suf, 'a.b.w.test'), '*.w.test')
  assert.equal(requestSni(suf, 'other.test'), '*.w.test')
  assert.equal(requestSni(suf, '[::1]:8443'), '*.w.test')
  const pre = info('a.w.*', KIND_PREFIX, 'a.w.')
  assert.equal(requestSni(pre, 'a.w.org'), 'a.w.org')
  assert.equal(requestSni(pre, 'a.w.org.uk'), 'a.w.*')
})

test('withPemFiles: 0600 files that exist only during the call, also when it throws; prepareRunDir sweeps dead processes', () => {
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-run-'))
  try {
    const dir = prepareRunDir(prefix)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    let seen = ''
    withPemFiles(dir, (f) => {
      seen = f.path('pem-a')
      assert.equal(f.path('pem-a'), seen, 'one file per distinct PEM')
      assert.equal(statSync(seen).mode & 0o777, 0o600)
    })
    assert.deepEqual(readdirSync(dir), [])
    assert.throws(() => withPemFiles(dir, (f) => { f.path('pem-b'); throw new Error('boom') }), /boom/)
    assert.deepEqual(readdirSync(dir), [])
    writeFileSync(join(dir, '999999999-1-1.pem'), 'left by a crash')
    writeFileSync(join(dir, `${process.pid}-1-1.pem`), 'ours')
    prepareRunDir(prefix)
    assert.deepEqual(readdirSync(dir), [`${process.pid}-1-1.pem`])
  } finally {
    rmSync(prefix, { recursive: true, force: true })
  }
})
