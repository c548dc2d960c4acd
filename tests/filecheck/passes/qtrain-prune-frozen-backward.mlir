// qtrain-prune-frozen-backward keeps only the backward work some parameter update needs, and
// annotates what the remaining backward ops read from the forward pass: each saved forward
// value gets `qtrain.saved_bytes`, @train_step gets the total `qtrain.saved_activation_bytes`
// and, for what it reads of its own arguments (input, labels), `qtrain.saved_input_bytes`.
// The inputs are forward-only models; qtrain-autodiff builds @train_step first.
//
// Byte counts are worked out by hand in the comments: f32 and i32 are 4 bytes per element;
// a value read only as the second operand of relu_grad/relu6_grad (the forward output,
// of which only the sign/range matters) is kept as a bit mask of ceil(numel / 8) bytes.
// Parameters (qtrain.load results) are not counted: they live in their own buffers.
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward' | filecheck %s --match-full-lines
// `report` prints the saved set on stderr (checked for the first chunk only).
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward{report=true}' 2>&1 >/dev/null | filecheck %s --check-prefix=REPORT
// Without qtrain-autodiff the pass has no @train_step to work on (the first chunk fails so).
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p qtrain-prune-frozen-backward | filecheck %s --match-full-lines --check-prefix=ALONE
// @forward (inference) loses what its result does not need: a VAE's step-less sample is its
// mean (z = mu), so the log-variance head goes (checked on the last chunk, trained with elbo).
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{loss=elbo},qtrain-prune-frozen-backward' | filecheck %s --check-prefix=INFER

// ==== (a) full training: nothing to prune ========================================================
//
// dense - relu - dense, all trainable. qtrain-autodiff never emits dL/dx of the first layer,
// and everything else feeds an update, so the function is unchanged.
// Saved:  %input  1x3 f32, read by fc1's dense_grad_weight         = 12 B  (input)
//         %target 1   i32, read by softmax_cross_entropy_grad      =  4 B  (input)
//         %a      1x4 f32, read by relu_grad AND dense_grad_weight = 16 B  (not a mask)
//         %y      1x2 f32, read by softmax_cross_entropy_grad      =  8 B
//         total 12 + 4 + 16 + 8 = 40 B, of which inputs 16 B.  %h: relu_grad reads %a, not %h.

