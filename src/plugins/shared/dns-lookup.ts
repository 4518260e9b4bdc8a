/**
 * A `lookup` for node:net / node:tls / undici connectors that resolves through the worker's
 * DnsCache (common/dns.ts, Kong's dns_resolver / dns_hostsfile / dns_order / TTLs) instead of the
 * system resolver: what Kong's cosockets do for tcp-log and http-log (its DNS client patched into
 * `sock:connect`). A name with several addresses gives them in turn, one per connection, as
 * Kong's `toip` does; a caller asking for all (node's happy eyeballs) gets them all, starting at
 * that turn. Limitation: an SRV answer's port is not used (a connector's port is fixed before
 * the lookup); datagram targets (datagram.ts) do use it.
 */
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns'
import { isIP } from 'node:net'
import type { DnsAddress } from '../../common/dns.ts'
import { dnsCache } from '../../worker/balancer/runtime.ts'

type OneCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void
type AllCallback = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void

const turns = new Map<string, number>()

function answer (host: string, list: readonly DnsAddress[], opts: LookupOneOptions | LookupAllOptions, cb: OneCallback | AllCallback): void {
  const turn = list.length > 1 ? (turns.get(host) ?? 0) : 0
  if (list.length > 1) turns.set(host, (turn + 1) % list.length)
  const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : (opts.family ?? 0)
  const ordered: LookupAddress[] = []
  for (let i = 0; i < list.length; i++) {
    const ip = list[(turn + i) % list.length]!.ip
    const f = isIP(ip)
    if (family === 0 || f === family) ordered.push({ address: ip, family: f })
  }
  if (ordered.length === 0) {
    const err: NodeJS.ErrnoException = new Error(`dns resolution of ${host} failed: no IPv${family} address`)
    err.code = 'ENOTFOUND'
    if (opts.all === true) (cb as AllCallback)(err, [])
    else (cb as OneCallback)(err, '', 0)
    return
  }
  if (opts.all === true) (cb as AllCallback)(null, ordered)
  else (cb as OneCallback)(null, ordered[0]!.address, ordered[0]!.family)
}

function fail (err: unknown, opts: LookupOneOptions | LookupAllOptions, cb: OneCallback | AllCallback): void {
  const e: NodeJS.ErrnoException = err instanceof Error ? err : new Error(String(err))
  if (e.code === undefined) e.code = (err as { code?: string } | null)?.code ?? 'ENOTFOUND'
  if (opts.all === true) (cb as AllCallback)(e, [])
  else (cb as OneCallback)(e, '', 0)
}

/** node's LookupFunction shape, answered from the worker's DnsCache. */
export function kongLookup (host: string, opts: LookupOneOptions | LookupAllOptions, cb: OneCallback | AllCallback): void {
  const dns = dnsCache()
  const now = dns.peek(host)
  if (now instanceof Error) { process.nextTick(fail, now, opts, cb); return }
  if (now !== undefined) { process.nextTick(answer, host, now, opts, cb); return }
  dns.resolve(host).then((list) => { answer(host, list, opts, cb) }, (err: unknown) => { fail(err, opts, cb) })
}
