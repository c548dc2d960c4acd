// An unparsable input is one line on stderr, `odtc-opt: error: <file>:<line>:<col> <message>`,
// and a non-zero exit status.

// RUN: not odtc-opt %s 2>&1 | filecheck %s
// CHECK:       {{\A}}odtc-opt: error: {{.*}}odtc-opt-parse-error.mlir:[[# @LINE + 4]]:23 Expected ':'{{$}}
// CHECK-NOT:   {{.}}

func.func @missing_colon(%x: tensor<2xf32>) -> tensor<2xf32> {
  %y = qtrain.relu %x tensor<2xf32>
  func.return %y : tensor<2xf32>
}
