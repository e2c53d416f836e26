// swiftcompress.hpp — a header-only C++17 wrapper of the C ABI (swiftcompress.h).
//
// Nothing here computes: every value comes from libswiftcompress.so through the C functions, and
// every buffer stays the caller's. What it adds:
//   - swiftcompress::Error, thrown for every failing call: what() is "<function>: <SC_ERROR_*>:
//     <the library's message>" and status() the C status code;
//   - swiftcompress::Session, an RAII owner of one sc_session (move-only; freed by the destructor);
//   - swiftcompress::TensorView, an sc_tensor over caller memory that owns its shape and strides
//     arrays, made from a typed pointer (float, double) or from a pointer with an explicit dtype
//     (float16 / bfloat16 storage as uint16_t), a shape and optional strides in elements.
//
//     swiftcompress::Session session(SC_MODE_PRUNING);
//     session.add_module("fc1", "Linear");
//     session.set_config(R"([{"op_types": ["Linear"], "sparse_ratio": 0.5}])");
//     auto weight = swiftcompress::TensorView::of(w.data(), {16, 8});
//     auto mask = swiftcompress::TensorView::of(m.data(), {16, 8});
//     session.bind("fc1", "weight", weight, mask);    // the session reads weight, writes mask
//     session.generate_masks(SC_METRIC_LEVEL);
//
// Lifetimes are the C ABI's: a bound TensorView's memory must stay valid until the session is
// rebound, reconfigured or destroyed (sc_session_bind); the TensorView object itself may go (the
// library copies the view). Strings returned by the library are copied into std::string here.
// Thread safety is the C ABI's: one Session per thread.
#ifndef SWIFTCOMPRESS_HPP
#define SWIFTCOMPRESS_HPP

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "swiftcompress.h"

namespace swiftcompress {

// A failing C call: the status code and the library's message.
class Error : public std::runtime_error {
public:
    Error(int status, const std::string &what) : std::runtime_error(what), status_(status) {}
    // The SC_ERROR_* code the C function returned.
    int status() const noexcept { return status_; }

private:
    int status_;
};

namespace detail {
// Throws Error unless status is SC_OK; the message is the session's (or the thread's without one).
inline void check(int status, const char *function, const sc_session *session = nullptr) {
    if (status == SC_OK) return;
    const char *message = session ? sc_session_last_error(session) : sc_last_error();
    throw Error(status, std::string(function) + ": " + sc_status_name(status) + ": " + (message ? message : ""));
}
}  // namespace detail

// The version of the loaded library; throws Error (SC_ERROR_STATE) when it differs from this header's.
inline void require_matching_library() {
    if (sc_version_number() != SC_VERSION_NUMBER) {
        throw Error(SC_ERROR_STATE, std::string("libswiftcompress ") + sc_version_string() + " loaded, header " +
                                        SC_VERSION_STRING);
    }
}

// An sc_tensor over caller memory, owning copies of its shape and strides.
class TensorView {
public:
    // `data` of `dtype` (SC_DTYPE_*), `shape`, and `strides` in elements (empty: contiguous
    // row-major). Checked by the library when used, not here.
    TensorView(void *data, int dtype, std::vector<int64_t> shape, std::vector<int64_t> strides = {})
        : shape_(std::move(shape)), strides_(std::move(strides)) {
        view_.data = data;
        view_.dtype = dtype;
        refresh();
    }
    // A float (SC_DTYPE_FLOAT32) or double (SC_DTYPE_FLOAT64) tensor; for float16 / bfloat16 use the
    // constructor with an explicit dtype.
    template <typename T>
    static TensorView of(T *data, std::vector<int64_t> shape, std::vector<int64_t> strides = {}) {
        static_assert(std::is_same_v<std::remove_const_t<T>, float> || std::is_same_v<std::remove_const_t<T>, double>,
                      "TensorView::of takes float or double; pass SC_DTYPE_FLOAT16 / SC_DTYPE_BFLOAT16 explicitly");
        constexpr int dtype = std::is_same_v<std::remove_const_t<T>, float> ? SC_DTYPE_FLOAT32 : SC_DTYPE_FLOAT64;
        return TensorView(const_cast<std::remove_const_t<T> *>(data), dtype, std::move(shape), std::move(strides));
    }

    TensorView(const TensorView &other) : view_(other.view_), shape_(other.shape_), strides_(other.strides_) { refresh(); }
    TensorView(TensorView &&other) noexcept
        : view_(other.view_), shape_(std::move(other.shape_)), strides_(std::move(other.strides_)) {
        refresh();
    }
    TensorView &operator=(TensorView other) noexcept {
        std::swap(view_, other.view_);
        std::swap(shape_, other.shape_);
        std::swap(strides_, other.strides_);
        refresh();
        return *this;
    }

