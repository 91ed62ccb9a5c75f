// The PyTorch peer of bench/speed.ts: the same cases in libtorch's C++ API (Debian libtorch-dev
// 1.13 with OpenBLAS), so that both run on this machine in one benchmark run.
//
//   torch-peer CASE THREADS REPETITIONS WARMUPS    (built and run by bench/speed.ts)
//
// CASE is one of matmul (fp32 1024³), cnn (a training step of the CNN), mlp (a training
// step of the 784-256-128-64 MLP), batch-hard (loss forward + backward at B = 2048, D = 128),
// semi-hard (the same at B = 512), mnv2 (a fine-tuning step of MobileNetV2's blocks 11–16 at
// 224 × 224, batch 32: see Mnv2 below and bench/mnv2-step.ts), mnv2-trained (the same step on
// cached outputs of the frozen blocks 0–10). Steps and losses follow tripletjs: embeddings L2-normalised,
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

// MobileNetV2 as Keras builds it (alpha 1.0, 224 × 224 × 3; the trunk of bench/mnv2-step.ts):
// Conv1 3×3/2 + BN + ReLU6, then inverted-residual blocks (1×1 expand + BN + ReLU6, depthwise
// 3×3 + BN + ReLU6, 1×1 project + BN, the input added when the shapes match; convolutions without
// bias), Conv_1 1×1 to 1280 + BN + ReLU6. Stride-2 convolutions pad as Keras's ZeroPadding2D
// (one row and column, bottom and right) and then convolve without padding, so every shape is the
// Keras model's. Batch norm with Keras's epsilon (1e-3) and momentum (0.999 = 1 - 0.001 here).
// The weights are PyTorch's default initialisation, not ImageNet's: the work is the same.
torch::nn::BatchNorm2d keras_batch_norm(int64_t channels) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(1e-3).momentum(0.001));
}

Tensor relu6_(Tensor x) { return F::relu6(x, F::ReLU6FuncOptions().inplace(true)); }

Tensor keras_stride_pad(const Tensor& x) { return F::pad(x, F::PadFuncOptions({0, 1, 0, 1})); }

struct InvertedResidualImpl : torch::nn::Module {
  bool expand = false;
  bool residual = false;
  int64_t stride = 1;
  torch::nn::Conv2d expand_conv{nullptr};
  torch::nn::BatchNorm2d expand_bn{nullptr};
  torch::nn::Conv2d depthwise{nullptr};
  torch::nn::BatchNorm2d depthwise_bn{nullptr};
  torch::nn::Conv2d project{nullptr};
  torch::nn::BatchNorm2d project_bn{nullptr};

  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride_, int64_t expansion) : expand(expansion != 1), residual(stride_ == 1 && in == out), stride(stride_) {
    const int64_t hidden = in * expansion;
    if (expand) {
      expand_conv = register_module("expand", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, hidden, 1).bias(false)));
      expand_bn = register_module("expand_bn", keras_batch_norm(hidden));
    }
    depthwise = register_module(
        "depthwise", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, hidden, 3).stride(stride).padding(stride == 1 ? 1 : 0).groups(hidden).bias(false)));
    depthwise_bn = register_module("depthwise_bn", keras_batch_norm(hidden));
    project = register_module("project", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1).bias(false)));
    project_bn = register_module("project_bn", keras_batch_norm(out));
  }

  Tensor forward(const Tensor& input) {
    Tensor x = expand ? relu6_(expand_bn(expand_conv(input))) : input;
    if (stride == 2) x = keras_stride_pad(x);
    x = project_bn(project(relu6_(depthwise_bn(depthwise(x)))));
    return residual ? x + input : x;
  }
};
TORCH_MODULE(InvertedResidual);

// Blocks 0–16 as (input channels, output channels, stride, expansion), Keras's numbering.
constexpr int64_t kMnv2Blocks[17][4] = {{32, 16, 1, 1},   {16, 24, 2, 6},   {24, 24, 1, 6},   {24, 32, 2, 6},   {32, 32, 1, 6},   {32, 32, 1, 6},
                                        {32, 64, 2, 6},   {64, 64, 1, 6},   {64, 64, 1, 6},   {64, 64, 1, 6},   {64, 96, 1, 6},   {96, 96, 1, 6},
                                        {96, 96, 1, 6},   {96, 160, 2, 6},  {160, 160, 1, 6}, {160, 160, 1, 6}, {160, 320, 1, 6}};
constexpr int kMnv2LastFrozenBlock = 10;

