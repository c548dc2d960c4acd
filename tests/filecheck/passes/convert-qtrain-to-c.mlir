// convert-qtrain-to-c lowers a planned module to the `ckern` dialect: one ckern.global per
// qtrain.param (p0, p1, ... in declaration order, `param_index` = that order; kind trainable
// or frozen) and per qtrain.state (s0, s1, ..., kind state), then ckern.func @odtc_infer
// from @forward and ckern.func @odtc_train_step from @train_step, in the module's order.
// Each qtrain op becomes one ckern.call to its runtime kernel (runtime/c/include/
// odtc_kernels.h) with the argument order of that kernel's prototype: buffers as
// #ckern.ref<space, name, byte offset, C type> (space "arena" at the planned qtrain.offset,
// "global" for a load read in place, "arg" for the function arguments input/target/output,
// "null" for an absent operand), then integer geometry as i32. Reshape/flatten become
// nothing (the ref of their root is used). @forward ends by copying its result to `output`;
// @train_step returns the loss ref.
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c' | filecheck %s --match-full-lines
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{optimizer=momentum momentum=0.5},qtrain-prune-frozen-backward,qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c' | filecheck %s --match-full-lines --check-prefix=MOM
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{optimizer=adam batch-size=2},qtrain-prune-frozen-backward,qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c' | filecheck %s --match-full-lines --check-prefix=ADAM
// Without qtrain-autodiff (DIRECT): @forward alone (inference only), a hand-written
// @train_step, and the error chunks.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c' | filecheck %s --match-full-lines --check-prefix=DIRECT
// Without a plan, the pass refuses every module (checked on the first).
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-bufferize,convert-qtrain-to-c' | filecheck %s --match-full-lines --check-prefix=NOPLAN
// NOPLAN: convert-qtrain-to-c: the module has no buffer plan (run qtrain-bufferize and qtrain-plan-buffers first)

// ==== MLP: dense - relu - dense, fc2.weight frozen ===============================================
//
// fc2.weight is frozen: a const global, no update, but dense_grad_input still reads it.
// The train_step plan (qtrain-plan-buffers, arena 96 = its lower bound), in bytes:
//   %h 0..16  %a 16..32  %y 0..8  %loss 88..92  dL/dy 32..40  dL/da 0..16  dL/db2 80..88
//   dL/dh 48..64  dL/dW1 0..48  dL/db1 64..80
// odtc_infer (first: @forward comes first in the module) follows @forward's own plan
// (%h 0, %a 16, %y 0); both ckern.funcs carry the module's arena, 96.
// dense_grad_weight gets (x, dy, dw, channels = NULL, rows = o = 4, n, k, o); each SGD
// update (w, g, acc = NULL, channels = NULL, rows, row_len, batch_pos = 0, every = 1, lr).

