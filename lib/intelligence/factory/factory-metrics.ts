import type { Model } from "../models/types.js";
import type { FactorySpec } from "./factory-spec.js";

/** What a Factory run measured: losses and accuracies before and after, throughput, memory; written as metrics.json and read by the model card. */
export interface FactoryMetrics {
  base: { test_loss: number; test_accuracy: number };
  final: { test_loss: number; test_accuracy: number; validation_loss: number; validation_accuracy: number };
  history: Array<{ step: number; loss: number; lr: number }>;
  evals: Array<{ step: number; validation_loss: number; validation_accuracy: number; test_loss: number; test_accuracy: number }>;
  trainable_params: number;
  total_params: number;
  trainable_fraction: number;
  steps: number;
  batch_size: number;
  seconds: number;
  examples_per_second: number;
  /** Model FLOPs per second: 3 × forward FLOPs per example × examples/s (forward + backward). */
  model_gflops_per_second: number;
  /** Tensor memory training adds over the loaded base model: trainable weights, optimizer
   *  state, gradients and the batch, at their peak (measured with the gradients held). */
  training_tensor_bytes: number;
  backend: string;
  resumed_from_step: number | null;
}

/** What the training loop measured, for the metrics. */
export interface TrainingRecord {
  history: FactoryMetrics["history"];
  evals: FactoryMetrics["evals"];
  final: FactoryMetrics["evals"][number];
  base: { loss: number; accuracy: number };
  /** Seconds of every call, and of the calls before this one (a resumed run). */
  seconds: number;
  secondsBefore: number;
  resumedFrom: number | null;
  peakTrainingBytes: number;
}

/**
 * The run's metrics. Throughput counts only the steps of this call over its own seconds, so a
 * resumed run reports the speed it trained at, not an average over the pause.
 */
export function factoryMetrics(spec: FactorySpec, model: Model, totalSteps: number, params: { trainable: number; total: number }, record: TrainingRecord, backend: string): FactoryMetrics {
  const examplesPerSecond = ((totalSteps - (record.resumedFrom ?? 0)) * spec.training.batch_size) / Math.max(1e-9, record.seconds - record.secondsBefore);
  const f = record.final;
  return {
    base: { test_loss: record.base.loss, test_accuracy: record.base.accuracy },
    final: { test_loss: f.test_loss, test_accuracy: f.test_accuracy, validation_loss: f.validation_loss, validation_accuracy: f.validation_accuracy },
    history: record.history,
    evals: record.evals,
    trainable_params: params.trainable,
    total_params: params.total,
    trainable_fraction: params.trainable / params.total,
    steps: totalSteps,
    batch_size: spec.training.batch_size,
    seconds: record.seconds,
    examples_per_second: examplesPerSecond,
    model_gflops_per_second: (3 * model.flopsPerExample() * examplesPerSecond) / 1e9,
    training_tensor_bytes: record.peakTrainingBytes,
    backend,
    resumed_from_step: record.resumedFrom,
  };
}
