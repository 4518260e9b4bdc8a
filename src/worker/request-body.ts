/**
 * The client's request body on its way upstream.
 *
 * uWS hands body chunks to `onData` as ArrayBuffers that are neutered when the callback returns,
 * so every chunk is copied. Small bodies (up to COLLECT_LIMIT) are collected whole before the
 * upstream request starts: they are replayable on retries and go out with a Content-Length, as
 * nginx's buffered proxying does. Larger ones flow through a BodyStream while the upstream
 * request runs:
 *
 *   flowing --push() returns false--> paused (uWS res.pause(): the kernel buffer fills, TCP
 *      ^                                 |     pushes back on the client)
 *      +------- undici reads (_read) ----+     res.resume()
 *
 * Once the response head has gone out, this uWS build resumes reading by itself whenever it
 * writes (measured: a write re-arms the socket poll), so pausing stops working; the stream's
 * buffer is then bounded by BODY_BUFFER_LIMIT instead (proxy.ts aborts the exchange beyond it).
 */
import { Readable } from 'node:stream'
import type { RequestContext } from './context.ts'

/** Bodies up to this size are buffered before dispatch (nginx client_body_buffer_size-like). */
export const COLLECT_LIMIT = 64 * 1024
/** Stream high-water mark: how much is read ahead of the upstream socket. */
const HIGH_WATER_MARK = 64 * 1024
/** Hard bound on body bytes waiting for the upstream once reading can no longer be paused. */
export const BODY_BUFFER_LIMIT = 4 * 1024 * 1024

export class BodyStream extends Readable {
  readonly ctx: RequestContext

  constructor (ctx: RequestContext) {
    super({ highWaterMark: HIGH_WATER_MARK })
    this.ctx = ctx
  }

  override _read (): void {
    const ctx = this.ctx
    if (ctx.readPaused) {
      ctx.readPaused = false
      if (!ctx.resDone) ctx.res.resume()
    }
  }
}

/**
 * Copies a uWS body chunk out of its soon-to-be-neutered ArrayBuffer. Not `ab.slice(0)`: V8's
 * ArrayBuffer constructor zero-fills the new store (a memset pass over fresh pages, measured as
 * most of the page faults of a 1 MiB upload) before the copy; allocUnsafeSlow does not.
 */
export function copyChunk (ab: ArrayBuffer): Buffer {
  const n = ab.byteLength
  const b = Buffer.allocUnsafeSlow(n)
  b.set(new Uint8Array(ab, 0, n))
  return b
}

export function concatChunks (chunks: Buffer[], total: number): Buffer {
  if (chunks.length === 1) return chunks[0]!
  return Buffer.concat(chunks, total)
}
