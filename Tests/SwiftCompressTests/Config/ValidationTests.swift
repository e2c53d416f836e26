import Testing
@testable import SwiftCompress

/// Every invalid key or value is an error naming the config index, the key path, what was expected
/// and what was given.
@Suite struct ValidationTests {
    @Test(arguments: [
        // the list and its configs
        (#"{"op_types": ["Linear"]}"#, "config_list: expected a list of dicts, got {'op_types': ['Linear']}"),
        (#"[{"op_types": ["Linear"]}, 3]"#, "config_list[1]: expected a dict, got 3"),
        (#"[{"sparse_ratio": 0.5}]"#, "config_list[0]: expected at least one of 'op_names', 'op_names_re', 'op_types' to select modules, got only 'sparse_ratio'"),
        // selection keys
        (#"[{"op_types": "Linear"}]"#, "config_list[0].op_types: expected a list of strings (write ['Linear']), got 'Linear'"),
        (#"[{"op_names": ["fc1", 2]}]"#, "config_list[0].op_names[1]: expected a string, got 2"),
        (#"[{"op_types": ["Linear"], "exclude_op_names": null}]"#, "config_list[0].exclude_op_names: expected a list of strings, got None"),
        (#"[{"op_names_re": ["fc", "layer(1"]}]"#, "config_list[0].op_names_re[1]: expected a Python regular expression that compiles (missing ), unterminated subpattern at position 5), got 'layer(1'"),
        (#"[{"op_types": ["Linear"], "exclude_op_names_re": ["*"]}]"#, "config_list[0].exclude_op_names_re[0]: expected a Python regular expression that compiles (nothing to repeat at position 0), got '*'"),
        (#"[{"op_types": ["Linear"], "target_names": ["weight", ""]}]"#, "config_list[0].target_names[1]: expected a target name, got ''"),
        // pruning values
        (#"[{"op_types": ["Linear"], "target_settings": {"weight": {"sparse_ratio": 1.5}}}]"#, "config_list[0].target_settings.weight.sparse_ratio: expected a number in [0, 1], got 1.5"),
        (#"[{"op_types": ["Linear"], "sparse_ratio": NaN}]"#, "config_list[0].sparse_ratio: expected a number in [0, 1], got nan"),
        (#"[{"op_types": ["Linear"], "sparse_ratio": true}]"#, "config_list[0].sparse_ratio: expected a number in [0, 1], got True"),
        (#"[{"op_types": ["Linear"], "max_sparse_ratio": 0}]"#, "config_list[0].max_sparse_ratio: expected a number in (0, 1], got 0"),
        (#"[{"op_types": ["Linear"], "min_sparse_ratio": 1}]"#, "config_list[0].min_sparse_ratio: expected a number in [0, 1), got 1"),
        (#"[{"op_types": ["Linear"], "sparse_threshold": "high"}]"#, "config_list[0].sparse_threshold: expected a finite number, got 'high'"),
        (#"[{"op_types": ["Linear"], "sparse_ratio": 0.5, "sparse_threshold": 0.1}]"#, "config_list[0].sparse_threshold: expected either sparse_ratio or sparse_threshold in one dict, not both, got sparse_ratio=0.5, sparse_threshold=0.1"),
        (#"[{"op_types": ["Linear"], "global_group_id": 1.5}]"#, "config_list[0].global_group_id: expected an int or a string, got 1.5"),
        (#"[{"op_types": ["Linear"], "dependency_group_id": [1]}]"#, "config_list[0].dependency_group_id: expected an int or a string, got [1]"),
        (#"[{"op_types": ["Linear"], "internal_metric_block": 0}]"#, "config_list[0].internal_metric_block: expected an int >= 1, got 0"),
        (#"[{"op_types": ["Linear"], "granularity": "row"}]"#, "config_list[0].granularity: expected 'default', 'in_channel', 'out_channel', 'per_channel' or a list of ints (each >= 1, or -1 for a whole dim), got 'row'"),
        (#"[{"op_types": ["Linear"], "granularity": [4, 0]}]"#, "config_list[0].granularity[1]: expected an int >= 1, or -1 for a whole dim, got 0"),
        (#"[{"op_types": ["Linear"], "granularity": null}]"#, "config_list[0].granularity: expected 'default', 'in_channel', 'out_channel', 'per_channel' or a list of ints (each >= 1, or -1 for a whole dim), got None"),
        (#"[{"op_types": ["Linear"], "apply_method": "sub"}]"#, "config_list[0].apply_method: expected one of 'mul', 'add', 'bypass', got 'sub'"),
        (#"[{"op_types": ["Linear"], "align": {"target_name": "weight"}}]"#, "config_list[0].align.dims: expected the key 'dims' in align, got nothing"),
        (#"[{"op_types": ["Linear"], "align": {"target_name": "weight", "dims": [0], "axis": 1}}]"#, "config_list[0].align.axis: expected one of the align keys 'module_name', 'target_name', 'dims', got 'axis'"),
        (#"[{"op_types": ["Linear"], "align": {"target_name": "weight", "dims": ["0"]}}]"#, "config_list[0].align.dims[0]: expected an int, got '0'"),
        (#"[{"op_types": ["Linear"], "target_settings": ["weight"]}]"#, "config_list[0].target_settings: expected a dict {target_name: {setting: value}}, got ['weight']"),
        (#"[{"op_types": ["Linear"], "target_settings": {"weight": 0.5}}]"#, "config_list[0].target_settings.weight: expected a dict of settings, got 0.5"),
        (#"[{"op_types": ["Linear"], "target_settings": {"weight": {"sparsity_ratio": 0.5}}}]"#, "config_list[0].target_settings.weight.sparsity_ratio: expected a pruning key (sparse_ratio, max_sparse_ratio, min_sparse_ratio, sparse_threshold, global_group_id, dependency_group_id, granularity, internal_metric_block, apply_method, align, mask_structure); did you mean 'sparse_ratio'?, got 'sparsity_ratio'"),
        (#"[{"op_types": ["Linear"], "quant_dtype": "int8"}]"#, "config_list[0].quant_dtype: expected a pruning key (sparse_ratio, max_sparse_ratio, min_sparse_ratio, sparse_threshold, global_group_id, dependency_group_id, granularity, internal_metric_block, apply_method, align, mask_structure, op_names, op_names_re, op_types, exclude_op_names, exclude_op_names_re, exclude_op_types, target_names, target_settings); 'quant_dtype' is a quantization key, got 'quant_dtype'"),
        (#"[{"op_types": ["Linear"], "min_sparse_ratio": 0.6, "max_sparse_ratio": 0.5}]"#, "config_list[0] (fc1.weight): expected min_sparse_ratio <= max_sparse_ratio, got min_sparse_ratio=0.6, max_sparse_ratio=0.5"),
        (#"[{"op_types": ["Linear"], "target_settings": {"we ight": {"sparsity": 1}}}]"#, "config_list[0].target_settings['we ight'].sparsity: expected a pruning key (sparse_ratio, max_sparse_ratio, min_sparse_ratio, sparse_threshold, global_group_id, dependency_group_id, granularity, internal_metric_block, apply_method, align, mask_structure), got 'sparsity'"),
    ])
    func pruningErrors(json: String, message: String) {
        #expect(errorMessage(json, .pruning) == message)
    }

    @Test(arguments: [
        (#"[{"op_types": ["Linear"], "quant_dtype": "int1"}]"#, "config_list[0].quant_dtype: expected 'intN' or 'uintN' with N from 2 to 16, got 'int1'"),
        (#"[{"op_types": ["Linear"], "quant_dtype": "int17"}]"#, "config_list[0].quant_dtype: expected 'intN' or 'uintN' with N from 2 to 16, got 'int17'"),
        (#"[{"op_types": ["Linear"], "quant_dtype": "float8"}]"#, "config_list[0].quant_dtype: expected 'intN' or 'uintN' with N from 2 to 16, got 'float8'"),
        (#"[{"op_types": ["Linear"], "quant_dtype": "int08"}]"#, "config_list[0].quant_dtype: expected 'intN' or 'uintN' with N from 2 to 16, got 'int08'"),
        (#"[{"op_types": ["Linear"], "quant_scheme": "asymmetric"}]"#, "config_list[0].quant_scheme: expected one of 'affine', 'symmetric', got 'asymmetric'"),
        (#"[{"op_types": ["Linear"], "apply_method": "mul"}]"#, "config_list[0].apply_method: expected one of 'clamp_round', 'qat_clamp_round', 'bypass', got 'mul'"),
        (#"[{"op_types": ["Linear"], "fuse_names": "conv1"}]"#, "config_list[0].fuse_names: expected a list of tuples of module names, got 'conv1'"),
        (#"[{"op_types": ["Linear"], "target_settings": {"_input_": {"granularity": "per_row"}}}]"#, "config_list[0].target_settings._input_.granularity: expected 'default', 'in_channel', 'out_channel', 'per_channel' or a list of ints (each >= 1, or -1 for a whole dim), got 'per_row'"),
    ])
    func quantizationErrors(json: String, message: String) {
        #expect(errorMessage(json, .quantization) == message)
    }

    @Test(arguments: [
        (#"[{"op_names": ["fc1"], "lambda": "big"}]"#, "config_list[0].lambda: expected a finite number, got 'big'"),
        (#"[{"op_names": ["fc1"], "link": []}]"#, "config_list[0].link: expected a module name or a non-empty list of module names, got []"),
        (#"[{"op_names": ["fc1"], "link": ["fc1", 3]}]"#, "config_list[0].link[1]: expected a module name, got 3"),
        (#"[{"op_names": ["fc1"], "apply_method": "l1"}]"#, "config_list[0].apply_method: expected one of 'mse', 'kl', got 'l1'"),
        (#"[{"op_names": ["fc1"], "fuse_names": [["fc1", "fc2"]]}]"#, "config_list[0].fuse_names: expected a distillation key (lambda, link, apply_method, op_names, op_names_re, op_types, exclude_op_names, exclude_op_names_re, exclude_op_types, target_names, target_settings), got 'fuse_names'"),
    ])
    func distillationErrors(json: String, message: String) {
        #expect(errorMessage(json, .distillation) == message)
    }

    @Test func errorsCarryTheirPartsSeparately() {
        do {
            _ = try Plan(configList: [["op_types": ["Linear"]], ["op_types": ["Linear"], "target_settings": ["weight": ["sparse_ratio": 1.5]]]],
                         modules: smallModel, mode: .pruning)
            Issue.record("accepted")
        } catch {
            #expect(error == ConfigError(configIndex: 1, path: "config_list[1].target_settings.weight.sparse_ratio", expected: "a number in [0, 1]", got: "1.5"))
        }
    }

    @Test func acceptedWhereNNIsSchemaIsStricter() throws {
        // NNI 3.0's schema wants a float (rejects 1), rejects None, and requires quant_dtype.
        let p = try plan(#"[{"op_names": ["fc1"], "sparse_ratio": 1, "max_sparse_ratio": null}]"#)
        #expect(p.targets[0].settings["sparse_ratio"] == 1)
        let q = try plan(#"[{"op_names": ["fc1"], "quant_scheme": "affine"}]"#, .quantization)
        #expect(q.targets[0].settings["quant_dtype"] == .null)
    }

    @Test func jsonSyntaxErrorsComeThroughPlan() {
        #expect(errorMessage(#"[{"op_types": ["Linear"],}]"#) == "invalid JSON at line 1, column 26: expected a string key, found '}'")
    }
}
