import { Dealer } from 'zeromq';
import { decodeSeq, encodeSeq, REPLAY_END_SEQ } from './seq-frame.ts';

export interface ReplayRequest {
  endpoint: string;
  startSeq: bigint;
  /** The whole replay, connect to end marker, must finish within this many ms. */
  timeoutMs: number;
  /** Called for each replayed batch in the order the engine sends them. */
  onBatch(seq: bigint, payload: Buffer): void;
  /** Aborting closes the socket at once; the replay then resolves as incomplete. */
  signal?: AbortSignal;
}

export interface ReplayResult {
  batches: number;
  firstSeq: bigint | null;
  lastSeq: bigint | null;
  /** False when the replay was cancelled before the end marker. */
  complete: boolean;
}

/**
 * Asks an engine's ROUTER replay socket for every buffered batch from `startSeq`: sends
 * `["", start_seq BE8]` on a fresh DEALER and reads `["", seq, payload]` or vLLM's newer
 * `["", topic, seq, payload]` until seq = 2^64-1 or an empty payload. Throws on timeout or a
 * malformed reply; the DEALER is always closed.
 */
export async function requestReplay(req: ReplayRequest): Promise<ReplayResult> {
  const deadline = Date.now() + req.timeoutMs;
  const dealer = new Dealer({ linger: 0, sendTimeout: req.timeoutMs, receiveTimeout: req.timeoutMs });
  const result: ReplayResult = { batches: 0, firstSeq: null, lastSeq: null, complete: false };
  const abort = () => dealer.close();
  if (req.signal?.aborted) {
    dealer.close();
    return result;
  }
  req.signal?.addEventListener('abort', abort, { once: true });
  try {
    dealer.connect(req.endpoint);
    await dealer.send([Buffer.alloc(0), encodeSeq(req.startSeq)]);
    for (;;) {
      if (req.signal?.aborted) return result;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`replay from ${req.endpoint} timed out after ${req.timeoutMs} ms`);
      dealer.receiveTimeout = remaining;
      let frames: Buffer[];
      try {
        frames = await dealer.receive();
      } catch (err) {
        if (req.signal?.aborted) return result;
        if ((err as { code?: string }).code === 'EAGAIN') {
          throw new Error(`replay from ${req.endpoint} timed out after ${req.timeoutMs} ms`);
        }
        throw err;
      }
      let i = 0;
      while (i < frames.length && frames[i]!.length === 0 && frames.length - i > 2) i++;
      const rest = frames.length - i;
      if (rest !== 2 && rest !== 3) throw new Error(`malformed replay reply: ${frames.length} frames`);
      const seq = decodeSeq(frames[frames.length - 2]!);
      const payload = frames[frames.length - 1]!;
      if (seq === null)
        throw new Error(`malformed replay reply: seq frame of ${frames[frames.length - 2]!.length} bytes`);
      if (seq === REPLAY_END_SEQ || payload.length === 0) {
        result.complete = true;
        return result;
      }
      result.batches++;
      result.firstSeq ??= seq;
      result.lastSeq = seq;
      req.onBatch(seq, payload);
    }
  } finally {
    req.signal?.removeEventListener('abort', abort);
    if (!dealer.closed) dealer.close();
  }
}
