/**
 * What the batched writer asks of a counter store (PostgreSQL or Redis): one call per tick with
 * every row of that store, answered row for row. One call is one statement (PostgreSQL) or one
 * script (Redis), whatever the number of rows.
 */
import type { CounterKey, StoreKey } from '../../common/ratelimit/keys.ts'

export interface FlushRow {
  readonly key: CounterKey
  /** Admissions since the last successful flush (added to `value`). */
  readonly delta: number
  /** Quota asked for (> 0), given back (< 0), or 0. rate-limiting only. */
  readonly want: number
  /** The configured limit; the store lowers it by the weighted previous window when sliding. */
  readonly lim: number
  /** Sliding windows: weight of the previous window now (0 for fixed windows). */
  readonly weight: number
}

export interface FlushResult {
  /** Usage of every node in the window, this flush included. */
  value: number
  /** Quota handed out to all nodes for the window. */
  reserved: number
  /** This node's grant in this flush (negative: what the store took back). */
  granted: number
  /** The limit in force (sliding: lowered by the previous window). */
  lim: number
}

export interface CounterStore {
  readonly key: StoreKey
  /** Results in the order of `rows`. Rejects when the store cannot be reached. */
  flush (rows: readonly FlushRow[]): Promise<FlushResult[]>
  close (): Promise<void>
}