    // The C view (valid while this object lives and is not modified).
    const sc_tensor *get() const noexcept { return &view_; }
    const std::vector<int64_t> &shape() const noexcept { return shape_; }
    const std::vector<int64_t> &strides() const noexcept { return strides_; }
    // The element count (the product of the shape; 1 for a scalar).
    int64_t numel() const noexcept {
        int64_t n = 1;
        for (int64_t d : shape_) n *= d;
        return n;
    }

private:
    void refresh() noexcept {
        view_.ndim = static_cast<int32_t>(shape_.size());
        view_.shape = shape_.empty() ? nullptr : shape_.data();
        view_.strides = strides_.empty() ? nullptr : strides_.data();
    }
    sc_tensor view_{};
    std::vector<int64_t> shape_;
    std::vector<int64_t> strides_;
};

// One resolved target: module name and target name ("weight", "_input_0", ...).
struct Target {
    std::string module;
    std::string target;
};

// Owns one sc_session (SC_MODE_PRUNING, SC_MODE_QUANTIZATION or SC_MODE_DISTILLATION).
class Session {
public:
    explicit Session(int mode) { detail::check(sc_session_create(mode, &session_), "sc_session_create"); }
    ~Session() { sc_session_free(session_); }
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;
    Session(Session &&other) noexcept : session_(std::exchange(other.session_, nullptr)) {}
    Session &operator=(Session &&other) noexcept {
        if (this != &other) {
            sc_session_free(session_);
            session_ = std::exchange(other.session_, nullptr);
        }
        return *this;
    }

    // The C handle, for the functions this wrapper does not cover (check their status with check()).
    sc_session *handle() const noexcept { return session_; }
    // Throws Error with this session's message unless status is SC_OK.
    void check(int status, const char *function) const { detail::check(status, function, session_); }

    // One module of the model in named_modules() order: its name and PyTorch class name ("Conv2d").
    void add_module(const std::string &name, const std::string &type) {
        check(sc_session_add_module(session_, name.c_str(), type.c_str(), nullptr, 0), "sc_session_add_module");
    }
    // The modules as JSON ([{"name": ..., "type": ...}, ...]; see sc_session_add_modules_json).
    void add_modules_json(std::string_view json) {
        check(sc_session_add_modules_json(session_, json.data(), json.size()), "sc_session_add_modules_json");
    }
    // The config list as JSON; resolves the targets (SC_ERROR_CONFIG names the index and key path).
    void set_config(std::string_view json) {
        check(sc_session_set_config(session_, json.data(), json.size()), "sc_session_set_config");
    }
    // The resolved targets in the engine's order.
    std::vector<Target> targets() const {
        std::vector<Target> out;
        for (size_t i = 0, n = sc_session_target_count(session_); i < n; ++i) {
            const char *module = nullptr, *name = nullptr;
            check(sc_session_target(session_, i, &module, &name), "sc_session_target");
            out.push_back({module, name});
        }
        return out;
    }
    // The explain report (table non-zero: the text table; zero: JSON), copied.
    std::string report(bool table = false) const {
        const char *text = nullptr;
        size_t length = 0;
        check(sc_session_report(session_, table ? 1 : 0, &text, &length), "sc_session_report");
        return std::string(text, length);
    }
    // Binds a target's tensor (read) and mask (written by generate_masks); their memory must outlive
    // the binding.
    void bind(const std::string &module, const std::string &target, const TensorView &tensor, const TensorView &mask) {
        check(sc_session_bind(session_, module.c_str(), target.c_str(), tensor.get(), mask.get()), "sc_session_bind");
    }
    // A target the model does not have (a conv's bias with bias=False).
    void bind_absent(const std::string &module, const std::string &target) {
        check(sc_session_bind(session_, module.c_str(), target.c_str(), nullptr, nullptr), "sc_session_bind");
    }
    // A caller-computed metric for SC_METRIC_SUPPLIED (the target's metric shape).
    void bind_metric(const std::string &module, const std::string &target, const TensorView &metric) {
        check(sc_session_bind_metric(session_, module.c_str(), target.c_str(), metric.get()), "sc_session_bind_metric");
    }
    // Writes every bound mask (metric: SC_METRIC_*).
    void generate_masks(int metric) { check(sc_session_generate_masks(session_, metric), "sc_session_generate_masks"); }
    // Multiplies every bound tensor by its mask in place.
    void apply_masks() { check(sc_session_apply_masks(session_), "sc_session_apply_masks"); }

private:
    sc_session *session_ = nullptr;
};

}  // namespace swiftcompress

#endif  // SWIFTCOMPRESS_HPP
