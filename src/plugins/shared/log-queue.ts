/**
 * Kong's plugin queue (kong/tools/queue.lua), per worker: entries (JSON strings) wait here and a
 * handler sends them in batches, retrying failed batches with exponential backoff. The request
 * only ever calls `enqueue()`, which is synchronous, bounded and never throws.
 *
 *   idle --enqueue--> coalescing --batch full / max_coalescing_delay--> sending
 *     ^                   ^                                               |  ok, or failed for
 *     |                   +------------- entries waiting -----------------+  longer than
 *     +------------------------------ queue empty ------------------------+  max_retry_time
 *                                                                         |
 *                               failed: wait min(max_retry_delay, 2^n * initial_retry_delay), resend
 *
 * Bounds (what keeps a down or slow collector from growing memory or touching latency):
 * - at most `max_entries` entries wait (plus the batch being sent); a full queue drops its oldest
 *   entry for each new one, with one error line per episode and an info line when sending works
 *   again; a warning at 80 % of capacity;
 * - with `max_bytes`, the waiting entries' bytes stay under it (oldest dropped; an entry larger
 *   than max_bytes alone is refused);
 * - `concurrency_limit = -1` sends every entry on its own (no batching, no queue), as Kong does;
 *   Kong leaves that unbounded, here at most `max_entries` sends are in flight and further
 *   entries are dropped (counted, logged once per episode).
 *
 * Queues are shared by name within a worker, as in Kong (http-log names them from the endpoint
 * settings), and the latest configuration seen for a name wins. `flushQueues()` sends what is
 * left without coalescing (worker shutdown).
 */
import { log } from '../../common/log.ts'

export interface QueueParams {
  readonly maxBatchSize: number
  /** ms */
  readonly maxCoalescingDelay: number
  readonly maxEntries: number
  readonly maxBytes: number | null
  /** ms */
  readonly maxRetryTime: number
  /** ms */
  readonly initialRetryDelay: number
  /** ms */
  readonly maxRetryDelay: number
  /** 1: one batch at a time; -1: every entry sent at once, unqueued. */
  readonly concurrencyLimit: number
}

/** Sends one batch; rejects (with a message worth logging) when the batch must be retried. */
export type BatchHandler = (entries: readonly string[]) => Promise<void>

/** Kong's CAPACITY_WARNING_THRESHOLD. */
const CAPACITY_WARNING = 0.8
/** Kong's COALESCE_MIN_TIME: less coalescing budget than this left, send now. */
const COALESCE_MIN_MS = 50

function num (v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : dflt
}

/**
 * Queue parameters from a plugin config (`config.queue`, seconds -> ms), with Kong's legacy
 * fields mapped as Queue.get_plugin_params does: `queue_size` (when not 1) is max_batch_size,
 * `flush_timeout` (when not 2) is max_coalescing_delay.
 */
export function queueParams (conf: Record<string, unknown>): QueueParams {
  const q = (conf.queue ?? {}) as Record<string, unknown>
  let maxBatchSize = num(q.max_batch_size, 1)
  let coalesce = num(q.max_coalescing_delay, 1)
  if (typeof conf.queue_size === 'number' && conf.queue_size !== 1) maxBatchSize = conf.queue_size
  if (typeof conf.flush_timeout === 'number' && conf.flush_timeout !== 2) coalesce = conf.flush_timeout
  return {
    maxBatchSize: Math.max(1, Math.floor(maxBatchSize)),
    maxCoalescingDelay: coalesce * 1000,
    maxEntries: Math.max(1, Math.floor(num(q.max_entries, 10000))),
    maxBytes: typeof q.max_bytes === 'number' ? q.max_bytes : null,
    maxRetryTime: num(q.max_retry_time, 60) * 1000,
    initialRetryDelay: num(q.initial_retry_delay, 0.01) * 1000,
    maxRetryDelay: num(q.max_retry_delay, 60) * 1000,
    concurrencyLimit: num(q.concurrency_limit, 1) === -1 ? -1 : 1,
  }
}

