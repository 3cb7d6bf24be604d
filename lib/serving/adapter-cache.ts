import { OpenLoraError, unknownAdapter } from "./errors.js";
import { keepRecent } from "./metrics.js";
import type { ResidentAdapter, SlotBank } from "./slots.js";
import type { AdapterStore, HostAdapter } from "./store.js";

/**
 * The tiered adapter cache of S-LoRA and LoRAX: disk (the store) → host memory (a byte budget,
 * least recently used out first) → a fixed number of backend slots (least recently used
 * unpinned slot out first). A slot is pinned while a running sequence uses it, so eviction
 * never pulls an adapter from under a batch; a request whose adapter finds every slot pinned
 * waits in the queue. Adapters of queued requests are prefetched into host memory without
 * blocking. Every load that reached the disk or host tier is timed: the cold start.
 * The base model itself is servable under its own id (as vLLM and LoRAX list and serve it): it
 * is a resident with no adapted layer and no slot (slot −1, whose blocks are zero).
 */
export type AdapterLocation = "slot" | "host" | "disk" | "base";

/** The adapter hash a receipt of the bare base model carries: no adapter. */
export const NO_ADAPTER_SHA256 = "0".repeat(64);

export interface CacheStats {
  requests: number;
  slotHits: number;
  hostHits: number;
  diskLoads: number;
  prefetches: number;
  hostEvictions: number;
  slotEvictions: number;
  /** Milliseconds of the most recent acquires that were not slot hits (the last 1,024), with the tier each came from. */
  coldStarts: Array<{ id: string; from: "host" | "disk"; ms: number }>;
  /** Every acquire that was not a slot hit, by the tier it came from. */
  coldStartsFrom: { host: number; disk: number };
}

export interface ColdStart {
  from: AdapterLocation;
  ms: number;
}

export class TieredAdapterCache {
  private readonly host = new Map<string, HostAdapter>(); // insertion order = recency (oldest first)
  private hostBytesHeld = 0;
  private readonly slotOf = new Map<string, number>();
  private readonly pins = new Map<number, number>();
  private readonly slotUse = new Map<number, number>();
  private clock = 0;
  private readonly inflight = new Map<string, Promise<void>>();
  readonly stats: CacheStats = { requests: 0, slotHits: 0, hostHits: 0, diskLoads: 0, prefetches: 0, hostEvictions: 0, slotEvictions: 0, coldStarts: [], coldStartsFrom: { host: 0, disk: 0 } };
  private base?: ResidentAdapter;

  constructor(
    readonly store: AdapterStore,
    readonly bank: SlotBank,
    readonly hostBudgetBytes: number,
  ) {
    if (!(hostBudgetBytes > 0))
      throw new OpenLoraError({
        code: "cache/bad-budget",
        fields: { hostBudgetBytes },
        message: `host budget ${hostBudgetBytes} bytes is not positive`,
        hint: "give the host tier a budget of at least one adapter's size",
      });
  }

  /** Makes the base model servable as model `id`: requests for it run with no adapter. */
  serveBase(id: string, baseSha256: string): void {
    this.base = {
      id,
      slot: -1,
      sha256: NO_ADAPTER_SHA256,
      baseSha256,
      config: { r: 0, loraAlpha: 0, loraDropout: 0, targetModules: [], useRslora: false, useDora: false, initLoraWeights: "kaiming", bias: "none" },
      r: 0,
      scaling: 0,
      modules: [],
      tensors: {},
      transposed: {},
      bytes: 0,
    };
  }

  /** The base model's id when it is served, else undefined. */
  baseId(): string | undefined {
    return this.base?.id;
  }

  /** Refuses (404) a model id that is neither the base model nor a registered adapter. */
  check(id: string): void {
    if (id !== this.base?.id && !this.store.has(id)) throw unknownAdapter(id, this.store.list().length);
  }

  location(id: string): AdapterLocation {
    if (id === this.base?.id) return "base";
    if (this.slotOf.has(id)) return "slot";
    if (this.host.has(id)) return "host";
    return "disk";
  }

  hostBytes(): number {
    return this.hostBytesHeld;
  }

  hostCount(): number {
    return this.host.size;
  }

  /** True when acquire(id) would find a slot now: resident, a free slot, or one to evict. */
  canAcquire(id: string): boolean {
    if (id === this.base?.id || this.slotOf.has(id)) return true;
    return this.bank.freeSlot() >= 0 || this.evictableSlot() >= 0;
  }

