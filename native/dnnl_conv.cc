// Convolutions through oneDNN: its JIT kernels run in their own blocked layout (for example
// nChw16c on AVX-512), so each pass reorders NHWC inputs into it and its outputs back, and still
// takes a third of the time of im2col + sgemm on this project's shapes (BENCHMARKS.md, "oneDNN";
// bench/dnnl-conv.cpp). Primitives and reorders are created once per geometry and pass, and
// reused; the blocked buffers are not theirs but a scratch shared by all passes (one buffer per
// argument position, grown to the largest pass and kept), since the passes run one at a time. A
// network with many geometries (MobileNetV2: about a hundred passes) then neither recreates its
// primitives each step nor holds blocked copies of all its activations.
#include "dnnl_conv.h"

#ifdef TRIPLETJS_DNNL

#include <omp.h>

#include <array>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>
#include <vector>

namespace tripletjs {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

dnnl::engine& cpu() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  static dnnl::stream stream(cpu());
  return stream;
}

enum PassKind { kForward, kBackwardData, kBackwardWeights };

// One argument of a primitive: the tensor as tfjs lays it out, and, when the primitive wants
// another layout, that layout (its buffer is the scratch of the argument's position) with the
// reorder into it (inputs) or out of it (outputs).
struct Argument {
  int id;
  memory::desc user;
  bool output;
  memory::desc wanted;
  bool reordered;
  dnnl::reorder convert;
};

// The blocked buffers: one per argument position, 64-byte aligned, grown and never shrunk (a
// freed large block goes back to the system, and a new one faults its pages in again).
class Scratch {
 public:
  ~Scratch() {
    for (void* p : buffers_) std::free(p);
  }
  void* get(size_t slot, size_t bytes) {
    if (slot >= buffers_.size()) {
      buffers_.resize(slot + 1, nullptr);
      sizes_.resize(slot + 1, 0);
    }
    if (sizes_[slot] < bytes) {
      std::free(buffers_[slot]);
      const size_t rounded = (bytes + 63) / 64 * 64;
      buffers_[slot] = std::aligned_alloc(64, rounded);
      if (buffers_[slot] == nullptr) throw std::bad_alloc();
      sizes_[slot] = rounded;
    }
    return buffers_[slot];
  }

 private:
  std::vector<void*> buffers_;
  std::vector<size_t> sizes_;
};
Scratch g_scratch;

struct Pass {
  dnnl::primitive primitive;
  std::vector<Argument> arguments;
};

Argument bind(int id, const memory::desc& user, const memory::desc& wanted, bool output) {
  Argument a{id, user, output, wanted, wanted != user, {}};
  if (a.reordered) {
    a.convert = output ? dnnl::reorder(dnnl::reorder::primitive_desc(cpu(), wanted, cpu(), user))
                       : dnnl::reorder(dnnl::reorder::primitive_desc(cpu(), user, cpu(), wanted));
  }
  return a;
}

using Key = std::array<int64_t, 19>;

// At most this many geometries × passes are kept (a primitive and its reorders, no buffers): a
// training step of MobileNetV2 above a frozen part uses about a hundred, an evaluation a few more
// for its last, smaller batch. Past it the cache starts again.
constexpr size_t kMaxCached = 512;
std::map<Key, std::unique_ptr<Pass>> g_cache;
bool g_enabled = true;

struct Descs {
  memory::dims strides, dilates, pad_l, pad_r;
  memory::desc src, weights, bias, dst;          // tfjs's layouts
  memory::desc src_any, weights_any, dst_any;    // the primitive's choice
};

// The descriptors of a geometry, or false when oneDNN cannot express it (a right padding below 0,
// as a strided VALID convolution that drops input rows gives).
bool describe(const ConvShape& g, Descs* d) {
  const int64_t pb = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.h - g.pt;
  const int64_t pr = (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1 - g.w - g.pl;
  if (pb < 0 || pr < 0 || g.pt < 0 || g.pl < 0) return false;
  const memory::dims src = {g.n, g.c, g.h, g.w}, dst = {g.n, g.co, g.oh, g.ow};
  // Grouped weights are [G, Co/G, Ci/G, KH, KW]; tfjs's depthwise [KH, KW, Ci, M] is hwigo (Ci/G = 1).
  const bool grouped = g.groups > 1;
  const memory::dims weights = grouped ? memory::dims{g.groups, g.co / g.groups, g.c / g.groups, g.kh, g.kw} : memory::dims{g.co, g.c, g.kh, g.kw};
  const auto f32 = memory::data_type::f32;
  *d = Descs{{g.sh, g.sw},
             {g.dh - 1, g.dw - 1},
             {g.pt, g.pl},
             {pb, pr},
             memory::desc(src, f32, tag::nhwc),
             memory::desc(weights, f32, grouped ? tag::hwigo : tag::hwio),
             memory::desc({g.co}, f32, tag::x),
             memory::desc(dst, f32, tag::nhwc),
             memory::desc(src, f32, tag::any),
             memory::desc(weights, f32, tag::any),
             memory::desc(dst, f32, tag::any)};
  return true;
}

dnnl::convolution_forward::primitive_desc forward_hint(const Descs& d) {
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, d.src_any, d.weights_any,
                                             d.dst_any, d.strides, d.dilates, d.pad_l, d.pad_r);
  return dnnl::convolution_forward::primitive_desc(desc, cpu());
}

