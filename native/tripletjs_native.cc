// tripletjs native kernels: matrix products, NHWC convolutions (dense and depthwise) with both gradients, and the
// max-pool gradient, on OpenBLAS, for TensorFlow.js's wasm backend.
//
// The JavaScript side (src/engine/native-kernels.ts) passes Float32Array views of the wasm heap:
// the inputs of a kernel and its freshly allocated output. This file reads and writes them in
// place, so no tensor is copied between the wasm heap and native memory. Every length is checked
// against the geometry before anything is written: a wrong size would otherwise corrupt other
// tensors on the heap.
//
// Convolutions run in oneDNN when the addon is built with it (dnnl_conv.cc). Otherwise, and for
// geometries oneDNN refuses, they are im2col (or col2im) plus one sgemm per chunk of whole
// images. A chunk's column matrix stays below kChunkFloats, so it is reused from one scratch
// buffer (no allocation and no page faults per call) and stays partly in cache; the gather and
// scatter run on the same threads as OpenBLAS, split by image.
#include <cmath>
#include <cstring>

#include "dnnl_conv.h"
#include "metric_kernels.h"
#include "native_support.h"

namespace {

using namespace tripletjs;

// Largest im2col chunk, in floats (8 MiB): big enough for sgemm to run at full speed, small
// enough to stay near the caches and to keep the scratch buffer modest.
constexpr int64_t kChunkFloats = int64_t{1} << 21;

std::vector<float> g_scratch;

float* scratch(int64_t floats) {
  if (static_cast<int64_t>(g_scratch.size()) < floats) g_scratch.resize(static_cast<size_t>(floats));
  return g_scratch.data();
}

// ---------------------------------------------------------------------------------------------
// Bias and activation
// ---------------------------------------------------------------------------------------------

enum Activation { kLinear = 0, kRelu = 1 };

// out[r, j] = act(in[r, j] + bias[j or 0]) for rows [0, rows) of width `width`; in may be out.
void bias_activation(const float* in, float* out, int64_t rows, int64_t width, const float* bias, int64_t bias_length, int activation) {
  if (in == out && bias == nullptr && activation == kLinear) return;
  parallel_for(rows, width, [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* src = in + r * width;
      float* dst = out + r * width;
      // Separate loops, so that each vectorises.
      if (bias == nullptr) {
        if (src != dst) std::copy(src, src + width, dst);
      } else if (bias_length == 1) {
        for (int64_t j = 0; j < width; ++j) dst[j] = src[j] + bias[0];
      } else {
        for (int64_t j = 0; j < width; ++j) dst[j] = src[j] + bias[j];
      }
      if (activation == kRelu) {
        // As the cpu backend: negatives to 0, NaN kept.
        for (int64_t j = 0; j < width; ++j) dst[j] = dst[j] < 0.0f ? 0.0f : dst[j];
      }
    }
  });
}

// Reads the optional bias (argument i, length `width` or 1) and activation (argument i + 1).
bool read_epilogue(Args& args, size_t i, int64_t width, const float** bias, int64_t* bias_length, int* activation) {
  *bias = nullptr;
  *bias_length = 0;
  if (!args.is_nullish(i)) {
    *bias = static_cast<const float*>(args.typed(i, napi_float32_array, -1, "bias", bias_length));
    if (*bias != nullptr && *bias_length != width && *bias_length != 1) args.fail("bias", "must have one value or one per column");
  }
  *activation = args.int32(i + 1, "activation");
  if (!args.failed && *activation != kLinear && *activation != kRelu) args.fail("activation", "must be 0 (linear) or 1 (relu)");
  return !args.failed;
}

// ---------------------------------------------------------------------------------------------
// Matrix products
// ---------------------------------------------------------------------------------------------

// matMul(a, b, out, dims, bias, activation): out[i] = act(op(a[i % batchA]) · op(b[i % batchB]) + bias)
// for i < batch, with dims = [batch, batchA, batchB, m, n, k, transposeA, transposeB] (row-major, as
// tfjs's BatchMatMul kernels index broadcast batches).
napi_value MatMul(napi_env env, napi_callback_info info) {
  Args args(env, info, "matMul");
  const int32_t* dims = args.ints(3, 8, "dims");
  if (dims == nullptr) return nullptr;
  const int64_t batch = dims[0], batch_a = dims[1], batch_b = dims[2], m = dims[3], n = dims[4], k = dims[5];
  const bool trans_a = dims[6] != 0, trans_b = dims[7] != 0;
  if (batch_a < 1 || batch_b < 1 || batch != std::max(batch_a, batch_b)) {
    args.fail("dims", "have inconsistent batch sizes");
    return nullptr;
  }
  const float* a = args.floats(0, batch_a * m * k, "a");
  const float* b = args.floats(1, batch_b * k * n, "b");
  float* out = args.floats(2, batch * m * n, "out");
  const float* bias;
  int64_t bias_length;
  int activation;
  if (!read_epilogue(args, 4, n, &bias, &bias_length, &activation)) return nullptr;
  if (batch * m * n == 0) return nullptr;
  if (k == 0) {
    std::fill(out, out + batch * m * n, 0.0f);
  } else if (!trans_a && batch_b == 1) {
    // Every a against the same b: one tall product, which OpenBLAS splits across threads well.
    gemm(false, trans_b, batch * m, n, k, a, b, 0.0f, out);
  } else {
    for (int64_t i = 0; i < batch; ++i) {
      gemm(trans_a, trans_b, m, n, k, a + (i % batch_a) * m * k, b + (i % batch_b) * k * n, 0.0f, out + i * m * n);
    }
  }
  bias_activation(out, out, batch * m, n, bias, bias_length, activation);
  return nullptr;
}

