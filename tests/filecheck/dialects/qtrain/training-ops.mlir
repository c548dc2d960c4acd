// Round trip of every training-level qtrain op (the backward ops qtrain-autodiff emits and
// the optimizer ops): custom syntax -> custom syntax, and generic syntax -> custom syntax.
// Every CHECK is a whole printed line, so a printer or parser that drops or changes an
// operand, a property or an optional group fails the test.
// RUN: odtc-opt %s | odtc-opt | filecheck %s --match-full-lines
// RUN: odtc-opt %s --print-op-generic | odtc-opt | filecheck %s --match-full-lines
// The generic form itself also parses back to the same generic form.
// RUN: odtc-opt %s --print-op-generic | odtc-opt --print-op-generic | filecheck %s --check-prefix=GENERIC --match-full-lines

// CHECK: builtin.module {

// ---- symbols the optimizer ops update and read ---------------------------------------------

qtrain.param @fc.weight trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
qtrain.param @fc.sparse trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32> {channels = array<i64: 1, 3>}
qtrain.state @fc.weight.velocity : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
qtrain.state @fc.weight.adam_m : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
qtrain.state @fc.weight.adam_v : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
qtrain.state @fc.weight.adam_step : tensor<i32> = dense<0> : tensor<i32>
qtrain.state @fc.weight.grad_acc : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
qtrain.state @fc.sparse.grad_acc : tensor<2x3xf32> = dense<0.000000e+00> : tensor<2x3xf32>
qtrain.state @batch_pos : tensor<i32> = dense<0> : tensor<i32>
qtrain.param @conv.weight trainable : tensor<8x2x3x3xf32> = dense<1.000000e-01> : tensor<8x2x3x3xf32>
// CHECK-NEXT:   qtrain.param @fc.weight trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
// CHECK-NEXT:   qtrain.param @fc.sparse trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32> {channels = array<i64: 1, 3>}
// CHECK-NEXT:   qtrain.state @fc.weight.velocity : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
// CHECK-NEXT:   qtrain.state @fc.weight.adam_m : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
// CHECK-NEXT:   qtrain.state @fc.weight.adam_v : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
// CHECK-NEXT:   qtrain.state @fc.weight.adam_step : tensor<i32> = dense<0> : tensor<i32>
// CHECK-NEXT:   qtrain.state @fc.weight.grad_acc : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
// CHECK-NEXT:   qtrain.state @fc.sparse.grad_acc : tensor<2x3xf32> = dense<0.000000e+00> : tensor<2x3xf32>
// CHECK-NEXT:   qtrain.state @batch_pos : tensor<i32> = dense<0> : tensor<i32>
// CHECK-NEXT:   qtrain.param @conv.weight trainable : tensor<8x2x3x3xf32> = dense<1.000000e-01> : tensor<8x2x3x3xf32>

// ---- conv2d: grad_input, grad_weight (dense and sparse channels), grad_bias -----------------