// Conv1 and blocks 0–10: the frozen part (evaluation mode, run under NoGradGuard).
struct Mnv2FrozenImpl : torch::nn::Module {
  torch::nn::Conv2d conv1{torch::nn::Conv2dOptions(3, 32, 3).stride(2).bias(false)};
  torch::nn::BatchNorm2d conv1_bn = keras_batch_norm(32);
  torch::nn::Sequential blocks;

  Mnv2FrozenImpl() {
    register_module("conv1", conv1);
    register_module("conv1_bn", conv1_bn);
    for (int b = 0; b <= kMnv2LastFrozenBlock; ++b) {
      const auto& s = kMnv2Blocks[b];
      blocks->push_back(InvertedResidual(s[0], s[1], s[2], s[3]));
    }
    register_module("blocks", blocks);
  }

  Tensor forward(const Tensor& images) { return blocks->forward(relu6_(conv1_bn(conv1(keras_stride_pad(images))))); }
};
TORCH_MODULE(Mnv2Frozen);

// Blocks 11–16, Conv_1 + BN + ReLU6 (out_relu), global average pooling, a linear 64-d head,
// L2-normalised: the trained part (training mode: batch norm on the batch's statistics).
struct Mnv2TrainedImpl : torch::nn::Module {
  torch::nn::Sequential blocks;
  torch::nn::Conv2d conv_last{torch::nn::Conv2dOptions(320, 1280, 1).bias(false)};
  torch::nn::BatchNorm2d conv_last_bn = keras_batch_norm(1280);
  torch::nn::Linear embedding{1280, 64};

  Mnv2TrainedImpl() {
    for (int b = kMnv2LastFrozenBlock + 1; b < 17; ++b) {
      const auto& s = kMnv2Blocks[b];
      blocks->push_back(InvertedResidual(s[0], s[1], s[2], s[3]));
    }
    register_module("blocks", blocks);
    register_module("conv_last", conv_last);
    register_module("conv_last_bn", conv_last_bn);
    register_module("embedding", embedding);
  }

  Tensor forward(const Tensor& features) {
    const Tensor x = relu6_(conv_last_bn(conv_last(blocks->forward(features))));
    return l2_normalize(embedding(x.mean({2, 3})));
  }
};
TORCH_MODULE(Mnv2Trained);

int64_t parameter_count(const std::vector<Tensor>& parameters) {
  int64_t count = 0;
  for (const Tensor& p : parameters) count += p.numel();
  return count;
}

// One fine-tuning step on a batch of 32 uniform images in [0, 1), P × K = 8 × 4, batch-hard loss:
// the frozen part under NoGradGuard in evaluation mode, the trained part in training mode, Adam
// at 1e-3 over the trained part's parameters. `cached`: the trained part alone on the frozen
// part's outputs of that batch, computed once.
std::function<void()> mnv2_step(bool cached) {
  Mnv2Frozen frozen;
  Mnv2Trained trained;
  frozen->eval();
  trained->train();
  for (Tensor& p : frozen->parameters()) p.requires_grad_(false);
  std::fprintf(stderr, "mnv2: %lld frozen and %lld trained parameters (with batch norm's statistics: %lld + %lld values)\n",
               static_cast<long long>(parameter_count(frozen->parameters())), static_cast<long long>(parameter_count(trained->parameters())),
               static_cast<long long>(parameter_count(frozen->parameters()) + parameter_count(frozen->buffers())),
               static_cast<long long>(parameter_count(trained->parameters()) + parameter_count(trained->buffers())));
  const Tensor images = torch::rand({32, 3, 224, 224});
  Tensor features;
  if (cached) {
    torch::NoGradGuard no_grad;
    features = frozen->forward(images);
  }
  auto optimizer = std::make_shared<torch::optim::Adam>(trained->parameters(), torch::optim::AdamOptions(1e-3));
  const Tensor labels = pk_labels(32, 4);
  return [frozen, trained, optimizer, images, features, labels]() mutable {
    Tensor inputs = features;
    if (!inputs.defined()) {
      torch::NoGradGuard no_grad;
      inputs = frozen->forward(images);
    }
    optimizer->zero_grad();
    Tensor loss = batch_hard_loss(trained->forward(inputs), labels);
    loss.backward();
    optimizer->step();
    loss.item<float>();
  };
}

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
    std::fprintf(stderr, "usage: %s matmul|cnn|mlp|batch-hard|semi-hard|mnv2|mnv2-trained THREADS REPETITIONS WARMUPS\n", argv[0]);
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
  } else if (name == "mnv2" || name == "mnv2-trained") {
    run = mnv2_step(name == "mnv2-trained");
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