function describe (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export class LogQueue {
  readonly name: string
  tag: string
  #params: QueueParams
  handler: BatchHandler
  /** Waiting entries are entries[head..]. */
  #entries: string[] = []
  #head = 0
  #bytes = 0
  /** A batch is coalescing, being sent or waiting to be retried. */
  #running = false
  #batchStart = 0
  /** The coalescing wait (retry waits are not tracked: they always end in a resend). */
  #timer: NodeJS.Timeout | null = null
  #warned = false
  #dropping = false
  #dropped = 0
  #inflight = 0
  #flushing = false
  #idle: Array<() => void> = []

  constructor (name: string, tag: string, params: QueueParams, handler: BatchHandler) {
    this.name = name
    this.tag = tag
    this.#params = params
    this.handler = handler
  }

  get params (): QueueParams { return this.#params }

  /** New parameters (a configuration change): the byte count is redone if max_bytes appears. */
  set params (p: QueueParams) {
    if (p.maxBytes !== null && this.#params.maxBytes === null) {
      let n = 0
      for (let i = this.#head; i < this.#entries.length; i++) n += Buffer.byteLength(this.#entries[i]!)
      this.#bytes = n
    } else if (p.maxBytes === null) {
      this.#bytes = 0
    }
    this.#params = p
  }

  /** Entries waiting (not counting a batch being sent). */
  get count (): number { return this.#entries.length - this.#head }
  /** Entries dropped for lack of room since the queue was created. */
  get dropped (): number { return this.#dropped }
  /** True when nothing waits and nothing is being sent. */
  get idle (): boolean { return !this.#running && this.#inflight === 0 && this.count === 0 }

  #log (level: 'info' | 'warn' | 'error', msg: string): void {
    log[level](`[${this.tag}] queue ${this.name}: ${msg}`)
  }

  /** Adds one entry; false when it was refused (too large for max_bytes, or no room with -1). */
  enqueue (entry: string): boolean {
    const p = this.params
    if (p.concurrencyLimit === -1) return this.#direct(entry)
    const count = this.count
    if (count >= p.maxEntries * CAPACITY_WARNING) {
      if (!this.#warned) {
        this.#log('warn', `queue at ${CAPACITY_WARNING * 100}% capacity`)
        this.#warned = true
      }
    } else {
      this.#warned = false
    }
    if (count >= p.maxEntries) {
      while (this.count >= p.maxEntries) this.#dropOldest()
      this.#droppedEpisode('queue full, dropping old entries until processing is successful again')
    }
    let size = 0
    if (p.maxBytes !== null) {
      size = Buffer.byteLength(entry)
      if (size > p.maxBytes) {
        this.#log('error', `string to be queued is longer (${size} bytes) than the queue's max_bytes (${p.maxBytes} bytes)`)
        return false
      }
      let n = 0
      while (this.#bytes + size > p.maxBytes && this.count > 0) {
        this.#dropOldest()
        n++
      }
      if (n > 0) this.#droppedEpisode(`byte capacity exceeded, ${n} queue entries were dropped`)
    }
    this.#entries.push(entry)
    this.#bytes += size
    if (!this.#running) {
      this.#running = true
      this.#batchStart = performance.now()
      this.#waitForBatch()
    } else if (this.#timer !== null && this.count >= p.maxBatchSize) {
      clearTimeout(this.#timer)
      this.#timer = null
      this.#sendBatch()
    }
    return true
  }

  /** Sends what is waiting without further coalescing; resolves when the queue is idle. */
  flush (): Promise<void> {
    if (this.idle) return Promise.resolve()
    this.#flushing = true
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
      this.#sendBatch()
    }
    if (this.idle) return Promise.resolve()
    return new Promise((resolve) => { this.#idle.push(resolve) })
  }

  #droppedEpisode (msg: string): void {
    if (!this.#dropping) this.#log('error', msg)
    this.#dropping = true
  }

  #dropOldest (): void {
    const e = this.#entries[this.#head]
    if (e === undefined) return
    if (this.params.maxBytes !== null) this.#bytes -= Buffer.byteLength(e)
    this.#entries[this.#head] = ''
    this.#head++
    this.#dropped++
    this.#compact()
  }

  #compact (): void {
    if (this.#head === this.#entries.length) {
      this.#entries = []
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head)
      this.#head = 0
    }
  }

  /** Kong's process_once: wait for max_batch_size entries or the coalescing delay. */
  #waitForBatch (): void {
    const p = this.params
    const remaining = p.maxCoalescingDelay - (performance.now() - this.#batchStart)
    if (this.count >= p.maxBatchSize || remaining < COALESCE_MIN_MS || this.#flushing) {
      this.#sendBatch()
      return
    }
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#sendBatch()
    }, remaining)
    this.#timer.unref()
  }

  #sendBatch (): void {
    const n = Math.min(this.count, this.params.maxBatchSize)
    if (n === 0) { this.#next(); return }
    const batch = this.#entries.slice(this.#head, this.#head + n)
    if (this.params.maxBytes !== null) for (const e of batch) this.#bytes -= Buffer.byteLength(e)
    this.#head += n
    this.#compact()
    if (this.#dropping) {
      this.#log('info', 'queue resumed processing')
      this.#dropping = false
    }
    this.#attempt(batch, performance.now(), 0, () => { this.#next() })
  }

  #attempt (batch: readonly string[], start: number, retry: number, done: () => void): void {
    let p: Promise<void>
    try {
      p = this.handler(batch)
    } catch (err) {
      p = Promise.reject(err)
    }
    p.then(done, (err: unknown) => {
      this.#log('warn', `handler could not process entries: ${describe(err)}`)
      if (performance.now() - start > this.params.maxRetryTime) {
        this.#log('error', `could not send entries due to max_retry_time exceeded. ${batch.length} queue entries were lost`)
        done()
        return
      }
      const delay = Math.min(this.params.maxRetryDelay, 2 ** retry * this.params.initialRetryDelay)
      setTimeout(() => { this.#attempt(batch, start, retry + 1, done) }, delay).unref()
    })
  }

  #next (): void {
    if (this.count > 0) {
      this.#batchStart = performance.now()
      this.#waitForBatch()
      return
    }
    this.#running = false
    this.#settle()
  }

  #settle (): void {
    if (!this.idle) return
    this.#flushing = false
    if (this.#idle.length === 0) return
    const waiters = this.#idle
    this.#idle = []
    for (const w of waiters) w()
  }

  /** concurrency_limit -1: one send per entry, bounded by max_entries in flight. */
  #direct (entry: string): boolean {
    if (this.#inflight >= this.params.maxEntries) {
      this.#dropped++
      this.#droppedEpisode(`${this.#inflight} entries in flight, dropping new entries until sends complete`)
      return false
    }
    if (this.#dropping) {
      this.#log('info', 'queue resumed processing')
      this.#dropping = false
    }
    this.#inflight++
    this.#attempt([entry], performance.now(), 0, () => {
      this.#inflight--
      this.#settle()
    })
    return true
  }
}

const queues = new Map<string, LogQueue>()

/**
 * The worker's queue for `key` (logged as `name`, which must not carry secrets), created on first use; an existing one takes the given
 * parameters and handler (Kong: "we always use the latest configuration that we have seen").
 */
export function acquireQueue (key: string, name: string, tag: string, params: QueueParams, handler: BatchHandler): LogQueue {
  let q = queues.get(key)
  if (q === undefined) {
    q = new LogQueue(name, tag, params, handler)
    queues.set(key, q)
  } else {
    q.tag = tag
    q.params = params
    q.handler = handler
  }
  return q
}

/** Sends what every queue holds, waiting at most `timeoutMs` (worker shutdown). */
export async function flushQueues (timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); timer.unref() })
  await Promise.race([Promise.all([...queues.values()].map((q) => q.flush())), deadline])
  clearTimeout(timer)
}
