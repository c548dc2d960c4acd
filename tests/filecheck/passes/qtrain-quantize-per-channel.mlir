// qtrain-quantize{weights=per-channel}: every conv/dense weight gets one scale and one
// zero-point per output channel (row, axis 0), initialised from that row's range. The
// forward accumulator then has one scale per channel (scale_mul of the input scale and the
// [O] weight scales), read by minmax, acc_relu6 and requantize_acc. The input gradient
// sums over output channels of different scales, so the int8 error is first put on one
// int16 scale (qrescale_channels: sw[o]/max(sw) folded in, 2^shift finer; the scale of the
// sum is scale_div(scale_mul(se, scale_max(sw)), 2^shift)). The fused update steps each row
// on its own grid and qweight_regrid re-grids rows one by one (per-row scale states).
// shift is the largest (<= 15) for which 255·2^shift fits int16 and K products of it with
// |w - zw| <= 255 fit int32: 7 for fc2 (K = 2), 6 for K = 300 (255·64·255·300 < 2^31 - 1 <
// 255·128·255·300).
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{weights=per-channel rounding=nearest}' | filecheck %s
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{weights=per-channel scheme=s8-sym rounding=nearest}' | filecheck %s --check-prefix=SYM
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{weights=per-channel errors=int16}' | filecheck %s --check-prefix=E16

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

// Row 0 of fc1 spans [-0.25, 1.0]: s = 1.25 / 255, z = -128 - rint(-0.25 / s) = -77.
// CHECK:       qtrain.param @fc1.weight trainable : tensor<3x4x!qtrain.q<si8, asym, axis 0>> = dense<{{\[\[}}25, -128, -51, 127], [-128, 127, -26, 25], [17, 54, -128, 127]]>
// CHECK-SAME:  qtrain.row_range = @fc1.weight.row_range
// CHECK:       qtrain.state @fc1.weight.scale : tensor<3xf32> = dense<[0.00490196096, 0.00490196096, 0.0027450982]>
// CHECK-NEXT:  qtrain.state @fc1.weight.zero_point : tensor<3xi32> = dense<[-77, -26, -19]>
// CHECK:       qtrain.state @qtrain.zero : tensor<i32> = dense<0>
// CHECK-LABEL: func.func @train_step
// CHECK:       %[[S1:[0-9]+]] = qtrain.load @fc1.weight.scale : tensor<3xf32>
// CHECK:       %[[SACC:[0-9]+]] = qtrain.scale_mul %{{[0-9]+}}, %[[S1]] : (tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
// CHECK-NEXT:  "qtrain.qdense_acc"({{.*}}) {{.*}} : (tensor<1x4x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<3x4x!qtrain.q<si8, asym, axis 0>>, tensor<3xi32>) -> tensor<1x3x!qtrain.q<si32, sym>>
// CHECK:       qtrain.minmax %{{[0-9]+}} scale %[[SACC]] : (tensor<1x3x!qtrain.q<si32, sym>>, tensor<3xf32>) -> tensor<2xf32>
// CHECK:       qtrain.requantize_acc %{{[0-9]+}}[%[[SACC]]] {{.*}} : (tensor<1x3x!qtrain.q<si32, sym>>, tensor<3xf32>, tensor<f32>, tensor<i32>) -> tensor<1x3x!qtrain.q<ui8, asym>>
// CHECK:       %[[S2:[0-9]+]] = qtrain.load @fc2.weight.scale : tensor<2xf32>
// CHECK:       %[[E:[0-9]+]] = qtrain.quantize %{{[0-9]+}}, %[[SE:[0-9]+]], %[[ZE:[0-9]+]] : (tensor<1x2xf32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, asym>>
// CHECK-NEXT:  %[[R:[0-9]+]] = qtrain.qrescale_channels %[[E]][%[[ZE]]], %[[S2]] shift 7 : (tensor<1x2x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2xf32>) -> tensor<1x2x!qtrain.q<si16, sym>>
// CHECK-NEXT:  %[[Z0:[0-9]+]] = qtrain.load @qtrain.zero : tensor<i32>
// CHECK-NEXT:  %[[MAX:[0-9]+]] = qtrain.scale_max %[[S2]] : (tensor<2xf32>) -> tensor<f32>
// CHECK-NEXT:  %[[SM:[0-9]+]] = qtrain.scale_mul %[[SE]], %[[MAX]] : (tensor<f32>, tensor<f32>) -> tensor<f32>
// CHECK-NEXT:  %[[SGI:[0-9]+]] = qtrain.scale_div %[[SM]] by 128 : (tensor<f32>) -> tensor<f32>
// CHECK-NEXT:  %[[GI:[0-9]+]] = qtrain.qdense_grad_input %[[R]][%[[Z0]]], %{{[0-9]+}}[%{{[0-9]+}}] : (tensor<1x2x!qtrain.q<si16, sym>>, tensor<i32>, tensor<2x3x!qtrain.q<si8, asym, axis 0>>, tensor<2xi32>) -> tensor<1x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:  qtrain.minmax %[[GI]] scale %[[SGI]]
// CHECK:       qtrain.requantize_acc %[[GI]][%[[SGI]]] {{.*}} -> tensor<1x3x!qtrain.q<si8, asym>>
// CHECK:       "qtrain.qdense_grad_weight_sgd"({{.*}}, %[[S1]], %{{[0-9]+}}) <{param = @fc1.weight{{.*}} : (tensor<1x4x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<3xf32>, tensor<3xi32>) -> ()
// CHECK-NEXT:  qtrain.qweight_regrid @fc1.weight rows @fc1.weight.row_range scale @fc1.weight.scale zero_point @fc1.weight.zero_point
// CHECK:       "qtrain.qdense_grad_weight_sgd"({{.*}}) <{param = @fc2.weight{{.*}} tensor<2xf32>, tensor<2xi32>) -> ()
// SYM:         qtrain.param @fc1.weight trainable : tensor<3x4x!qtrain.q<si8, sym, axis 0>>
// SYM:         qtrain.state @fc1.weight.zero_point : tensor<3xi32> = dense<0>
// SYM-LABEL:   func.func @train_step
// SYM:         qtrain.qrescale_channels {{.*}} shift 7 : (tensor<1x2x!qtrain.q<si8, sym>>, tensor<i32>, tensor<2xf32>) -> tensor<1x2x!qtrain.q<si16, sym>>
// E16: qtrain-quantize: weights=per-channel needs update=fused and errors=int8 (got update=fused, errors=int16)

