/**
 * Dereferencing in the primary's snapshot builder (src/primary/snapshot.ts with src/vault): the
 * workers' rows hold secrets and `$refs`, the configuration hash is that of the rows as stored,
 * a delta that changes a vault carries every row whose references it re-dereferenced, and the
 * last-good file, read back, gives the rows as stored (references, no secrets to re-store).
 */
import { afterEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigCache, type Row } from '../../../src/primary/config-cache.ts'
import { SnapshotBuilder, loadLastGood, saveLastGood } from '../../../src/primary/snapshot.ts'
import { decodeDelta, decodeSnapshot } from '../../../src/common/codec.ts'
import { VaultResolver } from '../../../src/vault/resolve.ts'
import { nodeVaultConfigs, vaultSettingsFromEnv } from '../../../src/vault/installed.ts'

const set: string[] = []
function setenv (k: string, v: string): void { process.env[k] = v; set.push(k) }
afterEach(() => { for (const k of set.splice(0)) delete process.env[k] })

const vault = (prefix: string, envPrefix: string): Row => ({ id: randomUUID(), prefix, name: 'env', description: null, config: { prefix: envPrefix }, tags: null, created_at: 1, updated_at: 1 })
const httpLog = (token: string): Row => ({
  id: randomUUID(),
  name: 'http-log',
  route: null,
  service: null,
  consumer: null,
  enabled: true,
  protocols: ['http'],
  config: { http_endpoint: 'http://c.test/', headers: { 'x-token': token } },
})

test('full and delta snapshots: secrets for the workers, hashes of the stored rows, vault changes re-dereference', () => {
  setenv('SNAP_A_TOKEN', 'a')
  setenv('SNAP_B_TOKEN', 'b')
  setenv('SNAP_PLAIN', 'p')
  const v = vault('snap-vault', 'SNAP_A_')
  const byPrefix = httpLog('{vault://snap-vault/token}')
  const byName = httpLog('{vault://env/snap-plain}')
  const none = httpLog('literal')
  const cache = new ConfigCache()
  cache.replace({ vaults: [v], plugins: [byPrefix, byName, none] })
  const builder = new SnapshotBuilder()
  const full = builder.full(cache, 1)
  const s = decodeSnapshot(full.bytes)
  const plugin = (id: string): any => s.entities.plugins!.find((r) => r.id === id) // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(plugin(byPrefix.id).config.headers['x-token'], 'a')
  assert.deepEqual(plugin(byPrefix.id).$refs, [[['config', 'headers', 'x-token'], '{vault://snap-vault/token}']])
  assert.equal(plugin(byName.id).config.headers['x-token'], 'p')
  assert.equal(plugin(none.id).$refs, undefined)
  assert.equal((byPrefix.config as any).headers['x-token'], '{vault://snap-vault/token}') // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(s.entities.vaults!.length, 1)

  // the hash is of the stored rows: the environment does not enter it
  setenv('SNAP_PLAIN', 'changed')
  assert.equal(new SnapshotBuilder().full(cache, 1).hash, full.hash)
  setenv('SNAP_PLAIN', 'p')

  // the vault changes: the delta carries the vault and the plugin that references it by prefix
  const v2 = { ...v, config: { prefix: 'SNAP_B_' } }
  cache.tables.get('vaults')!.set(v.id, v2)
  cache.generation++
  const d = builder.delta(cache, 1, 2, [{ table: 'vaults', id: v.id, row: v2 }])
  const delta = decodeDelta(d.bytes)
  const sent = new Map(delta.changes.map((c) => [c.id, c.row as any])) // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(sent.get(v.id).config.prefix, 'SNAP_B_')
  assert.equal(sent.get(byPrefix.id).config.headers['x-token'], 'b')
  assert.ok(!sent.has(none.id)) // no reference: not re-sent
  assert.equal(d.snapshot.hash, new SnapshotBuilder().full(cache, 0).hash)
  assert.notEqual(d.snapshot.hash, full.hash)
  const lazy = decodeSnapshot(d.snapshot.bytes)
  assert.equal((lazy.entities.plugins!.find((r) => r.id === byPrefix.id) as any).config.headers['x-token'], 'b') // eslint-disable-line @typescript-eslint/no-explicit-any

  // an ordinary delta of a plugin row dereferences that row
  const changed = { ...none, config: { http_endpoint: 'http://c.test/', headers: { 'x-token': '{vault://snap-vault/token}' } } }
  cache.tables.get('plugins')!.set(none.id, changed)
  cache.generation++
  const d3 = decodeDelta(builder.delta(cache, 2, 3, [{ table: 'plugins', id: none.id, row: changed }]).bytes)
  assert.equal(d3.changes.length, 1)
  assert.equal((d3.changes[0]!.row as any).config.headers['x-token'], 'b') // eslint-disable-line @typescript-eslint/no-explicit-any
})

test('the last-good file gives back the rows as stored', async () => {
  setenv('SNAP_LG_KEY', 'secret-key')
  const dir = mkdtempSync(join(tmpdir(), 'sluice-vault-lg-'))
  try {
    const p = httpLog('{vault://env/snap-lg-key}')
    const cache = new ConfigCache()
    cache.replace({ plugins: [p] })
    const built = new SnapshotBuilder().full(cache, 7)
    await saveLastGood(dir, built)
    const back = await loadLastGood(dir)
    assert.ok(back !== null)
    const row = back.entities.plugins![0] as any // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(row.config.headers['x-token'], '{vault://env/snap-lg-key}')
    assert.equal(row.$refs, undefined)
    // built again from those rows: the same hash as the original
    const again = new ConfigCache()
    again.replace({ plugins: back.entities.plugins as Row[] })
    assert.equal(new SnapshotBuilder().full(again, 8).hash, built.hash)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('references by vault name start from the node\'s vault_env_prefix (KONG_ / SLUICE_VAULT_ENV_PREFIX)', () => {
  assert.deepEqual(nodeVaultConfigs(vaultSettingsFromEnv({ KONG_VAULT_ENV_PREFIX: 'K_', SLUICE_VAULT_ENV_PREFIX: 'S_' })), { env: { prefix: 'S_' } })
  assert.deepEqual(nodeVaultConfigs(vaultSettingsFromEnv({ KONG_VAULT_ENV_PREFIX: 'K_' })), { env: { prefix: 'K_' } })
  setenv('NODEPFX_SECRET', 'with-prefix')
  setenv('SECRET', 'bare')
  const r = new VaultResolver([], nodeVaultConfigs(vaultSettingsFromEnv({ KONG_VAULT_ENV_PREFIX: 'NODEPFX_' })))
  assert.deepEqual(r.get('{vault://env/secret}'), { ok: true, value: 'with-prefix' })
  assert.deepEqual(r.get('{vault://env/secret?prefix=_}'), { ok: false, error: 'could not get value from external vault (no value found)' })
  // a vault entity's own config, not the node's, applies to references by its prefix
  const e = new VaultResolver([{ prefix: 'bare-env', name: 'env', config: null }], nodeVaultConfigs(vaultSettingsFromEnv({ KONG_VAULT_ENV_PREFIX: 'NODEPFX_' })))
  assert.deepEqual(e.get('{vault://bare-env/secret}'), { ok: true, value: 'bare' })
})
