// Regression test for a fixed bug: `-t 'c{file=header}'` on a module that was not lowered to ckern fails with
// the bare KeyError text "odtc-opt: error: 'ckern.arena_bytes'" (CTarget header() reads the
// attribute without checking), where `-t c` says what is wrong and what to run. Expected:
// the same one-line error for both files.

// RUN: not odtc-opt %s -t 'c{file=header}' 2>&1 | filecheck %s
// CHECK:      {{\A}}odtc-opt: error: c target: unexpected top-level op qtrain.param (run convert-qtrain-to-c first){{$}}
// CHECK-NOT:  {{.}}

qtrain.param @p trainable : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
