// Shared by the addon's kernel files: the thread count, a parallel loop, OpenBLAS's sgemm with
// the threads it is worth, and the reading and checking of N-API arguments.
#pragma once

#include <cblas.h>
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

// OpenBLAS's own entry points; declared here so that the file builds whichever cblas.h the
// system's alternatives select (the library linked is always libopenblas).
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace tripletjs {

// Most threads for OpenBLAS and for the gathers and scatters around it (setThreads); each call
// uses fewer when its work is small.
inline int g_threads = 1;

// Below this many floats moved per thread (1 MiB), a thread costs more to start than it saves.
constexpr int64_t kMinFloatsPerThread = int64_t{1} << 18;

// Threads for `count` items of about `floats_per_item` floats each: up to g_threads, fewer when
// the work is small.
inline int64_t worker_count(int64_t count, int64_t floats_per_item) {
  const int64_t by_work = count * std::max<int64_t>(floats_per_item, 1) / kMinFloatsPerThread;
  return std::max<int64_t>(1, std::min<int64_t>({static_cast<int64_t>(g_threads), count, by_work}));
}

// Runs body(begin, end) over [0, count) on up to g_threads threads, the caller being one of
// them; `floats_per_item` sizes the work so that small jobs stay on the calling thread.
template <typename Body>
void parallel_for(int64_t count, int64_t floats_per_item, const Body& body) {
  const int64_t workers = worker_count(count, floats_per_item);
  if (workers == 1) {
    body(int64_t{0}, count);
    return;
  }
  std::vector<std::thread> others;
  others.reserve(static_cast<size_t>(workers - 1));
  for (int64_t w = 1; w < workers; ++w) {
    others.emplace_back([&body, count, workers, w] { body(count * w / workers, count * (w + 1) / workers); });
  }
  body(int64_t{0}, count / workers);
  for (auto& t : others) t.join();
}

// As parallel_for, but the threads claim chunks of `grain` items in turn, so that a thread
// slowed down by other work on a shared machine takes fewer: with an even split, a thread that
// got half a core held the whole pass back (18 ms against 10.6 ms for the same half of a
// semi-hard mining pass). For bodies whose items write separate outputs.
template <typename Body>
void parallel_chunks(int64_t count, int64_t floats_per_item, int64_t grain, const Body& body) {
  const int64_t workers = worker_count(count, floats_per_item);
  if (workers == 1) {
    body(int64_t{0}, count);
    return;
  }
  std::atomic<int64_t> next{0};
  const auto claim = [&] {
    for (int64_t begin = next.fetch_add(grain); begin < count; begin = next.fetch_add(grain)) body(begin, std::min(count, begin + grain));
  };
  std::vector<std::thread> others;
  others.reserve(static_cast<size_t>(workers - 1));
  for (int64_t w = 1; w < workers; ++w) others.emplace_back(claim);
  claim();
  for (auto& t : others) t.join();
}

// Each further OpenBLAS thread needs this many flops of a product (2^24: about 0.2 ms of work
// for one thread here). Waking a thread costs tens of microseconds on an idle machine, where a
// 128×784×256 product went from 0.51 to 0.31 ms on two threads, and up to a scheduler time slice
// on a busy one, where splitting small products only added waiting.
constexpr int64_t kFlopsPerThread = int64_t{1} << 24;

inline int g_blas_threads = 1;

// A product with a dimension below this runs on one thread whatever its flops: OpenBLAS split the
// thin products of a CNN's first layer (86,528 × 9 by 9 × 32, and its filter gradient 9 × 86,528
// by 86,528 × 32) over two threads and took longer, 5.0 ms against 2.3 on one for the forward.
constexpr int64_t kThinDimension = 16;

// c[m×n] = op(a) · op(b) + beta · c for packed row-major matrices, with the threads it is worth.
inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float beta, float* c) {
  const bool thin = std::min({m, n, k}) < kThinDimension;
  const int threads = thin ? 1 : static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(g_threads, 2 * m * n * k / kFlopsPerThread)));
  if (threads != g_blas_threads) {
    openblas_set_num_threads(threads);
    g_blas_threads = threads;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), 1.0f, a, static_cast<int>(trans_a ? m : k), b, static_cast<int>(trans_b ? k : n), beta, c, static_cast<int>(n));
}

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

