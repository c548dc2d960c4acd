// The driver's pass pipeline is ONE string (compiler/pipeline.py), and odtc-opt replays it.
// This test keeps three things in sync: the string written in the RUN lines below, what
// `odtc compile --print-pipeline` prints for the default configuration (PIPE), and what
// `odtc compile` writes (pipeline.txt, model.c, model.h). If the default pipeline changes,
// update the PIPE line and paste the same string into the RUN lines.
//
// RUN: odtc compile --print-pipeline | filecheck %s --match-full-lines --check-prefix=PIPE
// PIPE:      qtrain-fold-batchnorm,qtrain-mark-trainable{mode=full trainable="*"},qtrain-autodiff{loss=cross_entropy optimizer=sgd lr=0.01 batch-size=1},qtrain-prune-frozen-backward,qtrain-fuse-updates,qtrain-schedule{alignment=8},qtrain-bufferize{inplace=true},qtrain-plan-buffers{alignment=8},convert-qtrain-to-c
// PIPE-NOT:  {{.}}
// Exactly that string, character for character, is on four lines of this file: the PIPE
// line and the three odtc-opt RUN lines.
// RUN: odtc compile --print-pipeline > %t.pipe
// RUN: grep -c -F -f %t.pipe %s | filecheck %s --match-full-lines --check-prefix=COUNT
// COUNT: 4
//
// Replayed pass by pass, the pipeline lowers the model to ckern (CHECK, below).
// RUN: odtc-opt %s -p 'qtrain-fold-batchnorm,qtrain-mark-trainable{mode=full trainable="*"},qtrain-autodiff{loss=cross_entropy optimizer=sgd lr=0.01 batch-size=1},qtrain-prune-frozen-backward,qtrain-fuse-updates,qtrain-schedule{alignment=8},qtrain-bufferize{inplace=true},qtrain-plan-buffers{alignment=8},convert-qtrain-to-c' | filecheck %s --match-full-lines
//
// The driver runs the same passes: its build directory records the same string and holds
// byte-identical C.
// RUN: rm -rf %t && odtc compile %s -o %t
// RUN: filecheck %s --match-full-lines --check-prefix=PIPE --input-file %t/pipeline.txt
// RUN: odtc-opt %s -p 'qtrain-fold-batchnorm,qtrain-mark-trainable{mode=full trainable="*"},qtrain-autodiff{loss=cross_entropy optimizer=sgd lr=0.01 batch-size=1},qtrain-prune-frozen-backward,qtrain-fuse-updates,qtrain-schedule{alignment=8},qtrain-bufferize{inplace=true},qtrain-plan-buffers{alignment=8},convert-qtrain-to-c' -t c -o %t.c
// RUN: diff %t.c %t/model.c
// RUN: odtc-opt %s -p 'qtrain-fold-batchnorm,qtrain-mark-trainable{mode=full trainable="*"},qtrain-autodiff{loss=cross_entropy optimizer=sgd lr=0.01 batch-size=1},qtrain-prune-frozen-backward,qtrain-fuse-updates,qtrain-schedule{alignment=8},qtrain-bufferize{inplace=true},qtrain-plan-buffers{alignment=8},convert-qtrain-to-c' -t 'c{file=header}' -o %t.h
// RUN: diff %t.h %t/model.h

// conv - batchnorm (frozen statistics) - relu - flatten - dense.
// qtrain-fold-batchnorm folds the batchnorm into the conv first: s = gamma / sqrt(var + eps)
// = [2 / sqrt(3 + 1), 1 / sqrt(0 + 1)] = [1, 1], so the weight stays 0.5 and the new bias
// is beta - mean * s = [0 - 1, 0.5 - 0] = [-1, 0.5]. Then the default mode (full,
// trainable "*") makes every parameter trainable: the folded conv trains too.