qtrain.param @fc1.weight trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
qtrain.param @fc1.bias trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
qtrain.param @fc2.weight frozen : tensor<2x4xf32> = dense<2.000000e-01> : tensor<2x4xf32>
qtrain.param @fc2.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %w1 = qtrain.load @fc1.weight : tensor<4x3xf32>
  %b1 = qtrain.load @fc1.bias : tensor<4xf32>
  %h = qtrain.dense %x, %w1, %b1 : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  %a = qtrain.relu %h : tensor<1x4xf32>
  %w2 = qtrain.load @fc2.weight : tensor<2x4xf32>
  %b2 = qtrain.load @fc2.bias : tensor<2xf32>
  %y = qtrain.dense %a, %w2, %b2 : (tensor<1x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// CHECK-LABEL: builtin.module attributes {ckern.arena_bytes = 96 : i64, ckern.input_shape = array<i64: 1, 3>, ckern.input_ctype = "float", ckern.target_shape = array<i64: 1>, ckern.target_ctype = "int32_t", ckern.output_shape = array<i64: 1, 2>, ckern.output_ctype = "float"} {
// CHECK-NEXT:    "ckern.global"() <{source_name = "fc1.weight", ctype = "float", shape = array<i64: 4, 3>, init = dense<1.000000e-01> : tensor<4x3xf32>, kind = "trainable", param_index = 0 : i64, sym_name = "p0"}> : () -> ()
// CHECK-NEXT:    "ckern.global"() <{source_name = "fc1.bias", ctype = "float", shape = array<i64: 4>, init = dense<0.000000e+00> : tensor<4xf32>, kind = "trainable", param_index = 1 : i64, sym_name = "p1"}> : () -> ()
// CHECK-NEXT:    "ckern.global"() <{source_name = "fc2.weight", ctype = "float", shape = array<i64: 2, 4>, init = dense<2.000000e-01> : tensor<2x4xf32>, kind = "frozen", param_index = 2 : i64, sym_name = "p2"}> : () -> ()
// CHECK-NEXT:    "ckern.global"() <{source_name = "fc2.bias", ctype = "float", shape = array<i64: 2>, init = dense<0.000000e+00> : tensor<2xf32>, kind = "trainable", param_index = 3 : i64, sym_name = "p3"}> : () -> ()
// CHECK-NEXT:    "ckern.func"() <{sym_name = "odtc_infer", arena_bytes = 96 : i64}> ({
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "float">, #ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"global", "p1", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 3 : i32, 4 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<16>, "float">, 4 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32", args = [#ckern.ref<"arena", "", #builtin.int<16>, "float">, #ckern.ref<"global", "p2", #builtin.int<0>, "float">, #ckern.ref<"global", "p3", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 4 : i32, 2 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.copy"() <{dst = #ckern.ref<"arg", "output", #builtin.int<0>, "float">, src = #ckern.ref<"arena", "", #builtin.int<0>, "float">, bytes = 8 : i64}> : () -> ()
// CHECK-NEXT:      "ckern.return"() : () -> ()
// CHECK-NEXT:    }) : () -> ()
// CHECK-NEXT:    "ckern.func"() <{sym_name = "odtc_train_step", arena_bytes = 96 : i64}> ({
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "float">, #ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"global", "p1", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 3 : i32, 4 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<16>, "float">, 4 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32", args = [#ckern.ref<"arena", "", #builtin.int<16>, "float">, #ckern.ref<"global", "p2", #builtin.int<0>, "float">, #ckern.ref<"global", "p3", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 4 : i32, 2 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_softmax_cross_entropy_f32", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arg", "target", #builtin.int<0>, "int32_t">, 1 : i32, 2 : i32], result = #ckern.ref<"arena", "", #builtin.int<88>, "float">}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_softmax_cross_entropy_f32_grad", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arg", "target", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<32>, "float">, 1 : i32, 2 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32_grad_input", args = [#ckern.ref<"arena", "", #builtin.int<32>, "float">, #ckern.ref<"global", "p2", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 4 : i32, 2 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32_grad_bias", args = [#ckern.ref<"arena", "", #builtin.int<32>, "float">, #ckern.ref<"arena", "", #builtin.int<80>, "float">, 1 : i32, 2 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32_grad", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<16>, "float">, #ckern.ref<"arena", "", #builtin.int<48>, "float">, 4 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32_grad_weight", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<48>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 4 : i32, 1 : i32, 3 : i32, 4 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32_grad_bias", args = [#ckern.ref<"arena", "", #builtin.int<48>, "float">, #ckern.ref<"arena", "", #builtin.int<64>, "float">, 1 : i32, 4 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_sgd_update_f32", args = [#ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 4 : i32, 3 : i32, 0 : i32, 1 : i32, 1.000000e-02 : f32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_sgd_update_f32", args = [#ckern.ref<"global", "p1", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<64>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 4 : i32, 1 : i32, 0 : i32, 1 : i32, 1.000000e-02 : f32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_sgd_update_f32", args = [#ckern.ref<"global", "p3", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<80>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 2 : i32, 1 : i32, 0 : i32, 1 : i32, 1.000000e-02 : f32]}> : () -> ()
// CHECK-NEXT:      "ckern.return"() <{value = #ckern.ref<"arena", "", #builtin.int<88>, "float">}> : () -> ()
// CHECK-NEXT:    }) : () -> ()
// CHECK-NEXT:  }

// Adam with mini-batches of 2: the states come after the parameters, in the order
// qtrain-autodiff declares them (the batch position, then per parameter its accumulator,
// moments and step). Each update is (w, m, v, step, g, acc, channels, rows, row_len,
// *batch_pos, every, lr, beta1, beta2, eps) with the hyper-parameters as f64, and the batch
// position read at call time (#ckern.deref of s0); the counter steps last.
// ADAM-LABEL: builtin.module attributes {ckern.arena_bytes = 96 : i64, ckern.input_shape = array<i64: 1, 3>, ckern.input_ctype = "float", ckern.target_shape = array<i64: 1>, ckern.target_ctype = "int32_t", ckern.output_shape = array<i64: 1, 2>, ckern.output_ctype = "float"} {
// ADAM:         "ckern.global"() <{source_name = "fc2.bias", ctype = "float", shape = array<i64: 2>, init = dense<0.000000e+00> : tensor<2xf32>, kind = "trainable", param_index = 3 : i64, sym_name = "p3"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "batch_pos", ctype = "int32_t", shape = array<i64>, init = dense<0> : tensor<i32>, kind = "state", sym_name = "s0"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc1.weight.grad_acc", ctype = "float", shape = array<i64: 4, 3>, init = dense<0.000000e+00> : tensor<4x3xf32>, kind = "state", sym_name = "s1"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc1.weight.adam_m", ctype = "float", shape = array<i64: 4, 3>, init = dense<0.000000e+00> : tensor<4x3xf32>, kind = "state", sym_name = "s2"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc1.weight.adam_v", ctype = "float", shape = array<i64: 4, 3>, init = dense<0.000000e+00> : tensor<4x3xf32>, kind = "state", sym_name = "s3"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc1.weight.adam_step", ctype = "int32_t", shape = array<i64>, init = dense<0> : tensor<i32>, kind = "state", sym_name = "s4"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc1.bias.grad_acc", ctype = "float", shape = array<i64: 4>, init = dense<0.000000e+00> : tensor<4xf32>, kind = "state", sym_name = "s5"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc1.bias.adam_m", ctype = "float", shape = array<i64: 4>, init = dense<0.000000e+00> : tensor<4xf32>, kind = "state", sym_name = "s6"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc1.bias.adam_v", ctype = "float", shape = array<i64: 4>, init = dense<0.000000e+00> : tensor<4xf32>, kind = "state", sym_name = "s7"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc1.bias.adam_step", ctype = "int32_t", shape = array<i64>, init = dense<0> : tensor<i32>, kind = "state", sym_name = "s8"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc2.bias.grad_acc", ctype = "float", shape = array<i64: 2>, init = dense<0.000000e+00> : tensor<2xf32>, kind = "state", sym_name = "s9"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc2.bias.adam_m", ctype = "float", shape = array<i64: 2>, init = dense<0.000000e+00> : tensor<2xf32>, kind = "state", sym_name = "s10"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc2.bias.adam_v", ctype = "float", shape = array<i64: 2>, init = dense<0.000000e+00> : tensor<2xf32>, kind = "state", sym_name = "s11"}> : () -> ()
// ADAM-NEXT:    "ckern.global"() <{source_name = "fc2.bias.adam_step", ctype = "int32_t", shape = array<i64>, init = dense<0> : tensor<i32>, kind = "state", sym_name = "s12"}> : () -> ()
// ADAM-NEXT:    "ckern.func"() <{sym_name = "odtc_infer", arena_bytes = 96 : i64}> ({
// ADAM:         "ckern.func"() <{sym_name = "odtc_train_step", arena_bytes = 96 : i64}> ({
// ADAM:           "ckern.call"() <{callee = "odtc_dense_f32_grad_bias", args = [#ckern.ref<"arena", "", #builtin.int<48>, "float">, #ckern.ref<"arena", "", #builtin.int<64>, "float">, 1 : i32, 4 : i32]}> : () -> ()
// ADAM-NEXT:      "ckern.call"() <{callee = "odtc_adam_update_f32", args = [#ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"global", "s2", #builtin.int<0>, "float">, #ckern.ref<"global", "s3", #builtin.int<0>, "float">, #ckern.ref<"global", "s4", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"global", "s1", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 4 : i32, 3 : i32, #ckern.deref<#ckern.ref<"global", "s0", #builtin.int<0>, "int32_t">>, 2 : i32, 1.000000e-02 : f64, 9.000000e-01 : f64, 9.990000e-01 : f64, 1.000000e-08 : f64]}> : () -> ()
// ADAM-NEXT:      "ckern.call"() <{callee = "odtc_adam_update_f32", args = [#ckern.ref<"global", "p1", #builtin.int<0>, "float">, #ckern.ref<"global", "s6", #builtin.int<0>, "float">, #ckern.ref<"global", "s7", #builtin.int<0>, "float">, #ckern.ref<"global", "s8", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<64>, "float">, #ckern.ref<"global", "s5", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 4 : i32, 1 : i32, #ckern.deref<#ckern.ref<"global", "s0", #builtin.int<0>, "int32_t">>, 2 : i32, 1.000000e-02 : f64, 9.000000e-01 : f64, 9.990000e-01 : f64, 1.000000e-08 : f64]}> : () -> ()
// ADAM-NEXT:      "ckern.call"() <{callee = "odtc_adam_update_f32", args = [#ckern.ref<"global", "p3", #builtin.int<0>, "float">, #ckern.ref<"global", "s10", #builtin.int<0>, "float">, #ckern.ref<"global", "s11", #builtin.int<0>, "float">, #ckern.ref<"global", "s12", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<80>, "float">, #ckern.ref<"global", "s9", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 2 : i32, 1 : i32, #ckern.deref<#ckern.ref<"global", "s0", #builtin.int<0>, "int32_t">>, 2 : i32, 1.000000e-02 : f64, 9.000000e-01 : f64, 9.990000e-01 : f64, 1.000000e-08 : f64]}> : () -> ()
// ADAM-NEXT:      "ckern.call"() <{callee = "odtc_counter_step", args = [#ckern.ref<"global", "s0", #builtin.int<0>, "int32_t">, 2 : i32]}> : () -> ()
// ADAM-NEXT:      "ckern.return"() <{value = #ckern.ref<"arena", "", #builtin.int<88>, "float">}> : () -> ()
// ADAM-NEXT:    }) : () -> ()
// ADAM-NEXT:  }

// Inference only: no ckern.target_* attributes, @forward's own plan (arena 32).
// DIRECT-LABEL: builtin.module attributes {ckern.arena_bytes = 32 : i64, ckern.input_shape = array<i64: 1, 3>, ckern.input_ctype = "float", ckern.output_shape = array<i64: 1, 2>, ckern.output_ctype = "float"} {
// DIRECT-NEXT:    "ckern.global"() <{source_name = "fc1.weight", ctype = "float", shape = array<i64: 4, 3>, init = dense<1.000000e-01> : tensor<4x3xf32>, kind = "trainable", param_index = 0 : i64, sym_name = "p0"}> : () -> ()
// DIRECT-NEXT:    "ckern.global"() <{source_name = "fc1.bias", ctype = "float", shape = array<i64: 4>, init = dense<0.000000e+00> : tensor<4xf32>, kind = "trainable", param_index = 1 : i64, sym_name = "p1"}> : () -> ()
// DIRECT-NEXT:    "ckern.global"() <{source_name = "fc2.weight", ctype = "float", shape = array<i64: 2, 4>, init = dense<2.000000e-01> : tensor<2x4xf32>, kind = "frozen", param_index = 2 : i64, sym_name = "p2"}> : () -> ()
// DIRECT-NEXT:    "ckern.global"() <{source_name = "fc2.bias", ctype = "float", shape = array<i64: 2>, init = dense<0.000000e+00> : tensor<2xf32>, kind = "trainable", param_index = 3 : i64, sym_name = "p3"}> : () -> ()
// DIRECT-NEXT:    "ckern.func"() <{sym_name = "odtc_infer", arena_bytes = 32 : i64}> ({
// DIRECT-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "float">, #ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"global", "p1", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 3 : i32, 4 : i32]}> : () -> ()
// DIRECT-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<16>, "float">, 4 : i32]}> : () -> ()
// DIRECT-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32", args = [#ckern.ref<"arena", "", #builtin.int<16>, "float">, #ckern.ref<"global", "p2", #builtin.int<0>, "float">, #ckern.ref<"global", "p3", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 4 : i32, 2 : i32]}> : () -> ()
// DIRECT-NEXT:      "ckern.copy"() <{dst = #ckern.ref<"arg", "output", #builtin.int<0>, "float">, src = #ckern.ref<"arena", "", #builtin.int<0>, "float">, bytes = 8 : i64}> : () -> ()
// DIRECT-NEXT:      "ckern.return"() : () -> ()
// DIRECT-NEXT:    }) : () -> ()
// DIRECT-NEXT:  }

// -----

// ==== conv - relu - maxpool - flatten - dense; a sparse conv weight ===============================
//
// conv.weight trains output channel 1 only: its gradient has 1 row, and both
// conv2d_grad_weight and the update take the channel list as #ckern.ints (and its length).
// The conv geometry is n, c, h, w, o, kh, kw, stride h/w, padding top/left/bottom/right,
// groups; the pool's n, c, h, w, kh, kw, stride h/w, padding. The dense has no bias (null).
// The train_step plan (arena 488 = its lower bound), in bytes:
//   %c 0..128  %r 128..256 (read by maxpool2d_grad and relu_grad)  %p (= %f) 0..32
//   %y 32..44  %loss 480..484  dL/dy 48..60  dL/df 256..288  dL/dWfc 384..480
//   dL/dr 0..128  dL/dc 256..384  dL/dWconv 0..36

qtrain.param @conv.weight trainable : tensor<2x1x3x3xf32> = dense<1.000000e-01> : tensor<2x1x3x3xf32> {channels = array<i64: 1>}
qtrain.param @conv.bias frozen : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @fc.weight trainable : tensor<3x8xf32> = dense<2.000000e-01> : tensor<3x8xf32>
func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %w = qtrain.load @conv.weight : tensor<2x1x3x3xf32>
  %b = qtrain.load @conv.bias : tensor<2xf32>
  %c = qtrain.conv2d %x, %w, %b stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %r = qtrain.relu %c : tensor<1x2x4x4xf32>
  %p = qtrain.maxpool2d %r kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
  %f = qtrain.flatten %p axis 1 : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
  %wf = qtrain.load @fc.weight : tensor<3x8xf32>
  %y = qtrain.dense %f, %wf : (tensor<1x8xf32>, tensor<3x8xf32>) -> tensor<1x3xf32>
  func.return %y : tensor<1x3xf32>
}

