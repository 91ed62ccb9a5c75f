// Metric-learning passes over a batch's B × R distance matrix, for src/distances, src/miners and
// src/losses: rows normalised, distances from the Gram matrix, batch-hard and semi-hard mining,
// the triplet margin loss (over every valid triplet, or over given ones), and the gradient of
// Σ c_ij·d_ij with respect to the embeddings. They replace JavaScript passes over the B × B
// entries, which were most of a training step's mining and loss time (BENCHMARKS.md).
//
// Each follows a JavaScript function of the library with the same comparisons and tie rules, so
// that mined triplets, counts and batch-all coefficients are identical to the JavaScript path
// (the path without the addon); sums and the passes done in float32 (distances, gradients) agree
// with it to rounding. Threads claim anchors in chunks; results land in per-anchor slots and are
// joined in anchor order, so they do not depend on the thread count. Matrices and rows may live
// on the wasm heap or in JavaScript arrays: every length and index is checked before anything
// is written.
#include "metric_kernels.h"

#include <cmath>
#include <limits>
#include <unordered_map>
#include <vector>

#include "native_support.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tripletjs {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Rows (anchors) that a thread claims at a time (parallel_chunks).
constexpr int64_t kRowsPerChunk = 32;

// JavaScript's Math.max(0, s) but for the sign of a zero: NaN stays NaN. Branch-free, so that
// loops over it vectorise.
inline double clamp_at_zero(double s) { return s < 0 ? 0.0 : s; }

// Σ_j term(j) over j < n in float64, with four partial sums: one chain of additions would bind
// the loop to their latency.
template <typename Term>
double sum_of(int64_t n, const Term& term) {
  double partial[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    for (int64_t lane = 0; lane < 4; ++lane) partial[lane] += term(j + lane);
  }
  for (; j < n; ++j) partial[0] += term(j);
  return (partial[0] + partial[1]) + (partial[2] + partial[3]);
}

// ---------------------------------------------------------------------------------------------
// Label groups and the threshold table (src/common/label-groups.ts, src/common/sorted.ts)
// ---------------------------------------------------------------------------------------------

// The reference indices of each label, ascending, and for each anchor the range of its label's.
struct LabelGroups {
  std::vector<int32_t> members;
  std::vector<int64_t> start, size;
  int64_t largest = 0;

  LabelGroups(const int32_t* labels, int64_t rows, const int32_t* ref_labels, int64_t cols) : start(rows, 0), size(rows, 0) {
    std::unordered_map<int32_t, std::vector<int32_t>> lists;
    for (int64_t n = 0; n < cols; ++n) lists[ref_labels[n]].push_back(static_cast<int32_t>(n));
    std::unordered_map<int32_t, int64_t> offset;
    for (const auto& [label, list] : lists) {
      offset[label] = static_cast<int64_t>(members.size());
      members.insert(members.end(), list.begin(), list.end());
    }
    for (int64_t a = 0; a < rows; ++a) {
      const auto found = lists.find(labels[a]);
      if (found == lists.end()) continue;
      start[a] = offset[labels[a]];
      size[a] = static_cast<int64_t>(found->second.size());
      largest = std::max(largest, size[a]);
    }
  }
};

// ThresholdTable of src/common/sorted.ts: up to `capacity` sorted keys padded with +∞ to a power
// of two, among which values are placed by a branch-free search. The padding follows each sort's
// count (at least 16 keys), where JavaScript pads to the capacity (at least 32), and up to 16 keys
// are compared with a value all at once (SSE2): 1.5 times faster than the search (K = 16). The
// count of keys below a value is the same either way (keys being numbers, not NaN).
class ThresholdTable {
 public:
  explicit ThresholdTable(int64_t capacity) {
    int64_t size = 16;
    while (size <= capacity) size *= 2;
    keys_.assign(static_cast<size_t>(size), 0.0);
  }

  double* keys() { return keys_.data(); }

  // Stable insertion sort of keys[0, count), moving `payload` alike; +∞ after.
  void sort(int64_t count, int32_t* payload) {
    double* k = keys_.data();
    for (int64_t i = 1; i < count; ++i) {
      const double key = k[i];
      const int32_t item = payload[i];
      int64_t j = i - 1;
      while (j >= 0 && k[j] > key) {
        k[j + 1] = k[j];
        payload[j + 1] = payload[j];
        --j;
      }
      k[j + 1] = key;
      payload[j + 1] = item;
    }
    span_ = 16;
    while (span_ <= count) span_ *= 2;
    std::fill(k + count, k + span_, kInfinity);
#if defined(__SSE2__)
    few_ = count <= 16;
    if (few_) {
      // Each key rounded down to a float32 k': for a float32 x, key < x exactly when k' < x.
      alignas(16) float lanes[16];
      for (int64_t i = 0; i < 16; ++i) {
        float f = static_cast<float>(k[i]);
        if (static_cast<double>(f) > k[i]) f = std::nextafter(f, -INFINITY);
        lanes[i] = f;
      }
      for (int64_t q = 0; q < 4; ++q) quarters_[q] = _mm_load_ps(lanes + 4 * q);
    }
#endif
  }

