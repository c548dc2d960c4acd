// qtrain-quantize: the float training step of a 2-layer MLP becomes fully quantized.
// Every weight becomes an 8-bit param with scale/zero-point/range states (initial values
// from the float weights: fc1 range [-0.5, 1.0] -> s = 1.5/255, z = -128 - rint(-0.5/s) = -43),
// every activation and error gets a tracked range (minmax -> ema -> range_scale/zero_point),
// layers accumulate in int32 and the weights are updated by grad_stats/qsgd_range/qsgd_update
// (update=requantize) or, by default, row by row on a held grid (update=fused, FUSED below).
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{rounding=nearest update=requantize}' | filecheck %s
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{rounding=nearest}' | filecheck %s --check-prefix=FUSED
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{errors=f32 scheme=s8-sym normalize=qas update=requantize}' | filecheck %s --check-prefix=MIXED
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{update=later}' | filecheck %s --check-prefix=UPDATE
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{errors=f32}' | filecheck %s --check-prefix=FUSEDF32
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{normalize=qas}' | filecheck %s --check-prefix=FUSEDQAS
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{headroom=2.0}' | filecheck %s --check-prefix=HEADROOM
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{scheme=u7}' | filecheck %s --check-prefix=SCHEME
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{errors=int16}' | filecheck %s --check-prefix=INT16
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{weights=per-channel}' | filecheck %s --check-prefix=PERCH
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-quantize' | filecheck %s --check-prefix=ALONE
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{optimizer=momentum},qtrain-prune-frozen-backward,qtrain-quantize' | filecheck %s --check-prefix=MOMENTUM

// SCHEME: qtrain-quantize: unknown scheme 'u7' (expected one of: u8-asym, s8-sym)
// INT16: qtrain-quantize: errors=int16 is not implemented: the int8 backward kernels take 8-bit errors (use int8, or f32 for the mixed variant)
// PERCH: qtrain-quantize: weights=per-channel is not implemented: the int8 grad-input sums over output channels with different scales; use per-tensor
// ALONE: qtrain-quantize: no @train_step: run qtrain-autodiff first
// UPDATE: qtrain-quantize: unknown update 'later' (expected fused or requantize)
// FUSEDF32: qtrain-quantize: update=fused computes the weight gradient from int8 errors; with errors=f32 use update=requantize
// FUSEDQAS: qtrain-quantize: update=fused applies plain SGD (normalize=none); normalize=qas needs update=requantize
// HEADROOM: qtrain-quantize: headroom must be in [0, 1], got 2.0