// matVec(a, x, out, rows, cols): out = a · x for a row-major rows × cols matrix: the scan of a
// gallery's vectors against one query. A product with one column is bound by memory, not flops:
// sgemv on every thread streams the matrix once (sgemm with n = 1 is a thin product, one thread).
napi_value MatVec(napi_env env, napi_callback_info info) {
  Args args(env, info, "matVec");
  const int64_t rows = args.int32(3, "rows"), cols = args.int32(4, "cols");
  if (args.failed) return nullptr;
  if (rows < 0 || cols < 1) {
    args.fail("rows and cols", "must be >= 0 and >= 1");
    return nullptr;
  }
  const float* a = args.floats(0, rows * cols, "a");
  const float* x = args.floats(1, cols, "x");
  float* out = args.floats(2, rows, "out");
  if (args.failed || rows == 0) return nullptr;
  // Reading 4 MiB or more, a second thread adds memory bandwidth; below, waking it costs more.
  const int threads = rows * cols >= (int64_t{1} << 20) ? g_threads : 1;
  if (threads != g_blas_threads) {
    openblas_set_num_threads(threads);
    g_blas_threads = threads;
  }
  cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(rows), static_cast<int>(cols), 1.0f, a, static_cast<int>(cols), x, 1, 0.0f, out, 1);
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Convolutions (NHWC; filter [KH, KW, Ci, Co])
// ---------------------------------------------------------------------------------------------

// The geometry's fields are ConvShape's (dnnl_conv.h), so oneDNN takes a Conv as it is.
struct Conv : ConvShape {
  int64_t patch() const { return kh * kw * c; }
  int64_t pixels() const { return oh * ow; }
  // A 1×1, stride-1, unpadded convolution is a plain product: no im2col.
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w; }
  // Images per im2col chunk.
  int64_t chunk() const { return std::max<int64_t>(1, kChunkFloats / std::max<int64_t>(1, pixels() * patch())); }
};

// geometry = [N, H, W, Ci, OH, OW, Co, KH, KW, strideH, strideW, padTop, padLeft, dilationH, dilationW].
bool read_conv(Args& args, size_t i, Conv* g) {
  const int32_t* v = args.ints(i, 15, "geometry");
  if (v == nullptr) return false;
  *g = Conv{{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]}};
  if (g->kh < 1 || g->kw < 1 || g->sh < 1 || g->sw < 1 || g->dh < 1 || g->dw < 1) {
    args.fail("geometry", "needs filter sizes, strides and dilations of at least 1");
    return false;
  }
  return true;
}

// The tensors of a convolution, by their role in the forward pass.
enum Role { kImages, kFilter, kResponses };

int64_t size_of(const Conv& g, Role role) {
  return role == kImages ? g.n * g.h * g.w * g.c : role == kFilter ? g.kh * g.kw * (g.c / g.groups) * g.co : g.n * g.pixels() * g.co;
}

// Reads the geometry (argument 3) and the three Float32Arrays before it, whose roles give their
// sizes: images like x or dx, the filter or dW, responses like y or dy.
bool read_conv_arrays(Args& args, Conv* g, const Role (&roles)[3], const char* const (&names)[3], float* (&arrays)[3]) {
  if (!read_conv(args, 3, g)) return false;
  for (size_t i = 0; i < 3; ++i) arrays[i] = args.floats(i, size_of(*g, roles[i]), names[i]);
  return !args.failed;
}

// cols[p, (kh, kw, ci)] = x[oh·sh + kh·dh − pt, ow·sw + kw·dw − pl, ci] for the pixels p = (oh, ow)
// of one image, 0 outside it.
void im2col_image(const Conv& g, const float* x, float* cols) {
  const size_t channel_bytes = static_cast<size_t>(g.c) * sizeof(float);
  float* dst = cols;
  for (int64_t oh = 0; oh < g.oh; ++oh) {
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      const int64_t iw0 = ow * g.sw - g.pl;
      const bool row_inside = g.dw == 1 && iw0 >= 0 && iw0 + g.kw <= g.w;
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t ih = oh * g.sh + kh * g.dh - g.pt;
        if (ih < 0 || ih >= g.h) {
          std::memset(dst, 0, channel_bytes * g.kw);
        } else if (row_inside) {
          std::memcpy(dst, x + (ih * g.w + iw0) * g.c, channel_bytes * g.kw);
        } else {
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            const int64_t iw = iw0 + kw * g.dw;
            if (iw < 0 || iw >= g.w) std::memset(dst + kw * g.c, 0, channel_bytes);
            else std::memcpy(dst + kw * g.c, x + (ih * g.w + iw) * g.c, channel_bytes);
          }
        }
        dst += g.kw * g.c;
      }
    }
  }
}

// dx[ih, iw, ci] = Σ cols[p, (kh, kw, ci)] over the (pixel, tap) pairs that read (ih, iw): the
// adjoint of im2col_image, for one image.
void col2im_image(const Conv& g, const float* cols, float* dx) {
  std::fill(dx, dx + g.h * g.w * g.c, 0.0f);
  const float* src = cols;
  for (int64_t oh = 0; oh < g.oh; ++oh) {
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t ih = oh * g.sh + kh * g.dh - g.pt;
        for (int64_t kw = 0; kw < g.kw; ++kw, src += g.c) {
          const int64_t iw = ow * g.sw + kw * g.dw - g.pl;
          if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
          float* d = dx + (ih * g.w + iw) * g.c;
          for (int64_t ci = 0; ci < g.c; ++ci) d[ci] += src[ci];
        }
      }
    }
  }
}

