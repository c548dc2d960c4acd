// qtrain-insert-checkpoints keeps or recomputes each activation the backward pass reads, so
// that @train_step's memory peak fits `budget-bytes` with the fewest recomputed MACs. A
// recomputed value gets its own copy: the forward ops that produce it, cloned from the
// nearest kept values (or parameters, or the input) right before its first backward reader
// and marked {qtrain.recompute}; the backward readers use the copy, the original dies at
// its last forward reader. The peak is qtrain-bufferize's + plan-buffers' lower bound (live
// bytes, 8-byte aligned) of the order the pass emits; when the budget needs any change, the
// pass first moves each sgd_update right after the op completing its gradient.
//
// `schedule-base=false` keeps the search on that order only (the default also tries
// qtrain-schedule's order, tested in tests/pytest/test_checkpoints.py), so these checks do
// not depend on the scheduler.
//
// Every RUN line processes the whole file; each prefix checks only the chunks written for it.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-insert-checkpoints{budget-bytes=520 schedule-base=false}' | filecheck %s --match-full-lines
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-insert-checkpoints{strategy=sqrt}' | filecheck %s --match-full-lines --check-prefix=SQRT
//
// `fuse=true` (the driver's setting) may apply plain qtrain-fuse-updates where that meets the
// budget with nothing recomputed: checked on chunk (b), and its smallest peak then counts.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-insert-checkpoints{budget-bytes=60 fuse=true schedule-base=false}' | filecheck %s --match-full-lines --check-prefix=FUSE
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-insert-checkpoints{budget-bytes=50 fuse=true schedule-base=false}' 2>&1 | filecheck %s --check-prefix=FUSEMIN
//
// Without a budget (and with strategy=none) the pass does nothing, not even annotate.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-insert-checkpoints' | filecheck %s --match-full-lines --check-prefix=OFF
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-insert-checkpoints{budget-bytes=520 strategy=none}' | filecheck %s --match-full-lines --check-prefix=OFF
// OFF-LABEL: func.func @train_step(%input: tensor<8x4xf32>, %target: tensor<8xi32>) -> tensor<f32> attributes {qtrain.saved_activation_bytes = 736 : i64, qtrain.saved_input_bytes = 160 : i64} {
// OFF-NOT:   qtrain.recompute
//
// A bad option fails before the pass looks at the module, so every chunk prints the message.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-insert-checkpoints{strategy=fastest}' | filecheck %s --match-full-lines --check-prefix=STRATEGY
// STRATEGY:     qtrain-insert-checkpoints: unknown strategy 'fastest' (expected budget, sqrt or none)
// STRATEGY-NOT: builtin.module {
// Without qtrain-autodiff there is no @train_step to work on.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-insert-checkpoints{budget-bytes=520}' | filecheck %s --match-full-lines --check-prefix=ALONE
// ALONE: qtrain-insert-checkpoints: no @train_step (run qtrain-autodiff first)

// ==== (a) a chain of four dense+relu layers, budget 520 B ==========================================
//
// Batch 8, width 4: each activation %a1..%a4 is 8x4 f32 = 128 B; the logits %y 64 B. Keeping
// everything (updates hoisted) peaks at 776 B at the relu_grad of layer 4: %a1..%a4 (4 x 128),
// its incoming gradient (128), its output (128) and the loss (8). Recomputing %a1 and %a2
// takes 256 B off that op, and the copies never exceed 520 B: 520 B is met with 384 MACs,
// which is also the smallest peak in this order. The cheaper choices miss it (recomputing %a1
// alone: 648 B with 128 MACs).
//
// FRESH copies: %a2 is rebuilt from the input (through a copy of %a1) right before its first
// backward reader (the dense_grad_weight of layer 3), and %a1 again, from the input, right
// before ITS first reader: the copy made on the way to %a2 was temporary.
// 3 x dense 8x4x4 = 3 x 128 MACs = 384.