// Grouped, strided, asymmetric padding: the properties are carried, not recomputed.
func.func @conv_grads(%x: tensor<1x4x8x8xf32>, %w: tensor<8x2x3x3xf32>, %dy: tensor<1x8x4x4xf32>) -> (tensor<1x4x8x8xf32>, tensor<8x2x3x3xf32>, tensor<3x2x3x3xf32>, tensor<8xf32>) {
  %dx = qtrain.conv2d_grad_input %dy, %w stride [2, 2] padding [1, 1, 0, 0] groups 2 : (tensor<1x8x4x4xf32>, tensor<8x2x3x3xf32>) -> tensor<1x4x8x8xf32>
  %dw = qtrain.conv2d_grad_weight %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 2 : (tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>) -> tensor<8x2x3x3xf32>
  %dws = qtrain.conv2d_grad_weight %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 2 channels [0, 2, 5] : (tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>) -> tensor<3x2x3x3xf32>
  %db = qtrain.conv2d_grad_bias %dy : tensor<1x8x4x4xf32> -> tensor<8xf32>
  func.return %dx, %dw, %dws, %db : tensor<1x4x8x8xf32>, tensor<8x2x3x3xf32>, tensor<3x2x3x3xf32>, tensor<8xf32>
}
// CHECK-LABEL:   func.func @conv_grads(%x: tensor<1x4x8x8xf32>, %w: tensor<8x2x3x3xf32>, %dy: tensor<1x8x4x4xf32>) -> (tensor<1x4x8x8xf32>, tensor<8x2x3x3xf32>, tensor<3x2x3x3xf32>, tensor<8xf32>) {
// CHECK-NEXT:      %dx = qtrain.conv2d_grad_input %dy, %w stride [2, 2] padding [1, 1, 0, 0] groups 2 : (tensor<1x8x4x4xf32>, tensor<8x2x3x3xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NEXT:      %dw = qtrain.conv2d_grad_weight %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 2 : (tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>) -> tensor<8x2x3x3xf32>
// CHECK-NEXT:      %dws = qtrain.conv2d_grad_weight %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 2 channels [0, 2, 5] : (tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>) -> tensor<3x2x3x3xf32>
// CHECK-NEXT:      %db = qtrain.conv2d_grad_bias %dy : tensor<1x8x4x4xf32> -> tensor<8xf32>
// CHECK-NEXT:      func.return %dx, %dw, %dws, %db : tensor<1x4x8x8xf32>, tensor<8x2x3x3xf32>, tensor<3x2x3x3xf32>, tensor<8xf32>
// CHECK-NEXT:    }

// GENERIC:      %dx = "qtrain.conv2d_grad_input"(%dy, %w) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64}> : (tensor<1x8x4x4xf32>, tensor<8x2x3x3xf32>) -> tensor<1x4x8x8xf32>
// GENERIC-NEXT: %dw = "qtrain.conv2d_grad_weight"(%x, %dy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64}> : (tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>) -> tensor<8x2x3x3xf32>
// GENERIC-NEXT: %dws = "qtrain.conv2d_grad_weight"(%x, %dy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, channels = array<i64: 0, 2, 5>}> : (tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>) -> tensor<3x2x3x3xf32>
// GENERIC-NEXT: %db = "qtrain.conv2d_grad_bias"(%dy) : (tensor<1x8x4x4xf32>) -> tensor<8xf32>

// ---- dense: grad_input, grad_weight (dense and sparse channels), grad_bias ------------------

func.func @dense_grads(%x: tensor<2x3xf32>, %w: tensor<4x3xf32>, %dy: tensor<2x4xf32>) -> (tensor<2x3xf32>, tensor<4x3xf32>, tensor<2x3xf32>, tensor<4xf32>) {
  %dx = qtrain.dense_grad_input %dy, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  %dw = qtrain.dense_grad_weight %x, %dy : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  %dws = qtrain.dense_grad_weight %x, %dy channels [1, 3] : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x3xf32>
  %db = qtrain.dense_grad_bias %dy : tensor<2x4xf32> -> tensor<4xf32>
  func.return %dx, %dw, %dws, %db : tensor<2x3xf32>, tensor<4x3xf32>, tensor<2x3xf32>, tensor<4xf32>
}
// CHECK-LABEL:   func.func @dense_grads(%x: tensor<2x3xf32>, %w: tensor<4x3xf32>, %dy: tensor<2x4xf32>) -> (tensor<2x3xf32>, tensor<4x3xf32>, tensor<2x3xf32>, tensor<4xf32>) {
// CHECK-NEXT:      %dx = qtrain.dense_grad_input %dy, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:      %dw = qtrain.dense_grad_weight %x, %dy : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:      %dws = qtrain.dense_grad_weight %x, %dy channels [1, 3] : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:      %db = qtrain.dense_grad_bias %dy : tensor<2x4xf32> -> tensor<4xf32>
// CHECK-NEXT:      func.return %dx, %dw, %dws, %db : tensor<2x3xf32>, tensor<4x3xf32>, tensor<2x3xf32>, tensor<4xf32>
// CHECK-NEXT:    }

