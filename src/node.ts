// attrib/node: loaders that read the file system (Node only).
export { loadModel, readModelArtifacts } from './io/load-model.js';
export type { LoadModelOptions, ModelFileLimits } from './io/load-model.js';
export { fromOnnx } from './models/onnx/node.js';
export type { OnnxLoadOptions } from './models/onnx/node.js';
export { decodeImage, encodePng } from './io/image.js';
export type { ImageData01 } from './io/image.js';
export { ScoreCache } from './context/cache.js';
export { loadTransformer } from './io/load-transformer.js';
export type { LoadTransformerOptions } from './io/load-transformer.js';
export { loadTokenizer } from './io/load-tokenizer.js';
export { readSafetensorsFolder } from './io/safetensors-folder.js';
// dataset jobs: resumable runs over a dataset into a queryable results store (docs/jobs.md)
export { listDataset, DatasetReader, MAX_DATASET_FILE_BYTES, MAX_DATASET_ITEMS } from './jobs/dataset.js';
export type { Dataset, DatasetItem, ImageReader } from './jobs/dataset.js';
export { runJob, workItems, topFeatures, computeItem } from './jobs/run-job.js';
export type { Job, LocalJob, JobSummary, WorkItem } from './jobs/run-job.js';
export { ResultStore, metricColumn } from './jobs/store.js';
export type { ResultRow } from './jobs/store.js';
export { JobSettingsError, modelDigest } from './jobs/settings.js';
export type { JobSettings } from './jobs/settings.js';
export { JOB_METRICS, parseJobMetrics, scoreMetric } from './jobs/metrics.js';
export type { JobMetric, MetricContext } from './jobs/metrics.js';
export { storeReport, renderStoreReport } from './jobs/report.js';
export type { StoreReport, MetricSummary } from './jobs/report.js';
export { exportStore } from './jobs/export.js';
export type { ExportEntry } from './jobs/export.js';
export { runQueued, runWorker, queueStatus, connectionOf, rowToJson, rowFromJson, QUEUE_NAME } from './jobs/queue.js';
export type { QueuedItem } from './jobs/queue.js';
