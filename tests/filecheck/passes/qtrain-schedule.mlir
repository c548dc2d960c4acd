// qtrain-schedule reorders the ops of every function for a smaller memory peak. It keeps every
// SSA dependency and, per symbol, the order of writes, of a load after the write before it,
// and of a write after every op that read an earlier load of that symbol before it in the
// input. So an optimizer update may move up to right after its gradient, but never above the
// last reader of its parameter's loaded value (grad_input reads the weight): that would make
// qtrain-bufferize copy the weight for the whole step.
//
// It builds two list schedules — "greedy": among the ready ops an op that allocates nothing
// (an update), then the most bytes freed net, then the fewest allocated, then the earliest;
// "lazy": an op that allocates nothing, else the earliest that frees more than it allocates,
// else the earliest — where loads go right before their first user, and a write that would
// turn a still-read in-place load into a copy, or a `qtrain.recompute` op, waits until nothing
// else is ready. Of the input order and the two, it keeps the smallest peak of live bytes
// (each size rounded up to `alignment`, 8), then the smallest sum over ops of the live bytes
// ("area" = Σ size · ops live), then greedy, lazy, input.
//
// Numbers below: `#i` is an op's index, sizes are f32 bytes rounded up to 8, a value lives
// from its op to its last reader (through aliases), the returned loss to func.return. The
// second RUN checks the peaks: qtrain-plan-buffers' lower bound, with (BOUND) and without
// (INPUT) qtrain-schedule.
//
// RUN: odtc-opt %s --split-input-file -p qtrain-schedule | filecheck %s --match-full-lines
// RUN: odtc-opt %s --split-input-file -p 'qtrain-schedule{alignment=8},qtrain-bufferize,qtrain-plan-buffers' | filecheck %s --check-prefix=BOUND
// RUN: odtc-opt %s --split-input-file -p 'qtrain-bufferize,qtrain-plan-buffers' | filecheck %s --check-prefix=INPUT
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-schedule{alignment=0}' | filecheck %s --check-prefix=ALIGN0
// ALIGN0: qtrain-schedule: alignment must be >= 1, got 0

// ==== dense - relu - dense, SGD, as qtrain-autodiff emits it: updates move up ==================
//
//   %h 32, %a 32 (read by the dense, dense_grad_weight and relu_grad), %y 8, %loss 8, %dy 8,
//   %da 32, %dw2 64, %dh 32, %dw1 128, %db1 32.
//   Input order: every update at the end; peak at %db1 (#12): %loss 8 + %dw2 64 + %dh 32 +
//   %dw1 128 + %db1 32 = 264.
//   greedy: the forward is a chain; %loss (+8) before %dy (+8 - %y 8 = 0). Ready: %da +32,
//   %dw2 +64 -> %da. Then %dh = relu_grad (+32 - %da 32 = 0) before %dw2 (+64 - %dy 8 = +56).
//   Then %dw2 (+64 - %a 32 - %dy 8 = +24) beats %db1 (+32) and %dw1 (+128); fc2's update
//   (allocates nothing) follows at once; %db1 and its update; %dw1 (+128 - %dh 32) and its
//   update. Peak at %dw1: %loss 8 + %dh 32 + %dw1 128 = 168.
//   lazy: %da, %dw2, fc2's update, %dh, %dw1, its update, %db1, its update: also 168, but
//   area 1192 against greedy's 1168 (%h 32·2 + %a 32·8 + %y 8·3 + %loss 8·11 + %dy 8·4 +
//   %da 32·2 + %dh 32·6 + %dw2 64·2 + %db1 32·2 + %dw1 128·2): greedy.

