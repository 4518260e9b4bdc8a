/**
 * Cluster sync: how an Admin API write on any node reaches this node's workers.
 *
 * Every write commits a `cluster_events` row in its own transaction; the row's insert trigger
 * NOTIFYs `sluice_events` at commit. This node LISTENs on a dedicated connection and, on each
 * notification (and every db_update_frequency as a safety net), reads the events it has not seen.
 *
 * Which events are "not seen" is decided by transaction ids, not by seq: a reader takes the window
 * [previous xmin, current xmin) of `pg_snapshot_xmin(pg_current_snapshot())`. Every transaction below
 * the current xmin has finished, so the window's content is final: a slow transaction that took a
 * lower seq but commits later is never skipped. Committed events above the current xmin (held back
 * by an unrelated running transaction) are applied at once as well and remembered until their
 * window is final, so a long transaction elsewhere never delays propagation and no event is
 * applied twice. Events older than
 * the table keeps (1 h) or a gap we cannot bridge lead to a full reload.
 *
 * States: idle -> (notify | timer) reading -> idle; a read requested while reading runs once more
 * after it. Connection lost -> reconnect with backoff -> catch up (full reload if the window
 * cannot be bridged).
 */
import pg from 'pg'
import type { Pool } from '../db/pool.ts'
import type { PgSettings } from '../config/load.ts'
import { log } from '../common/log.ts'

/** cluster_events rows live 1 h (migration 000001); past this, catching up means a full reload. */
const STALE_AFTER_MS = 50 * 60_000

export interface ClusterEvent { seq: number; nodeId: string | null; channel: string; data: string | null }

export interface ClusterSyncOptions {
  pool: Pool
  settings: PgSettings & { schema?: string | null }
  pollMs: number
  /** Applies one batch of events; resolves when the config cache reflects them. */
  apply (events: ClusterEvent[]): Promise<void>
  /** Reloads everything (the event window could not be bridged). */
  reloadAll (): Promise<void>
  onReachable? (reachable: boolean): void
  /** application_name of the LISTEN connection (operators can find it in pg_stat_activity). */
  name?: string
  /** Channels handled apart from the config cache (`balancer:post_health`: primary/health/node.ts); their events skip apply(). */
  channels?: Record<string, (e: ClusterEvent) => void>
}

export class ClusterSync {
  private readonly o: ClusterSyncOptions
  private listener: pg.Client | null = null
  private xmin: string | null = null
  /** Events applied before their window became final (seq -> txid); see readOnce. */
  private readonly early = new Map<number, bigint>()
  private reading: Promise<void> | null = null
  private again = false
  private timer: NodeJS.Timeout | null = null
  private stopped = false
  private backoff = 100
  reachable = true
  lastSyncAt = 0

  constructor (o: ClusterSyncOptions) { this.o = o }

  /** The xmin to start from, read BEFORE the initial full load so nothing between is lost. */
  async mark (): Promise<void> {
    this.xmin = await currentXmin(this.o.pool)
  }

  async start (): Promise<void> {
    if (this.xmin === null) await this.mark()
    await this.connectListener().catch((err) => { this.setReachable(false); log.warn(`cluster sync: LISTEN failed: ${(err as Error).message}`); this.scheduleReconnect() })
    this.timer = setInterval(() => { this.request() }, this.o.pollMs)
    this.timer.unref()
    this.request()
  }

  private async connectListener (): Promise<void> {
    const s = this.o.settings
    const c = new pg.Client({
      host: s.host, port: s.port, user: s.user, password: s.password || undefined, database: s.database,
      ssl: s.ssl ? { rejectUnauthorized: s.sslVerify } : undefined, connectionTimeoutMillis: 5000,
      application_name: this.o.name ?? 'sluice-listen', keepAlive: true,
    })
    c.on('notification', () => { this.request() })
    c.on('error', (err) => {
      log.warn(`cluster sync: listen connection lost: ${err.message}`)
      this.dropListener(c)
    })
    c.on('end', () => { this.dropListener(c) })
    await c.connect()
    await c.query('LISTEN sluice_events')
    this.listener = c
    this.backoff = 100
    this.setReachable(true)
  }

  private dropListener (c: pg.Client): void {
    if (this.listener !== c) return
    this.listener = null
    c.end().catch(() => {})
    this.setReachable(false)
    this.scheduleReconnect()
  }

