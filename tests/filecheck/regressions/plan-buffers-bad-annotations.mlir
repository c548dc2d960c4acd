// Regression test for a fixed bug: qtrain-plan-buffers (and check_plan, which convert-qtrain-to-c reruns) trusts
// the form of hand-written annotations: a qtrain.live with three values fails with Python's
// "too many values to unpack (expected 2)", and a qtrain.bytes that is not an integer dies
// with an AttributeError traceback. Expected: one diagnostic per chunk naming the pass, the
// op and the attribute (the exact wording is the fix's to choose).

// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p qtrain-plan-buffers 2>&1 | filecheck %s
// CHECK-NOT:  Traceback
// CHECK:      {{^}}qtrain-plan-buffers: qtrain.relu {{.*}}qtrain.live
// CHECK-NOT:  Traceback
// CHECK:      {{^}}qtrain-plan-buffers: qtrain.relu {{.*}}qtrain.bytes
// CHECK-NOT:  Traceback

func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %r = "qtrain.relu"(%x) {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 0, 1, 2>} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  func.return %r : tensor<1x4xf32>
}

// -----

func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %r = "qtrain.relu"(%x) {qtrain.bytes = "sixteen", qtrain.live = array<i64: 0, 1>} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  func.return %r : tensor<1x4xf32>
}