// CHECK-LABEL: builtin.module attributes {ckern.arena_bytes = 488 : i64, ckern.input_shape = array<i64: 1, 1, 4, 4>, ckern.input_ctype = "float", ckern.target_shape = array<i64: 1>, ckern.target_ctype = "int32_t", ckern.output_shape = array<i64: 1, 3>, ckern.output_ctype = "float"} {
// CHECK-NEXT:    "ckern.global"() <{source_name = "conv.weight", ctype = "float", shape = array<i64: 2, 1, 3, 3>, init = dense<1.000000e-01> : tensor<2x1x3x3xf32>, kind = "trainable", param_index = 0 : i64, sym_name = "p0"}> : () -> ()
// CHECK-NEXT:    "ckern.global"() <{source_name = "conv.bias", ctype = "float", shape = array<i64: 2>, init = dense<0.000000e+00> : tensor<2xf32>, kind = "frozen", param_index = 1 : i64, sym_name = "p1"}> : () -> ()
// CHECK-NEXT:    "ckern.global"() <{source_name = "fc.weight", ctype = "float", shape = array<i64: 3, 8>, init = dense<2.000000e-01> : tensor<3x8xf32>, kind = "trainable", param_index = 2 : i64, sym_name = "p2"}> : () -> ()
// CHECK-NEXT:    "ckern.func"() <{sym_name = "odtc_infer", arena_bytes = 488 : i64}> ({
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_conv2d_f32", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "float">, #ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"global", "p1", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 1 : i32, 4 : i32, 4 : i32, 2 : i32, 3 : i32, 3 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<128>, "float">, 32 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_maxpool2d_f32", args = [#ckern.ref<"arena", "", #builtin.int<128>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 2 : i32, 4 : i32, 4 : i32, 2 : i32, 2 : i32, 2 : i32, 2 : i32, 0 : i32, 0 : i32, 0 : i32, 0 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"global", "p2", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<32>, "float">, 1 : i32, 8 : i32, 3 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.copy"() <{dst = #ckern.ref<"arg", "output", #builtin.int<0>, "float">, src = #ckern.ref<"arena", "", #builtin.int<32>, "float">, bytes = 12 : i64}> : () -> ()
// CHECK-NEXT:      "ckern.return"() : () -> ()
// CHECK-NEXT:    }) : () -> ()
// CHECK-NEXT:    "ckern.func"() <{sym_name = "odtc_train_step", arena_bytes = 488 : i64}> ({
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_conv2d_f32", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "float">, #ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"global", "p1", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 1 : i32, 4 : i32, 4 : i32, 2 : i32, 3 : i32, 3 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<128>, "float">, 32 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_maxpool2d_f32", args = [#ckern.ref<"arena", "", #builtin.int<128>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 2 : i32, 4 : i32, 4 : i32, 2 : i32, 2 : i32, 2 : i32, 2 : i32, 0 : i32, 0 : i32, 0 : i32, 0 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"global", "p2", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<32>, "float">, 1 : i32, 8 : i32, 3 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_softmax_cross_entropy_f32", args = [#ckern.ref<"arena", "", #builtin.int<32>, "float">, #ckern.ref<"arg", "target", #builtin.int<0>, "int32_t">, 1 : i32, 3 : i32], result = #ckern.ref<"arena", "", #builtin.int<480>, "float">}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_softmax_cross_entropy_f32_grad", args = [#ckern.ref<"arena", "", #builtin.int<32>, "float">, #ckern.ref<"arg", "target", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<48>, "float">, 1 : i32, 3 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32_grad_input", args = [#ckern.ref<"arena", "", #builtin.int<48>, "float">, #ckern.ref<"global", "p2", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<256>, "float">, 1 : i32, 8 : i32, 3 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32_grad_weight", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<48>, "float">, #ckern.ref<"arena", "", #builtin.int<384>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 3 : i32, 1 : i32, 8 : i32, 3 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_maxpool2d_f32_grad", args = [#ckern.ref<"arena", "", #builtin.int<256>, "float">, #ckern.ref<"arena", "", #builtin.int<128>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 1 : i32, 2 : i32, 4 : i32, 4 : i32, 2 : i32, 2 : i32, 2 : i32, 2 : i32, 0 : i32, 0 : i32, 0 : i32, 0 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32_grad", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<128>, "float">, #ckern.ref<"arena", "", #builtin.int<256>, "float">, 32 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_conv2d_f32_grad_weight", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<256>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ints<array<i32: 1>>, 1 : i32, 1 : i32, 1 : i32, 4 : i32, 4 : i32, 2 : i32, 3 : i32, 3 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_sgd_update_f32", args = [#ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ints<array<i32: 1>>, 1 : i32, 9 : i32, 0 : i32, 1 : i32, 1.000000e-02 : f32]}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_sgd_update_f32", args = [#ckern.ref<"global", "p2", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<384>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 3 : i32, 8 : i32, 0 : i32, 1 : i32, 1.000000e-02 : f32]}> : () -> ()
// CHECK-NEXT:      "ckern.return"() <{value = #ckern.ref<"arena", "", #builtin.int<480>, "float">}> : () -> ()
// CHECK-NEXT:    }) : () -> ()
// CHECK-NEXT:  }

// Momentum: one velocity state per trained parameter; (w, v, g, acc, channels, rows,
// row_len, batch_pos, every, lr, momentum).
// MOM-LABEL: builtin.module attributes {ckern.arena_bytes = 488 : i64, {{.*}}} {
// MOM:         "ckern.global"() <{source_name = "conv.weight.velocity", ctype = "float", shape = array<i64: 2, 1, 3, 3>, init = dense<0.000000e+00> : tensor<2x1x3x3xf32>, kind = "state", sym_name = "s0"}> : () -> ()
// MOM-NEXT:    "ckern.global"() <{source_name = "fc.weight.velocity", ctype = "float", shape = array<i64: 3, 8>, init = dense<0.000000e+00> : tensor<3x8xf32>, kind = "state", sym_name = "s1"}> : () -> ()
// MOM:         "ckern.func"() <{sym_name = "odtc_train_step", arena_bytes = 488 : i64}> ({
// MOM:           "ckern.call"() <{callee = "odtc_momentum_update_f32", args = [#ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"global", "s0", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ints<array<i32: 1>>, 1 : i32, 9 : i32, 0 : i32, 1 : i32, 1.000000e-02 : f32, 5.000000e-01 : f32]}> : () -> ()
// MOM-NEXT:      "ckern.call"() <{callee = "odtc_momentum_update_f32", args = [#ckern.ref<"global", "p2", #builtin.int<0>, "float">, #ckern.ref<"global", "s1", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<384>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 3 : i32, 8 : i32, 0 : i32, 1 : i32, 1.000000e-02 : f32, 5.000000e-01 : f32]}> : () -> ()
// MOM-NEXT:      "ckern.return"() <{value = #ckern.ref<"arena", "", #builtin.int<480>, "float">}> : () -> ()

// -----

// ==== copies: a load read after its symbol is overwritten, a store ================================
//
// A hand-written @train_step (before @forward, so odtc_train_step comes first). %old is read
// after the store overwrites @m, so qtrain-bufferize made it a copy: a ckern.copy from the
// global into its arena buffer; the store is a ckern.copy back. @forward's load is read in
// place (its ref is the global p0). MSE: the target is float, the loss is a `result`.
// Plan: %old 0..8, %new 8..16, %y 16..24, %l 8..12, %g 0..8 (arena 24).

qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.state @m : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @train_step(%x: tensor<2xf32>, %t: tensor<2xf32>) -> tensor<f32> {
  %old = qtrain.load @m : tensor<2xf32>
  %new = qtrain.add %old, %x : tensor<2xf32>
  qtrain.store %new, @m : tensor<2xf32>
  %y = qtrain.add %old, %new : tensor<2xf32>
  %l = qtrain.mse %y, %t : (tensor<2xf32>, tensor<2xf32>) -> tensor<f32>
  %g = qtrain.mse_grad %y, %t : tensor<2xf32>
  qtrain.sgd_update @w, %g lr 5.000000e-01 : tensor<2xf32>
  func.return %l : tensor<f32>
}
func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
  %w = qtrain.load @w : tensor<2xf32>
  %r = qtrain.relu %w : tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// DIRECT-LABEL: builtin.module attributes {ckern.arena_bytes = 24 : i64, ckern.input_shape = array<i64: 2>, ckern.input_ctype = "float", ckern.target_shape = array<i64: 2>, ckern.target_ctype = "float", ckern.output_shape = array<i64: 2>, ckern.output_ctype = "float"} {
// DIRECT-NEXT:    "ckern.global"() <{source_name = "w", ctype = "float", shape = array<i64: 2>, init = dense<1.000000e+00> : tensor<2xf32>, kind = "trainable", param_index = 0 : i64, sym_name = "p0"}> : () -> ()
// DIRECT-NEXT:    "ckern.global"() <{source_name = "m", ctype = "float", shape = array<i64: 2>, init = dense<0.000000e+00> : tensor<2xf32>, kind = "state", sym_name = "s0"}> : () -> ()
// DIRECT-NEXT:    "ckern.func"() <{sym_name = "odtc_train_step", arena_bytes = 24 : i64}> ({
// DIRECT-NEXT:      "ckern.copy"() <{dst = #ckern.ref<"arena", "", #builtin.int<0>, "float">, src = #ckern.ref<"global", "s0", #builtin.int<0>, "float">, bytes = 8 : i64}> : () -> ()
// DIRECT-NEXT:      "ckern.call"() <{callee = "odtc_add_f32", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arg", "input", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<8>, "float">, 2 : i32]}> : () -> ()
// DIRECT-NEXT:      "ckern.copy"() <{dst = #ckern.ref<"global", "s0", #builtin.int<0>, "float">, src = #ckern.ref<"arena", "", #builtin.int<8>, "float">, bytes = 8 : i64}> : () -> ()
// DIRECT-NEXT:      "ckern.call"() <{callee = "odtc_add_f32", args = [#ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<8>, "float">, #ckern.ref<"arena", "", #builtin.int<16>, "float">, 2 : i32]}> : () -> ()
// DIRECT-NEXT:      "ckern.call"() <{callee = "odtc_mse_f32", args = [#ckern.ref<"arena", "", #builtin.int<16>, "float">, #ckern.ref<"arg", "target", #builtin.int<0>, "float">, 2 : i32], result = #ckern.ref<"arena", "", #builtin.int<8>, "float">}> : () -> ()
// DIRECT-NEXT:      "ckern.call"() <{callee = "odtc_mse_f32_grad", args = [#ckern.ref<"arena", "", #builtin.int<16>, "float">, #ckern.ref<"arg", "target", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 2 : i32]}> : () -> ()
// DIRECT-NEXT:      "ckern.call"() <{callee = "odtc_sgd_update_f32", args = [#ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 2 : i32, 1 : i32, 0 : i32, 1 : i32, 5.000000e-01 : f32]}> : () -> ()
// DIRECT-NEXT:      "ckern.return"() <{value = #ckern.ref<"arena", "", #builtin.int<8>, "float">}> : () -> ()
// DIRECT-NEXT:    }) : () -> ()
// DIRECT-NEXT:    "ckern.func"() <{sym_name = "odtc_infer", arena_bytes = 24 : i64}> ({
// DIRECT-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32", args = [#ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "float">, 2 : i32]}> : () -> ()
// DIRECT-NEXT:      "ckern.copy"() <{dst = #ckern.ref<"arg", "output", #builtin.int<0>, "float">, src = #ckern.ref<"arena", "", #builtin.int<0>, "float">, bytes = 8 : i64}> : () -> ()
// DIRECT-NEXT:      "ckern.return"() : () -> ()
// DIRECT-NEXT:    }) : () -> ()
// DIRECT-NEXT:  }

// -----

// ==== errors ======================================================================================
//
// An op without a C lowering (here a non-qtrain op) fails; the pass names it and the function.

func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %c = arith.constant dense<1.000000e+00> : tensor<1x4xf32>
  %r = qtrain.add %x, %c : tensor<1x4xf32>
  func.return %r : tensor<1x4xf32>
}
// DIRECT: convert-qtrain-to-c: arith.constant has no C lowering yet (in @forward)

// -----

// Only @forward and @train_step become device entry points.

func.func @helper(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %r = qtrain.relu %x : tensor<1x4xf32>
  func.return %r : tensor<1x4xf32>
}
// DIRECT: convert-qtrain-to-c: @helper is not a device entry point (expected @train_step or @forward)
