// prune_conv.cpp — prune a small conv net held in std::vector buffers through libswiftcompress (C++17),
// with the header-only wrapper include/swiftcompress.hpp (RAII session, tensor views, exceptions).
//
//   c++ -std=c++17 -I include examples/c/prune_conv.cpp -L <libdir> -lswiftcompress -Wl,-rpath,<libdir>
//
// The model (modules in named_modules() order):
//   conv1 = Conv2d(3, 8, 3),              bn1 = BatchNorm2d(8),  relu,
//   conv2 = Conv2d(8, 8, 3, bias=False),  bn2 = BatchNorm2d(8),
//   conv3 = Conv2d(8, 16, 3, bias=False), bn3 = BatchNorm2d(16), pool = AdaptiveAvgPool2d, fc = Linear(16, 10).
// Values come from a fixed LCG (lcg_value), so the output is the same everywhere;
// examples/c/expected/prune_conv.txt holds it.
//
// One session, metric L1 (L1NormPruner: one L1 norm per output channel by default):
//   - conv2 and conv3 share global group "body": together they lose half of their weights, the
//     channels with the smallest L1 norms of the two layers first;
//   - conv1 loses a quarter of its output channels on its own;
//   - conv1's bias is aligned to its weight (the Conv2d template does it); conv2 and conv3 have no
//     bias, so their resolved `bias` targets are bound as absent (NULL tensor and mask);
//   - each BatchNorm's weight and bias are aligned to the conv before it (target_settings.align);
//   - fc loses a quarter of its output rows, its bias aligned to its weight.
// The program binds every resolved target, generates and applies the masks, and prints per target
// the kept mask elements, the sparsity, the zeros after apply and an FNV-1a hash of the mask.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "swiftcompress.hpp"

namespace {

// The fixed LCG: each value is a 24-bit integer / 2^23 in [-1, 1), exact in float32.
// ExamplesParityTests.swift computes the same values.
struct LCG {
    uint64_t state = 7;
    float next() {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return float(int32_t(state >> 40) - (1 << 23)) / float(1 << 23);
    }
};

// A float32 parameter and its float32 mask, both contiguous.
struct Parameter {
    std::vector<int64_t> shape;
    std::vector<float> values;
    std::vector<float> mask;

    explicit Parameter(std::vector<int64_t> s) : shape(std::move(s)) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        values.resize(size_t(n));
        mask.assign(size_t(n), -1.0f);
    }
    swiftcompress::TensorView view(float *data) const { return swiftcompress::TensorView::of(data, shape); }
};

std::string shape_text(const std::vector<int64_t> &shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

const char *const kModules = R"([
    {"name": "", "type": "SmallConvNet"},
    {"name": "conv1", "type": "Conv2d"}, {"name": "bn1", "type": "BatchNorm2d"}, {"name": "relu", "type": "ReLU"},
    {"name": "conv2", "type": "Conv2d"}, {"name": "bn2", "type": "BatchNorm2d"},
    {"name": "conv3", "type": "Conv2d"}, {"name": "bn3", "type": "BatchNorm2d"},
    {"name": "pool", "type": "AdaptiveAvgPool2d"}, {"name": "fc", "type": "Linear"}
])";

const char *const kConfig = R"([
    {"op_names": ["conv2", "conv3"], "sparse_ratio": 0.5, "global_group_id": "body"},
    {"op_names": ["conv1"], "sparse_ratio": 0.25},
    {"op_names": ["bn1"], "target_settings": {
        "weight": {"align": {"module_name": "conv1", "target_name": "weight", "dims": [0]}},
        "bias": {"align": {"module_name": "conv1", "target_name": "weight", "dims": [0]}}}},
    {"op_names": ["bn2"], "target_settings": {
        "weight": {"align": {"module_name": "conv2", "target_name": "weight", "dims": [0]}},
        "bias": {"align": {"module_name": "conv2", "target_name": "weight", "dims": [0]}}}},
    {"op_names": ["bn3"], "target_settings": {
        "weight": {"align": {"module_name": "conv3", "target_name": "weight", "dims": [0]}},
        "bias": {"align": {"module_name": "conv3", "target_name": "weight", "dims": [0]}}}},
    {"op_types": ["Linear"], "sparse_ratio": 0.25}
])";

}  // namespace

int main() {
    if (sc_version_number() != SC_VERSION_NUMBER) {
        std::fprintf(stderr, "header %s but library %s\n", SC_VERSION_STRING, sc_version_string());
        return 1;
    }
    // The model's parameters, in the order they are filled from the LCG.
    std::vector<std::pair<std::string, Parameter>> model;
    auto add = [&model](const std::string &name, std::vector<int64_t> shape) {
        model.emplace_back(name, Parameter(std::move(shape)));
    };
    add("conv1.weight", {8, 3, 3, 3});
    add("conv1.bias", {8});
    add("bn1.weight", {8});
    add("bn1.bias", {8});
    add("conv2.weight", {8, 8, 3, 3});
    add("bn2.weight", {8});
    add("bn2.bias", {8});
    add("conv3.weight", {16, 8, 3, 3});
    add("bn3.weight", {16});
    add("bn3.bias", {16});
    add("fc.weight", {10, 16});
    add("fc.bias", {10});
    LCG lcg;
    std::map<std::string, Parameter *> by_name;
    for (auto &[name, p] : model) {
        for (float &v : p.values) v = lcg.next();
        by_name[name] = &p;
    }

    try {
        swiftcompress::Session session(SC_MODE_PRUNING);
        session.add_modules_json(kModules);
        session.set_config(kConfig);
        const auto targets = session.targets();
        std::printf("L1, global group of conv2 + conv3, aligned biases and BatchNorms: %zu targets\n", targets.size());
        for (const auto &[module, name] : targets) {
            auto it = by_name.find(module + "." + name);
            if (it == by_name.end()) {
                session.bind_absent(module, name);
                continue;
            }
            Parameter &p = *it->second;
            session.bind(module, name, p.view(p.values.data()), p.view(p.mask.data()));
        }
        session.generate_masks(SC_METRIC_L1);
        session.apply_masks();

        for (const auto &[module, name] : targets) {
            auto it = by_name.find(module + "." + name);
            if (it == by_name.end()) {
                std::printf("  %-13s absent\n", (module + "." + name).c_str());
                continue;
            }
            const Parameter &p = *it->second;
            long long kept = 0, zeros = 0;
            uint64_t hash = 14695981039346656037ULL;
            for (size_t k = 0; k < p.mask.size(); ++k) {
                unsigned bit = p.mask[k] != 0.0f;
                kept += bit;
                zeros += p.values[k] == 0.0f;
                hash = (hash ^ bit) * 1099511628211ULL;
            }
            const long long count = (long long)p.mask.size();
            std::printf("  %-13s %-14s kept %4lld/%-4lld sparsity %.4f zeros %4lld mask %016" PRIx64 "\n",
                        (module + "." + name).c_str(), shape_text(p.shape).c_str(), kept, count,
                        double(count - kept) / double(count), zeros, hash);
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "prune_conv: %s\n", e.what());
        return 1;
    }
    return 0;
}
