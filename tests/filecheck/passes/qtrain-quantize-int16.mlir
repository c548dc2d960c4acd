// qtrain-quantize{errors=int16}: every error tensor is !qtrain.q<si16, ...> (asymmetric with
// u8-asym, symmetric with s8-sym) with its own tracked range; weights and activations stay
// 8-bit, the accumulators int32, and the weights take the fused update (which reads the
// int16 error). An input gradient summing K = 16·3·3 = 144 products of |e - ze| <= 65535
// (asymmetric int16) and |w - zw| <= 255 can reach 2,406,445,200 > 2^31 - 1: the
// int16-error kernels sum exactly and saturate to int32 (runtime/fqt.py), so the pass
// accepts it (it refused it while they accumulated in int32).
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{errors=int16 rounding=nearest}' | filecheck %s
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{errors=int16 scheme=s8-sym rounding=nearest}' | filecheck %s --check-prefix=SYM

qtrain.param @fc1.weight trainable : tensor<3x4xf32> = dense<[[0.5, -0.25, 0.125, 1.0], [-0.5, 0.75, 0.0, 0.25], [0.1, 0.2, -0.3, 0.4]]> : tensor<3x4xf32>
qtrain.param @fc2.weight trainable : tensor<2x3xf32> = dense<[[1.0, -1.0, 0.5], [-0.5, 0.5, 1.0]]> : tensor<2x3xf32>
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w1 = qtrain.load @fc1.weight : tensor<3x4xf32>
  %h = qtrain.dense %x, %w1 : (tensor<1x4xf32>, tensor<3x4xf32>) -> tensor<1x3xf32>
  %a = qtrain.relu %h : tensor<1x3xf32>
  %w2 = qtrain.load @fc2.weight : tensor<2x3xf32>
  %y = qtrain.dense %a, %w2 : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// CHECK-LABEL: func.func @train_step
// CHECK:       %[[E:[0-9]+]] = qtrain.quantize %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}} : (tensor<1x2xf32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si16, asym>>
// CHECK-NEXT:  %{{[0-9]+}} = qtrain.qdense_grad_input %[[E]][%{{[0-9]+}}], %{{[0-9]+}}[%{{[0-9]+}}] : (tensor<1x2x!qtrain.q<si16, asym>>, tensor<i32>, tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<1x3x!qtrain.q<si32, sym>>
// CHECK:       %{{[0-9]+}} = qtrain.range_scale %{{[0-9]+}} for <si16, asym>
// CHECK:       %[[E1:[0-9]+]] = qtrain.requantize_acc {{.*}} -> tensor<1x3x!qtrain.q<si16, asym>>
// CHECK:       %{{[0-9]+}} = qtrain.qrelu_grad %[[E1]][%{{[0-9]+}}], {{.*}} -> tensor<1x3x!qtrain.q<si16, asym>>
// CHECK:       "qtrain.qdense_grad_weight_sgd"({{.*}}) <{param = @fc1.weight{{.*}} : (tensor<1x4x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x3x!qtrain.q<si16, asym>>
// SYM-LABEL:   func.func @train_step
// SYM:         qtrain.quantize {{.*}} -> tensor<1x2x!qtrain.q<si16, sym>>

// -----

qtrain.param @c1.weight trainable : tensor<16x1x3x3xf32> = dense<0.25> : tensor<16x1x3x3xf32>
qtrain.param @c2.weight trainable : tensor<2x16x3x3xf32> = dense<-0.125> : tensor<2x16x3x3xf32>
func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x32xf32> {
  %w1 = qtrain.load @c1.weight : tensor<16x1x3x3xf32>
  %h = qtrain.conv2d %x, %w1 stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x1x4x4xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x4x4xf32>
  %a = qtrain.relu %h : tensor<1x16x4x4xf32>
  %w2 = qtrain.load @c2.weight : tensor<2x16x3x3xf32>
  %y = qtrain.conv2d %a, %w2 stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x16x4x4xf32>, tensor<2x16x3x3xf32>) -> tensor<1x2x4x4xf32>
  %f = qtrain.flatten %y axis 1 : tensor<1x2x4x4xf32> -> tensor<1x32xf32>
  func.return %f : tensor<1x32xf32>
}
// K for c2's input gradient is only 2·3·3 = 18; c1's weight gradient sums 16 positions: both fit.
// CHECK-LABEL: func.func @train_step
// CHECK:       qtrain.qconv2d_grad_input {{.*}} : (tensor<1x2x4x4x!qtrain.q<si16, asym>>
// SYM-LABEL:   func.func @train_step

// -----

qtrain.param @c1.weight trainable : tensor<4x1x3x3xf32> = dense<0.25> : tensor<4x1x3x3xf32>
qtrain.param @c2.weight trainable : tensor<16x4x3x3xf32> = dense<-0.125> : tensor<16x4x3x3xf32>
func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x256xf32> {
  %w1 = qtrain.load @c1.weight : tensor<4x1x3x3xf32>
  %h = qtrain.conv2d %x, %w1 stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x1x4x4xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x4x4xf32>
  %w2 = qtrain.load @c2.weight : tensor<16x4x3x3xf32>
  %y = qtrain.conv2d %h, %w2 stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x4x4x4xf32>, tensor<16x4x3x3xf32>) -> tensor<1x16x4x4xf32>
  %f = qtrain.flatten %y axis 1 : tensor<1x16x4x4xf32> -> tensor<1x256xf32>
  func.return %f : tensor<1x256xf32>
}
// CHECK-LABEL: func.func @train_step
// CHECK:       qtrain.qconv2d_grad_input {{.*}} : (tensor<1x16x4x4x!qtrain.q<si16, asym>>, tensor<i32>, tensor<16x4x3x3x!qtrain.q<si8, asym>>
// SYM-LABEL:   func.func @train_step
// SYM:         qtrain.qconv2d_grad_input {{.*}} : (tensor<1x16x4x4x!qtrain.q<si16, sym>>, tensor<i32>, tensor<16x4x3x3x!qtrain.q<si8, sym>>
