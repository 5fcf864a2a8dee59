// Hashes and random names without importing node:crypto where it costs: on Bun that import
// takes 4-30 ms at start-up (more than a rollback's own work), while Bun.CryptoHasher is
// built in. On Node, node:crypto is loaded at start already and is used as is.
import { createRequire } from 'node:module';

export interface Hasher {
  update(data: string | Uint8Array): Hasher;
  digest(): Buffer;
  digest(encoding: 'hex'): string;
}

type BunHasher = new (alg: string) => Hasher;
const BunCryptoHasher = (globalThis as { Bun?: { CryptoHasher: BunHasher } }).Bun?.CryptoHasher;
let nodeCreateHash: ((alg: string) => Hasher) | undefined;

export function createHash(alg: 'sha1' | 'sha256'): Hasher {
  if (BunCryptoHasher) return new BunCryptoHasher(alg);
  nodeCreateHash ??= (createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')).createHash;
  return nodeCreateHash(alg);
}

/**
 * A random part for names that must not collide (temporary files, lock tokens), never for
 * secrets (those come from node:crypto). Math.random: on Node the first use of Web Crypto
 * loads it, about 3 ms of a rollback.
 */
export function randomHex(bytes: number): string {
  let hex = '';
  for (let i = 0; i < bytes; i++) hex += Math.floor(Math.random() * 256).toString(16).padStart(2, '0');
  return hex;
}
