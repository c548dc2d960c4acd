// qtrain-stream-accumulators: an int32 accumulator whose only readers are (acc_relu ->)
// minmax + requantize_acc becomes two streamed ops that compute the layer one output
// channel (for an input gradient: one input channel) at a time: the first gives the range,
// the second (after the range is averaged into the tracked state and the output scale
// derived) the 8-bit result. The accumulator, its acc_relu, minmax and requantize_acc are
// gone; the rest of the step is untouched.
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize,qtrain-stream-accumulators{all=true}' | filecheck %s
// An inference function's accumulators (a stored output scale, no minmax) become the one
// requantizing streamed op.
// By default only what lowers the step's peak (after qtrain-schedule) is streamed: here conv's
// forward accumulator and conv2's input gradient (the step's arena: 552 B unstreamed, 416 B
// with these two or with all three), not conv2's forward one.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize,qtrain-stream-accumulators' | filecheck %s --check-prefix=PEAK
// Only accumulators of at least min-bytes bytes: conv's forward (256 B) and conv2's input
// gradient (256 B), not conv2's forward (128 B).
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize,qtrain-stream-accumulators{min-bytes=200 all=true}' | filecheck %s --check-prefix=MIN
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize,qtrain-stream-accumulators{min-bytes=-1}' | filecheck %s --check-prefix=NEG

// NEG: qtrain-stream-accumulators: min-bytes must be >= 0, got -1

