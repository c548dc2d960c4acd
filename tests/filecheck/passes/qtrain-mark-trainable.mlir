// qtrain-mark-trainable sets `trainable`/`frozen` on every qtrain.param according to a
// transfer-learning mode, before qtrain-autodiff. Layers are the conv2d, dense and batchnorm
// ops of @forward in program order; running batch-norm statistics are never trainable.
//
// Every RUN line processes the whole file. The model in the first chunk starts with a mix of
// trainable and frozen params (even trainable running statistics and a stale `channels`), so
// each mode's CHECKs show it sets every flag itself.
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable' | filecheck %s --match-full-lines --check-prefix=FULL
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{trainable="fc*","bn.*"}' | filecheck %s --match-full-lines --check-prefix=GLOB
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=bias-only}' | filecheck %s --match-full-lines --check-prefix=BIAS
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=last-k k=2}' | filecheck %s --match-full-lines --check-prefix=LAST2
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=last-k k=3}' | filecheck %s --match-full-lines --check-prefix=LAST3
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=sparse bias-k=1 weights="conv2.weight:0.5"}' | filecheck %s --match-full-lines --check-prefix=SPARSE
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=sparse bias-k=2 weights="conv2.weight:0.5","fc.weight:1","conv1.weight:0.2"}' | filecheck %s --match-full-lines --check-prefix=SPARSE2

// Bad options fail on the first chunk already (and on every other chunk after it). k above the
// layer count and an unknown weight name are checked on the second chunk, under LAST2/SPARSE.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=freeze}' | filecheck %s --match-full-lines --check-prefix=MODE
// MODE: qtrain-mark-trainable: unknown mode 'freeze' (expected one of: full, bias-only, last-k, sparse)
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=last-k k=0}' | filecheck %s --match-full-lines --check-prefix=K0
// K0: qtrain-mark-trainable: k must be in [1, 4] (the model has 4 layers), got 0
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=sparse bias-k=5}' | filecheck %s --match-full-lines --check-prefix=BIASK
// BIASK: qtrain-mark-trainable: bias-k must be in [0, 4], got 5
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=sparse weights="conv2.weight"}' | filecheck %s --match-full-lines --check-prefix=NOCOLON
// NOCOLON: qtrain-mark-trainable: weights entry 'conv2.weight' must be name:ratio
// Only conv2d/dense weights can be sparse; a batch-norm gamma is a param but not one of them.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=sparse weights="bn.gamma:0.5"}' | filecheck %s --match-full-lines --check-prefix=NOTWEIGHT
// NOTWEIGHT: qtrain-mark-trainable: weights entry 'bn.gamma:0.5': no conv2d/dense weight named bn.gamma
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=sparse weights="conv2.weight:half"}' | filecheck %s --match-full-lines --check-prefix=NAN
// NAN: qtrain-mark-trainable: weights entry 'conv2.weight:half': ratio 'half' is not a number
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=sparse weights="conv2.weight:0"}' | filecheck %s --match-full-lines --check-prefix=RATIO0
// RATIO0: qtrain-mark-trainable: weights entry 'conv2.weight:0': ratio must be in (0, 1]
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=sparse weights="conv2.weight:1.5"}' | filecheck %s --match-full-lines --check-prefix=RATIO
// RATIO: qtrain-mark-trainable: weights entry 'conv2.weight:1.5': ratio must be in (0, 1]
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{mode=sparse}' | filecheck %s --match-full-lines --check-prefix=NONE
// NONE: qtrain-mark-trainable: mode sparse selects no parameter

