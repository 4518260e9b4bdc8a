/**
 * Node-wide latency percentiles from hdr-histograms (hdr-histogram-js).
 *
 * Each worker records every request into two histograms (request and kong latency, in
 * microseconds; upstream latency is known to the millisecond only and is in the Kong histogram),
 * encodes them into its once-a-second delta and resets them. The primary merges
 * them into a ring of time slots, so a scrape reads the percentiles of the last minute (the
 * usual Prometheus summary: quantiles over a sliding window, _count and _sum since start).
 *
 *   slot i covers [t, t + SLOT_MS); the ring holds SLOTS of them; a delta lands in the slot of its
 *   arrival; a scrape merges the slots younger than WINDOW_MS.
 */
import * as hdr from 'hdr-histogram-js'

/** 1 us to 1 hour, 3 significant digits (0.1 % error), 32-bit counts: about 54 KB per histogram. */
const BUILD = { lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 as const, bitBucketSize: 32 as const }
const MAX_US = BUILD.highestTrackableValue

export type Histogram = hdr.Histogram

export function newHistogram (): Histogram { return hdr.build(BUILD) }

/** Records v microseconds, clamped to the trackable range. */
export function recordUs (h: Histogram, us: number): void {
  h.recordValue(us < 0 ? 0 : us > MAX_US ? MAX_US : Math.round(us))
}

/** Compressed base64 of h ('' when empty), then resets h. */
export function takeEncoded (h: Histogram): string {
  if (h.totalCount === 0) return ''
  const s = hdr.encodeIntoCompressedBase64(h)
  h.reset()
  return s
}

export function decode (s: string): Histogram {
  return hdr.decodeFromCompressedBase64(s, 32, false)
}

export const QUANTILES = [0.5, 0.9, 0.99, 0.999] as const
/** What the node-wide histograms hold, in delta order. */
export const HDR_KINDS = ['request', 'kong'] as const
const SLOT_MS = 10_000
const SLOTS = 7
export const WINDOW_MS = 60_000

/** A sliding window of merged histograms plus totals since start. */
export class WindowedHistogram {
  count = 0
  sumUs = 0
  private readonly slots: Array<{ start: number; h: Histogram | null }> = []
  private readonly now: () => number

  constructor (now: () => number = Date.now) {
    this.now = now
    for (let i = 0; i < SLOTS; i++) this.slots.push({ start: -Infinity, h: null })
  }

  add (encoded: string, sumUs: number): void {
    if (encoded === '') return
    const h = decode(encoded)
    this.count += h.totalCount
    this.sumUs += sumUs
    const t = this.now()
    const start = t - (t % SLOT_MS)
    const slot = this.slots[Math.floor(t / SLOT_MS) % SLOTS]!
    if (slot.start !== start || slot.h === null) {
      slot.start = start
      slot.h ??= newHistogram()
      slot.h.reset()
    }
    slot.h.add(h)
  }

  /** The last WINDOW_MS merged; null when nothing was recorded in it. */
  window (): Histogram | null {
    const oldest = this.now() - WINDOW_MS
    let out: Histogram | null = null
    for (const s of this.slots) {
      if (s.h === null || s.start + SLOT_MS <= oldest || s.h.totalCount === 0) continue
      out ??= newHistogram()
      out.add(s.h)
    }
    return out
  }
}