qtrain.param @fc1.weight trainable : tensor<3x4xf32> = dense<[[0.5, -0.25, 0.125, 1.0], [-0.5, 0.75, 0.0, 0.25], [0.1, 0.2, -0.3, 0.4]]> : tensor<3x4xf32>
qtrain.param @fc1.bias trainable : tensor<3xf32> = dense<[0.0, 0.1, -0.1]> : tensor<3xf32>
qtrain.param @fc2.weight trainable : tensor<2x3xf32> = dense<[[1.0, -1.0, 0.5], [-0.5, 0.5, 1.0]]> : tensor<2x3xf32>
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w1 = qtrain.load @fc1.weight : tensor<3x4xf32>
  %b1 = qtrain.load @fc1.bias : tensor<3xf32>
  %h = qtrain.dense %x, %w1, %b1 : (tensor<1x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  %a = qtrain.relu %h : tensor<1x3xf32>
  %w2 = qtrain.load @fc2.weight : tensor<2x3xf32>
  %y = qtrain.dense %a, %w2 : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// CHECK:      qtrain.param @fc1.weight trainable : tensor<3x4x!qtrain.q<si8, asym>> = dense<{{\[}}[42, -85, -22, 127], [-128, 85, -43, -1], [-26, -9, -94, 25]]> : tensor<3x4xi8> {qtrain.scale = @fc1.weight.scale, qtrain.zero_point = @fc1.weight.zero_point, qtrain.range = @fc1.weight.range}
// CHECK-NEXT: qtrain.param @fc1.bias trainable : tensor<3xf32>
// CHECK-NEXT: qtrain.param @fc2.weight trainable : tensor<2x3x!qtrain.q<si8, asym>>
// CHECK-NEXT: qtrain.state @fc1.weight.scale : tensor<f32> = dense<0.00588235306> : tensor<f32>
// CHECK-NEXT: qtrain.state @fc1.weight.zero_point : tensor<i32> = dense<-43> : tensor<i32>
// CHECK-NEXT: qtrain.state @fc1.weight.range : tensor<2xf32> = dense<[-5.000000e-01, 1.000000e+00]> : tensor<2xf32>
// CHECK:      qtrain.state @act.input.range : tensor<2xf32> = dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32>
// CHECK:      qtrain.state @err.fc2.range : tensor<2xf32>

// Inference uses the tracked ranges without updating them.
// CHECK-LABEL: func.func @forward
// CHECK-NOT:   qtrain.ema
// CHECK:       %[[R:.*]] = qtrain.load @act.input.range
// CHECK-NEXT:  %[[S:.*]] = qtrain.range_scale %[[R]] for <ui8, asym>
// CHECK-NEXT:  %[[Z:.*]] = qtrain.range_zero_point %[[R]] for <ui8, asym>
// CHECK-NEXT:  qtrain.quantize %x, %[[S]], %[[Z]]
// CHECK:       "qtrain.qdense_acc"
// CHECK-NEXT:  qtrain.acc_relu
// CHECK-NOT:   qtrain.store
// CHECK:       qtrain.dequantize
// CHECK-NEXT:  func.return

// CHECK-LABEL: func.func @train_step
// The input range is observed, averaged and stored before the scale is derived from it.
// CHECK:       %[[OBS:.*]] = qtrain.minmax %input
// CHECK-NEXT:  %[[OLD:.*]] = qtrain.load @act.input.range
// CHECK-NEXT:  %[[NEW:.*]] = qtrain.ema %[[OLD]], %[[OBS]] alpha 1.000000e-01
// CHECK-NEXT:  qtrain.store %[[NEW]], @act.input.range
// CHECK-NEXT:  %[[SX:.*]] = qtrain.range_scale %[[NEW]] for <ui8, asym>
// CHECK-NEXT:  %[[ZX:.*]] = qtrain.range_zero_point %[[NEW]] for <ui8, asym>
// CHECK-NEXT:  %[[XQ:.*]] = qtrain.quantize %input, %[[SX]], %[[ZX]] : {{.*}} -> tensor<1x4x!qtrain.q<ui8, asym>>
// CHECK-NEXT:  %[[SACC:.*]] = qtrain.scale_mul %[[SX]], %{{.*}} : (tensor<f32>, tensor<f32>) -> tensor<f32>
// CHECK-NEXT:  %[[ACC:.*]] = "qtrain.qdense_acc"(%[[XQ]], %[[ZX]], {{.*}}, %b1, %[[SACC]]) {{.*}} -> tensor<1x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:  %[[RELU:.*]] = qtrain.acc_relu %[[ACC]]
// CHECK-NEXT:  qtrain.minmax %[[RELU]] scale %[[SACC]]
// CHECK:       qtrain.requantize_acc %[[RELU]][%[[SACC]]]
// The loss gradient is quantized to an int8 error with its own tracked range ...
// CHECK:       %[[E:.*]] = qtrain.softmax_cross_entropy_grad
// CHECK-NEXT:  qtrain.minmax %[[E]] : (tensor<1x2xf32>) -> tensor<2xf32>
// CHECK:       qtrain.quantize %[[E]], {{.*}} -> tensor<1x2x!qtrain.q<si8, asym>>
// ... and every backward op is integer.
// CHECK:       qtrain.qdense_grad_input
// CHECK:       qtrain.requantize_acc {{.*}} -> tensor<1x3x!qtrain.q<si8, asym>>
// CHECK:       "qtrain.qdense_grad_weight"
// CHECK:       qtrain.qrelu_grad
// CHECK:       qtrain.dense_grad_bias
// The weight update: gradient scaling (normalize=none: plain SGD on the real gradient), range of
// the new weights, EMA (alpha_w = 0.1), requantize.
// CHECK:       %[[ST:.*]] = "qtrain.grad_stats"(%[[G:.*]], %{{.*}}) <{mode = "none"
// CHECK-NEXT:  %[[WR:.*]] = "qtrain.qsgd_range"(%{{.*}}, %{{.*}}, %{{.*}}, %[[G]], %[[ST]])
// CHECK-NEXT:  %[[WOLD:.*]] = qtrain.load @fc1.weight.range
// CHECK-NEXT:  %[[WNEW:.*]] = qtrain.ema %[[WOLD]], %[[WR]] alpha 1.000000e-01
// CHECK-NEXT:  qtrain.store %[[WNEW]], @fc1.weight.range
// CHECK-NEXT:  %[[SW:.*]] = qtrain.range_scale %[[WNEW]] for <si8, asym>
// CHECK-NEXT:  %[[ZW:.*]] = qtrain.range_zero_point %[[WNEW]] for <si8, asym>
// CHECK-NEXT:  "qtrain.qsgd_update"(%[[G]], %[[ST]], %{{.*}}, %{{.*}}, %[[SW]], %[[ZW]]) <{param = @fc1.weight, lr = 1.000000e-02 : f64, rounding = "nearest"
// CHECK-NEXT:  qtrain.store %[[SW]], @fc1.weight.scale
// CHECK-NEXT:  qtrain.store %[[ZW]], @fc1.weight.zero_point
// CHECK-NEXT:  qtrain.sgd_update @fc1.bias
// CHECK-NOT:   qtrain.dense_grad_weight
// CHECK:       func.return %loss

// update=fused: per weight a row-range state (int32 [min, max] of w - z per row; fc1 z = -43),
// no float range and no weight-gradient tensor: the fused grad-weight applies each row at once,
// then qweight_regrid keeps or replaces the grid (scale/zero-point states written in place).
// FUSED:       qtrain.param @fc1.weight trainable : tensor<3x4x!qtrain.q<si8, asym>> = dense<{{\[}}[42, -85, -22, 127], [-128, 85, -43, -1], [-26, -9, -94, 25]]> : tensor<3x4xi8> {qtrain.scale = @fc1.weight.scale, qtrain.zero_point = @fc1.weight.zero_point, qtrain.row_range = @fc1.weight.row_range}
// FUSED:       qtrain.state @fc1.weight.zero_point : tensor<i32> = dense<-43> : tensor<i32>
// FUSED-NEXT:  qtrain.state @fc1.weight.row_range : tensor<3x2xi32> = dense<{{\[}}[-42, 170], [-85, 128], [-51, 68]]> : tensor<3x2xi32>
// FUSED-NOT:   qtrain.state @fc1.weight.range
// FUSED-LABEL: func.func @train_step
// FUSED-NOT:   qtrain.qsgd_update
// FUSED:       %[[E1:.*]] = qtrain.qrelu_grad
// FUSED:       %[[GS:.*]] = qtrain.scale_mul %{{.*}}, %{{.*}} : (tensor<f32>, tensor<f32>) -> tensor<f32>
// FUSED:       "qtrain.qdense_grad_weight_sgd"(%{{.*}}, %{{.*}}, %[[E1]], %{{.*}}, %[[GS]], %{{.*}}, %{{.*}}) <{param = @fc1.weight, row_range = @fc1.weight.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64
// FUSED-NEXT:  qtrain.qweight_regrid @fc1.weight rows @fc1.weight.row_range scale @fc1.weight.scale zero_point @fc1.weight.zero_point headroom 0.000000e+00 rounding "nearest" seed 0
// FUSED-NEXT:  qtrain.sgd_update @fc1.bias
// FUSED-NEXT:  "qtrain.qdense_grad_weight_sgd"{{.*}}<{param = @fc2.weight, row_range = @fc2.weight.row_range
// FUSED-NEXT:  qtrain.qweight_regrid @fc2.weight
// FUSED-NOT:   qtrain.qdense_grad_weight"
// FUSED-NOT:   qtrain.store {{.*}}@fc1.weight.scale
// FUSED:       func.return %loss

// Mixed: weights and activations s8 symmetric, errors and weight gradients f32 on dequantized operands.
// MIXED:       qtrain.param @fc1.weight trainable : tensor<3x4x!qtrain.q<si8, sym>>
// MIXED-LABEL: func.func @train_step
// MIXED:       qtrain.range_scale %{{.*}} for <si8, sym>
// MIXED:       %[[E:.*]] = qtrain.softmax_cross_entropy_grad
// MIXED-NOT:   qtrain.quantize %[[E]]
// MIXED:       %[[WF:.*]] = qtrain.dequantize %{{.*}} -> tensor<2x3xf32>
// MIXED-NEXT:  qtrain.dense_grad_input %[[E]], %[[WF]]
// MIXED:       %[[G:.*]] = qtrain.dense_grad_weight
// MIXED:       "qtrain.grad_stats"(%[[G]], %{{.*}}) <{mode = "qas"
// MIXED:       "qtrain.qsgd_update"{{.*}}rounding = "stochastic"
// MIXED:       qtrain.counter_step @qtrain.step modulo 2147483647
// MIXED-NEXT:  func.return %loss

// MOMENTUM: qtrain-quantize: unsupported op 'qtrain.momentum_update' (op #{{[0-9]+}} of @train_step): quantized weights are updated with plain SGD (optimizer=sgd)

// -----

// A forward op qtrain-quantize has no integer counterpart yet: the error names it and where it is.
qtrain.param @c.weight trainable : tensor<2x1x3x3xf32> = dense<0.1> : tensor<2x1x3x3xf32>
func.func @forward(%x: tensor<1x1x6x6xf32>) -> tensor<1x8xf32> {
  %w = qtrain.load @c.weight : tensor<2x1x3x3xf32>
  %h = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x4x4xf32>
  %p = qtrain.maxpool2d %h kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
  %f = qtrain.flatten %p axis 1 : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
  func.return %f : tensor<1x8xf32>
}
// CHECK: qtrain-quantize: unsupported op 'qtrain.maxpool2d' (op #{{[0-9]+}} of @train_step)
