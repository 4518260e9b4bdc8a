import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket, type Socket } from 'node:dgram'
import { once } from 'node:events'
import { DnsCache } from '../../common/dns.ts'
import { setDnsCache } from '../../worker/balancer/runtime.ts'
import { startDnsServer } from '../../../test/helpers/dns-server.ts'
import { COULD_NOT, DatagramTarget } from './datagram.ts'

async function collector (address: string): Promise<{ sock: Socket; port: number; next (): Promise<string> }> {
  const sock = createSocket('udp4')
  sock.bind(0, address)
  await once(sock, 'listening')
  return { sock, port: sock.address().port, next: async () => String((await once(sock, 'message'))[0]) }
}

test('datagram targets resolve through the DnsCache: SRV port, addresses in turn, Kong wording on failure', async (t) => {
  const a = await collector('127.0.0.1')
  const b = await collector('127.0.0.2')
  const dns = await startDnsServer({
    'two.test': { a: [{ ip: '127.0.0.1', ttl: 60 }, { ip: '127.0.0.2', ttl: 60 }] },
    'srv.test': { srv: [{ target: 'one.test', port: a.port, ttl: 60 }] },
    'one.test': { a: [{ ip: '127.0.0.1', ttl: 60 }] },
  })
  t.after(async () => { a.sock.close(); b.sock.close(); await dns.close() })
  setDnsCache(new DnsCache({ resolvers: [`127.0.0.1:${dns.port}`], hostsFile: '', order: ['SRV', 'A'] }))

  // an SRV answer's port replaces the configured one (9 is discard: nothing would arrive)
  const srv = new DatagramTarget('test', 'srv.test', 9)
  const got = a.next()
  srv.send('via srv')
  assert.equal(await got, 'via srv')

  // two addresses: a target takes them in turn, one per datagram
  const two = new DatagramTarget('test', 'two.test', a.port)
  await two.ready()
  const toA = a.next()
  two.send('first')
  assert.equal(await toA, 'first')
  const queries = dns.queries.length
  const twoB = new DatagramTarget('test', 'two.test', b.port)
  await twoB.ready()
  assert.equal(dns.queries.length, queries) // the cached answer, no new query
  // the second target starts its own turn at the first address; its second datagram goes to .2
  twoB.send('to a (lost: a listens on another port)')
  const toB = b.next()
  twoB.send('second')
  assert.equal(await toB, 'second')

  await assert.rejects(new DatagramTarget('udp-log', 'missing.test', 5000, COULD_NOT).ready(), /^Error: could not connect to missing\.test:5000: dns resolution of missing\.test failed: ENOTFOUND$/)
})