  // The number of keys below x.
  int64_t count_below(float x) const {
#if defined(__SSE2__)
    if (few_) {
      // The keys below x are a prefix of the sorted keys: the count is the first 0 in the mask.
      const __m128 v = _mm_set1_ps(x);
      const unsigned mask = static_cast<unsigned>(_mm_movemask_ps(_mm_cmplt_ps(quarters_[0], v))) |
                            static_cast<unsigned>(_mm_movemask_ps(_mm_cmplt_ps(quarters_[1], v))) << 4 |
                            static_cast<unsigned>(_mm_movemask_ps(_mm_cmplt_ps(quarters_[2], v))) << 8 |
                            static_cast<unsigned>(_mm_movemask_ps(_mm_cmplt_ps(quarters_[3], v))) << 12;
      return __builtin_ctz(~mask);
    }
#endif
    const double* k = keys_.data();
    const double value = x;
    int64_t g = 0;
    for (int64_t step = span_ >> 1; step > 8; step >>= 1) g += static_cast<int64_t>(k[g + step - 1] < value) * step;
    g += static_cast<int64_t>(k[g + 7] < value) << 3;
    g += static_cast<int64_t>(k[g + 3] < value) << 2;
    g += static_cast<int64_t>(k[g + 1] < value) << 1;
    return g + static_cast<int64_t>(k[g] < value);
  }

 private:
  int64_t span_ = 16;
  std::vector<double> keys_;
#if defined(__SSE2__)
  bool few_ = false;
  __m128 quarters_[4];
#endif
};

// ---------------------------------------------------------------------------------------------
// Mined triplets
// ---------------------------------------------------------------------------------------------

// A new Int32Array of `length` elements; its storage goes to *data.
napi_value new_int32_array(napi_env env, int64_t length, int32_t** data) {
  napi_value buffer, array;
  void* bytes = nullptr;
  napi_create_arraybuffer(env, static_cast<size_t>(length) * sizeof(int32_t), &bytes, &buffer);
  napi_create_typedarray(env, napi_int32_array, static_cast<size_t>(length), buffer, 0, &array);
  *data = static_cast<int32_t*>(bytes);
  return array;
}

// Triplets kept per anchor in slots: anchor a's are positives[start[a], start[a] + kept[a]) and
// the negatives alongside. Returns { anchors, positives, negatives } in anchor order.
napi_value join_triplets(napi_env env, const std::vector<int64_t>& start, const std::vector<int64_t>& kept, const std::vector<int32_t>& positives,
                         const std::vector<int32_t>& negatives) {
  int64_t total = 0;
  for (const int64_t k : kept) total += k;
  int32_t *a, *p, *n;
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "anchors", new_int32_array(env, total, &a));
  napi_set_named_property(env, result, "positives", new_int32_array(env, total, &p));
  napi_set_named_property(env, result, "negatives", new_int32_array(env, total, &n));
  int64_t t = 0;
  for (size_t anchor = 0; anchor < kept.size(); ++anchor) {
    for (int64_t k = start[anchor]; k < start[anchor] + kept[anchor]; ++k, ++t) {
      a[t] = static_cast<int32_t>(anchor);
      p[t] = positives[k];
      n[t] = negatives[k];
    }
  }
  return result;
}

// Reads (distances, labels, refLabels, sameSet) at arguments 0–3: a rows × cols matrix.
struct MiningArgs {
  const float* distances = nullptr;
  const int32_t* labels = nullptr;
  const int32_t* ref_labels = nullptr;
  int64_t rows = 0, cols = 0;
  bool same_set = false;

  explicit MiningArgs(Args& args) {
    labels = args.sized<const int32_t>(1, "labels", &rows);
    ref_labels = args.sized<const int32_t>(2, "refLabels", &cols);
    distances = args.floats(0, rows * cols, "distances");
    same_set = args.boolean(3, "sameSet");
    if (!args.failed && same_set && rows != cols) args.fail("labels", "must be as many as refLabels for the same set");
  }
};

}  // namespace

