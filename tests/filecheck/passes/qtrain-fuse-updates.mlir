// qtrain-fuse-updates replaces a conv2d/dense grad-weight whose only user is a plain
// sgd_update (no accumulate) by one conv2d_grad_weight_sgd / dense_grad_weight_sgd with the
// same geometry, channels and lr: the weight gradient never gets a buffer. The fused op goes
// right after the last of: the grad-weight, every earlier write of the parameter, every
// earlier load of it and every reader of such a load (the layer's grad_input) — never later
// than the update was.
//
// Fused only when that cannot raise the live bytes at any op, in any order: the gradient's
// buffer goes, but the fused op waits for the readers of the old weight that may run after
// the grad-weight, and an operand whose buffer would have died before them lives on. That
// is free when every such reader reads the operand too (the output error and grad_input), or
// an op after all of them reads it (relu_grad reading a saved ReLU output) — not counted
// with `recompute=true`, as qtrain-insert-checkpoints may recompute it for that op — and
// otherwise it needs the operands held longer to be no larger than the gradient.
// `always=true` fuses every eligible pair.
//
// Sizes are f32 bytes. The BOUND and INPUT lines check qtrain-plan-buffers' lower bound with
// and without the pass.
//
// RUN: odtc-opt %s --split-input-file -p qtrain-fuse-updates | filecheck %s --match-full-lines
// RUN: odtc-opt %s --split-input-file -p 'qtrain-fuse-updates{recompute=true}' | filecheck %s --match-full-lines --check-prefix=RECOMPUTE
// RUN: odtc-opt %s --split-input-file -p 'qtrain-fuse-updates{always=true}' | filecheck %s --match-full-lines --check-prefix=ALWAYS
// RUN: odtc-opt %s --split-input-file -p 'qtrain-fuse-updates,qtrain-bufferize,qtrain-plan-buffers' | filecheck %s --check-prefix=BOUND
// RUN: odtc-opt %s --split-input-file -p 'qtrain-bufferize,qtrain-plan-buffers' | filecheck %s --check-prefix=INPUT
// The LOWER lines check the calls convert-qtrain-to-c makes (odtc_kernels.h): the saved input
// and the output error, the parameter's global (updated in place), the channel list (or
// null) and its length, then dense n, k, o or the conv geometry (kernel size from the
// parameter), then lr.
// RUN: odtc-opt %s --split-input-file -p 'qtrain-fuse-updates,qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c' | filecheck %s --check-prefix=LOWER

// ==== dense - relu - dense, SGD, as qtrain-autodiff emits it: both weight updates fuse =========
//
// fc2: its grad_input %da (reads the old %w2) comes first, and reads %dy too; the saved %a
// is read later by relu_grad anyway: fused at %dw2's place. fc1: nothing reads %w1 in the
// backward, and %input is an argument: fused at %dw1's place. The bias update stays.
//   Fused, by op: %h 32 [2, 3], %a 32 [3, 10], %y 8 [5, 7], %loss 8 [6, 14], %dy 8 [7, 9],
//   %da 32 [8, 10], %dh 32 [10, 12], %db1 32 [12, 13]; peak at %dh (#10): %a + %loss + %da +
//   %dh = 104. Unfused (as qtrain-schedule.mlir's first case): 264, with %dw2 64 and %dw1
//   128 live until the updates at the end.

