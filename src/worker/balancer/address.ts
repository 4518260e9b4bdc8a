/**
 * One balancer entry: an `ip:port` of one target (a target whose name resolves to several
 * addresses gives several), with everything the hot path needs precomputed: the Host header for
 * http and https, the health key, and the connection pools by service profile (created on first
 * use, kept across snapshots by upstreams.ts).
 */
import type { UpstreamPool } from '../upstreams.ts'

export class Address {
  readonly ip: string
  readonly port: number
  readonly weight: number
  /** The target row's `target` (`host:port`): health key and Admin API name. */
  readonly target: string
  /** `ip:port`, IPv6 bracketed: the health key's `address`. */
  readonly key: string
  /** Host (and SNI) name: the upstream's host_header, else the target's hostname (or its IP). */
  readonly hostName: string
  /** SNI for https: hostName unless it is an IP. */
  readonly servername: string | null
  /** Upstream Host header by scheme: hostName, plus `:port` unless 80 (http) / 443 (https). Kong set_host_header. */
  readonly hostHttp: string
  readonly hostHttps: string
  /** Passive health verdict (the node's registry); false leaves the rotation. */
  available: boolean
  /** least-connections: tries in flight. */
  connections: number
  /** latency: peak-EWMA of the round-trip time (ms) and when it was last updated (ms). */
  ewma: number
  ewmaAt: number
  /** By profile id (runtime.ts). */
  readonly pools: Array<UpstreamPool | undefined>
  /** By profile id, then SNI: pools of tries whose upstream Host names another server (runtime.ts poolForHost). */
  sniPools: Array<Map<string, UpstreamPool> | undefined> | null

  constructor (ip: string, port: number, weight: number, target: string, hostName: string) {
    this.ip = ip
    this.port = port
    this.weight = weight
    this.target = target
    const v6 = ip.includes(':')
    this.key = v6 ? `[${ip}]:${port}` : `${ip}:${port}`
    this.hostName = hostName
    const nameIsIp = hostName.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(hostName)
    this.servername = nameIsIp ? null : hostName
    const h = hostName.includes(':') && !hostName.startsWith('[') ? `[${hostName}]` : hostName
    this.hostHttp = port === 80 ? h : `${h}:${port}`
    this.hostHttps = port === 443 ? h : `${h}:${port}`
    this.available = true
    this.connections = 0
    this.ewma = 0
    this.ewmaAt = 0
    this.pools = []
    this.sniPools = null
  }
}