// normalizeRows(x, dims, out, norms, squaredNorms): out = the rows of x (dims values each) divided
// by norms[i] = sqrt(max(|x_i|², 1e-24)), as l2Normalize, and squaredNorms[i] = |out_i|²; with norms
// null, out = x and squaredNorms[i] = |x_i|². readRows in base-distance.ts.
napi_value NormalizeRows(napi_env env, napi_callback_info info) {
  Args args(env, info, "normalizeRows");
  int64_t size = 0;
  const float* x = args.sized<const float>(0, "x", &size);
  const int64_t dims = args.int32(1, "dims");
  if (!args.failed && (dims < 1 || size % dims != 0)) args.fail("x", "is not whole rows of dims values");
  if (args.failed) return nullptr;
  const int64_t rows = size / dims;
  float* out = args.floats(2, size, "out");
  double* norms = args.is_nullish(3) ? nullptr : args.doubles(3, rows, "norms");
  double* squared_norms = args.doubles(4, rows, "squaredNorms");
  if (args.failed) return nullptr;
  parallel_chunks(rows, dims, kRowsPerChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* xi = x + i * dims;
      float* oi = out + i * dims;
      double sum = 0;
      for (int64_t d = 0; d < dims; ++d) sum += static_cast<double>(xi[d]) * xi[d];
      if (norms == nullptr) {
        std::copy(xi, xi + dims, oi);
      } else {
        const double norm = norms[i] = std::sqrt(std::max(sum, 1e-24));
        sum = 0;
        for (int64_t d = 0; d < dims; ++d) {
          const double v = xi[d] / norm;
          oi[d] = static_cast<float>(v);
          sum += v * v;
        }
      }
      squared_norms[i] = sum;
    }
  });
  return nullptr;
}

// gramToMatrix(gram, out, rowSquaredNorms, colSquaredNorms, power, sameSet, negate): out = the
// Euclidean distance raised to `power` from the Gram entries and squared norms (0 on the diagonal
// of the same set), or the Gram entry itself for power 0; negated when `negate` (similarities,
// oriented so that smaller means closer). euclideanGramForm.fromGram in lp-distance.ts.
napi_value GramToMatrix(napi_env env, napi_callback_info info) {
  Args args(env, info, "gramToMatrix");
  int64_t rows = 0, cols = 0;
  const double* row_norms = args.sized<const double>(2, "rowSquaredNorms", &rows);
  const double* col_norms = args.sized<const double>(3, "colSquaredNorms", &cols);
  const float* gram = args.floats(0, rows * cols, "gram");
  float* out = args.floats(1, rows * cols, "out");
  const double power = args.number(4, "power");
  const bool same_set = args.boolean(5, "sameSet");
  const double sign = args.boolean(6, "negate") ? -1.0 : 1.0;
  if (!args.failed && !(power >= 0 && std::isfinite(power))) args.fail("power", "must be 0 (the Gram entry) or a positive power of the Euclidean distance");
  if (!args.failed && same_set && rows != cols) args.fail("rowSquaredNorms", "must be as long as colSquaredNorms for the same set");
  if (args.failed) return nullptr;
  const std::vector<float> col_norms32(col_norms, col_norms + cols);
  parallel_chunks(rows, cols, kRowsPerChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* g = gram + i * cols;
      float* o = out + i * cols;
      const double norm = row_norms[i];
      // One loop per form, so that each stays simple for the compiler.
      if (power == 0) {
        for (int64_t j = 0; j < cols; ++j) o[j] = static_cast<float>(sign * g[j]);
        continue;
      }
      if (power == 1 || power == 2) {
        // In float32, four entries at a time (three times faster): the Gram entries carry
        // float32 rounding already, and the values differ from JavaScript's float64 pass by
        // about that much.
        const float s = static_cast<float>(sign), row_norm = static_cast<float>(norm);
        for (int64_t j = 0; j < cols; ++j) {
          const float squared = row_norm + col_norms32[j] - 2.0f * g[j];
          o[j] = squared < 0 ? 0.0f : squared;
        }
        if (power == 1) {
          for (int64_t j = 0; j < cols; ++j) o[j] = s * std::sqrt(o[j]);
        } else if (sign < 0) {
          for (int64_t j = 0; j < cols; ++j) o[j] = -o[j];
        }
      } else {
        for (int64_t j = 0; j < cols; ++j) o[j] = static_cast<float>(sign * std::pow(clamp_at_zero(norm + col_norms[j] - 2.0 * g[j]), power / 2));
      }
      if (same_set) o[i] = 0.0f;
    }
  });
  return nullptr;
}

