// train_prune.cpp — a small libtorch trainer that prunes with swiftcompress (C++20: torch 2.15's headers).
//
// A conv net (Conv2d 1->8 3x3, BatchNorm2d, ReLU, Conv2d 8->8 3x3 without bias, ReLU, Linear 128->4) on
// a synthetic 4-class task (8x8 noise images, one quadrant brightened; the class is that quadrant):
//   1. trains 40 steps of SGD (lr 0.1, batch 32, torch::manual_seed(0));
//   2. prunes as NNI's L1NormPruner with [{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.5}]
//      through swiftcompress: the modules are walked with their Python class names
//      (swiftcompress::libtorch::add_modules), every resolved weight / bias is bound to the
//      parameter and a new mask (ParameterBinding), the masks are written (SC_METRIC_L1) and
//      applied to the weights in place;
//   3. fine-tunes 40 steps, applying the masks after each optimizer step, so pruned weights stay zero.
// Standard output (examples/cpp/expected/train_prune.txt, diffed by tools/test-install.sh): the
// resolved targets, per target the mask's kept elements and the weight's zeros after fine-tuning —
// values that depend only on shapes and the config, not on the trained floats. Standard error: the
// explain table and the losses (they vary with the machine's floating point; not compared). Exits
// non-zero when a pruned weight is not zero after fine-tuning or a loss is not finite.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "swiftcompress_torch.hpp"

struct NetImpl : torch::nn::Module {
    NetImpl()
        : conv1(register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 3).padding(1)))),
          bn1(register_module("bn1", torch::nn::BatchNorm2d(8))),
          conv2(register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3).stride(2).padding(1).bias(false)))),
          fc(register_module("fc", torch::nn::Linear(8 * 4 * 4, 4))) {}
    torch::Tensor forward(torch::Tensor x) {
        x = torch::relu(bn1(conv1(x)));
        x = torch::relu(conv2(x));
        return fc(x.flatten(1));
    }
    torch::nn::Conv2d conv1;
    torch::nn::BatchNorm2d bn1;
    torch::nn::Conv2d conv2;
    torch::nn::Linear fc;
};
TORCH_MODULE(Net);

// A batch of the synthetic task: noise images (uniform in [0, 0.5)) with one 4x4 quadrant
// brightened by 1; the class is that quadrant (0..3).
static std::pair<torch::Tensor, torch::Tensor> batch(int64_t n) {
    torch::Tensor y = torch::randint(0, 4, {n}, torch::kLong);
    torch::Tensor x = torch::rand({n, 1, 8, 8}) * 0.5;
    for (int64_t i = 0; i < n; ++i) {
        int64_t q = y[i].item<int64_t>();
        x[i][0].narrow(0, (q / 2) * 4, 4).narrow(1, (q % 2) * 4, 4).add_(1.0);
    }
    return {x, y};
}

static double train(Net &model, torch::optim::SGD &optimizer, int steps, swiftcompress::Session *masks) {
    double loss_value = 0;
    model->train();
    for (int step = 0; step < steps; ++step) {
        auto [x, y] = batch(32);
        optimizer.zero_grad();
        torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
        loss.backward();
        optimizer.step();
        if (masks != nullptr) masks->apply_masks();  // pruned weights back to zero after the step
        loss_value = loss.item<double>();
        if (!std::isfinite(loss_value)) throw std::runtime_error("the loss is not finite");
    }
    return loss_value;
}

int main() {
    try {
        swiftcompress::require_matching_library();
        torch::manual_seed(0);
        Net model;
        torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1));
        double before = train(model, optimizer, 40, nullptr);
        std::cerr << "trained 40 steps: loss " << before << "\n";

        swiftcompress::Session session(SC_MODE_PRUNING);
        swiftcompress::libtorch::add_modules(session, *model);
        session.set_config(R"([{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.5}])");
        std::cerr << session.report(true);
        swiftcompress::libtorch::ParameterBinding binding(session, *model);
        for (const auto &t : session.targets()) {
            std::printf("target %s.%s (%s)\n", t.module.c_str(), t.target.c_str(),
                        binding.masks().count(t.module + "." + t.target) ? "bound" : "absent");
        }
        session.generate_masks(SC_METRIC_L1);
        session.apply_masks();

        double after = train(model, optimizer, 40, &session);
        std::cerr << "fine-tuned 40 steps with the masks: loss " << after << "\n";

        int failures = 0;
        for (const auto &[name, mask] : binding.masks()) {
            const torch::Tensor &weight = binding.tensors().at(name);
            int64_t kept = mask.count_nonzero().item<int64_t>();
            int64_t zeros = weight.numel() - weight.count_nonzero().item<int64_t>();
            // where the mask is 0 the weight must be 0
            int64_t leaked = (weight.detach() * (1 - mask)).count_nonzero().item<int64_t>();
            std::printf("%s: mask keeps %lld of %lld, weight zeros %lld%s\n", name.c_str(), (long long)kept,
                        (long long)mask.numel(), (long long)zeros, leaked ? " (PRUNED WEIGHTS NOT ZERO)" : "");
            failures += leaked != 0;
        }
        return failures == 0 ? 0 : 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "train_prune: %s\n", e.what());
        return 1;
    }
}
