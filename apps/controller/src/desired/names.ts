import { xxh3_64_utf8 } from '@kvindex/core';

const MAX_NAME = 63;

function shortHash(text: string): string {
  return xxh3_64_utf8(text, 0n).toString(16).padStart(16, '0').slice(0, 8);
}

/**
 * The name of a model's Deployment and Service: "<idxd>-<model>" when that is a valid DNS-1035
 * label (Service names must be), else a slug of it with a hash of the exact pair, so two models
 * never share children and the name never changes while the model exists.
 */
export function indexerName(deployment: string, model: string): string {
  const plain = `${deployment}-${model}`;
  if (plain.length <= MAX_NAME && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(plain)) return plain;
  let slug = plain
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '');
  slug = slug.slice(0, MAX_NAME - 9).replace(/-+$/, '');
  return `${slug || 'idx'}-${shortHash(`${deployment}\u0000${model}`)}`;
}

/** A label value (≤ 63 characters) naming an object whose name may be longer. */
export function labelValue(name: string): string {
  if (name.length <= MAX_NAME) return name;
  return `${name.slice(0, MAX_NAME - 9).replace(/[-_.]+$/, '')}-${shortHash(name)}`;
}
