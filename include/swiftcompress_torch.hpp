// swiftcompress_torch.hpp — libtorch glue for the C++ wrapper swiftcompress.hpp (header-only).
//
// For C++ trainers built on libtorch (the torch wheel's include/ and lib/, or a libtorch
// download). Nothing here computes: masks are written and applied by libswiftcompress; this header
// only walks a torch::nn::Module and hands the library views of its tensors. It needs what libtorch
// needs (C++17; torch 2.15's headers need C++20) and <torch/torch.h>.
//
//     swiftcompress::Session session(SC_MODE_PRUNING);
//     swiftcompress::libtorch::add_modules(session, *model);           // named_modules() order
//     session.set_config(R"([{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.5}])");
//     swiftcompress::libtorch::ParameterBinding masks(session, *model); // binds weights + new masks
//     session.generate_masks(SC_METRIC_L1);                              // writes masks.masks()
//     session.apply_masks();                                             // weight *= mask, in place
//
// - python_type_name maps a module's C++ type name (Module::name(): "torch::nn::Conv2dImpl") to
//   the class name PyTorch's Python API uses ("Conv2d"), which config lists' op_types name: the
//   template arguments and namespaces are dropped, then a trailing "Impl" (the TORCH_MODULE
//   convention, for libtorch's modules and your own alike). A user module `struct Net :
//   torch::nn::Module` is "Net". Pass `overrides` (C++ name -> Python name) for anything else.
// - ParameterBinding binds every resolved target that is a parameter or buffer of its module to
//   that tensor and a mask it allocates (torch::empty_like: same shape, dtype and strides; written by
//   generate_masks). A target the module lacks (Conv2d with bias=false) is bound as absent. A
//   target that is an input or output (`_input_0`, quantization and distillation) is an Error
//   (SC_ERROR_INVALID_ARGUMENT): bind those yourself with Session::bind. The tensors must be CPU
//   float32, float64, float16 or bfloat16 (Error otherwise). The binding keeps the masks (and
//   references to the bound tensors) alive; keep it alive as long as the session may use them, and
//   do not replace the parameters' storage (Module::to, a new register_parameter) while bound.
// - Session::apply_masks writes into the parameters' memory outside autograd: call it between
//   optimizer steps (as NNI's wrapped forward keeps pruned weights at zero), not inside a
//   forward/backward.
#ifndef SWIFTCOMPRESS_TORCH_HPP
#define SWIFTCOMPRESS_TORCH_HPP

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "swiftcompress.hpp"