// The column matrix of images [first, first + count), gathered on all threads.
float* gather(const Conv& g, const float* x, int64_t first, int64_t count) {
  float* cols = scratch(count * g.pixels() * g.patch());
  parallel_for(count, g.pixels() * g.patch(), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) im2col_image(g, x + (first + b) * g.h * g.w * g.c, cols + b * g.pixels() * g.patch());
  });
  return cols;
}

// conv2d(x, filter, out, geometry, bias, activation): out = act(conv(x, filter) + bias).
napi_value Conv2D(napi_env env, napi_callback_info info) {
  Args args(env, info, "conv2d");
  Conv g;
  float* a[3];
  if (!read_conv_arrays(args, &g, {kImages, kFilter, kResponses}, {"x", "filter", "out"}, a)) return nullptr;
  const auto [x, filter, out] = a;
  const float* bias;
  int64_t bias_length;
  int activation;
  if (!read_epilogue(args, 4, g.co, &bias, &bias_length, &activation)) return nullptr;
  if (size_of(g, kResponses) == 0) return nullptr;
  // oneDNN takes a bias of one value per channel; a single broadcast value goes the sgemm way.
  if ((bias == nullptr || bias_length == g.co) && dnnl_conv_forward(g, x, filter, bias, activation == kRelu, out)) return nullptr;
  if (g.pointwise()) {
    gemm(false, false, g.n * g.pixels(), g.co, g.c, x, filter, 0.0f, out);
    bias_activation(out, out, g.n * g.pixels(), g.co, bias, bias_length, activation);
    return nullptr;
  }
  for (int64_t first = 0; first < g.n; first += g.chunk()) {
    const int64_t count = std::min(g.chunk(), g.n - first);
    const float* cols = gather(g, x, first, count);
    float* chunk_out = out + first * g.pixels() * g.co;
    gemm(false, false, count * g.pixels(), g.co, g.patch(), cols, filter, 0.0f, chunk_out);
    bias_activation(chunk_out, chunk_out, count * g.pixels(), g.co, bias, bias_length, activation);
  }
  return nullptr;
}

// conv2dBackpropInput(dy, filter, dx, geometry): dx = col2im(dy · filterᵀ).
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  Args args(env, info, "conv2dBackpropInput");
  Conv g;
  float* a[3];
  if (!read_conv_arrays(args, &g, {kResponses, kFilter, kImages}, {"dy", "filter", "dx"}, a)) return nullptr;
  const auto [dy, filter, dx] = a;
  if (size_of(g, kImages) == 0) return nullptr;
  if (dnnl_conv_backward_data(g, dy, filter, dx)) return nullptr;
  if (g.pointwise()) {
    gemm(false, true, g.n * g.pixels(), g.c, g.co, dy, filter, 0.0f, dx);
    return nullptr;
  }
  for (int64_t first = 0; first < g.n; first += g.chunk()) {
    const int64_t count = std::min(g.chunk(), g.n - first);
    float* cols = scratch(count * g.pixels() * g.patch());
    if (g.co == 0) {
      std::fill(cols, cols + count * g.pixels() * g.patch(), 0.0f);
    } else {
      gemm(false, true, count * g.pixels(), g.patch(), g.co, dy + first * g.pixels() * g.co, filter, 0.0f, cols);
    }
    parallel_for(count, g.pixels() * g.patch(), [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) col2im_image(g, cols + b * g.pixels() * g.patch(), dx + (first + b) * g.h * g.w * g.c);
    });
  }
  return nullptr;
}

// conv2dBackpropFilter(x, dy, dw, geometry): dw = Σ over chunks of im2col(x)ᵀ · dy.
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  Args args(env, info, "conv2dBackpropFilter");
  Conv g;
  float* a[3];
  if (!read_conv_arrays(args, &g, {kImages, kResponses, kFilter}, {"x", "dy", "dw"}, a)) return nullptr;
  const auto [x, dy, dw] = a;
  if (size_of(g, kFilter) == 0) return nullptr;
  if (g.n * g.pixels() == 0) {
    std::fill(dw, dw + g.patch() * g.co, 0.0f);
  } else if (dnnl_conv_backward_weights(g, x, dy, dw)) {
    return nullptr;
  } else if (g.pointwise()) {
    gemm(true, false, g.c, g.co, g.n * g.pixels(), x, dy, 0.0f, dw);
  } else {
    for (int64_t first = 0; first < g.n; first += g.chunk()) {
      const int64_t count = std::min(g.chunk(), g.n - first);
      const float* cols = gather(g, x, first, count);
      gemm(true, false, g.patch(), g.co, count * g.pixels(), cols, dy + first * g.pixels() * g.co, first == 0 ? 0.0f : 1.0f, dw);
    }
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolutions (filter [KH, KW, Ci, M], Co = Ci × M): oneDNN's grouped convolution when
// the addon has it, else direct loops (each output channel reads one input channel: too thin a
// product for im2col + sgemm). Output channel o = ci × M + j reads input channel o / M.
// ---------------------------------------------------------------------------------------------

// As read_conv_arrays, for a depthwise geometry: Co a multiple of Ci, the groups set to Ci.
bool read_depthwise_arrays(Args& args, Conv* g, const Role (&roles)[3], const char* const (&names)[3], float* (&arrays)[3]) {
  if (!read_conv(args, 3, g)) return false;
  if (g->c < 1 || g->co % g->c != 0) {
    args.fail("geometry", "needs output channels that are a multiple of the input channels");
    return false;
  }
  g->groups = g->c;
  for (size_t i = 0; i < 3; ++i) arrays[i] = args.floats(i, size_of(*g, roles[i]), names[i]);
  return !args.failed;
}

// Calls visit(pixel, tap, input offset) for every (output pixel, filter tap) pair of one image
// that reads inside it; offsets are in pixels, to be multiplied by the channel count.
template <typename Visit>
void for_each_tap(const Conv& g, const Visit& visit) {
  for (int64_t oh = 0; oh < g.oh; ++oh) {
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t ih = oh * g.sh + kh * g.dh - g.pt;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t kw = 0; kw < g.kw; ++kw) {
          const int64_t iw = ow * g.sw + kw * g.dw - g.pl;
          if (iw >= 0 && iw < g.w) visit(oh * g.ow + ow, kh * g.kw + kw, ih * g.w + iw);
        }
      }
    }
  }
}

