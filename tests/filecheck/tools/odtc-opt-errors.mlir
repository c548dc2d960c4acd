// odtc-opt reports a user error as ONE line on stderr (`odtc-opt: error: ...`) and exits
// non-zero; no traceback, no IR dump. `not` checks the exit status; stdout and stderr are
// merged, the message is anchored to the start of the output ({{\A}}, a Python regex) and
// to the end of its line, and the `-NOT: {{.}}` lines reject anything after it.
// This file's IR fails the verifier (qtrain.add on i32).

// RUN: not odtc-opt %s 2>&1 | filecheck %s --check-prefix=VERIFY
// VERIFY:      {{\A}}odtc-opt: error: qtrain.add: lhs must have element type f32, got i32{{$}}
// VERIFY-NOT:  {{.}}

// The verifier runs before any pass, so the pipeline is not reached either.
// RUN: not odtc-opt %s -p qtrain-fold-batchnorm 2>&1 | filecheck %s --check-prefix=VERIFY

// RUN: not odtc-opt %s -p no-such-pass 2>&1 | filecheck %s --check-prefix=PASS
// PASS:        {{\A}}odtc-opt: error: Unrecognized passes: ['no-such-pass']{{$}}
// PASS-NOT:    {{.}}

// RUN: not odtc-opt %s -p 'qtrain-fold-batchnorm{no-such-option=1}' 2>&1 | filecheck %s --check-prefix=OPTION
// OPTION:      {{\A}}odtc-opt: error: Provided arguments ["no_such_option"] not found in expected arguments ["base_dir"]{{$}}
// OPTION-NOT:  {{.}}

// RUN: not odtc-opt %s.does-not-exist 2>&1 | filecheck %s --check-prefix=NOFILE
// NOFILE:      {{\A}}odtc-opt: error: [Errno 2] No such file or directory: '{{.*}}odtc-opt-errors.mlir.does-not-exist'{{$}}
// NOFILE-NOT:  {{.}}

// With --verify-diagnostics the same message goes to stdout and the exit status is 0.
// RUN: odtc-opt %s --verify-diagnostics | filecheck %s --check-prefix=DIAG
// DIAG:        {{\A}}qtrain.add: lhs must have element type f32, got i32{{$}}

func.func @add_i32(%a: tensor<2xi32>) -> tensor<2xi32> {
  %y = qtrain.add %a, %a : tensor<2xi32>
  func.return %y : tensor<2xi32>
}
