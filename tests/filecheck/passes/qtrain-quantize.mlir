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
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{errors=int16 update=requantize}' | filecheck %s --check-prefix=INT16
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{weights=per-channel update=requantize}' | filecheck %s --check-prefix=PERCH
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-quantize' | filecheck %s --check-prefix=ALONE
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{optimizer=momentum},qtrain-prune-frozen-backward,qtrain-quantize' | filecheck %s --check-prefix=MOMENTUM

// SCHEME: qtrain-quantize: unknown scheme 'u7' (expected one of: u8-asym, s8-sym)
// INT16: qtrain-quantize: errors=int16 needs update=fused (the int16-error kernels are the fused row-by-row update's)
// PERCH: qtrain-quantize: weights=per-channel needs update=fused and errors=int8 (got update=requantize, errors=int8): the per-row grids are kept by the fused update, and the input gradient puts int8 errors on one int16 scale (qtrain.qrescale_channels)
// ALONE: qtrain-quantize: no @train_step: run qtrain-autodiff first
// UPDATE: qtrain-quantize: unknown update 'later' (expected fused or requantize)
// FUSEDF32: qtrain-quantize: update=fused computes the weight gradient from integer errors; with errors=f32 use update=requantize
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
// CHECK-NEXT:  %[[XQ:.*]] = qtrain.quantize %input, %[[SX]], %[[ZX]] {qtrain.saved_bytes = 4 : i64} : {{.*}} -> tensor<1x4x!qtrain.q<ui8, asym>>
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
// The bias gradient comes straight from the int8 error (no f32 copy of the error).
// CHECK:       qtrain.qgrad_bias {{.*}} -> tensor<3xf32>
// CHECK-NOT:   qtrain.dense_grad_bias
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

// -----

// ==== a variational autoencoder (loss=elbo) ======================================================
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff{loss=elbo kl-weight=0.5},qtrain-prune-frozen-backward,qtrain-quantize{rounding=nearest update=requantize}' | filecheck %s --check-prefix=VAE
//
// The decoder's conv_transpose2d becomes qconv_transpose2d_acc (generic form). The sample
// stays f32: reparameterize reads the dequantized mu and logvar, and z gets its own tracked
// range @act.latent.range (minmax -> ema -> store -> scale/zero-point -> quantize) for the
// decoder. In @forward (inference, z = mu) the sample disappears and the decoder reads mu's
// quantized value. The loss is sigmoid_bce on the dequantized logits (qtrain.c_f32), the KL
// term and its derivatives are f32 on the same dequantized mu and logvar. The conv-transpose
// input gradient is a qconv2d_acc of the int8 error with the same weight, marked
// qtrain.backward; its weight gradient is qconv_transpose2d_grad_weight of the decoder's
// quantized input and that error.

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

// VAE-LABEL:  qtrain.param @vae.mu.weight trainable : tensor<2x16x!qtrain.q<si8, asym>> = dense<127> : tensor<2x16xi8> {qtrain.scale = @vae.mu.weight.scale, qtrain.zero_point = @vae.mu.weight.zero_point, qtrain.range = @vae.mu.weight.range}
// VAE:        qtrain.param @vae.deconv.weight trainable : tensor<2x1x3x3x!qtrain.q<si8, asym>> = dense<127> : tensor<2x1x3x3xi8> {qtrain.scale = @vae.deconv.weight.scale, qtrain.zero_point = @vae.deconv.weight.zero_point, qtrain.range = @vae.deconv.weight.range}
// VAE-NEXT:   qtrain.param @vae.deconv.bias trainable : tensor<1xf32> = dense<0.000000e+00> : tensor<1xf32>
// VAE-NEXT:   qtrain.state @rng.step : tensor<i32> = dense<0> : tensor<i32>
// VAE:        qtrain.state @act.vae.logvar.range : tensor<2xf32> = dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32> {qtrain.quantization}
// VAE-NEXT:   qtrain.state @act.latent.range : tensor<2xf32> = dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32> {qtrain.quantization}
// VAE-NEXT:   qtrain.state @act.vae.fc.range : tensor<2xf32> = dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32> {qtrain.quantization}