// -----

// K = 300 output rows: fc's input gradient takes an error 2^6 finer, not 2^7
// (255·128·255·300 > 2^31 - 1); out's (K = 2) 2^7.
qtrain.param @in.weight trainable : tensor<4x2xf32> = dense<0.125> : tensor<4x2xf32>
qtrain.param @fc.weight trainable : tensor<300x4xf32> = dense<0.5> : tensor<300x4xf32>
qtrain.param @out.weight trainable : tensor<2x300xf32> = dense<0.25> : tensor<2x300xf32>
func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w0 = qtrain.load @in.weight : tensor<4x2xf32>
  %h0 = qtrain.dense %x, %w0 : (tensor<1x2xf32>, tensor<4x2xf32>) -> tensor<1x4xf32>
  %w = qtrain.load @fc.weight : tensor<300x4xf32>
  %h = qtrain.dense %h0, %w : (tensor<1x4xf32>, tensor<300x4xf32>) -> tensor<1x300xf32>
  %w2 = qtrain.load @out.weight : tensor<2x300xf32>
  %y = qtrain.dense %h, %w2 : (tensor<1x300xf32>, tensor<2x300xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK-LABEL: func.func @train_step
// CHECK:       qtrain.qrescale_channels {{.*}} shift 7 : (tensor<1x2x!qtrain.q<si8, asym>>
// CHECK:       qtrain.qrescale_channels {{.*}} shift 6 : (tensor<1x300x!qtrain.q<si8, asym>>
// CHECK-NEXT:  qtrain.load @qtrain.zero
// CHECK-NEXT:  qtrain.scale_max
// CHECK-NEXT:  qtrain.scale_mul
// CHECK-NEXT:  qtrain.scale_div %{{[0-9]+}} by 64
// SYM-LABEL:   func.func @train_step
// SYM:         qtrain.qrescale_channels {{.*}} shift 7 : (tensor<1x300x!qtrain.q<si8, sym>>
// E16: qtrain-quantize: weights=per-channel needs update=fused and errors=int8

// -----

// Conv-transpose kernels take per-tensor weights: refused, naming the op.
qtrain.param @up.weight trainable : tensor<2x1x2x2xf32> = dense<0.5> : tensor<2x1x2x2xf32>
func.func @forward(%x: tensor<1x2x2x2xf32>) -> tensor<1x16xf32> {
  %w = qtrain.load @up.weight : tensor<2x1x2x2xf32>
  %y = qtrain.conv_transpose2d %x, %w stride [2, 2] padding [0, 0, 0, 0] output_padding [0, 0] : (tensor<1x2x2x2xf32>, tensor<2x1x2x2xf32>) -> tensor<1x1x4x4xf32>
  %f = qtrain.flatten %y axis 1 : tensor<1x1x4x4xf32> -> tensor<1x16xf32>
  func.return %f : tensor<1x16xf32>
}
// CHECK: qtrain-quantize: weights=per-channel: 'qtrain.conv_transpose2d' (op #1 of @train_step) is a conv_transpose2d, whose kernels take per-tensor weights only; use weights=per-tensor
// SYM: qtrain-quantize: weights=per-channel: 'qtrain.conv_transpose2d'
// E16: qtrain-quantize: weights=per-channel needs update=fused and errors=int8
