/** What applying an event did; counted by the caller, never thrown. */
export type ApplyStatus = 'ok' | 'parent_block_not_found' | 'block_not_found' | 'invalid_block_sequence';

/** Dynamo's `KvCacheEventError` variant names, so outputs of both diff directly. */
export const DYNAMO_STATUS_NAMES: Record<ApplyStatus, string> = {
  ok: 'ok',
  parent_block_not_found: 'ParentBlockNotFound',
  block_not_found: 'BlockNotFound',
  invalid_block_sequence: 'InvalidBlockSequence',
};
