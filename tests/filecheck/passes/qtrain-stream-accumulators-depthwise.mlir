// qtrain-stream-accumulators on a depthwise conv with relu6 (MobileNetV2): the grouped
// accumulator streams like any other — output channel o reads only its group's input
// channels — and relu6 (acc_relu6, which reads the accumulator scale) is applied to each
// plane inside the streamed op (`relu6`). Both passes (range, then requantize) keep
// groups = 4.
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize,qtrain-stream-accumulators{all=true}' | filecheck %s

qtrain.param @pw.weight trainable : tensor<4x1x1x1xf32> = dense<[[[[0.5]]], [[[-0.25]]], [[[1.0]]], [[[0.75]]]]> : tensor<4x1x1x1xf32>
qtrain.param @dw.weight trainable : tensor<4x1x3x3xf32> = dense<0.25> : tensor<4x1x3x3xf32>
qtrain.param @dw.bias trainable : tensor<4xf32> = dense<0.0> : tensor<4xf32>
qtrain.param @fc.weight trainable : tensor<2x64xf32> = dense<0.125> : tensor<2x64xf32>
func.func @forward(%x: tensor<1x1x8x8xf32>) -> tensor<1x2xf32> {
  %wp = qtrain.load @pw.weight : tensor<4x1x1x1xf32>
  %p = qtrain.conv2d %x, %wp stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<4x1x1x1xf32>) -> tensor<1x4x8x8xf32>
  %pa = qtrain.relu6 %p : tensor<1x4x8x8xf32>
  %w = qtrain.load @dw.weight : tensor<4x1x3x3xf32>
  %b = qtrain.load @dw.bias : tensor<4xf32>
  %h = qtrain.conv2d %pa, %w, %b stride [2, 2] padding [1, 1, 1, 1] groups 4 : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %a = qtrain.relu6 %h : tensor<1x4x4x4xf32>
  %f = qtrain.flatten %a axis 1 : tensor<1x4x4x4xf32> -> tensor<1x64xf32>
  %wf = qtrain.load @fc.weight : tensor<2x64xf32>
  %y = qtrain.dense %f, %wf : (tensor<1x64xf32>, tensor<2x64xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// CHECK-LABEL: func.func @train_step
// CHECK-NOT:   qtrain.acc_relu6
// CHECK:       %[[OBS:[0-9]+]] = "qtrain.qconv2d_acc_stream"(%{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 1 : i64, relu6, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 0, 0>}> {{.*}} -> tensor<2xf32>
// CHECK:       %[[PQ:[0-9]+]] = "qtrain.qconv2d_acc_stream"({{.*}}) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 1 : i64, relu6, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1>}> {{.*}} -> tensor<1x4x8x8x!qtrain.q<ui8, asym>>
// CHECK:       "qtrain.qconv2d_acc_stream"(%[[PQ]], {{.*}}) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 4 : i64, relu6, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x1x3x3x!qtrain.q<si8, asym>>, {{.*}}) -> tensor<2xf32>
// CHECK:       "qtrain.qconv2d_acc_stream"(%[[PQ]], {{.*}}) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 4 : i64, relu6, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1>}> {{.*}} -> tensor<1x4x4x4x!qtrain.q<ui8, asym>>
// CHECK-NOT:   "qtrain.qconv2d_acc"(
// CHECK-NOT:   qtrain.acc_relu6
// The relu6 masks in the backward read the streamed 8-bit outputs.
// CHECK:       qtrain.qrelu6_grad
// CHECK:       func.return

// -----

// The same block with the 1x1 conv and the depthwise conv frozen (only fc trains, as the
// front of TTE's sparse update): the 1x1 conv's 8-bit output is then read by the depthwise
// streams and nothing else, so each depthwise stream becomes a qconv2d_pw_dw_stream that
// recomputes that output one channel plane at a time (requantized to its range, which the
// 1x1 conv's own range stream still gives) and never stores it. Inference fuses too.

qtrain.param @pw.weight frozen : tensor<4x1x1x1xf32> = dense<[[[[0.5]]], [[[-0.25]]], [[[1.0]]], [[[0.75]]]]> : tensor<4x1x1x1xf32>
qtrain.param @dw.weight frozen : tensor<4x1x3x3xf32> = dense<0.25> : tensor<4x1x3x3xf32>
qtrain.param @fc.weight trainable : tensor<2x64xf32> = dense<0.125> : tensor<2x64xf32>
func.func @forward(%x: tensor<1x1x8x8xf32>) -> tensor<1x2xf32> {
  %wp = qtrain.load @pw.weight : tensor<4x1x1x1xf32>
  %p = qtrain.conv2d %x, %wp stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<4x1x1x1xf32>) -> tensor<1x4x8x8xf32>
  %pa = qtrain.relu6 %p : tensor<1x4x8x8xf32>
  %w = qtrain.load @dw.weight : tensor<4x1x3x3xf32>
  %h = qtrain.conv2d %pa, %w stride [2, 2] padding [1, 1, 1, 1] groups 4 : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x4x4xf32>
  %a = qtrain.relu6 %h : tensor<1x4x4x4xf32>
  %f = qtrain.flatten %a axis 1 : tensor<1x4x4x4xf32> -> tensor<1x64xf32>
  %wf = qtrain.load @fc.weight : tensor<2x64xf32>
  %y = qtrain.dense %f, %wf : (tensor<1x64xf32>, tensor<2x64xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// CHECK-LABEL: func.func @forward
// CHECK:       "qtrain.qconv2d_pw_dw_stream"(%{{.*}}) <{stride1 = array<i64: 1, 1>, padding1 = array<i64: 0, 0, 0, 0>, stride2 = array<i64: 2, 2>, padding2 = array<i64: 1, 1, 1, 1>, act1 = "relu6", act2 = "relu6", h_type = !qtrain.q<ui8, asym>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1>}> {{.*}} -> tensor<1x4x4x4x!qtrain.q<ui8, asym>>
// CHECK-LABEL: func.func @train_step
// The 1x1 conv's range stream stays; its requantizing stream is gone.
// CHECK:       %[[RP:[0-9]+]] = "qtrain.qconv2d_acc_stream"(%{{.*}}) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 1 : i64, relu6, {{.*}} -> tensor<2xf32>
// CHECK-NOT:   "qtrain.qconv2d_acc_stream"
// CHECK:       %[[SH:[0-9]+]] = qtrain.range_scale
// CHECK-NEXT:  %[[ZH:[0-9]+]] = qtrain.range_zero_point
// CHECK:       "qtrain.qconv2d_pw_dw_stream"(%{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %[[SH]], %[[ZH]], {{.*}} operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0>}> {{.*}} -> tensor<2xf32>
// CHECK:       "qtrain.qconv2d_pw_dw_stream"(%{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %[[SH]], %[[ZH]], {{.*}} operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1>}> {{.*}} -> tensor<1x4x4x4x!qtrain.q<ui8, asym>>
// CHECK-NOT:   "qtrain.qconv2d_acc_stream"
// CHECK:       func.return