qtrain.param @a.fc1.weight trainable : tensor<4x4xf32> = dense<1.000000e-01> : tensor<4x4xf32>
qtrain.param @a.fc2.weight trainable : tensor<4x4xf32> = dense<2.000000e-01> : tensor<4x4xf32>
qtrain.param @a.fc3.weight trainable : tensor<4x4xf32> = dense<3.000000e-01> : tensor<4x4xf32>
qtrain.param @a.fc4.weight trainable : tensor<4x4xf32> = dense<4.000000e-01> : tensor<4x4xf32>
qtrain.param @a.fc5.weight trainable : tensor<2x4xf32> = dense<5.000000e-01> : tensor<2x4xf32>
func.func @forward(%x: tensor<8x4xf32>) -> tensor<8x2xf32> {
  %w1 = qtrain.load @a.fc1.weight : tensor<4x4xf32>
  %h1 = qtrain.dense %x, %w1 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
  %a1 = qtrain.relu %h1 : tensor<8x4xf32>
  %w2 = qtrain.load @a.fc2.weight : tensor<4x4xf32>
  %h2 = qtrain.dense %a1, %w2 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
  %a2 = qtrain.relu %h2 : tensor<8x4xf32>
  %w3 = qtrain.load @a.fc3.weight : tensor<4x4xf32>
  %h3 = qtrain.dense %a2, %w3 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
  %a3 = qtrain.relu %h3 : tensor<8x4xf32>
  %w4 = qtrain.load @a.fc4.weight : tensor<4x4xf32>
  %h4 = qtrain.dense %a3, %w4 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
  %a4 = qtrain.relu %h4 : tensor<8x4xf32>
  %w5 = qtrain.load @a.fc5.weight : tensor<2x4xf32>
  %y = qtrain.dense %a4, %w5 : (tensor<8x4xf32>, tensor<2x4xf32>) -> tensor<8x2xf32>
  func.return %y : tensor<8x2xf32>
}

// CHECK-LABEL:  func.func @train_step(%input: tensor<8x4xf32>, %target: tensor<8xi32>) -> tensor<f32> attributes {qtrain.saved_activation_bytes = 480 : i64, qtrain.saved_input_bytes = 160 : i64, qtrain.recompute_macs = 384 : i64, qtrain.peak_estimate_bytes = 520 : i64} {
// CHECK-NEXT:     %w1 = qtrain.load @a.fc1.weight : tensor<4x4xf32>
// CHECK-NEXT:     %h1 = qtrain.dense %input, %w1 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %a1 = qtrain.relu %h1 : tensor<8x4xf32>
// CHECK-NEXT:     %w2 = qtrain.load @a.fc2.weight : tensor<4x4xf32>
// CHECK-NEXT:     %h2 = qtrain.dense %a1, %w2 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %a2 = qtrain.relu %h2 : tensor<8x4xf32>
// CHECK-NEXT:     %w3 = qtrain.load @a.fc3.weight : tensor<4x4xf32>
// CHECK-NEXT:     %h3 = qtrain.dense %a2, %w3 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %a3 = qtrain.relu %h3 {qtrain.saved_bytes = 128 : i64} : tensor<8x4xf32>
// CHECK-NEXT:     %w4 = qtrain.load @a.fc4.weight : tensor<4x4xf32>
// CHECK-NEXT:     %h4 = qtrain.dense %a3, %w4 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %a4 = qtrain.relu %h4 {qtrain.saved_bytes = 128 : i64} : tensor<8x4xf32>
// CHECK-NEXT:     %w5 = qtrain.load @a.fc5.weight : tensor<2x4xf32>
// CHECK-NEXT:     %y = qtrain.dense %a4, %w5 {qtrain.saved_bytes = 64 : i64} : (tensor<8x4xf32>, tensor<2x4xf32>) -> tensor<8x2xf32>
// CHECK-NEXT:     %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<8x2xf32>, tensor<8xi32>) -> tensor<f32>
// CHECK-NEXT:     %[[DY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<8x2xf32>, tensor<8xi32>) -> tensor<8x2xf32>
// CHECK-NEXT:     %[[D4:[0-9]+]] = qtrain.dense_grad_input %[[DY]], %w5 : (tensor<8x2xf32>, tensor<2x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %[[G5:[0-9]+]] = qtrain.dense_grad_weight %a4, %[[DY]] : (tensor<8x4xf32>, tensor<8x2xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:     qtrain.sgd_update @a.fc5.weight, %[[G5]] lr 1.000000e-02 : tensor<2x4xf32>
// CHECK-NEXT:     %[[E4:[0-9]+]] = qtrain.relu_grad %[[D4]], %a4 : tensor<8x4xf32>
// CHECK-NEXT:     %[[D3:[0-9]+]] = qtrain.dense_grad_input %[[E4]], %w4 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %[[G4:[0-9]+]] = qtrain.dense_grad_weight %a3, %[[E4]] : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
// CHECK-NEXT:     qtrain.sgd_update @a.fc4.weight, %[[G4]] lr 1.000000e-02 : tensor<4x4xf32>
// CHECK-NEXT:     %[[E3:[0-9]+]] = qtrain.relu_grad %[[D3]], %a3 : tensor<8x4xf32>
// CHECK-NEXT:     %[[D2:[0-9]+]] = qtrain.dense_grad_input %[[E3]], %w3 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %h1_1 = qtrain.dense %input, %w1 {qtrain.recompute} : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %a1_1 = qtrain.relu %h1_1 {qtrain.recompute} : tensor<8x4xf32>
// CHECK-NEXT:     %h2_1 = qtrain.dense %a1_1, %w2 {qtrain.recompute} : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %a2_1 = qtrain.relu %h2_1 {qtrain.recompute} : tensor<8x4xf32>
// CHECK-NEXT:     %[[G3:[0-9]+]] = qtrain.dense_grad_weight %a2_1, %[[E3]] : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
// CHECK-NEXT:     qtrain.sgd_update @a.fc3.weight, %[[G3]] lr 1.000000e-02 : tensor<4x4xf32>
// CHECK-NEXT:     %[[E2:[0-9]+]] = qtrain.relu_grad %[[D2]], %a2_1 : tensor<8x4xf32>
// CHECK-NEXT:     %[[D1:[0-9]+]] = qtrain.dense_grad_input %[[E2]], %w2 : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %h1_2 = qtrain.dense %input, %w1 {qtrain.recompute} : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:     %a1_2 = qtrain.relu %h1_2 {qtrain.recompute} : tensor<8x4xf32>
// CHECK-NEXT:     %[[G2:[0-9]+]] = qtrain.dense_grad_weight %a1_2, %[[E2]] : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
// CHECK-NEXT:     qtrain.sgd_update @a.fc2.weight, %[[G2]] lr 1.000000e-02 : tensor<4x4xf32>
// CHECK-NEXT:     %[[E1:[0-9]+]] = qtrain.relu_grad %[[D1]], %a1_2 : tensor<8x4xf32>
// CHECK-NEXT:     %[[G1:[0-9]+]] = qtrain.dense_grad_weight %input, %[[E1]] : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
// CHECK-NEXT:     qtrain.sgd_update @a.fc1.weight, %[[G1]] lr 1.000000e-02 : tensor<4x4xf32>
// CHECK-NEXT:     func.return %loss : tensor<f32>
// CHECK-NEXT:   }

