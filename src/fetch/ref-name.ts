// What git accepts as a ref name, alone in a leaf: the fetchers check names a server sends,
// and the settings check a branch a user types, without loading the fetchers.

/**
 * A ref name as `git check-ref-format` allows it. Names come from the server and become
 * file names in the store, so anything else is ignored as if it were not advertised.
 */
export function isSafeRefName(name: string): boolean {
  if (name === 'HEAD') return true;
  if (!name.startsWith('refs/') || name.length > 1024) return false;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name) || name.includes('..') || name.includes('@{') || name.includes('//')) return false;
  return name.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock') && !part.endsWith('.'));
}

/** A branch or tag as a user names it (`main`, `v1.2`, `refs/tags/v1`): could git have it? */
export function isBranchOrTagName(name: string): boolean {
  return name !== 'HEAD' && isSafeRefName(name.startsWith('refs/') ? name : `refs/heads/${name}`);
}
