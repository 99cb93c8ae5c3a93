/**
 * Every way an HDF5 scan file is refused, as one coded error class (docs/formats.md lists what each layout needs).
 * The message names the file, the object inside it, what was found and what was expected.
 */
import { CodedError } from '../util/coded-error.ts';

/** Closed set of reasons a scan file is refused. */
export const FILE_ERROR_CODES = [
  'LS_FILE_NOT_FOUND',
  'LS_FILE_NOT_HDF5',
  'LS_FILE_UNREADABLE',
  'LS_FILE_LAYOUT',
  'LS_FILE_MISSING',
  'LS_FILE_SHAPE',
  'LS_FILE_FILTER',
  'LS_FILE_VERSION',
  'LS_FILE_EXISTS',
  // a recording could not be created or written (disk full, read-only folder, file-size limit): src/store/write-failure.ts
  'LS_FILE_WRITE',
  // a file name built from a scan id would leave data.dir: src/store/scan-paths.ts
  'LS_FILE_PATH',
  // issue 12: a dataset of the wrong type (text where numbers belong), USID positions that do not place each pixel
  // once, data reached through an external link or a virtual dataset in another file
  'LS_FILE_DTYPE',
  'LS_FILE_POSITIONS',
  'LS_FILE_EXTERNAL',
] as const;
export type FileErrorCode = (typeof FILE_ERROR_CODES)[number];

/** A scan file that cannot be read (or written) as asked; never garbage returned in its place. */
export class FileFormatError extends CodedError<FileErrorCode> {
  override readonly name = 'FileFormatError';
  constructor(
    code: FileErrorCode,
    message: string,
    readonly path?: string,
  ) {
    super(code, message);
  }
}