// VAE-LABEL:  func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
// VAE:        %[[MU:[0-9]+]] = qtrain.requantize_acc %{{[0-9]+}}[%{{[0-9]+}}] -> [%[[SMU:[0-9]+]], %[[ZMU:[0-9]+]]] : (tensor<1x2x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<ui8, asym>>
// VAE-NOT:    qtrain.reparameterize
// VAE-NOT:    @act.latent.range
// VAE:        %[[SACC:[0-9]+]] = qtrain.scale_mul %[[SMU]], %{{[0-9]+}} : (tensor<f32>, tensor<f32>) -> tensor<f32>
// VAE-NEXT:   %{{[0-9]+}} = "qtrain.qdense_acc"(%[[MU]], %[[ZMU]], %{{[0-9]+}}, %{{[0-9]+}}, %bf, %[[SACC]]) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x2x!qtrain.q<si8, asym>>, tensor<i32>, tensor<8xf32>, tensor<f32>) -> tensor<1x8x!qtrain.q<si32, sym>>
// VAE:        %{{[0-9]+}} = "qtrain.qconv_transpose2d_acc"(%{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %bd, %{{[0-9]+}}) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x2x2x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x1x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<1xf32>, tensor<f32>) -> tensor<1x1x4x4x!qtrain.q<si32, sym>>
// VAE:        %[[L:[0-9]+]] = qtrain.dequantize %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}} : (tensor<1x1x4x4x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>) -> tensor<1x1x4x4xf32>
// VAE-NEXT:   %y = qtrain.sigmoid %[[L]] {qtrain.c_f32} : tensor<1x1x4x4xf32>
// VAE-NEXT:   func.return %y : tensor<1x1x4x4xf32>