// GENERIC:      %dx = "qtrain.dense_grad_input"(%dy, %w) : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
// GENERIC-NEXT: %dw = "qtrain.dense_grad_weight"(%x, %dy) : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
// GENERIC-NEXT: %dws = "qtrain.dense_grad_weight"(%x, %dy) <{channels = array<i64: 1, 3>}> : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x3xf32>
// GENERIC-NEXT: %db = "qtrain.dense_grad_bias"(%dy) : (tensor<2x4xf32>) -> tensor<4xf32>

// ---- activations: relu_grad, relu6_grad (second operand: the forward OUTPUT) ----------------

func.func @activation_grads(%dy: tensor<1x8x4x4xf32>, %y: tensor<1x8x4x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %a = qtrain.relu_grad %dy, %y : tensor<1x8x4x4xf32>
  %b = qtrain.relu6_grad %dy, %y {tag} : tensor<1x8x4x4xf32>
  func.return %a, %b : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}
// CHECK-LABEL:   func.func @activation_grads(%dy: tensor<1x8x4x4xf32>, %y: tensor<1x8x4x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
// CHECK-NEXT:      %a = qtrain.relu_grad %dy, %y : tensor<1x8x4x4xf32>
// CHECK-NEXT:      %b = qtrain.relu6_grad %dy, %y {tag} : tensor<1x8x4x4xf32>
// CHECK-NEXT:      func.return %a, %b : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
// CHECK-NEXT:    }

// GENERIC:      %a = "qtrain.relu_grad"(%dy, %y) : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
// GENERIC-NEXT: %b = "qtrain.relu6_grad"(%dy, %y) {tag} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>

// ---- pooling: maxpool2d_grad, avgpool2d_grad (with/without count_include_pad), global ------

func.func @pool_grads(%x: tensor<1x8x7x7xf32>, %dm: tensor<1x8x3x3xf32>, %da: tensor<1x8x4x4xf32>, %dg: tensor<1x8x1x1xf32>) -> (tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>) {
  %m = qtrain.maxpool2d_grad %dm, %x kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<1x8x3x3xf32>, tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32>
  %a = qtrain.avgpool2d_grad %da kernel [3, 3] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x8x4x4xf32>) -> tensor<1x8x7x7xf32>
  %p = qtrain.avgpool2d_grad %da kernel [3, 3] stride [2, 2] padding [1, 1, 1, 1] count_include_pad : (tensor<1x8x4x4xf32>) -> tensor<1x8x7x7xf32>
  %g = qtrain.global_avgpool_grad %dg : tensor<1x8x1x1xf32> -> tensor<1x8x7x7xf32>
  func.return %m, %a, %p, %g : tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>
}
// CHECK-LABEL:   func.func @pool_grads(%x: tensor<1x8x7x7xf32>, %dm: tensor<1x8x3x3xf32>, %da: tensor<1x8x4x4xf32>, %dg: tensor<1x8x1x1xf32>) -> (tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>) {
// CHECK-NEXT:      %m = qtrain.maxpool2d_grad %dm, %x kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<1x8x3x3xf32>, tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32>
// CHECK-NEXT:      %a = qtrain.avgpool2d_grad %da kernel [3, 3] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x8x4x4xf32>) -> tensor<1x8x7x7xf32>
// CHECK-NEXT:      %p = qtrain.avgpool2d_grad %da kernel [3, 3] stride [2, 2] padding [1, 1, 1, 1] count_include_pad : (tensor<1x8x4x4xf32>) -> tensor<1x8x7x7xf32>
// CHECK-NEXT:      %g = qtrain.global_avgpool_grad %dg : tensor<1x8x1x1xf32> -> tensor<1x8x7x7xf32>
// CHECK-NEXT:      func.return %m, %a, %p, %g : tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>, tensor<1x8x7x7xf32>
// CHECK-NEXT:    }