// strategy=sqrt on the same chain: L = 5 saved values (%a1..%a4, %y), round(sqrt 5) = 2
// checkpoints every ceil(5/2) = 3rd: %a3 and %y are kept. %a1, %a2 are one segment,
// recomputed ONCE (RETAIN) before the first backward reader of %a2, and both copies serve
// their backward readers; %a4 is recomputed from %a3. 3 dense copies = 384 MACs; peak 648 B.
// SQRT-LABEL:  func.func @train_step(%input: tensor<8x4xf32>, %target: tensor<8xi32>) -> tensor<f32> attributes {qtrain.saved_activation_bytes = 352 : i64, qtrain.saved_input_bytes = 160 : i64, qtrain.recompute_macs = 384 : i64, qtrain.peak_estimate_bytes = 648 : i64} {
// SQRT:           %a3 = qtrain.relu %h3 {qtrain.saved_bytes = 128 : i64} : tensor<8x4xf32>
// SQRT:           %[[D4:[0-9]+]] = qtrain.dense_grad_input %{{[0-9]+}}, %w5 : (tensor<8x2xf32>, tensor<2x4xf32>) -> tensor<8x4xf32>
// SQRT-NEXT:      %h4_1 = qtrain.dense %a3, %w4 {qtrain.recompute} : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// SQRT-NEXT:      %a4_1 = qtrain.relu %h4_1 {qtrain.recompute} : tensor<8x4xf32>
// SQRT-NEXT:      %{{[0-9]+}} = qtrain.dense_grad_weight %a4_1, %{{[0-9]+}} : (tensor<8x4xf32>, tensor<8x2xf32>) -> tensor<2x4xf32>
// SQRT-NEXT:      qtrain.sgd_update @a.fc5.weight, %{{[0-9]+}} lr 1.000000e-02 : tensor<2x4xf32>
// SQRT-NEXT:      %{{[0-9]+}} = qtrain.relu_grad %[[D4]], %a4_1 : tensor<8x4xf32>
// SQRT:           %{{[0-9]+}} = qtrain.dense_grad_weight %a3, %{{[0-9]+}} : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
// SQRT:           %h1_1 = qtrain.dense %input, %w1 {qtrain.recompute} : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// SQRT-NEXT:      %a1_1 = qtrain.relu %h1_1 {qtrain.recompute} : tensor<8x4xf32>
// SQRT-NEXT:      %h2_1 = qtrain.dense %a1_1, %w2 {qtrain.recompute} : (tensor<8x4xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
// SQRT-NEXT:      %a2_1 = qtrain.relu %h2_1 {qtrain.recompute} : tensor<8x4xf32>
// SQRT-NEXT:      %{{[0-9]+}} = qtrain.dense_grad_weight %a2_1, %{{[0-9]+}} : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
// SQRT-NOT:       qtrain.recompute
// SQRT:           %{{[0-9]+}} = qtrain.dense_grad_weight %a1_1, %{{[0-9]+}} : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
// SQRT-NOT:       qtrain.recompute
// SQRT:           %{{[0-9]+}} = qtrain.relu_grad %{{[0-9]+}}, %a1_1 : tensor<8x4xf32>
// SQRT-NOT:       qtrain.recompute
// SQRT:           func.return %loss : tensor<f32>

