// The PyTorch peer of bench/speed.ts: the same cases in libtorch's C++ API (Debian libtorch-dev
// 1.13 with OpenBLAS), so that both run on this machine in one benchmark run.
//
//   torch-peer CASE THREADS REPETITIONS WARMUPS    (built and run by bench/speed.ts)
//
// CASE is one of matmul (fp32 1024³), cnn (a training step of the CNN), mlp (a training
// step of the 784-256-128-64 MLP), batch-hard (loss forward + backward at B = 2048, D = 128),
// semi-hard (the same at B = 512). Steps and losses follow tripletjs: embeddings L2-normalised,
// Euclidean distances, margin 0.2, the average over triplets with a non-zero loss, Adam at 1e-3,
// P × K batches (K = 4 for the steps, 16 for the losses), seeded normal inputs. Mining runs on the
// detached distance matrix, as a PyTorch user would write it; the semi-hard rule is the one of
// tripletjs's SemiHardMiner (the closest negative farther than the positive, else the farthest),
// with sort + search, never a B × B × B mask.
//
// Prints one JSON line: {"case", "threads", "samples" (ms), "median", "peakRssMiB"}.
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace F = torch::nn::functional;
using torch::Tensor;

namespace {

constexpr double kMargin = 0.2;

Tensor pk_labels(int64_t batch, int64_t per_class) { return torch::arange(batch).div(per_class, "floor"); }

Tensor l2_normalize(const Tensor& x) { return F::normalize(x, F::NormalizeFuncOptions().dim(1)); }

// Euclidean distances between L2-normalised rows, with a finite gradient at 0.
Tensor distances(const Tensor& embeddings) {
  const Tensor e = l2_normalize(embeddings);
  return (2 - 2 * torch::mm(e, e.t())).clamp_min(1e-12).sqrt();
}

// Σ relu(d(a, p) − d(a, n) + margin) over the triplets with a non-zero value, divided by their count.
Tensor triplet_loss(const Tensor& d, const Tensor& anchors, const Tensor& positives, const Tensor& negatives) {
  const Tensor values = torch::relu(d.index({anchors, positives}) - d.index({anchors, negatives}) + kMargin);
  const Tensor active = (values > 0).sum();
  return values.sum() / active.clamp_min(1);
}

// Batch-hard: per anchor, the farthest positive and the closest negative.
Tensor batch_hard_loss(const Tensor& embeddings, const Tensor& labels) {
  const Tensor d = distances(embeddings);
  const int64_t n = d.size(0);
  const Tensor same = labels.unsqueeze(0) == labels.unsqueeze(1);
  const Tensor positive = same & ~torch::eye(n, torch::kBool);
  const Tensor negative = ~same;
  const Tensor dd = d.detach();
  const Tensor hardest_positive = dd.masked_fill(~positive, -1).argmax(1);
  const Tensor hardest_negative = dd.masked_fill(~negative, std::numeric_limits<float>::infinity()).argmin(1);
  const Tensor anchors = (positive.any(1) & negative.any(1)).nonzero().squeeze(1);
  return triplet_loss(d, anchors, hardest_positive.index({anchors}), hardest_negative.index({anchors}));
}

// Semi-hard: each anchor's negatives sorted once, each positive placed by binary search.
Tensor semi_hard_loss(const Tensor& embeddings, const Tensor& labels) {
  const Tensor d = distances(embeddings);
  const int64_t n = d.size(0);
  const Tensor same = labels.unsqueeze(0) == labels.unsqueeze(1);
  const Tensor negative = ~same;
  const Tensor dd = d.detach();
  const auto sorted = dd.masked_fill(same, std::numeric_limits<float>::infinity()).sort(true, 1, false);
  const Tensor& values = std::get<0>(sorted);
  const Tensor& order = std::get<1>(sorted);
  const Tensor negatives_per_anchor = negative.sum(1, true);
  const Tensor farthest = order.gather(1, (negatives_per_anchor - 1).clamp_min(0));
  const Tensor place = torch::searchsorted(values, dd, false, true);
  const Tensor chosen = torch::where(place < negatives_per_anchor, order.gather(1, place.clamp_max(n - 1)), farthest);
  const Tensor pairs = (same & ~torch::eye(n, torch::kBool) & (negatives_per_anchor > 0)).nonzero();
  const Tensor anchors = pairs.select(1, 0);
  const Tensor positives = pairs.select(1, 1);
  return triplet_loss(d, anchors, positives, chosen.index({anchors, positives}));
}

struct CnnImpl : torch::nn::Module {
  torch::nn::Conv2d conv1{torch::nn::Conv2dOptions(1, 32, 3)};
  torch::nn::Conv2d conv2{torch::nn::Conv2dOptions(32, 64, 3)};
  torch::nn::Linear dense1{5 * 5 * 64, 128};
  torch::nn::Linear dense2{128, 64};

