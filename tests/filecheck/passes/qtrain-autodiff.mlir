// qtrain-autodiff builds @train_step(%input, %target) -> loss from @forward: the forward ops
// cloned, the loss and its gradient, one backward op per derivative in reverse program order,
// then one optimizer op per trainable parameter in declaration order.
//
// Every RUN line processes the whole file; each prefix checks only the chunks written for it,
// anchored with a CHECK-LABEL on a parameter name that no other chunk uses.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p qtrain-autodiff | filecheck %s --match-full-lines
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{optimizer=momentum momentum=0.5}' | filecheck %s --match-full-lines --check-prefix=MOM
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{optimizer=adam lr=0.001 beta1=0.8 beta2=0.99 eps=1.0e-6}' | filecheck %s --match-full-lines --check-prefix=ADAM
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{batch-size=3}' | filecheck %s --match-full-lines --check-prefix=BATCH
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{loss=mse lr=0.5}' | filecheck %s --match-full-lines --check-prefix=MSE
//
// Bad options fail the pass before it looks at the module, so every chunk prints the message.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{loss=hinge}' | filecheck %s --match-full-lines --check-prefix=LOSS
// LOSS:     qtrain-autodiff: unknown loss 'hinge' (expected one of: cross_entropy, mse, elbo)
// LOSS-NOT: builtin.module {
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{optimizer=rmsprop}' | filecheck %s --match-full-lines --check-prefix=OPTIMIZER
// OPTIMIZER:     qtrain-autodiff: unknown optimizer 'rmsprop' (expected one of: sgd, momentum, adam)
// OPTIMIZER-NOT: builtin.module {
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{batch-size=0}' | filecheck %s --match-full-lines --check-prefix=BATCH0
// BATCH0:     qtrain-autodiff: batch-size must be >= 1, got 0
// BATCH0-NOT: builtin.module {
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{lr=0.0}' | filecheck %s --match-full-lines --check-prefix=LR0
// LR0:     qtrain-autodiff: lr must be positive, got 0.0
// LR0-NOT: builtin.module {

// ==== dense - relu - dense, everything trainable ================================================
//
// The whole module: params and @forward unchanged, no new state for plain SGD, @train_step
// after @forward. relu_grad reads the relu OUTPUT %a (a 1-bit mask suffices), and there is
// no dense_grad_input for the first layer (the model input needs no gradient). The biases
// are declared before the weights, so the updates' order (declaration order) differs from
// both the program order and the order the gradients are computed in.

