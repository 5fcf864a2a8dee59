// What `toes env` accepts as a key, and how it shows a value that may be a secret.
import { RevError } from '../../errors.js';

export function checkEnvKey(key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new RevError('USAGE', `"${key}" is not a valid environment variable name.`);
  // JavaScript objects, the app's process environment among them, cannot hold it as a key.
  if (key === '__proto__') throw new RevError('USAGE', '"__proto__" cannot be passed to an app as an environment variable; choose another name.');
  return key;
}

/** Keys whose values are shown masked: tokens, secrets, passwords, keys. */
export function isSecretKey(key: string): boolean {
  return /TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL/i.test(key);
}

export function mask(value: string): string {
  return value.length <= 8 ? '••••' : `${value.slice(0, 3)}…${value.slice(-4)}`;
}
