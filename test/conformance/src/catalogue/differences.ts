/**
 * Where kvindex deliberately differs from NVIDIA Dynamo 1.6.1's standalone indexer. Every
 * scenario that lets kvindex answer differently names one of these ids; DIFFERENCES.md carries
 * the same list (differences.test.ts keeps the two in step). Nothing else may differ.
 */
export interface Difference {
  id: string;
  title: string;
  dynamo: string;
  kvindex: string;
  /** Where the suite asserts it. */
  asserted: string;
}

export const DIFFERENCES: Difference[] = [
  {
    id: 'per-engine-hashes',
    title: 'Engines that hash with different seeds',
    dynamo:
      "A node keeps its first writer's block hash; a second engine storing the same tokens under its own hash is credited with the node but cannot use it as a parent, so the rest of its chain is never indexed (simulated vLLM fleet, 4 engines with per-engine hashes: both backends answer 11 of 144 probes differently from the engines; which ones depends on which engine's event reached a shared node first).",
    kvindex:
      "Credits every engine's own chain: per-engine-hash fleets score as the engines hold their blocks.",
    asserted: 'sim-fleet.test.ts (per-engine scenarios)',
  },
  {
    id: 'engine-restart',
    title: 'Engine restart (seq numbers start again)',
    dynamo:
      'Drops stale and duplicate seq numbers silently: a restarted engine stays invisible (its AllBlocksCleared at seq 0 is ignored) until it passes its old maximum.',
    kvindex:
      'A live seq that does not increase (lower or repeated) is a restart: the ranks that stream fed are cleared and the new stream is applied.',
    asserted: 'wire-forms.test.ts: "seq reset …" rows, "duplicate seq (removal at same seq)"',
  },
  {
    id: 'one-bad-event',
    title: 'One unknown or malformed event in a batch',
    dynamo: 'Drops the whole batch (e.g. an unknown tag before a good BlockStored).',
    kvindex: 'Drops (and counts) only the bad event; the rest of the batch is applied.',
    asserted: 'wire-forms.test.ts: "unknown event tag then BlockStored in same batch"',
  },
  {
    id: 'bytes-hashes',
    title: 'Block hashes sent as bytes (vLLM sha256 modes)',
    dynamo: 'Rejects them and drops the batch, so vLLM with a sha256 prefix-cache hash is unusable.',
    kvindex: 'Accepts 8- and 32-byte hashes; the last 8 bytes (big-endian) are the u64 block id.',
    asserted: 'wire-forms.test.ts: "hashes bytes …" rows',
  },
  {
    id: 'native-mm-extra-keys',
    title: 'Native vLLM multimodal hashes in extra_keys',
    dynamo: 'Ignored (only block_mm_infos or its own zero-padded marker form reach the hash).',
    kvindex:
      'Applied: a 64-hex-digit key (or [key, offset]) contributes its first 16 hex digits as the block mm hash.',
    asserted:
      'wire-forms.test.ts: "extra_keys with vLLM mm hash …", "mm extra_keys [[hex, 0]]", "mm map-form extra_keys"',
  },
  {
    id: 'medium-case-insensitive',
    title: 'medium names',
    dynamo: 'Case-sensitive; an unknown medium (including `cpu`) is dropped silently.',
    kvindex: 'Case-insensitive (`cpu` is the host tier); unknown media are dropped and counted.',
    asserted: `wire-forms.test.ts: "medium='cpu'"`,
  },
  {
    id: 'map-and-2-element-batches',
    title: 'Batch shapes',
    dynamo:
      "Only the 3-element array `[ts, events, dp_rank]`; a map batch or SGLang's `[ts, events]` is dropped.",
    kvindex: 'Also accepts `{ts, events, data_parallel_rank}` and `[ts, events]`.',
    asserted: 'wire-forms.test.ts: "map-shaped batch …", "batch with 2 elements …"',
  },
  {
    id: 'block-size-zero',
    title: 'block_size 0',
    dynamo: 'Accepted (201): a partition that can never match.',
    kvindex: 'Refused with a 4xx.',
    asserted: 'http-catalogue.test.ts: "block_size 0 for a new model"',
  },
  {
    id: 'unreachable-endpoint-status',
    title: 'Listener status of an unreachable endpoint',
    dynamo: 'Reported `active` (ZMQ connects lazily).',
    kvindex: 'Reports what it knows (`pending` until the publisher is reached).',
    asserted: 'http-catalogue.test.ts: /workers after the catalogue (status fields set aside for kvindex)',
  },
  {
    id: 'strict-json-body',
    title: 'Bytes after the JSON body',
    dynamo: 'Ignored: the request is processed as if they were absent.',
    kvindex:
      'Refused with 400, like any other malformed JSON: a truncated or concatenated body is a client bug.',
    asserted: 'http-catalogue.test.ts: "trailing garbage after the JSON"',
  },
  {
    id: 'non-main-kv-group',
    title: 'Stores of a KV cache group other than 0 (`group_idx` ≠ 0)',
    dynamo: 'Indexed like group 0 when the spec kind is a main kind or absent.',
    kvindex:
      'Dropped and counted (`non_zero_group`): a hybrid model publishes each KV cache group separately, and only group 0 holds the full-attention prefix a router can reuse.',
    asserted: 'wire-forms.test.ts: "BlockStored 12 elems group_idx=1"',
  },
];

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** The table DIFFERENCES.md (and README.md's "kvindex vs Dynamo 1.6.1") carries. */
export function differencesTable(): string {
  const lines = [
    '| difference | Dynamo 1.6.1 (`python -m dynamo.indexer`) | kvindex | asserted in (test/conformance/src) |',
    '|---|---|---|---|',
  ];
  for (const d of DIFFERENCES) {
    lines.push(
      `| **${cell(d.title)}** (\`${d.id}\`) | ${cell(d.dynamo)} | ${cell(d.kvindex)} | ${cell(d.asserted)} |`,
    );
  }
  return lines.join('\n');
}
