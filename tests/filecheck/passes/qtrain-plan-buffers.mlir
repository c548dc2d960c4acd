// qtrain-plan-buffers places every buffer qtrain-bufferize sized (qtrain.bytes with its live
// range, and the qtrain.scratch_bytes of an op, live at that op only) at a static offset in one
// arena. Sizes count in units of `alignment`. The planner tries greedy placements in a fixed
// sequence of orderings — by size (largest first, ties: earlier first index; this first
// candidate is TFLite Micro's greedy by size), by lifetime (longest first, then larger, then
// earlier), by start (earliest first, then larger, then longer), by conflicts, by area — each
// with first fit (the lowest multiple of `alignment` that clears every already placed buffer
// whose live range intersects its own) and then best fit (the tightest such gap), and stops
// at the first that reaches the lower bound; above it, a local search and, for small groups,
// an exact MILP follow (passes/plan_buffers.py). Each function gets qtrain.arena_bytes (its
// highest end, aligned) and qtrain.arena_lower_bound (the largest sum of aligned sizes live
// at one index: no placement can do better); the module gets the largest
// qtrain.arena_bytes of its functions.
//
// The plans below are worked out by hand next to each function, as [start, end) in bytes.
// `#i` is an op's index in its block. In the f32 chunks the weights are function
// arguments, so every op but func.return makes one buffer.
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-bufferize,qtrain-plan-buffers' | filecheck %s --match-full-lines
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-bufferize,qtrain-plan-buffers{alignment=16}' | filecheck %s --match-full-lines --check-prefix=A16
//
// The alignment must be a power of two; the pass fails before looking at the module.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-bufferize,qtrain-plan-buffers{alignment=3}' | filecheck %s --match-full-lines --check-prefix=ALIGN3
// ALIGN3:     qtrain-plan-buffers: alignment must be a power of two up to 16, got 3
// ALIGN3-NOT: builtin.module {
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-bufferize,qtrain-plan-buffers{alignment=0}' | filecheck %s --match-full-lines --check-prefix=ALIGN0
// ALIGN0:     qtrain-plan-buffers: alignment must be a power of two up to 16, got 0
// ALIGN0-NOT: builtin.module {
//
// Without qtrain-bufferize, the planner refuses functions it has no sizes for (see the last
// chunks for the messages).
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p qtrain-plan-buffers | filecheck %s --match-full-lines --check-prefix=ALONE

// ==== two chains in one module: the module arena is the larger function arena ==================
//
// @fits: greedy meets the lower bound.
//   #0 %a 1x8 = 32 B, live [0, 1]     #1 %r 1x8 = 32 B, live [1, 2]     #2 %y 1x2 = 8 B, live [2, 3]
//   by size: %a -> 0. %r overlaps %a [0, 32) in time -> 32. %y overlaps only %r [32, 64)
//   in time -> 0 (8 B fit below 32). Arena 64.
//   Lower bound: at #1, %a + %r = 64. At #2, %r + %y = 40.                   -> 64 = 64.
//   alignment 16: %y is 16 B aligned; same offsets, arena 64, bound max(64, 32 + 16) = 64.
//
// @exceeds: greedy by size is not optimal; a later ordering is.
//   #0 %a 1x8 = 32 B, live [0, 1]     #1 %b 1x6 = 24 B, live [1, 2]
//   #2 %c 1x6 = 24 B, live [2, 3]     #3 %d 1x8 = 32 B, live [3, 4]
//   Lower bound: #1 32 + 24 = 56, #2 24 + 24 = 48, #3 24 + 32 = 56          -> 56.
//   by size (ties by first index): %a, %d, %b, %c.
//   %a -> 0. %d: %a is dead by #3 -> 0. %b overlaps %a [0, 32) -> 32.
//   %c overlaps %b [32, 56) and %d [0, 32): 0 and 32 are taken -> 56. Arena 56 + 24 = 80.
//   best fit, same order: %d, %b as above (no gap below 32 fits 24 B next to %a [0, 32));
//   %c -> 56 again: 80.
//   by lifetime: every range is 2 ops long, so larger first, then earlier: the same order
//   as by size, 80 and 80.
//   by start: %a, %b, %c, %d. %a -> 0; %b overlaps %a -> 32; %c overlaps only %b
//   [32, 56), and 24 B fit below it -> 0; %d overlaps only %c [0, 24) -> 24.
//   Arena 24 + 32 = 56 = the bound: the planner stops here.
//   alignment 16: every buffer takes 32 B; bound 32 + 32 = 64. By size: %a 0, %d 0, %b 32,
//   %c 64 -> 96 (first and best fit alike). By lifetime (all 2 ops long and 32 B, so by
//   first index): %a 0, %b 32, %c 0 (below %b), %d 32 (above %c) -> 64 = the bound.
// Module: max(64, 56) = 64; alignment 16: max(64, 64) = 64.