// depthwiseConv2d(x, filter, out, geometry): out[p, o] = Σ taps x[p + tap, o / M] · filter[tap, o].
napi_value DepthwiseConv2D(napi_env env, napi_callback_info info) {
  Args args(env, info, "depthwiseConv2d");
  Conv g;
  float* a[3];
  if (!read_depthwise_arrays(args, &g, {kImages, kFilter, kResponses}, {"x", "filter", "out"}, a)) return nullptr;
  const auto [x, filter, out] = a;
  if (size_of(g, kResponses) == 0 || dnnl_conv_forward(g, x, filter, nullptr, false, out)) return nullptr;
  const int64_t m = g.co / g.c;
  parallel_for(g.n, g.pixels() * g.co * g.kh * g.kw, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const float* image = x + b * g.h * g.w * g.c;
      float* y = out + b * g.pixels() * g.co;
      std::fill(y, y + g.pixels() * g.co, 0.0f);
      for_each_tap(g, [&](int64_t p, int64_t t, int64_t q) {
        const float* in = image + q * g.c;
        const float* f = filter + t * g.co;
        float* o = y + p * g.co;
        for (int64_t k = 0; k < g.co; ++k) o[k] += in[k / m] * f[k];
      });
    }
  });
  return nullptr;
}

// depthwiseConv2dBackpropInput(dy, filter, dx, geometry): dx[q, c] = Σ (p, tap) reading q, j dy[p, c·M + j] · filter[tap, c·M + j].
napi_value DepthwiseConv2DBackpropInput(napi_env env, napi_callback_info info) {
  Args args(env, info, "depthwiseConv2dBackpropInput");
  Conv g;
  float* a[3];
  if (!read_depthwise_arrays(args, &g, {kResponses, kFilter, kImages}, {"dy", "filter", "dx"}, a)) return nullptr;
  const auto [dy, filter, dx] = a;
  if (size_of(g, kImages) == 0 || dnnl_conv_backward_data(g, dy, filter, dx)) return nullptr;
  const int64_t m = g.co / g.c;
  parallel_for(g.n, g.pixels() * g.co * g.kh * g.kw, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const float* d = dy + b * g.pixels() * g.co;
      float* image = dx + b * g.h * g.w * g.c;
      std::fill(image, image + g.h * g.w * g.c, 0.0f);
      for_each_tap(g, [&](int64_t p, int64_t t, int64_t q) {
        const float* dp = d + p * g.co;
        const float* f = filter + t * g.co;
        float* in = image + q * g.c;
        for (int64_t k = 0; k < g.co; ++k) in[k / m] += dp[k] * f[k];
      });
    }
  });
  return nullptr;
}

