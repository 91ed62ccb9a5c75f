import { tf } from '../tf.js';

/** The attributes of a convolution kernel that decide its geometry. */
export interface ConvGeometryAttrs {
  strides: number | [number, number];
  pad: tf.Conv2DAttrs['pad'];
  dataFormat?: string;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The geometry of an NHWC convolution (dense, or depthwise) of `xShape` by `filterShape`, as tfjs computes it; undefined for NCHW. */
export function nhwcConvInfo(xShape: readonly number[], filterShape: readonly number[], attrs: ConvGeometryAttrs, depthwise = false): tf.backend_util.Conv2DInfo | undefined {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return undefined;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}
