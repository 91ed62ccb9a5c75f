import { require } from '../common/errors.js';

/**
 * How an image of another shape is brought to a size: `'cover'` scales it to cover the size and
 * crops the centre, `'contain'` scales it to fit inside and pads (letterbox) with the background,
 * `'fill'` stretches it (aspect ratio lost).
 */
export type ImageFit = 'cover' | 'contain' | 'fill';

/** The fit and the colour under transparent pixels and letterbox bars. */
export interface ImageFitting {
  readonly fit: ImageFit;
  /** A CSS-style `#rrggbb` colour. */
  readonly background: string;
}

/**
 * The default: keep the aspect ratio by cropping the centre (faces and objects sit in the middle
 * of a photo far more often than at its edge), and white under transparency, as a transparent
 * drawing or document is meant to be seen on a page.
 */
export const DEFAULT_FITTING: ImageFitting = { fit: 'cover', background: '#ffffff' };

/** A size and channel count to bring an image to, and how. */
export interface ImageFormat extends ImageFitting {
  readonly height: number;
  readonly width: number;
  /** 1 = grey (RGB converted by BT.601 luma), 3 = RGB (grey repeated); absent: grey when R = G = B everywhere, else RGB. */
  readonly channels?: 1 | 3;
}

/** File name extensions the folder loader and `embed` pick up (lower case). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.pgm', '.webp', '.tif', '.tiff', '.avif', '.gif'];

const FITS: readonly ImageFit[] = ['cover', 'contain', 'fill'];

/** Checks a fit and a background colour, with errors naming the bad value. */
export function checkFitting(fitting: Partial<ImageFitting>): ImageFitting {
  const fit = fitting.fit ?? DEFAULT_FITTING.fit;
  const background = fitting.background ?? DEFAULT_FITTING.background;
  require(FITS.includes(fit), () => `fit must be one of ${FITS.join(', ')}, got '${String(fit)}'`);
  require(typeof background === 'string' && /^#[0-9a-f]{6}$/i.test(background), () => `background must be a colour #rrggbb, got '${String(background)}'`);
  return { fit, background: background.toLowerCase() };
}