// depthwiseConv2dBackpropFilter(x, dy, dw, geometry): dw[tap, o] = Σ images, pixels x[p + tap, o / M] · dy[p, o].
// Each thread owns a range of taps, so that no two write the same gradient.
napi_value DepthwiseConv2DBackpropFilter(napi_env env, napi_callback_info info) {
  Args args(env, info, "depthwiseConv2dBackpropFilter");
  Conv g;
  float* a[3];
  if (!read_depthwise_arrays(args, &g, {kImages, kResponses, kFilter}, {"x", "dy", "dw"}, a)) return nullptr;
  const auto [x, dy, dw] = a;
  if (size_of(g, kFilter) == 0) return nullptr;
  if (g.n * g.pixels() == 0) {
    std::fill(dw, dw + size_of(g, kFilter), 0.0f);
    return nullptr;
  }
  if (dnnl_conv_backward_weights(g, x, dy, dw)) return nullptr;
  const int64_t m = g.co / g.c;
  std::fill(dw, dw + size_of(g, kFilter), 0.0f);
  parallel_for(g.kh * g.kw, g.n * g.pixels() * g.co, [&](int64_t begin, int64_t end) {
    for (int64_t b = 0; b < g.n; ++b) {
      const float* image = x + b * g.h * g.w * g.c;
      const float* d = dy + b * g.pixels() * g.co;
      for_each_tap(g, [&](int64_t p, int64_t t, int64_t q) {
        if (t < begin || t >= end) return;
        const float* in = image + q * g.c;
        const float* dp = d + p * g.co;
        float* w = dw + t * g.co;
        for (int64_t k = 0; k < g.co; ++k) w[k] += in[k / m] * dp[k];
      });
    }
  });
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Max pooling and its gradient
// ---------------------------------------------------------------------------------------------

// Offsets, within one NHWC image, of the positions of pooling window (oh, ow) that lie inside
// the image, in row-major order; returns their count.
int32_t window_taps(const Conv& g, int64_t oh, int64_t ow, int64_t* offsets) {
  const int64_t h0 = oh * g.sh - g.pt;
  const int64_t w0 = ow * g.sw - g.pl;
  int32_t taps = 0;
  for (int64_t ih = std::max<int64_t>(0, h0); ih < std::min(g.h, h0 + g.kh); ++ih) {
    for (int64_t iw = std::max<int64_t>(0, w0); iw < std::min(g.w, w0 + g.kw); ++iw) offsets[taps++] = (ih * g.w + iw) * g.c;
  }
  return taps;
}

// Reads a pooling geometry: a conv geometry with as many output as input channels.
bool read_pool(Args& args, size_t i, Conv* g) {
  if (!read_conv(args, i, g)) return false;
  if (g->co != g->c) args.fail("geometry", "needs as many output as input channels");
  return !args.failed;
}

// maxPoolGrad(x, y, dy, dx, geometry): each dy goes to the first position of its window holding
// the forward maximum y (the convention of the cpu backend and of TensorFlow). Without y, or when
// y is NaN or −∞, to the first position of a running maximum that skips NaN; nowhere if none.
// geometry is a conv geometry with Co = Ci and dilations 1.
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  Args args(env, info, "maxPoolGrad");
  Conv g;
  if (!read_pool(args, 4, &g)) return nullptr;
  const float* x = args.floats(0, g.n * g.h * g.w * g.c, "x");
  const float* y = args.is_nullish(1) ? nullptr : args.floats(1, g.n * g.pixels() * g.c, "y");
  const float* dy = args.floats(2, g.n * g.pixels() * g.c, "dy");
  float* dx = args.floats(3, g.n * g.h * g.w * g.c, "dx");
  if (args.failed) return nullptr;
  parallel_for(g.n, g.h * g.w * g.c, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> offsets(static_cast<size_t>(g.kh * g.kw));
    std::vector<int32_t> first(static_cast<size_t>(g.c));
    for (int64_t b = begin; b < end; ++b) {
      const float* xb = x + b * g.h * g.w * g.c;
      float* dxb = dx + b * g.h * g.w * g.c;
      std::fill(dxb, dxb + g.h * g.w * g.c, 0.0f);
      for (int64_t oh = 0; oh < g.oh; ++oh) {
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const int32_t taps = window_taps(g, oh, ow, offsets.data());
          const int64_t d = ((b * g.oh + oh) * g.ow + ow) * g.c;
          std::fill(first.begin(), first.end(), -1);
          if (y != nullptr) {
            // The first tap equal to the maximum, without a branch per value (a search that stops
            // at the first match mispredicts on noisy data): taps in reverse, each match overwriting.
            const float* maxima = y + d;
            for (int32_t t = taps - 1; t >= 0; --t) {
              const float* xt = xb + offsets[t];
              for (int64_t ci = 0; ci < g.c; ++ci) first[ci] = xt[ci] == maxima[ci] && maxima[ci] > -INFINITY ? t : first[ci];
            }
          }
          for (int64_t ci = 0; ci < g.c; ++ci) {
            int32_t tap = first[ci];
            if (tap < 0) {
              // No forward output, or a NaN or −∞ maximum: a running maximum that skips NaN.
              float best = -INFINITY;
              for (int32_t t = 0; t < taps; ++t) {
                const float v = xb[offsets[t] + ci];
                if (v > best) {
                  best = v;
                  tap = t;
                }
              }
            }
            if (tap >= 0) dxb[offsets[tap] + ci] += dy[d + ci];
          }
        }
      }
    }
  });
  return nullptr;
}

// maxPool(x, y, geometry): y = the maximum of each window's positions inside x, NaN skipped and
// −∞ for none (the cpu backend's rule, which maxPoolGrad's search for the maximum relies on).
napi_value MaxPool(napi_env env, napi_callback_info info) {
  Args args(env, info, "maxPool");
  Conv g;
  if (!read_pool(args, 2, &g)) return nullptr;
  const float* x = args.floats(0, g.n * g.h * g.w * g.c, "x");
  float* y = args.floats(1, g.n * g.pixels() * g.c, "y");
  if (args.failed) return nullptr;
  parallel_for(g.n, g.h * g.w * g.c, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> offsets(static_cast<size_t>(g.kh * g.kw));
    for (int64_t b = begin; b < end; ++b) {
      const float* xb = x + b * g.h * g.w * g.c;
      for (int64_t oh = 0; oh < g.oh; ++oh) {
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const int32_t taps = window_taps(g, oh, ow, offsets.data());
          float* out = y + ((b * g.oh + oh) * g.ow + ow) * g.c;
          std::fill(out, out + g.c, -INFINITY);
          for (int32_t t = 0; t < taps; ++t) {
            const float* tap = xb + offsets[t];
            for (int64_t ci = 0; ci < g.c; ++ci) out[ci] = tap[ci] > out[ci] ? tap[ci] : out[ci];
          }
        }
      }
    }
  });
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Per-channel operations: a vector along the last axis (bias, batch-norm statistics)
// ---------------------------------------------------------------------------------------------