// GENERIC:      %m = "qtrain.maxpool2d_grad"(%dm, %x) <{kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>}> : (tensor<1x8x3x3xf32>, tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32>
// GENERIC-NEXT: %a = "qtrain.avgpool2d_grad"(%da) <{kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>}> : (tensor<1x8x4x4xf32>) -> tensor<1x8x7x7xf32>
// GENERIC-NEXT: %p = "qtrain.avgpool2d_grad"(%da) <{kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, count_include_pad}> : (tensor<1x8x4x4xf32>) -> tensor<1x8x7x7xf32>
// GENERIC-NEXT: %g = "qtrain.global_avgpool_grad"(%dg) : (tensor<1x8x1x1xf32>) -> tensor<1x8x7x7xf32>

// ---- batchnorm: grad_input, grad_gamma, grad_beta ---------------------------------------------

func.func @batchnorm_grads(%dy: tensor<1x8x4x4xf32>, %x: tensor<1x8x4x4xf32>, %g: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>, %dy2: tensor<2x8xf32>, %x2: tensor<2x8xf32>) -> (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2x8xf32>) {
  %dx = qtrain.batchnorm_grad_input %dy, %g, %v epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %dg = qtrain.batchnorm_grad_gamma %dy, %x, %m, %v epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %db = qtrain.batchnorm_grad_beta %dy : tensor<1x8x4x4xf32> -> tensor<8xf32>
  %dx2 = qtrain.batchnorm_grad_input %dy2, %g, %v epsilon 1.000000e-03 : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  func.return %dx, %dg, %db, %dx2 : tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2x8xf32>
}
// CHECK-LABEL:   func.func @batchnorm_grads(%dy: tensor<1x8x4x4xf32>, %x: tensor<1x8x4x4xf32>, %g: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>, %dy2: tensor<2x8xf32>, %x2: tensor<2x8xf32>) -> (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2x8xf32>) {
// CHECK-NEXT:      %dx = qtrain.batchnorm_grad_input %dy, %g, %v epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:      %dg = qtrain.batchnorm_grad_gamma %dy, %x, %m, %v epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
// CHECK-NEXT:      %db = qtrain.batchnorm_grad_beta %dy : tensor<1x8x4x4xf32> -> tensor<8xf32>
// CHECK-NEXT:      %dx2 = qtrain.batchnorm_grad_input %dy2, %g, %v epsilon 1.000000e-03 : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:      func.return %dx, %dg, %db, %dx2 : tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2x8xf32>
// CHECK-NEXT:    }

// GENERIC:      %dx = "qtrain.batchnorm_grad_input"(%dy, %g, %v) <{epsilon = 1.000000e-05 : f64}> : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
// GENERIC-NEXT: %dg = "qtrain.batchnorm_grad_gamma"(%dy, %x, %m, %v) <{epsilon = 1.000000e-05 : f64}> : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
// GENERIC-NEXT: %db = "qtrain.batchnorm_grad_beta"(%dy) : (tensor<1x8x4x4xf32>) -> tensor<8xf32>

// ---- losses: softmax_cross_entropy_grad, mse_grad -----------------------------------------------

