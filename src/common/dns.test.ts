import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DnsCache, DnsError, dnsOptionsFromConfig, parseHosts } from './dns.ts'
import { startDnsServer } from '../../test/helpers/dns-server.ts'

test('dns: A records come back with their TTL and are served from the cache until it passes', async (t) => {
  const srv = await startDnsServer({ 'svc.test': { a: [{ ip: '10.0.0.1', ttl: 1 }, { ip: '10.0.0.2', ttl: 1 }] } })
  t.after(() => srv.close())
  const dns = new DnsCache({ resolvers: [`127.0.0.1:${srv.port}`], hostsFile: '', staleTtl: 0 })
  const first = await dns.resolve('svc.test')
  assert.deepEqual(first.map((a) => a.ip).sort(), ['10.0.0.1', '10.0.0.2'])
  assert.equal(first[0]!.ttl, 1)
  const asked = srv.queries.length
  assert.deepEqual(dns.peek('svc.test'), first)
  await dns.resolve('svc.test')
  assert.equal(srv.queries.length, asked, 'no second query within the TTL')
  srv.zone.set('svc.test', { a: [{ ip: '10.0.0.3', ttl: 1 }] })
  await new Promise((resolve) => setTimeout(resolve, 1100)) // the record's TTL must run out
  assert.equal(dns.peek('svc.test'), undefined, 'expired and no stale window')
  const again = await dns.resolve('svc.test')
  assert.deepEqual(again.map((a) => a.ip), ['10.0.0.3'])
})

test('dns: dns_order SRV first gives SRV ports and weights; LAST remembers the type that answered', async (t) => {
  const srv = await startDnsServer({
    'srv.test': { srv: [{ target: 'a.test', port: 9001, weight: 5, ttl: 30 }, { target: 'b.test', port: 9002, weight: 0, priority: 20, ttl: 30 }] },
    'a.test': { a: [{ ip: '10.1.0.1', ttl: 30 }] },
    'plain.test': { a: [{ ip: '10.1.0.9', ttl: 30 }] },
  })
  t.after(() => srv.close())
  const dns = new DnsCache({ resolvers: [`127.0.0.1:${srv.port}`], hostsFile: '', validTtl: 0, staleTtl: 0 })
  assert.deepEqual(await dns.resolve('srv.test'), [{ ip: '10.1.0.1', port: 9001, weight: 5, ttl: 30 }])
  assert.deepEqual((await dns.resolve('plain.test')).map((a) => a.ip), ['10.1.0.9'])
  srv.queries.length = 0
  await dns.resolve('plain.test') // valid_ttl 0: asked again, A first now (LAST)
  assert.equal(srv.queries[0], 'A plain.test')
})

test('dns: NXDOMAIN is a not-found DnsError cached for dns_not_found_ttl; SERVFAIL an error for dns_error_ttl', async (t) => {
  const srv = await startDnsServer({ 'broken.test': { fail: true } })
  t.after(() => srv.close())
  const dns = new DnsCache({ resolvers: [`127.0.0.1:${srv.port}`], hostsFile: '', notFoundTtl: 30, errorTtl: 0, tries: 1 })
  await assert.rejects(dns.resolve('missing.test'), (e: unknown) => e instanceof DnsError && e.notFound)
  const n = srv.queries.length
  await assert.rejects(dns.resolve('missing.test'), (e: unknown) => e instanceof DnsError && e.notFound)
  assert.equal(srv.queries.length, n, 'not-found answer cached')
  assert.ok(dns.peek('missing.test') instanceof DnsError)
  await assert.rejects(dns.resolve('broken.test'), (e: unknown) => e instanceof DnsError && !e.notFound)
})

test('dns: a stale answer is served while the refresh fails, within dns_stale_ttl', async (t) => {
  const srv = await startDnsServer({ 'flaky.test': { a: [{ ip: '10.2.0.1', ttl: 0 }] } })
  t.after(() => srv.close())
  const dns = new DnsCache({ resolvers: [`127.0.0.1:${srv.port}`], hostsFile: '', staleTtl: 60, errorTtl: 0, tries: 1 })
  await dns.resolve('flaky.test')
  srv.zone.set('flaky.test', { fail: true })
  assert.deepEqual((await dns.resolve('flaky.test')).map((a) => a.ip), ['10.2.0.1'])
})

test('dns: hosts file and IP literals answer without a query; localhost always resolves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-dns-'))
  const file = join(dir, 'hosts')
  writeFileSync(file, '# comment\n10.9.9.9  Box.Local box\n::1 six\n')
  const dns = new DnsCache({ resolvers: ['127.0.0.1:1'], hostsFile: file })
  assert.deepEqual(await dns.resolve('box.local'), [{ ip: '10.9.9.9', ttl: Infinity }])
  assert.deepEqual(await dns.resolve('localhost'), [{ ip: '127.0.0.1', ttl: Infinity }])
  assert.deepEqual(await dns.resolve('six'), [{ ip: '::1', ttl: Infinity }])
  assert.deepEqual(dns.peek('192.0.2.1'), [{ ip: '192.0.2.1', ttl: Infinity }])
  assert.deepEqual(dns.peek('[::1]'), [{ ip: '::1', ttl: Infinity }])
  assert.equal(parseHosts('127.0.0.1 a b\n').get('b')?.v4[0], '127.0.0.1')
})

test('dns: options from Kong config keys with Kong defaults', () => {
  const o = dnsOptionsFromConfig({ dns_resolver: '127.0.0.1:5353, 10.0.0.1', dns_order: 'a,srv', dns_valid_ttl: '' })
  assert.deepEqual(o.resolvers, ['127.0.0.1:5353', '10.0.0.1'])
  assert.deepEqual(o.order, ['A', 'SRV'])
  assert.equal(o.validTtl, null)
  assert.equal(o.staleTtl, 3600)
  assert.equal(o.notFoundTtl, 30)
  assert.equal(o.errorTtl, 1)
  assert.equal(o.hostsFile, '/etc/hosts')
})
