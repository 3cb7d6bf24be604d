/**
 * Serving metrics in the Prometheus text exposition format (version 0.0.4), the format vLLM's and
 * LoRAX's /metrics speak: counters (`_total`), gauges, and histograms as cumulative `_bucket`
 * lines with `le` labels, `_sum` and `_count`. Every metric has a fixed set of labels, so memory
 * stays bounded however many requests are served.
 */
type Labels = Record<string, string>;

const labelKey = (labels: Labels) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");

const line = (name: string, key: string, value: number) => `${name}${key ? `{${key}}` : ""} ${Number.isFinite(value) ? value : 0}`;

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`, ...[...this.values].map(([k, v]) => line(this.name, k, v))];
  }
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
  render(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} histogram`,
      ...this.buckets.map((b, i) => line(`${this.name}_bucket`, `le="${b}"`, this.counts[i])),
      line(`${this.name}_bucket`, 'le="+Inf"', this.count),
      line(`${this.name}_sum`, "", this.sum),
      line(`${this.name}_count`, "", this.count),
    ];
  }
}

/** A gauge read when /metrics is scraped. */
export function gauge(name: string, help: string, value: number): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, line(name, "", value)];
}

/** The last `limit` values of a series that would otherwise grow with every request. */
export function keepRecent<T>(series: T[], value: T, limit = 1024): void {
  series.push(value);
  if (series.length > limit) series.splice(0, series.length - limit);
}

/** What the server counts; the gauges are read from the scheduler and the cache when scraped. */
export class ServingMetrics {
  readonly requests = new Counter("openlora_requests_total", "HTTP requests answered, by route and status");
  readonly promptTokens = new Counter("openlora_prompt_tokens_total", "prompt tokens of the completions served");
  readonly generationTokens = new Counter("openlora_generation_tokens_total", "tokens delivered to clients");
  readonly streamsCut = new Counter("openlora_streams_cut_total", "generations cancelled because the client disconnected");
  readonly latency = new Histogram("openlora_request_latency_seconds", "completion requests, arrival to last byte", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
  readonly firstToken = new Histogram("openlora_time_to_first_token_seconds", "completion requests, arrival to first generated token", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
}
