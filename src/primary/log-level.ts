/**
 * The node's dynamic log level (Kong's kong/runloop/log_level.lua and resty.kong.log): the Admin
 * API's `/debug/node/log-level/{level}` sets a level over the configured `log_level` for
 * `timeout` seconds (0: back to the configured level at once). It applies to this thread at once
 * and to every worker of the node through a BroadcastChannel named after the node's prefix; a
 * worker that starts later (respawn, reload) asks for the level in force (common/log.ts
 * followLogLevel). `/debug/cluster/log-level/{level}` also commits a `log_level` cluster event,
 * which every other node applies with the same timeout, counted from when it reads it.
 *
 *   configured --set(level, t > 0)--> dynamic --t seconds / set(_, 0)--> configured
 */
import { BroadcastChannel } from 'node:worker_threads'
import { LOG_LEVEL_CHANNEL, configureLog, log, overrideLogLevel, type Level, type LogLevelMessage } from '../common/log.ts'
import type { Pool } from '../db/pool.ts'
import type { ClusterEvent } from './cluster-sync.ts'

/** The cluster_events channel (Kong's). */
export const LOG_LEVEL_EVENT = 'log_level'

/** nginx's numeric levels (Kong's LOG_LEVELS): the cluster event carries these, as Kong's does. */
const NGX_LEVEL: Record<Level, number> = { debug: 8, info: 7, notice: 6, warn: 5, error: 4, crit: 3, alert: 2, emerg: 1 }

/** Longest delay setTimeout honours (a longer one fires at once); longer timeouts re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1

export interface NodeLogLevelOptions {
  /** The node's prefix: names the channel its workers follow. */
  scope: string
  /** `log_level` from the configuration. */
  configured: Level
  nodeId: string
  /** For cluster events; null in DB-less mode. */
  pool: Pool | null
}

export class NodeLogLevel {
  readonly #o: NodeLogLevelOptions
  readonly #channel: BroadcastChannel
  #dynamic: { level: Level; until: number } | null = null
  #timer: NodeJS.Timeout | null = null

  constructor (o: NodeLogLevelOptions) {
    this.#o = { ...o }
    this.#channel = new BroadcastChannel(LOG_LEVEL_CHANNEL + o.scope)
    this.#channel.onmessage = (ev) => {
      if ((ev as { data?: LogLevelMessage }).data?.kind === 'ask') this.#publish()
    }
    ;(this.#channel as unknown as { unref (): void }).unref()
  }

  /**
   * A reload with another `log_level`: the configured level changes (this thread too; the new
   * workers start with it); a dynamic level in force stays until its timeout.
   */
  reconfigure (level: Level): void {
    if (level === this.#o.configured) return
    this.#o.configured = level
    configureLog(level)
  }

  /** The level in force on this node. */
  current (): Level {
    return this.#dynamic?.level ?? this.#o.configured
  }

  /** `level` for `timeoutS` seconds (Infinity: until changed), or the configured level again for 0. */
  set (level: Level, timeoutS: number): void {
    if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null }
    this.#dynamic = timeoutS > 0 ? { level, until: Date.now() + timeoutS * 1000 } : null
    this.#apply()
    if (this.#dynamic !== null && Number.isFinite(this.#dynamic.until)) this.#arm()
  }

  /** Commits the `log_level` cluster event other nodes apply (Kong's JSON: nginx level, timeout). */
  async broadcast (level: Level, timeoutS: number): Promise<void> {
    if (this.#o.pool === null) throw new Error('no database')
    const data = JSON.stringify({ log_level: NGX_LEVEL[level], timeout: Number.isFinite(timeoutS) ? timeoutS : Number.MAX_SAFE_INTEGER })
    await this.#o.pool.query('insert into cluster_events (node_id, channel, data) values ($1, $2, $3)', [this.#o.nodeId, LOG_LEVEL_EVENT, data])
  }

  /** Another node's `log_level` event (cluster-sync.ts hands them over); this node's own are skipped. */
  onClusterEvent (e: ClusterEvent): void {
    if (e.nodeId === this.#o.nodeId) return
    log.notice('log level cluster event received')
    let d: { log_level?: unknown; timeout?: unknown }
    try { d = JSON.parse(e.data ?? '') as typeof d } catch { d = {} }
    const level = (Object.keys(NGX_LEVEL) as Level[]).find((l) => NGX_LEVEL[l] === d.log_level)
    const timeout = typeof d.timeout === 'number' && d.timeout >= 0 ? d.timeout : null
    if (level === undefined || timeout === null) { log.error(`malformed ${LOG_LEVEL_EVENT} cluster event: ${e.data ?? ''}`); return }
    this.set(level, timeout >= Number.MAX_SAFE_INTEGER ? Infinity : timeout)
  }

  /** On stop: this thread's own level is the configured one again. */
  close (): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#dynamic !== null) overrideLogLevel(null)
    this.#dynamic = null
    this.#channel.close()
  }

  #arm (): void {
    const d = this.#dynamic
    if (d === null) return
    const left = d.until - Date.now()
    if (left <= 0) {
      this.#dynamic = null
      this.#apply()
      return
    }
    this.#timer = setTimeout(() => { this.#timer = null; this.#arm() }, Math.min(left, MAX_TIMER_MS))
    this.#timer.unref()
  }

  #apply (): void {
    const level = this.#dynamic?.level ?? null
    overrideLogLevel(level)
    log.notice(`log level changed to ${this.current()}${level === null ? ' (configured)' : ''}`)
    this.#publish()
  }

  #publish (): void {
    this.#channel.postMessage({ kind: 'level', level: this.#dynamic?.level ?? null } satisfies LogLevelMessage)
  }
}
