/**
 * Requests from a worker to the primary whose answers come back matched by `seq` (oauth2's token
 * lookups and endpoints, the session plugin's `kong` storage): one table of calls in flight per
 * kind of request, each with a deadline, so a primary that never answers fails the call instead of
 * holding the request forever.
 */

export interface Answer { readonly seq: number; readonly error?: string }

interface Waiting<R> { resolve (r: R): void; reject (e: Error): void; timer: NodeJS.Timeout }

export class PendingCalls<R extends Answer> {
  readonly #what: string
  readonly #timeoutMs: number
  #seq = 0
  readonly #waiting = new Map<number, Waiting<R>>()

  /** `what` names the caller in errors ("oauth2: the primary did not answer"). */
  constructor (what: string, timeoutMs = 15_000) {
    this.#what = what
    this.#timeoutMs = timeoutMs
  }

  /** Sends a request through `send(seq)` and resolves with the answer that carries that seq. */
  call (send: (seq: number) => void): Promise<R> {
    const s = ++this.#seq
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(s)
        reject(new Error(`${this.#what}: the primary did not answer`))
      }, this.#timeoutMs)
      this.#waiting.set(s, { resolve, reject, timer })
      try {
        send(s)
      } catch (err) {
        this.#waiting.delete(s)
        clearTimeout(timer)
        reject(err as Error)
      }
    })
  }

  /** An answer from the primary: settles its call (an `error` rejects it); unknown or late ones are dropped. */
  settle (msg: R): void {
    const w = this.#waiting.get(msg.seq)
    if (w === undefined) return
    this.#waiting.delete(msg.seq)
    clearTimeout(w.timer)
    if (msg.error !== undefined) w.reject(new Error(msg.error))
    else w.resolve(msg)
  }
}