func.func @loss_grads(%l: tensor<2x10xf32>, %c: tensor<2xi32>, %t: tensor<2x10xf32>) -> (tensor<2x10xf32>, tensor<2x10xf32>) {
  %a = qtrain.softmax_cross_entropy_grad %l, %c : (tensor<2x10xf32>, tensor<2xi32>) -> tensor<2x10xf32>
  %b = qtrain.mse_grad %l, %t : tensor<2x10xf32>
  func.return %a, %b : tensor<2x10xf32>, tensor<2x10xf32>
}
// CHECK-LABEL:   func.func @loss_grads(%l: tensor<2x10xf32>, %c: tensor<2xi32>, %t: tensor<2x10xf32>) -> (tensor<2x10xf32>, tensor<2x10xf32>) {
// CHECK-NEXT:      %a = qtrain.softmax_cross_entropy_grad %l, %c : (tensor<2x10xf32>, tensor<2xi32>) -> tensor<2x10xf32>
// CHECK-NEXT:      %b = qtrain.mse_grad %l, %t : tensor<2x10xf32>
// CHECK-NEXT:      func.return %a, %b : tensor<2x10xf32>, tensor<2x10xf32>
// CHECK-NEXT:    }

// GENERIC:      %a = "qtrain.softmax_cross_entropy_grad"(%l, %c) : (tensor<2x10xf32>, tensor<2xi32>) -> tensor<2x10xf32>
// GENERIC-NEXT: %b = "qtrain.mse_grad"(%l, %t) : (tensor<2x10xf32>, tensor<2x10xf32>) -> tensor<2x10xf32>

// ---- optimizer ops: sgd (plain, channels, accumulate), momentum, adam, counter_step -------------

func.func @optimizers(%g: tensor<4x3xf32>, %gs: tensor<2x3xf32>, %pos: tensor<i32>) {
  qtrain.sgd_update @fc.weight, %g lr 1.000000e-02 : tensor<4x3xf32>
  qtrain.sgd_update @fc.sparse, %gs lr 1.000000e-02 channels [1, 3] : tensor<2x3xf32>
  qtrain.sgd_update @fc.weight, %g lr 1.000000e-02 accumulate @fc.weight.grad_acc every 4 at %pos : tensor<4x3xf32>, tensor<i32>
  qtrain.sgd_update @fc.sparse, %gs lr 5.000000e-01 channels [1, 3] accumulate @fc.sparse.grad_acc every 4 at %pos {tag} : tensor<2x3xf32>, tensor<i32>
  qtrain.momentum_update @fc.weight, %g velocity @fc.weight.velocity lr 1.000000e-02 momentum 9.000000e-01 : tensor<4x3xf32>
  qtrain.momentum_update @fc.weight, %g velocity @fc.weight.velocity lr 1.000000e-02 momentum 5.000000e-01 accumulate @fc.weight.grad_acc every 2 at %pos : tensor<4x3xf32>, tensor<i32>
  qtrain.adam_update @fc.weight, %g moments @fc.weight.adam_m, @fc.weight.adam_v step @fc.weight.adam_step lr 1.000000e-03 beta1 9.000000e-01 beta2 9.990000e-01 eps 1.000000e-08 : tensor<4x3xf32>
  qtrain.adam_update @fc.sparse, %gs moments @fc.weight.adam_m, @fc.weight.adam_v step @fc.weight.adam_step lr 1.000000e-03 beta1 8.000000e-01 beta2 9.900000e-01 eps 1.000000e-07 channels [1, 3] accumulate @fc.sparse.grad_acc every 3 at %pos : tensor<2x3xf32>, tensor<i32>
  qtrain.counter_step @batch_pos modulo 4
  func.return
}
// CHECK-LABEL:   func.func @optimizers(%g: tensor<4x3xf32>, %gs: tensor<2x3xf32>, %pos: tensor<i32>) {
// CHECK-NEXT:      qtrain.sgd_update @fc.weight, %g lr 1.000000e-02 : tensor<4x3xf32>
// CHECK-NEXT:      qtrain.sgd_update @fc.sparse, %gs lr 1.000000e-02 channels [1, 3] : tensor<2x3xf32>
// CHECK-NEXT:      qtrain.sgd_update @fc.weight, %g lr 1.000000e-02 accumulate @fc.weight.grad_acc every 4 at %pos : tensor<4x3xf32>, tensor<i32>
// CHECK-NEXT:      qtrain.sgd_update @fc.sparse, %gs lr 5.000000e-01 channels [1, 3] accumulate @fc.sparse.grad_acc every 4 at %pos {tag} : tensor<2x3xf32>, tensor<i32>
// CHECK-NEXT:      qtrain.momentum_update @fc.weight, %g velocity @fc.weight.velocity lr 1.000000e-02 momentum 9.000000e-01 : tensor<4x3xf32>
// CHECK-NEXT:      qtrain.momentum_update @fc.weight, %g velocity @fc.weight.velocity lr 1.000000e-02 momentum 5.000000e-01 accumulate @fc.weight.grad_acc every 2 at %pos : tensor<4x3xf32>, tensor<i32>
// CHECK-NEXT:      qtrain.adam_update @fc.weight, %g moments @fc.weight.adam_m, @fc.weight.adam_v step @fc.weight.adam_step lr 1.000000e-03 beta1 9.000000e-01 beta2 9.990000e-01 eps 1.000000e-08 : tensor<4x3xf32>
// CHECK-NEXT:      qtrain.adam_update @fc.sparse, %gs moments @fc.weight.adam_m, @fc.weight.adam_v step @fc.weight.adam_step lr 1.000000e-03 beta1 8.000000e-01 beta2 9.900000e-01 eps 1.000000e-07 channels [1, 3] accumulate @fc.sparse.grad_acc every 3 at %pos : tensor<2x3xf32>, tensor<i32>
// CHECK-NEXT:      qtrain.counter_step @batch_pos modulo 4
// CHECK-NEXT:      func.return
// CHECK-NEXT:    }

