import { TripletjsInputError } from '../common/errors.js';

/** An error answered with its own status and `{ error: { code, message } }`. */
export class ServiceError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ServiceError';
    this.status = status;
    this.code = code;
  }
}

/** The body of every error response. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** Fastify's and its plugins' error codes, as this service names them. */
const FRAMEWORK_CODES: Readonly<Record<string, [number, string]>> = {
  FST_ERR_VALIDATION: [400, 'invalid_request'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid_json'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid_json'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large'],
  FST_REQ_FILE_TOO_LARGE: [413, 'payload_too_large'],
  FST_FILES_LIMIT: [413, 'payload_too_large'],
  FST_PARTS_LIMIT: [413, 'payload_too_large'],
  FST_FIELDS_LIMIT: [413, 'payload_too_large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, 'unsupported_media_type'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid_request'],
};

/**
 * The status and body an error is answered with: a {@link ServiceError} as it says, bad input
 * found by the library (`TripletjsInputError`) as 400, the framework's own request errors by their
 * codes, anything else as 500 without its details.
 */
export function errorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof ServiceError) return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  if (error instanceof TripletjsInputError) return { status: 400, body: { error: { code: 'invalid_request', message: error.message } } };
  const code = (error as { code?: string }).code;
  const known = code !== undefined ? FRAMEWORK_CODES[code] : undefined;
  if (known) return { status: known[0], body: { error: { code: known[1], message: (error as Error).message } } };
  const status = (error as { statusCode?: number }).statusCode;
  if (status !== undefined && status >= 400 && status < 500) return { status, body: { error: { code: 'invalid_request', message: (error as Error).message } } };
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } } };
}