qtrain.param @mlp.fc1.bias trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
qtrain.param @mlp.fc2.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @mlp.fc1.weight trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
qtrain.param @mlp.fc2.weight trainable : tensor<2x4xf32> = dense<2.000000e-01> : tensor<2x4xf32>
func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %w1 = qtrain.load @mlp.fc1.weight : tensor<4x3xf32>
  %b1 = qtrain.load @mlp.fc1.bias : tensor<4xf32>
  %h = qtrain.dense %x, %w1, %b1 : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  %a = qtrain.relu %h : tensor<1x4xf32>
  %w2 = qtrain.load @mlp.fc2.weight : tensor<2x4xf32>
  %b2 = qtrain.load @mlp.fc2.bias : tensor<2xf32>
  %y = qtrain.dense %a, %w2, %b2 : (tensor<1x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK-LABEL:   qtrain.param @mlp.fc1.bias trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// CHECK-NEXT:    qtrain.param @mlp.fc2.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
// CHECK-NEXT:    qtrain.param @mlp.fc1.weight trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
// CHECK-NEXT:    qtrain.param @mlp.fc2.weight trainable : tensor<2x4xf32> = dense<2.000000e-01> : tensor<2x4xf32>
// CHECK-NEXT:    func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
// CHECK-NEXT:      %w1 = qtrain.load @mlp.fc1.weight : tensor<4x3xf32>
// CHECK-NEXT:      %b1 = qtrain.load @mlp.fc1.bias : tensor<4xf32>
// CHECK-NEXT:      %h = qtrain.dense %x, %w1, %b1 : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:      %a = qtrain.relu %h : tensor<1x4xf32>
// CHECK-NEXT:      %w2 = qtrain.load @mlp.fc2.weight : tensor<2x4xf32>
// CHECK-NEXT:      %b2 = qtrain.load @mlp.fc2.bias : tensor<2xf32>
// CHECK-NEXT:      %y = qtrain.dense %a, %w2, %b2 : (tensor<1x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      func.return %y : tensor<1x2xf32>
// CHECK-NEXT:    }
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x3xf32>, %target: tensor<1xi32>) -> tensor<f32> {
// CHECK-NEXT:      %w1 = qtrain.load @mlp.fc1.weight : tensor<4x3xf32>
// CHECK-NEXT:      %b1 = qtrain.load @mlp.fc1.bias : tensor<4xf32>
// CHECK-NEXT:      %h = qtrain.dense %input, %w1, %b1 : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:      %a = qtrain.relu %h : tensor<1x4xf32>
// CHECK-NEXT:      %w2 = qtrain.load @mlp.fc2.weight : tensor<2x4xf32>
// CHECK-NEXT:      %b2 = qtrain.load @mlp.fc2.bias : tensor<2xf32>
// CHECK-NEXT:      %y = qtrain.dense %a, %w2, %b2 : (tensor<1x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:      %[[DY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %[[DA:[0-9]+]] = qtrain.dense_grad_input %[[DY]], %w2 : (tensor<1x2xf32>, tensor<2x4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:      %[[DW2:[0-9]+]] = qtrain.dense_grad_weight %a, %[[DY]] : (tensor<1x4xf32>, tensor<1x2xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:      %[[DB2:[0-9]+]] = qtrain.dense_grad_bias %[[DY]] : tensor<1x2xf32> -> tensor<2xf32>
// CHECK-NEXT:      %[[DH:[0-9]+]] = qtrain.relu_grad %[[DA]], %a : tensor<1x4xf32>
// CHECK-NEXT:      %[[DW1:[0-9]+]] = qtrain.dense_grad_weight %input, %[[DH]] : (tensor<1x3xf32>, tensor<1x4xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:      %[[DB1:[0-9]+]] = qtrain.dense_grad_bias %[[DH]] : tensor<1x4xf32> -> tensor<4xf32>
// CHECK-NEXT:      qtrain.sgd_update @mlp.fc1.bias, %[[DB1]] lr 1.000000e-02 : tensor<4xf32>
// CHECK-NEXT:      qtrain.sgd_update @mlp.fc2.bias, %[[DB2]] lr 1.000000e-02 : tensor<2xf32>
// CHECK-NEXT:      qtrain.sgd_update @mlp.fc1.weight, %[[DW1]] lr 1.000000e-02 : tensor<4x3xf32>
// CHECK-NEXT:      qtrain.sgd_update @mlp.fc2.weight, %[[DW2]] lr 1.000000e-02 : tensor<2x4xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// -----

// ==== a frozen layer: no update, no weight gradient; the backward still runs through it =====
//
// fc1 is frozen, so it gets neither dense_grad_weight nor dense_grad_bias nor an update. The
// backward is complete, though: dense_grad_input of fc2 and relu_grad are still emitted
// (nothing reads them; qtrain-prune-frozen-backward removes them).

qtrain.param @frz.fc1.weight frozen : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
qtrain.param @frz.fc1.bias frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
qtrain.param @frz.fc2.weight trainable : tensor<2x4xf32> = dense<2.000000e-01> : tensor<2x4xf32>
func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %w1 = qtrain.load @frz.fc1.weight : tensor<4x3xf32>
  %b1 = qtrain.load @frz.fc1.bias : tensor<4xf32>
  %h = qtrain.dense %x, %w1, %b1 : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  %a = qtrain.relu %h : tensor<1x4xf32>
  %w2 = qtrain.load @frz.fc2.weight : tensor<2x4xf32>
  %y = qtrain.dense %a, %w2 : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK-LABEL:   qtrain.param @frz.fc1.weight frozen : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x3xf32>, %target: tensor<1xi32>) -> tensor<f32> {
// CHECK:           %y = qtrain.dense %a, %w2 : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:      %[[DY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %[[DA:[0-9]+]] = qtrain.dense_grad_input %[[DY]], %w2 : (tensor<1x2xf32>, tensor<2x4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:      %[[DW2:[0-9]+]] = qtrain.dense_grad_weight %a, %[[DY]] : (tensor<1x4xf32>, tensor<1x2xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:      %{{[0-9]+}} = qtrain.relu_grad %[[DA]], %a : tensor<1x4xf32>
// CHECK-NEXT:      qtrain.sgd_update @frz.fc2.weight, %[[DW2]] lr 1.000000e-02 : tensor<2x4xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }

// -----

// ==== optimizers, mini-batches and the MSE loss on one layer ====================================
//
// @opt.weight trains output channels 0 and 2 only: its gradient and its update carry
// `channels [0, 2]` and have 2 rows. A state named @opt.bias.velocity already exists, so
// momentum's velocity for @opt.bias gets a fresh name.

qtrain.param @opt.weight trainable : tensor<3x2xf32> = dense<1.000000e-01> : tensor<3x2xf32> {channels = array<i64: 0, 2>}
qtrain.param @opt.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
qtrain.state @opt.bias.velocity : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
func.func @forward(%x: tensor<2x2xf32>) -> tensor<2x3xf32> {
  %w = qtrain.load @opt.weight : tensor<3x2xf32>
  %b = qtrain.load @opt.bias : tensor<3xf32>
  %y = qtrain.dense %x, %w, %b : (tensor<2x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// Default: SGD, cross-entropy with one i32 label per sample.
// CHECK-LABEL:   qtrain.param @opt.weight trainable : tensor<3x2xf32> = dense<1.000000e-01> : tensor<3x2xf32> {channels = array<i64: 0, 2>}
// CHECK-NEXT:    qtrain.param @opt.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// CHECK-NEXT:    qtrain.state @opt.bias.velocity : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// CHECK-NEXT:    func.func @forward(%x: tensor<2x2xf32>) -> tensor<2x3xf32> {
// CHECK-LABEL:   func.func @train_step(%input: tensor<2x2xf32>, %target: tensor<2xi32>) -> tensor<f32> {
// CHECK-NEXT:      %w = qtrain.load @opt.weight : tensor<3x2xf32>
// CHECK-NEXT:      %b = qtrain.load @opt.bias : tensor<3xf32>
// CHECK-NEXT:      %y = qtrain.dense %input, %w, %b : (tensor<2x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
// CHECK-NEXT:      %[[DY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<2x3xf32>
// CHECK-NEXT:      %[[DW:[0-9]+]] = qtrain.dense_grad_weight %input, %[[DY]] channels [0, 2] : (tensor<2x2xf32>, tensor<2x3xf32>) -> tensor<2x2xf32>
// CHECK-NEXT:      %[[DB:[0-9]+]] = qtrain.dense_grad_bias %[[DY]] : tensor<2x3xf32> -> tensor<3xf32>
// CHECK-NEXT:      qtrain.sgd_update @opt.weight, %[[DW]] lr 1.000000e-02 channels [0, 2] : tensor<2x2xf32>
// CHECK-NEXT:      qtrain.sgd_update @opt.bias, %[[DB]] lr 1.000000e-02 : tensor<3xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }

// Momentum: a velocity state per parameter, shaped like the whole parameter, placed after
// the module's last symbol.
// MOM-LABEL:     qtrain.param @opt.weight trainable : tensor<3x2xf32> = dense<1.000000e-01> : tensor<3x2xf32> {channels = array<i64: 0, 2>}
// MOM-NEXT:      qtrain.param @opt.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// MOM-NEXT:      qtrain.state @opt.bias.velocity : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// MOM-NEXT:      qtrain.state @opt.weight.velocity : tensor<3x2xf32> = dense<0.000000e+00> : tensor<3x2xf32>
// MOM-NEXT:      qtrain.state @opt.bias.velocity_1 : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// MOM-NEXT:      func.func @forward(%x: tensor<2x2xf32>) -> tensor<2x3xf32> {
// MOM-LABEL:     func.func @train_step(%input: tensor<2x2xf32>, %target: tensor<2xi32>) -> tensor<f32> {
// MOM:             %[[DW:[0-9]+]] = qtrain.dense_grad_weight %input, %{{[0-9]+}} channels [0, 2] : (tensor<2x2xf32>, tensor<2x3xf32>) -> tensor<2x2xf32>
// MOM-NEXT:        %[[DB:[0-9]+]] = qtrain.dense_grad_bias %{{[0-9]+}} : tensor<2x3xf32> -> tensor<3xf32>
// MOM-NEXT:        qtrain.momentum_update @opt.weight, %[[DW]] velocity @opt.weight.velocity lr 1.000000e-02 momentum 5.000000e-01 channels [0, 2] : tensor<2x2xf32>
// MOM-NEXT:        qtrain.momentum_update @opt.bias, %[[DB]] velocity @opt.bias.velocity_1 lr 1.000000e-02 momentum 5.000000e-01 : tensor<3xf32>
// MOM-NEXT:        func.return %loss : tensor<f32>
// MOM-NEXT:      }

// Adam: two moments shaped like the parameter and an i32 step counter per parameter.
// ADAM-LABEL:    qtrain.param @opt.weight trainable : tensor<3x2xf32> = dense<1.000000e-01> : tensor<3x2xf32> {channels = array<i64: 0, 2>}
// ADAM-NEXT:     qtrain.param @opt.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// ADAM-NEXT:     qtrain.state @opt.bias.velocity : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// ADAM-NEXT:     qtrain.state @opt.weight.adam_m : tensor<3x2xf32> = dense<0.000000e+00> : tensor<3x2xf32>
// ADAM-NEXT:     qtrain.state @opt.weight.adam_v : tensor<3x2xf32> = dense<0.000000e+00> : tensor<3x2xf32>
// ADAM-NEXT:     qtrain.state @opt.weight.adam_step : tensor<i32> = dense<0> : tensor<i32>
// ADAM-NEXT:     qtrain.state @opt.bias.adam_m : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// ADAM-NEXT:     qtrain.state @opt.bias.adam_v : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// ADAM-NEXT:     qtrain.state @opt.bias.adam_step : tensor<i32> = dense<0> : tensor<i32>
// ADAM-NEXT:     func.func @forward(%x: tensor<2x2xf32>) -> tensor<2x3xf32> {
// ADAM-LABEL:    func.func @train_step(%input: tensor<2x2xf32>, %target: tensor<2xi32>) -> tensor<f32> {
// ADAM:            %[[DW:[0-9]+]] = qtrain.dense_grad_weight %input, %{{[0-9]+}} channels [0, 2] : (tensor<2x2xf32>, tensor<2x3xf32>) -> tensor<2x2xf32>
// ADAM-NEXT:       %[[DB:[0-9]+]] = qtrain.dense_grad_bias %{{[0-9]+}} : tensor<2x3xf32> -> tensor<3xf32>
// ADAM-NEXT:       qtrain.adam_update @opt.weight, %[[DW]] moments @opt.weight.adam_m, @opt.weight.adam_v step @opt.weight.adam_step lr 1.000000e-03 beta1 8.000000e-01 beta2 9.900000e-01 eps 1.000000e-06 channels [0, 2] : tensor<2x2xf32>
// ADAM-NEXT:       qtrain.adam_update @opt.bias, %[[DB]] moments @opt.bias.adam_m, @opt.bias.adam_v step @opt.bias.adam_step lr 1.000000e-03 beta1 8.000000e-01 beta2 9.900000e-01 eps 1.000000e-06 : tensor<3xf32>
// ADAM-NEXT:       func.return %loss : tensor<f32>
// ADAM-NEXT:     }

// batch-size=3: a batch position counter, one accumulator per parameter (shaped like its
// gradient: 2 rows for the sparse weight), every update accumulates, and the counter
// advances modulo 3 after the updates.
// BATCH-LABEL:   qtrain.param @opt.weight trainable : tensor<3x2xf32> = dense<1.000000e-01> : tensor<3x2xf32> {channels = array<i64: 0, 2>}
// BATCH-NEXT:    qtrain.param @opt.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// BATCH-NEXT:    qtrain.state @opt.bias.velocity : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// BATCH-NEXT:    qtrain.state @batch_pos : tensor<i32> = dense<0> : tensor<i32>
// BATCH-NEXT:    qtrain.state @opt.weight.grad_acc : tensor<2x2xf32> = dense<0.000000e+00> : tensor<2x2xf32>
// BATCH-NEXT:    qtrain.state @opt.bias.grad_acc : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// BATCH-NEXT:    func.func @forward(%x: tensor<2x2xf32>) -> tensor<2x3xf32> {
// BATCH-LABEL:   func.func @train_step(%input: tensor<2x2xf32>, %target: tensor<2xi32>) -> tensor<f32> {
// BATCH:           %[[DW:[0-9]+]] = qtrain.dense_grad_weight %input, %{{[0-9]+}} channels [0, 2] : (tensor<2x2xf32>, tensor<2x3xf32>) -> tensor<2x2xf32>
// BATCH-NEXT:      %[[DB:[0-9]+]] = qtrain.dense_grad_bias %{{[0-9]+}} : tensor<2x3xf32> -> tensor<3xf32>
// BATCH-NEXT:      %batch_pos = qtrain.load @batch_pos : tensor<i32>
// BATCH-NEXT:      qtrain.sgd_update @opt.weight, %[[DW]] lr 1.000000e-02 channels [0, 2] accumulate @opt.weight.grad_acc every 3 at %batch_pos : tensor<2x2xf32>, tensor<i32>
// BATCH-NEXT:      qtrain.sgd_update @opt.bias, %[[DB]] lr 1.000000e-02 accumulate @opt.bias.grad_acc every 3 at %batch_pos : tensor<3xf32>, tensor<i32>
// BATCH-NEXT:      qtrain.counter_step @batch_pos modulo 3
// BATCH-NEXT:      func.return %loss : tensor<f32>
// BATCH-NEXT:    }

// loss=mse: the target has the output's type; mse and mse_grad replace cross-entropy.
// MSE-LABEL:     qtrain.param @opt.weight trainable : tensor<3x2xf32> = dense<1.000000e-01> : tensor<3x2xf32> {channels = array<i64: 0, 2>}
// MSE-NEXT:      qtrain.param @opt.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// MSE-NEXT:      qtrain.state @opt.bias.velocity : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// MSE-NEXT:      func.func @forward(%x: tensor<2x2xf32>) -> tensor<2x3xf32> {
// MSE-LABEL:     func.func @train_step(%input: tensor<2x2xf32>, %target: tensor<2x3xf32>) -> tensor<f32> {
// MSE:             %y = qtrain.dense %input, %w, %b : (tensor<2x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// MSE-NEXT:        %loss = qtrain.mse %y, %target : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<f32>
// MSE-NEXT:        %[[DY:[0-9]+]] = qtrain.mse_grad %y, %target : tensor<2x3xf32>
// MSE-NEXT:        %[[DW:[0-9]+]] = qtrain.dense_grad_weight %input, %[[DY]] channels [0, 2] : (tensor<2x2xf32>, tensor<2x3xf32>) -> tensor<2x2xf32>
// MSE-NEXT:        %[[DB:[0-9]+]] = qtrain.dense_grad_bias %[[DY]] : tensor<2x3xf32> -> tensor<3xf32>
// MSE-NEXT:        qtrain.sgd_update @opt.weight, %[[DW]] lr 5.000000e-01 channels [0, 2] : tensor<2x2xf32>
// MSE-NEXT:        qtrain.sgd_update @opt.bias, %[[DB]] lr 5.000000e-01 : tensor<3xf32>
// MSE-NEXT:        func.return %loss : tensor<f32>
// MSE-NEXT:      }

// -----

// ==== conv, pools, flatten and a residual add ====================================================
//
// %r1 feeds both conv2 and the residual add, so its gradient is the sum of two contributions:
// the add passes its output error %[[DS]] through, conv2 adds conv2d_grad_input. The sum is
// formed before relu_grad reads it. maxpool2d_grad reads the saved pool input %s; the
// avgpool gradient keeps count_include_pad; flatten's gradient is a reshape back.

qtrain.param @res.conv1.weight trainable : tensor<2x1x3x3xf32> = dense<1.000000e-01> : tensor<2x1x3x3xf32>
qtrain.param @res.conv1.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @res.conv2.weight trainable : tensor<2x2x3x3xf32> = dense<5.000000e-02> : tensor<2x2x3x3xf32>
qtrain.param @res.fc.weight trainable : tensor<3x2xf32> = dense<2.000000e-01> : tensor<3x2xf32>
qtrain.param @res.fc.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
func.func @forward(%x: tensor<1x1x6x6xf32>) -> tensor<1x3xf32> {
  %w1 = qtrain.load @res.conv1.weight : tensor<2x1x3x3xf32>
  %b1 = qtrain.load @res.conv1.bias : tensor<2xf32>
  %c1 = qtrain.conv2d %x, %w1, %b1 stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x6x6xf32>
  %r1 = qtrain.relu %c1 : tensor<1x2x6x6xf32>
  %w2 = qtrain.load @res.conv2.weight : tensor<2x2x3x3xf32>
  %c2 = qtrain.conv2d %r1, %w2 stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x2x6x6xf32>, tensor<2x2x3x3xf32>) -> tensor<1x2x6x6xf32>
  %s = qtrain.add %c2, %r1 : tensor<1x2x6x6xf32>
  %m = qtrain.maxpool2d %s kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : tensor<1x2x6x6xf32> -> tensor<1x2x3x3xf32>
  %a = qtrain.avgpool2d %m kernel [3, 3] stride [1, 1] padding [1, 1, 1, 1] count_include_pad : tensor<1x2x3x3xf32> -> tensor<1x2x3x3xf32>
  %g = qtrain.global_avgpool %a : tensor<1x2x3x3xf32> -> tensor<1x2x1x1xf32>
  %f = qtrain.flatten %g axis 1 : tensor<1x2x1x1xf32> -> tensor<1x2xf32>
  %wf = qtrain.load @res.fc.weight : tensor<3x2xf32>
  %bf = qtrain.load @res.fc.bias : tensor<3xf32>
  %y = qtrain.dense %f, %wf, %bf : (tensor<1x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  func.return %y : tensor<1x3xf32>
}
// CHECK-LABEL:   qtrain.param @res.conv1.weight trainable : tensor<2x1x3x3xf32> = dense<1.000000e-01> : tensor<2x1x3x3xf32>
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x1x6x6xf32>, %target: tensor<1xi32>) -> tensor<f32> {
// CHECK-NEXT:      %w1 = qtrain.load @res.conv1.weight : tensor<2x1x3x3xf32>
// CHECK-NEXT:      %b1 = qtrain.load @res.conv1.bias : tensor<2xf32>
// CHECK-NEXT:      %c1 = qtrain.conv2d %input, %w1, %b1 stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x6x6xf32>
// CHECK-NEXT:      %r1 = qtrain.relu %c1 : tensor<1x2x6x6xf32>
// CHECK-NEXT:      %w2 = qtrain.load @res.conv2.weight : tensor<2x2x3x3xf32>
// CHECK-NEXT:      %c2 = qtrain.conv2d %r1, %w2 stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x2x6x6xf32>, tensor<2x2x3x3xf32>) -> tensor<1x2x6x6xf32>
// CHECK-NEXT:      %s = qtrain.add %c2, %r1 : tensor<1x2x6x6xf32>
// CHECK-NEXT:      %m = qtrain.maxpool2d %s kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : tensor<1x2x6x6xf32> -> tensor<1x2x3x3xf32>
// CHECK-NEXT:      %a = qtrain.avgpool2d %m kernel [3, 3] stride [1, 1] padding [1, 1, 1, 1] count_include_pad : tensor<1x2x3x3xf32> -> tensor<1x2x3x3xf32>
// CHECK-NEXT:      %g = qtrain.global_avgpool %a : tensor<1x2x3x3xf32> -> tensor<1x2x1x1xf32>
// CHECK-NEXT:      %f = qtrain.flatten %g axis 1 : tensor<1x2x1x1xf32> -> tensor<1x2xf32>
// CHECK-NEXT:      %wf = qtrain.load @res.fc.weight : tensor<3x2xf32>
// CHECK-NEXT:      %bf = qtrain.load @res.fc.bias : tensor<3xf32>
// CHECK-NEXT:      %y = qtrain.dense %f, %wf, %bf : (tensor<1x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<1x3xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x3xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:      %[[DY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x3xf32>, tensor<1xi32>) -> tensor<1x3xf32>
// CHECK-NEXT:      %[[DF:[0-9]+]] = qtrain.dense_grad_input %[[DY]], %wf : (tensor<1x3xf32>, tensor<3x2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %[[DWF:[0-9]+]] = qtrain.dense_grad_weight %f, %[[DY]] : (tensor<1x2xf32>, tensor<1x3xf32>) -> tensor<3x2xf32>
// CHECK-NEXT:      %[[DBF:[0-9]+]] = qtrain.dense_grad_bias %[[DY]] : tensor<1x3xf32> -> tensor<3xf32>
// CHECK-NEXT:      %[[DG:[0-9]+]] = qtrain.reshape %[[DF]] : tensor<1x2xf32> -> tensor<1x2x1x1xf32>
// CHECK-NEXT:      %[[DA:[0-9]+]] = qtrain.global_avgpool_grad %[[DG]] : tensor<1x2x1x1xf32> -> tensor<1x2x3x3xf32>
// CHECK-NEXT:      %[[DM:[0-9]+]] = qtrain.avgpool2d_grad %[[DA]] kernel [3, 3] stride [1, 1] padding [1, 1, 1, 1] count_include_pad : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:      %[[DS:[0-9]+]] = qtrain.maxpool2d_grad %[[DM]], %s kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<1x2x3x3xf32>, tensor<1x2x6x6xf32>) -> tensor<1x2x6x6xf32>
// CHECK-NEXT:      %[[DR1_CONV:[0-9]+]] = qtrain.conv2d_grad_input %[[DS]], %w2 stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x2x6x6xf32>, tensor<2x2x3x3xf32>) -> tensor<1x2x6x6xf32>
// CHECK-NEXT:      %[[DR1:[0-9]+]] = qtrain.add %[[DS]], %[[DR1_CONV]] : tensor<1x2x6x6xf32>
// CHECK-NEXT:      %[[DW2:[0-9]+]] = qtrain.conv2d_grad_weight %r1, %[[DS]] stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x2x6x6xf32>, tensor<1x2x6x6xf32>) -> tensor<2x2x3x3xf32>
// CHECK-NEXT:      %[[DC1:[0-9]+]] = qtrain.relu_grad %[[DR1]], %r1 : tensor<1x2x6x6xf32>
// CHECK-NEXT:      %[[DW1:[0-9]+]] = qtrain.conv2d_grad_weight %input, %[[DC1]] stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x1x6x6xf32>, tensor<1x2x6x6xf32>) -> tensor<2x1x3x3xf32>
// CHECK-NEXT:      %[[DB1:[0-9]+]] = qtrain.conv2d_grad_bias %[[DC1]] : tensor<1x2x6x6xf32> -> tensor<2xf32>
// CHECK-NEXT:      qtrain.sgd_update @res.conv1.weight, %[[DW1]] lr 1.000000e-02 : tensor<2x1x3x3xf32>
// CHECK-NEXT:      qtrain.sgd_update @res.conv1.bias, %[[DB1]] lr 1.000000e-02 : tensor<2xf32>
// CHECK-NEXT:      qtrain.sgd_update @res.conv2.weight, %[[DW2]] lr 1.000000e-02 : tensor<2x2x3x3xf32>
// CHECK-NEXT:      qtrain.sgd_update @res.fc.weight, %[[DWF]] lr 1.000000e-02 : tensor<3x2xf32>
// CHECK-NEXT:      qtrain.sgd_update @res.fc.bias, %[[DBF]] lr 1.000000e-02 : tensor<3xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }

// -----

// ==== batch norm (running statistics frozen) and relu6 ===========================================
//
// gamma and beta train; the running mean and variance are constants of the derivative.
// The conv weight is frozen: no conv2d_grad_weight and no update, and no
// conv2d_grad_input (its input is the model input).

qtrain.param @bn.conv.weight frozen : tensor<2x1x1x1xf32> = dense<1.000000e+00> : tensor<2x1x1x1xf32>
qtrain.param @bn.gamma trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.param @bn.beta trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @bn.mean frozen : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @bn.var frozen : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.param @bn.fc.weight trainable : tensor<2x8xf32> = dense<1.000000e-01> : tensor<2x8xf32>
func.func @forward(%x: tensor<1x1x2x2xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @bn.conv.weight : tensor<2x1x1x1xf32>
  %c = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %g = qtrain.load @bn.gamma : tensor<2xf32>
  %b = qtrain.load @bn.beta : tensor<2xf32>
  %m = qtrain.load @bn.mean : tensor<2xf32>
  %v = qtrain.load @bn.var : tensor<2xf32>
  %n = qtrain.batchnorm %c, %g, %b, %m, %v epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %r = qtrain.relu6 %n : tensor<1x2x2x2xf32>
  %f = qtrain.reshape %r : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
  %wf = qtrain.load @bn.fc.weight : tensor<2x8xf32>
  %y = qtrain.dense %f, %wf : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK-LABEL:   qtrain.param @bn.conv.weight frozen : tensor<2x1x1x1xf32> = dense<1.000000e+00> : tensor<2x1x1x1xf32>
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x1x2x2xf32>, %target: tensor<1xi32>) -> tensor<f32> {
// CHECK:           %[[DY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %[[DF:[0-9]+]] = qtrain.dense_grad_input %[[DY]], %wf : (tensor<1x2xf32>, tensor<2x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:      %[[DWF:[0-9]+]] = qtrain.dense_grad_weight %f, %[[DY]] : (tensor<1x8xf32>, tensor<1x2xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:      %[[DR:[0-9]+]] = qtrain.reshape %[[DF]] : tensor<1x8xf32> -> tensor<1x2x2x2xf32>
// CHECK-NEXT:      %[[DN:[0-9]+]] = qtrain.relu6_grad %[[DR]], %r : tensor<1x2x2x2xf32>
// CHECK-NEXT:      %{{[0-9]+}} = qtrain.batchnorm_grad_input %[[DN]], %g, %v epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:      %[[DG:[0-9]+]] = qtrain.batchnorm_grad_gamma %[[DN]], %c, %m, %v epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
// CHECK-NEXT:      %[[DB:[0-9]+]] = qtrain.batchnorm_grad_beta %[[DN]] : tensor<1x2x2x2xf32> -> tensor<2xf32>
// CHECK-NEXT:      qtrain.sgd_update @bn.gamma, %[[DG]] lr 1.000000e-02 : tensor<2xf32>
// CHECK-NEXT:      qtrain.sgd_update @bn.beta, %[[DB]] lr 1.000000e-02 : tensor<2xf32>
// CHECK-NEXT:      qtrain.sgd_update @bn.fc.weight, %[[DWF]] lr 1.000000e-02 : tensor<2x8xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }

// -----

// ==== errors ==========================================================================================

qtrain.param @err.w trainable : tensor<2x2xf32> = dense<1.000000e+00> : tensor<2x2xf32>
func.func @predict(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @err.w : tensor<2x2xf32>
  %y = qtrain.dense %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK: qtrain-autodiff: no function @forward to differentiate

// -----

qtrain.param @err.w trainable : tensor<2x2xf32> = dense<1.000000e+00> : tensor<2x2xf32>
func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @err.w : tensor<2x2xf32>
  %y = qtrain.dense %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
func.func @train_step(%x: tensor<1x2xf32>, %t: tensor<1xi32>) -> tensor<f32> {
  %y = func.call @forward(%x) : (tensor<1x2xf32>) -> tensor<1x2xf32>
  %l = qtrain.softmax_cross_entropy %y, %t : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
  func.return %l : tensor<f32>
}
// CHECK: qtrain-autodiff: the module already has @train_step

// -----

qtrain.param @err.w frozen : tensor<2x2xf32> = dense<1.000000e+00> : tensor<2x2xf32>
func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @err.w : tensor<2x2xf32>
  %y = qtrain.dense %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK: qtrain-autodiff: nothing is trainable: mark at least one qtrain.param 'trainable'

// -----

// The only trainable parameter is loaded but does not reach the loss.
qtrain.param @err.w frozen : tensor<2x2xf32> = dense<1.000000e+00> : tensor<2x2xf32>
qtrain.param @err.unused trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @err.w : tensor<2x2xf32>
  %u = qtrain.load @err.unused : tensor<2xf32>
  %y = qtrain.dense %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK: qtrain-autodiff: no trainable parameter influences the loss

// -----

qtrain.param @err.w trainable : tensor<2x1x1x1xf32> = dense<1.000000e+00> : tensor<2x1x1x1xf32>
func.func @forward(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = qtrain.load @err.w : tensor<2x1x1x1xf32>
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  func.return %y : tensor<1x2x2x2xf32>
}
// CHECK: qtrain-autodiff: cross_entropy needs @forward to return [N, classes] logits, got tensor<1x2x2x2xf32>

// -----

qtrain.param @err.w trainable : tensor<2x2xf32> = dense<1.000000e+00> : tensor<2x2xf32>
func.func @forward(%x: tensor<1x2xf32>, %z: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @err.w : tensor<2x2xf32>
  %y = qtrain.dense %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %s = qtrain.add %y, %z : tensor<1x2xf32>
  func.return %s : tensor<1x2xf32>
}
// CHECK: qtrain-autodiff: @forward must take one input and return one output, got 2 input(s) and 1 output(s)

// -----

qtrain.param @err.w trainable : tensor<2x2xf32> = dense<1.000000e+00> : tensor<2x2xf32>
func.func @forward(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %w = qtrain.load @err.w : tensor<2x2xf32>
  %y = qtrain.dense %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %y, %y : tensor<1x2xf32>, tensor<1x2xf32>
}
// CHECK: qtrain-autodiff: @forward must take one input and return one output, got 1 input(s) and 2 output(s)

// -----

// Ops without a derivative are named with their position in @forward (op #N counts from 0).
// FIXME: the function part prints as `@?` today, not `@forward` (the message is built on the
// clone, which is not inside a function yet); see bugs/autodiff-error-position.mlir. The
// function name is left open here so this test does not pin the bug.
qtrain.param @err.qw frozen : tensor<2x3x!qtrain.q<si8, sym>> = dense<1> : tensor<2x3xi8>
qtrain.state @err.s : tensor<f32> = dense<1.000000e+00> : tensor<f32>
qtrain.state @err.z : tensor<i32> = dense<0> : tensor<i32>
qtrain.param @err.w trainable : tensor<3x3xf32> = dense<1.000000e+00> : tensor<3x3xf32>
func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2x!qtrain.q<si8, sym>> {
  %w = qtrain.load @err.w : tensor<3x3xf32>
  %h = qtrain.dense %x, %w : (tensor<1x3xf32>, tensor<3x3xf32>) -> tensor<1x3xf32>
  %s = qtrain.load @err.s : tensor<f32>
  %z = qtrain.load @err.z : tensor<i32>
  %q = qtrain.quantize %h, %s, %z : (tensor<1x3xf32>, tensor<f32>, tensor<i32>) -> tensor<1x3x!qtrain.q<si8, sym>>
  %qw = qtrain.load @err.qw : tensor<2x3x!qtrain.q<si8, sym>>
  %y = qtrain.qdense %q[%s, %z], %qw[%s, %z] -> [%s, %z] activation "none" : (tensor<1x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<2x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, sym>>
  func.return %y : tensor<1x2x!qtrain.q<si8, sym>>
}
// CHECK: qtrain-autodiff: qtrain.qdense (op #6 of @{{[^)]*}}) has no derivative; autodiff supports qtrain.add, qtrain.avgpool2d, qtrain.batchnorm, qtrain.conv2d, qtrain.conv_transpose2d, qtrain.dense, qtrain.exp, qtrain.flatten, qtrain.global_avgpool, qtrain.maxpool2d, qtrain.relu, qtrain.relu6, qtrain.reparameterize, qtrain.reshape, qtrain.sigmoid

// -----

// Fake quantization (quantize + dequantize) inside a float model: the backward meets the
// dequantize first.
qtrain.state @err.s : tensor<f32> = dense<1.000000e+00> : tensor<f32>
qtrain.state @err.z : tensor<i32> = dense<0> : tensor<i32>
qtrain.param @err.w trainable : tensor<2x3xf32> = dense<1.000000e+00> : tensor<2x3xf32>
func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %s = qtrain.load @err.s : tensor<f32>
  %z = qtrain.load @err.z : tensor<i32>
  %q = qtrain.quantize %x, %s, %z : (tensor<1x3xf32>, tensor<f32>, tensor<i32>) -> tensor<1x3x!qtrain.q<si8, sym>>
  %d = qtrain.dequantize %q, %s, %z : (tensor<1x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>) -> tensor<1x3xf32>
  %w = qtrain.load @err.w : tensor<2x3xf32>
  %y = qtrain.dense %d, %w : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK: qtrain-autodiff: qtrain.dequantize (op #3 of @{{[^)]*}}) has no derivative; autodiff supports qtrain.add, qtrain.avgpool2d, qtrain.batchnorm, qtrain.conv2d, qtrain.conv_transpose2d, qtrain.dense, qtrain.exp, qtrain.flatten, qtrain.global_avgpool, qtrain.maxpool2d, qtrain.relu, qtrain.relu6, qtrain.reparameterize, qtrain.reshape, qtrain.sigmoid

// -----

// A weight computed from a parameter (here relu6 of it) is not a parameter the update can write.
qtrain.param @err.w trainable : tensor<2x2xf32> = dense<1.000000e+00> : tensor<2x2xf32>
func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @err.w : tensor<2x2xf32>
  %w6 = qtrain.relu6 %w : tensor<2x2xf32>
  %y = qtrain.dense %x, %w6 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK: qtrain-autodiff: qtrain.dense (op #2 of @{{[^)]*}}): the weight must be loaded from a qtrain.param

// -----

qtrain.param @err.g trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.param @err.m trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @err.v frozen : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %g = qtrain.load @err.g : tensor<2xf32>
  %m = qtrain.load @err.m : tensor<2xf32>
  %v = qtrain.load @err.v : tensor<2xf32>
  %y = qtrain.batchnorm %x, %g, %g, %m, %v epsilon 1.000000e-05 : (tensor<1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK: qtrain-autodiff: qtrain.batchnorm (op #3 of @{{[^)]*}}): the running mean @err.m cannot be trainable

// -----

qtrain.param @err.g trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.param @err.m frozen : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @err.v trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %g = qtrain.load @err.g : tensor<2xf32>
  %m = qtrain.load @err.m : tensor<2xf32>
  %v = qtrain.load @err.v : tensor<2xf32>
  %y = qtrain.batchnorm %x, %g, %g, %m, %v epsilon 1.000000e-05 : (tensor<1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK: qtrain-autodiff: qtrain.batchnorm (op #3 of @{{[^)]*}}): the running variance @err.v cannot be trainable

// -----

// ==== variational autoencoder: loss=elbo =========================================================
//
// loss=elbo trains a VAE on its own input (the target has the output's type): the
// reconstruction loss plus kl-weight * kl_divergence(mu, logvar) of every
// qtrain.reparameterize. The training copy of a sample reads `step` from one new i32 state
// @rng.step (loaded before the first sample, advanced modulo 2^31 - 1 after the updates),
// so eps is fresh every step and the backward recomputes it from (seed, step).
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{loss=elbo kl-weight=0.5}' | filecheck %s --match-full-lines --check-prefix=ELBO
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{loss=elbo recon=mse lr=0.5}' | filecheck %s --match-full-lines --check-prefix=ELBOMSE
//
// Bad elbo options fail the pass before it looks at the module.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{loss=elbo recon=l1}' | filecheck %s --match-full-lines --check-prefix=RECON
// RECON:     qtrain-autodiff: unknown recon 'l1' (expected one of: bce, mse)
// RECON-NOT: builtin.module {
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{loss=elbo kl-weight=-1.0}' | filecheck %s --match-full-lines --check-prefix=KLW
// KLW:     qtrain-autodiff: kl-weight must be >= 0, got -1.0
// KLW-NOT: builtin.module {
//
// Dense encoder (mu and logvar heads on the flattened input), one sample, dense + reshape +
// conv_transpose2d decoder, output sigmoid. recon=bce (the default) puts sigmoid_bce on the
// sigmoid's INPUT %l: the sigmoid itself is not differentiated, sigmoid_bce_grad seeds %l.
// The KL derivatives seed mu and logvar before the backward; mu's gradient is the sum of
// that seed and dz (no op for dz -> dmu), logvar's the sum of the seed and
// reparameterize_grad_logvar. The conv-transpose's input gradient is
// conv_transpose2d_grad_input, its weight gradient conv2d_grad_weight with input and error
// swapped (the decoder error as the input, the forward input %r as the error), its
// bias gradient conv2d_grad_bias.

qtrain.param @vae.mu.weight trainable : tensor<2x16xf32> = dense<1.000000e-01> : tensor<2x16xf32>
qtrain.param @vae.mu.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @vae.logvar.weight trainable : tensor<2x16xf32> = dense<-1.000000e-01> : tensor<2x16xf32>
qtrain.param @vae.logvar.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @vae.fc.weight trainable : tensor<8x2xf32> = dense<2.000000e-01> : tensor<8x2xf32>
qtrain.param @vae.fc.bias trainable : tensor<8xf32> = dense<0.000000e+00> : tensor<8xf32>
qtrain.param @vae.deconv.weight trainable : tensor<2x1x3x3xf32> = dense<5.000000e-02> : tensor<2x1x3x3xf32>
qtrain.param @vae.deconv.bias trainable : tensor<1xf32> = dense<0.000000e+00> : tensor<1xf32>
func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  %f = qtrain.flatten %x axis 1 : tensor<1x1x4x4xf32> -> tensor<1x16xf32>
  %wm = qtrain.load @vae.mu.weight : tensor<2x16xf32>
  %bm = qtrain.load @vae.mu.bias : tensor<2xf32>
  %mu = qtrain.dense %f, %wm, %bm : (tensor<1x16xf32>, tensor<2x16xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %wl = qtrain.load @vae.logvar.weight : tensor<2x16xf32>
  %bl = qtrain.load @vae.logvar.bias : tensor<2xf32>
  %lv = qtrain.dense %f, %wl, %bl : (tensor<1x16xf32>, tensor<2x16xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %z = qtrain.reparameterize %mu, %lv seed 7 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
  %wf = qtrain.load @vae.fc.weight : tensor<8x2xf32>
  %bf = qtrain.load @vae.fc.bias : tensor<8xf32>
  %h = qtrain.dense %z, %wf, %bf : (tensor<1x2xf32>, tensor<8x2xf32>, tensor<8xf32>) -> tensor<1x8xf32>
  %a = qtrain.relu %h : tensor<1x8xf32>
  %r = qtrain.reshape %a : tensor<1x8xf32> -> tensor<1x2x2x2xf32>
  %wd = qtrain.load @vae.deconv.weight : tensor<2x1x3x3xf32>
  %bd = qtrain.load @vae.deconv.bias : tensor<1xf32>
  %l = qtrain.conv_transpose2d %r, %wd, %bd stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x2x2xf32>, tensor<2x1x3x3xf32>, tensor<1xf32>) -> tensor<1x1x4x4xf32>
  %y = qtrain.sigmoid %l : tensor<1x1x4x4xf32>
  func.return %y : tensor<1x1x4x4xf32>
}
// The new state follows the last symbol; @forward keeps its inference sample (no step).
// ELBO-LABEL:    qtrain.param @vae.mu.weight trainable : tensor<2x16xf32> = dense<1.000000e-01> : tensor<2x16xf32>
// ELBO:          qtrain.param @vae.deconv.bias trainable : tensor<1xf32> = dense<0.000000e+00> : tensor<1xf32>
// ELBO-NEXT:     qtrain.state @rng.step : tensor<i32> = dense<0> : tensor<i32>
// ELBO-NEXT:     func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
// ELBO:            %z = qtrain.reparameterize %mu, %lv seed 7 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
// ELBO-LABEL:    func.func @train_step(%input: tensor<1x1x4x4xf32>, %target: tensor<1x1x4x4xf32>) -> tensor<f32> {
// ELBO-NEXT:       %f = qtrain.flatten %input axis 1 : tensor<1x1x4x4xf32> -> tensor<1x16xf32>
// ELBO-NEXT:       %wm = qtrain.load @vae.mu.weight : tensor<2x16xf32>
// ELBO-NEXT:       %bm = qtrain.load @vae.mu.bias : tensor<2xf32>
// ELBO-NEXT:       %mu = qtrain.dense %f, %wm, %bm : (tensor<1x16xf32>, tensor<2x16xf32>, tensor<2xf32>) -> tensor<1x2xf32>
// ELBO-NEXT:       %wl = qtrain.load @vae.logvar.weight : tensor<2x16xf32>
// ELBO-NEXT:       %bl = qtrain.load @vae.logvar.bias : tensor<2xf32>
// ELBO-NEXT:       %lv = qtrain.dense %f, %wl, %bl : (tensor<1x16xf32>, tensor<2x16xf32>, tensor<2xf32>) -> tensor<1x2xf32>
// ELBO-NEXT:       %rng_step = qtrain.load @rng.step : tensor<i32>
// ELBO-NEXT:       %z = qtrain.reparameterize %mu, %lv step %rng_step seed 7 : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<1x2xf32>
// ELBO-NEXT:       %wf = qtrain.load @vae.fc.weight : tensor<8x2xf32>
// ELBO-NEXT:       %bf = qtrain.load @vae.fc.bias : tensor<8xf32>
// ELBO-NEXT:       %h = qtrain.dense %z, %wf, %bf : (tensor<1x2xf32>, tensor<8x2xf32>, tensor<8xf32>) -> tensor<1x8xf32>
// ELBO-NEXT:       %a = qtrain.relu %h : tensor<1x8xf32>
// ELBO-NEXT:       %r = qtrain.reshape %a : tensor<1x8xf32> -> tensor<1x2x2x2xf32>
// ELBO-NEXT:       %wd = qtrain.load @vae.deconv.weight : tensor<2x1x3x3xf32>
// ELBO-NEXT:       %bd = qtrain.load @vae.deconv.bias : tensor<1xf32>
// ELBO-NEXT:       %l = qtrain.conv_transpose2d %r, %wd, %bd stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x2x2xf32>, tensor<2x1x3x3xf32>, tensor<1xf32>) -> tensor<1x1x4x4xf32>
// ELBO-NEXT:       %y = qtrain.sigmoid %l : tensor<1x1x4x4xf32>
// ELBO-NEXT:       %[[REC:[0-9]+]] = qtrain.sigmoid_bce %l, %target : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<f32>
// ELBO-NEXT:       %[[DL:[0-9]+]] = qtrain.sigmoid_bce_grad %l, %target : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
// ELBO-NEXT:       %kl = qtrain.kl_divergence %mu, %lv beta 5.000000e-01 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<f32>
// ELBO-NEXT:       %loss = qtrain.add %[[REC]], %kl : tensor<f32>
// ELBO-NEXT:       %[[KMU:[0-9]+]] = qtrain.kl_divergence_grad_mu %mu beta 5.000000e-01 : tensor<1x2xf32>
// ELBO-NEXT:       %[[KLV:[0-9]+]] = qtrain.kl_divergence_grad_logvar %lv beta 5.000000e-01 : tensor<1x2xf32>
// ELBO-NEXT:       %[[DR:[0-9]+]] = qtrain.conv_transpose2d_grad_input %[[DL]], %wd stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x2x2xf32>
// ELBO-NEXT:       %[[DWD:[0-9]+]] = qtrain.conv2d_grad_weight %[[DL]], %r stride [2, 2] padding [1, 1, 1, 1] groups 1 : (tensor<1x1x4x4xf32>, tensor<1x2x2x2xf32>) -> tensor<2x1x3x3xf32>
// ELBO-NEXT:       %[[DBD:[0-9]+]] = qtrain.conv2d_grad_bias %[[DL]] : tensor<1x1x4x4xf32> -> tensor<1xf32>
// ELBO-NEXT:       %[[DA:[0-9]+]] = qtrain.reshape %[[DR]] : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
// ELBO-NEXT:       %[[DH:[0-9]+]] = qtrain.relu_grad %[[DA]], %a : tensor<1x8xf32>
// ELBO-NEXT:       %[[DZ:[0-9]+]] = qtrain.dense_grad_input %[[DH]], %wf : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
// ELBO-NEXT:       %[[DWF:[0-9]+]] = qtrain.dense_grad_weight %z, %[[DH]] : (tensor<1x2xf32>, tensor<1x8xf32>) -> tensor<8x2xf32>
// ELBO-NEXT:       %[[DBF:[0-9]+]] = qtrain.dense_grad_bias %[[DH]] : tensor<1x8xf32> -> tensor<8xf32>
// ELBO-NEXT:       %[[DMU:[0-9]+]] = qtrain.add %[[KMU]], %[[DZ]] : tensor<1x2xf32>
// ELBO-NEXT:       %[[RLV:[0-9]+]] = qtrain.reparameterize_grad_logvar %[[DZ]], %lv step %rng_step seed 7 : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<1x2xf32>
// ELBO-NEXT:       %[[DLV:[0-9]+]] = qtrain.add %[[KLV]], %[[RLV]] : tensor<1x2xf32>
// ELBO-NEXT:       %[[DF_LV:[0-9]+]] = qtrain.dense_grad_input %[[DLV]], %wl : (tensor<1x2xf32>, tensor<2x16xf32>) -> tensor<1x16xf32>
// ELBO-NEXT:       %[[DWL:[0-9]+]] = qtrain.dense_grad_weight %f, %[[DLV]] : (tensor<1x16xf32>, tensor<1x2xf32>) -> tensor<2x16xf32>
// ELBO-NEXT:       %[[DBL:[0-9]+]] = qtrain.dense_grad_bias %[[DLV]] : tensor<1x2xf32> -> tensor<2xf32>
// ELBO-NEXT:       %[[DF_MU:[0-9]+]] = qtrain.dense_grad_input %[[DMU]], %wm : (tensor<1x2xf32>, tensor<2x16xf32>) -> tensor<1x16xf32>
// ELBO-NEXT:       %{{[0-9]+}} = qtrain.add %[[DF_LV]], %[[DF_MU]] : tensor<1x16xf32>
// ELBO-NEXT:       %[[DWM:[0-9]+]] = qtrain.dense_grad_weight %f, %[[DMU]] : (tensor<1x16xf32>, tensor<1x2xf32>) -> tensor<2x16xf32>
// ELBO-NEXT:       %[[DBM:[0-9]+]] = qtrain.dense_grad_bias %[[DMU]] : tensor<1x2xf32> -> tensor<2xf32>
// ELBO-NEXT:       qtrain.sgd_update @vae.mu.weight, %[[DWM]] lr 1.000000e-02 : tensor<2x16xf32>
// ELBO-NEXT:       qtrain.sgd_update @vae.mu.bias, %[[DBM]] lr 1.000000e-02 : tensor<2xf32>
// ELBO-NEXT:       qtrain.sgd_update @vae.logvar.weight, %[[DWL]] lr 1.000000e-02 : tensor<2x16xf32>
// ELBO-NEXT:       qtrain.sgd_update @vae.logvar.bias, %[[DBL]] lr 1.000000e-02 : tensor<2xf32>
// ELBO-NEXT:       qtrain.sgd_update @vae.fc.weight, %[[DWF]] lr 1.000000e-02 : tensor<8x2xf32>
// ELBO-NEXT:       qtrain.sgd_update @vae.fc.bias, %[[DBF]] lr 1.000000e-02 : tensor<8xf32>
// ELBO-NEXT:       qtrain.sgd_update @vae.deconv.weight, %[[DWD]] lr 1.000000e-02 : tensor<2x1x3x3xf32>
// ELBO-NEXT:       qtrain.sgd_update @vae.deconv.bias, %[[DBD]] lr 1.000000e-02 : tensor<1xf32>
// ELBO-NEXT:       qtrain.counter_step @rng.step modulo 2147483647
// ELBO-NEXT:       func.return %loss : tensor<f32>
// ELBO-NEXT:     }

// recon=mse: qtrain.mse on the OUTPUT %y, so the sigmoid is differentiated (sigmoid_grad
// reads its output) and the decoder error enters the conv-transpose backward from there.
// The default kl-weight is 1.
// ELBOMSE-LABEL: qtrain.param @vae.mu.weight trainable : tensor<2x16xf32> = dense<1.000000e-01> : tensor<2x16xf32>
// ELBOMSE-LABEL: func.func @train_step(%input: tensor<1x1x4x4xf32>, %target: tensor<1x1x4x4xf32>) -> tensor<f32> {
// ELBOMSE:         %rng_step = qtrain.load @rng.step : tensor<i32>
// ELBOMSE-NEXT:    %z = qtrain.reparameterize %mu, %lv step %rng_step seed 7 : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<1x2xf32>
// ELBOMSE:         %y = qtrain.sigmoid %l : tensor<1x1x4x4xf32>
// ELBOMSE-NEXT:    %[[REC:[0-9]+]] = qtrain.mse %y, %target : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<f32>
// ELBOMSE-NEXT:    %[[DY:[0-9]+]] = qtrain.mse_grad %y, %target : tensor<1x1x4x4xf32>
// ELBOMSE-NEXT:    %kl = qtrain.kl_divergence %mu, %lv beta 1.000000e+00 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<f32>
// ELBOMSE-NEXT:    %loss = qtrain.add %[[REC]], %kl : tensor<f32>
// ELBOMSE-NEXT:    %[[KMU:[0-9]+]] = qtrain.kl_divergence_grad_mu %mu beta 1.000000e+00 : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[KLV:[0-9]+]] = qtrain.kl_divergence_grad_logvar %lv beta 1.000000e+00 : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[DL:[0-9]+]] = qtrain.sigmoid_grad %[[DY]], %y : tensor<1x1x4x4xf32>
// ELBOMSE-NEXT:    %{{[0-9]+}} = qtrain.conv_transpose2d_grad_input %[[DL]], %wd stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x2x2xf32>
// ELBOMSE-NEXT:    %[[DWD:[0-9]+]] = qtrain.conv2d_grad_weight %[[DL]], %r stride [2, 2] padding [1, 1, 1, 1] groups 1 : (tensor<1x1x4x4xf32>, tensor<1x2x2x2xf32>) -> tensor<2x1x3x3xf32>
// ELBOMSE-NEXT:    %[[DBD:[0-9]+]] = qtrain.conv2d_grad_bias %[[DL]] : tensor<1x1x4x4xf32> -> tensor<1xf32>
// ELBOMSE:         %[[DZ:[0-9]+]] = qtrain.dense_grad_input %{{[0-9]+}}, %wf : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
// ELBOMSE:         %{{[0-9]+}} = qtrain.add %[[KMU]], %[[DZ]] : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[RLV:[0-9]+]] = qtrain.reparameterize_grad_logvar %[[DZ]], %lv step %rng_step seed 7 : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<1x2xf32>
// ELBOMSE-NEXT:    %{{[0-9]+}} = qtrain.add %[[KLV]], %[[RLV]] : tensor<1x2xf32>
// ELBOMSE:         qtrain.sgd_update @vae.deconv.weight, %[[DWD]] lr 5.000000e-01 : tensor<2x1x3x3xf32>
// ELBOMSE-NEXT:    qtrain.sgd_update @vae.deconv.bias, %[[DBD]] lr 5.000000e-01 : tensor<1xf32>
// ELBOMSE-NEXT:    qtrain.counter_step @rng.step modulo 2147483647
// ELBOMSE-NEXT:    func.return %loss : tensor<f32>
// ELBOMSE-NEXT:  }

// -----

// Two samples, the second drawn around the first (z2 ~ N(z1, exp(lv))), and an exp output.
// A state named @rng.step already exists, so the counter gets a fresh name; both samples
// read the one counter. Each sample adds its KL term (two kl_divergence, two adds; the
// name hint `kl` repeats as %kl_1) and seeds its mu and logvar: %lv collects two KL
// derivatives and two reparameterize_grad_logvar (seeds 2 and 1, in reverse order), %z1
// its KL derivative and dz2, %mu its KL derivative and dz1.
qtrain.param @two.mu.weight trainable : tensor<2x3xf32> = dense<1.000000e-01> : tensor<2x3xf32>
qtrain.param @two.logvar.weight trainable : tensor<2x3xf32> = dense<-1.000000e-01> : tensor<2x3xf32>
qtrain.state @rng.step : tensor<i32> = dense<5> : tensor<i32>
func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %wm = qtrain.load @two.mu.weight : tensor<2x3xf32>
  %mu = qtrain.dense %x, %wm : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  %wl = qtrain.load @two.logvar.weight : tensor<2x3xf32>
  %lv = qtrain.dense %x, %wl : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  %z1 = qtrain.reparameterize %mu, %lv seed 1 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
  %z2 = qtrain.reparameterize %z1, %lv seed 2 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = qtrain.exp %z2 : tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// ELBOMSE-LABEL: qtrain.param @two.mu.weight trainable : tensor<2x3xf32> = dense<1.000000e-01> : tensor<2x3xf32>
// ELBOMSE-NEXT:  qtrain.param @two.logvar.weight trainable : tensor<2x3xf32> = dense<-1.000000e-01> : tensor<2x3xf32>
// ELBOMSE-NEXT:  qtrain.state @rng.step : tensor<i32> = dense<5> : tensor<i32>
// ELBOMSE-NEXT:  qtrain.state @rng.step_1 : tensor<i32> = dense<0> : tensor<i32>
// ELBOMSE-LABEL: func.func @train_step(%input: tensor<1x3xf32>, %target: tensor<1x2xf32>) -> tensor<f32> {
// ELBOMSE-NEXT:    %wm = qtrain.load @two.mu.weight : tensor<2x3xf32>
// ELBOMSE-NEXT:    %mu = qtrain.dense %input, %wm : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
// ELBOMSE-NEXT:    %wl = qtrain.load @two.logvar.weight : tensor<2x3xf32>
// ELBOMSE-NEXT:    %lv = qtrain.dense %input, %wl : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
// ELBOMSE-NEXT:    %rng_step = qtrain.load @rng.step_1 : tensor<i32>
// ELBOMSE-NEXT:    %z1 = qtrain.reparameterize %mu, %lv step %rng_step seed 1 : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<1x2xf32>
// ELBOMSE-NEXT:    %z2 = qtrain.reparameterize %z1, %lv step %rng_step seed 2 : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<1x2xf32>
// ELBOMSE-NEXT:    %y = qtrain.exp %z2 : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[REC:[0-9]+]] = qtrain.mse %y, %target : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<f32>
// ELBOMSE-NEXT:    %[[DY:[0-9]+]] = qtrain.mse_grad %y, %target : tensor<1x2xf32>
// ELBOMSE-NEXT:    %kl = qtrain.kl_divergence %mu, %lv beta 1.000000e+00 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<f32>
// ELBOMSE-NEXT:    %[[L1:[0-9]+]] = qtrain.add %[[REC]], %kl : tensor<f32>
// ELBOMSE-NEXT:    %[[KMU1:[0-9]+]] = qtrain.kl_divergence_grad_mu %mu beta 1.000000e+00 : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[KLV1:[0-9]+]] = qtrain.kl_divergence_grad_logvar %lv beta 1.000000e+00 : tensor<1x2xf32>
// ELBOMSE-NEXT:    %kl_1 = qtrain.kl_divergence %z1, %lv beta 1.000000e+00 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<f32>
// ELBOMSE-NEXT:    %loss = qtrain.add %[[L1]], %kl_1 : tensor<f32>
// ELBOMSE-NEXT:    %[[KMU2:[0-9]+]] = qtrain.kl_divergence_grad_mu %z1 beta 1.000000e+00 : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[KLV2:[0-9]+]] = qtrain.kl_divergence_grad_logvar %lv beta 1.000000e+00 : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[KLV:[0-9]+]] = qtrain.add %[[KLV1]], %[[KLV2]] : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[DZ2:[0-9]+]] = qtrain.exp_grad %[[DY]], %y : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[DZ1:[0-9]+]] = qtrain.add %[[KMU2]], %[[DZ2]] : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[R2:[0-9]+]] = qtrain.reparameterize_grad_logvar %[[DZ2]], %lv step %rng_step seed 2 : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[LV2:[0-9]+]] = qtrain.add %[[KLV]], %[[R2]] : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[DMU:[0-9]+]] = qtrain.add %[[KMU1]], %[[DZ1]] : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[R1:[0-9]+]] = qtrain.reparameterize_grad_logvar %[[DZ1]], %lv step %rng_step seed 1 : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[DLV:[0-9]+]] = qtrain.add %[[LV2]], %[[R1]] : tensor<1x2xf32>
// ELBOMSE-NEXT:    %[[DWL:[0-9]+]] = qtrain.dense_grad_weight %input, %[[DLV]] : (tensor<1x3xf32>, tensor<1x2xf32>) -> tensor<2x3xf32>
// ELBOMSE-NEXT:    %[[DWM:[0-9]+]] = qtrain.dense_grad_weight %input, %[[DMU]] : (tensor<1x3xf32>, tensor<1x2xf32>) -> tensor<2x3xf32>
// ELBOMSE-NEXT:    qtrain.sgd_update @two.mu.weight, %[[DWM]] lr 5.000000e-01 : tensor<2x3xf32>
// ELBOMSE-NEXT:    qtrain.sgd_update @two.logvar.weight, %[[DWL]] lr 5.000000e-01 : tensor<2x3xf32>
// ELBOMSE-NEXT:    qtrain.counter_step @rng.step_1 modulo 2147483647
// ELBOMSE-NEXT:    func.return %loss : tensor<f32>
// ELBOMSE-NEXT:  }
//
// Other losses refuse a sampling op (named with its position in @forward); recon=bce
// refuses an output that is not a sigmoid's.
// CHECK: qtrain-autodiff: qtrain.reparameterize (op #4 of @forward) samples a latent and needs loss 'elbo', got 'cross_entropy'
// MSE:   qtrain-autodiff: qtrain.reparameterize (op #4 of @forward) samples a latent and needs loss 'elbo', got 'mse'
// ELBO:  qtrain-autodiff: recon 'bce' needs @forward to return the output of a qtrain.sigmoid (it trains on the sigmoid's logits), got qtrain.exp

// -----

// recon=bce when @forward returns its argument.
qtrain.param @ret.w trainable : tensor<2x2xf32> = dense<1.000000e+00> : tensor<2x2xf32>
func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @ret.w : tensor<2x2xf32>
  %m = qtrain.dense %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %z = qtrain.reparameterize %m, %m seed 0 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
  func.return %x : tensor<1x2xf32>
}
// ELBO: qtrain-autodiff: recon 'bce' needs @forward to return the output of a qtrain.sigmoid (it trains on the sigmoid's logits), got an argument

// -----

// elbo without a sample: there is no KL term to add.
qtrain.param @nos.w trainable : tensor<2x2xf32> = dense<1.000000e+00> : tensor<2x2xf32>
func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @nos.w : tensor<2x2xf32>
  %l = qtrain.dense %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %y = qtrain.sigmoid %l : tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// ELBO:    qtrain-autodiff: loss 'elbo' needs a qtrain.reparameterize in @forward
// ELBOMSE: qtrain-autodiff: loss 'elbo' needs a qtrain.reparameterize in @forward