  CnnImpl() {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
    register_module("dense1", dense1);
    register_module("dense2", dense2);
  }

  Tensor forward(Tensor x) {
    x = F::max_pool2d(torch::relu(conv1(x)), F::MaxPool2dFuncOptions(2));
    x = F::max_pool2d(torch::relu(conv2(x)), F::MaxPool2dFuncOptions(2));
    x = torch::relu(dense1(x.flatten(1)));
    return l2_normalize(dense2(x));
  }
};
TORCH_MODULE(Cnn);

struct MlpImpl : torch::nn::Module {
  torch::nn::Linear dense1{784, 256};
  torch::nn::Linear dense2{256, 128};
  torch::nn::Linear dense3{128, 64};

  MlpImpl() {
    register_module("dense1", dense1);
    register_module("dense2", dense2);
    register_module("dense3", dense3);
  }

  Tensor forward(Tensor x) { return l2_normalize(dense3(torch::relu(dense2(torch::relu(dense1(x)))))); }
};
TORCH_MODULE(Mlp);

// One Adam step of `model` on a fixed batch of 128 with the batch-hard loss, P × K = 32 × 4.
template <typename Model>
std::function<void()> training_step(Model model, const Tensor& inputs) {
  auto optimizer = std::make_shared<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
  const Tensor labels = pk_labels(inputs.size(0), 4);
  return [model, optimizer, inputs, labels]() mutable {
    optimizer->zero_grad();
    Tensor loss = batch_hard_loss(model->forward(inputs), labels);
    loss.backward();
    optimizer->step();
    loss.item<float>();
  };
}

// Loss forward + backward with respect to seeded N(0, 1) embeddings, B × 128, P × K with K = 16.
std::function<void()> loss_gradient(Tensor (*loss)(const Tensor&, const Tensor&), int64_t batch) {
  const Tensor embeddings = torch::randn({batch, 128}).requires_grad_(true);
  const Tensor labels = pk_labels(batch, 16);
  return [loss, embeddings, labels]() mutable {
    embeddings.mutable_grad() = Tensor();
    loss(embeddings, labels).backward();
    embeddings.grad().sum().item<float>();
  };
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s matmul|cnn|mlp|batch-hard|semi-hard THREADS REPETITIONS WARMUPS\n", argv[0]);
    return 2;
  }
  const std::string name = argv[1];
  const int threads = std::atoi(argv[2]);
  const int repetitions = std::atoi(argv[3]);
  const int warmups = std::atoi(argv[4]);
  torch::set_num_threads(threads);
  torch::manual_seed(1);

  std::function<void()> run;
  if (name == "matmul") {
    const Tensor a = torch::randn({1024, 1024});
    const Tensor b = torch::randn({1024, 1024});
    run = [a, b] { torch::mm(a, b); };
  } else if (name == "cnn") {
    run = training_step(Cnn(), torch::randn({128, 1, 28, 28}));
  } else if (name == "mlp") {
    run = training_step(Mlp(), torch::randn({128, 784}));
  } else if (name == "batch-hard") {
    run = loss_gradient(batch_hard_loss, 2048);
  } else if (name == "semi-hard") {
    run = loss_gradient(semi_hard_loss, 512);
  } else {
    std::fprintf(stderr, "unknown case %s\n", name.c_str());
    return 2;
  }
  for (int i = 0; i < warmups; ++i) run();
  std::vector<double> samples;
  for (int i = 0; i < repetitions; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    samples.push_back(milliseconds_since(start));
  }
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  const size_t middle = sorted.size() / 2;
  const double median = sorted.size() % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("{\"case\":\"%s\",\"threads\":%d,\"median\":%.4f,\"peakRssMiB\":%.1f,\"samples\":[", name.c_str(), threads, median,
              static_cast<double>(usage.ru_maxrss) / 1024);
  for (size_t i = 0; i < samples.size(); ++i) std::printf("%s%.4f", i == 0 ? "" : ",", samples[i]);
  std::printf("]}\n");
  return 0;
}
