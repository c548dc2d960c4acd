// qtrain-bufferize decides where every tensor value lives and for how long. Each op with a
// tensor result gets exactly one of:
//   qtrain.alias                       reshape/flatten: the input's buffer, reinterpreted;
//   qtrain.bytes + qtrain.live [i, j]  an arena buffer written by op i (its index in the
//                                      block) and last read by op j, through any aliases;
//   nothing                            a qtrain.load read in place from the symbol's storage
//                                      (no op writes the symbol while the value is live).
// The quantized layers also get qtrain.scratch_bytes, their kernel's working memory.
//
// Every number below is worked out by hand in the comment above the function: f32 and i32
// are 4 bytes per element, the !qtrain.q storages 1 (8-bit); `#i` is an op's index,
// counting every op of the block, func.return included. Function arguments belong to the
// caller and get nothing.
//
// RUN: odtc-opt %s --split-input-file -p qtrain-bufferize | filecheck %s --match-full-lines
// The pass first removes any earlier annotation, so running it twice changes nothing.
// RUN: odtc-opt %s --split-input-file -p qtrain-bufferize,qtrain-bufferize | filecheck %s --match-full-lines

// ==== dense - relu - aliases - add: live ranges through aliases, a dead value, the result ======
//
//   #0 %w    load, nothing writes @chain.w               -> in place, no annotation
//   #1 %b    load, nothing writes @chain.b               -> in place
//   #2 %h    1x4 = 16 B, read by #3 and #7               -> live [2, 7]
//   #3 %r    1x4 = 16 B, read by #4, by #5 (reshape), and through %f, %g by #7
//                                                        -> live [3, 7]
//   #4 %dead 1x4 = 16 B, never read                      -> live [4, 4]
//   #5 %f    reshape of %r                               -> alias
//   #6 %g    reshape of %f (an alias of an alias)        -> alias
//   #7 %s    1x4 = 16 B, returned by #8                  -> live [7, 8]

qtrain.param @chain.w trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32>
qtrain.param @chain.b trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
func.func @chain(%x: tensor<1x3xf32>) -> tensor<1x4xf32> {
  %w = qtrain.load @chain.w : tensor<4x3xf32>
  %b = qtrain.load @chain.b : tensor<4xf32>
  %h = qtrain.dense %x, %w, %b : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  %r = qtrain.relu %h : tensor<1x4xf32>
  %dead = qtrain.relu6 %r : tensor<1x4xf32>
  %f = qtrain.reshape %r : tensor<1x4xf32> -> tensor<4xf32>
  %g = qtrain.reshape %f : tensor<4xf32> -> tensor<1x4xf32>
  %s = qtrain.add %g, %h : tensor<1x4xf32>
  func.return %s : tensor<1x4xf32>
}
// CHECK-LABEL:   func.func @chain(%x: tensor<1x3xf32>) -> tensor<1x4xf32> {
// CHECK-NEXT:      %w = qtrain.load @chain.w : tensor<4x3xf32>
// CHECK-NEXT:      %b = qtrain.load @chain.b : tensor<4xf32>
// CHECK-NEXT:      %h = qtrain.dense %x, %w, %b {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 2, 7>} : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:      %r = qtrain.relu %h {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 3, 7>} : tensor<1x4xf32>
// CHECK-NEXT:      %dead = qtrain.relu6 %r {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 4, 4>} : tensor<1x4xf32>
// CHECK-NEXT:      %f = qtrain.reshape %r {qtrain.alias} : tensor<1x4xf32> -> tensor<4xf32>
// CHECK-NEXT:      %g = qtrain.reshape %f {qtrain.alias} : tensor<4xf32> -> tensor<1x4xf32>
// CHECK-NEXT:      %s = qtrain.add %g, %h {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 7, 8>} : tensor<1x4xf32>
// CHECK-NEXT:      func.return %s : tensor<1x4xf32>
// CHECK-NEXT:    }

