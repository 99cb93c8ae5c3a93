/** The alerts stage: scores, regions, the per-scan AlertEngine, sinks, reference statistics and the results table. */
export * from './types.ts';
export { AlertEngine, minStrongFor, thresholdRatio, type AlertEngineStats, type AlertMapsView, type AlertScanInfo } from './alert-engine.ts';
export { RegionLabeler, type RegionMerge } from './regions.ts';
export { RunningMedianMad, errorZ, knnDistance, knnModel, knnZ, lofRatio, latentZ, latentModel, mahalanobis2, medianMad, quantiles, referenceFromEncodings, robustZ, latentScorer, type KnnModel, type LatentModel, type LatentScorer } from './scores.ts';
export { alertsToTable, REASON_CODE, type AlertsTable } from './alerts-table.ts';
export { ALERTS_REFERENCE_FILE, loadAlertsReference, modelSha256, saveAlertsReference, tryLoadAlertsReference } from './reference.ts';
export { AlertsError, ALERTS_ERROR_CODES, type AlertsErrorCode } from './errors.ts';
export { createAlertSinks, closeAlertSinks, type AlertSinks } from './sinks/create-sinks.ts';
export { FanOut, fanOut, type SinkFailed } from './sinks/fan-out.ts';
export { DashboardSink, type DashboardSinkEvents } from './sinks/dashboard.ts';
export { ZmqPubSink, type ZmqPubSinkOptions } from './sinks/zmq-pub.ts';
export { JsonlSink } from './sinks/jsonl.ts';
export { WebhookSink, WebhookError, type WebhookSinkOptions, type WebhookStats } from './sinks/webhook.ts';
export { bboxIoU, evaluateAlerts, type AlertQuality, type EvaluateOptions, type TruthMaps } from './evaluate.ts';
export { checkCalibrationScans, writeCalibration, type CalibrationMaps } from './calibrate.ts';