struct Args {
  napi_env env;
  napi_value values[12];
  size_t count = 12;
  const char* kernel;
  bool failed = false;

  Args(napi_env e, napi_callback_info info, const char* name) : env(e), kernel(name) {
    napi_get_cb_info(env, info, &count, values, nullptr, nullptr);
  }

  void fail(const char* what, const char* problem) {
    if (failed) return;
    failed = true;
    std::string message = std::string("tripletjs native ") + kernel + ": " + what + " " + problem;
    napi_throw_error(env, nullptr, message.c_str());
  }

  napi_value at(size_t i) {
    if (i < count) return values[i];
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    return undefined;
  }

  bool is_nullish(size_t i) {
    napi_valuetype type;
    napi_typeof(env, at(i), &type);
    return type == napi_null || type == napi_undefined;
  }

  // A typed array of the given type holding exactly `length` elements (any length if < 0; then
  // its length goes to *found).
  void* typed(size_t i, napi_typedarray_type want, int64_t length, const char* what, int64_t* found = nullptr) {
    if (failed) return nullptr;
    bool is_typed = false;
    napi_is_typedarray(env, at(i), &is_typed);
    napi_typedarray_type type;
    size_t elements = 0;
    void* data = nullptr;
    if (is_typed) napi_get_typedarray_info(env, at(i), &type, &elements, &data, nullptr, nullptr);
    if (!is_typed || type != want) {
      fail(what, want == napi_float32_array   ? "must be a Float32Array"
                 : want == napi_float64_array ? "must be a Float64Array"
                                              : "must be an Int32Array");
      return nullptr;
    }
    if (length >= 0 && static_cast<int64_t>(elements) != length) {
      fail(what, ("has " + std::to_string(elements) + " elements, expected " + std::to_string(length)).c_str());
      return nullptr;
    }
    if (found != nullptr) *found = static_cast<int64_t>(elements);
    return data;
  }

  // A typed array of type T (float, double or int32_t) of any length, which goes to *length.
  template <typename T>
  T* sized(size_t i, const char* what, int64_t* length) {
    constexpr napi_typedarray_type type = std::is_same_v<std::remove_const_t<T>, float>    ? napi_float32_array
                                          : std::is_same_v<std::remove_const_t<T>, double> ? napi_float64_array
                                                                                           : napi_int32_array;
    return static_cast<T*>(typed(i, type, -1, what, length));
  }

  float* floats(size_t i, int64_t length, const char* what) {
    return static_cast<float*>(typed(i, napi_float32_array, length, what));
  }

  double* doubles(size_t i, int64_t length, const char* what) {
    return static_cast<double*>(typed(i, napi_float64_array, length, what));
  }

  // An Int32Array of exactly `length` non-negative integers.
  const int32_t* ints(size_t i, int64_t length, const char* what) {
    auto* data = static_cast<const int32_t*>(typed(i, napi_int32_array, length, what));
    if (data != nullptr && std::any_of(data, data + length, [](int32_t v) { return v < 0; })) {
      fail(what, "has a negative entry");
      return nullptr;
    }
    return data;
  }

  double number(size_t i, const char* what) {
    double value = 0;
    if (!failed && napi_get_value_double(env, at(i), &value) != napi_ok) fail(what, "must be a number");
    return value;
  }

  bool boolean(size_t i, const char* what) {
    bool value = false;
    if (!failed && napi_get_value_bool(env, at(i), &value) != napi_ok) fail(what, "must be a boolean");
    return value;
  }

  int32_t int32(size_t i, const char* what) {
    int32_t value = 0;
    if (!failed && napi_get_value_int32(env, at(i), &value) != napi_ok) fail(what, "must be a number");
    return value;
  }
};

}  // namespace tripletjs