// -----

// ==== conv - flatten - dense - reshape: a returned alias keeps its source live ==================
//
// Stale annotations on the input (a wrong size, an offset, an alias mark on a conv) are
// dropped and recomputed.
//   #0 %c 1x2x2x2 = 8 elts = 32 B, read through %f by #2      -> live [0, 2]
//   #1 %f flatten of %c                                       -> alias
//   #2 %y 1x3 = 12 B, read through %o by func.return (#4)     -> live [2, 4]
//   #3 %o reshape of %y                                       -> alias

func.func @conv(%x: tensor<1x1x4x4xf32>, %w: tensor<2x1x3x3xf32>, %wf: tensor<3x8xf32>) -> tensor<3xf32> {
  %c = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 {qtrain.alias, qtrain.offset = 64 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x2x2xf32>
  %f = qtrain.flatten %c axis 1 {qtrain.bytes = 1 : i64, qtrain.live = array<i64: 0, 0>} : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
  %y = qtrain.dense %f, %wf {qtrain.scratch_bytes = 8 : i64} : (tensor<1x8xf32>, tensor<3x8xf32>) -> tensor<1x3xf32>
  %o = qtrain.reshape %y : tensor<1x3xf32> -> tensor<3xf32>
  func.return %o : tensor<3xf32>
}
// CHECK-LABEL:   func.func @conv(%x: tensor<1x1x4x4xf32>, %w: tensor<2x1x3x3xf32>, %wf: tensor<3x8xf32>) -> tensor<3xf32> {
// CHECK-NEXT:      %c = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 {qtrain.bytes = 32 : i64, qtrain.live = array<i64: 0, 2>} : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:      %f = qtrain.flatten %c axis 1 {qtrain.alias} : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
// CHECK-NEXT:      %y = qtrain.dense %f, %wf {qtrain.bytes = 12 : i64, qtrain.live = array<i64: 2, 4>} : (tensor<1x8xf32>, tensor<3x8xf32>) -> tensor<1x3xf32>
// CHECK-NEXT:      %o = qtrain.reshape %y {qtrain.alias} : tensor<1x3xf32> -> tensor<3xf32>
// CHECK-NEXT:      func.return %o : tensor<3xf32>
// CHECK-NEXT:    }

// -----

// ==== loads: in place unless the symbol is written while the loaded value is still read ========
//
// @copy_store: @acc is overwritten by #2 and %old is read again by #3, so %old must be a
// copy taken at #0.
//   #0 %old 4 f32 = 16 B, read by #1 and #3 (written over by #2)  -> copy, live [0, 3]
//   #1 %new 16 B, read by #2 (the store) and #3                   -> live [1, 3]
//   #3 %out 16 B, returned by #4                                  -> live [3, 4]
// @inplace_store: the same, but %old is not read after the store -> in place.
//   #1 %new 16 B, read by #2 and returned by #3                   -> live [1, 3]

qtrain.state @acc : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
func.func @copy_store(%x: tensor<4xf32>) -> tensor<4xf32> {
  %old = qtrain.load @acc : tensor<4xf32>
  %new = qtrain.add %old, %x : tensor<4xf32>
  qtrain.store %new, @acc : tensor<4xf32>
  %out = qtrain.add %old, %new : tensor<4xf32>
  func.return %out : tensor<4xf32>
}
func.func @inplace_store(%x: tensor<4xf32>) -> tensor<4xf32> {
  %old = qtrain.load @acc : tensor<4xf32>
  %new = qtrain.add %old, %x : tensor<4xf32>
  qtrain.store %new, @acc : tensor<4xf32>
  func.return %new : tensor<4xf32>
}
// CHECK-LABEL:   func.func @copy_store(%x: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:      %old = qtrain.load @acc {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 0, 3>} : tensor<4xf32>
// CHECK-NEXT:      %new = qtrain.add %old, %x {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 1, 3>} : tensor<4xf32>
// CHECK-NEXT:      qtrain.store %new, @acc : tensor<4xf32>
// CHECK-NEXT:      %out = qtrain.add %old, %new {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 3, 4>} : tensor<4xf32>
// CHECK-NEXT:      func.return %out : tensor<4xf32>
// CHECK-NEXT:    }
// CHECK-LABEL:   func.func @inplace_store(%x: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:      %old = qtrain.load @acc : tensor<4xf32>
// CHECK-NEXT:      %new = qtrain.add %old, %x {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 1, 3>} : tensor<4xf32>
// CHECK-NEXT:      qtrain.store %new, @acc : tensor<4xf32>
// CHECK-NEXT:      func.return %new : tensor<4xf32>
// CHECK-NEXT:    }

// -----

// ==== loads around optimizer updates ===========================================================
//
// An update writes its parameter and every state it names (velocity, accumulator); a
// counter_step writes its counter.
//   #0 %w   load @upd.w; @upd.w is written by #3 and %w is read after it, through %wr,
//           by #5                                          -> copy, 2x3 = 24 B, live [0, 5]
//   #1 %g   2x3 = 24 B, read by #3                         -> live [1, 3]
//   #2 %v   load @upd.w.velocity, written by #3, read by #5 -> copy, 24 B, live [2, 5]
//   #3      momentum_update
//   #4 %wr  reshape of %w                                  -> alias
//   #5 %s   24 B, returned by #6                           -> live [5, 6]

qtrain.param @upd.w trainable : tensor<2x3xf32> = dense<1.000000e-01> : tensor<2x3xf32>
qtrain.state @upd.w.velocity : tensor<2x3xf32> = dense<0.000000e+00> : tensor<2x3xf32>
func.func @momentum(%x: tensor<1x3xf32>, %dy: tensor<1x2xf32>) -> tensor<2x3xf32> {
  %w = qtrain.load @upd.w : tensor<2x3xf32>
  %g = qtrain.dense_grad_weight %x, %dy : (tensor<1x3xf32>, tensor<1x2xf32>) -> tensor<2x3xf32>
  %v = qtrain.load @upd.w.velocity : tensor<2x3xf32>
  qtrain.momentum_update @upd.w, %g velocity @upd.w.velocity lr 1.000000e-02 momentum 9.000000e-01 : tensor<2x3xf32>
  %wr = qtrain.reshape %w : tensor<2x3xf32> -> tensor<2x3xf32>
  %s = qtrain.add %wr, %v : tensor<2x3xf32>
  func.return %s : tensor<2x3xf32>
}
// CHECK-LABEL:   func.func @momentum(%x: tensor<1x3xf32>, %dy: tensor<1x2xf32>) -> tensor<2x3xf32> {
// CHECK-NEXT:      %w = qtrain.load @upd.w {qtrain.bytes = 24 : i64, qtrain.live = array<i64: 0, 5>} : tensor<2x3xf32>
// CHECK-NEXT:      %g = qtrain.dense_grad_weight %x, %dy {qtrain.bytes = 24 : i64, qtrain.live = array<i64: 1, 3>} : (tensor<1x3xf32>, tensor<1x2xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:      %v = qtrain.load @upd.w.velocity {qtrain.bytes = 24 : i64, qtrain.live = array<i64: 2, 5>} : tensor<2x3xf32>
// CHECK-NEXT:      qtrain.momentum_update @upd.w, %g velocity @upd.w.velocity lr 1.000000e-02 momentum 9.000000e-01 : tensor<2x3xf32>
// CHECK-NEXT:      %wr = qtrain.reshape %w {qtrain.alias} : tensor<2x3xf32> -> tensor<2x3xf32>
// CHECK-NEXT:      %s = qtrain.add %wr, %v {qtrain.bytes = 24 : i64, qtrain.live = array<i64: 5, 6>} : tensor<2x3xf32>
// CHECK-NEXT:      func.return %s : tensor<2x3xf32>
// CHECK-NEXT:    }

// Mini-batch accumulation, as qtrain-autodiff{batch-size=2} emits it.
//   #0 %y   1x2 = 8 B, read by #2                                   -> live [0, 2]
//   #1 %w   load @bat.w, last read by #2; the update writing @bat.w
//           comes later (#4)                                        -> in place
//   #2 %dx  1x3 = 12 B, returned by #8                              -> live [2, 8]
//   #3 %pos load @bat.pos, read by #4 and #5; the counter_step
//           writing @bat.pos is #6, after them                      -> in place
//   #4, #5  updates accumulating into @bat.w.acc and @bat.b.acc
//   #6      counter_step @bat.pos
//   #7 %a   load @bat.w.acc after the update wrote it; nothing writes
//           it again before the return                              -> in place

qtrain.param @bat.w trainable : tensor<2x3xf32> = dense<1.000000e-01> : tensor<2x3xf32>
qtrain.param @bat.b trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.state @bat.pos : tensor<i32> = dense<0> : tensor<i32>
qtrain.state @bat.w.acc : tensor<2x3xf32> = dense<0.000000e+00> : tensor<2x3xf32>
qtrain.state @bat.b.acc : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @batched(%x: tensor<1x3xf32>, %gw: tensor<2x3xf32>, %gb: tensor<2xf32>) -> (tensor<1x3xf32>, tensor<2x3xf32>) {
  %y = qtrain.dense %x, %gw : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  %w = qtrain.load @bat.w : tensor<2x3xf32>
  %dx = qtrain.dense_grad_input %y, %w : (tensor<1x2xf32>, tensor<2x3xf32>) -> tensor<1x3xf32>
  %pos = qtrain.load @bat.pos : tensor<i32>
  qtrain.sgd_update @bat.w, %gw lr 1.000000e-02 accumulate @bat.w.acc every 2 at %pos : tensor<2x3xf32>, tensor<i32>
  qtrain.sgd_update @bat.b, %gb lr 1.000000e-02 accumulate @bat.b.acc every 2 at %pos : tensor<2xf32>, tensor<i32>
  qtrain.counter_step @bat.pos modulo 2
  %a = qtrain.load @bat.w.acc : tensor<2x3xf32>
  func.return %dx, %a : tensor<1x3xf32>, tensor<2x3xf32>
}
// CHECK-LABEL:   func.func @batched(%x: tensor<1x3xf32>, %gw: tensor<2x3xf32>, %gb: tensor<2xf32>) -> (tensor<1x3xf32>, tensor<2x3xf32>) {
// CHECK-NEXT:      %y = qtrain.dense %x, %gw {qtrain.bytes = 8 : i64, qtrain.live = array<i64: 0, 2>} : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %w = qtrain.load @bat.w : tensor<2x3xf32>
// CHECK-NEXT:      %dx = qtrain.dense_grad_input %y, %w {qtrain.bytes = 12 : i64, qtrain.live = array<i64: 2, 8>} : (tensor<1x2xf32>, tensor<2x3xf32>) -> tensor<1x3xf32>
// CHECK-NEXT:      %pos = qtrain.load @bat.pos : tensor<i32>
// CHECK-NEXT:      qtrain.sgd_update @bat.w, %gw lr 1.000000e-02 accumulate @bat.w.acc every 2 at %pos : tensor<2x3xf32>, tensor<i32>
// CHECK-NEXT:      qtrain.sgd_update @bat.b, %gb lr 1.000000e-02 accumulate @bat.b.acc every 2 at %pos : tensor<2xf32>, tensor<i32>
// CHECK-NEXT:      qtrain.counter_step @bat.pos modulo 2
// CHECK-NEXT:      %a = qtrain.load @bat.w.acc : tensor<2x3xf32>
// CHECK-NEXT:      func.return %dx, %a : tensor<1x3xf32>, tensor<2x3xf32>
// CHECK-NEXT:    }

// The counter stepped before the update reads the position: the update must see the old
// value, so %pos is a copy. An i32 scalar is 4 B.
//   #0 %pos load @bat.pos, written by #1, read by #2 -> copy, 4 B, live [0, 2]
//   #3 %a   load @bat.w.acc: read by the return (#4) after the update (#2) -> in place
func.func @counter_first(%gw: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %pos = qtrain.load @bat.pos : tensor<i32>
  qtrain.counter_step @bat.pos modulo 2
  qtrain.sgd_update @bat.w, %gw lr 1.000000e-02 accumulate @bat.w.acc every 2 at %pos : tensor<2x3xf32>, tensor<i32>
  %a = qtrain.load @bat.w.acc : tensor<2x3xf32>
  func.return %a : tensor<2x3xf32>
}
// CHECK-LABEL:   func.func @counter_first(%gw: tensor<2x3xf32>) -> tensor<2x3xf32> {
// CHECK-NEXT:      %pos = qtrain.load @bat.pos {qtrain.bytes = 4 : i64, qtrain.live = array<i64: 0, 2>} : tensor<i32>
// CHECK-NEXT:      qtrain.counter_step @bat.pos modulo 2
// CHECK-NEXT:      qtrain.sgd_update @bat.w, %gw lr 1.000000e-02 accumulate @bat.w.acc every 2 at %pos : tensor<2x3xf32>, tensor<i32>
// CHECK-NEXT:      %a = qtrain.load @bat.w.acc : tensor<2x3xf32>
// CHECK-NEXT:      func.return %a : tensor<2x3xf32>
// CHECK-NEXT:    }

// -----

// ==== quantized layers: scratch bytes ===========================================================
//
// qconv2d needs 8·o + max(8192, 2·I·kh·kw, 4·(4·(o/groups) + kw + 16 + ceil(I·kh/2)·(3·kw + 8)))
// bytes of scratch (I = c/groups; ODTC_CONV2D_Q8_SCRATCH_BYTES), qdense 8·o + 2·k.
//   #0 %y  qconv2d, x 1x3x4x4, w 3x1x3x3, groups 3 (depthwise): o = 3, c/groups = 1
//          scratch 8·3 + max(8192, 18, 4·(4 + 3 + 16 + 2·17)) = 24 + 8192 = 8216 B; out 1x3x2x2 ui8 = 12 B, read through %f by
//          #2                                               -> live [0, 2]
//   #1 %f  flatten of %y                                    -> alias
//   #2 %z  qdense, x 1x12, w 5x12: scratch 8·5 + 2·12 = 64 B; out 1x5 si8 = 5 B, returned
//          by #3                                            -> live [2, 3]

func.func @quant(%x: tensor<1x3x4x4x!qtrain.q<ui8, asym>>, %sx: tensor<f32>, %zx: tensor<i32>, %w: tensor<3x1x3x3x!qtrain.q<si8, sym, axis 0>>, %sw: tensor<3xf32>, %zw: tensor<3xi32>, %w2: tensor<5x12x!qtrain.q<si8, sym>>, %sw2: tensor<f32>, %zw2: tensor<i32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<1x5x!qtrain.q<si8, asym>> {
  %y = qtrain.qconv2d %x[%sx, %zx], %w[%sw, %zw] -> [%s, %z] stride [1, 1] padding [0, 0, 0, 0] groups 3 activation "relu" : (tensor<1x3x4x4x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<3x1x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<3xf32>, tensor<3xi32>, tensor<f32>, tensor<i32>) -> tensor<1x3x2x2x!qtrain.q<ui8, asym>>
  %f = qtrain.flatten %y axis 1 : tensor<1x3x2x2x!qtrain.q<ui8, asym>> -> tensor<1x12x!qtrain.q<ui8, asym>>
  %z2 = qtrain.qdense %f[%s, %z], %w2[%sw2, %zw2] -> [%s, %z] activation "none" : (tensor<1x12x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<5x12x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x5x!qtrain.q<si8, asym>>
  func.return %z2 : tensor<1x5x!qtrain.q<si8, asym>>
}
// CHECK-LABEL:   func.func @quant({{.*}}) -> tensor<1x5x!qtrain.q<si8, asym>> {
// CHECK-NEXT:      %y = qtrain.qconv2d %x[%sx, %zx], %w[%sw, %zw] -> [%s, %z] stride [1, 1] padding [0, 0, 0, 0] groups 3 activation "relu" {qtrain.scratch_bytes = 8216 : i64, qtrain.bytes = 12 : i64, qtrain.live = array<i64: 0, 2>} : {{.*}}
// CHECK-NEXT:      %f = qtrain.flatten %y axis 1 {qtrain.alias} : tensor<1x3x2x2x!qtrain.q<ui8, asym>> -> tensor<1x12x!qtrain.q<ui8, asym>>
// CHECK-NEXT:      %z2 = qtrain.qdense %f[%s, %z], %w2[%sw2, %zw2] -> [%s, %z] activation "none" {qtrain.scratch_bytes = 64 : i64, qtrain.bytes = 5 : i64, qtrain.live = array<i64: 2, 3>} : {{.*}}
// CHECK-NEXT:      func.return %z2 : tensor<1x5x!qtrain.q<si8, asym>>
// CHECK-NEXT:    }

// -----

// ==== inplace=true: relu/relu6/add write over an operand that dies there ==================
//
// In @chain, %a reads the argument (never overwritten), so it gets its own 16-byte buffer.
// %a's last reader is op 1, so %b takes over %a's buffer (operand 0); %b's last reader is
// op 2, so %c does too. %a's buffer therefore lives from op 0 to the return at op 3.
// In @shared, %a is still read by op 2 after op 1, so %b gets a buffer of its own
// (live [1, 2]); at op 2 both operands die and %c takes over operand 0 (%a's buffer, live
// [0, 3]).

// RUN: odtc-opt %s --split-input-file -p 'qtrain-bufferize{inplace=true}' | filecheck %s --check-prefix=INPLACE --match-full-lines

func.func @chain(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %a = qtrain.relu %x : tensor<1x4xf32>
  %b = qtrain.relu6 %a : tensor<1x4xf32>
  %c = qtrain.add %b, %b : tensor<1x4xf32>
  func.return %c : tensor<1x4xf32>
}
// INPLACE-LABEL: func.func @chain(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
// INPLACE-NEXT:    %a = qtrain.relu %x {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 0, 3>} : tensor<1x4xf32>
// INPLACE-NEXT:    %b = qtrain.relu6 %a {qtrain.inplace = 0 : i64} : tensor<1x4xf32>
// INPLACE-NEXT:    %c = qtrain.add %b, %b {qtrain.inplace = 0 : i64} : tensor<1x4xf32>
// INPLACE-NEXT:    func.return %c : tensor<1x4xf32>

func.func @shared(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %a = qtrain.relu %x : tensor<1x4xf32>
  %b = qtrain.relu %a : tensor<1x4xf32>
  %c = qtrain.add %a, %b : tensor<1x4xf32>
  func.return %c : tensor<1x4xf32>
}
// INPLACE-LABEL: func.func @shared(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
// INPLACE-NEXT:    %a = qtrain.relu %x {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 0, 3>} : tensor<1x4xf32>
// INPLACE-NEXT:    %b = qtrain.relu %a {qtrain.bytes = 16 : i64, qtrain.live = array<i64: 1, 2>} : tensor<1x4xf32>
// INPLACE-NEXT:    %c = qtrain.add %a, %b {qtrain.inplace = 0 : i64} : tensor<1x4xf32>
// INPLACE-NEXT:    func.return %c : tensor<1x4xf32>
