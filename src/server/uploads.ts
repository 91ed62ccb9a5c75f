import type { FastifyRequest } from 'fastify';
import { TripletjsInputError } from '../common/errors.js';
import { decodeImage, type DecodedImage } from '../data/image-file.js';
import { ServiceError } from './errors.js';

/** A multipart request read whole: its files by field, decoded as images, and its text fields. */
export interface Upload {
  readonly images: ReadonlyMap<string, Array<{ readonly name: string; readonly image: DecodedImage }>>;
  readonly fields: ReadonlyMap<string, string[]>;
}

/**
 * Reads a multipart request: every file part is decoded as an image, transparency flattened on
 * `background` (a file that is not one, or is truncated, is a 400 naming the part); text fields
 * are kept by name. Size and count limits
 * are the multipart plugin's (413).
 */
export async function readUpload(request: FastifyRequest, background: string): Promise<Upload> {
  if (!request.isMultipart()) throw new ServiceError(415, 'unsupported_media_type', 'send the images as multipart/form-data');
  const images = new Map<string, Array<{ name: string; image: DecodedImage }>>();
  const fields = new Map<string, string[]>();
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      const bytes = await part.toBuffer();
      const name = part.filename || part.fieldname;
      let image: DecodedImage;
      try {
        image = await decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), name, undefined, background);
      } catch (error) {
        if (error instanceof TripletjsInputError) throw new ServiceError(400, 'invalid_image', `${part.fieldname}: ${error.message}`);
        throw error;
      }
      images.set(part.fieldname, [...(images.get(part.fieldname) ?? []), { name, image }]);
    } else {
      fields.set(part.fieldname, [...(fields.get(part.fieldname) ?? []), String(part.value)]);
    }
  }
  return { images, fields };
}

/** The one image of `field`, or a 400 saying it is missing or given twice. */
export function oneImage(upload: Upload, field: string): { name: string; image: DecodedImage } {
  const files = upload.images.get(field) ?? [];
  if (files.length !== 1) throw new ServiceError(400, 'invalid_request', files.length === 0 ? `the image field '${field}' is missing` : `give one image in '${field}', not ${files.length}`);
  return files[0]!;
}

/** The one value of a text field, or undefined; a 400 when it is given twice. */
export function oneField(upload: Upload, field: string): string | undefined {
  const values = upload.fields.get(field) ?? [];
  if (values.length > 1) throw new ServiceError(400, 'invalid_request', `give '${field}' once`);
  return values[0];
}
