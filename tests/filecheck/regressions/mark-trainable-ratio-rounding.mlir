// Regression test for a fixed bug: qtrain-mark-trainable computes the sparse channel count as
// ceil(ratio * out) in binary floating point, so a ratio that is exactly k/out can round up
// one channel too many: 0.14 * 50 = 7.000000000000001 -> 8 channels instead of 7 (likewise
// 0.07 * 100 -> 8, 0.56 * 100 -> 57). g. round
// ratio * out to a few decimals before ceil, or use fractions.Fraction(ratio_s)).

// RUN: odtc-opt %s -p 'qtrain-mark-trainable{mode=sparse weights="fc.weight:0.14"}' | filecheck %s --match-full-lines
// CHECK: qtrain.param @fc.weight trainable : tensor<50x1xf32> = dense<2.000000e-01> : tensor<50x1xf32> {channels = array<i64: 0, 1, 2, 3, 4, 5, 6>}

qtrain.param @fc.weight frozen : tensor<50x1xf32> = dense<2.000000e-01> : tensor<50x1xf32>
func.func @forward(%x: tensor<1x1xf32>) -> tensor<1x50xf32> {
  %w = qtrain.load @fc.weight : tensor<50x1xf32>
  %y = qtrain.dense %x, %w : (tensor<1x1xf32>, tensor<50x1xf32>) -> tensor<1x50xf32>
  func.return %y : tensor<1x50xf32>
}