namespace swiftcompress {
namespace libtorch {

// The Python class name of a module's C++ type name (see the header comment).
inline std::string python_type_name(const std::string &cpp_name,
                                    const std::map<std::string, std::string> &overrides = {}) {
    auto found = overrides.find(cpp_name);
    if (found != overrides.end()) return found->second;
    std::string name = cpp_name.substr(0, cpp_name.find('<'));
    auto colon = name.rfind("::");
    if (colon != std::string::npos) name = name.substr(colon + 2);
    const std::string impl = "Impl";
    if (name.size() > impl.size() && name.compare(name.size() - impl.size(), impl.size(), impl) == 0) {
        name.resize(name.size() - impl.size());
    }
    return name;
}

// The Python class name of `module` (its Module::name()).
inline std::string python_type_name(const torch::nn::Module &module,
                                    const std::map<std::string, std::string> &overrides = {}) {
    return python_type_name(module.name(), overrides);
}

// Adds every module of `model` to the session in named_modules() order, the root as "" (as
// PyTorch's Python API names them), each with its Python class name. No forward argument names are
// given: `_input_<n>` targets resolve by position.
inline void add_modules(Session &session, torch::nn::Module &model,
                        const std::map<std::string, std::string> &overrides = {}) {
    for (const auto &item : model.named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
        session.add_module(item.key(), python_type_name(*item.value(), overrides));
    }
}

// The SC_DTYPE_* of a tensor's scalar type; throws Error (SC_ERROR_DTYPE) for others.
inline int dtype_of(const torch::Tensor &tensor, const std::string &what) {
    switch (tensor.scalar_type()) {
    case torch::kFloat32: return SC_DTYPE_FLOAT32;
    case torch::kFloat64: return SC_DTYPE_FLOAT64;
    case torch::kFloat16: return SC_DTYPE_FLOAT16;
    case torch::kBFloat16: return SC_DTYPE_BFLOAT16;
    default:
        throw Error(SC_ERROR_DTYPE, what + ": dtype " + std::string(c10::toString(tensor.scalar_type())) +
                                        " (expected float32, float64, float16 or bfloat16)");
    }
}

// A view of a CPU tensor's memory (shape and strides in elements, as the C ABI takes them).
inline TensorView view_of(const torch::Tensor &tensor, const std::string &what) {
    if (!tensor.device().is_cpu()) {
        throw Error(SC_ERROR_INVALID_ARGUMENT, what + ": a tensor on " + tensor.device().str() + " (expected the CPU)");
    }
    int dtype = dtype_of(tensor, what);
    std::vector<int64_t> shape(tensor.sizes().begin(), tensor.sizes().end());
    std::vector<int64_t> strides(tensor.strides().begin(), tensor.strides().end());
    return TensorView(tensor.data_ptr(), dtype, std::move(shape), std::move(strides));
}

// Binds the session's resolved parameter targets to the model's tensors and new masks.
class ParameterBinding {
public:
    ParameterBinding(Session &session, torch::nn::Module &model) {
        std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;
        for (const auto &item : model.named_modules("", true)) modules.emplace(item.key(), item.value());
        for (const Target &t : session.targets()) {
            std::string qualified = t.module.empty() ? t.target : t.module + "." + t.target;
            auto m = modules.find(t.module);
            if (m == modules.end()) {
                throw Error(SC_ERROR_UNKNOWN_NAME, "ParameterBinding: target " + qualified +
                                                       ": the model has no module named '" + t.module + "'");
            }
            if (t.target.rfind("_input_", 0) == 0 || t.target.rfind("_output_", 0) == 0) {
                throw Error(SC_ERROR_INVALID_ARGUMENT, "ParameterBinding: target " + qualified +
                                                           " is a module input or output; bind it with Session::bind");
            }
            torch::Tensor tensor = find_tensor(*m->second, t.target);
            if (!tensor.defined()) {  // e.g. Conv2d with bias=false: the module has no such tensor
                session.bind_absent(t.module, t.target);
                continue;
            }
            torch::Tensor mask = torch::empty_like(tensor.detach()).set_requires_grad(false);
            session.bind(t.module, t.target, view_of(tensor, qualified), view_of(mask, qualified + " mask"));
            tensors_[qualified] = tensor;
            masks_[qualified] = mask;
        }
    }

    // "module.target" -> the mask bound for it (written by Session::generate_masks).
    const std::map<std::string, torch::Tensor> &masks() const noexcept { return masks_; }
    // "module.target" -> the bound parameter or buffer.
    const std::map<std::string, torch::Tensor> &tensors() const noexcept { return tensors_; }

private:
    // The module's own parameter or buffer named `name`; an undefined tensor when it has none.
    static torch::Tensor find_tensor(const torch::nn::Module &module, const std::string &name) {
        for (const auto &p : module.named_parameters(/*recurse=*/false)) {
            if (p.key() == name) return p.value();
        }
        for (const auto &b : module.named_buffers(/*recurse=*/false)) {
            if (b.key() == name) return b.value();
        }
        return torch::Tensor();
    }

    std::map<std::string, torch::Tensor> tensors_;
    std::map<std::string, torch::Tensor> masks_;
};

}  // namespace libtorch
}  // namespace swiftcompress

#endif  // SWIFTCOMPRESS_TORCH_HPP
