import type { FastifyRequest } from 'fastify';
import { TripletjsInputError } from '../common/errors.js';
import { decodeImage, type DecodedImage } from '../data/image-file.js';
import type { ImageFormat } from '../data/image-format.js';
import { ServiceError } from './errors.js';

/** A file part of a multipart request, as sent. */
export interface UploadedFile {
  readonly field: string;
  /** Its file name, or the field's name when it has none. */
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** A multipart request read whole: its files and its text fields, by field name. */
export interface Upload {
  readonly files: ReadonlyMap<string, UploadedFile[]>;
  readonly fields: ReadonlyMap<string, string[]>;
}

/**
 * Reads a multipart request: file parts are kept as bytes (decoded when used, so that an image
 * that is only embedded is brought to the model's input as it is decoded); text fields are kept
 * by name. Size and count limits are the multipart plugin's (413).
 */
export async function readUpload(request: FastifyRequest): Promise<Upload> {
  if (!request.isMultipart()) throw new ServiceError(415, 'unsupported_media_type', 'send the images as multipart/form-data');
  const files = new Map<string, UploadedFile[]>();
  const fields = new Map<string, string[]>();
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      const bytes = await part.toBuffer();
      const file = { field: part.fieldname, name: part.filename || part.fieldname, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
      files.set(part.fieldname, [...(files.get(part.fieldname) ?? []), file]);
    } else {
      fields.set(part.fieldname, [...(fields.get(part.fieldname) ?? []), String(part.value)]);
    }
  }
  return { files, fields };
}

/**
 * Decodes an uploaded image, transparency flattened on `background`, brought to `format` in the
 * same pass when one is given. A file that is not an image, or is truncated, is a 400 naming the field.
 */
export async function decodeUpload(file: UploadedFile, background: string, format?: ImageFormat): Promise<DecodedImage> {
  try {
    return await decodeImage(file.bytes, file.name, format, background);
  } catch (error) {
    if (error instanceof TripletjsInputError) throw new ServiceError(400, 'invalid_image', `${file.field}: ${error.message}`);
    throw error;
  }
}

/** The one file of `field`, or a 400 saying it is missing or given twice. */
export function oneFile(upload: Upload, field: string): UploadedFile {
  const files = upload.files.get(field) ?? [];
  if (files.length !== 1) throw new ServiceError(400, 'invalid_request', files.length === 0 ? `the image field '${field}' is missing` : `give one image in '${field}', not ${files.length}`);
  return files[0]!;
}

/** The one value of a text field, or undefined; a 400 when it is given twice. */
export function oneField(upload: Upload, field: string): string | undefined {
  const values = upload.fields.get(field) ?? [];
  if (values.length > 1) throw new ServiceError(400, 'invalid_request', `give '${field}' once`);
  return values[0];
}
