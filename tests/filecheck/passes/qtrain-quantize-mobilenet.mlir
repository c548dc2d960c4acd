// qtrain-quantize on a MobileNetV2-style block: relu6 fused into the accumulator
// (acc_relu6, clamped at floorf(6 / s_acc)), a depthwise conv (groups 2) as a grouped
// qconv2d_acc, the residual add as qadd with its own tracked range (qadd_range -> ema ->
// scale), and the global average pool as an int32 sum (qavgpool_acc) whose scale is the
// input's divided by H*W (scale_div). Backward: the pool's error is broadcast over the
// plane at 1/16 of the error's scale (qbroadcast_hw, exact), relu6's mask reads the saved
// output and its scale (qrelu6_grad), and the two errors of the block input %h0 (through the
// depthwise branch and through the skip) are summed by a qadd of int8 errors.
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{rounding=nearest}' | filecheck %s

qtrain.param @stem.weight trainable : tensor<2x1x1x1xf32> = dense<[[[[0.5]]], [[[-0.25]]]]> : tensor<2x1x1x1xf32>
qtrain.param @stem.bias trainable : tensor<2xf32> = dense<[0.1, 0.2]> : tensor<2xf32>
qtrain.param @dw.weight trainable : tensor<2x1x3x3xf32> = dense<0.125> : tensor<2x1x3x3xf32>
qtrain.param @pw.weight trainable : tensor<2x2x1x1xf32> = dense<[[[[0.5]], [[-0.5]]], [[[0.25]], [[1.0]]]]> : tensor<2x2x1x1xf32>
qtrain.param @fc.weight trainable : tensor<3x2xf32> = dense<[[1.0, -1.0], [0.5, 0.5], [-0.5, 1.0]]> : tensor<3x2xf32>
func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %ws = qtrain.load @stem.weight : tensor<2x1x1x1xf32>
  %bs = qtrain.load @stem.bias : tensor<2xf32>
  %s = qtrain.conv2d %x, %ws, %bs stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %h0 = qtrain.relu6 %s : tensor<1x2x4x4xf32>
  %wd = qtrain.load @dw.weight : tensor<2x1x3x3xf32>
  %d = qtrain.conv2d %h0, %wd stride [1, 1] padding [1, 1, 1, 1] groups 2 : (tensor<1x2x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x4x4xf32>
  %h1 = qtrain.relu6 %d : tensor<1x2x4x4xf32>
  %wp = qtrain.load @pw.weight : tensor<2x2x1x1xf32>
  %p = qtrain.conv2d %h1, %wp stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %r = qtrain.add %p, %h0 : tensor<1x2x4x4xf32>
  %g = qtrain.global_avgpool %r : tensor<1x2x4x4xf32> -> tensor<1x2x1x1xf32>
  %f = qtrain.flatten %g axis 1 : tensor<1x2x1x1xf32> -> tensor<1x2xf32>
  %wf = qtrain.load @fc.weight : tensor<3x2xf32>
  %y = qtrain.dense %f, %wf : (tensor<1x2xf32>, tensor<3x2xf32>) -> tensor<1x3xf32>
  func.return %y : tensor<1x3xf32>
}

// CHECK:       qtrain.state @act.add0.range : tensor<2xf32> = dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32> {qtrain.quantization}
// CHECK:       qtrain.state @act.pool0.range
// CHECK:       qtrain.state @err.add0.range

// Inference: the same ops, the ranges read and not updated.
// CHECK-LABEL: func.func @forward
// CHECK-NOT:   qtrain.qadd_range
// CHECK:       %[[SA:[0-9]+]] = qtrain.load @act.add0.range
// CHECK:       qtrain.qadd %{{[0-9]+}}[%{{[0-9]+}}, %{{[0-9]+}}], %{{[0-9]+}}[%{{[0-9]+}}, %{{[0-9]+}}] -> [%{{[0-9]+}}, %{{[0-9]+}}]
// CHECK-NOT:   qtrain.store
// CHECK:       func.return