// batchHardMine(distances, labels, refLabels, sameSet): per anchor the farthest positive and the
// closest negative, lowest index among equals (BatchHardMiner.select).
napi_value BatchHardMine(napi_env env, napi_callback_info info) {
  Args args(env, info, "batchHardMine");
  const MiningArgs m(args);
  if (args.failed) return nullptr;
  std::vector<int64_t> start(static_cast<size_t>(m.rows)), kept(static_cast<size_t>(m.rows), 0);
  std::vector<int32_t> positives(static_cast<size_t>(m.rows)), negatives(static_cast<size_t>(m.rows));
  for (int64_t a = 0; a < m.rows; ++a) start[a] = a;
  parallel_chunks(m.rows, m.cols, kRowsPerChunk, [&](int64_t begin, int64_t end) {
    for (int64_t a = begin; a < end; ++a) {
      const int32_t label = m.labels[a];
      const float* row = m.distances + a * m.cols;
      const int64_t self = m.same_set ? a : -1;
      int64_t hardest_positive = -1, hardest_negative = -1;
      float positive_distance = -INFINITY, negative_distance = INFINITY;
      for (int64_t n = 0; n < m.cols; ++n) {
        const float d = row[n];
        if (m.ref_labels[n] == label) {
          if (d > positive_distance && n != self) {
            positive_distance = d;
            hardest_positive = n;
          }
        } else if (d < negative_distance) {
          negative_distance = d;
          hardest_negative = n;
        }
      }
      if (hardest_positive < 0 || hardest_negative < 0) continue;
      positives[a] = static_cast<int32_t>(hardest_positive);
      negatives[a] = static_cast<int32_t>(hardest_negative);
      kept[a] = 1;
    }
  });
  return join_triplets(env, start, kept, positives, negatives);
}

// semiHardMine(distances, labels, refLabels, sameSet, margin): per anchor–positive pair the
// closest negative farther than the positive, else the farthest negative; pairs whose negative is
// `margin` or more farther are dropped (margin +∞: none). SemiHardMiner.select, step for step.
napi_value SemiHardMine(napi_env env, napi_callback_info info) {
  Args args(env, info, "semiHardMine");
  const MiningArgs m(args);
  const double margin = args.number(4, "margin");
  if (args.failed) return nullptr;
  const LabelGroups groups(m.labels, m.rows, m.ref_labels, m.cols);
  std::vector<int64_t> start(static_cast<size_t>(m.rows)), kept(static_cast<size_t>(m.rows), 0);
  int64_t capacity = 0;
  for (int64_t a = 0; a < m.rows; ++a) {
    start[a] = capacity;
    capacity += groups.size[a];
  }
  std::vector<int32_t> positives(static_cast<size_t>(capacity)), negatives(static_cast<size_t>(capacity));
  const int64_t largest = groups.largest;
  parallel_chunks(m.rows, m.cols, kRowsPerChunk, [&](int64_t begin, int64_t end) {
    ThresholdTable table(largest);
    double* sorted_distances = table.keys();
    std::vector<int32_t> sorted_positions(static_cast<size_t>(largest) + 1), gap_negative(static_cast<size_t>(largest) + 1),
        chosen(static_cast<size_t>(largest) + 1);
    std::vector<double> gap_minimum(static_cast<size_t>(largest) + 1);
    for (int64_t a = begin; a < end; ++a) {
      const int32_t label = m.labels[a];
      const float* row = m.distances + a * m.cols;
      const int32_t* members = groups.members.data() + groups.start[a];
      const int64_t size = groups.size[a];
      int64_t count = 0;
      for (int64_t i = 0; i < size; ++i) {
        if (m.same_set && members[i] == a) continue;
        sorted_distances[count] = row[members[i]];
        sorted_positions[count++] = static_cast<int32_t>(i);
      }
      if (count == 0) continue;
      table.sort(count, sorted_positions.data());
      std::fill(gap_minimum.begin(), gap_minimum.begin() + count + 1, kInfinity);
      std::fill(gap_negative.begin(), gap_negative.begin() + count + 1, -1);
      int32_t farthest = -1;
      double farthest_distance = -kInfinity;
      for (int64_t n = 0; n < m.cols; ++n) {
        if (m.ref_labels[n] == label) continue;
        const double d = row[n];
        const int64_t gap = table.count_below(row[n]);
        if (d < gap_minimum[gap]) {
          gap_minimum[gap] = d;
          gap_negative[gap] = static_cast<int32_t>(n);
        }
        if (d > farthest_distance) {
          farthest_distance = d;
          farthest = static_cast<int32_t>(n);
        }
      }
      if (farthest < 0) continue;
      int32_t best = -1;
      double best_distance = kInfinity;
      for (int64_t i = count - 1; i >= 0; --i) {
        if (gap_minimum[i + 1] < best_distance) {
          best_distance = gap_minimum[i + 1];
          best = gap_negative[i + 1];
        }
        chosen[sorted_positions[i]] = best >= 0 ? best : farthest;
      }
      int64_t k = start[a];
      for (int64_t i = 0; i < size; ++i) {
        const int32_t p = members[i];
        if (m.same_set && p == a) continue;
        const int32_t negative = chosen[i];
        if (static_cast<double>(row[negative]) - static_cast<double>(row[p]) < margin) {
          positives[k] = p;
          negatives[k++] = negative;
        }
      }
      kept[a] = k - start[a];
    }
  });
  return join_triplets(env, start, kept, positives, negatives);
}