qtrain.param @conv.weight trainable : tensor<4x1x3x3xf32> = dense<0.25> : tensor<4x1x3x3xf32>
qtrain.param @conv.bias trainable : tensor<4xf32> = dense<0.0> : tensor<4xf32>
qtrain.param @conv2.weight trainable : tensor<2x4x3x3xf32> = dense<-0.125> : tensor<2x4x3x3xf32>
qtrain.param @fc.weight trainable : tensor<2x32xf32> = dense<0.125> : tensor<2x32xf32>
func.func @forward(%x: tensor<1x1x8x8xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @conv.weight : tensor<4x1x3x3xf32>
  %b = qtrain.load @conv.bias : tensor<4xf32>
  %h = qtrain.conv2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] groups 1 : (tensor<1x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %a = qtrain.relu %h : tensor<1x4x4x4xf32>
  %w2 = qtrain.load @conv2.weight : tensor<2x4x3x3xf32>
  %h2 = qtrain.conv2d %a, %w2 stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x4x4x4xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x4x4xf32>
  %f = qtrain.flatten %h2 axis 1 : tensor<1x2x4x4xf32> -> tensor<1x32xf32>
  %wf = qtrain.load @fc.weight : tensor<2x32xf32>
  %y = qtrain.dense %f, %wf : (tensor<1x32xf32>, tensor<2x32xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// Inference requantizes to the stored range and observes none: one streamed op per layer,
// the requantizing form alone (no range pass, no MACs added), relu folded in.
// CHECK-LABEL: func.func @forward
// CHECK:       qtrain.load @act.conv.range
// CHECK-NEXT:  %[[FS:[0-9]+]] = qtrain.range_scale %{{[0-9]+}} for <ui8, asym>
// CHECK-NEXT:  %[[FZ:[0-9]+]] = qtrain.range_zero_point
// CHECK-NEXT:  %[[FA:[0-9]+]] = "qtrain.qconv2d_acc_stream"(%{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %b, %{{[0-9]+}}, %[[FS]], %[[FZ]]) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1>}> {{.*}} -> tensor<1x4x4x4x!qtrain.q<ui8, asym>>
// CHECK:       "qtrain.qconv2d_acc_stream"(%[[FA]], %[[FZ]], {{.*}} -> tensor<1x2x4x4x!qtrain.q<ui8, asym>>
// CHECK-NOT:   qtrain.minmax
// CHECK-NOT:   "qtrain.qconv2d_acc"(
// CHECK-LABEL: func.func @train_step
// The first pass: the range of relu(acc) (the accumulator scale %[[SACC]] is the bias's too).
// CHECK:       %[[SACC:[0-9]+]] = qtrain.scale_mul
// CHECK-NEXT:  %[[OBS:[0-9]+]] = "qtrain.qconv2d_acc_stream"(%[[X:[0-9]+]], %[[ZX:[0-9]+]], %[[W:[0-9]+]], %[[ZW:[0-9]+]], %b, %[[SACC]]) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x1x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x1x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2xf32>
// CHECK-NEXT:  %[[OLD:[0-9]+]] = qtrain.load @act.conv.range
// CHECK-NEXT:  %[[NEW:[0-9]+]] = qtrain.ema %[[OLD]], %[[OBS]] alpha 1.000000e-01
// CHECK-NEXT:  qtrain.store %[[NEW]], @act.conv.range
// CHECK-NEXT:  %[[S:[0-9]+]] = qtrain.range_scale %[[NEW]] for <ui8, asym>
// CHECK-NEXT:  %[[Z:[0-9]+]] = qtrain.range_zero_point %[[NEW]] for <ui8, asym>
// The second pass: the same layer requantized to that scale / zero-point.
// CHECK-NEXT:  %[[A:[0-9]+]] = "qtrain.qconv2d_acc_stream"(%[[X]], %[[ZX]], %[[W]], %[[ZW]], %b, %[[SACC]], %[[S]], %[[Z]]) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1>}> {{.*}} -> tensor<1x4x4x4x!qtrain.q<ui8, asym>>
// conv2 has no bias: its accumulator scale is the one minmax and requantize_acc used.
// CHECK:       "qtrain.qconv2d_acc_stream"(%[[A]], %[[Z]], %{{[0-9]+}}, %{{[0-9]+}}, %[[S2:[0-9]+]]) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 0, 0>}>
// CHECK:       "qtrain.qconv2d_acc_stream"(%[[A]], %[[Z]], %{{[0-9]+}}, %{{[0-9]+}}, %[[S2]], %{{[0-9]+}}, %{{[0-9]+}}) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1>}>
// Only conv and conv-transpose accumulators and conv input gradients are streamed: the dense one stays.
// CHECK:       "qtrain.qdense_acc"
// conv2's input gradient: the int8 error's range, then the requantized error, one input
// channel at a time (input_hw: the 4x4 input), marked backward.
// CHECK:       %[[E:[0-9]+]] = qtrain.reshape %{{[0-9]+}} : tensor<1x32x!qtrain.q<si8, asym>> -> tensor<1x2x4x4x!qtrain.q<si8, asym>>
// CHECK-NEXT:  %[[SG:[0-9]+]] = qtrain.scale_mul
// CHECK-NEXT:  %[[GR:[0-9]+]] = "qtrain.qconv2d_grad_input_stream"(%[[E]], %[[ZE:[0-9]+]], %[[W2:[0-9]+]], %[[ZW2:[0-9]+]], %[[SG]]) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 4, 4>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> {qtrain.backward} : {{.*}} -> tensor<2xf32>
// CHECK-NEXT:  %[[EO:[0-9]+]] = qtrain.load @err.conv2.range
// CHECK-NEXT:  %[[EN:[0-9]+]] = qtrain.ema %[[EO]], %[[GR]] alpha 1.000000e+00
// CHECK-NEXT:  qtrain.store %[[EN]], @err.conv2.range
// CHECK-NEXT:  %[[SE:[0-9]+]] = qtrain.range_scale %[[EN]] for <si8, asym>
// CHECK-NEXT:  %[[ZE2:[0-9]+]] = qtrain.range_zero_point %[[EN]] for <si8, asym>
// CHECK-NEXT:  %[[GI:[0-9]+]] = "qtrain.qconv2d_grad_input_stream"(%[[E]], %[[ZE]], %[[W2]], %[[ZW2]], %[[SG]], %[[SE]], %[[ZE2]]) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 4, 4>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1>}> {qtrain.backward} : {{.*}} -> tensor<1x4x4x4x!qtrain.q<si8, asym>>
// CHECK:       qtrain.qrelu_grad %[[GI]][%[[ZE2]]]
// CHECK-NOT:   "qtrain.qconv2d_acc"(
// CHECK-NOT:   qtrain.qconv2d_grad_input {{.*}}
// CHECK-NOT:   qtrain.acc_relu
// CHECK:       func.return

// MIN-LABEL:   func.func @train_step
// MIN:         "qtrain.qconv2d_acc_stream"
// MIN:         "qtrain.qconv2d_acc"
// MIN-NEXT:    qtrain.minmax
// MIN:         "qtrain.qconv2d_grad_input_stream"

// Inference is streamed only where its peak is the module's largest: not here.
// PEAK-LABEL:  func.func @forward
// PEAK:        "qtrain.qconv2d_acc"
// PEAK-NOT:    qtrain.qconv2d_acc_stream
// PEAK-LABEL:  func.func @train_step
// PEAK:        "qtrain.qconv2d_acc_stream"(%{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %b, %{{[0-9]+}}) <{stride = array<i64: 2, 2>
// PEAK:        "qtrain.qconv2d_acc"(%{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}) <{stride = array<i64: 1, 1>
// PEAK-NEXT:   qtrain.minmax
// PEAK:        "qtrain.qconv2d_grad_input_stream"