std::unique_ptr<Pass> create(const ConvShape& g, PassKind kind, bool bias, bool relu) {
  Descs d;
  if (!describe(g, &d)) return nullptr;
  auto pass = std::make_unique<Pass>();
  if (kind == kForward) {
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    const auto desc = bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, d.src_any,
                                                             d.weights_any, d.bias, d.dst_any, d.strides, d.dilates, d.pad_l, d.pad_r)
                           : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, d.src_any,
                                                             d.weights_any, d.dst_any, d.strides, d.dilates, d.pad_l, d.pad_r);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu());
    pass->primitive = dnnl::convolution_forward(pd);
    pass->arguments = {bind(DNNL_ARG_SRC, d.src, pd.src_desc(), false), bind(DNNL_ARG_WEIGHTS, d.weights, pd.weights_desc(), false),
                       bind(DNNL_ARG_DST, d.dst, pd.dst_desc(), true)};
    if (bias) pass->arguments.push_back(bind(DNNL_ARG_BIAS, d.bias, pd.bias_desc(), false));
  } else if (kind == kBackwardData) {
    const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.src_any, d.weights_any, d.dst_any, d.strides,
                                                     d.dilates, d.pad_l, d.pad_r);
    const dnnl::convolution_backward_data::primitive_desc pd(desc, cpu(), forward_hint(d));
    pass->primitive = dnnl::convolution_backward_data(pd);
    pass->arguments = {bind(DNNL_ARG_DIFF_DST, d.dst, pd.diff_dst_desc(), false), bind(DNNL_ARG_WEIGHTS, d.weights, pd.weights_desc(), false),
                       bind(DNNL_ARG_DIFF_SRC, d.src, pd.diff_src_desc(), true)};
  } else {
    const dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, d.src_any, d.weights_any, d.dst_any, d.strides,
                                                        d.dilates, d.pad_l, d.pad_r);
    const dnnl::convolution_backward_weights::primitive_desc pd(desc, cpu(), forward_hint(d));
    pass->primitive = dnnl::convolution_backward_weights(pd);
    pass->arguments = {bind(DNNL_ARG_SRC, d.src, pd.src_desc(), false), bind(DNNL_ARG_DIFF_DST, d.dst, pd.diff_dst_desc(), false),
                       bind(DNNL_ARG_DIFF_WEIGHTS, d.weights, pd.diff_weights_desc(), true)};
  }
  return pass;
}

// Runs `kind` on the given tfjs buffers (in the order of the pass's arguments); false when oneDNN
// cannot take this geometry or throws.
bool run(const ConvShape& g, PassKind kind, bool bias, bool relu, const std::vector<float*>& buffers) {
  if (!g_enabled) return false;
  const Key key = {g.n, g.h, g.w, g.c, g.oh, g.ow, g.co, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.dh, g.dw, g.groups, kind, bias, relu};
  auto found = g_cache.find(key);
  if (found == g_cache.end()) {
    if (g_cache.size() >= kMaxCached) g_cache.clear();
    std::unique_ptr<Pass> pass;
    try {
      pass = create(g, kind, bias, relu);
    } catch (const dnnl::error&) {
      pass = nullptr;
    }
    // A geometry oneDNN refused stays refused: it is not asked again at every step.
    found = g_cache.emplace(key, std::move(pass)).first;
  }
  if (found->second == nullptr) return false;
  try {
    Pass& pass = *found->second;
    dnnl::stream& stream = cpu_stream();
    std::unordered_map<int, memory> arguments;
    std::vector<std::pair<Argument*, std::pair<memory, memory>>> outputs;
    for (size_t i = 0; i < pass.arguments.size(); ++i) {
      Argument& a = pass.arguments[i];
      memory user(a.user, cpu(), buffers[i]);
      if (!a.reordered) {
        arguments.emplace(a.id, user);
      } else {
        memory inner(a.wanted, cpu(), g_scratch.get(i, a.wanted.get_size()));
        if (!a.output) a.convert.execute(stream, {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, inner}});
        else outputs.emplace_back(&a, std::make_pair(inner, user));
        arguments.emplace(a.id, inner);
      }
    }
    pass.primitive.execute(stream, arguments);
    for (auto& [a, pair] : outputs) a->convert.execute(stream, {{DNNL_ARG_FROM, pair.first}, {DNNL_ARG_TO, pair.second}});
    stream.wait();
    return true;
  } catch (const dnnl::error&) {
    return false;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

}  // namespace

bool dnnl_available() { return true; }
void dnnl_enable(bool enabled) { g_enabled = enabled; }
bool dnnl_enabled() { return g_enabled; }

void dnnl_set_threads(int threads) { omp_set_num_threads(threads); }

bool dnnl_conv_forward(const ConvShape& g, const float* x, const float* filter, const float* bias, bool relu, float* out) {
  std::vector<float*> buffers = {const_cast<float*>(x), const_cast<float*>(filter), out};
  if (bias != nullptr) buffers.push_back(const_cast<float*>(bias));
  return run(g, kForward, bias != nullptr, relu, buffers);
}

bool dnnl_conv_backward_data(const ConvShape& g, const float* dy, const float* filter, float* dx) {
  return run(g, kBackwardData, false, false, {const_cast<float*>(dy), const_cast<float*>(filter), dx});
}

bool dnnl_conv_backward_weights(const ConvShape& g, const float* x, const float* dy, float* dw) {
  return run(g, kBackwardWeights, false, false, {const_cast<float*>(x), const_cast<float*>(dy), dw});
}

}  // namespace tripletjs

#else

namespace tripletjs {

bool dnnl_available() { return false; }
void dnnl_enable(bool) {}
bool dnnl_enabled() { return false; }
void dnnl_set_threads(int) {}
bool dnnl_conv_forward(const ConvShape&, const float*, const float*, const float*, bool, float*) { return false; }
bool dnnl_conv_backward_data(const ConvShape&, const float*, const float*, float*) { return false; }
bool dnnl_conv_backward_weights(const ConvShape&, const float*, const float*, float*) { return false; }

}  // namespace tripletjs

#endif
