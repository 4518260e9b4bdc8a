/**
 * The one msgpackr instance of the process. Snapshots and thread messages that carry bulk data are
 * encoded here, once, and decoded here; no other module constructs a Packr.
 */
import { Packr } from 'msgpackr'
import type { Snapshot, SnapshotDelta } from './snapshot.ts'

// structuredClone-compatible plain data; records on (repeated row shapes share one structure).
const packr = new Packr({ useRecords: true, moreTypes: false, bundleStrings: false })

/** Encodes a snapshot into a SharedArrayBuffer-backed view: one encode, zero copies per worker. */
export function encodeSnapshot (snapshot: Snapshot): Uint8Array {
  return shared(packr.pack(snapshot))
}

/** A delta travels like a snapshot: encoded once, the same bytes posted to every worker. */
export function encodeDelta (delta: SnapshotDelta): Uint8Array {
  return shared(packr.pack(delta))
}

export function decodeDelta (bytes: Uint8Array): SnapshotDelta {
  const own = bytes.buffer instanceof SharedArrayBuffer ? Buffer.from(bytes) : bytes
  return release(packr.unpack(own) as SnapshotDelta)
}

/** One msgpack nil: decoding it replaces the decoder's references to the last source. */
const NIL = new Uint8Array([0xc0])

/**
 * msgpackr keeps module-level references to the last source it read (its DataView and string
 * chunks) until the next unpack: after a snapshot, that pins the private copy of the bytes (18 MiB
 * at 10,000 routes + 100,000 consumers, outside the V8 heap) in every worker. Decoding one nil
 * right after drops them.
 */
function release<T> (value: T): T {
  packr.unpack(NIL)
  return value
}

function shared (bytes: Uint8Array): Uint8Array {
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength))
  shared.set(bytes)
  return shared
}

/**
 * msgpackr's native string reader (msgpackr-extract) refuses SharedArrayBuffer-backed input
 * ("source must be an ArrayBuffer") once strings are long, so a worker decodes from a private copy:
 * one memcpy per worker per snapshot, far cheaper than the decode and compile after it.
 */
export function decodeSnapshot (bytes: Uint8Array): Snapshot {
  const own = bytes.buffer instanceof SharedArrayBuffer ? Buffer.from(bytes) : bytes
  return release(packr.unpack(own) as Snapshot)
}