enum ChannelOp { kAdd = 0, kMultiply = 1, kSubtract = 2, kSubtractFrom = 3 };

// adamUpdate(x, m, v, g, newX, newM, newV, constants): one Adam step of one weight, where
// constants = [keep1, take1, keep2, take2, step, scale2, epsilon]:
// m' = keep1·m + take1·g, v' = keep2·v + take2·g², x' = x − step·m' / (√(scale2·v') + epsilon).
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  Args args(env, info, "adamUpdate");
  int64_t size = 0;
  const float* x = static_cast<const float*>(args.typed(0, napi_float32_array, -1, "x", &size));
  const float* m = args.floats(1, size, "m");
  const float* v = args.floats(2, size, "v");
  const float* g = args.floats(3, size, "g");
  float* new_x = args.floats(4, size, "newX");
  float* new_m = args.floats(5, size, "newM");
  float* new_v = args.floats(6, size, "newV");
  const double* c = args.doubles(7, 7, "constants");
  if (args.failed) return nullptr;
  const float keep1 = static_cast<float>(c[0]), take1 = static_cast<float>(c[1]), keep2 = static_cast<float>(c[2]),
              take2 = static_cast<float>(c[3]), step = static_cast<float>(c[4]), scale2 = static_cast<float>(c[5]),
              epsilon = static_cast<float>(c[6]);
  parallel_for(size, 7, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float mi = keep1 * m[i] + take1 * g[i];
      const float vi = keep2 * v[i] + take2 * g[i] * g[i];
      new_m[i] = mi;
      new_v[i] = vi;
      new_x[i] = x[i] - step * mi / (std::sqrt(scale2 * vi) + epsilon);
    }
  });
  return nullptr;
}

// reluGrad(dy, x, dx): dx = dy · step(x), as tfjs's ReLU gradient: dy where x > 0, dy · 0 where
// x ≤ 0, NaN where x is NaN.
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  Args args(env, info, "reluGrad");
  int64_t size = 0;
  const float* dy = static_cast<const float*>(args.typed(0, napi_float32_array, -1, "dy", &size));
  const float* x = args.floats(1, size, "x");
  float* dx = args.floats(2, size, "dx");
  if (args.failed) return nullptr;
  parallel_for(size, 3, [=](int64_t begin, int64_t end) {
    // Selects, not branches: the sign of an activation is a coin flip, and a branch on it was
    // mispredicted half the time (2.7 ns a value); as selects the loop vectorises.
    for (int64_t i = begin; i < end; ++i) {
      const float step = x[i] > 0.0f ? 1.0f : 0.0f;
      dx[i] = dy[i] * (x[i] != x[i] ? x[i] : step);
    }
  });
  return nullptr;
}

// clipGrad(dy, x, dx, lo, hi): dx = dy where lo ≤ x ≤ hi, else 0 (NaN x gives 0), as tfjs's
// ClipByValue gradient: where(x ≥ lo and x ≤ hi, dy, 0).
napi_value ClipGrad(napi_env env, napi_callback_info info) {
  Args args(env, info, "clipGrad");
  int64_t size = 0;
  const float* dy = static_cast<const float*>(args.typed(0, napi_float32_array, -1, "dy", &size));
  const float* x = args.floats(1, size, "x");
  float* dx = args.floats(2, size, "dx");
  const float lo = static_cast<float>(args.number(3, "lo"));
  const float hi = static_cast<float>(args.number(4, "hi"));
  if (args.failed) return nullptr;
  parallel_for(size, 3, [=](int64_t begin, int64_t end) {
    // Selects, as in reluGrad: the loop vectorises.
    for (int64_t i = begin; i < end; ++i) {
      const bool inside = (x[i] >= lo) & (x[i] <= hi);
      dx[i] = inside ? dy[i] : 0.0f;
    }
  });
  return nullptr;
}

// batchNormGradSums(dy, x, mean, sums): sums[j] = Σ_r dy[r, j] and sums[C + j] = Σ_r dy[r, j] ·
// (x[r, j] − mean[j]) over the rows of C = mean.length values, in float64: the two reductions of
// batch normalisation's gradient (offset, scale, mean and variance follow from them per channel).
napi_value BatchNormGradSums(napi_env env, napi_callback_info info) {
  Args args(env, info, "batchNormGradSums");
  int64_t size = 0, width = 0;
  const float* dy = static_cast<const float*>(args.typed(0, napi_float32_array, -1, "dy", &size));
  const float* x = args.floats(1, size, "x");
  const float* mean = static_cast<const float*>(args.typed(2, napi_float32_array, -1, "mean", &width));
  float* sums = args.floats(3, 2 * width, "sums");
  if (!args.failed && (width == 0 || size % width != 0)) args.fail("x", "is not whole rows of mean");
  if (args.failed) return nullptr;
  const int64_t rows = size / width;
  // Fixed blocks of rows added in block order, as sumRows: the same result on any thread count's timing.
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(g_threads, rows));
  std::vector<double> partial(static_cast<size_t>(2 * blocks * width), 0.0);
  parallel_for(blocks, 2 * (rows / blocks) * width, [&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block) {
      double* plain = partial.data() + 2 * block * width;
      double* centred = plain + width;
      for (int64_t r = rows * block / blocks; r < rows * (block + 1) / blocks; ++r) {
        const float* d = dy + r * width;
        const float* v = x + r * width;
        for (int64_t j = 0; j < width; ++j) {
          plain[j] += d[j];
          centred[j] += static_cast<double>(d[j]) * (static_cast<double>(v[j]) - mean[j]);
        }
      }
    }
  });
  for (int64_t j = 0; j < 2 * width; ++j) {
    const int64_t half = j / width, channel = j % width;
    double total = 0;
    for (int64_t block = 0; block < blocks; ++block) total += partial[(2 * block + half) * width + channel];
    sums[j] = static_cast<float>(total);
  }
  return nullptr;
}