func.func @fits(%x: tensor<1x4xf32>, %w1: tensor<8x4xf32>, %w2: tensor<2x8xf32>) -> tensor<1x2xf32> {
  %a = qtrain.dense %x, %w1 : (tensor<1x4xf32>, tensor<8x4xf32>) -> tensor<1x8xf32>
  %r = qtrain.relu %a : tensor<1x8xf32>
  %y = qtrain.dense %r, %w2 : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
func.func @exceeds(%x: tensor<1x4xf32>, %w1: tensor<8x4xf32>, %w2: tensor<6x8xf32>, %w3: tensor<8x6xf32>) -> tensor<1x8xf32> {
  %a = qtrain.dense %x, %w1 : (tensor<1x4xf32>, tensor<8x4xf32>) -> tensor<1x8xf32>
  %b = qtrain.dense %a, %w2 : (tensor<1x8xf32>, tensor<6x8xf32>) -> tensor<1x6xf32>
  %c = qtrain.relu %b : tensor<1x6xf32>
  %d = qtrain.dense %c, %w3 : (tensor<1x6xf32>, tensor<8x6xf32>) -> tensor<1x8xf32>
  func.return %d : tensor<1x8xf32>
}
// CHECK-LABEL:   builtin.module attributes {qtrain.arena_bytes = 64 : i64} {
// CHECK-NEXT:      func.func @fits(%x: tensor<1x4xf32>, %w1: tensor<8x4xf32>, %w2: tensor<2x8xf32>) -> tensor<1x2xf32> attributes {qtrain.arena_bytes = 64 : i64, qtrain.arena_lower_bound = 64 : i64} {
// CHECK-NEXT:        %a = qtrain.dense %x, %w1 {qtrain.bytes = 32 : i64, qtrain.live = array<i64: 0, 1>, qtrain.offset = 0 : i64} : (tensor<1x4xf32>, tensor<8x4xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:        %r = qtrain.relu %a {qtrain.bytes = 32 : i64, qtrain.live = array<i64: 1, 2>, qtrain.offset = 32 : i64} : tensor<1x8xf32>
// CHECK-NEXT:        %y = qtrain.dense %r, %w2 {qtrain.bytes = 8 : i64, qtrain.live = array<i64: 2, 3>, qtrain.offset = 0 : i64} : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:        func.return %y : tensor<1x2xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      func.func @exceeds(%x: tensor<1x4xf32>, %w1: tensor<8x4xf32>, %w2: tensor<6x8xf32>, %w3: tensor<8x6xf32>) -> tensor<1x8xf32> attributes {qtrain.arena_bytes = 56 : i64, qtrain.arena_lower_bound = 56 : i64} {
// CHECK-NEXT:        %a = qtrain.dense %x, %w1 {qtrain.bytes = 32 : i64, qtrain.live = array<i64: 0, 1>, qtrain.offset = 0 : i64} : (tensor<1x4xf32>, tensor<8x4xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:        %b = qtrain.dense %a, %w2 {qtrain.bytes = 24 : i64, qtrain.live = array<i64: 1, 2>, qtrain.offset = 32 : i64} : (tensor<1x8xf32>, tensor<6x8xf32>) -> tensor<1x6xf32>
// CHECK-NEXT:        %c = qtrain.relu %b {qtrain.bytes = 24 : i64, qtrain.live = array<i64: 2, 3>, qtrain.offset = 0 : i64} : tensor<1x6xf32>
// CHECK-NEXT:        %d = qtrain.dense %c, %w3 {qtrain.bytes = 32 : i64, qtrain.live = array<i64: 3, 4>, qtrain.offset = 24 : i64} : (tensor<1x6xf32>, tensor<8x6xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:        func.return %d : tensor<1x8xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }

// A16-LABEL:     builtin.module attributes {qtrain.arena_bytes = 64 : i64} {
// A16-NEXT:        func.func @fits({{.*}}) -> tensor<1x2xf32> attributes {qtrain.arena_bytes = 64 : i64, qtrain.arena_lower_bound = 64 : i64} {
// A16-NEXT:          %a = qtrain.dense %x, %w1 {{{.*}}, qtrain.offset = 0 : i64} : {{.*}}
// A16-NEXT:          %r = qtrain.relu %a {{{.*}}, qtrain.offset = 32 : i64} : {{.*}}
// A16-NEXT:          %y = qtrain.dense %r, %w2 {{{.*}}, qtrain.offset = 0 : i64} : {{.*}}
// A16:             func.func @exceeds({{.*}}) -> tensor<1x8xf32> attributes {qtrain.arena_bytes = 64 : i64, qtrain.arena_lower_bound = 64 : i64} {
// A16-NEXT:          %a = qtrain.dense %x, %w1 {{{.*}}, qtrain.offset = 0 : i64} : {{.*}}
// A16-NEXT:          %b = qtrain.dense %a, %w2 {{{.*}}, qtrain.offset = 32 : i64} : {{.*}}
// A16-NEXT:          %c = qtrain.relu %b {{{.*}}, qtrain.offset = 0 : i64} : {{.*}}
// A16-NEXT:          %d = qtrain.dense %c, %w3 {{{.*}}, qtrain.offset = 32 : i64} : {{.*}}

// ALONE: qtrain-plan-buffers: @fits is not bufferized (run qtrain-bufferize first)

// -----

// ==== a residual block: three buffers live at once ==============================================
//
//   #0 %a 1x8 = 32 B, live [0, 1]    #1 %r 32 B, read by #2 and #3, live [1, 3]
//   #2 %b 32 B, live [2, 3]          #3 %s = %b + %r, 32 B, live [3, 4]
//   #4 %y 1x2 = 8 B, returned, live [4, 5]
//   by size, then first index: %a, %r, %b, %s, %y.
//   %a -> 0. %r overlaps %a -> 32. %b overlaps %r [32, 64) only -> 0.
//   %s overlaps %r [32, 64) and %b [0, 32) -> 64. %y overlaps %s [64, 96) only -> 0.
//   Arena 96. Lower bound: at #3 %r + %b + %s = 96                           -> 96 = 96.
//   alignment 16: all sizes are multiples of 16 but %y (16 aligned); same plan, 96 and 96.

func.func @residual(%x: tensor<1x4xf32>, %w1: tensor<8x4xf32>, %w2: tensor<8x8xf32>, %w3: tensor<2x8xf32>) -> tensor<1x2xf32> {
  %a = qtrain.dense %x, %w1 : (tensor<1x4xf32>, tensor<8x4xf32>) -> tensor<1x8xf32>
  %r = qtrain.relu %a : tensor<1x8xf32>
  %b = qtrain.dense %r, %w2 : (tensor<1x8xf32>, tensor<8x8xf32>) -> tensor<1x8xf32>
  %s = qtrain.add %b, %r : tensor<1x8xf32>
  %y = qtrain.dense %s, %w3 : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK-LABEL:   builtin.module attributes {qtrain.arena_bytes = 96 : i64} {
// CHECK-NEXT:      func.func @residual(%x: tensor<1x4xf32>, %w1: tensor<8x4xf32>, %w2: tensor<8x8xf32>, %w3: tensor<2x8xf32>) -> tensor<1x2xf32> attributes {qtrain.arena_bytes = 96 : i64, qtrain.arena_lower_bound = 96 : i64} {
// CHECK-NEXT:        %a = qtrain.dense %x, %w1 {qtrain.bytes = 32 : i64, qtrain.live = array<i64: 0, 1>, qtrain.offset = 0 : i64} : (tensor<1x4xf32>, tensor<8x4xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:        %r = qtrain.relu %a {qtrain.bytes = 32 : i64, qtrain.live = array<i64: 1, 3>, qtrain.offset = 32 : i64} : tensor<1x8xf32>
// CHECK-NEXT:        %b = qtrain.dense %r, %w2 {qtrain.bytes = 32 : i64, qtrain.live = array<i64: 2, 3>, qtrain.offset = 0 : i64} : (tensor<1x8xf32>, tensor<8x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:        %s = qtrain.add %b, %r {qtrain.bytes = 32 : i64, qtrain.live = array<i64: 3, 4>, qtrain.offset = 64 : i64} : tensor<1x8xf32>
// CHECK-NEXT:        %y = qtrain.dense %s, %w3 {qtrain.bytes = 8 : i64, qtrain.live = array<i64: 4, 5>, qtrain.offset = 0 : i64} : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:        func.return %y : tensor<1x2xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// A16-LABEL:     builtin.module attributes {qtrain.arena_bytes = 96 : i64} {
// A16-NEXT:        func.func @residual({{.*}}) -> tensor<1x2xf32> attributes {qtrain.arena_bytes = 96 : i64, qtrain.arena_lower_bound = 96 : i64} {

// ALONE: qtrain-plan-buffers: @residual is not bufferized (run qtrain-bufferize first)

// -----

// ==== scratch buffers, aliases and in-place loads ================================================
//
// Scratch is live at its op only and gets qtrain.scratch_offset. Loads read in place and
// flatten (an alias) have no buffer of their own.
//   #0 %w  load, in place
//   #1 %y  qconv2d: out 1x3x2x2 ui8 = 12 B, live [1, 3] (read through %f by #3);
//          scratch 8·3 + 8192 = 8216 B (the kernel's 8 KiB workspace; see
//          passes/qtrain-bufferize.mlir), live at #1 only
//   #2 %f  flatten, alias
//   #3 %z  qdense: out 1x5 si8 = 5 B, live [3, 4]; scratch 8·5 + 2·12 = 64 B, live at #3
//   by size: scratch(#1) 8216, scratch(#3) 64, %y 12, %z 5.
//   scratch(#1) -> 0. scratch(#3): not live with it -> 0. %y overlaps both scratches:
//   [0, 8216) and [0, 64) -> 8216. %z overlaps scratch(#3) [0, 64) and %y [8216, 8228) -> 64.
//   Arena align(8228) = 8232. Lower bound: at #1, 8216 + 16 = 8232; at #3,
//   64 + 16 + 8 = 88                                                      -> 8232 = 8232.
//   alignment 16: %y: align16(8216) = 8224 -> 8224; %z -> 64;
//   arena align16(8236) = 8240, bound align16(8216) + 16 = 8224 + 16 = 8240.

qtrain.param @q.w frozen : tensor<3x1x3x3x!qtrain.q<si8, sym, axis 0>> = dense<1> : tensor<3x1x3x3xi8>
func.func @quant(%x: tensor<1x3x4x4x!qtrain.q<ui8, asym>>, %sx: tensor<f32>, %zx: tensor<i32>, %sw: tensor<3xf32>, %zw: tensor<3xi32>, %w2: tensor<5x12x!qtrain.q<si8, sym>>, %sw2: tensor<f32>, %zw2: tensor<i32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<1x5x!qtrain.q<si8, asym>> {
  %w = qtrain.load @q.w : tensor<3x1x3x3x!qtrain.q<si8, sym, axis 0>>
  %y = qtrain.qconv2d %x[%sx, %zx], %w[%sw, %zw] -> [%s, %z] stride [1, 1] padding [0, 0, 0, 0] groups 3 activation "relu" : (tensor<1x3x4x4x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<3x1x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<3xf32>, tensor<3xi32>, tensor<f32>, tensor<i32>) -> tensor<1x3x2x2x!qtrain.q<ui8, asym>>
  %f = qtrain.flatten %y axis 1 : tensor<1x3x2x2x!qtrain.q<ui8, asym>> -> tensor<1x12x!qtrain.q<ui8, asym>>
  %z2 = qtrain.qdense %f[%s, %z], %w2[%sw2, %zw2] -> [%s, %z] activation "none" : (tensor<1x12x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<5x12x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x5x!qtrain.q<si8, asym>>
  func.return %z2 : tensor<1x5x!qtrain.q<si8, asym>>
}
// CHECK-LABEL:   builtin.module attributes {qtrain.arena_bytes = 8232 : i64} {
// CHECK:           func.func @quant({{.*}}) -> tensor<1x5x!qtrain.q<si8, asym>> attributes {qtrain.arena_bytes = 8232 : i64, qtrain.arena_lower_bound = 8232 : i64} {
// CHECK-NEXT:        %w = qtrain.load @q.w : tensor<3x1x3x3x!qtrain.q<si8, sym, axis 0>>
// CHECK-NEXT:        %y = qtrain.qconv2d {{.*}} {qtrain.scratch_bytes = 8216 : i64, qtrain.bytes = 12 : i64, qtrain.live = array<i64: 1, 3>, qtrain.scratch_offset = 0 : i64, qtrain.offset = 8216 : i64} : {{.*}}
// CHECK-NEXT:        %f = qtrain.flatten %y axis 1 {qtrain.alias} : tensor<1x3x2x2x!qtrain.q<ui8, asym>> -> tensor<1x12x!qtrain.q<ui8, asym>>
// CHECK-NEXT:        %z2 = qtrain.qdense {{.*}} {qtrain.scratch_bytes = 64 : i64, qtrain.bytes = 5 : i64, qtrain.live = array<i64: 3, 4>, qtrain.scratch_offset = 0 : i64, qtrain.offset = 64 : i64} : {{.*}}
// CHECK-NEXT:        func.return %z2 : tensor<1x5x!qtrain.q<si8, asym>>
// A16-LABEL:     builtin.module attributes {qtrain.arena_bytes = 8240 : i64} {
// A16:             func.func @quant({{.*}}) -> tensor<1x5x!qtrain.q<si8, asym>> attributes {qtrain.arena_bytes = 8240 : i64, qtrain.arena_lower_bound = 8240 : i64} {
// A16-NEXT:          %w = qtrain.load @q.w : tensor<3x1x3x3x!qtrain.q<si8, sym, axis 0>>
// A16-NEXT:          %y = qtrain.qconv2d {{.*}} {{{.*}}, qtrain.scratch_offset = 0 : i64, qtrain.offset = 8224 : i64} : {{.*}}
// A16-NEXT:          %f = qtrain.flatten %y axis 1 {qtrain.alias} : tensor<1x3x2x2x!qtrain.q<ui8, asym>> -> tensor<1x12x!qtrain.q<ui8, asym>>
// A16-NEXT:          %z2 = qtrain.qdense {{.*}} {{{.*}}, qtrain.scratch_offset = 0 : i64, qtrain.offset = 64 : i64} : {{.*}}

// ALONE: qtrain-plan-buffers: @quant is not bufferized (run qtrain-bufferize first)

// -----

// ==== a hand-written bufferization: the planner alone, stale offsets re-planned =================
//
// The planner reads only the annotations (it does not care that a reshape would normally be
// an alias); the offsets on the input, which overlap, are replaced. Functions without tensor-producing ops need no plan: arena 0.
//   %a 16 B [0, 2], %b 8 B [1, 1] (dead), %c 16 B [2, 3].
//   %a -> 0. %c overlaps %a -> 16. %b overlaps %a -> 16. Arena 32; bound: at #2 16 + 16 = 32.

func.func @hand(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %a = "qtrain.relu"(%x) {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 0, 2>, qtrain.offset = 0 : i64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  %b = "qtrain.reshape"(%a) {qtrain.bytes = 8 : i64, qtrain.live = array<i64: 1, 1>, qtrain.offset = 0 : i64} : (tensor<1x4xf32>) -> tensor<4xf32>
  %c = "qtrain.relu"(%a) {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 2, 3>, qtrain.offset = 0 : i64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  func.return %c : tensor<1x4xf32>
}
func.func @nothing(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  func.return %x : tensor<1x4xf32>
}
// ALONE-LABEL:   builtin.module attributes {qtrain.arena_bytes = 32 : i64} {
// ALONE-NEXT:      func.func @hand(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {qtrain.arena_bytes = 32 : i64, qtrain.arena_lower_bound = 32 : i64} {
// ALONE-NEXT:        %a = qtrain.relu %x {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 0, 2>, qtrain.offset = 0 : i64} : tensor<1x4xf32>
// ALONE-NEXT:        %b = qtrain.reshape %a {qtrain.bytes = 8 : i64, qtrain.live = array<i64: 1, 1>, qtrain.offset = 16 : i64} : tensor<1x4xf32> -> tensor<4xf32>
// ALONE-NEXT:        %c = qtrain.relu %a {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 2, 3>, qtrain.offset = 16 : i64} : tensor<1x4xf32>
// ALONE-NEXT:        func.return %c : tensor<1x4xf32>
// ALONE-NEXT:      }
// ALONE-NEXT:      func.func @nothing(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {qtrain.arena_bytes = 0 : i64, qtrain.arena_lower_bound = 0 : i64} {
// ALONE-NEXT:        func.return %x : tensor<1x4xf32>
// ALONE-NEXT:      }
// ALONE-NEXT:    }

// -----

// ==== errors ===================================================================================

func.func @no_live(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %a = "qtrain.relu"(%x) {qtrain.bytes = 16 : i64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  func.return %a : tensor<1x4xf32>
}
// ALONE: qtrain-plan-buffers: qtrain.relu has qtrain.bytes but no qtrain.live