  private scheduleReconnect (): void {
    if (this.stopped) return
    const delay = this.backoff
    this.backoff = Math.min(this.backoff * 2, 5000)
    setTimeout(() => {
      if (this.stopped || this.listener !== null) return
      this.connectListener().then(() => { this.request() }, (err) => {
        log.debug(`cluster sync: reconnect failed: ${(err as Error).message}`)
        this.scheduleReconnect()
      })
    }, delay).unref()
  }

  private setReachable (r: boolean): void {
    if (this.reachable === r) return
    this.reachable = r
    if (r) log.notice('cluster sync: database reachable again; catching up')
    else log.error('cluster sync: database unreachable; serving the last configuration')
    this.o.onReachable?.(r)
  }

  /** Asks for a read; coalesces requests that arrive while one is running. */
  request (): void {
    if (this.stopped) return
    if (this.reading !== null) { this.again = true; return }
    this.reading = this.readOnce()
      .catch((err) => { log.warn(`cluster sync: ${(err as Error).message}`); this.setReachable(false) })
      .finally(() => {
        this.reading = null
        if (this.again) { this.again = false; this.request() }
      })
  }

  /** Resolves when a read that started after this call has finished (tests, propagation waits). */
  async flush (): Promise<void> {
    while (this.reading !== null) await this.reading
    this.request()
    while (this.reading !== null) await this.reading
  }

  private async readOnce (): Promise<void> {
    let fresh: ClusterEvent[]
    let txids: bigint[]
    let next: string
    let bridged = true
    // One statement, one round trip: the window end `next` and the events are read under the same
    // snapshot. Every transaction below `next` has finished in that snapshot, so its events are
    // visible here if it committed. Rows at or above `next` are committed ones that a still-running
    // transaction (in any database of the server: xids are cluster-wide) keeps out of the final
    // window; they are applied now too (refreshing a row is idempotent) and remembered, so the next
    // window does not apply them twice.
    const ev = await this.o.pool.query<{ xmin: string; seq: string | null; txid: string | null; node_id: string | null; channel: string | null; data: string | null }>(
      `select s.xmin, e.seq, e.txid::text as txid, e.node_id, e.channel, e.data
         from (select pg_snapshot_xmin(pg_current_snapshot()) as x, pg_snapshot_xmin(pg_current_snapshot())::text as xmin) s
         left join cluster_events e on e.txid >= coalesce($1::xid8, s.x)
        order by e.seq`,
      [this.xmin])
    next = ev.rows[0]!.xmin
    fresh = []
    txids = []
    for (const x of ev.rows) {
      if (x.seq === null) continue
      const seq = Number(x.seq)
      if (this.early.has(seq)) continue
      fresh.push({ seq, nodeId: x.node_id, channel: x.channel!, data: x.data })
      txids.push(BigInt(x.txid!))
    }
    // Rows expire after an hour: a node that has not read for that long may have lost some.
    if (this.lastSyncAt !== 0 && Date.now() - this.lastSyncAt > STALE_AFTER_MS) bridged = false
    const channels = this.o.channels
    const forCache = channels === undefined ? fresh : fresh.filter((e) => { const h = channels[e.channel]; if (h === undefined) return true; h(e); return false })
    if (!bridged) await this.o.reloadAll()
    else if (forCache.length > 0) await this.o.apply(forCache)
    const final = BigInt(next)
    for (let i = 0; i < fresh.length; i++) if (txids[i]! >= final) this.early.set(fresh[i]!.seq, txids[i]!)
    for (const [seq, tx] of this.early) if (tx < final) this.early.delete(seq)
    this.xmin = next
    this.afterRead()
  }

  private afterRead (): void {
    this.lastSyncAt = Date.now()
    if (this.listener !== null) this.setReachable(true)
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== null) clearInterval(this.timer)
    while (this.reading !== null) await this.reading.catch(() => {})
    const c = this.listener
    this.listener = null
    if (c !== null) await c.end().catch(() => {})
  }
}

export async function currentXmin (pool: Pool): Promise<string> {
  const r = await pool.query<{ xmin: string }>('select pg_snapshot_xmin(pg_current_snapshot())::text as xmin')
  return r.rows[0]!.xmin
}