// channelOp(x, v, out, op): out[r, j] = x[r, j] ∘ v[j] over rows of v.length values, where ∘ is
// + (op 0), · (1), x − v (2) or v − x (3).
napi_value ChannelOperation(napi_env env, napi_callback_info info) {
  Args args(env, info, "channelOp");
  int64_t size = 0, width = 0;
  const float* x = static_cast<const float*>(args.typed(0, napi_float32_array, -1, "x", &size));
  const float* v = static_cast<const float*>(args.typed(1, napi_float32_array, -1, "v", &width));
  if (!args.failed && (width == 0 || size % width != 0)) args.fail("x", "is not whole rows of v");
  float* out = args.floats(2, size, "out");
  const int32_t op = args.int32(3, "op");
  if (!args.failed && (op < kAdd || op > kSubtractFrom)) args.fail("op", "must be 0 to 3");
  if (args.failed) return nullptr;
  if (op == kAdd) {
    bias_activation(x, out, size / width, width, v, width, kLinear);
    return nullptr;
  }
  parallel_for(size / width, width, [=](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* src = x + r * width;
      float* dst = out + r * width;
      // One loop per operation, so that each vectorises.
      if (op == kMultiply) {
        for (int64_t j = 0; j < width; ++j) dst[j] = src[j] * v[j];
      } else if (op == kSubtract) {
        for (int64_t j = 0; j < width; ++j) dst[j] = src[j] - v[j];
      } else {
        for (int64_t j = 0; j < width; ++j) dst[j] = v[j] - src[j];
      }
    }
  });
  return nullptr;
}

// batchNorm(x, mean, variance, offset, scale, out, epsilon): out = (x − mean) · scale /
// sqrt(variance + epsilon) + offset per channel (the last axis); offset and scale may be null.
napi_value BatchNorm(napi_env env, napi_callback_info info) {
  Args args(env, info, "batchNorm");
  int64_t size = 0, width = 0;
  const float* x = static_cast<const float*>(args.typed(0, napi_float32_array, -1, "x", &size));
  const float* mean = static_cast<const float*>(args.typed(1, napi_float32_array, -1, "mean", &width));
  const float* variance = args.floats(2, width, "variance");
  const float* offset = args.is_nullish(3) ? nullptr : args.floats(3, width, "offset");
  const float* scale = args.is_nullish(4) ? nullptr : args.floats(4, width, "scale");
  float* out = args.floats(5, size, "out");
  const double epsilon = args.number(6, "epsilon");
  if (!args.failed && (width == 0 || size % width != 0)) args.fail("x", "is not whole rows of mean");
  if (args.failed) return nullptr;
  // out = x · factor + shift, with factor = scale / sqrt(variance + ε), shift = offset − mean · factor.
  std::vector<float> factor(static_cast<size_t>(width)), shift(static_cast<size_t>(width));
  for (int64_t j = 0; j < width; ++j) {
    factor[j] = static_cast<float>((scale == nullptr ? 1.0 : scale[j]) / std::sqrt(static_cast<double>(variance[j]) + epsilon));
    shift[j] = (offset == nullptr ? 0.0f : offset[j]) - mean[j] * factor[j];
  }
  parallel_for(size / width, width, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* src = x + r * width;
      float* dst = out + r * width;
      for (int64_t j = 0; j < width; ++j) dst[j] = src[j] * factor[j] + shift[j];
    }
  });
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Tile
// ---------------------------------------------------------------------------------------------

struct TileShape {
  std::vector<int64_t> shape, reps, in_stride, out_stride;
};

// Fills out (this axis and the ones after it) from x: the axis's slices first, then copies of the
// whole block, so that all but the innermost copies are large memcpys.
void tile_axis(const TileShape& t, size_t axis, const float* x, float* out) {
  const int64_t count = t.shape[axis];
  if (axis + 1 == t.shape.size()) {
    std::copy(x, x + count, out);
  } else {
    for (int64_t i = 0; i < count; ++i) tile_axis(t, axis + 1, x + i * t.in_stride[axis], out + i * t.out_stride[axis]);
  }
  const int64_t block = count * t.out_stride[axis];
  for (int64_t r = 1; r < t.reps[axis]; ++r) std::memcpy(out + r * block, out, static_cast<size_t>(block) * sizeof(float));
}