qtrain.param @full.fc1.weight trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
qtrain.param @full.fc1.bias trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
qtrain.param @full.fc2.weight trainable : tensor<2x4xf32> = dense<2.000000e-01> : tensor<2x4xf32>
qtrain.param @full.fc2.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %w1 = qtrain.load @full.fc1.weight : tensor<4x3xf32>
  %b1 = qtrain.load @full.fc1.bias : tensor<4xf32>
  %h = qtrain.dense %x, %w1, %b1 : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  %a = qtrain.relu %h : tensor<1x4xf32>
  %w2 = qtrain.load @full.fc2.weight : tensor<2x4xf32>
  %b2 = qtrain.load @full.fc2.bias : tensor<2xf32>
  %y = qtrain.dense %a, %w2, %b2 : (tensor<1x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// @forward is not touched.
// CHECK-LABEL:   func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
// CHECK-NEXT:      %w1 = qtrain.load @full.fc1.weight : tensor<4x3xf32>
// CHECK-NEXT:      %b1 = qtrain.load @full.fc1.bias : tensor<4xf32>
// CHECK-NEXT:      %h = qtrain.dense %x, %w1, %b1 : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:      %a = qtrain.relu %h : tensor<1x4xf32>
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x3xf32>, %target: tensor<1xi32>) -> tensor<f32> attributes {qtrain.saved_activation_bytes = 40 : i64, qtrain.saved_input_bytes = 16 : i64} {
// CHECK-NEXT:      %w1 = qtrain.load @full.fc1.weight : tensor<4x3xf32>
// CHECK-NEXT:      %b1 = qtrain.load @full.fc1.bias : tensor<4xf32>
// CHECK-NEXT:      %h = qtrain.dense %input, %w1, %b1 : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:      %a = qtrain.relu %h {qtrain.saved_bytes = 16 : i64} : tensor<1x4xf32>
// CHECK-NEXT:      %w2 = qtrain.load @full.fc2.weight : tensor<2x4xf32>
// CHECK-NEXT:      %b2 = qtrain.load @full.fc2.bias : tensor<2xf32>
// CHECK-NEXT:      %y = qtrain.dense %a, %w2, %b2 {qtrain.saved_bytes = 8 : i64} : (tensor<1x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:      %[[DY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %[[DA:[0-9]+]] = qtrain.dense_grad_input %[[DY]], %w2 : (tensor<1x2xf32>, tensor<2x4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:      %[[DW2:[0-9]+]] = qtrain.dense_grad_weight %a, %[[DY]] : (tensor<1x4xf32>, tensor<1x2xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:      %[[DB2:[0-9]+]] = qtrain.dense_grad_bias %[[DY]] : tensor<1x2xf32> -> tensor<2xf32>
// CHECK-NEXT:      %[[DH:[0-9]+]] = qtrain.relu_grad %[[DA]], %a : tensor<1x4xf32>
// CHECK-NEXT:      %[[DW1:[0-9]+]] = qtrain.dense_grad_weight %input, %[[DH]] : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:      %[[DB1:[0-9]+]] = qtrain.dense_grad_bias %[[DH]] : tensor<1x4xf32> -> tensor<4xf32>
// CHECK-NEXT:      qtrain.sgd_update @full.fc1.weight, %[[DW1]] lr 1.000000e-02 : tensor<4x3xf32>
// CHECK-NEXT:      qtrain.sgd_update @full.fc1.bias, %[[DB1]] lr 1.000000e-02 : tensor<4xf32>
// CHECK-NEXT:      qtrain.sgd_update @full.fc2.weight, %[[DW2]] lr 1.000000e-02 : tensor<2x4xf32>
// CHECK-NEXT:      qtrain.sgd_update @full.fc2.bias, %[[DB2]] lr 1.000000e-02 : tensor<2xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }

// One row per saved value (the two inputs first), then the total.
// REPORT:      saved for backward in @train_step:
// REPORT-NEXT: {{ +}}%input{{ +}}function argument{{ +}}12 B
// REPORT-NEXT: {{ +}}%target{{ +}}function argument{{ +}}4 B
// REPORT-NEXT: {{.*}}qtrain.relu{{ +}}16 B
// REPORT-NEXT: {{.*}}qtrain.dense{{ +}}8 B
// REPORT-NEXT: {{ +}}total{{ +}}40 B

// ALONE: qtrain-prune-frozen-backward: no @train_step (run qtrain-autodiff first)

// -----

// ==== (b) last layer only: provably no backward work below the first trainable layer ======
//
// Two frozen conv+relu layers under a trainable dense layer. qtrain-autodiff emits the whole
// backward (dense_grad_input, relu_grad, conv2d_grad_input, ...); after pruning, nothing
// below the dense layer is left: no conv2d_grad_*, no relu_grad, no dense_grad_input.
// Saved:  %f      1x16 f32, read by dense_grad_weight           = 64 B
//         %y      1x3  f32, read by softmax_cross_entropy_grad  = 12 B
//         %target 1    i32                                      =  4 B  (input)
//         %input is no longer read (no conv2d_grad_weight)
//         total 64 + 12 + 4 = 80 B, of which inputs 4 B. The relu outputs are not saved.

qtrain.param @ll.conv1.weight frozen : tensor<2x1x3x3xf32> = dense<1.000000e-01> : tensor<2x1x3x3xf32>
qtrain.param @ll.conv1.bias frozen : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @ll.conv2.weight frozen : tensor<4x2x3x3xf32> = dense<5.000000e-02> : tensor<4x2x3x3xf32>
qtrain.param @ll.conv2.bias frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
qtrain.param @ll.fc.weight trainable : tensor<3x16xf32> = dense<2.000000e-01> : tensor<3x16xf32>
qtrain.param @ll.fc.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
func.func @forward(%x: tensor<1x1x6x6xf32>) -> tensor<1x3xf32> {
  %w1 = qtrain.load @ll.conv1.weight : tensor<2x1x3x3xf32>
  %b1 = qtrain.load @ll.conv1.bias : tensor<2xf32>
  %c1 = qtrain.conv2d %x, %w1, %b1 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %r1 = qtrain.relu %c1 : tensor<1x2x4x4xf32>
  %w2 = qtrain.load @ll.conv2.weight : tensor<4x2x3x3xf32>
  %b2 = qtrain.load @ll.conv2.bias : tensor<4xf32>
  %c2 = qtrain.conv2d %r1, %w2, %b2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x2x4x4xf32>, tensor<4x2x3x3xf32>, tensor<4xf32>) -> tensor<1x4x2x2xf32>
  %r2 = qtrain.relu %c2 : tensor<1x4x2x2xf32>
  %f = qtrain.flatten %r2 axis 1 : tensor<1x4x2x2xf32> -> tensor<1x16xf32>
  %wf = qtrain.load @ll.fc.weight : tensor<3x16xf32>
  %bf = qtrain.load @ll.fc.bias : tensor<3xf32>
  %y = qtrain.dense %f, %wf, %bf : (tensor<1x16xf32>, tensor<3x16xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  func.return %y : tensor<1x3xf32>
}
// The forward part, line by line, then: no backward op of a lower layer between the loss
// gradient and the dense layer's gradients, and nothing else after them.
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x1x6x6xf32>, %target: tensor<1xi32>) -> tensor<f32> attributes {qtrain.saved_activation_bytes = 80 : i64, qtrain.saved_input_bytes = 4 : i64} {
// CHECK-NEXT:      %w1 = qtrain.load @ll.conv1.weight : tensor<2x1x3x3xf32>
// CHECK-NEXT:      %b1 = qtrain.load @ll.conv1.bias : tensor<2xf32>
// CHECK-NEXT:      %c1 = qtrain.conv2d %input, %w1, %b1 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:      %r1 = qtrain.relu %c1 : tensor<1x2x4x4xf32>
// CHECK-NEXT:      %w2 = qtrain.load @ll.conv2.weight : tensor<4x2x3x3xf32>
// CHECK-NEXT:      %b2 = qtrain.load @ll.conv2.bias : tensor<4xf32>
// CHECK-NEXT:      %c2 = qtrain.conv2d %r1, %w2, %b2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x2x4x4xf32>, tensor<4x2x3x3xf32>, tensor<4xf32>) -> tensor<1x4x2x2xf32>
// CHECK-NEXT:      %r2 = qtrain.relu %c2 : tensor<1x4x2x2xf32>
// CHECK-NEXT:      %f = qtrain.flatten %r2 axis 1 {qtrain.saved_bytes = 64 : i64} : tensor<1x4x2x2xf32> -> tensor<1x16xf32>
// CHECK-NEXT:      %wf = qtrain.load @ll.fc.weight : tensor<3x16xf32>
// CHECK-NEXT:      %bf = qtrain.load @ll.fc.bias : tensor<3xf32>
// CHECK-NEXT:      %y = qtrain.dense %f, %wf, %bf {qtrain.saved_bytes = 12 : i64} : (tensor<1x16xf32>, tensor<3x16xf32>, tensor<3xf32>) -> tensor<1x3xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x3xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:      %[[DY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x3xf32>, tensor<1xi32>) -> tensor<1x3xf32>
// CHECK-NOT:       qtrain.dense_grad_input
// CHECK-NOT:       qtrain.relu_grad
// CHECK-NOT:       qtrain.conv2d_grad
// CHECK:           %[[DW:[0-9]+]] = qtrain.dense_grad_weight %f, %[[DY]] : (tensor<1x16xf32>, tensor<1x3xf32>) -> tensor<3x16xf32>
// CHECK-NEXT:      %[[DB:[0-9]+]] = qtrain.dense_grad_bias %[[DY]] : tensor<1x3xf32> -> tensor<3xf32>
// CHECK-NEXT:      qtrain.sgd_update @ll.fc.weight, %[[DW]] lr 1.000000e-02 : tensor<3x16xf32>
// CHECK-NEXT:      qtrain.sgd_update @ll.fc.bias, %[[DB]] lr 1.000000e-02 : tensor<3xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }

// -----

// ==== (c) bias only: no weight gradients, no saved layer inputs =======================
//
// conv - relu6 - flatten - dense with only the two biases trainable. dL/db needs only the
// output error, so neither conv2d_grad_weight nor dense_grad_weight survive, and the layer
// inputs %input and %f are not saved. The error still flows down to the conv bias through
// dense_grad_input (it reads the parameter %wf, not an activation) and relu6_grad.
// Saved:  %r      1x2x3x3 = 18 elts, read only by relu6_grad as the forward output
//                 -> bit mask, ceil(18 / 8)                       =  3 B
//         %y      1x3 f32, read by softmax_cross_entropy_grad     = 12 B
//         %target 1   i32                                         =  4 B  (input)
//         total 3 + 12 + 4 = 19 B, of which inputs 4 B.

qtrain.param @bo.conv.weight frozen : tensor<2x1x3x3xf32> = dense<1.000000e-01> : tensor<2x1x3x3xf32>
qtrain.param @bo.conv.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @bo.fc.weight frozen : tensor<3x18xf32> = dense<2.000000e-01> : tensor<3x18xf32>
qtrain.param @bo.fc.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
func.func @forward(%x: tensor<1x1x5x5xf32>) -> tensor<1x3xf32> {
  %w = qtrain.load @bo.conv.weight : tensor<2x1x3x3xf32>
  %b = qtrain.load @bo.conv.bias : tensor<2xf32>
  %c = qtrain.conv2d %x, %w, %b stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x5x5xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  %r = qtrain.relu6 %c : tensor<1x2x3x3xf32>
  %f = qtrain.flatten %r axis 1 : tensor<1x2x3x3xf32> -> tensor<1x18xf32>
  %wf = qtrain.load @bo.fc.weight : tensor<3x18xf32>
  %bf = qtrain.load @bo.fc.bias : tensor<3xf32>
  %y = qtrain.dense %f, %wf, %bf : (tensor<1x18xf32>, tensor<3x18xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  func.return %y : tensor<1x3xf32>
}
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x1x5x5xf32>, %target: tensor<1xi32>) -> tensor<f32> attributes {qtrain.saved_activation_bytes = 19 : i64, qtrain.saved_input_bytes = 4 : i64} {
// CHECK-NEXT:      %w = qtrain.load @bo.conv.weight : tensor<2x1x3x3xf32>
// CHECK-NEXT:      %b = qtrain.load @bo.conv.bias : tensor<2xf32>
// CHECK-NEXT:      %c = qtrain.conv2d %input, %w, %b stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x5x5xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:      %r = qtrain.relu6 %c {qtrain.saved_bytes = 3 : i64} : tensor<1x2x3x3xf32>
// CHECK-NEXT:      %f = qtrain.flatten %r axis 1 : tensor<1x2x3x3xf32> -> tensor<1x18xf32>
// CHECK-NEXT:      %wf = qtrain.load @bo.fc.weight : tensor<3x18xf32>
// CHECK-NEXT:      %bf = qtrain.load @bo.fc.bias : tensor<3xf32>
// CHECK-NEXT:      %y = qtrain.dense %f, %wf, %bf {qtrain.saved_bytes = 12 : i64} : (tensor<1x18xf32>, tensor<3x18xf32>, tensor<3xf32>) -> tensor<1x3xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x3xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:      %[[DY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x3xf32>, tensor<1xi32>) -> tensor<1x3xf32>
// CHECK-NOT:       qtrain.dense_grad_weight
// CHECK:           %[[DF:[0-9]+]] = qtrain.dense_grad_input %[[DY]], %wf : (tensor<1x3xf32>, tensor<3x18xf32>) -> tensor<1x18xf32>
// CHECK-NOT:       qtrain.dense_grad_weight
// CHECK:           %[[DBF:[0-9]+]] = qtrain.dense_grad_bias %[[DY]] : tensor<1x3xf32> -> tensor<3xf32>
// CHECK-NEXT:      %[[DR:[0-9]+]] = qtrain.reshape %[[DF]] : tensor<1x18xf32> -> tensor<1x2x3x3xf32>
// CHECK-NEXT:      %[[DC:[0-9]+]] = qtrain.relu6_grad %[[DR]], %r : tensor<1x2x3x3xf32>
// CHECK-NOT:       qtrain.conv2d_grad_weight
// CHECK:           %[[DB:[0-9]+]] = qtrain.conv2d_grad_bias %[[DC]] : tensor<1x2x3x3xf32> -> tensor<2xf32>
// CHECK-NEXT:      qtrain.sgd_update @bo.conv.bias, %[[DB]] lr 1.000000e-02 : tensor<2xf32>
// CHECK-NEXT:      qtrain.sgd_update @bo.fc.bias, %[[DBF]] lr 1.000000e-02 : tensor<3xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }

// -----

// ==== (d) sparse channels: only the listed rows are computed and updated ===================
//
// The conv weight trains output channels 0 and 2 of 4: its gradient has 2 rows.
// Saved:  %input  1x1x4x4 f32, read by conv2d_grad_weight     = 64 B  (input)
//         %target 1 i32                                       =  4 B  (input)
//         %y      1x3 f32                                     = 12 B
//         total 64 + 4 + 12 = 80 B, of which inputs 68 B.

qtrain.param @sp.conv.weight trainable : tensor<4x1x3x3xf32> = dense<1.000000e-01> : tensor<4x1x3x3xf32> {channels = array<i64: 0, 2>}
qtrain.param @sp.fc.weight frozen : tensor<3x16xf32> = dense<2.000000e-01> : tensor<3x16xf32>
func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %w = qtrain.load @sp.conv.weight : tensor<4x1x3x3xf32>
  %c = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x4x4xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x2x2xf32>
  %f = qtrain.flatten %c axis 1 : tensor<1x4x2x2xf32> -> tensor<1x16xf32>
  %wf = qtrain.load @sp.fc.weight : tensor<3x16xf32>
  %y = qtrain.dense %f, %wf : (tensor<1x16xf32>, tensor<3x16xf32>) -> tensor<1x3xf32>
  func.return %y : tensor<1x3xf32>
}
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x1x4x4xf32>, %target: tensor<1xi32>) -> tensor<f32> attributes {qtrain.saved_activation_bytes = 80 : i64, qtrain.saved_input_bytes = 68 : i64} {
// CHECK:           %f = qtrain.flatten %c axis 1 : tensor<1x4x2x2xf32> -> tensor<1x16xf32>
// CHECK:           %y = qtrain.dense %f, %wf {qtrain.saved_bytes = 12 : i64} : (tensor<1x16xf32>, tensor<3x16xf32>) -> tensor<1x3xf32>
// CHECK:           %[[DF:[0-9]+]] = qtrain.dense_grad_input %{{[0-9]+}}, %wf : (tensor<1x3xf32>, tensor<3x16xf32>) -> tensor<1x16xf32>
// CHECK-NEXT:      %[[DC:[0-9]+]] = qtrain.reshape %[[DF]] : tensor<1x16xf32> -> tensor<1x4x2x2xf32>
// CHECK-NEXT:      %[[DW:[0-9]+]] = qtrain.conv2d_grad_weight %input, %[[DC]] stride [1, 1] padding [0, 0, 0, 0] groups 1 channels [0, 2] : (tensor<1x1x4x4xf32>, tensor<1x4x2x2xf32>) -> tensor<2x1x3x3xf32>
// CHECK-NEXT:      qtrain.sgd_update @sp.conv.weight, %[[DW]] lr 1.000000e-02 channels [0, 2] : tensor<2x1x3x3xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }

// -----

// ==== errors (a hand-written @train_step; qtrain-autodiff refuses to run on it) ===========

qtrain.param @err.w trainable : tensor<2x2xf32> = dense<1.000000e+00> : tensor<2x2xf32>
func.func @train_step(%x: tensor<1x2xf32>, %t: tensor<1xi32>) -> tensor<f32> {
  %w = qtrain.load @err.w : tensor<2x2xf32>
  %y = qtrain.dense %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %l = qtrain.softmax_cross_entropy %y, %t : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
  %d = qtrain.softmax_cross_entropy_grad %y, %t : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
  %dw = qtrain.dense_grad_weight %x, %d : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<2x2xf32>
  func.return %l : tensor<f32>
}
// CHECK: qtrain-autodiff: no function @forward to differentiate
// ALONE: qtrain-prune-frozen-backward: @train_step updates nothing (no trainable parameter)

// -----

// ==== inference: z = mu, no log-variance head =====================================================

qtrain.param @vae.mu.weight trainable : tensor<2x4xf32> = dense<0.25> : tensor<2x4xf32>
qtrain.param @vae.lv.weight trainable : tensor<2x4xf32> = dense<-0.5> : tensor<2x4xf32>
qtrain.param @vae.fc.weight trainable : tensor<4x2xf32> = dense<0.125> : tensor<4x2xf32>
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %wm = qtrain.load @vae.mu.weight : tensor<2x4xf32>
  %mu = qtrain.dense %x, %wm : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  %wl = qtrain.load @vae.lv.weight : tensor<2x4xf32>
  %lv = qtrain.dense %x, %wl : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  %z = qtrain.reparameterize %mu, %lv seed 3 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
  %wf = qtrain.load @vae.fc.weight : tensor<4x2xf32>
  %l = qtrain.dense %z, %wf : (tensor<1x2xf32>, tensor<4x2xf32>) -> tensor<1x4xf32>
  %y = qtrain.sigmoid %l : tensor<1x4xf32>
  func.return %y : tensor<1x4xf32>
}
// INFER-LABEL: func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
// INFER-NEXT:    %wm = qtrain.load @vae.mu.weight : tensor<2x4xf32>
// INFER-NEXT:    %mu = qtrain.dense %x, %wm : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
// INFER-NEXT:    %wf = qtrain.load @vae.fc.weight : tensor<4x2xf32>
// INFER-NEXT:    %l = qtrain.dense %mu, %wf : (tensor<1x2xf32>, tensor<4x2xf32>) -> tensor<1x4xf32>
// INFER-NEXT:    %y = qtrain.sigmoid %l : tensor<1x4xf32>
// INFER-NEXT:    func.return %y : tensor<1x4xf32>
// INFER-NEXT:  }
// The training step still samples, from both heads.
// INFER-LABEL: func.func @train_step
// INFER:         qtrain.dense %input, %wl
// INFER:         qtrain.reparameterize
