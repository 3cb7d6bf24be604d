// Channel Reader (specs/protocol/derivation.md "Channel Reader (Batch Decoding)"): decompresses
// a channel (zlib, or brotli behind Fjord's 0x01 byte) and reads its batches one RLP string at a
// time. A channel that does not decompress is dropped; a batch that does not decode ends it. Both
// drops are recorded with the channel's id and the error's code.
import { type Batch, readChannelBatches } from "../batch.js";
import { decompressChannel } from "../channel.js";
import { DecodingError } from "../errors.js";
import type { SpanBatchCodecConfig } from "../span-batch.js";
import type { ReadyChannel } from "./channel-bank.js";
import type { DropLog } from "./drops.js";

export interface ChannelReaderStats {
  channelsUndecodable: number;
  batchesDecoded: number;
  batchesUndecodable: number;
}

export function readBatches(channel: ReadyChannel, cfg: SpanBatchCodecConfig, stats: ChannelReaderStats, drops: DropLog): Batch[] {
  const site = { stage: "channel-reader", l1Block: channel.inclusion.number, channel: channel.id } as const;
  let payload: Uint8Array;
  try {
    payload = decompressChannel(channel.data);
  } catch (e) {
    drops.dropOrRethrow(e, site);
    stats.channelsUndecodable++;
    return [];
  }
  const out: Batch[] = [];
  for (const b of readChannelBatches(payload, cfg)) {
    if (b instanceof DecodingError) {
      drops.dropOrRethrow(b, site);
      stats.batchesUndecodable++;
      break;
    }
    stats.batchesDecoded++;
    out.push(b);
  }
  return out;
}