qtrain.param @conv1.weight frozen : tensor<4x1x3x3xf32> = dense<1.000000e-01> : tensor<4x1x3x3xf32>
qtrain.param @conv1.bias frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
qtrain.param @bn.gamma frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
qtrain.param @bn.beta frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
qtrain.param @bn.mean trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
qtrain.param @bn.var trainable : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
qtrain.param @conv2.weight trainable : tensor<3x4x3x3xf32> = dense<5.000000e-02> : tensor<3x4x3x3xf32> {channels = array<i64: 1>}
qtrain.param @conv2.bias frozen : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
qtrain.param @fc.weight frozen : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
qtrain.param @fc.bias frozen : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @forward(%x: tensor<1x1x5x5xf32>) -> tensor<1x2xf32> {
  %w1 = qtrain.load @conv1.weight : tensor<4x1x3x3xf32>
  %b1 = qtrain.load @conv1.bias : tensor<4xf32>
  %c1 = qtrain.conv2d %x, %w1, %b1 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x5x5xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<1x4x3x3xf32>
  %g = qtrain.load @bn.gamma : tensor<4xf32>
  %be = qtrain.load @bn.beta : tensor<4xf32>
  %m = qtrain.load @bn.mean : tensor<4xf32>
  %v = qtrain.load @bn.var : tensor<4xf32>
  %n = qtrain.batchnorm %c1, %g, %be, %m, %v epsilon 1.000000e-05 : (tensor<1x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x3x3xf32>
  %r1 = qtrain.relu %n : tensor<1x4x3x3xf32>
  %w2 = qtrain.load @conv2.weight : tensor<3x4x3x3xf32>
  %b2 = qtrain.load @conv2.bias : tensor<3xf32>
  %c2 = qtrain.conv2d %r1, %w2, %b2 stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x4x3x3xf32>, tensor<3x4x3x3xf32>, tensor<3xf32>) -> tensor<1x3x1x1xf32>
  %r2 = qtrain.relu %c2 : tensor<1x3x1x1xf32>
  %f = qtrain.flatten %r2 axis 1 : tensor<1x3x1x1xf32> -> tensor<1x3xf32>
  %wf = qtrain.load @fc.weight : tensor<2x3xf32>
  %bf = qtrain.load @fc.bias : tensor<2xf32>
  %y = qtrain.dense %f, %wf, %bf : (tensor<1x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// Default (mode full, trainable="*"): every parameter except the running statistics; the
// stale `channels` on @conv2.weight is dropped (it trains whole).
// FULL-LABEL: builtin.module {
// FULL-NEXT:    qtrain.param @conv1.weight trainable : tensor<4x1x3x3xf32> = dense<1.000000e-01> : tensor<4x1x3x3xf32>
// FULL-NEXT:    qtrain.param @conv1.bias trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// FULL-NEXT:    qtrain.param @bn.gamma trainable : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// FULL-NEXT:    qtrain.param @bn.beta trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// FULL-NEXT:    qtrain.param @bn.mean frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// FULL-NEXT:    qtrain.param @bn.var frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// FULL-NEXT:    qtrain.param @conv2.weight trainable : tensor<3x4x3x3xf32> = dense<5.000000e-02> : tensor<3x4x3x3xf32>
// FULL-NEXT:    qtrain.param @conv2.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// FULL-NEXT:    qtrain.param @fc.weight trainable : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
// FULL-NEXT:    qtrain.param @fc.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
// FULL-NEXT:    func.func @forward(%x: tensor<1x1x5x5xf32>) -> tensor<1x2xf32> {

// Globs: fc* and bn.* match, but a glob never makes a running statistic trainable.
// GLOB-LABEL: builtin.module {
// GLOB-NEXT:    qtrain.param @conv1.weight frozen : tensor<4x1x3x3xf32> = dense<1.000000e-01> : tensor<4x1x3x3xf32>
// GLOB-NEXT:    qtrain.param @conv1.bias frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// GLOB-NEXT:    qtrain.param @bn.gamma trainable : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// GLOB-NEXT:    qtrain.param @bn.beta trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// GLOB-NEXT:    qtrain.param @bn.mean frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// GLOB-NEXT:    qtrain.param @bn.var frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// GLOB-NEXT:    qtrain.param @conv2.weight frozen : tensor<3x4x3x3xf32> = dense<5.000000e-02> : tensor<3x4x3x3xf32>
// GLOB-NEXT:    qtrain.param @conv2.bias frozen : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// GLOB-NEXT:    qtrain.param @fc.weight trainable : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
// GLOB-NEXT:    qtrain.param @fc.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
// GLOB-NEXT:    func.func @forward(%x: tensor<1x1x5x5xf32>) -> tensor<1x2xf32> {

// bias-only: every bias and the batch-norm beta.
// BIAS-LABEL: builtin.module {
// BIAS-NEXT:    qtrain.param @conv1.weight frozen : tensor<4x1x3x3xf32> = dense<1.000000e-01> : tensor<4x1x3x3xf32>
// BIAS-NEXT:    qtrain.param @conv1.bias trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// BIAS-NEXT:    qtrain.param @bn.gamma frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// BIAS-NEXT:    qtrain.param @bn.beta trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// BIAS-NEXT:    qtrain.param @bn.mean frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// BIAS-NEXT:    qtrain.param @bn.var frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// BIAS-NEXT:    qtrain.param @conv2.weight frozen : tensor<3x4x3x3xf32> = dense<5.000000e-02> : tensor<3x4x3x3xf32>
// BIAS-NEXT:    qtrain.param @conv2.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// BIAS-NEXT:    qtrain.param @fc.weight frozen : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
// BIAS-NEXT:    qtrain.param @fc.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
// BIAS-NEXT:    func.func @forward(%x: tensor<1x1x5x5xf32>) -> tensor<1x2xf32> {

// last-k k=2: all parameters of conv2 and fc.
// LAST2-LABEL: builtin.module {
// LAST2-NEXT:    qtrain.param @conv1.weight frozen : tensor<4x1x3x3xf32> = dense<1.000000e-01> : tensor<4x1x3x3xf32>
// LAST2-NEXT:    qtrain.param @conv1.bias frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// LAST2-NEXT:    qtrain.param @bn.gamma frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// LAST2-NEXT:    qtrain.param @bn.beta frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// LAST2-NEXT:    qtrain.param @bn.mean frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// LAST2-NEXT:    qtrain.param @bn.var frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// LAST2-NEXT:    qtrain.param @conv2.weight trainable : tensor<3x4x3x3xf32> = dense<5.000000e-02> : tensor<3x4x3x3xf32>
// LAST2-NEXT:    qtrain.param @conv2.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// LAST2-NEXT:    qtrain.param @fc.weight trainable : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
// LAST2-NEXT:    qtrain.param @fc.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
// LAST2-NEXT:    func.func @forward(%x: tensor<1x1x5x5xf32>) -> tensor<1x2xf32> {

// last-k k=3 reaches the batch norm: gamma and beta, not the running statistics.
// LAST3-LABEL: builtin.module {
// LAST3-NEXT:    qtrain.param @conv1.weight frozen : tensor<4x1x3x3xf32> = dense<1.000000e-01> : tensor<4x1x3x3xf32>
// LAST3-NEXT:    qtrain.param @conv1.bias frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// LAST3-NEXT:    qtrain.param @bn.gamma trainable : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// LAST3-NEXT:    qtrain.param @bn.beta trainable : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// LAST3-NEXT:    qtrain.param @bn.mean frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// LAST3-NEXT:    qtrain.param @bn.var frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// LAST3-NEXT:    qtrain.param @conv2.weight trainable : tensor<3x4x3x3xf32> = dense<5.000000e-02> : tensor<3x4x3x3xf32>
// LAST3-NEXT:    qtrain.param @conv2.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// LAST3-NEXT:    qtrain.param @fc.weight trainable : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
// LAST3-NEXT:    qtrain.param @fc.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
// LAST3-NEXT:    func.func @forward(%x: tensor<1x1x5x5xf32>) -> tensor<1x2xf32> {

// sparse bias-k=1, conv2.weight:0.5: the last layer's bias, and the first
// ceil(0.5 * 3) = 2 output channels of conv2.weight.
// SPARSE-LABEL: builtin.module {
// SPARSE-NEXT:    qtrain.param @conv1.weight frozen : tensor<4x1x3x3xf32> = dense<1.000000e-01> : tensor<4x1x3x3xf32>
// SPARSE-NEXT:    qtrain.param @conv1.bias frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// SPARSE-NEXT:    qtrain.param @bn.gamma frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// SPARSE-NEXT:    qtrain.param @bn.beta frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// SPARSE-NEXT:    qtrain.param @bn.mean frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// SPARSE-NEXT:    qtrain.param @bn.var frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// SPARSE-NEXT:    qtrain.param @conv2.weight trainable : tensor<3x4x3x3xf32> = dense<5.000000e-02> : tensor<3x4x3x3xf32> {channels = array<i64: 0, 1>}
// SPARSE-NEXT:    qtrain.param @conv2.bias frozen : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// SPARSE-NEXT:    qtrain.param @fc.weight frozen : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
// SPARSE-NEXT:    qtrain.param @fc.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
// SPARSE-NEXT:    func.func @forward(%x: tensor<1x1x5x5xf32>) -> tensor<1x2xf32> {

// sparse bias-k=2 with three weights: ratio 1 trains fc.weight whole (no channels), and
// conv1.weight:0.2 keeps ceil(0.2 * 4) = 1 channel.
// SPARSE2-LABEL: builtin.module {
// SPARSE2-NEXT:    qtrain.param @conv1.weight trainable : tensor<4x1x3x3xf32> = dense<1.000000e-01> : tensor<4x1x3x3xf32> {channels = array<i64: 0>}
// SPARSE2-NEXT:    qtrain.param @conv1.bias frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// SPARSE2-NEXT:    qtrain.param @bn.gamma frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// SPARSE2-NEXT:    qtrain.param @bn.beta frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// SPARSE2-NEXT:    qtrain.param @bn.mean frozen : tensor<4xf32> = dense<0.000000e+00> : tensor<4xf32>
// SPARSE2-NEXT:    qtrain.param @bn.var frozen : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// SPARSE2-NEXT:    qtrain.param @conv2.weight trainable : tensor<3x4x3x3xf32> = dense<5.000000e-02> : tensor<3x4x3x3xf32> {channels = array<i64: 0, 1>}
// SPARSE2-NEXT:    qtrain.param @conv2.bias trainable : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
// SPARSE2-NEXT:    qtrain.param @fc.weight trainable : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
// SPARSE2-NEXT:    qtrain.param @fc.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
// SPARSE2-NEXT:    func.func @forward(%x: tensor<1x1x5x5xf32>) -> tensor<1x2xf32> {

// -----

// One dense layer without a bias: some modes have nothing to select or too few layers.
qtrain.param @head.weight frozen : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @head.weight : tensor<2x3xf32>
  %y = qtrain.dense %x, %w : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// FULL-LABEL:  builtin.module {
// FULL-NEXT:     qtrain.param @head.weight trainable : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
// GLOB:        qtrain-mark-trainable: mode full selects no parameter
// BIAS:        qtrain-mark-trainable: mode bias-only selects no parameter
// LAST2:       qtrain-mark-trainable: k must be in [1, 1] (the model has 1 layers), got 2
// LAST3:       qtrain-mark-trainable: k must be in [1, 1] (the model has 1 layers), got 3
// SPARSE:      qtrain-mark-trainable: weights entry 'conv2.weight:0.5': no conv2d/dense weight named conv2.weight

// -----

// The function to read layers from is `forward` (option `forward`).
qtrain.param @w frozen : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
func.func @predict(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @w : tensor<2x3xf32>
  %y = qtrain.dense %x, %w : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// FULL:        qtrain-mark-trainable: no function @forward
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-mark-trainable{forward=predict}' | filecheck %s --match-full-lines --check-prefix=PREDICT
// PREDICT:     qtrain-mark-trainable: no function @predict
// PREDICT:     qtrain.param @w trainable : tensor<2x3xf32> = dense<2.000000e-01> : tensor<2x3xf32>
