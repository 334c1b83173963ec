/** vLLM's replay end marker: seq -1 as u64. */
export const REPLAY_END_SEQ = 0xffff_ffff_ffff_ffffn;

/** A batch sequence number as the 8-byte big-endian frame vLLM sends. */
export function encodeSeq(seq: bigint): Buffer {
  const frame = Buffer.allocUnsafe(8);
  frame.writeBigUInt64BE(BigInt.asUintN(64, seq), 0);
  return frame;
}

/** The seq of an 8-byte big-endian frame, or null for any other length. */
export function decodeSeq(frame: Uint8Array): bigint | null {
  if (frame.length !== 8) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, 8);
  return view.getBigUint64(0, false);
}