// -----

// ==== (b) a budget that needs no recomputation ====================================================
//
// The whole step peaks at 120 B <= 520 B as it is: the IR is unchanged (no update moves, no
// copy), and the function records 0 recomputed MACs and its peak.

qtrain.param @n.fc1.weight trainable : tensor<4x4xf32> = dense<1.000000e-01> : tensor<4x4xf32>
qtrain.param @n.fc2.weight trainable : tensor<2x4xf32> = dense<2.000000e-01> : tensor<2x4xf32>
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w1 = qtrain.load @n.fc1.weight : tensor<4x4xf32>
  %h = qtrain.dense %x, %w1 : (tensor<1x4xf32>, tensor<4x4xf32>) -> tensor<1x4xf32>
  %a = qtrain.relu %h : tensor<1x4xf32>
  %w2 = qtrain.load @n.fc2.weight : tensor<2x4xf32>
  %y = qtrain.dense %a, %w2 : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK-LABEL:  func.func @train_step(%input: tensor<1x4xf32>, %target: tensor<1xi32>) -> tensor<f32> attributes {qtrain.saved_activation_bytes = 44 : i64, qtrain.saved_input_bytes = 20 : i64, qtrain.recompute_macs = 0 : i64, qtrain.peak_estimate_bytes = 120 : i64} {
// CHECK-NEXT:     %w1 = qtrain.load @n.fc1.weight : tensor<4x4xf32>
// CHECK-NEXT:     %h = qtrain.dense %input, %w1 : (tensor<1x4xf32>, tensor<4x4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:     %a = qtrain.relu %h {qtrain.saved_bytes = 16 : i64} : tensor<1x4xf32>
// CHECK-NEXT:     %w2 = qtrain.load @n.fc2.weight : tensor<2x4xf32>
// CHECK-NEXT:     %y = qtrain.dense %a, %w2 {qtrain.saved_bytes = 8 : i64} : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:     %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:     %[[DY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
// CHECK-NEXT:     %[[DA:[0-9]+]] = qtrain.dense_grad_input %[[DY]], %w2 : (tensor<1x2xf32>, tensor<2x4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:     %[[G2:[0-9]+]] = qtrain.dense_grad_weight %a, %[[DY]] : (tensor<1x4xf32>, tensor<1x2xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:     %[[DH:[0-9]+]] = qtrain.relu_grad %[[DA]], %a : tensor<1x4xf32>
// CHECK-NEXT:     %[[G1:[0-9]+]] = qtrain.dense_grad_weight %input, %[[DH]] : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<4x4xf32>
// CHECK-NEXT:     qtrain.sgd_update @n.fc1.weight, %[[G1]] lr 1.000000e-02 : tensor<4x4xf32>
// CHECK-NEXT:     qtrain.sgd_update @n.fc2.weight, %[[G2]] lr 1.000000e-02 : tensor<2x4xf32>
// CHECK-NEXT:     func.return %loss : tensor<f32>
// CHECK-NEXT:   }
//
// With fuse=true and a 60 B budget (120 B as it is, 88 B the smallest recomputation): both
// weight gradients fused into their updates, 56 B, nothing recomputed.
// FUSE-LABEL:  func.func @train_step(%input: tensor<1x4xf32>, %target: tensor<1xi32>) -> tensor<f32> attributes {qtrain.saved_activation_bytes = 44 : i64, qtrain.saved_input_bytes = 20 : i64, qtrain.recompute_macs = 0 : i64, qtrain.peak_estimate_bytes = 56 : i64} {
// FUSE:         %[[FDY:[0-9]+]] = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
// FUSE-NEXT:    %[[FDA:[0-9]+]] = qtrain.dense_grad_input %[[FDY]], %w2 : (tensor<1x2xf32>, tensor<2x4xf32>) -> tensor<1x4xf32>
// FUSE-NEXT:    qtrain.dense_grad_weight_sgd @n.fc2.weight, %a, %[[FDY]] lr 1.000000e-02 : tensor<1x4xf32>, tensor<1x2xf32>
// FUSE-NEXT:    %[[FDH:[0-9]+]] = qtrain.relu_grad %[[FDA]], %a : tensor<1x4xf32>
// FUSE-NEXT:    qtrain.dense_grad_weight_sgd @n.fc1.weight, %input, %[[FDH]] lr 1.000000e-02 : tensor<1x4xf32>, tensor<1x4xf32>
// FUSE-NEXT:    func.return %loss : tensor<f32>
// FUSEMIN:      qtrain-insert-checkpoints: budget 50 bytes is infeasible; the smallest feasible peak is 56 bytes (no recomputation, with in-place buffers, plain qtrain-fuse-updates)

// -----

// ==== (c) an infeasible budget ===================================================================
//
// Batch 16: each activation is 256 B. The smallest peak any keep/recompute choice reaches
// (in this order) is 1032 B, recomputing %a1; 520 B is out of reach, and the message says
// what would fit.

qtrain.param @i.fc1.weight trainable : tensor<4x4xf32> = dense<1.000000e-01> : tensor<4x4xf32>
qtrain.param @i.fc2.weight trainable : tensor<4x4xf32> = dense<2.000000e-01> : tensor<4x4xf32>
qtrain.param @i.fc3.weight trainable : tensor<4x4xf32> = dense<3.000000e-01> : tensor<4x4xf32>
qtrain.param @i.fc4.weight trainable : tensor<2x4xf32> = dense<5.000000e-01> : tensor<2x4xf32>
func.func @forward(%x: tensor<16x4xf32>) -> tensor<16x2xf32> {
  %w1 = qtrain.load @i.fc1.weight : tensor<4x4xf32>
  %h1 = qtrain.dense %x, %w1 : (tensor<16x4xf32>, tensor<4x4xf32>) -> tensor<16x4xf32>
  %a1 = qtrain.relu %h1 : tensor<16x4xf32>
  %w2 = qtrain.load @i.fc2.weight : tensor<4x4xf32>
  %h2 = qtrain.dense %a1, %w2 : (tensor<16x4xf32>, tensor<4x4xf32>) -> tensor<16x4xf32>
  %a2 = qtrain.relu %h2 : tensor<16x4xf32>
  %w3 = qtrain.load @i.fc3.weight : tensor<4x4xf32>
  %h3 = qtrain.dense %a2, %w3 : (tensor<16x4xf32>, tensor<4x4xf32>) -> tensor<16x4xf32>
  %a3 = qtrain.relu %h3 : tensor<16x4xf32>
  %w4 = qtrain.load @i.fc4.weight : tensor<2x4xf32>
  %y = qtrain.dense %a3, %w4 : (tensor<16x4xf32>, tensor<2x4xf32>) -> tensor<16x2xf32>
  func.return %y : tensor<16x2xf32>
}

// CHECK: qtrain-insert-checkpoints: budget 520 bytes is infeasible; the smallest feasible peak is 1032 bytes (recomputing 1 of 4 saved activations)
