// Convolutions through oneDNN (Debian libdnnl-dev), when the addon is built with it
// (TRIPLETJS_DNNL, set by binding.gyp when the header is installed). Each function returns false
// when oneDNN is not compiled in or does not take the call, and the caller runs its im2col + sgemm
// path instead.
#pragma once

#include <cstdint>

namespace tripletjs {

// A convolution's geometry, NHWC tensors and [KH, KW, Ci, Co] filters, as TensorFlow.js lays them
// out. A depthwise convolution has groups = Ci and Co = Ci × M, its filter [KH, KW, Ci, M].
struct ConvShape {
  int64_t n, h, w, c, oh, ow, co, kh, kw, sh, sw, pt, pl, dh, dw;
  int64_t groups = 1;
};

// Whether the addon was built with oneDNN.
bool dnnl_available();

// Turns the oneDNN path on or off (on by default when built): off, every call returns false.
void dnnl_enable(bool enabled);

// Whether the oneDNN path is built and on.
bool dnnl_enabled();

// Threads for oneDNN's parallel regions.
void dnnl_set_threads(int threads);

// out = act(conv(x, filter) + bias), bias one value per output channel or null, relu or linear.
bool dnnl_conv_forward(const ConvShape& g, const float* x, const float* filter, const float* bias, bool relu, float* out);

// dx = the gradient of conv(x, filter) with respect to x, given dy.
bool dnnl_conv_backward_data(const ConvShape& g, const float* dy, const float* filter, float* dx);

// dw = the gradient of conv(x, filter) with respect to the filter, given dy.
bool dnnl_conv_backward_weights(const ConvShape& g, const float* x, const float* dy, float* dw);

}  // namespace tripletjs