qtrain.param @fc1.weight trainable : tensor<8x4xf32> = dense<1.000000e-01> : tensor<8x4xf32>
qtrain.param @fc1.bias trainable : tensor<8xf32> = dense<0.000000e+00> : tensor<8xf32>
qtrain.param @fc2.weight trainable : tensor<2x8xf32> = dense<2.000000e-01> : tensor<2x8xf32>
func.func @train_step(%input: tensor<1x4xf32>, %target: tensor<1xi32>) -> tensor<f32> {
  %w1 = qtrain.load @fc1.weight : tensor<8x4xf32>
  %b1 = qtrain.load @fc1.bias : tensor<8xf32>
  %h = qtrain.dense %input, %w1, %b1 : (tensor<1x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<1x8xf32>
  %a = qtrain.relu %h : tensor<1x8xf32>
  %w2 = qtrain.load @fc2.weight : tensor<2x8xf32>
  %y = qtrain.dense %a, %w2 : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
  %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
  %dy = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
  %da = qtrain.dense_grad_input %dy, %w2 : (tensor<1x2xf32>, tensor<2x8xf32>) -> tensor<1x8xf32>
  %dw2 = qtrain.dense_grad_weight %a, %dy : (tensor<1x8xf32>, tensor<1x2xf32>) -> tensor<2x8xf32>
  %dh = qtrain.relu_grad %da, %a : tensor<1x8xf32>
  %dw1 = qtrain.dense_grad_weight %input, %dh : (tensor<1x4xf32>, tensor<1x8xf32>) -> tensor<8x4xf32>
  %db1 = qtrain.dense_grad_bias %dh : tensor<1x8xf32> -> tensor<8xf32>
  qtrain.sgd_update @fc1.weight, %dw1 lr 1.000000e-02 : tensor<8x4xf32>
  qtrain.sgd_update @fc1.bias, %db1 lr 1.000000e-02 : tensor<8xf32>
  qtrain.sgd_update @fc2.weight, %dw2 lr 1.000000e-02 : tensor<2x8xf32>
  func.return %loss : tensor<f32>
}
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x4xf32>, %target: tensor<1xi32>) -> tensor<f32> {
// CHECK-NEXT:      %w1 = qtrain.load @fc1.weight : tensor<8x4xf32>
// CHECK-NEXT:      %b1 = qtrain.load @fc1.bias : tensor<8xf32>
// CHECK-NEXT:      %h = qtrain.dense %input, %w1, %b1 : (tensor<1x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:      %a = qtrain.relu %h : tensor<1x8xf32>
// CHECK-NEXT:      %w2 = qtrain.load @fc2.weight : tensor<2x8xf32>
// CHECK-NEXT:      %y = qtrain.dense %a, %w2 : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:      %dy = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %da = qtrain.dense_grad_input %dy, %w2 : (tensor<1x2xf32>, tensor<2x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:      %dh = qtrain.relu_grad %da, %a : tensor<1x8xf32>
// CHECK-NEXT:      %dw2 = qtrain.dense_grad_weight %a, %dy : (tensor<1x8xf32>, tensor<1x2xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:      qtrain.sgd_update @fc2.weight, %dw2 lr 1.000000e-02 : tensor<2x8xf32>
// CHECK-NEXT:      %db1 = qtrain.dense_grad_bias %dh : tensor<1x8xf32> -> tensor<8xf32>
// CHECK-NEXT:      qtrain.sgd_update @fc1.bias, %db1 lr 1.000000e-02 : tensor<8xf32>
// CHECK-NEXT:      %dw1 = qtrain.dense_grad_weight %input, %dh : (tensor<1x4xf32>, tensor<1x8xf32>) -> tensor<8x4xf32>
// CHECK-NEXT:      qtrain.sgd_update @fc1.weight, %dw1 lr 1.000000e-02 : tensor<8x4xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// CHECK-NEXT:    }
// BOUND: func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 168 : i64} {
// INPUT: func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 264 : i64} {

// -----

// ==== an update waits for grad_input, the last reader of its loaded weight ======================
//
// Two 1x1 convs, MSE. %h 1x4x8x8 = 1024 is read only by the forward conv and %dw2.
//   %y 256, %loss 8, %dy 256, %dh 1024, %dw2 16, %dw1 16.
//   Input order: peak at %dw2 (#7): %h 1024 + %loss 8 + %dy 256 + %dh 1024 + %dw2 16 = 2328.
//   greedy: %loss, %dy (+256 - %y 256). Ready: %dh +1024, %dw2 +16 - %h 1024 -> %dw2. Its
//   gradient is complete, but c2's update is not ready: %dh reads %w2. %dh (+1024 - %dy 256),
//   then c2's update (allocates nothing), %dw1 (+16 - %dh 1024), c1's update.
//   Peak: at %dy (the forward), %h 1024 + %y 256 + %loss 8 + %dy 256 = 1544; the backward
//   needs at most 1304 (%loss + %dy + %dw2 + %dh). lazy finds the same order.

qtrain.param @c1.weight trainable : tensor<4x1x1x1xf32> = dense<5.000000e-01> : tensor<4x1x1x1xf32>
qtrain.param @c2.weight trainable : tensor<1x4x1x1xf32> = dense<2.500000e-01> : tensor<1x4x1x1xf32>
func.func @train_step(%x: tensor<1x1x8x8xf32>, %t: tensor<1x1x8x8xf32>) -> tensor<f32> {
  %w1 = qtrain.load @c1.weight : tensor<4x1x1x1xf32>
  %h = qtrain.conv2d %x, %w1 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<4x1x1x1xf32>) -> tensor<1x4x8x8xf32>
  %w2 = qtrain.load @c2.weight : tensor<1x4x1x1xf32>
  %y = qtrain.conv2d %h, %w2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x1x8x8xf32>
  %loss = qtrain.mse %y, %t : (tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<f32>
  %dy = qtrain.mse_grad %y, %t : tensor<1x1x8x8xf32>
  %dh = qtrain.conv2d_grad_input %dy, %w2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32>
  %dw2 = qtrain.conv2d_grad_weight %h, %dy stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x4x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x1x1xf32>
  %dw1 = qtrain.conv2d_grad_weight %x, %dh stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<4x1x1x1xf32>
  qtrain.sgd_update @c1.weight, %dw1 lr 1.000000e-01 : tensor<4x1x1x1xf32>
  qtrain.sgd_update @c2.weight, %dw2 lr 1.000000e-01 : tensor<1x4x1x1xf32>
  func.return %loss : tensor<f32>
}
// CHECK-LABEL:   func.func @train_step(%x: tensor<1x1x8x8xf32>, %t: tensor<1x1x8x8xf32>) -> tensor<f32> {
// CHECK-NEXT:      %w1 = qtrain.load @c1.weight : tensor<4x1x1x1xf32>
// CHECK-NEXT:      %h = qtrain.conv2d %x, %w1 {{.*}}
// CHECK-NEXT:      %w2 = qtrain.load @c2.weight : tensor<1x4x1x1xf32>
// CHECK-NEXT:      %y = qtrain.conv2d %h, %w2 {{.*}}
// CHECK-NEXT:      %loss = qtrain.mse %y, %t : (tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<f32>
// CHECK-NEXT:      %dy = qtrain.mse_grad %y, %t : tensor<1x1x8x8xf32>
// CHECK-NEXT:      %dw2 = qtrain.conv2d_grad_weight %h, %dy {{.*}}
// CHECK-NEXT:      %dh = qtrain.conv2d_grad_input %dy, %w2 {{.*}}
// CHECK-NEXT:      qtrain.sgd_update @c2.weight, %dw2 lr 1.000000e-01 : tensor<1x4x1x1xf32>
// CHECK-NEXT:      %dw1 = qtrain.conv2d_grad_weight %x, %dh {{.*}}
// CHECK-NEXT:      qtrain.sgd_update @c1.weight, %dw1 lr 1.000000e-01 : tensor<4x1x1x1xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// BOUND: func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 1544 : i64} {
// INPUT: func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 2328 : i64} {

// -----

// ==== two branches: the list schedule finishes one before starting the other ===================
//
//   %a %b 1x64 = 256 each, %c %d %s 8.
//   Input order: peak at %c (#2): %a + %b + %c = 520.
//   greedy: %a, %b tie at +256 -> %a (earlier). Then %c (+8 - %a 256) before %b (+256); %b,
//   %d (+8 - %b 256), %s. Peak at %d: %c + %b + %d = 272.

func.func @forward(%x: tensor<1x64xf32>, %w: tensor<2x64xf32>) -> tensor<1x2xf32> {
  %a = qtrain.relu %x : tensor<1x64xf32>
  %b = qtrain.relu6 %x : tensor<1x64xf32>
  %c = qtrain.dense %a, %w : (tensor<1x64xf32>, tensor<2x64xf32>) -> tensor<1x2xf32>
  %d = qtrain.dense %b, %w : (tensor<1x64xf32>, tensor<2x64xf32>) -> tensor<1x2xf32>
  %s = qtrain.add %c, %d : tensor<1x2xf32>
  func.return %s : tensor<1x2xf32>
}
// CHECK-LABEL:   func.func @forward(%x: tensor<1x64xf32>, %w: tensor<2x64xf32>) -> tensor<1x2xf32> {
// CHECK-NEXT:      %a = qtrain.relu %x : tensor<1x64xf32>
// CHECK-NEXT:      %c = qtrain.dense %a, %w : (tensor<1x64xf32>, tensor<2x64xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %b = qtrain.relu6 %x : tensor<1x64xf32>
// CHECK-NEXT:      %d = qtrain.dense %b, %w : (tensor<1x64xf32>, tensor<2x64xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %s = qtrain.add %c, %d : tensor<1x2xf32>
// CHECK-NEXT:      func.return %s : tensor<1x2xf32>
// BOUND: func.func @forward({{.*}}) -> tensor<1x2xf32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 272 : i64} {
// INPUT: func.func @forward({{.*}}) -> tensor<1x2xf32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 520 : i64} {

// -----

// ==== a store: its order with the load stays; a copy disappears ==================================
//
// %old is read by %y after the store overwrites @m, so in the input order qtrain-bufferize
// must copy it (8 bytes, live #0..#3). The store must stay after %new (its operand) and
// after %new's read of %old; %y may go first. greedy: after %new, the store would turn %old
// into a copy while %y still reads it: it waits; %y (+8), then the store; %l and %g tie at
// +8 -> %l; %g (+8 - %y 8); the update. Every value is 8 bytes; the peak stays 24 (%y + %l +
// %g at %g), and the area drops from 128 (%old 8·4 + %new 8·3 + %y 8·3 + %l 8·4 + %g 8·2)
// to 104 (%new 8·3 + %y 8·4 + %l 8·4 + %g 8·2): %old is read in place, so after
// qtrain-bufferize it has no qtrain.bytes.

qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.state @m : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @train_step(%x: tensor<2xf32>, %t: tensor<2xf32>) -> tensor<f32> {
  %old = qtrain.load @m : tensor<2xf32>
  %new = qtrain.add %old, %x : tensor<2xf32>
  qtrain.store %new, @m : tensor<2xf32>
  %y = qtrain.add %old, %new : tensor<2xf32>
  %l = qtrain.mse %y, %t : (tensor<2xf32>, tensor<2xf32>) -> tensor<f32>
  %g = qtrain.mse_grad %y, %t : tensor<2xf32>
  qtrain.sgd_update @w, %g lr 5.000000e-01 : tensor<2xf32>
  func.return %l : tensor<f32>
}
// CHECK-LABEL:   func.func @train_step(%x: tensor<2xf32>, %t: tensor<2xf32>) -> tensor<f32> {
// CHECK-NEXT:      %old = qtrain.load @m : tensor<2xf32>
// CHECK-NEXT:      %new = qtrain.add %old, %x : tensor<2xf32>
// CHECK-NEXT:      %y = qtrain.add %old, %new : tensor<2xf32>
// CHECK-NEXT:      qtrain.store %new, @m : tensor<2xf32>
// CHECK-NEXT:      %l = qtrain.mse %y, %t : (tensor<2xf32>, tensor<2xf32>) -> tensor<f32>
// CHECK-NEXT:      %g = qtrain.mse_grad %y, %t : tensor<2xf32>
// CHECK-NEXT:      qtrain.sgd_update @w, %g lr 5.000000e-01 : tensor<2xf32>
// CHECK-NEXT:      func.return %l : tensor<f32>
// BOUND:      func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 24 : i64} {
// BOUND-NEXT:   %old = qtrain.load @m : tensor<2xf32>
// INPUT:      func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 24 : i64} {
// INPUT-NEXT:   %old = qtrain.load @m {qtrain.bytes = 8 : i64, qtrain.live = array<i64: 0, 3>, qtrain.offset = {{[0-9]+}} : i64} : tensor<2xf32>

// -----

// ==== Adam, mini-batches of 2: state symbols, the batch position, the counter ===================
//
//   %y 8, %loss 8, %dy 8, %dw 2x4 = 32, %db 8. %batch_pos is read in place by both updates;
//   the counter writes @batch_pos, so it stays after them.
//   Input order: peak at %db (#6): %loss + %dy + %dw 32 + %db = 56.
//   greedy: ... %dy; ready %dw +32, %db +8 -> %db; the bias update (its load of @batch_pos
//   right before it); %dw (+32 - %dy 8); the weight update; the counter.
//   Peak at %dw: %loss + %dy + %dw = 48, area 224 (%y 8·3 + %loss 8·9 + %dy 8·5 + %db 8·3 +
//   %dw 32·2). lazy (%dw, its update, %db, its update) also peaks at 48 with area 248.

qtrain.param @fc.weight trainable : tensor<2x4xf32> = dense<1.000000e-01> : tensor<2x4xf32>
qtrain.param @fc.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.state @batch_pos : tensor<i32> = dense<0> : tensor<i32>
qtrain.state @fc.weight.grad_acc : tensor<2x4xf32> = dense<0.000000e+00> : tensor<2x4xf32>
qtrain.state @fc.weight.adam_m : tensor<2x4xf32> = dense<0.000000e+00> : tensor<2x4xf32>
qtrain.state @fc.weight.adam_v : tensor<2x4xf32> = dense<0.000000e+00> : tensor<2x4xf32>
qtrain.state @fc.weight.adam_step : tensor<i32> = dense<0> : tensor<i32>
qtrain.state @fc.bias.grad_acc : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.state @fc.bias.adam_m : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.state @fc.bias.adam_v : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.state @fc.bias.adam_step : tensor<i32> = dense<0> : tensor<i32>
func.func @train_step(%input: tensor<1x4xf32>, %target: tensor<1xi32>) -> tensor<f32> {
  %w = qtrain.load @fc.weight : tensor<2x4xf32>
  %b = qtrain.load @fc.bias : tensor<2xf32>
  %y = qtrain.dense %input, %w, %b : (tensor<1x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
  %dy = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
  %dw = qtrain.dense_grad_weight %input, %dy : (tensor<1x4xf32>, tensor<1x2xf32>) -> tensor<2x4xf32>
  %db = qtrain.dense_grad_bias %dy : tensor<1x2xf32> -> tensor<2xf32>
  %batch_pos = qtrain.load @batch_pos : tensor<i32>
  qtrain.adam_update @fc.weight, %dw moments @fc.weight.adam_m, @fc.weight.adam_v step @fc.weight.adam_step lr 1.000000e-02 beta1 9.000000e-01 beta2 9.990000e-01 eps 1.000000e-08 accumulate @fc.weight.grad_acc every 2 at %batch_pos : tensor<2x4xf32>, tensor<i32>
  qtrain.adam_update @fc.bias, %db moments @fc.bias.adam_m, @fc.bias.adam_v step @fc.bias.adam_step lr 1.000000e-02 beta1 9.000000e-01 beta2 9.990000e-01 eps 1.000000e-08 accumulate @fc.bias.grad_acc every 2 at %batch_pos : tensor<2xf32>, tensor<i32>
  qtrain.counter_step @batch_pos modulo 2
  func.return %loss : tensor<f32>
}
// CHECK-LABEL:   func.func @train_step(%input: tensor<1x4xf32>, %target: tensor<1xi32>) -> tensor<f32> {
// CHECK-NEXT:      %w = qtrain.load @fc.weight : tensor<2x4xf32>
// CHECK-NEXT:      %b = qtrain.load @fc.bias : tensor<2xf32>
// CHECK-NEXT:      %y = qtrain.dense %input, %w, %b : (tensor<1x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:      %dy = qtrain.softmax_cross_entropy_grad %y, %target : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %db = qtrain.dense_grad_bias %dy : tensor<1x2xf32> -> tensor<2xf32>
// CHECK-NEXT:      %batch_pos = qtrain.load @batch_pos : tensor<i32>
// CHECK-NEXT:      qtrain.adam_update @fc.bias, %db moments {{.*}} accumulate @fc.bias.grad_acc every 2 at %batch_pos : tensor<2xf32>, tensor<i32>
// CHECK-NEXT:      %dw = qtrain.dense_grad_weight %input, %dy : (tensor<1x4xf32>, tensor<1x2xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:      qtrain.adam_update @fc.weight, %dw moments {{.*}} accumulate @fc.weight.grad_acc every 2 at %batch_pos : tensor<2x4xf32>, tensor<i32>
// CHECK-NEXT:      qtrain.counter_step @batch_pos modulo 2
// CHECK-NEXT:      func.return %loss : tensor<f32>
// BOUND: func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 48 : i64} {
// INPUT: func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 56 : i64} {

// -----

// ==== a recomputed value stays next to its use ===================================================
//
// %h2 (qtrain-insert-checkpoints' recomputation of %h, from the input) is ready from the
// start and is the cheapest allocation there (64 bytes); without the rule the greedy
// schedule would compute it first and hold it through the whole forward. It is taken only
// when nothing else is ready: after %dz, right before %dw. All candidates are the input
// order (peak 2248 at %dw: %loss 8 + %dz 128 + %h2 64 + %dw 2048).

qtrain.param @fc.weight trainable : tensor<32x16xf32> = dense<1.000000e-01> : tensor<32x16xf32>
func.func @train_step(%x: tensor<1x16xf32>, %t: tensor<1xi32>, %w3: tensor<2x32xf32>) -> tensor<f32> {
  %h = qtrain.relu %x : tensor<1x16xf32>
  %w = qtrain.load @fc.weight : tensor<32x16xf32>
  %z = qtrain.dense %h, %w : (tensor<1x16xf32>, tensor<32x16xf32>) -> tensor<1x32xf32>
  %y = qtrain.dense %z, %w3 : (tensor<1x32xf32>, tensor<2x32xf32>) -> tensor<1x2xf32>
  %loss = qtrain.softmax_cross_entropy %y, %t : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
  %dy = qtrain.softmax_cross_entropy_grad %y, %t : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
  %dz = qtrain.dense_grad_input %dy, %w3 : (tensor<1x2xf32>, tensor<2x32xf32>) -> tensor<1x32xf32>
  %h2 = qtrain.relu %x {qtrain.recompute} : tensor<1x16xf32>
  %dw = qtrain.dense_grad_weight %h2, %dz : (tensor<1x16xf32>, tensor<1x32xf32>) -> tensor<32x16xf32>
  qtrain.sgd_update @fc.weight, %dw lr 1.000000e-02 : tensor<32x16xf32>
  func.return %loss : tensor<f32>
}
// CHECK-LABEL:   func.func @train_step(%x: tensor<1x16xf32>, %t: tensor<1xi32>, %w3: tensor<2x32xf32>) -> tensor<f32> {
// CHECK-NEXT:      %h = qtrain.relu %x : tensor<1x16xf32>
// CHECK-NEXT:      %w = qtrain.load @fc.weight : tensor<32x16xf32>
// CHECK-NEXT:      %z = qtrain.dense %h, %w : (tensor<1x16xf32>, tensor<32x16xf32>) -> tensor<1x32xf32>
// CHECK-NEXT:      %y = qtrain.dense %z, %w3 : (tensor<1x32xf32>, tensor<2x32xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %loss = qtrain.softmax_cross_entropy %y, %t : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<f32>
// CHECK-NEXT:      %dy = qtrain.softmax_cross_entropy_grad %y, %t : (tensor<1x2xf32>, tensor<1xi32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %dz = qtrain.dense_grad_input %dy, %w3 : (tensor<1x2xf32>, tensor<2x32xf32>) -> tensor<1x32xf32>
// CHECK-NEXT:      %h2 = qtrain.relu %x {qtrain.recompute} : tensor<1x16xf32>
// CHECK-NEXT:      %dw = qtrain.dense_grad_weight %h2, %dz : (tensor<1x16xf32>, tensor<1x32xf32>) -> tensor<32x16xf32>
// CHECK-NEXT:      qtrain.sgd_update @fc.weight, %dw lr 1.000000e-02 : tensor<32x16xf32>
// CHECK-NEXT:      func.return %loss : tensor<f32>
// BOUND: func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 2248 : i64} {
// INPUT: func.func @train_step({{.*}}) -> tensor<f32> attributes {qtrain.arena_bytes = {{[0-9]+}} : i64, qtrain.arena_lower_bound = 2248 : i64} {