// ---- fused grad-weight + SGD (qtrain-fuse-updates): dense and conv, all rows and channels ------
// No result: they update the parameter in place like sgd_update; the conv's kernel size is
// the parameter's (3x3 here).

func.func @fused_updates(%x: tensor<2x3xf32>, %dy: tensor<2x4xf32>, %cx: tensor<1x4x8x8xf32>, %cdy: tensor<1x8x4x4xf32>) {
  qtrain.dense_grad_weight_sgd @fc.weight, %x, %dy lr 1.000000e-02 : tensor<2x3xf32>, tensor<2x4xf32>
  qtrain.dense_grad_weight_sgd @fc.sparse, %x, %dy lr 5.000000e-01 channels [1, 3] {tag} : tensor<2x3xf32>, tensor<2x4xf32>
  qtrain.conv2d_grad_weight_sgd @conv.weight, %cx, %cdy stride [2, 2] padding [1, 1, 0, 0] groups 2 lr 1.000000e-02 : tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>
  qtrain.conv2d_grad_weight_sgd @conv.weight, %cx, %cdy stride [2, 2] padding [1, 1, 0, 0] groups 2 lr 1.000000e-02 channels [0, 2, 5] : tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>
  func.return
}
// CHECK-LABEL:   func.func @fused_updates(%x: tensor<2x3xf32>, %dy: tensor<2x4xf32>, %cx: tensor<1x4x8x8xf32>, %cdy: tensor<1x8x4x4xf32>) {
// CHECK-NEXT:      qtrain.dense_grad_weight_sgd @fc.weight, %x, %dy lr 1.000000e-02 : tensor<2x3xf32>, tensor<2x4xf32>
// CHECK-NEXT:      qtrain.dense_grad_weight_sgd @fc.sparse, %x, %dy lr 5.000000e-01 channels [1, 3] {tag} : tensor<2x3xf32>, tensor<2x4xf32>
// CHECK-NEXT:      qtrain.conv2d_grad_weight_sgd @conv.weight, %cx, %cdy stride [2, 2] padding [1, 1, 0, 0] groups 2 lr 1.000000e-02 : tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>
// CHECK-NEXT:      qtrain.conv2d_grad_weight_sgd @conv.weight, %cx, %cdy stride [2, 2] padding [1, 1, 0, 0] groups 2 lr 1.000000e-02 channels [0, 2, 5] : tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>
// CHECK-NEXT:      func.return
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// GENERIC:      "qtrain.sgd_update"(%g) <{param = @fc.weight, lr = 1.000000e-02 : f64}> : (tensor<4x3xf32>) -> ()
// GENERIC-NEXT: "qtrain.sgd_update"(%gs) <{param = @fc.sparse, lr = 1.000000e-02 : f64, channels = array<i64: 1, 3>}> : (tensor<2x3xf32>) -> ()
// GENERIC-NEXT: "qtrain.sgd_update"(%g, %pos) <{param = @fc.weight, lr = 1.000000e-02 : f64, accumulator = @fc.weight.grad_acc, every = 4 : i64}> : (tensor<4x3xf32>, tensor<i32>) -> ()
// GENERIC-NEXT: "qtrain.sgd_update"(%gs, %pos) <{param = @fc.sparse, lr = 5.000000e-01 : f64, channels = array<i64: 1, 3>, accumulator = @fc.sparse.grad_acc, every = 4 : i64}> {tag} : (tensor<2x3xf32>, tensor<i32>) -> ()
// GENERIC-NEXT: "qtrain.momentum_update"(%g) <{param = @fc.weight, velocity = @fc.weight.velocity, lr = 1.000000e-02 : f64, momentum = 9.000000e-01 : f64}> : (tensor<4x3xf32>) -> ()
// GENERIC-NEXT: "qtrain.momentum_update"(%g, %pos) <{param = @fc.weight, velocity = @fc.weight.velocity, lr = 1.000000e-02 : f64, momentum = 5.000000e-01 : f64, accumulator = @fc.weight.grad_acc, every = 2 : i64}> : (tensor<4x3xf32>, tensor<i32>) -> ()
// GENERIC-NEXT: "qtrain.adam_update"(%g) <{param = @fc.weight, first_moment = @fc.weight.adam_m, second_moment = @fc.weight.adam_v, step = @fc.weight.adam_step, lr = 1.000000e-03 : f64, beta1 = 9.000000e-01 : f64, beta2 = 9.990000e-01 : f64, eps = 1.000000e-08 : f64}> : (tensor<4x3xf32>) -> ()
// GENERIC-NEXT: "qtrain.adam_update"(%gs, %pos) <{param = @fc.sparse, first_moment = @fc.weight.adam_m, second_moment = @fc.weight.adam_v, step = @fc.weight.adam_step, lr = 1.000000e-03 : f64, beta1 = 8.000000e-01 : f64, beta2 = 9.900000e-01 : f64, eps = 1.000000e-07 : f64, channels = array<i64: 1, 3>, accumulator = @fc.sparse.grad_acc, every = 3 : i64}> : (tensor<2x3xf32>, tensor<i32>) -> ()
// GENERIC-NEXT: "qtrain.counter_step"() <{counter = @batch_pos, modulo = 4 : i64}> : () -> ()

// GENERIC:      "qtrain.dense_grad_weight_sgd"(%x, %dy) <{param = @fc.weight, lr = 1.000000e-02 : f64}> : (tensor<2x3xf32>, tensor<2x4xf32>) -> ()
// GENERIC-NEXT: "qtrain.dense_grad_weight_sgd"(%x, %dy) <{param = @fc.sparse, lr = 5.000000e-01 : f64, channels = array<i64: 1, 3>}> {tag} : (tensor<2x3xf32>, tensor<2x4xf32>) -> ()
// GENERIC-NEXT: "qtrain.conv2d_grad_weight_sgd"(%cx, %cdy) <{param = @conv.weight, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, lr = 1.000000e-02 : f64}> : (tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>) -> ()
// GENERIC-NEXT: "qtrain.conv2d_grad_weight_sgd"(%cx, %cdy) <{param = @conv.weight, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, lr = 1.000000e-02 : f64, channels = array<i64: 0, 2, 5>}> : (tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>) -> ()
