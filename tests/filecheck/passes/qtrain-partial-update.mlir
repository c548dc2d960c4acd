// qtrain-partial-update: each quantized weight update gets a per-sample selection of its k
// rows with the largest int8 error; the grad-weight computes only those rows (select), and
// the stats / range / update ops take the same selection.
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{rounding=nearest update=requantize},qtrain-partial-update{lambda-min=0.5 lambda-max=1.0}' | filecheck %s
// With update=fused (the default) the fused grad-weight + step takes the selection:
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize,qtrain-partial-update{lambda-min=0.1 lambda-max=1.0}' | filecheck %s --check-prefix=FUSED
// λ = 1 is "off": nothing changes.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize,qtrain-partial-update' | filecheck %s --check-prefix=OFF
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-partial-update{lambda-min=0.5}' | filecheck %s --check-prefix=FLOAT
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{errors=f32 update=requantize},qtrain-partial-update{lambda-min=0.5}' | filecheck %s --check-prefix=MIXED
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-partial-update{lambda-min=0.7 lambda-max=0.2}' | filecheck %s --check-prefix=LAMBDA
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-partial-update{lambda-min=0.5}' | filecheck %s --check-prefix=ALONE

// FLOAT: qtrain-partial-update: needs a quantized training step: run qtrain-quantize (errors=int8) first
// MIXED: qtrain-partial-update: the gradient of @fc1.weight is not an int8 grad-weight op (qtrain-quantize errors=int8 produces qtrain.qdense_grad_weight / qtrain.qconv2d_grad_weight), got 'qtrain.dense_grad_weight'
// LAMBDA: qtrain-partial-update: need 0 <= lambda-min <= lambda-max <= 1, got 0.7 and 0.2
// ALONE: qtrain-partial-update: no @train_step: run qtrain-autodiff first

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

// CHECK:       qtrain.state @partial.loss_max : tensor<f32> = dense<0.000000e+00> : tensor<f32>
// CHECK-LABEL: func.func @train_step
// The largest loss so far, updated right after the loss:
// CHECK:       %loss = qtrain.softmax_cross_entropy
// CHECK:       %[[OLD:.*]] = qtrain.load @partial.loss_max
// CHECK-NEXT:  %[[MAX:.*]] = qtrain.running_max %[[OLD]], %loss
// CHECK-NEXT:  qtrain.store %[[MAX]], @partial.loss_max
// fc2 is the output layer (its error is the loss gradient, whose components sum to zero):
// always updated in full, no selection.
// CHECK:       %[[G2:.*]] = "qtrain.qdense_grad_weight"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}>
// fc1 (3 rows): k from the loss, then the rows with the largest error.
// CHECK:       %[[K1:.*]] = qtrain.topk_count %loss, %[[MAX]] lambda_min 5.000000e-01 lambda_max 1.000000e+00 structures 3 : (tensor<f32>, tensor<f32>) -> tensor<i32>
// CHECK-NEXT:  %[[I1:.*]] = qtrain.topk_structures %[[E1:.*]][%[[ZE1:.*]]], %[[K1]] : (tensor<1x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<3xi32>
// CHECK-NEXT:  %[[G1:.*]] = "qtrain.qdense_grad_weight"({{.*}}, %[[E1]], %[[ZE1]], %[[I1]], %[[K1]])
// CHECK:       %[[S1:.*]] = "qtrain.grad_stats"(%[[G1]], %{{.*}}, %[[I1]], %[[K1]])
// CHECK-NEXT:  "qtrain.qsgd_range"({{.*}}, %[[G1]], %[[S1]], %[[I1]], %[[K1]])
// CHECK:       "qtrain.qsgd_update"(%[[G1]], %[[S1]], {{.*}}, %[[I1]], %[[K1]]) <{param = @fc1.weight
// CHECK:       %[[S2:.*]] = "qtrain.grad_stats"(%[[G2]], %{{.*}}) <{mode = "none", operandSegmentSizes = array<i32: 1, 1, 0, 0, 0>}>
// CHECK:       "qtrain.qsgd_update"(%[[G2]], %[[S2]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) <{param = @fc2.weight
// CHECK-NOT:   qtrain.topk_count

// FUSED-LABEL: func.func @train_step
// FUSED:       %[[MAX:.*]] = qtrain.running_max
// FUSED:       %[[STEP:.*]] = qtrain.load @qtrain.step
// FUSED-NEXT:  %[[K1:.*]] = qtrain.topk_count %loss, %[[MAX]] lambda_min 1.000000e-01 lambda_max 1.000000e+00 structures 3
// FUSED-NEXT:  %[[I1:.*]] = qtrain.topk_structures %[[E1:.*]][%[[ZE1:.*]]], %[[K1]]
// FUSED-NEXT:  "qtrain.qdense_grad_weight_sgd"(%{{.*}}, %{{.*}}, %[[E1]], %[[ZE1]], %{{.*}}, %{{.*}}, %{{.*}}, %[[I1]], %[[K1]], %[[STEP]]) <{param = @fc1.weight, row_range = @fc1.weight.row_range, {{.*}}rounding = "stochastic"
// FUSED-NEXT:  qtrain.qweight_regrid @fc1.weight rows @fc1.weight.row_range scale @fc1.weight.scale zero_point @fc1.weight.zero_point headroom 0.000000e+00 rounding "stochastic" seed 0 step %[[STEP]] : tensor<i32>
// The output layer: the full fused update (no selection operands).
// FUSED:       "qtrain.qdense_grad_weight_sgd"({{.*}}) <{param = @fc2.weight, {{.*}}operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 1>}>
// FUSED-NOT:   qtrain.topk_count
// FUSED-NOT:   qtrain.qdense_grad_weight"

// OFF-NOT: topk
// OFF-NOT: partial.loss_max