qtrain.param @fc1.weight trainable : tensor<8x4xf32> = dense<1.000000e-01> : tensor<8x4xf32>
qtrain.param @fc1.bias trainable : tensor<8xf32> = dense<0.000000e+00> : tensor<8xf32>
qtrain.param @fc2.weight trainable : tensor<2x8xf32> = dense<2.000000e-01> : tensor<2x8xf32>
func.func @train_step(%input: tensor<1x4xf32>, %target: tensor<1xi32>) -> tensor<f32> {
  %w1 = qtrain.load @fc1.weight : tensor<8x4xf32>
  %b1 = qtrain.load @fc1.bias : tensor<8xf32>
  %h = qtrain.dense %input, %w1, %b1 : (tensor<1x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<1x8xf32>
  %a = qtrain.relu %h : tensor<1x8xf32>
  %w2 = qtrain.load @fc2.weight : tensor<2x8xf32>
  %y = qtrain.dense %a, %w2 : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
  %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
  %dy = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
  %da = qtrain.dense_grad_input %dy, %w2 : (tensor<1x2xf32>, tensor<2x8xf32>) -> tensor<1x8xf32>
  %dw2 = qtrain.dense_grad_weight %a, %dy : (tensor<1x8xf32>, tensor<1x2xf32>) -> tensor<2x8xf32>
  %dh = qtrain.relu_grad %da, %a : tensor<1x8xf32>
  %dw1 = qtrain.dense_grad_weight %input, %dh : (tensor<1x4xf32>, tensor<1x8xf32>) -> tensor<8x4xf32>
  %db1 = qtrain.dense_grad_bias %dh : tensor<1x8xf32> -> tensor<8xf32>
  qtrain.sgd_update @fc1.weight, %dw1 lr 1.000000e-02 : tensor<8x4xf32>
  qtrain.sgd_update @fc1.bias, %db1 lr 1.000000e-02 : tensor<8xf32>
  qtrain.sgd_update @fc2.weight, %dw2 lr 5.000000e-02 : tensor<2x8xf32>
  func.return %loss : tensor<f32>
}
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x4xf32>, %target: tensor<1xi32>) -> tensor<f32> {
// CHECK-NEXT:      %w1 = qtrain.load @fc1.weight : tensor<8x4xf32>
// CHECK-NEXT:      %b1 = qtrain.load @fc1.bias : tensor<8xf32>
// CHECK-NEXT:      %h = qtrain.dense %input, %w1, %b1 : (tensor<1x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:      %a = qtrain.relu %h : tensor<1x8xf32>
// CHECK-NEXT:      %w2 = qtrain.load @fc2.weight : tensor<2x8xf32>
// CHECK-NEXT:      %y = qtrain.dense %a, %w2 : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:      %dy = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %da = qtrain.dense_grad_input %dy, %w2 : (tensor<1x2xf32>, tensor<2x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:      qtrain.dense_grad_weight_sgd @fc2.weight, %a, %dy lr 5.000000e-02 : tensor<1x8xf32>, tensor<1x2xf32>
// CHECK-NEXT:      %dh = qtrain.relu_grad %da, %a : tensor<1x8xf32>
// CHECK-NEXT:      qtrain.dense_grad_weight_sgd @fc1.weight, %input, %dh lr 1.000000e-02 : tensor<1x4xf32>, tensor<1x8xf32>
// CHECK-NEXT:      %db1 = qtrain.dense_grad_bias %dh : tensor<1x8xf32> -> tensor<8xf32>
// CHECK-NEXT:      qtrain.sgd_update @fc1.bias, %db1 lr 1.000000e-02 : tensor<8xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }
// RECOMPUTE-LABEL: func.func @train_step(%input: tensor<1x4xf32>, %target: tensor<1xi32>) -> tensor<f32> {
// RECOMPUTE:         qtrain.dense_grad_weight_sgd @fc2.weight, %a, %dy lr 5.000000e-02 : tensor<1x8xf32>, tensor<1x2xf32>
// RECOMPUTE:         qtrain.dense_grad_weight_sgd @fc1.weight, %input, %dh lr 1.000000e-02 : tensor<1x4xf32>, tensor<1x8xf32>
// BOUND: func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 104 : i64} {
// INPUT: func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 264 : i64} {
// LOWER: "ckern.call"() <{callee = "odtc_dense_f32_grad_weight_sgd", args = [#ckern.ref<"arena", "", #builtin.int<{{[0-9]+}}>, "float">, #ckern.ref<"arena", "", #builtin.int<{{[0-9]+}}>, "float">, #ckern.ref<"global", "p2", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 2 : i32, 1 : i32, 8 : i32, 2 : i32, 5.000000e-02 : f32]}> : () -> ()
// LOWER: "ckern.call"() <{callee = "odtc_dense_f32_grad_weight_sgd", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<{{[0-9]+}}>, "float">, #ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "int32_t">, 8 : i32, 1 : i32, 4 : i32, 8 : i32, 1.000000e-02 : f32]}> : () -> ()

// -----

// ==== conv, sparse channels; a saved input larger than the gradient and read by nothing later =
//
// Two 1x1 convs, MSE, c1 training channels [1, 3] only. c2: fused it would wait for %dh
// (conv2d_grad_input reads the old %w2) and keep %h (1024) alive across it, where unfused
// the order %dw2, %dh frees %h first and holds only %dw2 (16): not fused (unless always).
// c1: no backward reader of %w1, %x is an argument: fused, with its channels.

qtrain.param @c1.weight trainable : tensor<4x1x1x1xf32> = dense<5.000000e-01> : tensor<4x1x1x1xf32> {channels = array<i64: 1, 3>}
qtrain.param @c2.weight trainable : tensor<1x4x1x1xf32> = dense<2.500000e-01> : tensor<1x4x1x1xf32>
func.func @train_step(%x: tensor<1x1x8x8xf32>, %t: tensor<1x1x8x8xf32>) -> tensor<f32> {
  %w1 = qtrain.load @c1.weight : tensor<4x1x1x1xf32>
  %h = qtrain.conv2d %x, %w1 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<4x1x1x1xf32>) -> tensor<1x4x8x8xf32>
  %w2 = qtrain.load @c2.weight : tensor<1x4x1x1xf32>
  %y = qtrain.conv2d %h, %w2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x1x8x8xf32>
  %loss = qtrain.mse %y, %t : (tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<f32>
  %dy = qtrain.mse_grad %y, %t : tensor<1x1x8x8xf32>
  %dh = qtrain.conv2d_grad_input %dy, %w2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
  %dw2 = qtrain.conv2d_grad_weight %h, %dy stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x4x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x1x1xf32>
  %dw1 = qtrain.conv2d_grad_weight %x, %dh stride [1, 1] padding [0, 0, 0, 0] groups 1 channels [1, 3] : (tensor<1x1x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<2x1x1x1xf32>
  qtrain.sgd_update @c1.weight, %dw1 lr 1.000000e-02 channels [1, 3] : tensor<2x1x1x1xf32>
  qtrain.sgd_update @c2.weight, %dw2 lr 1.000000e-02 : tensor<1x4x1x1xf32>
  func.return %loss : tensor<f32>
}
// CHECK-LABEL:   func.func @train_step(%x: tensor<1x1x8x8xf32>, %t: tensor<1x1x8x8xf32>) -> tensor<f32> {
// CHECK:           %dh = qtrain.conv2d_grad_input %dy, %w2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NEXT:      %dw2 = qtrain.conv2d_grad_weight %h, %dy stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x4x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x1x1xf32>
// CHECK-NEXT:      qtrain.conv2d_grad_weight_sgd @c1.weight, %x, %dh stride [1, 1] padding [0, 0, 0, 0] groups 1 lr 1.000000e-02 channels [1, 3] : tensor<1x1x8x8xf32>, tensor<1x4x8x8xf32>
// CHECK-NEXT:      qtrain.sgd_update @c2.weight, %dw2 lr 1.000000e-02 : tensor<1x4x1x1xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// ALWAYS-LABEL:  func.func @train_step(%x: tensor<1x1x8x8xf32>, %t: tensor<1x1x8x8xf32>) -> tensor<f32> {
// ALWAYS:          %dh = qtrain.conv2d_grad_input %dy, %w2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
// ALWAYS-NEXT:     qtrain.conv2d_grad_weight_sgd @c2.weight, %h, %dy stride [1, 1] padding [0, 0, 0, 0] groups 1 lr 1.000000e-02 : tensor<1x4x8x8xf32>, tensor<1x1x8x8xf32>
// ALWAYS-NEXT:     qtrain.conv2d_grad_weight_sgd @c1.weight, %x, %dh stride [1, 1] padding [0, 0, 0, 0] groups 1 lr 1.000000e-02 channels [1, 3] : tensor<1x1x8x8xf32>, tensor<1x4x8x8xf32>
// ALWAYS-NEXT:     func.return %loss : tensor<f32>
// LOWER: "ckern.call"() <{callee = "odtc_conv2d_f32_grad_weight_sgd", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<{{[0-9]+}}>, "float">, #ckern.ref<"global", "p0", #builtin.int<0>, "float">, #ckern.ints<array<i32: 1, 3>>, 2 : i32, 1 : i32, 1 : i32, 8 : i32, 8 : i32, 4 : i32, 1 : i32, 1 : i32, 1 : i32, 1 : i32, 0 : i32, 0 : i32, 0 : i32, 0 : i32, 1 : i32, 1.000000e-02 : f32]}> : () -> ()

// -----

// ==== the saved ReLU output is read after grad_input anyway: fused, except with recompute =====
//
// conv 1x1 - relu - conv 1x1, MSE. c2's input %a (1024) is larger than its gradient (16), but
// relu_grad reads %a after %da, the reader of the old %w2 the fused op waits for: %a lives
// until then in every order, so fusing holds nothing longer. With recompute=true,
// qtrain-insert-checkpoints could give relu_grad its own copy of %a, and fusing would hold
// the original across %da: not fused. c1 fuses either way (no backward reader of %w1).

qtrain.param @c1.weight trainable : tensor<4x1x1x1xf32> = dense<5.000000e-01> : tensor<4x1x1x1xf32>
qtrain.param @c2.weight trainable : tensor<1x4x1x1xf32> = dense<2.500000e-01> : tensor<1x4x1x1xf32>
func.func @train_step(%x: tensor<1x1x8x8xf32>, %t: tensor<1x1x8x8xf32>) -> tensor<f32> {
  %w1 = qtrain.load @c1.weight : tensor<4x1x1x1xf32>
  %h = qtrain.conv2d %x, %w1 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<4x1x1x1xf32>) -> tensor<1x4x8x8xf32>
  %a = qtrain.relu %h : tensor<1x4x8x8xf32>
  %w2 = qtrain.load @c2.weight : tensor<1x4x1x1xf32>
  %y = qtrain.conv2d %a, %w2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x1x8x8xf32>
  %loss = qtrain.mse %y, %t : (tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<f32>
  %dy = qtrain.mse_grad %y, %t : tensor<1x1x8x8xf32>
  %da = qtrain.conv2d_grad_input %dy, %w2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
  %dw2 = qtrain.conv2d_grad_weight %a, %dy stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x4x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x1x1xf32>
  %dh = qtrain.relu_grad %da, %a : tensor<1x4x8x8xf32>
  %dw1 = qtrain.conv2d_grad_weight %x, %dh stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<4x1x1x1xf32>
  qtrain.sgd_update @c1.weight, %dw1 lr 1.000000e-02 : tensor<4x1x1x1xf32>
  qtrain.sgd_update @c2.weight, %dw2 lr 1.000000e-02 : tensor<1x4x1x1xf32>
  func.return %loss : tensor<f32>
}
// CHECK-LABEL:   func.func @train_step(%x: tensor<1x1x8x8xf32>, %t: tensor<1x1x8x8xf32>) -> tensor<f32> {
// CHECK:           %da = qtrain.conv2d_grad_input %dy, %w2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NEXT:      qtrain.conv2d_grad_weight_sgd @c2.weight, %a, %dy stride [1, 1] padding [0, 0, 0, 0] groups 1 lr 1.000000e-02 : tensor<1x4x8x8xf32>, tensor<1x1x8x8xf32>
// CHECK-NEXT:      %dh = qtrain.relu_grad %da, %a : tensor<1x4x8x8xf32>
// CHECK-NEXT:      qtrain.conv2d_grad_weight_sgd @c1.weight, %x, %dh stride [1, 1] padding [0, 0, 0, 0] groups 1 lr 1.000000e-02 : tensor<1x1x8x8xf32>, tensor<1x4x8x8xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// RECOMPUTE-LABEL: func.func @train_step(%x: tensor<1x1x8x8xf32>, %t: tensor<1x1x8x8xf32>) -> tensor<f32> {
// RECOMPUTE:         %dw2 = qtrain.conv2d_grad_weight %a, %dy stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x4x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x1x1xf32>
// RECOMPUTE-NEXT:    %dh = qtrain.relu_grad %da, %a : tensor<1x4x8x8xf32>
// RECOMPUTE-NEXT:    qtrain.conv2d_grad_weight_sgd @c1.weight, %x, %dh stride [1, 1] padding [0, 0, 0, 0] groups 1 lr 1.000000e-02 : tensor<1x1x8x8xf32>, tensor<1x4x8x8xf32>
// RECOMPUTE-NEXT:    qtrain.sgd_update @c2.weight, %dw2 lr 1.000000e-02 : tensor<1x4x1x1xf32>

// -----

// ==== left alone: momentum, accumulation, a gradient with another user, other channels =========
//
// Momentum keeps a velocity per element of the whole gradient, an accumulating update adds
// the gradient into its state every step and applies the mean once per batch; %g3 is also
// stored; %g4's rows are channels [0, 1] but the update applies them to rows [2, 3]. None of
// them is fused (with always=true neither), and the function is unchanged.

qtrain.param @a trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
qtrain.param @b trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
qtrain.param @c trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
qtrain.param @d trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
qtrain.state @a.velocity : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
qtrain.state @b.grad_acc : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
qtrain.state @c.copy : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
qtrain.state @batch_pos : tensor<i32> = dense<0> : tensor<i32>
func.func @train_step(%x: tensor<1x3xf32>, %dy: tensor<1x4xf32>) {
  %pos = qtrain.load @batch_pos : tensor<i32>
  %g1 = qtrain.dense_grad_weight %x, %dy : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<4x3xf32>
  qtrain.momentum_update @a, %g1 velocity @a.velocity lr 1.000000e-02 momentum 9.000000e-01 : tensor<4x3xf32>
  %g2 = qtrain.dense_grad_weight %x, %dy : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<4x3xf32>
  qtrain.sgd_update @b, %g2 lr 1.000000e-02 accumulate @b.grad_acc every 4 at %pos : tensor<4x3xf32>, tensor<i32>
  %g3 = qtrain.dense_grad_weight %x, %dy : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<4x3xf32>
  qtrain.store %g3, @c.copy : tensor<4x3xf32>
  qtrain.sgd_update @c, %g3 lr 1.000000e-02 : tensor<4x3xf32>
  %g4 = qtrain.dense_grad_weight %x, %dy channels [0, 1] : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<2x3xf32>
  qtrain.sgd_update @d, %g4 lr 1.000000e-02 channels [2, 3] : tensor<2x3xf32>
  qtrain.counter_step @batch_pos modulo 4
  func.return
}
// CHECK-LABEL:   func.func @train_step(%x: tensor<1x3xf32>, %dy: tensor<1x4xf32>) {
// CHECK-NEXT:      %pos = qtrain.load @batch_pos : tensor<i32>
// CHECK-NEXT:      %g1 = qtrain.dense_grad_weight %x, %dy : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:      qtrain.momentum_update @a, %g1 velocity @a.velocity lr 1.000000e-02 momentum 9.000000e-01 : tensor<4x3xf32>
// CHECK-NEXT:      %g2 = qtrain.dense_grad_weight %x, %dy : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:      qtrain.sgd_update @b, %g2 lr 1.000000e-02 accumulate @b.grad_acc every 4 at %pos : tensor<4x3xf32>, tensor<i32>
// CHECK-NEXT:      %g3 = qtrain.dense_grad_weight %x, %dy : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:      qtrain.store %g3, @c.copy : tensor<4x3xf32>
// CHECK-NEXT:      qtrain.sgd_update @c, %g3 lr 1.000000e-02 : tensor<4x3xf32>
// CHECK-NEXT:      %g4 = qtrain.dense_grad_weight %x, %dy channels [0, 1] : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:      qtrain.sgd_update @d, %g4 lr 1.000000e-02 channels [2, 3] : tensor<2x3xf32>
// CHECK-NEXT:      qtrain.counter_step @batch_pos modulo 4
// CHECK-NEXT:      func.return
// CHECK-NEXT:    }
// ALWAYS-LABEL:  func.func @train_step(%x: tensor<1x3xf32>, %dy: tensor<1x4xf32>) {
// ALWAYS-NOT:      _sgd
// ALWAYS:          func.return