// allTripletsHinge(distances, labels, margin, coefficients, totals): the hinge loss over every
// valid triplet of a batch against itself (allTripletsHinge in triplet-margin-loss.ts): sets the
// coefficient of each anchor's positives and negatives in the dense B × B `coefficients`, and
// writes [sum, triplets, active (triplet, negative) incidences] to `totals`.
napi_value AllTripletsHinge(napi_env env, napi_callback_info info) {
  Args args(env, info, "allTripletsHinge");
  int64_t rows = 0;
  const int32_t* labels = args.sized<const int32_t>(1, "labels", &rows);
  const float* distances = args.floats(0, rows * rows, "distances");
  const double margin = args.number(2, "margin");
  float* coefficients = args.floats(3, rows * rows, "coefficients");
  double* totals = args.doubles(4, 3, "totals");
  if (args.failed) return nullptr;
  const LabelGroups groups(labels, rows, labels, rows);
  const int64_t largest = groups.largest;
  std::vector<double> sums(static_cast<size_t>(rows), 0.0), counts(static_cast<size_t>(rows), 0.0), actives(static_cast<size_t>(rows), 0.0);
  parallel_chunks(rows, rows, kRowsPerChunk, [&](int64_t begin, int64_t end) {
    // Keys are negated thresholds −(d(a,p) + margin): count_below(−v) is the number above v.
    ThresholdTable table(largest);
    double* keys = table.keys();
    std::vector<int32_t> positives(static_cast<size_t>(largest) + 1);
    std::vector<int64_t> placed(static_cast<size_t>(largest) + 1);
    for (int64_t a = begin; a < end; ++a) {
      const int32_t label = labels[a];
      const float* row = distances + a * rows;
      float* row_coefficients = coefficients + a * rows;
      const int32_t* members = groups.members.data() + groups.start[a];
      const int64_t size = groups.size[a];
      const int64_t negatives = rows - size;
      int64_t count = 0;
      for (int64_t i = 0; i < size; ++i) {
        if (members[i] == a) continue;
        keys[count] = -(static_cast<double>(row[members[i]]) + margin);
        positives[count++] = members[i];
      }
      if (count == 0 || negatives == 0) continue;
      table.sort(count, positives.data());
      std::fill(placed.begin(), placed.begin() + count + 1, 0);
      for (int64_t n = 0; n < rows; ++n) {
        if (labels[n] == label) continue;
        const int64_t active = table.count_below(-row[n]);
        ++placed[active];
        row_coefficients[n] = -static_cast<float>(active);  // −0 when inactive, as in JavaScript
      }
      int64_t active = 0, nonzero = 0;
      for (int64_t i = count - 1; i >= 0; --i) {
        active += placed[i + 1];
        nonzero += active;
        row_coefficients[positives[i]] = static_cast<float>(active);
      }
      // Σ over active triplets of d(a,p) + margin − d(a,n) = Σ_j c_j·d(a,j) + margin·(active
      // incidences), the anchor's own entry left out: summed after the placement rather than
      // during it, where one chain of float64 additions set the pace of the whole loop.
      const double sum = sum_of(rows, [&](int64_t j) { return static_cast<double>(row_coefficients[j]) * row[j]; }) -
                         static_cast<double>(row_coefficients[a]) * row[a] + margin * static_cast<double>(nonzero);
      sums[a] = sum;
      counts[a] = static_cast<double>(count * negatives);
      actives[a] = static_cast<double>(nonzero);
    }
  });
  totals[0] = totals[1] = totals[2] = 0;
  for (int64_t a = 0; a < rows; ++a) {
    totals[0] += sums[a];
    totals[1] += counts[a];
    totals[2] += actives[a];
  }
  return nullptr;
}