// VAE-LABEL:  func.func @train_step(%input: tensor<1x1x4x4xf32>, %target: tensor<1x1x4x4xf32>) -> tensor<f32>
// The latent sample: f32 on the dequantized mu and logvar, then quantized with its own range.
// The saved-set annotation is refreshed after quantization: the backward keeps the 8-bit
// values (qtrain.saved_bytes 1 per element, e.g. 2 for z's u8 copy, 64 for the 4x4 logits'
// f32 view that sigmoid_bce_grad reads) and no longer z in f32.
// VAE:        %[[MUQ:[0-9]+]] = qtrain.requantize_acc %{{[0-9]+}}[%{{[0-9]+}}] -> [%[[SMU:[0-9]+]], %[[ZMU:[0-9]+]]] : (tensor<1x2x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<ui8, asym>>
// VAE:        %[[LVQ:[0-9]+]] = qtrain.requantize_acc %{{[0-9]+}}[%{{[0-9]+}}] -> [%[[SLV:[0-9]+]], %[[ZLV:[0-9]+]]] : (tensor<1x2x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<ui8, asym>>
// VAE-NEXT:   %rng_step = qtrain.load @rng.step : tensor<i32>
// VAE-NEXT:   %[[MU:[0-9]+]] = qtrain.dequantize %[[MUQ]], %[[SMU]], %[[ZMU]] {qtrain.saved_bytes = 8 : i64} : (tensor<1x2x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>) -> tensor<1x2xf32>
// VAE-NEXT:   %[[LV:[0-9]+]] = qtrain.dequantize %[[LVQ]], %[[SLV]], %[[ZLV]] {qtrain.saved_bytes = 8 : i64} : (tensor<1x2x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>) -> tensor<1x2xf32>
// VAE-NEXT:   %z = qtrain.reparameterize %[[MU]], %[[LV]] step %rng_step seed 7 : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<1x2xf32>
// VAE-NEXT:   %[[OBS:[0-9]+]] = qtrain.minmax %z : (tensor<1x2xf32>) -> tensor<2xf32>
// VAE-NEXT:   %[[OLD:[0-9]+]] = qtrain.load @act.latent.range : tensor<2xf32>
// VAE-NEXT:   %[[NEW:[0-9]+]] = qtrain.ema %[[OLD]], %[[OBS]] alpha 1.000000e-01 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
// VAE-NEXT:   qtrain.store %[[NEW]], @act.latent.range : tensor<2xf32>
// VAE-NEXT:   %[[SZ:[0-9]+]] = qtrain.range_scale %[[NEW]] for <ui8, asym> {qtrain.saved_bytes = 4 : i64} : (tensor<2xf32>) -> tensor<f32>
// VAE-NEXT:   %[[ZZ:[0-9]+]] = qtrain.range_zero_point %[[NEW]] for <ui8, asym> {qtrain.saved_bytes = 4 : i64} : (tensor<2xf32>) -> tensor<i32>
// VAE-NEXT:   %[[ZQ:[0-9]+]] = qtrain.quantize %z, %[[SZ]], %[[ZZ]] {qtrain.saved_bytes = 2 : i64} : (tensor<1x2xf32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<ui8, asym>>
// VAE:        %[[SFC:[0-9]+]] = qtrain.scale_mul %[[SZ]], %{{[0-9]+}} : (tensor<f32>, tensor<f32>) -> tensor<f32>
// VAE-NEXT:   %{{[0-9]+}} = "qtrain.qdense_acc"(%[[ZQ]], %[[ZZ]], %{{[0-9]+}}, %{{[0-9]+}}, %bf, %[[SFC]]) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x2x!qtrain.q<si8, asym>>, tensor<i32>, tensor<8xf32>, tensor<f32>) -> tensor<1x8x!qtrain.q<si32, sym>>
// The decoder's conv-transpose on the reshaped int8 activation.
// VAE:        %[[A:[0-9]+]] = qtrain.requantize_acc %{{[0-9]+}}[%{{[0-9]+}}] -> [%[[SX:[0-9]+]], %[[ZX:[0-9]+]]] {qtrain.saved_bytes = 8 : i64} : (tensor<1x8x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x8x!qtrain.q<ui8, asym>>
// VAE-NEXT:   %[[X:[0-9]+]] = qtrain.reshape %[[A]] {qtrain.saved_bytes = 8 : i64} : tensor<1x8x!qtrain.q<ui8, asym>> -> tensor<1x2x2x2x!qtrain.q<ui8, asym>>
// VAE-NEXT:   %[[W:[0-9]+]] = qtrain.load @vae.deconv.weight : tensor<2x1x3x3x!qtrain.q<si8, asym>>
// VAE-NEXT:   %[[SW:[0-9]+]] = qtrain.load @vae.deconv.weight.scale : tensor<f32>
// VAE-NEXT:   %[[ZW:[0-9]+]] = qtrain.load @vae.deconv.weight.zero_point : tensor<i32>
// VAE-NEXT:   %bd = qtrain.load @vae.deconv.bias : tensor<1xf32>
// VAE-NEXT:   %[[SACC:[0-9]+]] = qtrain.scale_mul %[[SX]], %[[SW]] : (tensor<f32>, tensor<f32>) -> tensor<f32>
// VAE-NEXT:   %[[ACC:[0-9]+]] = "qtrain.qconv_transpose2d_acc"(%[[X]], %[[ZX]], %[[W]], %[[ZW]], %bd, %[[SACC]]) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x2x2x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x1x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<1xf32>, tensor<f32>) -> tensor<1x1x4x4x!qtrain.q<si32, sym>>
// VAE-NEXT:   qtrain.minmax %[[ACC]] scale %[[SACC]] : (tensor<1x1x4x4x!qtrain.q<si32, sym>>, tensor<f32>) -> tensor<2xf32>
// VAE:        %[[YQ:[0-9]+]] = qtrain.requantize_acc %[[ACC]][%[[SACC]]] -> [%[[SY:[0-9]+]], %[[ZY:[0-9]+]]] : (tensor<1x1x4x4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x1x4x4x!qtrain.q<ui8, asym>>
// The loss on the dequantized logits (the output sigmoid's input), in f32.
// VAE-NEXT:   %[[L:[0-9]+]] = qtrain.dequantize %[[YQ]], %[[SY]], %[[ZY]] {qtrain.saved_bytes = 64 : i64} : (tensor<1x1x4x4x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>) -> tensor<1x1x4x4xf32>
// VAE-NEXT:   %[[REC:[0-9]+]] = qtrain.sigmoid_bce %[[L]], %target {qtrain.c_f32} : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<f32>
// VAE-NEXT:   %[[DL:[0-9]+]] = qtrain.sigmoid_bce_grad %[[L]], %target {qtrain.c_f32} : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
// VAE-NEXT:   qtrain.minmax %[[DL]] : (tensor<1x1x4x4xf32>) -> tensor<2xf32>
// VAE-NEXT:   qtrain.load @err.loss.range : tensor<2xf32>
// VAE:        %[[E:[0-9]+]] = qtrain.quantize %[[DL]], %[[SE:[0-9]+]], %[[ZE:[0-9]+]] : (tensor<1x1x4x4xf32>, tensor<f32>, tensor<i32>) -> tensor<1x1x4x4x!qtrain.q<si8, asym>>
// VAE-NEXT:   %kl = qtrain.kl_divergence %[[MU]], %[[LV]] beta 5.000000e-01 {qtrain.c_f32} : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<f32>
// VAE-NEXT:   %loss = qtrain.add %[[REC]], %kl : tensor<f32>
// VAE-NEXT:   %[[KMU:[0-9]+]] = qtrain.kl_divergence_grad_mu %[[MU]] beta 5.000000e-01 {qtrain.c_f32} : tensor<1x2xf32>
// VAE-NEXT:   %[[KLV:[0-9]+]] = qtrain.kl_divergence_grad_logvar %[[LV]] beta 5.000000e-01 {qtrain.c_f32} : tensor<1x2xf32>
// The conv-transpose backward: input gradient as an int8 conv2d of the error (same weight,
// stride and padding, groups 1), weight gradient of the decoder input and the error.
// VAE-NEXT:   %[[GI:[0-9]+]] = "qtrain.qconv2d_acc"(%[[E]], %[[ZE]], %[[W]], %[[ZW]]) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> {qtrain.backward} : (tensor<1x1x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x1x3x3x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<1x2x2x2x!qtrain.q<si32, sym>>
// VAE-NEXT:   %[[SGI:[0-9]+]] = qtrain.scale_mul %[[SE]], %[[SW]] : (tensor<f32>, tensor<f32>) -> tensor<f32>
// VAE-NEXT:   qtrain.minmax %[[GI]] scale %[[SGI]] : (tensor<1x2x2x2x!qtrain.q<si32, sym>>, tensor<f32>) -> tensor<2xf32>
// VAE-NEXT:   qtrain.load @err.vae.deconv.range : tensor<2xf32>
// VAE:        qtrain.requantize_acc %[[GI]][%[[SGI]]] -> [%{{[0-9]+}}, %{{[0-9]+}}] : (tensor<1x2x2x2x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x2x2x2x!qtrain.q<si8, asym>>
// VAE-NEXT:   %[[GW:[0-9]+]] = qtrain.qconv_transpose2d_grad_weight %[[X]][%[[ZX]]], %[[E]][%[[ZE]]] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x2x2x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x1x4x4x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x1x3x3x!qtrain.q<si32, sym>>
// VAE-NEXT:   %[[SGW:[0-9]+]] = qtrain.scale_mul %[[SX]], %[[SE]] : (tensor<f32>, tensor<f32>) -> tensor<f32>
// VAE-NEXT:   %[[GB:[0-9]+]] = qtrain.qgrad_bias %[[E]][%[[SE]], %[[ZE]]] : (tensor<1x1x4x4x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>) -> tensor<1xf32>
// The latent's backward stays f32: dz (dequantized) plus the KL derivatives.
// VAE:        %[[DZ:[0-9]+]] = qtrain.dequantize %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}} : (tensor<1x2x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>) -> tensor<1x2xf32>
// VAE-NEXT:   %{{[0-9]+}} = qtrain.add %[[KMU]], %[[DZ]] : tensor<1x2xf32>
// VAE-NEXT:   %[[RLV:[0-9]+]] = qtrain.reparameterize_grad_logvar %[[DZ]], %[[LV]] step %rng_step seed 7 : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<1x2xf32>
// VAE-NEXT:   %{{[0-9]+}} = qtrain.add %[[KLV]], %[[RLV]] : tensor<1x2xf32>
// The deconv weight update uses that gradient.
// VAE:        %[[ST:[0-9]+]] = "qtrain.grad_stats"(%[[GW]], %[[SGW]]) <{mode = "none", operandSegmentSizes = array<i32: 1, 1, 0, 0, 0>}> : (tensor<2x1x3x3x!qtrain.q<si32, sym>>, tensor<f32>) -> tensor<2x2xf32>
// VAE:        "qtrain.qsgd_update"(%[[GW]], %[[ST]], %[[SW]], %[[ZW]], %{{[0-9]+}}, %{{[0-9]+}}) <{param = @vae.deconv.weight, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<2x1x3x3x!qtrain.q<si32, sym>>, tensor<2x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> ()
// VAE:        qtrain.sgd_update @vae.deconv.bias, %[[GB]] lr 1.000000e-02 : tensor<1xf32>
// VAE-NEXT:   qtrain.counter_step @rng.step modulo 2147483647
// VAE-NEXT:   func.return %loss : tensor<f32>
