/**
 * The default TLS certificate: what the proxy's TLS listener serves when the client sends no SNI
 * or one no certificate is configured for (Kong generates `ssl/kong-default.crt` into its prefix
 * the same way). The primary makes sure it exists before any worker starts; workers only read it.
 *
 * Built with node:crypto and a small DER writer instead of running the `openssl` CLI: node:crypto
 * is always there (Sluice already needs it, and Node cannot be built without OpenSSL and still run
 * Sluice), no child process, no dependency on what the image ships (slim and distroless images
 * have no `openssl` binary), and the result is checked with the same library before it is used.
 * The certificate: X.509 v3, RSA 2048 (Kong's default key type), sha256WithRSAEncryption,
 * subject = issuer = CN=localhost, O=Sluice, SAN DNS:localhost, not a CA, serverAuth+clientAuth,
 * valid from one hour ago for ten years. The key is written 0600, the directory 0700, each file
 * through a temporary name and a rename so that a crash never leaves half a file.
 */
import { X509Certificate, createPrivateKey, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto'
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { defaultCertFiles, type DefaultCertFiles } from '../common/tls-paths.ts'

const generateKeyPairAsync = promisify(generateKeyPair)

// ---- DER (X.690) ----

function derLength (n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

function tlv (tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content])
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts))
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts))
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner)
const octets = (b: Buffer): Buffer => tlv(0x04, b)
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'))
const NULL = Buffer.from([0x05, 0x00])
const TRUE = Buffer.from([0x01, 0x01, 0xff])

/** A non-negative INTEGER from big-endian bytes (a 0x00 is prepended when the top bit is set). */
function unsigned (b: Buffer): Buffer {
  let i = 0
  while (i < b.length - 1 && b[i] === 0) i++
  const v = b.subarray(i)
  return tlv(0x02, (v[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), v]) : v)
}

function oid (dotted: string): Buffer {
  const parts = dotted.split('.').map(Number)
  const out: number[] = [parts[0]! * 40 + parts[1]!]
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f]
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f))
    out.push(...chunk)
  }
  return tlv(0x06, Buffer.from(out))
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function time (d: Date): Buffer {
  const p = (n: number): string => String(n).padStart(2, '0')
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`
  const y = d.getUTCFullYear()
  return y < 2050 ? tlv(0x17, Buffer.from(`${p(y % 100)}${rest}`)) : tlv(0x18, Buffer.from(`${y}${rest}`))
}

function bitString (b: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), b]))
}

function extension (id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), TRUE, octets(value)) : seq(oid(id), octets(value))
}

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const

export interface SelfSignedOptions {
  commonName?: string
  organization?: string
  /** DNS names for subjectAltName (default: the common name). */
  dnsNames?: string[]
  notBefore?: Date
  days?: number
  /** RSA modulus length (default 2048). */
  bits?: number
}

export interface SelfSigned { cert: string; key: string }

/** Builds a self-signed RSA certificate (PEM cert and PKCS#8 PEM key); checks it before returning. */
export async function buildSelfSigned (opts: SelfSignedOptions = {}): Promise<SelfSigned> {
  const cn = opts.commonName ?? 'localhost'
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: opts.bits ?? 2048 })
  const notBefore = opts.notBefore ?? new Date(Date.now() - 3600_000)
  const notAfter = new Date(notBefore.getTime() + (opts.days ?? 3650) * 86400_000)
  const serial = randomBytes(16)
  serial[0] = serial[0]! & 0x7f
  const name = seq(
    set(seq(oid(OID.commonName), utf8(cn))),
    set(seq(oid(OID.organization), utf8(opts.organization ?? 'Sluice'))),
  )
  const sigAlg = seq(oid(OID.sha256WithRSA), NULL)
  const san = seq(...(opts.dnsNames ?? [cn]).map((d) => tlv(0x82, Buffer.from(d, 'ascii'))))
  const extensions = seq(
    extension(OID.basicConstraints, true, seq()),
    // digitalSignature (bit 0) + keyEncipherment (bit 2): 0b101 in the top bits, 5 unused bits.
    extension(OID.keyUsage, true, bitString(Buffer.from([0xa0]), 5)),
    extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))),
    extension(OID.subjectAltName, false, san),
  )
  const tbs = seq(
    explicit(0, unsigned(Buffer.from([2]))),
    unsigned(serial),
    sigAlg,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, extensions),
  )
  const signature = sign('sha256', tbs, privateKey)
  const der = seq(tbs, sigAlg, bitString(signature))
  const cert = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const x = new X509Certificate(cert)
  if (!x.verify(publicKey) || !x.checkPrivateKey(privateKey)) throw new Error('the generated certificate does not verify')
  return { cert, key }
}

async function usable (files: DefaultCertFiles): Promise<boolean> {
  let cert: string
  let key: KeyObject
  try {
    cert = await readFile(files.cert, 'utf8')
    key = createPrivateKey(await readFile(files.key, 'utf8'))
  } catch {
    return false
  }
  try {
    return new X509Certificate(cert).checkPrivateKey(key)
  } catch {
    return false
  }
}

async function writeAtomic (file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await unlink(tmp).catch(() => {})
  await writeFile(tmp, data, { mode, flag: 'wx' })
  await rename(tmp, file)
}

/**
 * Makes sure `<prefix>/ssl/sluice-default.crt|.key` exist and belong together; generates them when
 * either is missing or they do not match. Tightens the key's mode to 0600 and the directory's to
 * 0700. Returns the file names. Throws one sentence naming the directory when it cannot.
 */
export async function ensureDefaultCert (prefix: string): Promise<DefaultCertFiles> {
  const files = defaultCertFiles(prefix)
  try {
    await mkdir(files.dir, { recursive: true, mode: 0o700 })
    await chmod(files.dir, 0o700)
    if (await usable(files)) {
      if (((await stat(files.key)).mode & 0o077) !== 0) await chmod(files.key, 0o600)
      return files
    }
    const made = await buildSelfSigned()
    await writeAtomic(files.key, made.key, 0o600)
    await writeAtomic(files.cert, made.cert, 0o644)
    return files
  } catch (err) {
    throw new Error(`could not create the default TLS certificate in ${files.dir}: ${(err as Error).message}`, { cause: err })
  }
}