qtrain.param @conv.weight frozen : tensor<2x1x3x3xf32> = dense<5.000000e-01> : tensor<2x1x3x3xf32>
qtrain.param @bn.gamma frozen : tensor<2xf32> = dense<[2.000000e+00, 1.000000e+00]> : tensor<2xf32>
qtrain.param @bn.beta frozen : tensor<2xf32> = dense<[0.000000e+00, 5.000000e-01]> : tensor<2xf32>
qtrain.param @bn.mean frozen : tensor<2xf32> = dense<[1.000000e+00, 0.000000e+00]> : tensor<2xf32>
qtrain.param @bn.var frozen : tensor<2xf32> = dense<[3.000000e+00, 0.000000e+00]> : tensor<2xf32>
qtrain.param @fc.weight trainable : tensor<3x8xf32> = dense<2.500000e-01> : tensor<3x8xf32>
qtrain.param @fc.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %w = qtrain.load @conv.weight : tensor<2x1x3x3xf32>
  %c = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x2x2xf32>
  %g = qtrain.load @bn.gamma : tensor<2xf32>
  %be = qtrain.load @bn.beta : tensor<2xf32>
  %m = qtrain.load @bn.mean : tensor<2xf32>
  %v = qtrain.load @bn.var : tensor<2xf32>
  %n = qtrain.batchnorm %c, %g, %be, %m, %v epsilon 1.000000e+00 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %r = qtrain.relu %n : tensor<1x2x2x2xf32>
  %f = qtrain.flatten %r axis 1 : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
  %wf = qtrain.load @fc.weight : tensor<3x8xf32>
  %bf = qtrain.load @fc.bias : tensor<3xf32>
  %y = qtrain.dense %f, %wf, %bf : (tensor<1x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  func.return %y : tensor<1x3xf32>
}
// The kernel calls, in order (their arguments are checked in passes/convert-qtrain-to-c.mlir):
// forward, loss, backward down to the conv (no conv2d_grad_input: the input needs no
// gradient), an SGD update per bias, and the weight updates fused into their grad-weights
// by qtrain-fuse-updates (passes/qtrain-fuse-updates.mlir): no weight-gradient buffer. The
// fc one waits for dense_grad_input (it reads the old weight), and holds nothing longer: it
// reads dL/dy, which dense_grad_input reads too, and %r, which relu_grad reads after it; the
// conv one reads the input (an argument) and dL/dn.
//
// qtrain-schedule (passes/qtrain-schedule.mlir has the rules) takes the list schedule
// "greedy": among the ready ops, one that allocates nothing, then the one freeing the most
// bytes net, then allocating the least, then the earliest; loads go right before their first
// user. Sizes (8-aligned): %n %r 32 (%r = %f is read by relu_grad and the fused fc update),
// %y 16, %loss 8, dL/dy 16, dL/dbfc 16, dL/df 32, dL/dn 32, dL/dbconv 8.
// The forward chain is forced; softmax_cross_entropy (+8) goes before its grad (+16, frees
// %y: net 0). Ready then: dense_grad_bias +16 and dense_grad_input +32 (the fused fc update
// waits for it) -> grad_bias, and its update (frees 16) at once; grad_input. Then the fused
// fc update and the reshape allocate nothing; the fused op frees dL/dy (its last reader):
// first. relu_grad (+32, frees dL/df and %r: net -32), then the fused conv update
// (allocates nothing) before conv2d_grad_bias (+8, frees dL/dn), and the bias update. Live at
// the peak, relu_grad: %r 32 + %loss 8 + dL/df 32 + dL/dn 32 = 104 bytes (the arena below).
// Autodiff's order with the fused ops in place (bias updates at the end) needs 120, at
// relu_grad: the same plus dL/dbfc 16. Without qtrain-fuse-updates the arena is 160, with
// the conv gradient (72) live at conv2d_grad_weight.
// CHECK-LABEL: builtin.module attributes {ckern.arena_bytes = 104 : i64, ckern.input_shape = array<i64: 1, 1, 4, 4>, ckern.input_ctype = "float", ckern.target_shape = array<i64: 1>, ckern.target_ctype = "int32_t", ckern.output_shape = array<i64: 1, 3>, ckern.output_ctype = "float"} {
// CHECK-NEXT:    "ckern.global"() <{source_name = "conv.weight_bnfold", ctype = "float", shape = array<i64: 2, 1, 3, 3>, init = dense<5.000000e-01> : tensor<2x1x3x3xf32>, kind = "trainable", param_index = 0 : i64, sym_name = "p0"}> : () -> ()
// CHECK-NEXT:    "ckern.global"() <{source_name = "conv.weight_bnfold_b", ctype = "float", shape = array<i64: 2>, init = dense<[-1.000000e+00, 5.000000e-01]> : tensor<2xf32>, kind = "trainable", param_index = 1 : i64, sym_name = "p1"}> : () -> ()
// CHECK-NEXT:    "ckern.global"() <{source_name = "fc.weight", ctype = "float", shape = array<i64: 3, 8>, init = dense<2.500000e-01> : tensor<3x8xf32>, kind = "trainable", param_index = 2 : i64, sym_name = "p2"}> : () -> ()
// CHECK-NEXT:    "ckern.global"() <{source_name = "fc.bias", ctype = "float", shape = array<i64: 3>, init = dense<0.000000e+00> : tensor<3xf32>, kind = "trainable", param_index = 3 : i64, sym_name = "p3"}> : () -> ()
// CHECK-NEXT:    "ckern.func"() <{sym_name = "odtc_infer", arena_bytes = 104 : i64}> ({
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_conv2d_f32", args = {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32", args = {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32", args = {{.*}}
// CHECK-NEXT:      "ckern.copy"() <{dst = #ckern.ref<"arg", "output", #builtin.int<0>, "float">, src = {{.*}}, bytes = 12 : i64}> : () -> ()
// CHECK-NEXT:      "ckern.return"() : () -> ()
// CHECK-NEXT:    }) : () -> ()
// CHECK-NEXT:    "ckern.func"() <{sym_name = "odtc_train_step", arena_bytes = 104 : i64}> ({
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_conv2d_f32", args = {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32", args = {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32", args = {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_softmax_cross_entropy_f32", args = {{.*}}, result = #ckern.ref<"arena", "", #builtin.int<[[LOSS:[0-9]+]]>, "float">}> : () -> ()
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_softmax_cross_entropy_f32_grad", args = {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32_grad_bias", args = {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_sgd_update_f32", args = [#ckern.ref<"global", "p3", {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32_grad_input", args = {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_dense_f32_grad_weight_sgd", args = [{{.*}}, #ckern.ref<"global", "p2", {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_relu_f32_grad", args = {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_conv2d_f32_grad_weight_sgd", args = [#ckern.ref<"arg", "input", {{.*}}, #ckern.ref<"global", "p0", {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_conv2d_f32_grad_bias", args = {{.*}}
// CHECK-NEXT:      "ckern.call"() <{callee = "odtc_sgd_update_f32", args = [#ckern.ref<"global", "p1", {{.*}}
// CHECK-NEXT:      "ckern.return"() <{value = #ckern.ref<"arena", "", #builtin.int<[[LOSS]]>, "float">}> : () -> ()
// CHECK-NEXT:    }) : () -> ()
// CHECK-NEXT:  }