  /** Starts reading a queued request's adapter into host memory; resolves when it is there. */
  prefetch(id: string): Promise<void> {
    if (this.location(id) !== "disk" || !this.store.has(id)) return Promise.resolve();
    let p = this.inflight.get(id);
    if (!p) {
      this.stats.prefetches++;
      p = this.store
        .readAsync(id)
        .then((h) => {
          if (this.store.has(id) && !this.host.has(id)) this.putHost(h);
        })
        .finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  /** The adapter in a slot, pinned; loads it through the tiers as needed. */
  acquire(id: string): { resident: ResidentAdapter; cold: ColdStart } {
    if (this.base && id === this.base.id) return { resident: this.base, cold: { from: "base", ms: 0 } };
    this.stats.requests++;
    const started = performance.now();
    const slot = this.slotOf.get(id);
    if (slot !== undefined) {
      this.stats.slotHits++;
      this.pin(slot);
      return { resident: this.bank.resident(slot)!, cold: { from: "slot", ms: 0 } };
    }
    let from: "host" | "disk" = "host";
    let host = this.host.get(id);
    if (host) {
      this.stats.hostHits++;
      this.host.delete(id); // re-insert as most recent
      this.host.set(id, host);
    } else {
      from = "disk";
      this.stats.diskLoads++;
      host = this.store.read(id);
      this.putHost(host);
    }
    let free = this.bank.freeSlot();
    if (free < 0) {
      free = this.evictableSlot();
      if (free < 0)
        throw new OpenLoraError({
          code: "cache/slots-busy",
          status: 503,
          fields: { slots: this.bank.slots },
          message: `all ${this.bank.slots} adapter slots are in use by running sequences`,
          hint: "wait for a sequence to finish (the scheduler queues the request), or start with more --slots",
        });
      this.evictSlot(free);
      this.stats.slotEvictions++;
    }
    const resident = this.bank.load(free, host);
    this.slotOf.set(id, free);
    this.pin(free);
    const ms = performance.now() - started;
    keepRecent(this.stats.coldStarts, { id, from, ms });
    this.stats.coldStartsFrom[from]++;
    return { resident, cold: { from, ms } };
  }

  release(resident: ResidentAdapter): void {
    if (resident.slot < 0) return; // the base model holds no slot
    const n = (this.pins.get(resident.slot) ?? 0) - 1;
    if (n <= 0) this.pins.delete(resident.slot);
    else this.pins.set(resident.slot, n);
  }

  /** Drops an adapter from every tier (unload); refused while a sequence uses it. */
  evict(id: string): void {
    const slot = this.slotOf.get(id);
    if (slot !== undefined) {
      if (this.pins.get(slot))
        throw new OpenLoraError({ code: "adapter/busy", status: 409, fields: { adapter: id }, message: `adapter "${id}" is serving running sequences`, hint: "unload it after they finish" });
      this.evictSlot(slot);
    }
    const h = this.host.get(id);
    if (h) {
      this.host.delete(id);
      this.hostBytesHeld -= h.bytes;
    }
  }

  private pin(slot: number): void {
    this.pins.set(slot, (this.pins.get(slot) ?? 0) + 1);
    this.slotUse.set(slot, ++this.clock);
  }

  private evictableSlot(): number {
    let best = -1;
    let oldest = Infinity;
    for (const r of this.bank.occupied()) {
      if (this.pins.get(r.slot)) continue;
      const used = this.slotUse.get(r.slot) ?? 0;
      if (used < oldest) {
        oldest = used;
        best = r.slot;
      }
    }
    return best;
  }

  private evictSlot(slot: number): void {
    const r = this.bank.resident(slot);
    if (r) this.slotOf.delete(r.id);
    this.bank.free(slot);
    this.slotUse.delete(slot);
  }

  private putHost(h: HostAdapter): void {
    if (h.bytes > this.hostBudgetBytes) {
      throw new OpenLoraError({
        code: "cache/over-budget",
        status: 507,
        fields: { adapter: h.id, bytes: h.bytes, budget: this.hostBudgetBytes },
        message: `adapter "${h.id}" (${h.bytes} bytes) is larger than the whole host budget (${this.hostBudgetBytes} bytes)`,
        hint: "raise --host-budget-mb",
      });
    }
    while (this.hostBytesHeld + h.bytes > this.hostBudgetBytes) {
      const [oldest, adapter] = this.host.entries().next().value as [string, HostAdapter];
      this.host.delete(oldest);
      this.hostBytesHeld -= adapter.bytes;
      this.stats.hostEvictions++;
    }
    this.host.set(h.id, h);
    this.hostBytesHeld += h.bytes;
  }
}