// CHECK-LABEL: func.func @train_step
// The stem: conv + relu6 on the accumulator, then its range and the 8-bit h0.
// CHECK:       %[[SACC0:[0-9]+]] = qtrain.scale_mul
// CHECK-NEXT:  %[[ACC0:[0-9]+]] = "qtrain.qconv2d_acc"
// CHECK-NEXT:  %[[R0:[0-9]+]] = qtrain.acc_relu6 %[[ACC0]] scale %[[SACC0]]
// CHECK-NEXT:  qtrain.minmax %[[R0]] scale %[[SACC0]]
// CHECK:       %[[H0:[0-9]+]] = qtrain.requantize_acc %[[R0]][%[[SACC0]]] -> [%[[SH0:[0-9]+]], %[[ZH0:[0-9]+]]]
// The depthwise conv keeps its groups.
// CHECK:       "qtrain.qconv2d_acc"(%[[H0]], %[[ZH0]], {{.*}}groups = 2 : i64
// CHECK-NEXT:  qtrain.acc_relu6
// The residual add (of the linear 1x1 conv's output and h0): observed, averaged, stored,
// then requantized to the new range.
// CHECK:       "qtrain.qconv2d_acc"({{.*}}groups = 1 : i64
// CHECK-NOT:   qtrain.acc_relu
// CHECK:       %[[P:[0-9]+]] = qtrain.requantize_acc
// CHECK-NEXT:  %[[OBS:[0-9]+]] = qtrain.qadd_range %[[P]][%[[SP:[0-9]+]], %[[ZP:[0-9]+]]], %[[H0]][%[[SH0]], %[[ZH0]]]
// CHECK-NEXT:  %[[OLD:[0-9]+]] = qtrain.load @act.add0.range
// CHECK-NEXT:  %[[NEW:[0-9]+]] = qtrain.ema %[[OLD]], %[[OBS]] alpha 1.000000e-01
// CHECK-NEXT:  qtrain.store %[[NEW]], @act.add0.range
// CHECK-NEXT:  %[[SR:[0-9]+]] = qtrain.range_scale %[[NEW]] for <ui8, asym>
// CHECK-NEXT:  %[[ZR:[0-9]+]] = qtrain.range_zero_point %[[NEW]] for <ui8, asym>
// CHECK-NEXT:  %[[R:[0-9]+]] = qtrain.qadd %[[P]][%[[SP]], %[[ZP]]], %[[H0]][%[[SH0]], %[[ZH0]]] -> [%[[SR]], %[[ZR]]] {{.*}} -> tensor<1x2x4x4x!qtrain.q<ui8, asym>>
// The pool: an int32 sum at s / 16.
// CHECK-NEXT:  %[[PACC:[0-9]+]] = qtrain.qavgpool_acc %[[R]][%[[ZR]]] : (tensor<1x2x4x4x!qtrain.q<ui8, asym>>, tensor<i32>) -> tensor<1x2x1x1x!qtrain.q<si32, sym>>
// CHECK-NEXT:  %[[PS:[0-9]+]] = qtrain.scale_div %[[SR]] by 16
// CHECK-NEXT:  qtrain.minmax %[[PACC]] scale %[[PS]]
// Backward through the pool: the int8 error spread over the 4x4 plane, its scale / 16.
// CHECK:       %[[E:[0-9]+]] = qtrain.reshape %{{[0-9]+}} : tensor<1x2x!qtrain.q<si8, asym>> -> tensor<1x2x1x1x!qtrain.q<si8, asym>>
// CHECK-NEXT:  %[[EB:[0-9]+]] = qtrain.qbroadcast_hw %[[E]] : (tensor<1x2x1x1x!qtrain.q<si8, asym>>) -> tensor<1x2x4x4x!qtrain.q<si8, asym>>
// CHECK-NEXT:  %[[SEB:[0-9]+]] = qtrain.scale_div %{{[0-9]+}} by 16
// The depthwise relu6's mask, then the depthwise grad-input (groups 2).
// CHECK:       qtrain.qrelu6_grad %{{[0-9]+}}[%{{[0-9]+}}], %{{[0-9]+}}[%{{[0-9]+}}, %{{[0-9]+}}]
// CHECK-NEXT:  qtrain.qconv2d_grad_input {{.*}} groups 2
// h0's two errors (skip: the broadcast error; branch: the depthwise grad-input) summed in int8.
// CHECK:       %[[EBR:[0-9]+]] = qtrain.requantize_acc
// CHECK-NEXT:  %[[EOBS:[0-9]+]] = qtrain.qadd_range %[[EB]][%[[SEB]], %{{[0-9]+}}], %[[EBR]][%{{[0-9]+}}, %{{[0-9]+}}]
// CHECK-NEXT:  %[[EOLD:[0-9]+]] = qtrain.load @err.add0.range
// CHECK-NEXT:  %[[ENEW:[0-9]+]] = qtrain.ema %[[EOLD]], %[[EOBS]] alpha 1.000000e+00
// CHECK:       %[[ESUM:[0-9]+]] = qtrain.qadd %[[EB]][%[[SEB]], %{{[0-9]+}}], %[[EBR]]{{.*}} -> tensor<1x2x4x4x!qtrain.q<si8, asym>>
// CHECK:       qtrain.qrelu6_grad %[[ESUM]][%{{[0-9]+}}], %[[H0]][%[[SH0]], %[[ZH0]]]
// CHECK:       "qtrain.qconv2d_grad_weight_sgd"({{.*}}) <{param = @stem.weight
// CHECK:       "qtrain.qconv2d_grad_weight_sgd"({{.*}}) <{param = @dw.weight{{.*}}groups = 2 : i64
// CHECK-NOT:   qtrain.relu6_grad
// CHECK-NOT:   qtrain.global_avgpool_grad
// CHECK:       func.return

// -----

// A relu6 that does not follow a layer (here: after the residual add) has no 8-bit form.
qtrain.param @c.weight trainable : tensor<2x2x1x1xf32> = dense<0.5> : tensor<2x2x1x1xf32>
func.func @forward(%x: tensor<1x2x2x2xf32>) -> tensor<1x8xf32> {
  %w = qtrain.load @c.weight : tensor<2x2x1x1xf32>
  %h = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x2x2x2xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x2x2xf32>
  %a = qtrain.add %h, %x : tensor<1x2x2x2xf32>
  %r = qtrain.relu6 %a : tensor<1x2x2x2xf32>
  %f = qtrain.flatten %r axis 1 : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
  func.return %f : tensor<1x8xf32>
}
// CHECK: qtrain-quantize: unsupported op 'qtrain.relu6' (op #{{[0-9]+}} of @train_step): a relu6 must directly follow a conv2d or dense layer (and be its only user)
