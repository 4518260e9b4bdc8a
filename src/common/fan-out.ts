/**
 * One question to every serving worker, the answers paired with it by `seq` (primary side): used by
 * the proxy-cache Admin API (plugins/proxy-cache/api.ts) and GET /status/dns (primary/dns-stats.ts).
 *
 *   primary --request{seq}--> each serving worker --answer{seq, workerId}--> primary
 *
 * ask() resolves with the answers of every worker asked, or with those that came within the time
 * limit: a worker being replaced does not hold the answer up. A worker that cannot be posted to is
 * not waited for. Answers to an ask that already resolved, or from a worker not asked, are dropped.
 */
export interface FanOutAnswer {
  seq: number
  workerId: number
}

export class FanOut<Req, Ans extends FanOutAnswer> {
  readonly #post: (workerId: number, msg: Req) => void
  readonly #serving: () => readonly number[]
  readonly #timeoutMs: number
  #seq = 0
  readonly #waiting = new Map<number, { want: Set<number>; got: Ans[]; done: () => void }>()

  /**
   * @param post sends a message to one worker
   * @param serving ids of the workers serving now
   */
  constructor (post: (workerId: number, msg: Req) => void, serving: () => readonly number[], timeoutMs = 2000) {
    this.#post = post
    this.#serving = serving
    this.#timeoutMs = timeoutMs
  }

  /** Posts `request(seq)` to every serving worker; resolves with their answers. */
  ask (request: (seq: number) => Req): Promise<Ans[]> {
    const ids = this.#serving()
    if (ids.length === 0) return Promise.resolve([])
    const seq = ++this.#seq
    return new Promise((resolve) => {
      const w = { want: new Set(ids), got: [] as Ans[], done: () => {} }
      const timer = setTimeout(() => { w.done() }, this.#timeoutMs)
      timer.unref()
      w.done = () => {
        clearTimeout(timer)
        this.#waiting.delete(seq)
        resolve(w.got)
      }
      this.#waiting.set(seq, w)
      const msg = request(seq)
      for (const id of ids) {
        try { this.#post(id, msg) } catch { w.want.delete(id) }
      }
      if (w.want.size === 0) w.done()
    })
  }

  onResult (msg: Ans): void {
    const w = this.#waiting.get(msg.seq)
    if (w === undefined || !w.want.delete(msg.workerId)) return
    w.got.push(msg)
    if (w.want.size === 0) w.done()
  }
}
