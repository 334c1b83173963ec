import { TieredKvIndex } from './tiered-kv-index.ts';

/** One partition: a model and routing group, its fixed block size and its index. */
export interface IndexPartition {
  modelName: string;
  routingGroup: string;
  blockSize: number;
  index: TieredKvIndex;
}

export type PartitionResult = { ok: true; partition: IndexPartition } | { ok: false; error: string };

/** The indexes per (model_name, routing_group), each with the block size it was created with. */
export class IndexRegistry {
  private readonly partitions = new Map<string, IndexPartition>();

  /** The partition, created on first use; a different block size is refused with Dynamo's message. */
  getOrCreate(modelName: string, routingGroup: string, blockSize: number): PartitionResult {
    const key = partitionKey(modelName, routingGroup);
    const existing = this.partitions.get(key);
    if (existing) {
      if (existing.blockSize !== blockSize) {
        return {
          ok: false,
          error: `block_size mismatch for model=${modelName} routing_group=${routingGroup}: existing=${existing.blockSize}, requested=${blockSize}`,
        };
      }
      return { ok: true, partition: existing };
    }
    const partition = { modelName, routingGroup, blockSize, index: new TieredKvIndex() };
    this.partitions.set(key, partition);
    return { ok: true, partition };
  }

  get(modelName: string, routingGroup: string): IndexPartition | undefined {
    return this.partitions.get(partitionKey(modelName, routingGroup));
  }

  remove(modelName: string, routingGroup: string): boolean {
    return this.partitions.delete(partitionKey(modelName, routingGroup));
  }

  list(): IndexPartition[] {
    return [...this.partitions.values()];
  }
}

function partitionKey(modelName: string, routingGroup: string): string {
  return JSON.stringify([modelName, routingGroup]);
}