// tripletMarginTerms(distances, rows, anchors, positives, negatives, margin, swap, smooth, dense,
// indices, coefficients, totals): the triplet margin loss over the given triplets of a rows × rows
// oriented matrix, as the per-triplet loop of TripletMarginLoss.parts: for each triplet in order,
// its value (hinge, or softplus when `smooth`; the negative distance min(d(a,n), d(p,n)) when
// `swap`) goes into totals = [sum, triplets, non-zero values], and a non-zero slope to d(a,p) (+)
// and to the negative's entry (−): added into `dense` (rows × rows) when given, else appended to
// the entry lists `indices` and `coefficients` (2 per triplet at most). Returns the number of
// entries appended.
napi_value TripletMarginTerms(napi_env env, napi_callback_info info) {
  Args args(env, info, "tripletMarginTerms");
  const int64_t rows = args.int32(1, "rows");
  if (!args.failed && rows < 0) args.fail("rows", "must not be negative");
  const float* distances = args.floats(0, rows * rows, "distances");
  int64_t count = 0;
  const int32_t* anchors = args.sized<const int32_t>(2, "anchors", &count);
  const int32_t* positives = args.ints(3, count, "positives");
  const int32_t* negatives = args.ints(4, count, "negatives");
  const double margin = args.number(5, "margin");
  const bool swap = args.boolean(6, "swap");
  const bool smooth = args.boolean(7, "smooth");
  float* dense = args.is_nullish(8) ? nullptr : args.floats(8, rows * rows, "dense");
  int32_t* indices = dense != nullptr ? nullptr : static_cast<int32_t*>(args.typed(9, napi_int32_array, 2 * count, "indices"));
  double* coefficients = dense != nullptr ? nullptr : args.doubles(10, 2 * count, "coefficients");
  double* totals = args.doubles(11, 3, "totals");
  if (args.failed) return nullptr;
  const auto outside = [rows](const int32_t* list, int64_t length) { return std::any_of(list, list + length, [rows](int32_t i) { return i < 0 || i >= rows; }); };
  if (outside(anchors, count) || outside(positives, count) || outside(negatives, count)) {
    args.fail("triplets", "have an index outside the batch");
    return nullptr;
  }
  double sum = 0;
  int64_t nonzero = 0, entries = 0;
  for (int64_t t = 0; t < count; ++t) {
    const int64_t ap = int64_t{anchors[t]} * rows + positives[t];
    int64_t an = int64_t{anchors[t]} * rows + negatives[t];
    if (swap) {
      const int64_t pn = int64_t{positives[t]} * rows + negatives[t];
      if (distances[pn] < distances[an]) an = pn;
    }
    const double violation = static_cast<double>(distances[ap]) - static_cast<double>(distances[an]) + margin;
    double value, slope;
    if (smooth) {
      // softplus and its derivative, the sigmoid, without overflow (softplus and sigmoid in base-metric-loss.ts).
      value = violation > 0 ? violation + std::log1p(std::exp(-violation)) : std::log1p(std::exp(violation));
      const double e = std::exp(violation >= 0 ? -violation : violation);
      slope = violation >= 0 ? 1 / (1 + e) : e / (1 + e);
    } else {
      value = violation > 0 ? violation : 0;
      slope = violation > 0 ? 1 : 0;
    }
    sum += value;
    if (value > 0) ++nonzero;
    if (slope == 0) continue;
    if (dense != nullptr) {
      dense[ap] = static_cast<float>(dense[ap] + slope);
      dense[an] = static_cast<float>(dense[an] - slope);
      continue;
    }
    indices[entries] = static_cast<int32_t>(ap);
    coefficients[entries++] = slope;
    indices[entries] = static_cast<int32_t>(an);
    coefficients[entries++] = -slope;
  }
  totals[0] = sum;
  totals[1] = static_cast<double>(count);
  totals[2] = static_cast<double>(nonzero);
  napi_value result;
  napi_create_int64(env, entries, &result);
  return result;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The gradient of Σ c_ij·oriented_ij with respect to the rows (gramGradient in base-distance.ts)
// ---------------------------------------------------------------------------------------------

// Reads (values, coefficients…, x, dims, norms, out, power, sign, multiplier) from argument
// `first_x` = the index of x: B × B values, B × D rows x, optional norms, B × D out.
struct GradientArgs {
  const float* values = nullptr;
  const float* x = nullptr;
  const double* norms = nullptr;
  float* out = nullptr;
  int64_t rows = 0, dims = 0;
  double power = 0, sign = 1, multiplier = 1;

  GradientArgs(Args& args, size_t first_x) {
    int64_t size = 0;
    x = args.sized<const float>(first_x, "x", &size);
    dims = args.int32(first_x + 1, "dims");
    if (!args.failed && (dims < 1 || size % dims != 0)) args.fail("x", "is not whole rows of dims values");
    if (args.failed) return;
    rows = size / dims;
    values = args.floats(0, rows * rows, "values");
    if (!args.is_nullish(first_x + 2)) norms = args.doubles(first_x + 2, rows, "norms");
    out = args.floats(first_x + 3, rows * dims, "out");
    power = args.number(first_x + 4, "power");
    sign = args.number(first_x + 5, "sign");
    multiplier = args.number(first_x + 6, "multiplier");
    if (!args.failed && !(power >= 0 && std::isfinite(power))) args.fail("power", "must be 0 (a product) or a positive power of the Euclidean distance");
  }

  // f of an entry whose (not oriented) value is `value`: ∂value/∂x_i = f·(x_i − x_j) for a power
  // of the Euclidean distance, f·x_j (f = 1) for a product; 0 at distance 0, as safePow.
  double factor(double value) const {
    if (power == 0) return 1;
    if (power == 1) return value > 0 ? 1 / value : 0;
    if (power == 2) return 2;
    return value > 0 ? power * std::pow(value, (power - 2) / power) : 0;
  }

  // w_ij = c_ij·f_ij of entry `index` with coefficient c.
  double weight(int64_t index, double c) const { return c == 0 ? 0 : c * factor(sign * values[index]); }

  // c[k] = m[k] = s = (c[k] + m[k])·f of the entries whose values are v[k], in float32: the
  // weight of a pair from both of its coefficients, the factor being the same for d_ij and d_ji.
  // One loop per common form, so that each vectorises.
  void weigh_pairs(float* c, float* m, const float* v, int64_t count) const {
    if (power == 1) {
      const float s = static_cast<float>(sign);
      for (int64_t k = 0; k < count; ++k) {
        const float value = s * v[k];
        const float divisor = value > 0 ? value : 1.0f;
        c[k] = m[k] = value > 0 ? (c[k] + m[k]) / divisor : 0.0f;
      }
    } else if (power == 2 || power == 0) {
      const float f = power == 2 ? 2.0f : 1.0f;
      for (int64_t k = 0; k < count; ++k) c[k] = m[k] = f * (c[k] + m[k]);
    } else {
      for (int64_t k = 0; k < count; ++k) {
        const double pair = static_cast<double>(c[k]) + m[k];
        c[k] = m[k] = static_cast<float>(pair == 0 ? 0 : pair * factor(sign * v[k]));
      }
    }
  }

  // out holds P = Σ_j s_ij·x_j and weights r_i = Σ_j s_ij (s_ij = w_ij + w_ji); row i of the
  // gradient is scale·(r_i·x_i − P_i) for a distance and scale·P_i for a product, then the
  // normalisation's gradient (g − x·(x·g)) / |x_original|.
  void finish(const std::vector<double>& weights) const {
    const double scale = sign * multiplier;
    const double other = power > 0 ? -scale : scale;
    const double self = power > 0 ? scale : 0;
    parallel_chunks(rows, dims * 4, kRowsPerChunk, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float* xi = x + i * dims;
        float* gi = out + i * dims;
        const double own = self * weights[i];
        for (int64_t d = 0; d < dims; ++d) gi[d] = static_cast<float>(own * xi[d] + other * gi[d]);
        if (norms == nullptr) continue;
        double dot = 0;
        // Below the 1e-12 floor the norm is a constant: no projection.
        if (norms[i] > 1e-12) {
          for (int64_t d = 0; d < dims; ++d) dot += static_cast<double>(xi[d]) * gi[d];
        }
        const double inverse = 1 / norms[i];
        for (int64_t d = 0; d < dims; ++d) gi[d] = static_cast<float>((gi[d] - dot * xi[d]) * inverse);
      }
    });
  }
};

