// Hashes and random names without importing node:crypto where it costs: on Bun that import
// takes 4-30 ms at start-up (more than a rollback's own work), while Bun.CryptoHasher and
// Web Crypto are built in. On Node, node:crypto is loaded at start already and is used as is.
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

export function randomHex(bytes: number): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
}
