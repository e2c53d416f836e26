// cpp_wrapper.cpp — include/swiftcompress.hpp against the library: errors are exceptions with the C
// status and message, Session is move-only RAII, TensorView owns its shape / strides. Values by hand.
// Built by tests/c/run.sh as C++17 and C++20; prints "cpp_wrapper: N checks, F failed".
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "swiftcompress.hpp"

namespace {
int checks = 0, failed = 0;
void expect(bool ok, const char *what) {
    ++checks;
    if (!ok) {
        ++failed;
        std::printf("FAILED: %s\n", what);
    }
}
}  // namespace

int main() {
    swiftcompress::require_matching_library();
    // A bad config: Error with SC_ERROR_CONFIG and the config index in the message.
    {
        swiftcompress::Session s(SC_MODE_PRUNING);
        s.add_module("fc", "Linear");
        try {
            s.set_config(R"([{"op_types": ["Linear"], "sparse_ratio": 1.5}])");
            expect(false, "sparse_ratio 1.5 throws");
        } catch (const swiftcompress::Error &e) {
            expect(e.status() == SC_ERROR_CONFIG, "status SC_ERROR_CONFIG");
            const std::string what = e.what();
            expect(what.find("sc_session_set_config: SC_ERROR_CONFIG: ") == 0, "what() names the call and status");
            expect(what.find("sparse_ratio") != std::string::npos, "the message names the key");
        }
    }
    // Level 0.5 on a 2x4 weight: |w| = 8 distinct values, the 4 smallest pruned.
    {
        std::vector<float> w = {0.5f, -4, 3, 0.1f, -2, 6, -0.25f, 7}, m(8, -1);
        swiftcompress::Session s(SC_MODE_PRUNING);
        s.add_module("fc", "Linear");
        s.set_config(R"([{"op_types": ["Linear"], "sparse_ratio": 0.5}])");
        const auto targets = s.targets();
        expect(targets.size() == 2 && targets[0].module == "fc" && targets[0].target == "weight", "targets");
        auto weight = swiftcompress::TensorView::of(w.data(), {2, 4});
        swiftcompress::TensorView mask = swiftcompress::TensorView::of(m.data(), {2, 4});
        swiftcompress::TensorView copy = mask;  // copies keep their own shape arrays
        expect(copy.get()->shape != mask.get()->shape && copy.numel() == 8, "TensorView copy owns its shape");
        s.bind("fc", "weight", weight, copy);
        s.bind_absent("fc", "bias");
        swiftcompress::Session moved = std::move(s);  // the session moves, the binding with it
        expect(s.handle() == nullptr && moved.handle() != nullptr, "move leaves the source empty");
        moved.generate_masks(SC_METRIC_LEVEL);
        const std::vector<float> want = {0, 1, 1, 0, 0, 1, 0, 1};
        expect(m == want, "level masks");
        expect(moved.report(true).find("fc") != std::string::npos, "report");
        try {
            moved.bind("nope", "weight", weight, mask);
            expect(false, "unknown module throws");
        } catch (const swiftcompress::Error &e) {
            expect(e.status() == SC_ERROR_UNKNOWN_NAME, "status SC_ERROR_UNKNOWN_NAME");
        }
    }
    // Strided view (a transposed 4x2 of the same memory): the shape and strides are passed through.
    {
        std::vector<double> w = {1, 2, 3, 4, 5, 6, 7, 8}, m(8, -1);
        swiftcompress::Session s(SC_MODE_PRUNING);
        s.add_module("fc", "Linear");
        s.set_config(R"([{"op_types": ["Linear"], "target_names": ["weight"], "sparse_ratio": 0.25}])");
        s.bind("fc", "weight", swiftcompress::TensorView::of(w.data(), {4, 2}, {1, 4}),
               swiftcompress::TensorView::of(m.data(), {4, 2}, {1, 4}));
        s.generate_masks(SC_METRIC_LEVEL);
        const std::vector<double> want = {0, 0, 1, 1, 1, 1, 1, 1};  // 1 and 2 are the 2 smallest of 8
        expect(m == want, "strided float64 masks");
    }
    // A bad view: a negative stride is rejected with SC_ERROR_SHAPE.
    {
        std::vector<float> w(4, 1), m(4, 1);
        swiftcompress::Session s(SC_MODE_PRUNING);
        s.add_module("fc", "Linear");
        s.set_config(R"([{"op_types": ["Linear"], "target_names": ["weight"], "sparse_ratio": 0.5}])");
        try {
            s.bind("fc", "weight", swiftcompress::TensorView::of(w.data() + 3, {4}, {-1}),
                   swiftcompress::TensorView::of(m.data(), {4}));
            expect(false, "a negative stride throws");
        } catch (const swiftcompress::Error &e) {
            expect(e.status() == SC_ERROR_SHAPE, "status SC_ERROR_SHAPE");
        }
    }
    std::printf("cpp_wrapper: %d checks, %d failed\n", checks, failed);
    return failed == 0 ? 0 : 1;
}