// Tiles of the symmetric pass over the dense coefficients: 64 × 64 floats (16 KiB) per tile, so
// that a tile and its transpose stay in the first-level cache.
constexpr int64_t kTile = 64;

}  // namespace

// gramGradientSparse(values, indices, coefficients, x, dims, norms, out, power, sign, multiplier):
// the gradient of Σ_k coefficients[k]·oriented[indices[k]] (entries may repeat), entry by entry
// in list order, as sparseProducts in base-distance.ts.
napi_value GramGradientSparse(napi_env env, napi_callback_info info) {
  Args args(env, info, "gramGradientSparse");
  const GradientArgs g(args, 3);
  int64_t length = 0;
  const int32_t* indices = args.sized<const int32_t>(1, "indices", &length);
  const double* coefficients = args.doubles(2, length, "coefficients");
  if (args.failed) return nullptr;
  const int64_t entries = g.rows * g.rows;
  if (std::any_of(indices, indices + length, [entries](int32_t index) { return index < 0 || index >= entries; })) {
    args.fail("indices", "has an entry outside the matrix");
    return nullptr;
  }
  // Entry (i, j) adds w·x_j to row i and w·x_i to row j. Listed by target row (in list order),
  // each row is summed on its own: rows go to threads, and no row depends on them. In float32,
  // as the JavaScript path stores every partial sum (and twice as wide in SIMD as float64).
  const int64_t rows = g.rows;
  std::vector<double> weights(static_cast<size_t>(rows), 0.0), entry_weights(static_cast<size_t>(length));
  std::vector<int64_t> start(static_cast<size_t>(rows) + 1, 0);
  for (int64_t k = 0; k < length; ++k) {
    const double w = entry_weights[k] = g.weight(indices[k], coefficients[k]);
    if (w == 0) continue;
    const int64_t i = indices[k] / rows, j = indices[k] % rows;
    weights[i] += w;
    weights[j] += w;
    ++start[i + 1];
    ++start[j + 1];
  }
  for (int64_t i = 0; i < rows; ++i) start[i + 1] += start[i];
  std::vector<int32_t> sources(static_cast<size_t>(start[rows]));
  std::vector<float> scales(static_cast<size_t>(start[rows]));
  std::vector<int64_t> next(start.begin(), start.end() - 1);
  for (int64_t k = 0; k < length; ++k) {
    const double w = entry_weights[k];
    if (w == 0) continue;
    const int32_t i = indices[k] / static_cast<int32_t>(rows), j = indices[k] % static_cast<int32_t>(rows);
    sources[next[i]] = j;
    scales[next[i]++] = static_cast<float>(w);
    sources[next[j]] = i;
    scales[next[j]++] = static_cast<float>(w);
  }
  const int64_t dims = g.dims;
  parallel_chunks(rows, (start[rows] / std::max<int64_t>(rows, 1) + 1) * dims, kRowsPerChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* sum = g.out + i * dims;
      std::fill(sum, sum + dims, 0.0f);
      for (int64_t e = start[i]; e < start[i + 1]; ++e) {
        const float w = scales[e];
        const float* __restrict source = g.x + sources[e] * dims;
        for (int64_t d = 0; d < dims; ++d) sum[d] += w * source[d];
      }
    }
  });
  g.finish(weights);
  return nullptr;
}