// tile(x, out, shape, reps): out = x repeated reps[d] times along each axis d (tfjs's Tile).
napi_value Tile(napi_env env, napi_callback_info info) {
  Args args(env, info, "tile");
  int64_t rank = 0, rank_reps = 0;
  const int32_t* shape = static_cast<const int32_t*>(args.typed(2, napi_int32_array, -1, "shape", &rank));
  const int32_t* reps = static_cast<const int32_t*>(args.typed(3, napi_int32_array, -1, "reps", &rank_reps));
  if (!args.failed && (rank == 0 || rank != rank_reps)) args.fail("reps", "must have one entry per axis of x");
  if (args.failed || args.ints(2, rank, "shape") == nullptr || args.ints(3, rank, "reps") == nullptr) return nullptr;
  TileShape t{std::vector<int64_t>(shape, shape + rank), std::vector<int64_t>(reps, reps + rank), std::vector<int64_t>(rank, 1),
              std::vector<int64_t>(rank, 1)};
  for (int64_t d = rank - 2; d >= 0; --d) {
    t.in_stride[d] = t.in_stride[d + 1] * t.shape[d + 1];
    t.out_stride[d] = t.out_stride[d + 1] * t.shape[d + 1] * t.reps[d + 1];
  }
  const float* x = args.floats(0, t.in_stride[0] * t.shape[0], "x");
  float* out = args.floats(1, t.out_stride[0] * t.shape[0] * t.reps[0], "out");
  if (args.failed || t.out_stride[0] * t.shape[0] * t.reps[0] == 0) return nullptr;
  tile_axis(t, 0, x, out);
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Sums over leading axes
// ---------------------------------------------------------------------------------------------

// sumRows(x, out, scale): out[j] = scale · Σ_r x[r, j] over the rows of out.length values,
// accumulated in float64 as the cpu backend does (the bias gradient of a conv layer sums
// millions of values).
napi_value SumRows(napi_env env, napi_callback_info info) {
  Args args(env, info, "sumRows");
  int64_t size = 0, width = 0;
  const float* x = static_cast<const float*>(args.typed(0, napi_float32_array, -1, "x", &size));
  float* out = static_cast<float*>(args.typed(1, napi_float32_array, -1, "out", &width));
  const double scale = args.number(2, "scale");
  if (!args.failed && (width == 0 || size % width != 0)) args.fail("x", "is not whole rows of out");
  if (args.failed) return nullptr;
  const int64_t rows = size / width;
  // A fixed split into blocks of rows, each summed on its own, then added in block order: the
  // result does not depend on which thread ran what.
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(g_threads, rows));
  std::vector<double> partial(static_cast<size_t>(blocks * width), 0.0);
  parallel_for(blocks, rows / blocks * width, [&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block) {
      double* totals = partial.data() + block * width;
      for (int64_t r = rows * block / blocks; r < rows * (block + 1) / blocks; ++r) {
        const float* row = x + r * width;
        for (int64_t j = 0; j < width; ++j) totals[j] += row[j];
      }
    }
  });
  for (int64_t j = 0; j < width; ++j) {
    double total = 0;
    for (int64_t block = 0; block < blocks; ++block) total += partial[block * width + j];
    out[j] = static_cast<float>(total * scale);
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

// setThreads(n): threads for OpenBLAS and for the gathers around it.
napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args args(env, info, "setThreads");
  const int32_t threads = args.int32(0, "threads");
  if (!args.failed && (threads < 1 || threads > 1024)) args.fail("threads", "must be between 1 and 1024");
  if (args.failed) return nullptr;
  g_threads = threads;
  dnnl_set_threads(threads);
  return nullptr;
}

// setDnnl(enabled): convolutions through oneDNN (when built with it) or im2col + OpenBLAS.
napi_value SetDnnl(napi_env env, napi_callback_info info) {
  Args args(env, info, "setDnnl");
  bool enabled = false;
  if (napi_get_value_bool(env, args.at(0), &enabled) != napi_ok) args.fail("enabled", "must be a boolean");
  if (!args.failed) dnnl_enable(enabled);
  return nullptr;
}

napi_value string(napi_env env, const char* text) {
  napi_value value;
  napi_create_string_utf8(env, text == nullptr ? "" : text, NAPI_AUTO_LENGTH, &value);
  return value;
}

// info(): { blas, core, threads }: OpenBLAS's configuration and core, and the most threads used.
napi_value Info(napi_env env, napi_callback_info) {
  napi_value result, threads;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "blas", string(env, openblas_get_config()));
  napi_set_named_property(env, result, "core", string(env, openblas_get_corename()));
  napi_create_int32(env, g_threads, &threads);
  napi_set_named_property(env, result, "threads", threads);
  napi_value dnnl;
  napi_get_boolean(env, dnnl_enabled(), &dnnl);
  napi_set_named_property(env, result, "dnnl", dnnl);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor functions[] = {
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setDnnl", nullptr, SetDnnl, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matMul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matVec", nullptr, MatVec, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthwiseConv2d", nullptr, DepthwiseConv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthwiseConv2dBackpropInput", nullptr, DepthwiseConv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthwiseConv2dBackpropFilter", nullptr, DepthwiseConv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"channelOp", nullptr, ChannelOperation, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGrad", nullptr, ReluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"clipGrad", nullptr, ClipGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormGradSums", nullptr, BatchNormGradSums, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNorm", nullptr, BatchNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tile", nullptr, Tile, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"normalizeRows", nullptr, NormalizeRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gramToMatrix", nullptr, GramToMatrix, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchHardMine", nullptr, BatchHardMine, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"semiHardMine", nullptr, SemiHardMine, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"allTripletsHinge", nullptr, AllTripletsHinge, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tripletMarginTerms", nullptr, TripletMarginTerms, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gramGradientSparse", nullptr, GramGradientSparse, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gramGradientDense", nullptr, GramGradientDense, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(functions) / sizeof(functions[0]), functions);
  g_threads = std::max(1, openblas_get_num_threads());
  g_blas_threads = g_threads;
  dnnl_set_threads(g_threads);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
