/** Coded errors of the alerts stage (docs/alerts.md lists each code with its fix). */
import { CodedError } from '../util/coded-error.ts';

/** Closed set of alerts error codes. */
export const ALERTS_ERROR_CODES = ['LS_ALERTS_REFERENCE_MISSING', 'LS_ALERTS_REFERENCE_INVALID', 'LS_ALERTS_REFERENCE_STALE', 'LS_ALERTS_CALIBRATION'] as const;
export type AlertsErrorCode = (typeof ALERTS_ERROR_CODES)[number];

/** Something about alert scoring cannot work as configured; the message names the file and the fix. */
export class AlertsError extends CodedError<AlertsErrorCode> {
  override readonly name = 'AlertsError';
  constructor(
    code: AlertsErrorCode,
    message: string,
    readonly path?: string,
  ) {
    super(code, message);
  }
}