// gramGradientDense(values, coefficients, x, dims, norms, out, power, sign, multiplier): the
// gradient of Σ c_ij·oriented_ij over a dense B × B `coefficients` of a batch against itself,
// which is overwritten with S = W + Wᵀ, s_ij = (c_ij + c_ji)·f(d_ij), so that Σ_j s_ij·x_j is one
// product S·x. In float32 (the product is anyway), where denseProducts in base-distance.ts
// weighs in float64 and each entry with its own value.
napi_value GramGradientDense(napi_env env, napi_callback_info info) {
  Args args(env, info, "gramGradientDense");
  const GradientArgs g(args, 2);
  float* coefficients = args.floats(1, g.rows * g.rows, "coefficients");
  if (args.failed || g.rows == 0) return nullptr;
  const int64_t rows = g.rows;
  // S in place by tiles of the upper triangle, each pair (i ≤ j) by one item only, which also
  // adds s_ij to the weights r_i and r_j. Item t takes tile rows t and tiles − 1 − t, so that
  // items have equal work; each has its own weights, added in item order afterwards. The lower
  // tile goes through a transposed copy: walking down a column of a matrix whose rows are a power
  // of two apart hits one cache set again and again (the pass took 20–30 ms so, 3–5 through the copy).
  const int64_t tiles = (rows + kTile - 1) / kTile;
  const int64_t items = (tiles + 1) / 2;
  std::vector<double> item_weights(static_cast<size_t>(items * rows), 0.0);
  const auto symmetrise_tile_row = [&](int64_t tile_row, double* weights) {
    std::vector<float> mirror(static_cast<size_t>(kTile * kTile));
    const int64_t i0 = tile_row * kTile, i1 = std::min(rows, i0 + kTile);
    for (int64_t i = i0; i < i1; ++i) {
      for (int64_t j = i; j < i1; ++j) {
        g.weigh_pairs(coefficients + i * rows + j, coefficients + j * rows + i, g.values + i * rows + j, 1);
        weights[i] += coefficients[i * rows + j];
        if (j != i) weights[j] += coefficients[i * rows + j];
      }
    }
    for (int64_t j0 = i1; j0 < rows; j0 += kTile) {
      const int64_t j1 = std::min(rows, j0 + kTile);
      // mirror[(i − i0)·kTile + (j − j0)] = c_ji.
      for (int64_t j = j0; j < j1; ++j) {
        for (int64_t i = i0; i < i1; ++i) mirror[(i - i0) * kTile + (j - j0)] = coefficients[j * rows + i];
      }
      for (int64_t i = i0; i < i1; ++i) {
        float* pairs = mirror.data() + (i - i0) * kTile;
        g.weigh_pairs(coefficients + i * rows + j0, pairs, g.values + i * rows + j0, j1 - j0);
        weights[i] += sum_of(j1 - j0, [pairs](int64_t k) { return static_cast<double>(pairs[k]); });
        for (int64_t j = j0; j < j1; ++j) weights[j] += pairs[j - j0];
      }
      for (int64_t j = j0; j < j1; ++j) {
        for (int64_t i = i0; i < i1; ++i) coefficients[j * rows + i] = mirror[(i - i0) * kTile + (j - j0)];
      }
    }
  };
  parallel_chunks(items, 2 * rows * kTile, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      double* weights = item_weights.data() + item * rows;
      symmetrise_tile_row(item, weights);
      if (tiles - 1 - item != item) symmetrise_tile_row(tiles - 1 - item, weights);
    }
  });
  std::vector<double> weights(static_cast<size_t>(rows), 0.0);
  for (int64_t item = 0; item < items; ++item) {
    for (int64_t i = 0; i < rows; ++i) weights[i] += item_weights[item * rows + i];
  }
  gemm(false, false, rows, g.dims, rows, coefficients, g.x, 0.0f, g.out);
  g.finish(weights);
  return nullptr;
}

}  // namespace tripletjs
