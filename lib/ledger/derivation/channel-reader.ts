// Channel Reader (specs/protocol/derivation.md "Channel Reader (Batch Decoding)"): decompresses
// a channel (zlib, or brotli behind Fjord's 0x01 byte) and reads its batches one RLP string at a
// time. A channel that does not decompress is dropped; a batch that does not decode ends it.
import { type Batch, readChannelBatches } from "../batch.js";
import { decompressChannel } from "../channel.js";
import { DecodingError } from "../errors.js";
import type { SpanBatchCodecConfig } from "../span-batch.js";

export interface ChannelReaderStats {
  channelsUndecodable: number;
  batchesDecoded: number;
  batchesUndecodable: number;
}

export function readBatches(channelData: Uint8Array, cfg: SpanBatchCodecConfig, stats: ChannelReaderStats): Batch[] {
  let payload: Uint8Array;
  try {
    payload = decompressChannel(channelData);
  } catch {
    stats.channelsUndecodable++;
    return [];
  }
  const out: Batch[] = [];
  for (const b of readChannelBatches(payload, cfg)) {
    if (b instanceof DecodingError) {
      stats.batchesUndecodable++;
      break;
    }
    stats.batchesDecoded++;
    out.push(b);
  }
  return out;
}
